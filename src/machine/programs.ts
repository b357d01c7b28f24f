// The registry of step programs (`step-program.ts`) and the one runner every engine uses: a
// thread's next step is enabled when its guard holds, and running it applies the step and moves
// the thread on (next step, end, or the same step again). Adding a program is one entry here.
//
// Invariant: PROGRAMS[i].id === i (checked at load), and id 0 is no program.

import { assert } from '../hw/errors.js';
import {
  GUEST_IMS_FREE,
  GUEST_IMS_MASK,
  GUEST_IMS_REQUEST,
  GUEST_IMS_UNMASK,
  GUEST_MSIX_FREE,
  GUEST_MSIX_MASK,
  GUEST_MSIX_MOVE,
  GUEST_MSIX_MOVE_MASKED,
  GUEST_MSIX_REQUEST,
  GUEST_MSIX_UNMASK,
} from './guest-entry.js';
import { GUEST_MSI_SET_AFFINITY } from './guest-msi.js';
import { VECTOR_CLEANUP } from './guest-vector.js';
import { runner } from './guest-work.js';
import { KVM_PREEMPT, KVM_SCHED_IN, KVM_VCPU_BLOCK } from './kvm-posted-intr.js';
import { KVM_PV_RETARGET, PV_RETARGET } from './pv-retarget.js';
import { QEMU_VFIO_MSI_CONFIG } from './qemu-vfio-msi.js';
import { QEMU_MSIX_MMIO } from './qemu-vfio-msix.js';
import {
  endProgram,
  type ProgramStep,
  STEP,
  type StepProgram,
  setThread,
  threadAt,
  threadIdle,
  threadPc,
  threadProgram,
} from './step-program.js';
import { EVENT, type EventLog, emit } from './system-events.js';
import type { SystemState } from './system-state.js';
import { irqThread, stepKey } from './system-topology.js';
import { INTEL_IR_SET_AFFINITY, VTD_INVALIDATION } from './viommu-ir.js';

export const PROGRAMS: readonly (StepProgram | null)[] = [
  null,
  KVM_VCPU_BLOCK,
  KVM_SCHED_IN,
  KVM_PREEMPT,
  VECTOR_CLEANUP,
  QEMU_MSIX_MMIO,
  GUEST_MSIX_MASK,
  GUEST_MSIX_UNMASK,
  GUEST_MSIX_MOVE,
  PV_RETARGET,
  KVM_PV_RETARGET,
  INTEL_IR_SET_AFFINITY,
  VTD_INVALIDATION,
  GUEST_IMS_MASK,
  GUEST_IMS_UNMASK,
  GUEST_MSIX_FREE,
  GUEST_MSIX_REQUEST,
  GUEST_IMS_FREE,
  GUEST_IMS_REQUEST,
  QEMU_VFIO_MSI_CONFIG,
  GUEST_MSI_SET_AFFINITY,
  GUEST_MSIX_MOVE_MASKED,
];
PROGRAMS.forEach((p, i) => {
  assert(p === null ? i === 0 : p.id === i, `program ${p?.name ?? '(none)'} registered at ${i}`);
  // a step is named `program/step` in traces and in a check's `mutate:`: one name, one step
  const names = p?.steps.map((st) => st.name) ?? [];
  assert(new Set(names).size === names.length, `program ${p?.name}: two steps of one name`);
});

/** The thread's next step index, past the steps a check leaves out (`droppedSteps`): the
 *  program's length when none is left (the program ends at its next action). */
function effectivePc(s: SystemState, thread: number): number {
  const id = threadProgram(s, thread);
  const dropped = s.topology.droppedSteps;
  let pc = threadPc(s, thread);
  if (dropped === undefined) return pc;
  const steps = PROGRAMS[id]?.steps.length ?? 0;
  while (pc < steps && dropped.has(stepKey(id, pc))) pc++;
  return pc;
}

/** The step program `id` runs at position `pc`: its own, or the one a check swapped in. */
function stepAt(s: SystemState, id: number, pc: number): ProgramStep | null {
  const program = PROGRAMS[id];
  if (program === null || pc >= program.steps.length) return null;
  return program.steps[s.topology.swappedSteps?.get(stepKey(id, pc)) ?? pc];
}

/** The step the thread runs next, or null when it runs no program (or none is left). */
export function nextStep(s: SystemState, thread: number): ProgramStep | null {
  return stepAt(s, threadProgram(s, thread), effectivePc(s, thread));
}

export function threadEnabled(s: SystemState, thread: number): boolean {
  if (threadIdle(s, thread)) return false;
  const step = nextStep(s, thread);
  if (step === null) return true; // only left-out steps remain: the program ends
  return step.enabled === undefined || step.enabled(s, thread);
}

/** Runs the thread's next step and moves it on. */
export function threadStep(s: SystemState, log: EventLog, thread: number): void {
  const id = threadProgram(s, thread);
  const program = PROGRAMS[id];
  if (program === null) return;
  const pc = effectivePc(s, thread);
  if (pc === program.steps.length) {
    endProgram(s, thread);
    return;
  }
  const before = s.words[threadAt(s, thread)];
  const result = (stepAt(s, id, pc) as ProgramStep).run(s, log, thread);
  emit(log, EVENT.programStep, thread, id, pc, result);
  // A step that handed its thread to another program keeps that hand-over.
  if (s.words[threadAt(s, thread)] !== before) return;
  if (result === STEP.done || (result === STEP.next && pc + 1 === program.steps.length)) {
    endProgram(s, thread);
    return;
  }
  const next = result === STEP.next ? pc + 1 : result === STEP.again ? pc : result;
  assert(next >= 0 && next < program.steps.length, `${program.name}: no step ${next}`);
  setThread(s, thread, id, next);
  emit(log, EVENT.threadReady, thread, nextStep(s, thread)?.wait ?? 0);
}

/** Every step of every program as `program/step`, with its key (`stepKey`) and index. */
export function programStepNames(): { name: string; key: number; program: number; pc: number }[] {
  return PROGRAMS.flatMap((p) =>
    p === null
      ? []
      : p.steps.map((st, pc) => ({
          name: `${p.name}/${st.name}`,
          key: stepKey(p.id, pc),
          program: p.id,
          pc,
        })),
  );
}

/** `program/step` of the thread's next step, for traces and counterexamples. */
export function describeThreadStep(s: SystemState, thread: number): string {
  const program = PROGRAMS[threadProgram(s, thread)];
  if (program === null) return 'idle';
  return `${program.name}/${nextStep(s, thread)?.name ?? '(end)'}`;
}

/** Whether vCPU `v` runs a guest operation with interrupts off (`StepProgram.irqsOff`). */
export function guestIrqsOffOn(s: SystemState, v: number): boolean {
  const t = s.topology;
  for (let vector = 0; vector < t.vectors.length; vector++) {
    const thread = irqThread(t, vector);
    if (threadIdle(s, thread) || runner(s, thread) !== v) continue;
    if (PROGRAMS[threadProgram(s, thread)]?.irqsOff === true) return true;
  }
  return false;
}
