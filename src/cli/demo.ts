// `irqlab demo`: the main job on the default input, for `npm run demo`: the fixture tour (real
// config spaces decoded, one real interrupt followed through VT-d), then the run summary of the
// default scenario, scenarios/idxd-siov.yaml, and its comparison across the five strategies;
// since it backs guest MSI-X with host IMS, which only the trapping strategies can carry, also
// the comparison where all five run (scenarios/mlx5-vf-viommu.yaml); last, what the explorer
// proves: the verdicts of Linux's two-step MSI move and of its one-step mutant, every strategy,
// from the real searches (scenarios/check/msi-affinity-linux.yaml, msi-affinity-onestep.yaml).

import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { InputError } from '../hw/errors.js';
import { renderVerdictPair } from '../report/check-verdicts.js';
import { checkScenario } from '../scenario/run-check.js';
import { compareScenarioFile } from './compare.js';
import { fixtureTour } from './demo-fixtures.js';
import type { CliIo } from './io.js';
import { readScenarioText, runScenarioFile } from './run.js';

export const DEFAULT_SCENARIO = 'idxd-siov.yaml';
/** The shipped scenario on which every strategy runs (same type on both sides, vIOMMUs). */
export const ALL_STRATEGIES_SCENARIO = 'mlx5-vf-viommu.yaml';
/** The check scenario of a procedure and of its one-step mutant (`check.mutate`). */
export const CHECK_PAIR = ['check/msi-affinity-linux.yaml', 'check/msi-affinity-onestep.yaml'];

/** A shipped scenario, from dist/src/cli (the built command) or src/cli (tests), relative to the
 *  working directory as the commands print it. */
function shippedScenario(name: string): string {
  for (const up of ['../../../scenarios/', '../../scenarios/']) {
    const path = fileURLToPath(new URL(up + name, import.meta.url));
    if (existsSync(path)) return relative(process.cwd(), path);
  }
  throw new InputError(name, 'the shipped scenarios folder was not found');
}

export function registerDemo(program: Command, io: CliIo): void {
  program
    .command('demo')
    .description('decode the recorded fixtures, then simulate the default scenario')
    .addHelpText('after', '\nExample:\n  npm run demo')
    .action(() => {
      io.out(fixtureTour());
      io.out(`\n== irqlab run scenarios/${DEFAULT_SCENARIO}\n\n`);
      const file = shippedScenario(DEFAULT_SCENARIO);
      runScenarioFile(io, file);
      io.out(`\n== irqlab compare scenarios/${DEFAULT_SCENARIO}\n\n`);
      compareScenarioFile(io, file);
      io.out(
        `\n== irqlab compare scenarios/${ALL_STRATEGIES_SCENARIO}` +
          ' (all five run: same type on both sides, a vIOMMU in each guest)\n\n',
      );
      compareScenarioFile(io, shippedScenario(ALL_STRATEGIES_SCENARIO));
      io.out(
        '\nA hostile guest beside a victim that shares its requester ID:\n' +
          '  npx irqlab compare scenarios/hostile-siov.yaml\n',
      );
      io.out(
        `\n== irqlab check scenarios/${CHECK_PAIR[0]} and its one-step mutant` +
          ` scenarios/${CHECK_PAIR[1]} (every interleaving of the move and the raises each file's check: allows)\n\n`,
      );
      const [linux, onestep] = CHECK_PAIR.map((name) => {
        const file = shippedScenario(name);
        return checkScenario(readScenarioText(io, file), file).result;
      });
      io.out(renderVerdictPair(linux, onestep, `npx irqlab check scenarios/${CHECK_PAIR[1]}`));
    });
}
