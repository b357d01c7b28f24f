// The irqdomain hierarchy (kernel/irq/irqdomain.c): domains with parent links, and the walk of
// every operation over an irq's levels. A domain's behaviour is found through its kind in
// `domainOps()` (STYLE §4): the same verbs as `struct irq_domain_ops` plus the chip callbacks
// the hierarchy uses (`irq_chip_compose_msi_msg`, `irq_chip_write_msi_msg`, set_affinity, mask).
//  - alloc walks from the top domain down: each domain's alloc allocates its parent first
//    (`irqDomainAllocIrqsParent`) and undoes it if its own part fails, so a failed allocation
//    leaves nothing behind (descs and numbers are released here);
//  - activate goes bottom-up (the vector first, then the remapping entry, then the device's
//    message); a failure deactivates what was activated; deactivate goes top-down;
//  - compose asks the highest level that composes messages (IR, PV-IR or the vector domain);
//    write goes to the top level (the device).
// Not modelled: irq_domain_push/pop, hierarchy trimming, fwnode lookup.

import { assert } from '../hw/errors.js';
import { domainOps } from './domain-ops.js';
import { type IrqAffinityDesc, irqDescFree, irqDescNew, irqFindFreeArea } from './irq-desc.js';
import type { IrqDesc, IrqDomain, KernelState } from './kernel-state.js';
import type { KernelPlatform } from './platform.js';
import {
  type CpuMask,
  type DomainId,
  fail,
  type IrqFailure,
  type IrqResult,
  OK,
  type Virq,
} from './types.js';

/** `struct irq_alloc_info` (arch/x86/include/asm/hw_irq.h), the parts irqlab uses. */
export interface AllocInfo {
  readonly type: 'pci-msi' | 'pci-msix' | 'ims' | 'ioapic' | 'dmar';
  /** A fixed destination: the vector is assigned at allocation, not at activation. */
  readonly mask?: CpuMask;
  readonly dev?: string;
  /** Requester ID the remapping entry validates. */
  readonly sourceId?: number;
  /** Hardware number in the top domain: MSI index, IOAPIC pin, DMAR unit. */
  readonly hwirq?: number;
  readonly ioapic?: { readonly pin: number; readonly trigger: 'edge' | 'level' };
  /** X86_IRQ_ALLOC_LEGACY: an ISA irq whose vector the PIC set up already; `active`: it is in
   *  use (the timer) and keeps that vector. */
  readonly legacy?: { readonly active: boolean };
}

/** The verbs every level implements (STYLE §4). Chip callbacks are optional as in Linux. */
export interface IrqDomainOps {
  alloc(
    k: KernelState,
    p: KernelPlatform,
    d: IrqDomain,
    virq: Virq,
    nrIrqs: number,
    info: AllocInfo,
  ): IrqResult;
  free(k: KernelState, p: KernelPlatform, d: IrqDomain, virq: Virq, nrIrqs: number): void;
  activate(
    k: KernelState,
    p: KernelPlatform,
    desc: IrqDesc,
    level: number,
    reserve: boolean,
  ): IrqResult;
  deactivate(k: KernelState, p: KernelPlatform, desc: IrqDesc, level: number): void;
  composeMsiMsg?(k: KernelState, p: KernelPlatform, desc: IrqDesc, level: number): MsiMsg;
  writeMsiMsg?(k: KernelState, p: KernelPlatform, desc: IrqDesc, level: number, msg: MsiMsg): void;
  setAffinity?(
    k: KernelState,
    p: KernelPlatform,
    desc: IrqDesc,
    level: number,
    mask: CpuMask,
    force: boolean,
  ): AffinityResult;
  mask?(k: KernelState, p: KernelPlatform, desc: IrqDesc, level: number): void;
  unmask?(k: KernelState, p: KernelPlatform, desc: IrqDesc, level: number): void;
}

export interface MsiMsg {
  addrLo: number;
  addrHi: number;
  data: number;
}

