// The explorer benchmark (issue 11, item 7): the engine on the transcription of
// ../shared/spin/msix_affinity.pml at NV=4,R=3 (masked, no POR: 500,913 states, 2,306,686
// transitions), against SPIN's pan on the same model and size in the same run, alternating
// (reference/explorer-limit.md §3: compare only ratios measured together).
// Each explorer search runs in a fresh Node process (explorer-run.ts), as explorer-limit.md §3
// measured: states/s = stored / search time (Node's start-up excluded, after a warm-up search);
// bytes per state = (heapUsed + arrayBuffers) after two gc() calls, taken while the search still
// holds its arrays, over the states stored (the search's own arrays are reported beside it).
// SPIN's states/s = stored / pan's "elapsed time".
// The machine explorer (`irqlab check` on shipped check scenarios, explorer-machine.ts) runs in
// the same repetitions; its ratios to the transcription and to SPIN are taken per repetition.

import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StoreKind } from '../src/check/visited-set.js';
import {
  MACHINE_SCENARIOS,
  type MachineRep,
  machineBytesPerState,
  machineRate,
  runMachineRep,
} from './explorer-machine.js';

const NV = 4;
const R = 3;
const REPS = 3;
const CHILD = fileURLToPath(new URL('./explorer-run.js', import.meta.url));
const PML = fileURLToPath(new URL('../../../shared/spin/msix_affinity.pml', import.meta.url));

export interface ExplorerBench {
  readonly label: string;
  readonly spinMissing: string | null;
  readonly json: {
    readonly model: string;
    readonly states: number;
    readonly transitions: number;
    readonly statesPerSecond: number;
    readonly bytesPerState: number;
    readonly searchBytesPerState: number;
    readonly gcExposed: boolean;
    readonly fingerprint: { readonly statesPerSecond: number; readonly bytesPerState: number };
    readonly spinStatesPerSecond: number | null;
    readonly spinStates: number | null;
    readonly ratioToSpin: number | null;
    readonly reps: number;
    readonly machine: MachineBenchJson;
  };
}

