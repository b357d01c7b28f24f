import type { Command } from 'commander';
import type { CliIo } from './io.js';

export function registerDemo(program: Command, io: CliIo): void {
  program
    .command('demo')
    .description('the main job on the default input')
    .action(() => io.out('irqlab demo\n'));
}