/** IRQ_SET_MASK_OK, IRQ_SET_MASK_OK_DONE (the chip wrote the hardware itself), or an errno. */
export type AffinityResult = { ok: true; done: boolean } | IrqFailure;

export function createDomain(k: KernelState, d: Omit<IrqDomain, 'id' | 'mapped'>): IrqDomain {
  const domain: IrqDomain = { ...d, id: k.domains.length as DomainId, mapped: 0 };
  if (d.parent !== null) assert(k.domains[d.parent] !== undefined, `${d.name}: no parent domain`);
  k.domains.push(domain);
  return domain;
}

/** The domain and its ancestors, top first. */
export function domainChain(k: KernelState, top: DomainId): DomainId[] {
  const chain: DomainId[] = [];
  for (let id: DomainId | null = top; id !== null; id = k.domains[id].parent) {
    assert(chain.length < k.domains.length, 'irqdomain: parent links form a loop');
    chain.push(id);
  }
  return chain;
}

/** `irq_domain_get_irq_data`: the level of `desc` that belongs to `domain`. */
export function levelOf(desc: IrqDesc, domain: DomainId): number {
  const level = desc.data.findIndex((x) => x.domain === domain);
  assert(level >= 0, `irq ${desc.irq} has no level in domain ${domain}`);
  return level;
}

export function descOf(k: KernelState, virq: number): IrqDesc {
  const d = k.descs[virq];
  assert(d !== undefined, `irq ${virq} has no descriptor`);
  return d;
}

/** `__irq_domain_alloc_irqs`: numbers, descriptors and every level's resources, or nothing.
 *  `virq`: a fixed number (legacy and strict IOAPIC irqs), else the lowest free range at or
 *  above `dynirqStart`. `affinity`: per irq, as `irq_create_affinity_masks` made it. */
export function irqDomainAllocIrqs(
  k: KernelState,
  p: KernelPlatform,
  domain: DomainId,
  opts: {
    nrIrqs: number;
    info: AllocInfo;
    virq?: number;
    affinity?: readonly (IrqAffinityDesc | null)[];
  },
): { ok: true; virq: Virq } | IrqFailure {
  const nr = opts.nrIrqs;
  assert(nr >= 1, 'irqdomain: allocation of no irqs');
  const start = opts.virq ?? irqFindFreeArea(k, k.dynirqStart, nr);
  if (start < 0) return fail('ENOSPC', `no ${nr} free irq numbers below IRQ_BITMAP_BITS`);
  if (opts.virq !== undefined) {
    for (let i = 0; i < nr; i++) {
      if (k.descs[start + i] !== undefined) return fail('EEXIST', `irq ${start + i} is in use`);
    }
  }
  const chain = domainChain(k, domain);
  for (let i = 0; i < nr; i++) {
    irqDescNew(k, (start + i) as Virq, chain, opts.affinity?.[i] ?? null);
  }
  const result = domainOps(k.domains[domain].kind).alloc(
    k,
    p,
    k.domains[domain],
    start as Virq,
    nr,
    opts.info,
  );
  if (!result.ok) {
    for (let i = 0; i < nr; i++) irqDescFree(k, (start + i) as Virq);
    return result;
  }
  for (const id of chain) k.domains[id].mapped += nr;
  return { ok: true, virq: start as Virq };
}

/** `irq_domain_alloc_irqs_parent`. */
export function irqDomainAllocIrqsParent(
  k: KernelState,
  p: KernelPlatform,
  d: IrqDomain,
  virq: Virq,
  nrIrqs: number,
  info: AllocInfo,
): IrqResult {
  assert(d.parent !== null, `${d.name}: alloc of the parent of a root domain`);
  const parent = k.domains[d.parent];
  return domainOps(parent.kind).alloc(k, p, parent, virq, nrIrqs, info);
}

