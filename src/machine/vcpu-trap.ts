// What a vCPU exited on, when a guest access traps or the guest makes a hypercall: KVM's exit
// information, kept in the vCPU's TRAP words from the exit until its handler (the vCPU thread's
// next step: QEMU's emulation, KVM's hypercall handler) has run; then the vCPU goes back to KVM's
// run loop and re-enters.
// Invariant: a vCPU has at most one trap outstanding (it is out of guest mode until the handler
// ends it); the words are zero when none is.

import { fieldPos, getField, setField } from '../hw/field-pos.js';
import { STEP, type StepProgram, startProgram, WAIT } from './step-program.js';
import { EVENT, type EventLog, emit } from './system-events.js';
import { type SystemState, TRAP } from './system-state.js';
import { TRAP_DWORDS } from './system-topology.js';
import { vmExit } from './system-vcpu.js';

const F = {
  kind: fieldPos(TRAP, 'kind'),
  dword: fieldPos(TRAP, 'dword'),
  vector: fieldPos(TRAP, 'vector'),
};

export interface Trap {
  /** TRAP_KIND */
  readonly kind: number;
  /** The assigned vector it is about. */
  readonly vector: number;
  /** The MSI-X entry's dword (accesses), 0 otherwise. */
  readonly dword: number;
  /** What was written or passed. */
  readonly value: number;
}

const trapAt = (s: SystemState, v: number) => s.topology.layout.vcpuTrap + v * TRAP_DWORDS;

/** vCPU `v` exits (VMX reason `reason`) with `trap`; `handler` is its thread's next step. */
export function trapExit(
  s: SystemState,
  log: EventLog,
  v: number,
  trap: Trap,
  reason: number,
  handler: StepProgram,
): void {
  const at = trapAt(s, v);
  s.words[at] = 0;
  setField(s.words, at, F.kind, trap.kind);
  setField(s.words, at, F.dword, trap.dword);
  setField(s.words, at, F.vector, trap.vector);
  s.words[at + 1] = trap.value >>> 0;
  vmExit(s, log, v, reason, trap.vector);
  startProgram(s, v, handler);
  emit(log, EVENT.threadReady, v, WAIT.now);
}

export function trapOf(s: SystemState, v: number): Trap {
  const at = trapAt(s, v);
  return {
    kind: getField(s.words, at, F.kind),
    vector: getField(s.words, at, F.vector),
    dword: getField(s.words, at, F.dword),
    value: s.words[at + 1],
  };
}

/** The handler is done: the trap is cleared and the vCPU goes back to KVM's run loop. */
export function trapHandled(s: SystemState, log: EventLog, v: number) {
  s.words.fill(0, trapAt(s, v), trapAt(s, v) + TRAP_DWORDS);
  emit(log, EVENT.vcpuResume, v, 0);
  return STEP.done;
}
