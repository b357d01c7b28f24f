// Where the guest kernel is busy: a guest irq thread's program (`guest-entry.ts`) runs on one vCPU,
// named by the program's local 0 (its index in the VM). While it runs, that vCPU is executing
// kernel code: it neither goes idle (HLT) nor stays asleep in KVM (kvm_vcpu_check_block sees the
// work as an event, as it sees the guest timer that started it).

import { threadIdle, threadLocal } from './step-program.js';
import type { SystemState } from './system-state.js';
import { irqThread, vcpuId } from './system-topology.js';

/** The vCPU (global index) a guest irq thread's program runs on. */
export function runner(s: SystemState, thread: number): number {
  const t = s.topology;
  return vcpuId(t, t.vectors[t.threads[thread].index].vm, threadLocal(s, thread, 0));
}

/** Whether vCPU `v` is in the middle of a guest driver operation. */
export function guestBusyOn(s: SystemState, v: number): boolean {
  const t = s.topology;
  for (let vector = 0; vector < t.vectors.length; vector++) {
    const thread = irqThread(t, vector);
    if (!threadIdle(s, thread) && runner(s, thread) === v) return true;
  }
  return false;
}
