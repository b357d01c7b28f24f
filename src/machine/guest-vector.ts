// The guest kernel's x86 vector domain as the machine runs it (Linux arch/x86/kernel/apic/vector.c,
// arch/x86/kernel/irq.c): which assigned vector owns a guest vector on a vCPU (vector_irq), the
// guest's interrupt entry (common_interrupt -> handle_irq -> the flow handler, which acks and
// EOIs), and a move's completion: the first interrupt on the new target (irq_complete_move)
// schedules the cleanup of the old one on the old CPU (__vector_schedule_cleanup: a timer one
// jiffy later since Linux 6.6), and the cleanup (__vector_cleanup) frees the old vector unless it
// is still pending in that CPU's IRR, in which case it re-arms and tries again.
//
// Invariants: an assigned vector owns its current target, and its previous one from the move
// until the cleanup frees it; a handler that finds no owner counts the interrupt lost for the
// vector whose freed previous target it hit (a ghost kept for exactly that), or, if none,
// counts nowhere, which the conservation property then reports.
// The guest takes a vector (virtual-interrupt delivery: vIRR -> vISR) and EOIs it in a later step
// (`guestEoi`, its flow handler's ack), so a raise, a move or a cleanup can land in between; a
// vector that arrives meanwhile waits in the vIRR. Linux runs handlers with interrupts disabled,
// so nothing nests: the guest takes no vector while one is in service.
// Not modelled: the guest's TPR (Linux leaves it 0), level-triggered vectors.

import { fieldPos, getField, setField } from '../hw/field-pos.js';
import { apicDeliverableVector, apicDispatch, apicEoi } from '../hw/x86/lapic.js';
import {
  STEP,
  type StepProgram,
  type StepResult,
  startProgram,
  threadProgram,
  WAIT,
} from './step-program.js';
import { countOutcome } from './system-delivery.js';
import { EVENT, type EventLog, EXIT_REASON, emit } from './system-events.js';
import { testBit } from './system-fields.js';
import {
  GUEST_APIC_CURRENT,
  GUEST_APIC_PREVIOUS,
  RETRIGGER_MARK,
  type SystemState,
} from './system-state.js';
import {
  cleanupThread,
  GUEST_APIC_DWORDS,
  NO_VECTOR,
  VECTOR_COUNTERS,
  vcpuId,
} from './system-topology.js';
import { guestExecuting, vcpuInService, virrAt, visrAt, vmExit } from './system-vcpu.js';

/** KVM's route holds the guest's compatibility-format pair: dword 0 address, dword 2 data. */
const CUR_F = {
  vcpu: fieldPos(GUEST_APIC_CURRENT, 'vcpu'),
  vector: fieldPos(GUEST_APIC_CURRENT, 'vector'),
};
const PREV_F = {
  vcpuPlusOne: fieldPos(GUEST_APIC_PREVIOUS, 'vcpuPlusOne'),
  vector: fieldPos(GUEST_APIC_PREVIOUS, 'vector'),
  freed: fieldPos(GUEST_APIC_PREVIOUS, 'freed'),
  retrigger: fieldPos(GUEST_APIC_PREVIOUS, 'retrigger'),
};

const currentAt = (s: SystemState, vector: number) =>
  s.topology.layout.guestApic + vector * GUEST_APIC_DWORDS;
const prevAt = (s: SystemState, vector: number) => currentAt(s, vector) + 1;

/** The guest vector's current target: vCPU index in its VM and guest vector. */
export const currentTarget = (s: SystemState, vector: number) => ({
  vcpu: getField(s.words, currentAt(s, vector), CUR_F.vcpu),
  vector: getField(s.words, currentAt(s, vector), CUR_F.vector),
});

/** Whether the vector's previous target is held: a move in progress or its cleanup pending. */
export function previousHeld(s: SystemState, vector: number): boolean {
  const prev = prevAt(s, vector);
  return (
    getField(s.words, prev, PREV_F.vcpuPlusOne) !== 0 && getField(s.words, prev, PREV_F.freed) === 0
  );
}

function previousIs(s: SystemState, vector: number, index: number, guestVector: number): boolean {
  const prev = prevAt(s, vector);
  return (
    getField(s.words, prev, PREV_F.vcpuPlusOne) === index + 1 &&
    getField(s.words, prev, PREV_F.vector) === guestVector
  );
}

/** The assigned vector whose handler runs for `guestVector` on vCPU `v` (vector_irq): the one
 *  routed there, or one whose previous target it is and not yet freed. NO_VECTOR if none. */
export function guestVectorOwner(s: SystemState, v: number, guestVector: number): number {
  const t = s.topology;
  const vcpu = t.vcpus[v];
  const vectors = t.vms[vcpu.vm].vectors;
  let previous = NO_VECTOR;
  for (let i = 0; i < vectors.length; i++) {
    const target = currentTarget(s, vectors[i]);
    if (target.vector === guestVector && target.vcpu === vcpu.index) return vectors[i];
    if (previousHeld(s, vectors[i]) && previousIs(s, vectors[i], vcpu.index, guestVector)) {
      previous = vectors[i];
    }
  }
  return previous;
}

