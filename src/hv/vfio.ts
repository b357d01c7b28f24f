// VFIO's interrupt side on the host kernel (drivers/vfio/pci/vfio_pci_intrs.c) and KVM's irq
// bypass (virt/kvm/eventfd.c -> vmx pi_update_irte): what VFIO_DEVICE_SET_IRQS does for one guest
// vector and what KVM then does to its host IRTE.
//   MSI-X  first vector: pci_alloc_irq_vectors(1, 1, MSIX); later ones pci_msix_alloc_irq_at(index)
//          (dynamic MSI-X, Linux 6.5+ vfio); a subdevice of a parent: pci_msix_alloc_irq_at(any)
//   MSI    vfio_msi_enable: pci_alloc_irq_vectors(n, n, MSI) for the whole block at once
//   IMS    pci_ims_alloc_irq on the parent's IMS domain (the parent driver's vdcm does it)
//   INTx   the function's line (pci_enable_device mapped its GSI), requested shared
// then request_irq("vfio-...") activates the irq: the host kernel writes the entry's remappable
// handle and a remapped IRTE. With posted interrupts KVM rewrites that IRTE in posted format for
// the target vCPU's descriptor (intel_ir_set_vcpu_affinity); INTx is never posted (it goes through
// VFIO's handler and the irqfd, with the line masked until the guest's EOI).
// Invariants: every binding's irq is requested exactly once and freed by `vfioDisableVector`.
// Not modelled: the eventfd plumbing itself; the noresize path's disable/re-enable (counted by
// the strategy platform's ledger, not replayed here).

import { assert, RuleError } from '../hw/errors.js';
import { encodeIrtePosted, IRTE_REMAPPED, pdaFields } from '../hw/vtd/irte.js';
import { pciCreateImsDomain, pciImsAllocIrq, pciImsFreeIrq } from '../kernel/ims.js';
import type { IrChipData, IrqDesc, KernelState } from '../kernel/kernel-state.js';
import { freeIrq, irqTarget, requestIrq } from '../kernel/manage.js';
import {
  MSI_ANY_INDEX,
  pciAllocIrqVectors,
  pciEnableDevice,
  pciFreeIrqVectors,
  pciMsixAllocIrqAt,
  pciMsixFreeIrq,
} from '../kernel/pci-msi-api.js';
import { hwIrteWrite, type KernelPlatform, withOp } from '../kernel/platform.js';
import { pidAddress } from '../machine/system-state.js';

export type HostBackingKind = 'msix' | 'msi' | 'ims' | 'intx';

export interface VfioVectorRequest {
  readonly bdf: string;
  readonly backing: HostBackingKind;
  /** Guest vector index within the assignment. */
  readonly index: number;
  /** Vectors of the assignment (MSI enables the whole block at once). */
  readonly count: number;
  /** A slice of a parent (subdevice): its entries are wherever the parent has room. */
  readonly subdevice: boolean;
}

/** What the host gave one guest vector. */
export interface HostBinding {
  readonly bdf: string;
  readonly backing: HostBackingKind;
  /** MSI-X / IMS entry, MSI vector number within the block, 0 for INTx. */
  readonly entry: number;
  readonly irq: number;
  /** Host IRTE index, or -1 without IR. */
  readonly irte: number;
  readonly cpu: number;
  readonly vector: number;
  readonly devId: string;
}

export interface VfioHost {
  readonly k: KernelState;
  readonly p: KernelPlatform;
  readonly posted: boolean;
}

/** The host refusing a vector (no entry, no vector, no IRTE left) is a scenario that does not
 *  fit: a RuleError naming the resource, not a crash. */
const fail = (what: string, reason: string): never => {
  throw new RuleError('host-resources', `VFIO ${what}`, reason);
};

/** The host entry and irq backing one guest vector (allocated, not yet requested). */
function allocateBacking(h: VfioHost, r: VfioVectorRequest): { entry: number; irq: number } {
  const { k, p } = h;
  const dev = k.devices[r.bdf];
  assert(dev, `vfio: ${r.bdf} is not a host function`);
  switch (r.backing) {
    case 'msix': {
      if (!dev.msixEnabled) {
        // A subdevice's parent enabled MSI-X at its own probe (`hostParentProbe`).
        assert(!r.subdevice, `vfio: ${r.bdf}'s parent driver has not enabled MSI-X`);
        const a = pciAllocIrqVectors(k, p, r.bdf, { min: 1, max: 1, flags: { msix: true } });
        if (!a.ok) return fail(`${r.bdf} MSI-X enable`, a.reason);
        return { entry: 0, irq: dev.descs.msix[0].irq };
      }
      const at = r.subdevice ? MSI_ANY_INDEX : r.index;
      const a = pciMsixAllocIrqAt(k, p, r.bdf, at, null);
      if (!a.ok) return fail(`${r.bdf} MSI-X entry ${r.index}`, a.reason);
      return { entry: a.index, irq: a.virq };
    }
    case 'msi': {
      if (!dev.msiEnabled) {
        const a = pciAllocIrqVectors(k, p, r.bdf, {
          min: r.count,
          max: r.count,
          flags: { msi: true },
        });
        if (!a.ok) return fail(`${r.bdf} MSI enable`, a.reason);
      }
      const first = Object.values(dev.descs.msi)[0];
      return { entry: r.index, irq: first.irq + r.index };
    }
    case 'ims': {
      pciCreateImsDomain(k, dev, { name: 'PCI-IMS' });
      const a = pciImsAllocIrq(k, p, dev);
      if (!a.ok) return fail(`${r.bdf} IMS entry`, a.reason);
      return { entry: a.index, irq: a.virq };
    }
    case 'intx': {
      if (dev.info.intx === undefined) return fail(`${r.bdf} INTx`, 'the function has no INTx pin');
      if (dev.intxIrq === 0) {
        const e = pciEnableDevice(k, p, r.bdf);
        if (!e.ok) return fail(`${r.bdf} INTx`, e.reason);
      }
      return { entry: 0, irq: dev.intxIrq };
    }
  }
}

