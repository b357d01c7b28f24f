// The machine explorer in the explorer benchmark (issue 11, item 7): `irqlab check` on shipped
// check scenarios (the machine itself, `check/machine-model.ts`), each run in a fresh process
// (machine-run.ts) in the same repetitions as the transcription and SPIN (explorer.ts), so its
// states/s are given as ratios to theirs measured in the same repetition.
// states/s = states stored over the search seconds, summed over the check's searches (every
// strategy the scenario allows x its properties); bytes per state = the search arrays' bytes
// (visited set, DFS frames) over the states, summed likewise; the heap figure is the largest
// search's heap over its states (Node's own few MiB dominate searches of a few thousand states).
// Every check must end as the scenario is written to (holds): a bench of a broken check fails.

import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { StoreKind } from '../src/check/visited-set.js';

/** The shipped check scenarios the bench explores. */
export const MACHINE_SCENARIOS = ['msi-affinity-linux', 'msix-rewrite-masked'] as const;

const CHILD = fileURLToPath(new URL('./machine-run.js', import.meta.url));
const scenarioFile = (name: string) =>
  fileURLToPath(new URL(`../../scenarios/check/${name}.yaml`, import.meta.url));

export interface MachineRun {
  readonly verdict: string;
  readonly searches: number;
  readonly states: number;
  readonly transitions: number;
  readonly seconds: number;
  readonly searchBytes: number;
  readonly heapBytes: number;
  readonly heapStates: number;
}

/** One `irqlab check` of a shipped scenario in a fresh Node process (machine-run.ts). */
export function runMachine(name: string, store: StoreKind): MachineRun {
  const out = execFileSync(process.execPath, ['--expose-gc', CHILD, scenarioFile(name), store], {
    encoding: 'utf8',
  });
  const r = JSON.parse(out) as MachineRun;
  if (r.verdict !== 'holds') throw new Error(`bench: irqlab check ${name} says ${r.verdict}`);
  return r;
}

/** One repetition: every scenario with full states and with fingerprints. */
export interface MachineRep {
  readonly full: readonly MachineRun[];
  readonly fingerprint: readonly MachineRun[];
}

export function runMachineRep(): MachineRep {
  return {
    full: MACHINE_SCENARIOS.map((n) => runMachine(n, 'full')),
    fingerprint: MACHINE_SCENARIOS.map((n) => runMachine(n, 'fingerprint')),
  };
}

/** States per second of a set of runs taken together. */
export function machineRate(runs: readonly MachineRun[]): number {
  const states = runs.reduce((n, r) => n + r.states, 0);
  return states / runs.reduce((n, r) => n + r.seconds, 0);
}

/** Search-array bytes per state of a set of runs taken together. */
export function machineBytesPerState(runs: readonly MachineRun[]): number {
  return runs.reduce((n, r) => n + r.searchBytes, 0) / runs.reduce((n, r) => n + r.states, 0);
}
