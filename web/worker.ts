// The model worker: runs the scenario with the very code the CLI runs, so the page stays
// responsive during a long run. `compare` is `irqlab compare` (scenario/run-strategy.ts), one
// strategy at a time so the page can show progress; `trace` is `irqlab run --strategy S
// --trace` (the Perfetto writer of report/trace-perfetto.ts); `kernels` is `irqlab show
// --what hierarchy|interrupts|msix|irte --kernel K` (report/hierarchy-show.ts); `backing` is
// `irqlab show --what irte --at <run.duration>` (report/system-registers.ts: which assigned
// vector owns each host IRTE); `check` is `irqlab check --bfs --json` (scenario/run-check.ts),
// one strategy at a time so the page can show progress. Cancelling is the page terminating this worker.

import { InputError, RuleError } from '../src/hw/errors.js';
import { renderKernelView, scenarioKernels } from '../src/report/hierarchy-show.js';
import { systemRegistersJson } from '../src/report/system-registers.js';
import { perfettoTraceWriter } from '../src/report/trace-perfetto.js';
import { buildScenario, runWorkload } from '../src/scenario/build.js';
import { ScenarioError } from '../src/scenario/errors.js';
import { loadScenario } from '../src/scenario/load.js';
import {
  type CheckScenarioResult,
  checkScenario,
  overallVerdict,
} from '../src/scenario/run-check.js';
import { type CompareResult, compareScenario } from '../src/scenario/run-strategy.js';
import { STRATEGIES, type Strategy } from '../src/scenario/schema.js';
import { formatNs } from '../src/scenario/units.js';
import { resolveCosts } from '../src/sim/cost-model.js';
import { simulateSystem } from '../src/sim/system-sim.js';
import { streamingTraceRecorder } from '../src/sim/trace-recorder.js';
import type {
  BackingIrt,
  KernelViews,
  TraceResult,
  WorkReply,
  WorkRequest,
  WorkResult,
} from './protocol.js';

const scope = self as unknown as {
  postMessage(m: WorkReply): void;
  onmessage: ((e: MessageEvent<WorkRequest>) => void) | null;
};

type Progress = (done: number, total: number, label: string) => void;

function compare(
  text: string,
  file: string,
  strategies: readonly Strategy[],
  progress: Progress,
): CompareResult {
  const columns: CompareResult['strategies'] = {};
  let scenario = '';
  strategies.forEach((s, i) => {
    progress(i, strategies.length, s);
    const one = compareScenario(text, file, [s]);
    scenario = one.scenario;
    Object.assign(columns, one.strategies);
  });
  return { scenario, strategies: columns };
}

function trace(text: string, file: string, strategy: Strategy, progress: Progress): TraceResult {
  const scenario = loadScenario(text, file, { strategy });
  const built = buildScenario(scenario);
  const costs = resolveCosts(scenario.run.costs, { nested: scenario.host.nested });
  const input = runWorkload(built);
  const chunks: string[] = [];
  const writer = perfettoTraceWriter(built.initial.topology, (c) => chunks.push(c));
  const duration = scenario.run.duration;
  simulateSystem(input, {
    durationNs: duration,
    seed: scenario.run.seed,
    costs,
    trace: streamingTraceRecorder(
      (r) => writer.write(r),
      () => writer.end(),
    ),
    progress: (now) => progress(now, duration, strategy),
  });
  return { strategy, perfetto: chunks.join('') };
}

const parseJson = <T>(out: string): T => JSON.parse(out) as T;

function kernels(text: string, file: string, progress: Progress): KernelViews[] {
  // The CLI's one loading path (`irqlab show`: loadScenario, then the views on it).
  const scenario = loadScenario(text, file);
  const names = scenarioKernels(scenario).map((k) => k.name);
  return names.map((kernel, i) => {
    progress(i, names.length, kernel);
    const view = (what: 'hierarchy' | 'interrupts' | 'msix' | 'irte', json: boolean) =>
      renderKernelView(scenario, what, json ? { kernel, json } : { kernel, format: 'dot' });
    const dot = view('hierarchy', false);
    return {
      name: kernel,
      dot: dot.out,
      domains: parseJson(view('hierarchy', true).out),
      irqs: parseJson(view('interrupts', true).out),
      msix: parseJson(view('msix', true).out),
      irte: parseJson(view('irte', true).out),
      warnings: dot.warnings,
    };
  });
}

/** The run under the scenario's own strategies, as `show --at` runs it, to its end. */
function backing(text: string, file: string, progress: Progress): BackingIrt {
  const scenario = loadScenario(text, file);
  const duration = scenario.run.duration;
  const result = simulateSystem(runWorkload(buildScenario(scenario)), {
    durationNs: duration,
    seed: scenario.run.seed,
    costs: resolveCosts(scenario.run.costs, { nested: scenario.host.nested }),
    trace: null,
    progress: (now) => progress(now, duration, 'host IRT'),
  });
  const irt = systemRegistersJson('irte', result.finalState) as Omit<BackingIrt, 'at'>;
  return { at: formatNs(duration), ...irt };
}

/** `irqlab check --bfs` (so each counterexample is a shortest one), strategy by strategy: the
 *  same entries in the same order, and the overall verdict computed as the CLI computes it. */
function check(text: string, file: string, progress: Progress): CheckScenarioResult {
  const strategies: CheckScenarioResult['strategies'] = {};
  let scenario = '';
  STRATEGIES.forEach((s, i) => {
    progress(i, STRATEGIES.length, s);
    const { result } = checkScenario(text, file, {
      strategies: [s],
      search: 'bfs',
      por: true,
      onProgress: (p) => progress(i, STRATEGIES.length, `${s}: ${p.states} states`),
    });
    scenario = result.scenario;
    Object.assign(strategies, result.strategies);
  });
  return { scenario, verdict: overallVerdict(strategies), strategies };
}

function handle(req: WorkRequest, progress: Progress): WorkResult {
  switch (req.kind) {
    case 'compare':
      return { kind: 'compare', data: compare(req.text, req.file, req.strategies, progress) };
    case 'trace':
      return { kind: 'trace', data: trace(req.text, req.file, req.strategy, progress) };
    case 'kernels':
      return { kind: 'kernels', data: kernels(req.text, req.file, progress) };
    case 'backing':
      return { kind: 'backing', data: backing(req.text, req.file, progress) };
    case 'check':
      return { kind: 'check', data: check(req.text, req.file, progress) };
  }
}

scope.onmessage = (e) => {
  const req = e.data;
  const progress: Progress = (done, total, label) =>
    scope.postMessage({ id: req.id, kind: 'progress', done, total, label });
  try {
    scope.postMessage({ id: req.id, kind: 'result', result: handle(req, progress) });
  } catch (error) {
    // Bad input is reported as the CLI reports it; anything else is an irqlab bug, shown as such.
    const message =
      error instanceof RuleError || error instanceof InputError
        ? error.message
        : `internal error (a bug in irqlab): ${error instanceof Error ? error.message : String(error)}`;
    const issues = error instanceof ScenarioError ? error.issues : [];
    scope.postMessage({ id: req.id, kind: 'error', message, issues });
  }
};
