// The `irqlab` command: one commander program, one file per subcommand. Exit codes: 0 success,
// 1 a checked property failed, 2 bad usage or bad input (one line per problem), 3 an irqlab bug:
// an InvariantError, or any exception that is not one of irqlab's typed errors (bad input never
// reaches the model untyped, so one that escapes is a bug too). Never a stack trace.

import { Command, CommanderError } from 'commander';
import { InputError, InvariantError, RuleError } from '../hw/errors.js';
import { registerCheck } from './check.js';
import { registerCompare } from './compare.js';
import { registerDecode } from './decode.js';
import { registerDemo } from './demo.js';
import { type CliIo, EXIT, nodeIo } from './io.js';
import { registerRun } from './run.js';
import { registerSchema } from './schema.js';
import { registerServe } from './serve.js';
import { registerShow } from './show.js';

export function buildProgram(io: CliIo): Command {
  const program = new Command('irqlab')
    .description('A bit-faithful model of PCI interrupt virtualization (MSI, MSI-X, IMS, VT-d)')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError('(run with --help for usage)');
  registerDecode(program, io);
  registerDemo(program, io);
  registerRun(program, io);
  registerCompare(program, io);
  registerCheck(program, io);
  registerShow(program, io);
  registerSchema(program, io);
  registerServe(program, io);
  return program;
}

export async function main(argv: string[], io: CliIo = nodeIo()): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return io.exitCode();
  } catch (error) {
    return reportError(error, io);
  }
}

function reportError(error: unknown, io: CliIo): number {
  if (error instanceof CommanderError) {
    // help and version print and exit 0; everything else commander rejects is bad usage.
    return error.exitCode === 0 ? EXIT.ok : EXIT.badInput;
  }
  if (error instanceof InputError || error instanceof RuleError) {
    io.err(`irqlab: ${error.message}\n`);
    return EXIT.badInput;
  }
  const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
  const what = error instanceof InvariantError ? '' : `${(error as Error)?.name ?? 'Error'}: `;
  io.err(`irqlab: internal error (a bug in irqlab): ${what}${message}\n`);
  return EXIT.bug;
}
