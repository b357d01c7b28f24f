// The PCI/MSI and PCI/MSI-X irqdomains (drivers/pci/msi/irqdomain.c, kernel/irq/msi.c,
// arch/x86/kernel/apic/msi.c), in the two shapes Linux has had:
//  - up to 6.1, one global domain per parent: "PCI-MSI" on the vector domain, "IR-PCI-MSI" on
//    an IR unit; hwirq = requester ID << 11 | MSI index (`pci_msi_domain_calc_hwirq`):
//    `qemu-q35-*`: ahci at 00:1f.2 is 512000 = 0xfa << 11, virtio-net at 00:02.0 32768..32770;
//  - from 6.2, one domain per device and per mode, named prefix + template + device: the x86
//    vector parent gives "PCI-MSIX-0000:00:03.0" (`vm-virtio-pci`, 6.18), an Intel IR parent
//    "IR-PCI-MSIX-...", hwirq = MSI index.
// Activation composes the message from the level below (remapping or vector) and writes it to
// the device; deactivation writes a zeroed message (`msi_domain_deactivate`). Affinity: on a
// remapping parent the IRTE changes and the device is not touched; on the bare vector domain
// x86's `msi_set_affinity` rewrites the message, and for MSI without per-vector masking does so
// in two steps through the old CPU, then checks the new vector's IRR bit for an interrupt lost
// in between and retriggers it.
// Not modelled: MSI_FLAG_LEVEL_CAPABLE (level MSI), the msi_parent_ops "init_dev_msi_info" flag
// negotiation beyond what the names and behaviour above need.

import { assert } from '../hw/errors.js';
import { calcDestApicId } from './apic.js';
import {
  type AffinityResult,
  createDomain,
  descOf,
  type IrqDomainOps,
  irqChipComposeMsiMsg,
  irqChipSetAffinityParent,
  irqDomainAllocIrqsParent,
  irqDomainFreeIrqsParent,
  levelOf,
  type MsiMsg,
} from './irqdomain.js';
import {
  apicData,
  type DomainKind,
  type IrqDesc,
  type KernelState,
  type MsiDesc,
  type MsiDomainSlot,
  type PciDev,
  versionAtLeast,
} from './kernel-state.js';
import { pciMsiMaskVector, pciMsiUnmaskVector, pciWriteMsiMsg } from './pci-msi.js';
import type { KernelPlatform } from './platform.js';
import { pvIrPending } from './pv-ir.js';
import {
  type CpuId,
  type CpuMask,
  type DomainId,
  fail,
  type Hwirq,
  OK,
  type Vector,
} from './types.js';
import {
  apicRetriggerIrq,
  composeCompatMsg,
  MANAGED_IRQ_SHUTDOWN_VECTOR,
  VECTOR_RETRIGGERED,
} from './x86-vector.js';

/** `pci_msi_domain_calc_hwirq` (up to 6.1): bits 10:0 the index, then the requester ID. */
const HWIRQ_INDEX_BITS = 11;

/** Prefix a parent domain gives its per-device children (`msi_parent_ops.prefix`). */
export function msiParentPrefix(k: KernelState, parent: DomainId): string {
  switch (k.domains[parent].kind) {
    case 'vtd-ir':
      return 'IR-';
    case 'pv-ir':
      return 'PV-';
    default:
      return '';
  }
}

/** The 6.1 global domain: "PCI-MSI" / "IR-PCI-MSI". */
export function pciMsiCreateGlobalDomain(k: KernelState, parent: DomainId): DomainId {
  const prefix = msiParentPrefix(k, parent);
  // arch_create_remap_msi_irq_domain(ir_domain, "INTEL-IR-MSI", seq_id) / "PCI-MSI".
  const name =
    prefix === '' ? 'PCI-MSI' : `${k.domains[parent].name.replace(/-(\d+)$/, '-MSI-$1')}`;
  return createDomain(k, {
    name,
    kind: 'pci-msi-global',
    parent,
    chipName: `${prefix}PCI-MSI`,
    isolatedMsi: k.domains[parent].isolatedMsi,
  }).id;
}