/** The machine explorer's figures (medians over the repetitions; ratios taken per repetition). */
export interface MachineBenchJson {
  readonly scenarios: readonly string[];
  readonly searches: number;
  readonly states: number;
  readonly statesPerSecond: number;
  readonly bytesPerState: number;
  readonly heapBytesPerState: number;
  readonly fingerprint: { readonly statesPerSecond: number; readonly bytesPerState: number };
  /** Machine states/s over the transcription's (full states both). */
  readonly ratioToTranscription: number;
  readonly ratioToSpin: number | null;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const round1 = (n: number) => Math.round(n * 10) / 10;

interface Run {
  verdict: string;
  states: number;
  transitions: number;
  seconds: number;
  heapBytes: number;
  searchBytes: number;
  gc: boolean;
}

/** One search in a fresh Node process (explorer-run.ts). */
function run(store: StoreKind): Run {
  const out = execFileSync(process.execPath, ['--expose-gc', CHILD, store, `${NV}`, `${R}`], {
    encoding: 'utf8',
  });
  const r = JSON.parse(out) as Run;
  if (r.verdict !== 'holds') throw new Error(`bench: explorer says ${r.verdict}`);
  return r;
}

function has(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Builds pan for NV=4,R=3 in a scratch directory; or why it cannot be run. */
function buildPan(): { dir: string } | string {
  if (!has('spin') || !has('gcc')) return 'spin or gcc is not installed (apt-get install -y spin)';
  const dir = mkdtempSync(join(tmpdir(), 'irqlab-bench-spin-'));
  try {
    copyFileSync(PML, join(dir, 'msix_affinity.pml'));
    const defines = [`-DNV=${NV}`, `-DR=${R}`, '-DMASKED=1'];
    execFileSync('spin', ['-a', ...defines, 'msix_affinity.pml'], { cwd: dir, stdio: 'ignore' });
    execFileSync('gcc', ['-O2', '-w', '-DSAFETY', '-DNOREDUCE', '-o', 'pan', 'pan.c'], {
      cwd: dir,
    });
    return { dir };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    return `building pan failed: ${(e as Error).message.split('\n')[0]}`;
  }
}

/** One pan run: stored states and pan's own elapsed time (as ../shared/spin/run.sh reads it). */
function runPan(dir: string): { states: number; seconds: number } {
  const out = execFileSync('./pan', ['-m1000000'], { cwd: dir, encoding: 'utf8' });
  const states = Number(/^\s*([\d.e+]+) states, stored/m.exec(out)?.[1]);
  const seconds = Number(/^pan: elapsed time ([\d.e+-]+) seconds/m.exec(out)?.[1]);
  if (!(states > 0 && seconds > 0)) throw new Error(`bench: cannot read pan's output:\n${out}`);
  return { states, seconds };
}

export function benchExplorer(): ExplorerBench {
  const pan = buildPan();
  const full: Run[] = [];
  const prints: Run[] = [];
  const spin: number[] = [];
  const ratios: number[] = [];
  const machine: MachineRep[] = [];
  const machineToSpin: number[] = [];
  let spinStates: number | null = null;
  try {
    for (let rep = 0; rep < REPS; rep++) {
      const f = run('full');
      full.push(f);
      prints.push(run('fingerprint'));
      const m = runMachineRep();
      machine.push(m);
      if (typeof pan !== 'string') {
        const s = runPan(pan.dir);
        spinStates = s.states;
        spin.push(s.states / s.seconds);
        ratios.push(f.states / f.seconds / (s.states / s.seconds));
        machineToSpin.push(machineRate(m.full) / (s.states / s.seconds));
      }
    }
  } finally {
    if (typeof pan !== 'string') rmSync(pan.dir, { recursive: true, force: true });
  }
  const { states, transitions } = full[0];
  if (spinStates !== null && spinStates !== states) {
    throw new Error(`bench: SPIN stored ${spinStates} states, the explorer ${states}`);
  }
  const rate = (runs: Run[]) => Math.round(median(runs.map((x) => x.states / x.seconds)));
  const perState = (runs: Run[], bytes: (x: Run) => number) =>
    round1(median(runs.map((x) => bytes(x) / x.states)));
  return {
    label: `msix_affinity NV=${NV},R=${R} masked, no POR, DFS, full states (median of ${REPS} processes)`,
    spinMissing: typeof pan === 'string' ? pan : null,
    json: {
      model: `msix_affinity.pml NV=${NV} R=${R} MASKED=1`,
      states,
      transitions,
      statesPerSecond: rate(full),
      bytesPerState: perState(full, (x) => x.heapBytes),
      searchBytesPerState: perState(full, (x) => x.searchBytes),
      gcExposed: full[0].gc,
      fingerprint: {
        statesPerSecond: rate(prints),
        bytesPerState: perState(prints, (x) => x.heapBytes),
      },
      spinStatesPerSecond: spin.length > 0 ? Math.round(median(spin)) : null,
      spinStates,
      ratioToSpin: ratios.length > 0 ? Math.round(median(ratios) * 100) / 100 : null,
      reps: REPS,
      machine: machineJson(machine, full, machineToSpin),
    },
  };
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;

function machineJson(reps: MachineRep[], full: Run[], toSpin: number[]): MachineBenchJson {
  const first = reps[0].full;
  return {
    scenarios: [...MACHINE_SCENARIOS],
    searches: first.reduce((n, r) => n + r.searches, 0),
    states: first.reduce((n, r) => n + r.states, 0),
    statesPerSecond: Math.round(median(reps.map((r) => machineRate(r.full)))),
    bytesPerState: round1(median(reps.map((r) => machineBytesPerState(r.full)))),
    heapBytesPerState: round1(
      median(reps.map((r) => Math.max(...r.full.map((x) => x.heapBytes / x.heapStates)))),
    ),
    fingerprint: {
      statesPerSecond: Math.round(median(reps.map((r) => machineRate(r.fingerprint)))),
      bytesPerState: round1(median(reps.map((r) => machineBytesPerState(r.fingerprint)))),
    },
    ratioToTranscription: round3(
      median(reps.map((r, i) => machineRate(r.full) / (full[i].states / full[i].seconds))),
    ),
    ratioToSpin: toSpin.length > 0 ? round3(median(toSpin)) : null,
  };
}
