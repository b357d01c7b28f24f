// Interrupt affinity spreading for multi-queue devices (kernel/irq/affinity.c
// `irq_create_affinity_masks`, lib/group_cpus.c `group_cpus_evenly`): the vectors a driver
// declares as pre/post vectors get the default affinity and are not managed; the others are
// managed and spread over the CPUs in groups of consecutive CPUs, as evenly as possible (the
// first groups get one more CPU when the division is not exact).
// Evidence: `qemu-q35-*` virtio-blk and nvme on 4 CPUs: req.0-3 / q1-4 with smp_affinity_list
// 0, 1, 2, 3; `vm-virtio-pci` virtio-blk with one queue on 2 CPUs: req.0 with 0-1.
// Invariant: every managed mask is non-empty and the masks of one set cover every CPU.
// Not modelled: NUMA nodes and SMT siblings (group_cpus_evenly keeps siblings together and
// spreads per node first); on a single node without SMT both reduce to this.

import { assert } from '../hw/errors.js';
import type { IrqAffinityDesc } from './irq-desc.js';
import type { KernelState } from './kernel-state.js';
import { type CpuMask, cpuMask } from './types.js';

/** `struct irq_affinity`. */
export interface IrqAffinity {
  readonly preVectors: number;
  readonly postVectors: number;
  /** Sizes of the interrupt sets (nvme: default/read/poll queues); one set if absent. */
  readonly setSizes?: readonly number[];
}

/** `group_cpus_evenly(numgrps)` over `cpus` (the possible CPUs). */
export function groupCpusEvenly(cpus: CpuMask, numgrps: number): CpuMask[] {
  assert(numgrps >= 1, 'group_cpus_evenly: no groups');
  const groups: number[][] = Array.from({ length: numgrps }, () => []);
  if (numgrps >= cpus.length) {
    // One CPU per group; groups beyond the CPUs wrap around (Linux assigns them again from the
    // first group).
    for (let g = 0; g < numgrps; g++) groups[g].push(cpus[g % cpus.length]);
    return groups.map((g) => cpuMask(g));
  }
  const perGroup = Math.floor(cpus.length / numgrps);
  let extra = cpus.length - perGroup * numgrps;
  let next = 0;
  for (const group of groups) {
    let take = perGroup;
    if (extra > 0) {
      take++;
      extra--;
    }
    for (let i = 0; i < take; i++) group.push(cpus[next++]);
  }
  return groups.map((g) => cpuMask(g));
}

/** `irq_calc_affinity_vectors`: how many of [minvec, maxvec] vectors are worth allocating. */
export function irqCalcAffinityVectors(
  k: KernelState,
  minvec: number,
  maxvec: number,
  affd: IrqAffinity,
): number {
  const resv = affd.preVectors + affd.postVectors;
  if (resv > minvec) return 0;
  const setVecs = affd.setSizes ? maxvec - resv : k.nrCpus;
  return resv + Math.min(setVecs, maxvec - resv);
}

/** `affd->calc_sets` for the vectors the allocation got: one set (default_calc_sets, and
 *  nvme_calc_irq_sets with no read or poll queues, which sizes its default set to every vector
 *  left: fewer than the driver asked for when the table is smaller); several sets as declared. */
function calcSets(affd: IrqAffinity, affvecs: number): readonly number[] {
  const sets = affd.setSizes;
  return sets === undefined || sets.length === 1 ? [affvecs] : sets;
}

/** `irq_create_affinity_masks`: one affinity per vector. */
export function irqCreateAffinityMasks(
  k: KernelState,
  nvecs: number,
  affd: IrqAffinity,
): IrqAffinityDesc[] {
  const affvecs = Math.max(0, nvecs - affd.preVectors - affd.postVectors);
  const masks: IrqAffinityDesc[] = Array.from({ length: nvecs }, () => ({
    mask: k.defaultAffinity,
    managed: false,
  }));
  if (affvecs === 0) return masks;
  const sets = calcSets(affd, affvecs);
  assert(
    sets.reduce((a, b) => a + b, 0) === affvecs,
    `affinity sets ${sets.join('+')} != ${affvecs} vectors`,
  );
  const possible = Array.from({ length: k.nrCpus }, (_, i) => i);
  let cur = affd.preVectors;
  for (const size of sets) {
    const groups = groupCpusEvenly(cpuMask(possible), size);
    for (let j = 0; j < size; j++) masks[cur + j] = { mask: groups[j], managed: true };
    cur += size;
  }
  return masks;
}