/** The owner, or else the vector whose VECTOR_RETRIGGERED slot or freed previous target this
 *  is (attribution only: whose raise a merge into this vIRR bit coalesces). */
export function attributedOwner(s: SystemState, v: number, guestVector: number): number {
  const owner = guestVectorOwner(s, v, guestVector);
  if (owner !== NO_VECTOR) return owner;
  const marked = retriggerMarkOwner(s, v, guestVector);
  if (marked !== NO_VECTOR) return marked;
  const t = s.topology;
  const vcpu = t.vcpus[v];
  for (const vector of t.vms[vcpu.vm].vectors) {
    if (previousIs(s, vector, vcpu.index, guestVector)) return vector;
  }
  return NO_VECTOR;
}

/** The vector whose move marked `guestVector` on vCPU `v` VECTOR_RETRIGGERED, or NO_VECTOR. */
function retriggerMarkOwner(s: SystemState, v: number, guestVector: number): number {
  const t = s.topology;
  const vcpu = t.vcpus[v];
  for (const vector of t.vms[vcpu.vm].vectors) {
    if (retriggerMark(s, vector) === RETRIGGER_MARK.none) continue;
    if (currentTarget(s, vector).vector !== guestVector) continue;
    if (previousTarget(s, vector).vcpu === vcpu.index) return vector;
  }
  return NO_VECTOR;
}

/** The vector vCPU `v`'s guest takes next: the highest deliverable one of its virtual IRR
 *  (`apicDeliverableVector`, TPR 0: Linux leaves it 0), or -1. None while one is in service:
 *  Linux runs the handler with interrupts disabled (the x86 interrupt gate clears IF) up to the
 *  ack that writes EOI (handle_edge_irq -> apic_ack_edge), so it never nests another. */
export function guestDeliverableVector(s: SystemState, v: number): number {
  if (vcpuInService(s, v)) return -1;
  return apicDeliverableVector(s.words, virrAt(s, v), s.words, visrAt(s, v), 0);
}

/** Virtual-interrupt delivery of the highest deliverable vector (vIRR -> vISR) and the guest's
 *  entry (common_interrupt -> handle_irq): the owner of the vector in vector_irq runs its
 *  handler, counted delivered; none: lost (misdirected). The EOI is the guest's next step on
 *  this vCPU (`guestEoi`). */
export function guestHandle(s: SystemState, log: EventLog, v: number): void {
  const guestVector = guestDeliverableVector(s, v);
  if (guestVector < 0) return;
  apicDispatch(s.words, virrAt(s, v), s.words, visrAt(s, v), guestVector);
  if (hitRetriggerMark(s, log, v, guestVector)) return;
  const owner = guestVectorOwner(s, v, guestVector);
  if (owner !== NO_VECTOR) countOutcome(s, owner, VECTOR_COUNTERS.delivered);
  else {
    const ghost = attributedOwner(s, v, guestVector);
    countOutcome(s, ghost, VECTOR_COUNTERS.lost);
    emit(log, EVENT.misdirected, v, guestVector, ghost);
  }
  const guestIrq = owner === NO_VECTOR ? -1 : s.topology.vectors[owner].guestIrq;
  emit(log, EVENT.guestIrq, v, guestVector, owner, guestIrq);
}

/** apic_ack_edge, the flow handler's ack (handle_edge_irq acks before the driver's handler):
 *  irq_complete_move for the vector in service, then apic_eoi: the highest vISR bit clears
 *  (`apicEoi`; with APICv, EOI virtualization: no exit; without, the x2APIC EOI MSR write
 *  exits). A vector that arrived in the vIRR meanwhile is taken after this. */
export function guestEoi(s: SystemState, log: EventLog, v: number): void {
  const guestVector = apicEoi(s.words, visrAt(s, v));
  if (guestVector < 0) return;
  const owner = guestVectorOwner(s, v, guestVector);
  if (owner !== NO_VECTOR) irqCompleteMove(s, log, owner, v, guestVector);
  if (!s.topology.host.apicv) vmExit(s, log, v, EXIT_REASON.msrWrite, 0);
}

/** irq_complete_move: the first interrupt on the new target schedules the old one's cleanup. */
function irqCompleteMove(
  s: SystemState,
  log: EventLog,
  vector: number,
  v: number,
  guestVector: number,
) {
  if (!previousHeld(s, vector)) return;
  const target = currentTarget(s, vector);
  if (target.vcpu !== s.topology.vcpus[v].index || target.vector !== guestVector) return;
  const thread = cleanupThread(s.topology, vector);
  if (threadProgram(s, thread) === VECTOR_CLEANUP.id) return;
  startProgram(s, thread, VECTOR_CLEANUP);
  emit(log, EVENT.threadReady, thread, WAIT.timerTick);
}

