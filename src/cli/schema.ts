// `irqlab schema`: the JSON Schema of scenario files, for editors (e.g. the YAML language
// server's `# yaml-language-server: $schema=...` comment) to complete and validate them; with
// `--rules`, the cross-field rules a valid file must also keep (`scenario/rules.ts`), each with
// the name an error reports it by.

import type { Command } from 'commander';
import { RULES } from '../scenario/rules.js';
import { scenarioJsonSchema } from '../scenario/schema.js';
import type { CliIo } from './io.js';

export function registerSchema(program: Command, io: CliIo): void {
  program
    .command('schema')
    .description('print the JSON Schema of scenario files (--rules: the cross-field rules)')
    .option('--rules', 'list the rules a scenario must keep beyond the schema, by name')
    .option('--json', 'with --rules: as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  irqlab schema > irqlab-scenario.schema.json\n' +
        '  # then, first line of a scenario: # yaml-language-server: $schema=irqlab-scenario.schema.json\n' +
        '  irqlab schema --rules',
    )
    .action((opts: { rules?: boolean; json?: boolean }) => {
      if (!opts.rules) {
        io.out(`${JSON.stringify(scenarioJsonSchema(), null, 2)}\n`);
        return;
      }
      const rules = RULES.map((r) => ({ name: r.name, why: r.why }));
      io.out(
        opts.json
          ? `${JSON.stringify(rules, null, 2)}\n`
          : rules.map((r) => `${r.name}\n    ${r.why}\n`).join(''),
      );
    });
}