const TEMPLATE: Record<'msi' | 'msix', { kind: DomainKind; name: string }> = {
  msi: { kind: 'pci-msi', name: 'PCI-MSI' },
  msix: { kind: 'pci-msix', name: 'PCI-MSIX' },
};

/** The domain a device's MSI or MSI-X irqs live in: the global one before 6.2, else the
 *  device's own (`pci_setup_msi_device_domain` / `pci_setup_msix_device_domain`), made on
 *  first use under the platform's MSI parent. */
export function pciMsiDomainFor(k: KernelState, dev: PciDev, slot: 'msi' | 'msix'): DomainId {
  if (!versionAtLeast(k, 6, 2)) {
    assert(k.roots.pciMsiGlobal !== null, 'kernel before 6.2 without a global PCI-MSI domain');
    return k.roots.pciMsiGlobal;
  }
  const existing = dev.domains[slot];
  if (existing !== undefined) return existing;
  const parent = k.roots.remap ?? k.roots.vector;
  const t = TEMPLATE[slot];
  const name = `${msiParentPrefix(k, parent)}${t.name}-${dev.info.bdf}`;
  const id = createDomain(k, {
    name,
    kind: t.kind,
    parent,
    chipName: name,
    isolatedMsi: k.domains[parent].isolatedMsi,
    device: dev.info.bdf,
  }).id;
  dev.domains[slot] = id;
  return id;
}

/** The MSI descriptor behind an irq. */
export function msiDescOf(k: KernelState, d: IrqDesc): { dev: PciDev; desc: MsiDesc } {
  assert(d.msi !== null, `irq ${d.irq} has no MSI descriptor`);
  const dev = k.devices[d.msi.dev];
  const desc = dev?.descs[d.msi.domain][d.msi.index];
  assert(desc !== undefined, `irq ${d.irq}: MSI descriptor ${d.msi.index} is gone`);
  return { dev, desc };
}

/** The vector bit of `d` inside its (multi-MSI) descriptor. */
const vectorBit = (d: IrqDesc, desc: MsiDesc) => 2 ** (d.irq - (desc.irq as number));

function calcHwirq(k: KernelState, dom: DomainId, dev: PciDev, index: number): Hwirq {
  if (k.domains[dom].kind === 'pci-msi-global') {
    return (dev.info.requesterId * 2 ** HWIRQ_INDEX_BITS + index) as Hwirq;
  }
  return index as Hwirq;
}

/** `irq_msi_update_msg` with a configuration that may differ from the vector level's own. */
function writeCompat(k: KernelState, p: KernelPlatform, d: IrqDesc, vector: Vector, cpu: CpuId) {
  const apicd = apicData(d);
  const saved = apicd.hwIrqCfg;
  apicd.hwIrqCfg = { vector, destApicId: calcDestApicId(k, cpu) };
  const msg = composeCompatMsg(k, d);
  apicd.hwIrqCfg = saved;
  const { dev, desc } = msiDescOf(k, d);
  pciWriteMsiMsg(k, p, dev, desc, msg);
}

/** x86 `msi_set_affinity` for PCI/MSI directly on the vector domain. Runs on the old target
 *  CPU (the move is deferred to its next interrupt, see `manage.ts`). */
function msiSetAffinityX86(
  k: KernelState,
  p: KernelPlatform,
  d: IrqDesc,
  level: number,
  mask: CpuMask,
  force: boolean,
): AffinityResult {
  const oldCpu = d.effectiveAffinity[0];
  const old = { ...apicData(d).hwIrqCfg };
  const r = irqChipSetAffinityParent(k, p, d, level, mask, force);
  if (!r.ok || r.done) return r;
  const cfg = apicData(d).hwIrqCfg;
  const { dev, desc } = msiDescOf(k, d);
  // Direct update when the MSI is maskable (reservation mode), nothing moves, or the irq is
  // not running yet.
  if (
    d.state.canReserve ||
    cfg.vector === old.vector ||
    old.vector === MANAGED_IRQ_SHUTDOWN_VECTOR ||
    !d.state.started ||
    cfg.destApicId === old.destApicId
  ) {
    pciWriteMsiMsg(k, p, dev, desc, composeCompatMsg(k, d));
    return r;
  }
  // Step 1: the new vector on the old (current) CPU; a stray interrupt there is retriggered.
  if (k.vectorIrq[oldCpu][cfg.vector] < 0) k.vectorIrq[oldCpu][cfg.vector] = VECTOR_RETRIGGERED;
  writeCompat(k, p, d, cfg.vector, oldCpu);
  // Step 2: the new vector on the new CPU.
  pciWriteMsiMsg(k, p, dev, desc, composeCompatMsg(k, d));
  // An interrupt sent between the two writes is pending in this CPU's IRR on the new vector.
  if (p.lapicIrrTest?.(oldCpu, cfg.vector)) {
    k.events.push({ op: k.currentOp, text: `irq ${d.irq}: retrigger after MSI affinity move` });
    apicRetriggerIrq(k, p, d);
  }
  return r;
}

