// `irqlab run <scenario>`: load and validate the scenario, build the whole-system model, simulate
// it and print the summary (text, or one JSON object with --json). --trace writes a Perfetto
// trace-event JSON file or trace-cmd-style text (--format), streamed while the run goes.
// --schedule replays a schedule file (`scenario/schedule.ts`) instead of simulating: its actions
// in order, every step checked enabled before anything is written; --record-schedule writes the
// actions a run (or a replay) applied, as a schedule file that replays it. Exit 1 when a checked
// property fails (an interrupt duplicated or lost), 2 on bad usage or input.
// A progress bar goes to stderr for runs longer than about a second, only when it is a terminal;
// --max-events stops the simulation after that many events, saying so on stderr.

import { closeSync, openSync, writeSync } from 'node:fs';
import type { Command } from 'commander';
import { InputError } from '../hw/errors.js';
import { conservationBreak, systemProperties, unaccountedRaises } from '../machine/system.js';
import { ACTION_NAMES, type SystemAction } from '../machine/system-actions.js';
import type { SystemTopology } from '../machine/system-topology.js';
import { runSummaryJson, runSummaryText } from '../report/summary.js';
import { ftraceWriter } from '../report/trace-ftrace.js';
import { perfettoTraceWriter } from '../report/trace-perfetto.js';
import { bufferedSink, type TraceWriter } from '../report/trace-writer.js';
import { buildScenario, runWorkload } from '../scenario/build.js';
import { type ScenarioOverrides, withScenario } from '../scenario/load.js';
import { loadSchedule, SCHEDULE_FILE, scheduleStepFormatter } from '../scenario/schedule.js';
import { type Scenario, SEED_MAX, STRATEGIES, type Strategy } from '../scenario/schema.js';
import { formatNs } from '../scenario/units.js';
import { COST_PARAMETERS, resolveCosts } from '../sim/cost-model.js';
import {
  checkSchedule,
  replaySystem,
  type SimInput,
  type SimOptions,
  simulateSystem,
} from '../sim/system-sim.js';
import { streamingTraceRecorder, type TraceRecorder } from '../sim/trace-recorder.js';
import type { CliIo } from './io.js';

export const TRACE_FORMATS = ['perfetto', 'ftrace'] as const;
export type TraceFormat = (typeof TRACE_FORMATS)[number];
/** Runs shorter than this (wall clock) never show a progress bar. */
const PROGRESS_AFTER_MS = 1000;
const PROGRESS_WIDTH = 30;

export interface RunOptions {
  strategy?: string;
  seed?: string;
  json?: boolean;
  trace?: string;
  format?: string;
  schedule?: string;
  recordSchedule?: string;
  maxEvents?: string;
}

export function registerRun(program: Command, io: CliIo): void {
  program
    .command('run')
    .description('simulate a scenario and print what it cost: interrupts, latency, VM exits')
    .argument('<scenario>', 'scenario file (YAML; see `irqlab schema`)')
    .option('--strategy <name>', `interrupt setup strategy for every VM (${STRATEGIES.join(', ')})`)
    .option('--seed <n>', 'PRNG seed (overrides run.seed), 0..4294967295')
    .option('--json', 'print the summary as one JSON object')
    .option('--trace <file>', 'write a trace of the run to this file')
    .option('--format <format>', `trace format: ${TRACE_FORMATS.join(' | ')} (default perfetto)`)
    .option('--schedule <file>', 'replay this schedule (JSON or YAML) instead of simulating')
    .option('--record-schedule <file>', 'write the actions applied, in order, as a schedule')
    .option(
      '--max-events <n>',
      'stop the simulation after n events (the summary covers up to there)',
    )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  irqlab run scenarios/idxd-siov.yaml\n' +
        '  irqlab run scenarios/mlx5-vf.yaml --seed 7 --json\n' +
        '  irqlab run scenarios/mixed.yaml --trace run.json            # open in ui.perfetto.dev\n' +
        '  irqlab run scenarios/mixed.yaml --trace run.txt --format ftrace\n' +
        '  irqlab run scenarios/mlx5-vf.yaml --record-schedule run.sched.json\n' +
        '  irqlab run scenarios/mlx5-vf.yaml --schedule run.sched.json --trace replay.json\n' +
        '  irqlab run scenarios/idxd-siov.yaml --max-events 10000\n\n' +
        'Schedule files (--schedule, --record-schedule): the actions to apply, in order:\n' +
        '  {"steps": [{"at": 1250, "action": "raise", "a": "cx0-vf0/msix", "b": 2}, ...]}\n' +
        `  action: ${ACTION_NAMES.join(', ')};\n` +
        '  a, b: its operands, a number or a name (store cx0-vf0/msix, port cx0-vf0, vCPU\n' +
        '  vm0/vcpu1, vector vm0/cx0-vf0/2, cpuN), unused ones left out; at: ns or "1.5us", on\n' +
        '  every step (a recorded run replays with its times) or on none (each step timed by\n' +
        '  the cost model). A step not enabled in the state the steps before it leave is an\n' +
        '  error (exit 2), found before anything is written.\n\n' +
        `Cost parameters (override in run.costs): ${COST_PARAMETERS.map((p) => p.name).join(', ')}`,
    )
    .action((file: string, opts: RunOptions) => {
      runScenarioFile(io, file, opts);
    });
}