/** The vCPU (global index) the vector's previous target is on. */
function previousVcpu(s: SystemState, vector: number): number {
  const t = s.topology;
  const index = getField(s.words, prevAt(s, vector), PREV_F.vcpuPlusOne) - 1;
  return vcpuId(t, t.vectors[vector].vm, index);
}

/** __vector_cleanup on the old CPU: still pending in its IRR (the guest reads its virtual-APIC
 *  page) -> "Moved interrupt pending in old target APIC", re-arm; else free the old vector. */
function vectorCleanup(s: SystemState, log: EventLog, thread: number): StepResult {
  const vector = s.topology.threads[thread].index;
  const v = previousVcpu(s, vector);
  const old = getField(s.words, prevAt(s, vector), PREV_F.vector);
  if (testBit(s.words, virrAt(s, v) * 32 + old)) {
    emit(log, EVENT.vectorCleanup, vector, 0);
    return STEP.again;
  }
  setField(s.words, prevAt(s, vector), PREV_F.freed, 1);
  emit(log, EVENT.vectorCleanup, vector, 1);
  return STEP.done;
}

/** The cleanup timer can run on vCPU `v`: it runs guest code and is not in an interrupt
 *  handler (a timer callback runs in softirq context, never inside a hardirq before its EOI). */
function cleanupCanRun(s: SystemState, v: number): boolean {
  return guestExecuting(s, v) && !vcpuInService(s, v);
}

export const VECTOR_CLEANUP: StepProgram = {
  id: 4,
  name: 'vector_cleanup',
  source: 'arch/x86/kernel/apic/vector.c',
  steps: [
    {
      name: '__vector_cleanup',
      wait: WAIT.timerTick,
      // The timer fires on the old CPU: the cleanup runs when that vCPU runs guest code outside
      // an interrupt handler. __vector_cleanup reads only the IRR: the old vector cannot be in
      // service on its own CPU while the timer callback runs there.
      enabled: (s, thread) => cleanupCanRun(s, previousVcpu(s, s.topology.threads[thread].index)),
      run: (s, log, thread) => vectorCleanup(s, log, thread),
    },
  ],
};

/** apic_set_affinity -> assign_vector_locked: the guest moves `vector` to vCPU `index`, guest
 *  vector `newVector` (its kernel's choice); the old target is kept as previous until its
 *  cleanup. Linux refuses a move while the previous one is still held (-EBUSY): returns false
 *  then, and nothing changes. */
export function guestMoveVector(s: SystemState, vector: number, index: number, newVector: number) {
  if (previousHeld(s, vector)) return false;
  const w = s.words;
  const old = currentTarget(s, vector);
  setField(w, currentAt(s, vector), CUR_F.vcpu, index);
  setField(w, currentAt(s, vector), CUR_F.vector, newVector);
  const prev = prevAt(s, vector);
  w[prev] = 0;
  setField(w, prev, PREV_F.vcpuPlusOne, old.vcpu + 1);
  setField(w, prev, PREV_F.vector, old.vector);
  return true;
}

/** The previous target of a vector that was moved: vCPU index in the VM and guest vector. */
export const previousTarget = (s: SystemState, vector: number) => ({
  vcpu: getField(s.words, prevAt(s, vector), PREV_F.vcpuPlusOne) - 1,
  vector: getField(s.words, prevAt(s, vector), PREV_F.vector),
});

export const retriggerMark = (s: SystemState, vector: number): number =>
  getField(s.words, prevAt(s, vector), PREV_F.retrigger);
export const setRetriggerMark = (s: SystemState, vector: number, mark: number): void =>
  setField(s.words, prevAt(s, vector), PREV_F.retrigger, mark);

/** common_interrupt on a vector_irq slot msi_set_affinity marked VECTOR_RETRIGGERED (the new
 *  vector on the old CPU): the slot goes back to VECTOR_UNUSED and no handler runs. The
 *  interrupt it catches was retriggered to the new target if the IRR check saw it (counted
 *  there); one that came later is dropped: lost. A raise that merged into the copy after the
 *  retrigger is counted coalesced (at the merge), though the handler that ran for the retrigger
 *  may have run before it: whether its work is seen is the driver's business. */
function hitRetriggerMark(s: SystemState, log: EventLog, v: number, guestVector: number): boolean {
  const vector = retriggerMarkOwner(s, v, guestVector);
  if (vector === NO_VECTOR) return false;
  const mark = retriggerMark(s, vector);
  setRetriggerMark(s, vector, RETRIGGER_MARK.none);
  if (mark === RETRIGGER_MARK.marked) countOutcome(s, vector, VECTOR_COUNTERS.lost);
  emit(log, EVENT.retriggerMarkHit, v, guestVector, vector, mark);
  return true;
}