/** `irq_domain_free_irqs_parent`. */
export function irqDomainFreeIrqsParent(
  k: KernelState,
  p: KernelPlatform,
  d: IrqDomain,
  virq: Virq,
  nrIrqs: number,
): void {
  assert(d.parent !== null, `${d.name}: free of the parent of a root domain`);
  const parent = k.domains[d.parent];
  domainOps(parent.kind).free(k, p, parent, virq, nrIrqs);
}

/** `irq_domain_free_irqs`: every level's resources, then the numbers and descriptors. The irqs
 *  must be deactivated and have no action. */
export function irqDomainFreeIrqs(k: KernelState, p: KernelPlatform, virq: Virq, nrIrqs: number) {
  const first = descOf(k, virq);
  const top = k.domains[first.data[0].domain];
  for (let i = 0; i < nrIrqs; i++) {
    const d = descOf(k, virq + i);
    assert(d.actions.length === 0, `irq ${d.irq} is freed with an action installed`);
    assert(!d.state.activated, `irq ${d.irq} is freed while activated`);
  }
  domainOps(top.kind).free(k, p, top, virq, nrIrqs);
  for (const id of domainChain(k, top.id)) k.domains[id].mapped -= nrIrqs;
  for (let i = 0; i < nrIrqs; i++) irqDescFree(k, (virq + i) as Virq);
}

/** `irq_domain_activate_irq`: bottom-up; on a failure the levels already activated are
 *  deactivated again. Does nothing if the irq is active. */
export function irqDomainActivateIrq(
  k: KernelState,
  p: KernelPlatform,
  d: IrqDesc,
  reserve: boolean,
): IrqResult {
  if (d.state.activated) return OK;
  for (let level = d.data.length - 1; level >= 0; level--) {
    const r = opsAt(k, d, level).activate(k, p, d, level, reserve);
    if (!r.ok) {
      for (let done = level + 1; done < d.data.length; done++) {
        opsAt(k, d, done).deactivate(k, p, d, done);
      }
      return r;
    }
  }
  d.state.activated = true;
  return OK;
}

/** `irq_domain_deactivate_irq`: top-down. */
export function irqDomainDeactivateIrq(k: KernelState, p: KernelPlatform, d: IrqDesc): void {
  if (!d.state.activated) return;
  for (let level = 0; level < d.data.length; level++) opsAt(k, d, level).deactivate(k, p, d, level);
  d.state.activated = false;
}

export const opsAt = (k: KernelState, d: IrqDesc, level: number): IrqDomainOps =>
  domainOps(k.domains[d.data[level].domain].kind);

/** `irq_chip_compose_msi_msg`: the highest level at or below `from` that composes. */
export function irqChipComposeMsiMsg(
  k: KernelState,
  p: KernelPlatform,
  d: IrqDesc,
  from = 0,
): MsiMsg {
  for (let level = from; level < d.data.length; level++) {
    const compose = opsAt(k, d, level).composeMsiMsg;
    if (compose) return compose(k, p, d, level);
  }
  assert(false, `irq ${d.irq}: no level composes an MSI message`);
}

/** `irq_chip_write_msi_msg` on the top level. */
export function irqChipWriteMsiMsg(k: KernelState, p: KernelPlatform, d: IrqDesc, msg: MsiMsg) {
  const write = opsAt(k, d, 0).writeMsiMsg;
  assert(write !== undefined, `irq ${d.irq}: the top level does not write messages`);
  write(k, p, d, 0, msg);
}

/** `parent->chip->irq_set_affinity(parent, mask, force)`. */
export function irqChipSetAffinityParent(
  k: KernelState,
  p: KernelPlatform,
  d: IrqDesc,
  level: number,
  mask: CpuMask,
  force: boolean,
): AffinityResult {
  const next = level + 1;
  assert(next < d.data.length, `irq ${d.irq}: no parent below level ${level}`);
  const set = opsAt(k, d, next).setAffinity;
  if (!set) return fail('EINVAL', `irq ${d.irq}: level ${next} cannot set affinity`);
  return set(k, p, d, next, mask, force);
}
