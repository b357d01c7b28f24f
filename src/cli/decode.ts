// `irqlab decode msi|irte|config`: the hardware layer's decoders on the command line. Each
// subcommand lives in its own file; `--json` prints the spec's field names in camelCase.

import type { Command } from 'commander';
import { registerDecodeConfig } from './decode-config.js';
import { registerDecodeIrte } from './decode-irte.js';
import { registerDecodeMsi } from './decode-msi.js';
import type { CliIo } from './io.js';

export function registerDecode(program: Command, io: CliIo): void {
  const decode = program
    .command('decode')
    .description('decode an MSI message, a VT-d IRTE or a PCI config space dump')
    .addHelpText(
      'after',
      '\nExamples:\n  irqlab decode msi 0xfee00418 0x0\n  irqlab decode irte 0x40028 0x1000025000d\n  irqlab decode config 0000:00:03.0.config.bin',
    );
  registerDecodeMsi(decode, io);
  registerDecodeIrte(decode, io);
  registerDecodeConfig(decode, io);
}