/** Reads a scenario file for any command. */
export const readScenarioText = (io: CliIo, file: string): string =>
  new TextDecoder('utf-8', { fatal: false }).decode(io.readFile(file));

/** Reads, validates and uses a scenario file (`scenario/load.ts withScenario`): every command
 *  and view takes this one path, so every rejection is located. */
export function useScenarioFile<T>(
  io: CliIo,
  file: string,
  overrides: ScenarioOverrides,
  use: (s: Scenario) => T,
): T {
  return withScenario(readScenarioText(io, file), file, overrides, use);
}

/** `irqlab run <file> [opts]`: also what `irqlab demo` runs on the default scenario. */
export function runScenarioFile(io: CliIo, file: string, opts: RunOptions = {}): void {
  const overrides = { strategy: parseStrategy(opts.strategy), seed: parseSeed(opts.seed) };
  const format = parseFormat(opts);
  const maxSteps = parseMaxEvents(opts.maxEvents);
  useScenarioFile(io, file, overrides, (scenario) => {
    runScenario(io, file, scenario, { ...opts, format, maxSteps });
  });
}

function runScenario(
  io: CliIo,
  file: string,
  scenario: Scenario,
  opts: RunOptions & { format: TraceFormat; maxSteps: number | undefined },
): void {
  const { format, maxSteps } = opts;
  const built = buildScenario(scenario);
  const costs = resolveCosts(scenario.run.costs, { nested: scenario.host.nested });
  const schedule = opts.schedule
    ? loadScheduleFile(io, opts.schedule, built.initial.topology)
    : null;
  const input = runWorkload(built);
  if (schedule) checkSchedule(input.initial, schedule);
  const trace = opts.trace ? openTrace(opts.trace, format, built.initial.topology) : null;
  const record = opts.recordSchedule
    ? openScheduleRecord(opts.recordSchedule, built.initial.topology)
    : null;
  const progress = progressBar(io, scenario.run.duration);
  let result: ReturnType<typeof simulateSystem>;
  const runOpts: SimOptions = {
    durationNs: scenario.run.duration,
    seed: scenario.run.seed,
    costs,
    trace: null,
    ...(maxSteps === undefined ? {} : { maxSteps }),
  };
  try {
    const simOpts: SimOptions = {
      ...runOpts,
      trace: trace?.recorder ?? null,
      progress: progress.update,
      ...(record ? { onStep: record.step } : {}),
    };
    result = schedule ? replaySystem(input, schedule, simOpts) : simulateSystem(input, simOpts);
  } finally {
    trace?.close();
    record?.close();
    progress.done();
  }
  if (result.stoppedEarly) {
    io.err(
      `irqlab: --max-events ${maxSteps}: stopped at ${formatNs(result.durationNs)} of ${formatNs(scenario.run.duration)} simulated; the summary covers that much\n`,
    );
  }
  const failed = systemProperties.filter((p) => !p.holds(result.finalState)).map((p) => p.name);
  // Conservation is checked once everything still in flight at the end has landed.
  const unaccounted = unaccountedRaises(result.finalState);
  if (unaccounted.length > 0) {
    const counts = unaccounted.map(
      (u) => `${u.vector}: raised ${u.raised}, accounted ${u.accounted}`,
    );
    const broke = conservationBreak(input.initial, schedule ?? stepsOfRun(input, runOpts));
    const at = broke === null ? '' : `; broken by step ${broke.index + 1}: ${broke.step}`;
    failed.push(`conservation (${counts.join('; ')}${at})`);
  }
  const ctx = {
    file,
    scenarioName: scenarioName(scenario, file),
    strategies: built.strategies,
    costs: costs.parameters,
    failedProperties: failed,
  };
  io.out(
    opts.json
      ? `${JSON.stringify(runSummaryJson(result, ctx), null, 2)}\n`
      : runSummaryText(result, ctx),
  );
  if (failed.length > 0) io.setExitCode(1);
}

