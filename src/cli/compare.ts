// `irqlab compare <scenario> [--strategies a,b,...] [--json]`: the scenario under each strategy,
// side by side (run by `scenario/run-strategy.ts`, rendered by `report/compare-text.ts`); a
// strategy the scenario's rules reject is a column with its rule, not a failure of the command.

import type { Command } from 'commander';
import { InputError } from '../hw/errors.js';
import { renderCompareText } from '../report/compare-text.js';
import { compareScenario } from '../scenario/run-strategy.js';
import { STRATEGIES, type Strategy } from '../scenario/schema.js';
import type { CliIo } from './io.js';
import { readScenarioText } from './run.js';

export function parseStrategies(value: string | undefined): Strategy[] {
  if (value === undefined) return [...STRATEGIES];
  const names = value.split(',').map((s) => s.trim());
  for (const n of names) {
    if (!(STRATEGIES as readonly string[]).includes(n)) {
      throw new InputError('--strategies', `"${n}" is not one of ${STRATEGIES.join(', ')}`);
    }
  }
  return names as Strategy[];
}

export function compareScenarioFile(
  io: CliIo,
  file: string,
  opts: { strategies?: string; json?: boolean } = {},
): void {
  const result = compareScenario(
    readScenarioText(io, file),
    file,
    parseStrategies(opts.strategies),
  );
  io.out(opts.json ? `${JSON.stringify(result, null, 2)}\n` : renderCompareText(result));
}

export function registerCompare(program: Command, io: CliIo): void {
  program
    .command('compare <scenario>')
    .description('run a scenario under each strategy and compare exits, latency and resources')
    .option('--strategies <list>', `comma-separated subset of ${STRATEGIES.join(',')}`)
    .option('--json', 'print JSON for scripts')
    .addHelpText(
      'after',
      '\nExamples:\n  irqlab compare scenarios/idxd-siov.yaml\n' +
        '  irqlab compare scenarios/mlx5-vf.yaml --strategies emulate,pv --json',
    )
    .action((file: string, opts: { strategies?: string; json?: boolean }) => {
      compareScenarioFile(io, file, opts);
    });
}
