// The DMAR fault-event interrupt of an Intel IOMMU (drivers/iommu/intel/dmar.c,
// `dmar_set_interrupt` / `dmar_alloc_hwirq`): a "DMAR-MSI" domain directly on the vector domain
// (the remapping unit cannot remap its own interrupt), hwirq = the unit's sequence number. Set
// up before the secondary CPUs come up, so its vector is on CPU 0 (`qemu-q35-ir`: irq 24
// DMAR-MSI, effective CPU 0, smp_affinity_list 0).
// Invariant: one irq per unit.
// Not modelled: the fault event data/address registers the message is written to (the
// remapping unit's registers belong to hw/vtd; the message is composed but not recorded).

import {
  createDomain,
  descOf,
  type IrqDomainOps,
  irqChipSetAffinityParent,
  irqDomainAllocIrqs,
  irqDomainAllocIrqsParent,
  irqDomainFreeIrqsParent,
  levelOf,
} from './irqdomain.js';
import type { KernelState } from './kernel-state.js';
import type { KernelPlatform } from './platform.js';
import { type DomainId, type Hwirq, type IrqFailure, OK, type Virq } from './types.js';

export function dmarCreateDomain(k: KernelState): DomainId {
  return createDomain(k, {
    name: 'DMAR-MSI',
    kind: 'dmar-msi',
    parent: k.roots.vector,
    chipName: 'DMAR-MSI',
    isolatedMsi: false,
  }).id;
}

export function dmarAllocHwirq(
  k: KernelState,
  p: KernelPlatform,
  dom: DomainId,
  unit: number,
): { ok: true; virq: Virq } | IrqFailure {
  return irqDomainAllocIrqs(k, p, dom, { nrIrqs: 1, info: { type: 'dmar', hwirq: unit } });
}

export const dmarMsiOps: IrqDomainOps = {
  alloc(k, p, dom, virq, nrIrqs, info) {
    const r = irqDomainAllocIrqsParent(k, p, dom, virq, nrIrqs, info);
    if (!r.ok) return r;
    const d = descOf(k, virq);
    const level = levelOf(d, dom.id);
    d.data[level].chip = { kind: 'dmar' };
    d.data[level].hwirq = (info.hwirq ?? 0) as Hwirq;
    return OK;
  },
  free(k, p, dom, virq, nrIrqs) {
    irqDomainFreeIrqsParent(k, p, dom, virq, nrIrqs);
  },
  activate() {
    return OK;
  },
  deactivate() {},
  setAffinity(k, p, d, level, mask, force) {
    return irqChipSetAffinityParent(k, p, d, level, mask, force);
  },
};
