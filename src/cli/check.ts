// `irqlab check <scenario> [--strategies a,b] [--property P] [--bfs] [--no-por] [--max-states N]
// [--store full|fingerprint] [--json] [--trace FILE [--format F]]`: the explorer over every
// interleaving the scenario's `check:` section allows, per strategy and property
// (`scenario/run-check.ts`), as a table (`report/check-text.ts`) or JSON. Exit 0 when every
// property holds, 1 when one is violated or a search stopped at a bound (incomplete is never
// "holds"), 2 on bad usage or input. --trace replays the first counterexample through the
// simulator (`replaySystem`) into a Perfetto or ftrace-style trace, as `irqlab run --trace`.

import type { Command } from 'commander';
import { MACHINE_PROPERTY_NAMES, type MachinePropertyName } from '../check/machine-properties.js';
import { ttyProgress } from '../check/progress.js';
import type { StoreKind } from '../check/visited-set.js';
import { InputError } from '../hw/errors.js';
import { renderCheckText } from '../report/check-text.js';
import { type CheckReplay, checkScenario } from '../scenario/run-check.js';
import { CHECK_STATES_MAX } from '../scenario/schema.js';
import { resolveCosts } from '../sim/cost-model.js';
import { replaySystem } from '../sim/system-sim.js';
import { parseStrategies } from './compare.js';
import type { CliIo } from './io.js';
import { openTrace, parseFormat, readScenarioText, type TraceFormat } from './run.js';

export interface CheckCliOptions {
  strategies?: string;
  property?: string;
  bfs?: boolean;
  por?: boolean;
  maxStates?: string;
  store?: string;
  json?: boolean;
  trace?: string;
  format?: string;
}

const STORES: readonly StoreKind[] = ['full', 'fingerprint'];

function parseProperty(value: string | undefined): MachinePropertyName | undefined {
  if (value === undefined) return undefined;
  if (!(MACHINE_PROPERTY_NAMES as readonly string[]).includes(value)) {
    throw new InputError(
      '--property',
      `"${value}" is not one of ${MACHINE_PROPERTY_NAMES.join(', ')}`,
    );
  }
  return value as MachinePropertyName;
}

function parseMaxStates(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || n < 1 || n > CHECK_STATES_MAX) {
    throw new InputError('--max-states', `"${value}" is not an integer 1..${CHECK_STATES_MAX}`);
  }
  return n;
}

function parseStore(value: string | undefined): StoreKind | undefined {
  if (value === undefined) return undefined;
  if (!(STORES as readonly string[]).includes(value)) {
    throw new InputError('--store', `"${value}" is not one of ${STORES.join(', ')}`);
  }
  return value as StoreKind;
}

export function checkScenarioFile(io: CliIo, file: string, opts: CheckCliOptions = {}): void {
  const format = opts.trace === undefined && opts.format === undefined ? null : parseFormat(opts);
  const options = {
    strategies: parseStrategies(opts.strategies),
    property: parseProperty(opts.property),
    search: opts.bfs ? ('bfs' as const) : ('dfs' as const),
    por: opts.por !== false,
    maxStates: parseMaxStates(opts.maxStates),
    store: parseStore(opts.store),
  };
  const progress = ttyProgress();
  let checked: ReturnType<typeof checkScenario>;
  try {
    checked = checkScenario(readScenarioText(io, file), file, {
      ...options,
      onProgress: progress.onProgress,
    });
  } finally {
    progress.done();
  }
  const { result, replays } = checked;
  io.out(opts.json ? `${JSON.stringify(result, null, 2)}\n` : renderCheckText(result));
  if (opts.trace !== undefined && format !== null) writeReplay(io, opts.trace, format, replays[0]);
  if (result.verdict !== 'holds') io.setExitCode(1);
}

/** Replays a counterexample through the simulator with a trace writer on it. */
function writeReplay(
  io: CliIo,
  path: string,
  format: TraceFormat,
  replay: CheckReplay | undefined,
) {
  if (replay === undefined) {
    io.err('irqlab: --trace: no counterexample to replay, no trace written\n');
    return;
  }
  const s = replay.scenario;
  const trace = openTrace(path, format, replay.input.initial.topology);
  try {
    replaySystem(
      replay.input,
      replay.actions.map((a, i) => ({ ...a, atNs: null, where: `counterexample step ${i + 1}` })),
      {
        durationNs: s.run.duration,
        seed: s.run.seed,
        costs: resolveCosts(s.run.costs, { nested: s.host.nested }),
        trace: trace.recorder,
      },
    );
  } finally {
    trace.close();
  }
  io.err(`irqlab: --trace: ${replay.property} under ${replay.strategy} replayed into ${path}\n`);
}

export function registerCheck(program: Command, io: CliIo): void {
  program
    .command('check <scenario>')
    .description('explore every interleaving of a check scenario and check its properties')
    .option('--strategies <list>', 'comma-separated strategies (default: all)')
    .option('--property <name>', `only this property (${MACHINE_PROPERTY_NAMES.join(', ')})`)
    .option('--bfs', 'breadth-first: the shortest counterexample')
    .option('--no-por', 'no partial-order reduction')
    .option('--max-states <n>', 'states one search may store (overrides check.maxStates)')
    .option('--store <kind>', 'visited set: full (exact, default) | fingerprint (hash compaction)')
    .option('--json', 'print JSON for scripts')
    .option('--trace <file>', "replay the first counterexample into a trace (run's formats)")
    .option('--format <format>', 'trace format: perfetto | ftrace (default perfetto)')
    .addHelpText(
      'after',
      '\nExit: 0 every property holds, 1 one is violated or a search is incomplete, 2 bad input.\n' +
        'Examples:\n  irqlab check scenarios/check/pi-migration.yaml\n' +
        '  irqlab check scenarios/check/msi-affinity-onestep.yaml --strategies emulate --bfs\n' +
        '  irqlab check scenarios/check/pi-migration.yaml --json --max-states 1000',
    )
    .action((file: string, opts: CheckCliOptions) => {
      checkScenarioFile(io, file, opts);
    });
}
