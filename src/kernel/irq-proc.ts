// /proc/irq/N/smp_affinity and smp_affinity_list (kernel/irq/proc.c, Linux 6.1): what a write
// of a CPU mask does and what a read shows.
//  - write_irq_affinity refuses, with EIO, an irq whose affinity user space may not set
//    (`irq_can_set_affinity_usr`: no set_affinity in its chip, IRQD_NO_BALANCING or per-CPU, or
//    IRQD_AFFINITY_MANAGED), and with EINVAL a mask without an online CPU (x86 has no
//    CONFIG_AUTO_IRQ_AFFINITY, so `irq_select_affinity_usr` is -EINVAL); otherwise it is
//    `irq_set_affinity`;
//  - show_irq_affinity shows `desc->pending_mask` while a move waits for the next interrupt
//    (CONFIG_GENERIC_PENDING_IRQ, IRQD_SETAFFINITY_PENDING), else the affinity;
//    effective_affinity{,_list} is the vector level's CPU either way.
// Invariant: a refused write changes nothing.
// Not modelled: the parse errors of the written text (the caller gives a mask), no_irq_affinity.

import { opsAt } from './irqdomain.js';
import type { IrqDesc, KernelState } from './kernel-state.js';
import { irqSetAffinity } from './manage.js';
import type { KernelPlatform } from './platform.js';
import { type CpuMask, cpumaskAnd, fail, formatCpuList, type IrqResult } from './types.js';

/** `irq_can_set_affinity_usr`. */
export function irqCanSetAffinityUsr(k: KernelState, d: IrqDesc): boolean {
  const canBalance = !d.state.noBalancing;
  return canBalance && opsAt(k, d, 0).setAffinity !== undefined && !d.state.managed;
}

/** `write_irq_affinity`: a write of `mask` to /proc/irq/N/smp_affinity{,_list}. */
export function writeIrqAffinity(
  k: KernelState,
  p: KernelPlatform,
  irq: number,
  mask: CpuMask,
): IrqResult {
  const d = k.descs[irq];
  if (d === undefined || !d.procDir) return fail('ENOENT', `/proc/irq/${irq} does not exist`);
  if (!irqCanSetAffinityUsr(k, d)) {
    const why = d.state.managed ? 'managed' : 'not balanceable';
    return fail('EIO', `irq ${irq} is ${why}: its affinity cannot be set from user space`);
  }
  if (cpumaskAnd(mask, k.online).length === 0) {
    return fail('EINVAL', `irq ${irq}: no online CPU in ${formatCpuList(mask)}`);
  }
  return irqSetAffinity(k, p, irq, mask);
}

/** `show_irq_affinity` for smp_affinity{,_list}: the mask a read shows. */
export const showIrqAffinity = (d: IrqDesc): CpuMask =>
  d.state.movePending ? d.pendingMask : d.affinity;
