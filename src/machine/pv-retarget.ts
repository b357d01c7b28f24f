// The pv ABI's RETARGET (docs/pv-abi.md §9) as the machine runs it. The guest kernel's pv-ir
// domain moves a vector as Linux's hierarchy does (irq_chip_set_affinity: the vector domain
// first, apic_set_affinity, then the pv domain's set_affinity), and the pv domain's step is one
// hypercall: VMCALL exits, and KVM's handler makes the same pair reach the new target (KVM's
// route and, where the host posts, the IRTE: vmx_pi_update_irte); nothing is written to the
// device. The handler is the vCPU thread's step after the exit; the vCPU then re-enters.
// Invariants: a refused apic_set_affinity (-EBUSY) makes no hypercall.
// Not modelled: the ABI's register-level arguments and errors (`hv/pv-host.ts` checks them on
// the control plane, where the pair was handed out), pv-batch's batching of moves.

import { apicSetAffinityStep, onRunningVcpu, startGuestOp, vectorOf } from './guest-op.js';
import { runner } from './guest-work.js';
import { handledOrWait, irLockFree, QI_SUBMIT_SYNC } from './host-qi.js';
import { kvmRetarget } from './kvm-irq-bypass.js';
import { STEP, type StepProgram, threadLocal, WAIT } from './step-program.js';
import { affinityVcpu, affinityVector } from './system-actions.js';
import { type EventLog, EXIT_REASON } from './system-events.js';
import { type SystemState, TRAP_KIND } from './system-state.js';
import { trapExit, trapOf } from './vcpu-trap.js';

/** The pv domain's set_affinity: VMCALL RETARGET with the new vCPU and vector. */
function vmcallRetarget(s: SystemState, log: EventLog, thread: number) {
  const trap = {
    kind: TRAP_KIND.hypercall,
    vector: vectorOf(s, thread),
    dword: 0,
    value: threadLocal(s, thread, 1),
  };
  trapExit(s, log, runner(s, thread), trap, EXIT_REASON.vmcall, KVM_PV_RETARGET);
  return STEP.done;
}

/** KVM's handler of RETARGET, on the vCPU that made the call. */
function handleRetarget(s: SystemState, log: EventLog, v: number) {
  const { vector, value } = trapOf(s, v);
  const index = affinityVcpu(value);
  const guestVector = affinityVector(value);
  kvmRetarget(s, log, vector, index, guestVector);
  return handledOrWait(s, log, v);
}

/** The handler may reach modify_irte (a posted IRTE follows the route): it runs with
 *  irq_2_ir_lock free and then waits for its invalidation (`host-qi.ts`). */
export const KVM_PV_RETARGET: StepProgram = {
  id: 10,
  name: 'kvm_emulate_hypercall',
  source: 'docs/pv-abi.md §9 (hv/pv-host.ts)',
  steps: [
    { name: 'pv_retarget', wait: WAIT.now, enabled: irLockFree, run: handleRetarget },
    QI_SUBMIT_SYNC,
  ],
};

export const PV_RETARGET: StepProgram = {
  id: 9,
  name: 'irq_chip_set_affinity(pv)',
  source: 'kernel/irq/chip.c, arch/x86/kernel/apic/vector.c, docs/pv-abi.md §9',
  operation: 'affinity',
  steps: [
    apicSetAffinityStep(STEP.done),
    { name: 'vmcall(RETARGET)', wait: WAIT.now, enabled: onRunningVcpu, run: vmcallRetarget },
  ],
};

/** The guest kernel moves `vector` to `affinityTarget(vcpu, guestVector)` through the pv ABI. */
export function pvRetarget(s: SystemState, log: EventLog, vector: number, target: number) {
  startGuestOp(s, log, vector, PV_RETARGET, target);
}
