// `irqlab schema`: the JSON Schema of scenario files, for editors (e.g. the YAML language
// server's `# yaml-language-server: $schema=...` comment) to complete and validate them.

import type { Command } from 'commander';
import { scenarioJsonSchema } from '../scenario/schema.js';
import type { CliIo } from './io.js';

export function registerSchema(program: Command, io: CliIo): void {
  program
    .command('schema')
    .description('print the JSON Schema of scenario files')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  irqlab schema > irqlab-scenario.schema.json\n' +
        '  # then, first line of a scenario: # yaml-language-server: $schema=irqlab-scenario.schema.json',
    )
    .action(() => {
      io.out(`${JSON.stringify(scenarioJsonSchema(), null, 2)}\n`);
    });
}
