// `irqlab demo`: the main job on the default input, for `npm run demo`: the fixture tour (real
// config spaces decoded, one real interrupt followed through VT-d), then the run summary of the
// default scenario, scenarios/idxd-siov.yaml, and its comparison across the five strategies.

import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { InputError } from '../hw/errors.js';
import { compareScenarioFile } from './compare.js';
import { fixtureTour } from './demo-fixtures.js';
import type { CliIo } from './io.js';
import { runScenarioFile } from './run.js';

export const DEFAULT_SCENARIO = 'idxd-siov.yaml';

/** The shipped scenarios folder, from dist/src/cli (the built command) or src/cli (tests). */
function defaultScenarioPath(): string {
  for (const up of ['../../../scenarios/', '../../scenarios/']) {
    const path = fileURLToPath(new URL(up + DEFAULT_SCENARIO, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new InputError(DEFAULT_SCENARIO, 'the shipped scenarios folder was not found');
}

export function registerDemo(program: Command, io: CliIo): void {
  program
    .command('demo')
    .description('decode the recorded fixtures, then simulate the default scenario')
    .addHelpText('after', '\nExample:\n  npm run demo')
    .action(() => {
      io.out(fixtureTour());
      io.out(`\n== irqlab run scenarios/${DEFAULT_SCENARIO}\n\n`);
      const file = relative(process.cwd(), defaultScenarioPath());
      runScenarioFile(io, file);
      io.out(`\n== irqlab compare scenarios/${DEFAULT_SCENARIO}\n\n`);
      compareScenarioFile(io, file);
      // idxd-siov backs guest MSI-X with host IMS, which only the trapping strategies can carry.
      io.out(
        '\nAll five strategies on one workload (same type on both sides, vIOMMU in the guests):\n' +
          '  npx irqlab compare scenarios/mlx5-vf-viommu.yaml\n' +
          'A hostile guest beside a victim that shares its requester ID:\n' +
          '  npx irqlab compare scenarios/hostile-siov.yaml\n',
      );
    });
}
