// The Intel interrupt remapping domain (drivers/iommu/intel/irq_remapping.c), between the
// PCI/MSI, IMS and IOAPIC domains and the vector domain. It allocates IRTE indices from the
// table's bitmap (`alloc_irte`: a naturally aligned power-of-two block, the lowest free one),
// composes remappable-format messages (handle = index, SHV = 1, subhandle = position in the
// block) and writes the IRTE (vector and destination of the vector level, source-id of the
// requester) at activation and at each affinity change, followed by an interrupt-entry-cache
// invalidation. The same code serves the host (real IRTEs) and a guest with a virtual IOMMU
// (`guest-vir`: the platform's writes land in guest memory and the invalidation traps). A
// `vir-direct` vIOMMU confines the allocator to a window of indices (`IrDomainData.window`, an
// irqlab capability: the hypervisor's per-VM slice of the host table, so the guest's handles are
// host-valid as written); the host kernel's allocator has those windows reserved (`vtdIrReserve`).
// Evidence: `qemu-q35-ir` — handles 19-21, 22-26, 28-30, 32-36 per device, IRTE 32 read as
// `high 0x1000025000d low 0x40028` (P, DM logical, RH, vector 0x25, xAPIC dest 0x01 in bits
// 47:40; SID 0x0028 with SVT 01b).
// Invariants: an index is owned by at most one irq level; every allocated index is in the
// bitmap; an entry is present only while its irq is activated.
// Not modelled: posted mode (the hypervisor's business, `irq_set_vcpu_affinity`), the
// bus-range SID of devices behind PCIe-to-PCI bridges, x2APIC cluster destinations.

import { bitmapClear, bitmapSet, bitmapTest } from '../hw/bitmap.js';
import { assert } from '../hw/errors.js';
import { encodeIrteRemapped, irteDestinationId, SOURCE_VALIDATION_TYPE } from '../hw/vtd/irte.js';
import { composeRemappableMsi } from '../hw/x86/msi-message.js';
import { destModeLogical } from './apic.js';
import {
  descOf,
  type IrqDomainOps,
  irqChipSetAffinityParent,
  irqDomainAllocIrqsParent,
  irqDomainFreeIrqsParent,
  levelOf,
} from './irqdomain.js';
import {
  apicData,
  type IrChipData,
  type IrqDesc,
  type IrqDomain,
  type KernelState,
} from './kernel-state.js';
import { hwIrteWrite, type KernelPlatform } from './platform.js';
import { fail, type Hwirq, OK } from './types.js';
import { vectorCleanupIpi, vectorScheduleCleanup } from './x86-vector.js';

/** INTR_REMAP_TABLE_ENTRIES: Linux sets IRTA size to 2^16 entries (`qemu-q35-ir`: `vtd_reg_ir_root
 *  ... size 0x10000`). */
export const INTR_REMAP_TABLE_ENTRIES = 65536;

/** `bitmap_find_free_region(bitmap, entries, order)`: lowest free block of 2^order aligned, from
 *  `first` (a window's base, itself aligned) up to `end`. */
function findFreeRegion(bitmap: number[], first: number, end: number, order: number): number {
  const size = 2 ** order;
  for (let start = first; start + size <= end; start += size) {
    let free = true;
    for (let i = 0; i < size && free; i++) free = !bitmapTest(bitmap, start + i);
    if (free) return start;
  }
  return -1;
}

/** `alloc_irte`: a block of `count` rounded up to a power of two. */
export function allocIrte(dom: IrqDomain, count: number): number {
  assert(dom.ir !== undefined, `${dom.name} is not a remapping domain`);
  const order = Math.ceil(Math.log2(count));
  const w = dom.ir.window ?? { base: 0, size: dom.ir.entries };
  const index = findFreeRegion(
    dom.ir.bitmap,
    w.base,
    Math.min(w.base + w.size, dom.ir.entries),
    order,
  );
  if (index < 0) return -1;
  for (let i = 0; i < 2 ** order; i++) bitmapSet(dom.ir.bitmap, index + i);
  return index;
}

/** The host hypervisor carves `size` indices from `base` out of its own kernel's allocator (a
 *  `vir-direct` VM's window: the guest's shadowed IRTEs live there). */
export function vtdIrReserve(dom: IrqDomain, base: number, size: number): void {
  assert(dom.ir !== undefined, `${dom.name} is not a remapping domain`);
  assert(base >= 0 && base + size <= dom.ir.entries, `${dom.name}: window ${base}+${size} outside`);
  for (let i = base; i < base + size; i++) {
    assert(!bitmapTest(dom.ir.bitmap, i), `${dom.name}: IRTE ${i} in use, cannot reserve it`);
    bitmapSet(dom.ir.bitmap, i);
  }
}

function irData(d: IrqDesc, level: number): IrChipData {
  const chip = d.data[level].chip;
  assert(chip.kind === 'ir', `irq ${d.irq}: level ${level} is not a remapping level`);
  return chip.ir;
}

const irDomain = (k: KernelState, d: IrqDesc, level: number): IrqDomain =>
  k.domains[d.data[level].domain];

/** `prepare_irte` + `set_msi_sid`/`set_ioapic_sid`, with the vector level's configuration
 *  (`intel_ir_reconfigure_irte`). Edge trigger always: an IOAPIC's level trigger stays in its
 *  RTE (Linux: "Trigger mode in the IRTE will always be edge"). */
