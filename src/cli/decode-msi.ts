// `irqlab decode msi <address> <data> [--json]`: an x86 interrupt message (compatibility or VT-d
// remappable format) as its fields. The address may be 64 bits (upper:lower); anything outside
// 0xFEExxxxx is not an interrupt and is reported as bad input (exit 2).

import type { Command } from 'commander';
import { dwordsFromBigInt, parseHex } from '../hw/bits.js';
import { InputError } from '../hw/errors.js';
import { decodeMsiMessage } from '../hw/x86/msi-message.js';
import { formatMsiText, msiJson } from '../report/msi-text.js';
import type { CliIo } from './io.js';

export function registerDecodeMsi(decode: Command, io: CliIo): void {
  decode
    .command('msi')
    .description('decode an x86 MSI address/data pair (compatibility or remappable format)')
    .argument('<address>', 'Message Address in hex (up to 64 bits)')
    .argument('<data>', 'Message Data in hex (32 bits)')
    .option('--json', 'print the fields as JSON (camelCase spec names)')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  irqlab decode msi 0xfee00418 0x0      remappable: handle 32 (SHV, subhandle 0) -> IRTE 32\n' +
        '  irqlab decode msi 0xfee01004 0x22     compatibility: vector 0x22 -> destination 0x01 logical\n' +
        '  irqlab decode msi 0xfee00418 0 --json',
    )
    .action((address: string, data: string, opts: { json?: boolean }) => {
      const [addrLo, addrHi] = dwordsFromBigInt(parseHex(address, 'address', 64), 64);
      const [dataDword] = dwordsFromBigInt(parseHex(data, 'data', 32), 32);
      const decoded = decodeMsiMessage(addrLo, addrHi, dataDword);
      if (decoded.format === 'not-interrupt') throw new InputError('address', decoded.reason);
      const raw = { addrLo, addrHi, data: dataDword };
      io.out(
        opts.json
          ? `${JSON.stringify(msiJson(decoded, raw), null, 2)}\n`
          : formatMsiText(decoded, raw),
      );
    });
}
