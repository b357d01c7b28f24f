// `irqlab demo`: the main job on the default input, for `npm run demo`.

import type { Command } from 'commander';
import { fixtureTour } from './demo-fixtures.js';
import type { CliIo } from './io.js';

export function registerDemo(program: Command, io: CliIo): void {
  program
    .command('demo')
    .description('decode the recorded fixtures (and, once strategies exist, compare them)')
    .addHelpText('after', '\nExample:\n  npm run demo')
    .action(() => io.out(fixtureTour()));
}
