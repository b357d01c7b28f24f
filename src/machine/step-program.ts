// Step programs (DESIGN.md §3, STYLE.md §12): an operation as the sequence of steps the real code
// executes, each step one action, named after the function or line of Linux, KVM or QEMU it
// models. The program in progress and its next step live in the thread's word of the state
// (`THREAD`), so the simulator and the explorer interleave every step with everything else the
// machine does, and a step that reads state (an IRR check, a cmpxchg) is a guarded action over
// the words. The registry of programs is `programs.ts`; a program declares itself here.
//
// Invariants: a thread runs at most one program; a program's steps run in order unless a step
// ends it (`STEP.done`) or stays (`STEP.again`: the same step runs later, e.g. a cleanup that
// finds its vector still pending re-arms its timer); a step that hands its thread to another
// program keeps that hand-over (the runner does not overwrite it).

import { fieldPos, getField, setField } from '../hw/field-pos.js';
import type { EventLog } from './system-events.js';
import { type SystemState, THREAD } from './system-state.js';

/** What a step returns: go on with the next step, end the program, or run this step again. */
export const STEP = { next: -1, done: -2, again: -3 } as const;
export type StepResult = (typeof STEP)[keyof typeof STEP];

/** What separates a step from the one before it, for the simulator to price (the machine has no
 *  time): nothing (the same code path), a timer tick (a re-armed kernel timer), a wake-up (a
 *  blocked task made runnable and scheduled in). */
export const WAIT = { now: 0, timerTick: 1, wakeup: 2 } as const;
export type Wait = (typeof WAIT)[keyof typeof WAIT];

export interface ProgramStep {
  /** The function or line of the real code this step models. */
  readonly name: string;
  /** The gap before this step when it follows another step, or runs again. */
  readonly wait: Wait;
  /** Whether the step can run now (default: always). */
  readonly enabled?: (s: SystemState, thread: number) => boolean;
  readonly run: (s: SystemState, log: EventLog, thread: number) => StepResult;
}

export interface StepProgram {
  /** Index in PROGRAMS (`programs.ts`); 0 means no program. */
  readonly id: number;
  readonly name: string;
  /** Where the real code lives. */
  readonly source: string;
  readonly steps: readonly ProgramStep[];
}

const PROGRAM = fieldPos(THREAD, 'program');
const PC = fieldPos(THREAD, 'pc');

export const threadAt = (s: SystemState, thread: number): number =>
  s.topology.layout.threads + thread;
export const threadProgram = (s: SystemState, thread: number): number =>
  getField(s.words, threadAt(s, thread), PROGRAM);
export const threadPc = (s: SystemState, thread: number): number =>
  getField(s.words, threadAt(s, thread), PC);
export const threadIdle = (s: SystemState, thread: number): boolean =>
  s.words[threadAt(s, thread)] === 0;

export function setThread(s: SystemState, thread: number, program: number, pc: number): void {
  const at = threadAt(s, thread);
  setField(s.words, at, PROGRAM, program);
  setField(s.words, at, PC, pc);
}

/** The thread starts `program` at its first step. */
export function startProgram(s: SystemState, thread: number, program: StepProgram): void {
  setThread(s, thread, program.id, 0);
}

/** The thread's program ends (from one of its steps, or from outside: a wake-up). */
export function endProgram(s: SystemState, thread: number): void {
  s.words[threadAt(s, thread)] = 0;
}
