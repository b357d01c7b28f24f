// Replay: a run's applied actions, written as a schedule file (`--record-schedule`), read back and
// replayed (`--schedule`) end in the same state words, the same ghost counters, the same result
// and the same ftrace text, for every shipped scenario, seed and strategy the scenario allows; and
// recording the replay gives the same schedule again. The expectation is the run itself (the
// replay shares no code with the engine's choosing of actions), not a stored output.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RuleError } from '../../src/hw/errors.js';
import { vectorOutcomes } from '../../src/machine/system.js';
import type { SystemAction } from '../../src/machine/system-actions.js';
import { ftraceWriter } from '../../src/report/trace-ftrace.js';
import { buildScenario, runWorkload } from '../../src/scenario/build.js';
import { loadScenario } from '../../src/scenario/load.js';
import { loadSchedule, SCHEDULE_FILE, scheduleStepFormatter } from '../../src/scenario/schedule.js';
import { STRATEGIES } from '../../src/scenario/schema.js';
import { resolveCosts } from '../../src/sim/cost-model.js';
import {
  replaySystem,
  type SimInput,
  type SimResult,
  simulateSystem,
} from '../../src/sim/system-sim.js';
import { streamingTraceRecorder } from '../../src/sim/trace-recorder.js';

const DIR = fileURLToPath(new URL('../../scenarios/', import.meta.url));
const SHIPPED = [
  ...readdirSync(DIR).filter((f) => f.endsWith('.yaml')),
  ...readdirSync(`${DIR}conformance`).map((f) => `conformance/${f}`),
];
/** Long enough for every source to raise many times, short enough for many runs. */
const DURATION_NS = 1_500_000;

/** Runs `go` with an ftrace writer and a schedule recorder; returns the text of both. */
function traced(
  input: SimInput,
  go: (opts: Parameters<typeof simulateSystem>[1]) => SimResult,
  scenario: ReturnType<typeof loadScenario>,
) {
  const t = input.initial.topology;
  let ftrace = '';
  const writer = ftraceWriter(t, (c) => {
    ftrace += c;
  });
  const format = scheduleStepFormatter(t);
  const lines: string[] = [];
  const result = go({
    durationNs: Math.min(DURATION_NS, scenario.run.duration),
    seed: scenario.run.seed,
    costs: resolveCosts(scenario.run.costs, { nested: scenario.host.nested }),
    trace: streamingTraceRecorder(
      (r) => writer.write(r),
      () => writer.end(),
    ),
    onStep: (a: SystemAction, atNs: number) => lines.push(format(a, atNs)),
  });
  const schedule = SCHEDULE_FILE.open + lines.join(SCHEDULE_FILE.separator) + SCHEDULE_FILE.close;
  return { result, ftrace, schedule, steps: lines.length };
}

/** What a replay must reproduce: everything but the count of queue entries the run popped and
 *  found no longer enabled (a replay applies only what was applied) and the step count (a run
 *  also counts the ticks of a rate source whose store is gone, which apply nothing). */
const comparable = (r: SimResult) => ({
  ...r,
  steps: 0,
  counts: { ...r.counts, staleActions: 0 },
  finalState: null,
});

function recordAndReplay(file: string, seed: number, strategy: (typeof STRATEGIES)[number]) {
  const text = readFileSync(DIR + file, 'utf8');
  let scenario: ReturnType<typeof loadScenario>;
  try {
    scenario = loadScenario(text, file, { seed, strategy });
  } catch (e) {
    if (e instanceof RuleError) return false; // a strategy this scenario's rules reject
    throw e;
  }
  const built = buildScenario(scenario);
  const input = runWorkload(built);
  const run = traced(input, (o) => simulateSystem(input, o), scenario);
  const steps = loadSchedule(run.schedule, 'run.sched.json', input.initial.topology);
  expect(steps.length).toBe(run.steps);
  const replay = traced(input, (o) => replaySystem(input, steps, o), scenario);
  const t = input.initial.topology;
  expect(replay.result.finalState.words).toEqual(run.result.finalState.words);
  for (let v = 0; v < t.vectors.length; v++) {
    expect(vectorOutcomes(replay.result.finalState, v)).toEqual(
      vectorOutcomes(run.result.finalState, v),
    );
  }
  expect(comparable(replay.result)).toEqual(comparable(run.result));
  expect(replay.ftrace).toBe(run.ftrace);
  expect(replay.schedule).toBe(run.schedule);
  return true;
}

describe('a recorded run replays to the same state, counters and trace', () => {
  it.each(SHIPPED)('%s, its own seed and strategy', (file) => {
    const scenario = loadScenario(readFileSync(DIR + file, 'utf8'), file);
    expect(recordAndReplay(file, scenario.run.seed, scenario.run.strategies[0])).toBe(true);
  });
  it('any shipped scenario, seed and strategy', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...SHIPPED),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.constantFrom(...STRATEGIES),
        (file, seed, strategy) => {
          recordAndReplay(file, seed, strategy);
        },
      ),
      { numRuns: 12, seed: 20261204 },
    );
  });
});