/** `pci_msi_domain_write_msg`. */
function pciMsiDomainWriteMsg(k: KernelState, p: KernelPlatform, d: IrqDesc, msg: MsiMsg) {
  const { dev, desc } = msiDescOf(k, d);
  // Multi-MSI: one message for the block, written by its first irq.
  if (!desc.pci.isMsix && d.irq !== desc.irq) return;
  pciWriteMsiMsg(k, p, dev, desc, msg);
}

function slotOf(type: string): MsiDomainSlot {
  return type === 'pci-msi' ? 'msi' : type === 'pci-msix' ? 'msix' : 'ims';
}

export const pciMsiDomainOps: IrqDomainOps = {
  alloc(k, p, dom, virq, nrIrqs, info) {
    const dev = info.dev === undefined ? undefined : k.devices[info.dev];
    if (dev === undefined) return fail('ENODEV', `${dom.name}: allocation without a PCI device`);
    const parent = irqDomainAllocIrqsParent(k, p, dom, virq, nrIrqs, {
      ...info,
      sourceId: dev.info.requesterId,
    });
    if (!parent.ok) return parent;
    for (let i = 0; i < nrIrqs; i++) {
      const d = descOf(k, virq + i);
      const level = levelOf(d, dom.id);
      d.data[level].chip = { kind: 'msi' };
      d.data[level].hwirq = calcHwirq(k, dom.id, dev, (info.hwirq ?? 0) + i);
      d.handler = 'edge';
      d.trigger = 'edge';
      d.msi = { dev: dev.info.bdf, domain: slotOf(info.type), index: info.hwirq ?? 0 };
    }
    return OK;
  },
  free(k, p, dom, virq, nrIrqs) {
    irqDomainFreeIrqsParent(k, p, dom, virq, nrIrqs);
  },
  activate(k, p, d, level) {
    // PV-IR batch window: the pair arrives with the window's batch call, written then.
    if (pvIrPending(k, d)) return OK;
    pciMsiDomainWriteMsg(k, p, d, irqChipComposeMsiMsg(k, p, d, level));
    return OK;
  },
  deactivate(k, p, d) {
    pciMsiDomainWriteMsg(k, p, d, { addrLo: 0, addrHi: 0, data: 0 });
  },
  writeMsiMsg(k, p, d, _level, msg: MsiMsg) {
    pciMsiDomainWriteMsg(k, p, d, msg);
  },
  setAffinity(k, p, d, level, mask, force) {
    if (k.domains[d.data[level + 1].domain].kind === 'x86-vector') {
      return msiSetAffinityX86(k, p, d, level, mask, force);
    }
    // msi_domain_set_affinity: the parent did the work unless it asks for a new message.
    const r = irqChipSetAffinityParent(k, p, d, level, mask, force);
    if (r.ok && !r.done) pciMsiDomainWriteMsg(k, p, d, irqChipComposeMsiMsg(k, p, d, level));
    return r;
  },
  mask(k, p, d) {
    const { dev, desc } = msiDescOf(k, d);
    pciMsiMaskVector(k, p, dev, desc, vectorBit(d, desc));
  },
  unmask(k, p, d) {
    const { dev, desc } = msiDescOf(k, d);
    pciMsiUnmaskVector(k, p, dev, desc, vectorBit(d, desc));
  },
};