/** The actions a run applied, in order: the same run again (the engine is deterministic for a
 *  seed), recording them. */
function stepsOfRun(input: SimInput, opts: SimOptions): SystemAction[] {
  const steps: SystemAction[] = [];
  simulateSystem(input, { ...opts, onStep: (a) => steps.push({ kind: a.kind, a: a.a, b: a.b }) });
  return steps;
}

export const scenarioName = (s: Scenario, file: string): string =>
  s.name ?? file.replace(/^.*\//, '').replace(/\.ya?ml$/, '');

function parseStrategy(value: string | undefined): Strategy | undefined {
  if (value === undefined) return undefined;
  if (!(STRATEGIES as readonly string[]).includes(value)) {
    throw new InputError('--strategy', `"${value}" is not one of ${STRATEGIES.join(', ')}`);
  }
  return value as Strategy;
}

function parseSeed(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || n > SEED_MAX) {
    throw new InputError('--seed', `"${value}" is not an integer 0..${SEED_MAX}`);
  }
  return n;
}

function parseMaxEvents(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[0-9]+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new InputError('--max-events', `"${value}" is not a positive integer`);
  }
  return Number(value);
}

export function parseFormat(opts: { format?: string; trace?: string }): TraceFormat {
  if (opts.format !== undefined && opts.trace === undefined) {
    throw new InputError('--format', 'needs --trace <file>');
  }
  const format = opts.format ?? 'perfetto';
  if (!(TRACE_FORMATS as readonly string[]).includes(format)) {
    throw new InputError('--format', `"${format}" is not one of ${TRACE_FORMATS.join(', ')}`);
  }
  return format as TraceFormat;
}

export function openTrace(
  path: string,
  format: TraceFormat,
  topology: Parameters<typeof perfettoTraceWriter>[0],
): { recorder: TraceRecorder; close(): void } {
  const fd = openOutput(path, 'trace');
  const sink = (chunk: string) => {
    writeSync(fd, chunk);
  };
  const writer: TraceWriter =
    format === 'perfetto' ? perfettoTraceWriter(topology, sink) : ftraceWriter(topology, sink);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    writer.end();
    closeSync(fd);
  };
  return { recorder: streamingTraceRecorder((r) => writer.write(r), close), close };
}

function loadScheduleFile(io: CliIo, path: string, topology: SystemTopology) {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(io.readFile(path));
  return loadSchedule(text, path, topology);
}

/** The schedule file `--record-schedule` writes, one step per line as the run applies it. */
function openScheduleRecord(path: string, topology: SystemTopology) {
  const fd = openOutput(path, 'schedule');
  const out = bufferedSink((chunk) => {
    writeSync(fd, chunk);
  });
  const format = scheduleStepFormatter(topology);
  let first = true;
  let closed = false;
  out.put(SCHEDULE_FILE.open);
  return {
    step(a: SystemAction, atNs: number) {
      if (!first) out.put(SCHEDULE_FILE.separator);
      first = false;
      out.put(format(a, atNs));
    },
    close() {
      if (closed) return;
      closed = true;
      out.put(SCHEDULE_FILE.close);
      out.flush();
      closeSync(fd);
    },
  };
}

function openOutput(path: string, what: string): number {
  try {
    return openSync(path, 'w');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new InputError(path, `cannot write ${what} file (${reason})`);
  }
}

/** A bar on stderr, drawn only on a terminal and only once the run has taken a second. */
function progressBar(io: CliIo, totalNs: number) {
  const start = performance.now();
  let drawn = false;
  return {
    update(nowNs: number) {
      if (!io.isTty || performance.now() - start < PROGRESS_AFTER_MS) return;
      const fraction = Math.min(1, nowNs / totalNs);
      const filled = Math.round(fraction * PROGRESS_WIDTH);
      io.err(
        `\r[${'#'.repeat(filled)}${'.'.repeat(PROGRESS_WIDTH - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% simulated`,
      );
      drawn = true;
    },
    done() {
      if (drawn) io.err(`\r${' '.repeat(PROGRESS_WIDTH + 16)}\r`);
    },
  };
}
