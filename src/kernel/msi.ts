// MSI descriptors and MSI domain allocation (kernel/irq/msi.c). A device keeps its descriptors
// per domain slot (MSI, MSI-X, IMS) by index, sparse like Linux's xarray; every caller walks
// them with `msiForEachDesc(dev, slot, filter)` — the `msi_for_each_desc()` the 2021-22 MSI
// rework converted every user to — filtered by state: all, associated (has an irq), not
// associated.
//  - `msiDomainAllocIrqsRange`: an irq for every not-associated descriptor in an index range,
//    each activated at once (MSI_FLAG_ACTIVATE_EARLY; the PCI layer needs the message in the
//    device before it enables MSI), in reservation mode when the device can mask (the vector
//    stays a reservation until request_irq). All or nothing: on a failure the irqs this call
//    allocated are freed again.
//  - `msiDomainAllocIrqAt`: one descriptor and irq at an index, or at the first free index
//    (MSI_ANY_INDEX), while the others stay live (dynamic MSI-X and IMS).
//  - `msiDomainFreeIrqsRange` / `msiDomainFreeAll`: deactivate, free the irqs, drop the
//    descriptors (MSI_FLAG_FREE_MSI_DESCS).
// Invariants: an index holds at most one descriptor; an associated descriptor's irqs exist
// and point back at it; no descriptor of a freed range survives.
// Not modelled: MSI_FLAG_DEV_SYSFS (the msi_irqs/ directory is rendered from the descriptors).

import { assert } from '../hw/errors.js';
import type { IrqAffinityDesc } from './irq-desc.js';
import {
  type AllocInfo,
  descOf,
  irqDomainActivateIrq,
  irqDomainAllocIrqs,
  irqDomainDeactivateIrq,
  irqDomainFreeIrqs,
} from './irqdomain.js';
import type { KernelState, MsiDesc, MsiDomainSlot, PciDev } from './kernel-state.js';
import type { KernelPlatform } from './platform.js';
import { pvIrUnder } from './pv-ir.js';
import {
  cpumaskAnd,
  type DomainId,
  fail,
  type IrqFailure,
  type IrqResult,
  OK,
  type Virq,
} from './types.js';

/** MSI_ANY_INDEX: let the allocator pick the first free index. */
export const MSI_ANY_INDEX = -1;

export type MsiDescFilter = 'all' | 'associated' | 'notassociated';

/** `msi_for_each_desc(desc, dev, filter)` over one domain slot, in index order. */
export function msiForEachDesc(dev: PciDev, slot: MsiDomainSlot, filter: MsiDescFilter): MsiDesc[] {
  return Object.values(dev.descs[slot])
    .filter((d) => (filter === 'all' ? true : filter === 'associated' ? d.irq !== 0 : d.irq === 0))
    .sort((a, b) => a.index - b.index);
}

export const msiFirstDesc = (dev: PciDev, slot: MsiDomainSlot, filter: MsiDescFilter) =>
  msiForEachDesc(dev, slot, filter)[0];

/** `msi_insert_desc`: at its index, which must be free. */
export function msiInsertDesc(dev: PciDev, slot: MsiDomainSlot, desc: MsiDesc): IrqResult {
  if (dev.descs[slot][desc.index] !== undefined) {
    return fail('EEXIST', `${dev.info.bdf}: ${slot} index ${desc.index} is in use`);
  }
  dev.descs[slot][desc.index] = desc;
  return OK;
}

/** The lowest free index in [0, hwsize) (`xa_alloc` within the domain's range). */
export function msiFreeIndex(dev: PciDev, slot: MsiDomainSlot, hwsize: number): number {
  for (let i = 0; i < hwsize; i++) if (dev.descs[slot][i] === undefined) return i;
  return -1;
}

export interface VirqFlags {
  /** VIRQ_ACTIVATE: activate at allocation (MSI_FLAG_ACTIVATE_EARLY). */
  readonly activate: boolean;
  /** VIRQ_CAN_RESERVE: reservation mode (MSI_FLAG_MUST_REACTIVATE and maskable). */
  readonly canReserve: boolean;
}

/** `msi_init_virq`. */
function msiInitVirq(k: KernelState, p: KernelPlatform, virq: number, flags: VirqFlags): IrqResult {
  const d = descOf(k, virq);
  // `msi_check_reservation_mode`: only parents that set MSI_FLAG_MUST_REACTIVATE (x86 vector,
  // Intel IR) reserve; a paravirtual parent (Hyper-V vPCI, irqlab's PV-IR) does not.
  const canReserve = flags.canReserve && !pvIrUnder(k, d);
  if (!canReserve) {
    d.state.canReserve = false;
    if (flags.activate && d.state.managed && cpumaskAnd(d.affinity, k.online).length === 0) {
      d.state.managedShutdown = true;
      return OK;
    }
  }
  if (!flags.activate) return OK;
  const r = irqDomainActivateIrq(k, p, d, canReserve);
  if (!r.ok) return r;
  // Reservation mode: clear the activated bit so that request_irq assigns the final vector.
  if (canReserve) d.state.activated = false;
  return OK;
}

