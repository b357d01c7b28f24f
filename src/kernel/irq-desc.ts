// Interrupt descriptors and interrupt numbers (kernel/irq/irqdesc.c): `irq_alloc_descs` finds
// the lowest free range of irq numbers at or above a bound, `irq_free_descs` gives it back.
// Invariants: an irq number belongs to at most one desc; a desc has one `irq_data` per domain
// of its hierarchy, top first; a new desc is disabled (depth 1), not activated, with no action.
// Not modelled: sparse-irq radix tree details (numbers are searched linearly: nr_irqs is small).

import { assert } from '../hw/errors.js';
import type { ChipData, DomainKind, IrqDesc, KernelState } from './kernel-state.js';
import type { CpuMask, DomainId, Hwirq, Virq } from './types.js';

export interface IrqAffinityDesc {
  readonly mask: CpuMask;
  readonly managed: boolean;
}

/** IRQ_BITMAP_BITS on x86-64: NR_IRQS (CONFIG_NR_CPUS 8192: 524544) + 8192 for sparse irqs. */
export const IRQ_BITMAP_BITS = 524544 + 8192;

/** The lowest `count` consecutive free irq numbers at or above `from`, or -1. */
export function irqFindFreeArea(k: KernelState, from: number, count: number): number {
  for (let start = from; start + count <= IRQ_BITMAP_BITS; start++) {
    let free = true;
    for (let i = 0; i < count && free; i++) free = k.descs[start + i] === undefined;
    if (free) return start;
  }
  return -1;
}

/** A placeholder until the domain's alloc fills its level in. */
const initialChip = (kind: DomainKind): ChipData =>
  kind === 'dmar-msi' ? { kind: 'dmar' } : { kind: 'msi' };

/** A fresh descriptor for `irq`, with one level per domain of `chain` (top first). */
export function irqDescNew(
  k: KernelState,
  irq: Virq,
  chain: readonly DomainId[],
  affinity: IrqAffinityDesc | null,
): IrqDesc {
  assert(k.descs[irq] === undefined, `irq ${irq} already has a descriptor`);
  const mask = affinity?.mask.length ? affinity.mask : k.defaultAffinity;
  const d: IrqDesc = {
    irq,
    data: chain.map((domain) => ({
      domain,
      hwirq: 0 as Hwirq,
      chip: initialChip(k.domains[domain].kind),
    })),
    handler: 'edge',
    trigger: 'edge',
    actions: [],
    depth: 1,
    affinity: mask,
    effectiveAffinity: [],
    pendingMask: [],
    affinityHint: null,
    state: {
      activated: false,
      started: false,
      disabled: true,
      masked: true,
      managed: affinity?.managed ?? false,
      affinitySet: false,
      managedShutdown: false,
      canReserve: false,
      pending: false,
      movePending: false,
      movePcntxt: false,
      noBalancing: false,
    },
    kstat: new Array<number>(k.nrCpus).fill(0),
    msi: null,
    procDir: false,
  };
  k.descs[irq] = d;
  if (irq >= k.nrIrqs) k.nrIrqs = irq + 1;
  return d;
}

export function irqDescFree(k: KernelState, irq: Virq): void {
  assert(k.descs[irq] !== undefined, `irq ${irq} has no descriptor to free`);
  delete k.descs[irq];
}

/** Irq numbers in use, ascending. */
export const activeIrqs = (k: KernelState): Virq[] =>
  Object.keys(k.descs)
    .map(Number)
    .sort((a, b) => a - b) as Virq[];