function composeIrte(k: KernelState, d: IrqDesc, ir: IrChipData, eime: boolean): number[] {
  const cfg = apicData(d).hwIrqCfg;
  return encodeIrteRemapped({
    present: 1,
    destinationMode: destModeLogical(k) ? 1 : 0,
    redirectionHint: 1,
    triggerMode: 0,
    deliveryMode: 0,
    vector: cfg.vector,
    destinationId: irteDestinationId(cfg.destApicId, { eime }),
    sourceId: ir.sourceId,
    sourceIdQualifier: 0,
    sourceValidationType: SOURCE_VALIDATION_TYPE.requesterId,
  });
}

/** `modify_irte`: the entry, then `qi_flush_iec` for it. */
function modifyIrte(
  k: KernelState,
  p: KernelPlatform,
  dom: IrqDomain,
  index: number,
  irte: number[],
) {
  assert(dom.ir !== undefined, `${dom.name} is not a remapping domain`);
  dom.ir.irtes[index] = irte;
  hwIrteWrite(k, p, dom.ir.unit, index, irte);
}

/** `intel_ir_reconfigure_irte`. */
export function vtdIrReconfigureIrte(k: KernelState, p: KernelPlatform, d: IrqDesc, level: number) {
  const dom = irDomain(k, d, level);
  const ir = irData(d, level);
  assert(dom.ir !== undefined, `${dom.name} is not a remapping domain`);
  ir.irte = composeIrte(k, d, ir, dom.ir.eime);
  modifyIrte(k, p, dom, ir.irteIndex + ir.subHandle, ir.irte);
}

export const vtdIrOps: IrqDomainOps = {
  alloc(k, p, dom, virq, nrIrqs, info) {
    if (nrIrqs > 1 && info.type !== 'pci-msi') {
      return fail('EINVAL', `${dom.name}: ${nrIrqs} irqs in one block only for multi-MSI`);
    }
    const parent = irqDomainAllocIrqsParent(k, p, dom, virq, nrIrqs, info);
    if (!parent.ok) return parent;
    const index = allocIrte(dom, nrIrqs);
    if (index < 0) {
      irqDomainFreeIrqsParent(k, p, dom, virq, nrIrqs);
      return fail('ENOSPC', `${dom.name}: no free block of ${nrIrqs} IRTEs in ${dom.ir?.entries}`);
    }
    for (let i = 0; i < nrIrqs; i++) {
      const d = descOf(k, virq + i);
      const level = levelOf(d, dom.id);
      d.data[level].chip = {
        kind: 'ir',
        ir: { irteIndex: index, subHandle: i, sourceId: info.sourceId ?? 0, irte: [] },
      };
      // Linux: irq_data->hwirq = (index << 16) + i.
      d.data[level].hwirq = (index * 65536 + i) as Hwirq;
      // IRQ_MOVE_PCNTXT: the IRTE switches atomically, the affinity may change at once.
      d.state.movePcntxt = true;
    }
    return OK;
  },
  free(k, p, dom, virq, nrIrqs) {
    for (let i = 0; i < nrIrqs; i++) {
      const d = descOf(k, virq + i);
      const level = levelOf(d, dom.id);
      if (d.data[level].chip.kind !== 'ir') continue;
      const ir = irData(d, level);
      // `free_irte`: the block's first irq clears and releases the whole block.
      if (ir.subHandle === 0) {
        assert(dom.ir !== undefined, `${dom.name} is not a remapping domain`);
        const size = 2 ** Math.ceil(Math.log2(nrIrqs));
        for (let e = 0; e < size; e++) {
          if (dom.ir.irtes[ir.irteIndex + e]?.some((w) => w !== 0)) {
            modifyIrte(k, p, dom, ir.irteIndex + e, [0, 0, 0, 0]);
          }
          delete dom.ir.irtes[ir.irteIndex + e];
          bitmapClear(dom.ir.bitmap, ir.irteIndex + e);
        }
      }
      d.data[level].chip = { kind: 'msi' };
    }
    irqDomainFreeIrqsParent(k, p, dom, virq, nrIrqs);
  },
  activate(k, p, d, level) {
    vtdIrReconfigureIrte(k, p, d, level);
    return OK;
  },
  deactivate(k, p, d, level) {
    const ir = irData(d, level);
    ir.irte = [0, 0, 0, 0];
    modifyIrte(k, p, irDomain(k, d, level), ir.irteIndex + ir.subHandle, ir.irte);
  },
  composeMsiMsg(_k, _p, d, level) {
    const ir = irData(d, level);
    return composeRemappableMsi({
      handle: ir.irteIndex,
      shv: 1,
      subhandle: ir.subHandle,
      dontCare: 0,
    });
  },
  setAffinity(k, p, d, level, mask, force) {
    const r = irqChipSetAffinityParent(k, p, d, level, mask, force);
    if (!r.ok || r.done) return r;
    vtdIrReconfigureIrte(k, p, d, level);
    // The IRTE switched atomically: the old vector can go at once.
    vectorScheduleCleanup(k, p, d);
    vectorCleanupIpi(k, p, d);
    return { ok: true, done: true };
  },
};
