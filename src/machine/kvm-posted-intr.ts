// KVM's side of posted interrupts (arch/x86/kvm/vmx/posted_intr.c, virt/kvm/kvm_main.c
// kvm_vcpu_block, arch/x86/kvm/x86.c vcpu_enter_guest), as step programs on the vCPU's thread, in
// KVM's order, so that the remapping unit's posting (VT-d 5.2.3) can land between any two of them:
//
//   kvm_vcpu_block   HLT exit -> kvm_vcpu_check_block (an event pending: back to the run loop)
//                    -> schedule(): kvm_sched_out -> vmx_vcpu_pi_put -> pi_enable_wakeup_handler:
//                    the vCPU joins the wake-up list of the pCPU it was loaded on (vcpu->cpu),
//                    NV := POSTED_INTR_WAKEUP_VECTOR (one cmpxchg, NDST unchanged), and if ON is
//                    already set a wake-up IPI to itself (an interrupt posted before NV changed
//                    arrived on the ordinary notification vector).
//   kvm_sched_in     vcpu_load -> vmx_vcpu_pi_load on the pCPU the scheduler picked: off the
//                    wake-up list of vcpu->cpu, one cmpxchg of NDST := that pCPU, SN := 0,
//                    NV := POSTED_INTR_VECTOR (or only SN := 0 when neither moved), then ON := 1
//                    if PIR is not empty.
//   preemption       the host scheduler moves a running vCPU: vmx_vcpu_pi_put with
//                    vcpu->preempted (SN := 1), then kvm_sched_in on the new pCPU.
// pi_wakeup_handler (POSTED_INTR_WAKEUP_VECTOR on a pCPU) wakes every vCPU on THAT pCPU's list
// whose ON is set; kvm_vcpu_wake_up makes a blocked vCPU runnable, to be scheduled in wherever
// the scheduler runs it. A blocked vCPU is never re-pointed while it sleeps: its descriptor keeps
// NDST and NV until it is loaded again, which is what lets the wake-up find it.
//
// Invariants: a vCPU is on a wake-up list iff its NV is the wake-up vector (with posting), and
// the list is vcpu->cpu's; a vCPU in guest mode has SN = 0 and NDST = its pCPU.
// Not modelled: IPI virtualization, the KVM_REQ_UNBLOCK path (assignment arriving while blocked),
// preemption in the middle of kvm_vcpu_block (a migration waits for it to end), halt polling.

import { fieldPos, getField, setField } from '../hw/field-pos.js';
import { PID_CONTROL } from '../hw/x86/posted-descriptor.js';
import { attributedOwner } from './guest-vector.js';
import { guestBusyOn } from './guest-work.js';
import {
  endProgram,
  STEP,
  type StepProgram,
  type StepResult,
  startProgram,
  threadIdle,
  threadPc,
  threadProgram,
  WAIT,
} from './step-program.js';
import { lapicRequest } from './system-delivery.js';
import { EVENT, type EventLog, EXIT_REASON, emit } from './system-events.js';
import {
  POSTED_INTR_VECTOR,
  POSTED_INTR_WAKEUP_VECTOR,
  pidControlAt,
  pidSetNotification,
  RESCHEDULE_VECTOR,
  type SystemState,
  setPcpuGuest,
  setVcpuOnWakeupList,
  setVcpuRun,
  setVcpuTarget,
  VCPU_STATE,
  vcpuOnWakeupList,
  vcpuPcpu,
  vcpuState,
  vcpuTarget,
} from './system-state.js';
import { NO_VECTOR } from './system-topology.js';
import { syncPir, vcpuPirPending, vcpuVirrPending, vmExit } from './system-vcpu.js';

const PID_F = {
  on: fieldPos(PID_CONTROL, 'on'),
  sn: fieldPos(PID_CONTROL, 'sn'),
  nv: fieldPos(PID_CONTROL, 'nv'),
};

/** vmx_can_use_vtd_pi / vmx_needs_pi_wakeup: KVM keeps the descriptor's NV, SN and the wake-up
 *  list only where the remapping unit posts (APICv and posted IRTEs). */
const descriptorManaged = (s: SystemState): boolean =>
  s.topology.host.apicv && s.topology.host.posted;

const pidOn = (s: SystemState, v: number): boolean =>
  getField(s.words, pidControlAt(s, v), PID_F.on) === 1;
const pidNv = (s: SystemState, v: number): number =>
  getField(s.words, pidControlAt(s, v), PID_F.nv);

