// What the workload's guest operations cost, counted from the steps the simulator executed: each
// exit a step of an operation's program makes (a trapped access, a hypercall, a trapped
// invalidation), by the trap it left, and how many of each operation the run applied. `compare`'s
// per-operation exits are these (`scenario/run-strategy.ts`), so what an operation costs is what
// its steps did in the run, never a second count.
// Invariants: an exit is an operation's when the step that made it belongs to a program with an
// `operation` (`machine/step-program.ts`); the trap words still hold it after that step (its
// handler is a later step).

import { assert } from '../hw/errors.js';
import { PROGRAMS } from '../machine/programs.js';
import type { WorkloadOperation } from '../machine/step-program.js';
import { ACTION } from '../machine/system-actions.js';
import { type SystemState, TRAP_KIND } from '../machine/system-state.js';
import { trapOf } from '../machine/vcpu-trap.js';

export type TrapKindName = keyof typeof TRAP_KIND;
const TRAP_NAME_OF = new Map<number, TrapKindName>(
  Object.entries(TRAP_KIND).map(([name, kind]) => [kind, name as TrapKindName]),
);

export interface OperationTally {
  /** Operations applied: the workload's inputs the run reached. */
  readonly applied: Record<WorkloadOperation, number>;
  /** Exits the operations' steps made, by trap kind. */
  readonly exits: Record<WorkloadOperation, Partial<Record<TrapKindName, number>>>;
}

export const createOperationTally = (): OperationTally => ({
  applied: { mask: 0, unmask: 0, affinity: 0, free: 0, request: 0 },
  exits: { mask: {}, unmask: {}, affinity: {}, free: {}, request: {} },
});

/** The operation a workload input asks for, or null for another action. */
const OPERATION_OF_INPUT: Readonly<Record<number, WorkloadOperation>> = {
  [ACTION.mask]: 'mask',
  [ACTION.unmask]: 'unmask',
  [ACTION.setAffinity]: 'affinity',
  [ACTION.freeIrq]: 'free',
  [ACTION.requestIrq]: 'request',
};

export function tallyInput(t: OperationTally, kind: number): void {
  const op = OPERATION_OF_INPUT[kind];
  if (op !== undefined) t.applied[op]++;
}

/** vCPU `v` exited in a step of program `program` (0: not a program's step). */
export function tallyExit(t: OperationTally, s: SystemState, program: number, v: number): void {
  const op = PROGRAMS[program]?.operation;
  if (op === undefined) return;
  const trap = TRAP_NAME_OF.get(trapOf(s, v).kind);
  assert(trap !== undefined, `${PROGRAMS[program]?.name}: an exit with no trap kind`);
  t.exits[op][trap] = (t.exits[op][trap] ?? 0) + 1;
}