const allocType = (slot: MsiDomainSlot): AllocInfo['type'] =>
  slot === 'msi' ? 'pci-msi' : slot === 'msix' ? 'pci-msix' : 'ims';

/** Irqs for one descriptor, activated. On failure nothing of it is left. */
function allocDescIrqs(
  k: KernelState,
  p: KernelPlatform,
  dev: PciDev,
  slot: MsiDomainSlot,
  domain: DomainId,
  desc: MsiDesc,
  flags: VirqFlags,
): IrqResult {
  const affinity: (IrqAffinityDesc | null)[] = Array.from({ length: desc.nvecUsed }, () =>
    desc.affinity === null ? null : desc.affinity,
  );
  const r = irqDomainAllocIrqs(k, p, domain, {
    nrIrqs: desc.nvecUsed,
    info: { type: allocType(slot), dev: dev.info.bdf, hwirq: desc.index },
    affinity,
  });
  if (!r.ok) return r;
  desc.irq = r.virq;
  for (let i = 0; i < desc.nvecUsed; i++) {
    const init = msiInitVirq(k, p, r.virq + i, flags);
    if (!init.ok) {
      freeDescIrqs(k, p, desc);
      return init;
    }
  }
  return OK;
}

/** Deactivates and frees the irqs of one descriptor; it becomes not associated. */
function freeDescIrqs(k: KernelState, p: KernelPlatform, desc: MsiDesc): void {
  if (desc.irq === 0) return;
  for (let i = 0; i < desc.nvecUsed; i++) {
    const d = descOf(k, desc.irq + i);
    assert(d.actions.length === 0, `irq ${d.irq} freed while ${d.actions[0]?.name} holds it`);
    irqDomainDeactivateIrq(k, p, d);
  }
  irqDomainFreeIrqs(k, p, desc.irq, desc.nvecUsed);
  desc.irq = 0;
}

/** `msi_domain_alloc_irqs_range`: irqs for the not-associated descriptors in [first, last]. */
export function msiDomainAllocIrqsRange(
  k: KernelState,
  p: KernelPlatform,
  dev: PciDev,
  slot: MsiDomainSlot,
  domain: DomainId,
  range: { first: number; last: number },
  flags: VirqFlags,
): IrqResult {
  const todo = msiForEachDesc(dev, slot, 'notassociated').filter(
    (d) => d.index >= range.first && d.index <= range.last,
  );
  const done: MsiDesc[] = [];
  for (const desc of todo) {
    const r = allocDescIrqs(k, p, dev, slot, domain, desc, flags);
    if (!r.ok) {
      for (const back of done) freeDescIrqs(k, p, back);
      return r;
    }
    done.push(desc);
  }
  return OK;
}

/** `msi_domain_alloc_irq_at`: a descriptor made by `make` at `index` (or the first free one
 *  below `hwsize`), and its irq, while the device's other irqs stay live. */
export function msiDomainAllocIrqAt(
  k: KernelState,
  p: KernelPlatform,
  dev: PciDev,
  slot: MsiDomainSlot,
  domain: DomainId,
  request: { index: number; hwsize: number },
  make: (index: number) => MsiDesc,
  flags: VirqFlags,
): { ok: true; index: number; virq: Virq } | IrqFailure {
  const index =
    request.index === MSI_ANY_INDEX ? msiFreeIndex(dev, slot, request.hwsize) : request.index;
  if (index < 0)
    return fail('ENOSPC', `${dev.info.bdf}: all ${request.hwsize} ${slot} entries in use`);
  if (index >= request.hwsize) {
    return fail(
      'EINVAL',
      `${dev.info.bdf}: ${slot} index ${index} beyond ${request.hwsize} entries`,
    );
  }
  const desc = make(index);
  const inserted = msiInsertDesc(dev, slot, desc);
  if (!inserted.ok) return inserted;
  const r = allocDescIrqs(k, p, dev, slot, domain, desc, flags);
  if (!r.ok) {
    delete dev.descs[slot][index];
    return r;
  }
  return { ok: true, index, virq: desc.irq as Virq };
}

/** `msi_domain_free_irqs_range` + `msi_free_msi_descs_range`. */
export function msiDomainFreeIrqsRange(
  k: KernelState,
  p: KernelPlatform,
  dev: PciDev,
  slot: MsiDomainSlot,
  range: { first: number; last: number },
): void {
  for (const desc of msiForEachDesc(dev, slot, 'all')) {
    if (desc.index < range.first || desc.index > range.last) continue;
    freeDescIrqs(k, p, desc);
    delete dev.descs[slot][desc.index];
  }
}

/** Every descriptor of the slot and its irqs (`msi_domain_free_irqs_all`). */
export function msiDomainFreeAll(
  k: KernelState,
  p: KernelPlatform,
  dev: PciDev,
  slot: MsiDomainSlot,
) {
  msiDomainFreeIrqsRange(k, p, dev, slot, { first: 0, last: Number.MAX_SAFE_INTEGER });
}