// ---- kvm_vcpu_block ----

/** kvm_vcpu_check_block -> kvm_arch_vcpu_runnable -> kvm_cpu_has_interrupt: guest work pending
 *  on the vCPU (`guest-work.ts`); with APICv, vmx_sync_pir_to_irr first (only when ON is set),
 *  then the virtual IRR; without, KVM's own pending set. */
function checkBlock(s: SystemState, log: EventLog, v: number): StepResult {
  if (guestBusyOn(s, v)) {
    emit(log, EVENT.vcpuResume, v, vcpuPcpu(s, v));
    return STEP.done;
  }
  if (s.topology.host.apicv) {
    if (pidOn(s, v)) syncPir(s, log, v, attributedOwner);
    if (!vcpuVirrPending(s, v)) return STEP.next;
  } else if (!vcpuPirPending(s, v) && !vcpuVirrPending(s, v)) return STEP.next;
  emit(log, EVENT.vcpuResume, v, vcpuPcpu(s, v));
  return STEP.done;
}

/** schedule() -> kvm_sched_out -> vmx_vcpu_pi_put -> pi_enable_wakeup_handler; the task sleeps. */
function piEnableWakeupHandler(s: SystemState, log: EventLog, v: number): StepResult {
  const p = vcpuPcpu(s, v);
  if (descriptorManaged(s)) {
    setVcpuOnWakeupList(s, v, true);
    const ctl = pidControlAt(s, v);
    setField(s.words, ctl, PID_F.nv, POSTED_INTR_WAKEUP_VECTOR);
    if (pidOn(s, v)) lapicRequest(s, log, -1, p, POSTED_INTR_WAKEUP_VECTOR, NO_VECTOR);
  }
  setVcpuRun(s, v, VCPU_STATE.blocked, p);
  emit(log, EVENT.vcpuBlock, v, p);
  return STEP.done;
}

export const KVM_VCPU_BLOCK: StepProgram = {
  id: 1,
  name: 'kvm_vcpu_block',
  source: 'virt/kvm/kvm_main.c, arch/x86/kvm/vmx/posted_intr.c',
  steps: [
    { name: 'kvm_vcpu_check_block', wait: WAIT.now, run: checkBlock },
    { name: 'pi_enable_wakeup_handler', wait: WAIT.now, run: piEnableWakeupHandler },
  ],
};

// ---- kvm_sched_in, preemption ----

/** vmx_vcpu_pi_load on the pCPU the scheduler runs the task on (`target`), then vcpu->cpu. */
function piLoad(s: SystemState, log: EventLog, v: number): StepResult {
  const from = vcpuPcpu(s, v);
  const to = vcpuTarget(s, v);
  if (descriptorManaged(s)) {
    const ctl = pidControlAt(s, v);
    if (pidNv(s, v) !== POSTED_INTR_WAKEUP_VECTOR && from === to) {
      setField(s.words, ctl, PID_F.sn, 0);
    } else {
      setVcpuOnWakeupList(s, v, false);
      // The one cmpxchg: NDST, SN and NV change together, so posting sees either the old
      // control word or the new one.
      pidSetNotification(s, v, POSTED_INTR_VECTOR, to);
      setField(s.words, ctl, PID_F.sn, 0);
    }
    // after_clear_sn: a post suppressed while SN was set left PIR bits without ON.
    if (vcpuPirPending(s, v)) setField(s.words, ctl, PID_F.on, 1);
  } else if (s.topology.host.apicv) {
    pidSetNotification(s, v, POSTED_INTR_VECTOR, to);
  }
  setVcpuRun(s, v, VCPU_STATE.inHost, to);
  emit(log, EVENT.vcpuLoad, v, from, to);
  return STEP.done;
}

/** vmx_vcpu_pi_put of a preempted vCPU: SN := 1, so posting sends no notification to a pCPU the
 *  vCPU is not running on; the task is runnable, to be loaded on its new pCPU. */
function piPutPreempted(s: SystemState, _log: EventLog, v: number): StepResult {
  if (descriptorManaged(s)) setField(s.words, pidControlAt(s, v), PID_F.sn, 1);
  setVcpuRun(s, v, VCPU_STATE.runnable, vcpuPcpu(s, v));
  return STEP.next;
}

const PI_LOAD_STEP = { name: 'vmx_vcpu_pi_load', wait: WAIT.now, run: piLoad } as const;

