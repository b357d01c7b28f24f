// A guest driver operation on an assigned vector as a step program on the vector's guest irq
// thread (`guest-entry.ts`, `pv-retarget.ts`): where it runs, when it may start, when each of its
// steps may run. The program's locals: 0, the vCPU (index in the VM) it runs on, the one the irq
// targets when it starts; 1, what it was asked for (a move's `affinityTarget`).
// Invariants: one operation per irq at a time (the guest serializes them under the irq
// descriptor's lock); a step runs only while its vCPU executes guest code and is not handling an
// exit.

import { currentTarget, guestMoveVector } from './guest-vector.js';
import { runner } from './guest-work.js';
import { kvmVcpuWakeUp } from './kvm-posted-intr.js';
import {
  type ProgramStep,
  STEP,
  type StepProgram,
  type StepResult,
  setThreadLocal,
  startProgram,
  threadIdle,
  threadLocal,
  WAIT,
} from './step-program.js';
import { affinityVcpu, affinityVector } from './system-actions.js';
import { EVENT, type EventLog, emit } from './system-events.js';
import type { SystemState } from './system-state.js';
import { irqThread } from './system-topology.js';
import { guestExecuting } from './system-vcpu.js';

/** The assigned vector a guest irq thread works on. */
export const vectorOf = (s: SystemState, thread: number): number =>
  s.topology.threads[thread].index;

/** The move an operation was asked for: vCPU index in the VM and guest vector. */
export const askedTarget = (s: SystemState, thread: number) => {
  const target = threadLocal(s, thread, 1);
  return { vcpu: affinityVcpu(target), vector: affinityVector(target) };
};

/** A step's guard: its vCPU executes guest code (no host interrupt pending on its pCPU either)
 *  and is not in the middle of an exit. */
export function onRunningVcpu(s: SystemState, thread: number): boolean {
  const v = runner(s, thread);
  return guestExecuting(s, v) && threadIdle(s, v);
}

/** apic_set_affinity -> assign_vector_locked for the move asked for; a refusal (-EBUSY while a
 *  previous move is held) is reported and the operation goes on without it. */
export function apicSetAffinity(s: SystemState, log: EventLog, thread: number): boolean {
  const vector = vectorOf(s, thread);
  const target = askedTarget(s, thread);
  if (guestMoveVector(s, vector, target.vcpu, target.vector)) return true;
  emit(log, EVENT.affinityRefused, vector, target.vcpu, target.vector);
  return false;
}

/** The move's first step, as Linux's hierarchy runs it (the vector domain first); a refusal goes
 *  on at `onRefused` (the end, or the step that undoes what came before). */
export function apicSetAffinityStep(onRefused: StepResult): ProgramStep {
  return {
    name: 'apic_set_affinity',
    wait: WAIT.now,
    enabled: onRunningVcpu,
    run: (s, log, thread) => (apicSetAffinity(s, log, thread) ? STEP.next : onRefused),
  };
}

/** Whether an operation on `vector` can start: the previous one on the irq is done. */
export const guestOpCanStart = (s: SystemState, vector: number): boolean =>
  threadIdle(s, irqThread(s.topology, vector));

/** Starts `program` on `vector`'s irq thread, on the vCPU the irq targets, asked for `target`. */
export function startGuestOp(
  s: SystemState,
  log: EventLog,
  vector: number,
  program: StepProgram,
  target: number,
): void {
  const thread = irqThread(s.topology, vector);
  startProgram(s, thread, program);
  setThreadLocal(s, thread, 0, currentTarget(s, vector).vcpu);
  setThreadLocal(s, thread, 1, target);
  emit(log, EVENT.threadReady, thread, WAIT.now);
  // What runs the operation in the guest (a timer, a work item) wakes an idle vCPU first.
  kvmVcpuWakeUp(s, log, runner(s, thread));
}