/** The remapping level's data of an irq, if it has one. */
export function irChipOf(d: IrqDesc): IrChipData | null {
  for (const level of d.data) if (level.chip.kind === 'ir') return level.chip.ir;
  return null;
}

/** VFIO_DEVICE_SET_IRQS for one vector: backing entry, request_irq, and the binding. INTx: one
 *  line, requested once by the first vector of the function (IRQF_SHARED). */
export function vfioEnableVector(h: VfioHost, r: VfioVectorRequest): HostBinding {
  const { k, p } = h;
  const { entry, irq } = allocateBacking(h, r);
  const devId = `vfio-${r.backing}[${r.index}](${r.bdf})`;
  const d = k.descs[irq];
  if (r.backing !== 'intx' || d.actions.length === 0) {
    const q = requestIrq(k, p, irq, devId, { shared: r.backing === 'intx' });
    if (!q.ok) fail(`request_irq ${irq}`, q.reason);
  }
  const ir = irChipOf(d);
  const t = irqTarget(k, irq);
  assert(t, `vfio: irq ${irq} has no vector after request_irq`);
  return {
    bdf: r.bdf,
    backing: r.backing,
    entry,
    irq,
    irte: ir === null ? -1 : ir.irteIndex + ir.subHandle,
    cpu: t.cpu,
    vector: t.vector,
    devId,
  };
}

/** KVM irq bypass (kvm_pi_update_irte -> irq_set_vcpu_affinity): the host IRTE becomes posted for
 *  vCPU `vcpu`'s descriptor with the guest vector; source-id validation is kept as the host
 *  kernel wrote it. Returns false when the binding cannot be posted (no IR, INTx, no posting). */
export function kvmPiUpdateIrte(
  h: VfioHost,
  b: HostBinding,
  vcpu: number,
  guestVector: number,
): boolean {
  if (!h.posted || b.irte < 0 || b.backing === 'intx') return false;
  const d = h.k.descs[b.irq];
  const ir = irChipOf(d);
  assert(ir !== null && ir.irte.length === 4, `kvm: irq ${b.irq} has no IRTE to post`);
  const keep = IRTE_REMAPPED.accessors;
  const posted = encodeIrtePosted({
    present: 1,
    virtualVector: guestVector,
    ...pdaFields(pidAddress(vcpu)),
    sourceId: keep.sourceId.get(ir.irte),
    sourceIdQualifier: keep.sourceIdQualifier.get(ir.irte),
    sourceValidationType: keep.sourceValidationType.get(ir.irte),
  });
  withOp(h.k, `irq_set_vcpu_affinity(${b.irq})`, () => {
    hwIrteWrite(h.k, h.p, irUnit(h.k), b.irte, posted);
  });
  return true;
}

const irUnit = (k: KernelState): string => {
  const id = k.roots.remap;
  assert(id !== null, `${k.name}: no remapping unit`);
  return k.domains[id].ir?.unit ?? 'dmar0';
};

/** VFIO_DEVICE_SET_IRQS with count 0 for one vector: free_irq, then the entry goes back. */
export function vfioDisableVector(h: VfioHost, b: HostBinding): void {
  const { k, p } = h;
  const d = k.descs[b.irq];
  if (d?.actions.some((a) => a.devId === b.devId)) freeIrq(k, p, b.irq, b.devId);
  const dev = k.devices[b.bdf];
  switch (b.backing) {
    case 'msix': {
      const r = pciMsixFreeIrq(k, p, b.bdf, b.entry);
      assert(r.ok, `vfio: free MSI-X ${b.entry} of ${b.bdf}`);
      if (Object.keys(dev.descs.msix).length === 0) pciFreeIrqVectors(k, p, b.bdf);
      return;
    }
    case 'msi':
      if (
        Object.values(dev.descs.msi).every((m) =>
          Array.from({ length: m.nvecUsed }, (_, i) => m.irq + i).every(
            (irq) => (k.descs[irq]?.actions.length ?? 0) === 0,
          ),
        )
      ) {
        pciFreeIrqVectors(k, p, b.bdf);
      }
      return;
    case 'ims':
      pciImsFreeIrq(k, p, dev, b.entry);
      return;
    case 'intx':
      return;
  }
}