export const KVM_SCHED_IN: StepProgram = {
  id: 2,
  name: 'kvm_sched_in',
  source: 'virt/kvm/kvm_main.c, arch/x86/kvm/vmx/posted_intr.c',
  steps: [PI_LOAD_STEP],
};

export const KVM_PREEMPT: StepProgram = {
  id: 3,
  name: 'kvm_sched_out(preempted)',
  source: 'virt/kvm/kvm_main.c, arch/x86/kvm/vmx/posted_intr.c',
  steps: [{ name: 'vmx_vcpu_pi_put', wait: WAIT.now, run: piPutPreempted }, PI_LOAD_STEP],
};

// ---- entry points from the rest of the machine ----

/** The guest executes HLT (idle): the exit, then kvm_vcpu_block's steps. */
export function vcpuHalt(s: SystemState, log: EventLog, v: number): void {
  vmExit(s, log, v, EXIT_REASON.hlt, 0);
  startProgram(s, v, KVM_VCPU_BLOCK);
  emit(log, EVENT.threadReady, v, WAIT.now);
}

/** kvm_vcpu_wake_up: a sleeping vCPU becomes runnable and is scheduled in; one still in
 *  kvm_vcpu_block before it slept goes back to its run loop (the task never left the CPU);
 *  one that has not checked yet will see the event when it does. */
export function kvmVcpuWakeUp(s: SystemState, log: EventLog, v: number): void {
  const state = vcpuState(s, v);
  if (state === VCPU_STATE.blocked) {
    setVcpuRun(s, v, VCPU_STATE.runnable, vcpuPcpu(s, v));
    startProgram(s, v, KVM_SCHED_IN);
    emit(log, EVENT.vcpuWake, v, vcpuPcpu(s, v));
    emit(log, EVENT.threadReady, v, WAIT.wakeup);
  } else if (threadProgram(s, v) === KVM_VCPU_BLOCK.id && threadPc(s, v) > 0) {
    endProgram(s, v);
    emit(log, EVENT.vcpuResume, v, vcpuPcpu(s, v));
  }
}

/** pi_wakeup_handler on pCPU `p`: every vCPU on p's wake-up list with ON set is woken. */
export function piWakeupHandler(s: SystemState, log: EventLog, p: number): void {
  for (let v = 0; v < s.topology.vcpus.length; v++) {
    if (vcpuOnWakeupList(s, v) && vcpuPcpu(s, v) === p && pidOn(s, v)) kvmVcpuWakeUp(s, log, v);
  }
}

/** vcpu_enter_guest: vmx_sync_pir_to_irr (with APICv only when ON is set; without, KVM injects
 *  its pending set), then guest mode. */
export function vcpuEnter(s: SystemState, log: EventLog, v: number): void {
  const p = vcpuPcpu(s, v);
  const moved = !s.topology.host.apicv || pidOn(s, v) ? syncPir(s, log, v, attributedOwner) : 0;
  setVcpuRun(s, v, VCPU_STATE.inGuest, p);
  setPcpuGuest(s, p, v);
  emit(log, EVENT.vmEntry, v, p);
  if (moved > 0) emit(log, EVENT.pirSynced, v, moved);
}

/** Whether the host scheduler can move vCPU `v` now: not in the middle of kvm_vcpu_block or of
 *  a preemption's put (see "Not modelled"). */
export function vcpuMigratable(s: SystemState, v: number): boolean {
  const program = threadProgram(s, v);
  return (
    program === 0 ||
    program === KVM_SCHED_IN.id ||
    (program === KVM_PREEMPT.id && threadPc(s, v) > 0)
  );
}

/** The host scheduler moves vCPU `v`'s task to pCPU `p`. Running in guest mode: the reschedule
 *  IPI exits it, then preemption. Running KVM code: preemption. Asleep or runnable: it will be
 *  loaded on `p` when it runs; its descriptor does not change now. */
export function vcpuMigrate(s: SystemState, log: EventLog, v: number, p: number): void {
  const from = vcpuTarget(s, v);
  if (from === p) return;
  setVcpuTarget(s, v, p);
  emit(log, EVENT.vcpuMigrate, v, from, p);
  const state = vcpuState(s, v);
  if (state === VCPU_STATE.inGuest)
    vmExit(s, log, v, EXIT_REASON.externalInterrupt, RESCHEDULE_VECTOR);
  if (vcpuState(s, v) === VCPU_STATE.inHost && threadIdle(s, v)) {
    startProgram(s, v, KVM_PREEMPT);
    emit(log, EVENT.threadReady, v, WAIT.now);
  }
}
