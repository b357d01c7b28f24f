// Step programs (DESIGN.md §3, STYLE.md §12): an operation as the sequence of steps the real code
// executes, each step one action, named after the function or line of Linux, KVM or QEMU it
// models. The program in progress and its next step live in the thread's word of the state
// (`THREAD`), so the simulator and the explorer interleave every step with everything else the
// machine does, and a step that reads state (an IRR check, a cmpxchg) is a guarded action over
// the words. The registry of programs is `programs.ts`; a program declares itself here.
//
// Invariants: a thread runs at most one program; a program's steps run in order unless a step
// ends it (`STEP.done`), stays (`STEP.again`: the same step runs later, e.g. a cleanup that
// finds its vector still pending re-arms its timer) or branches (a step index); a step that
// hands its thread to another program keeps that hand-over (the runner does not overwrite it).

import { fieldPos, getField, setField } from '../hw/field-pos.js';
import type { EventLog } from './system-events.js';
import { type SystemState, THREAD } from './system-state.js';
import { THREAD_DWORDS } from './system-topology.js';

/** What a step returns: go on with the next step, end the program, run this step again, or (a
 *  number >= 0) go on at that step (a branch of the real code). */
export const STEP = { next: -1, done: -2, again: -3 } as const;
export type StepResult = (typeof STEP)[keyof typeof STEP] | number;

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

/** The guest operations a workload asks for that run as step programs (free and request: the
 *  entry's mask in irq_shutdown and its unmask in irq_startup, so far). */
export const WORKLOAD_OPERATIONS = ['mask', 'unmask', 'affinity', 'free', 'request'] as const;
export type WorkloadOperation = (typeof WORKLOAD_OPERATIONS)[number];

export interface StepProgram {
  /** Index in PROGRAMS (`programs.ts`); 0 means no program. */
  readonly id: number;
  readonly name: string;
  /** Where the real code lives. */
  readonly source: string;
  /** The workload operation the program carries out, for the accounting of what each costs
   *  (the exits its steps make); absent for the programs that handle or follow one. */
  readonly operation?: WorkloadOperation;
  /** The guest runs it with interrupts off on its vCPU (under the irq descriptor's lock,
   *  irqsave): that vCPU takes no interrupt until it ends. Default: false. */
  readonly irqsOff?: boolean;
  readonly steps: readonly ProgramStep[];
}

const PROGRAM = fieldPos(THREAD, 'program');
const PC = fieldPos(THREAD, 'pc');

export const threadAt = (s: SystemState, thread: number): number =>
  s.topology.layout.threads + thread * THREAD_DWORDS;
/** Local `i` (0 or 1) of the thread's program: a word the program keeps across its steps. */
export const threadLocal = (s: SystemState, thread: number, i: 0 | 1): number =>
  s.words[threadAt(s, thread) + 1 + i];
export function setThreadLocal(s: SystemState, thread: number, i: 0 | 1, value: number): void {
  s.words[threadAt(s, thread) + 1 + i] = value;
}
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

/** The thread's program ends (from one of its steps, or from outside: a wake-up); its locals
 *  are zeroed, so equal states have equal words. */
export function endProgram(s: SystemState, thread: number): void {
  const at = threadAt(s, thread);
  s.words.fill(0, at, at + THREAD_DWORDS);
}
