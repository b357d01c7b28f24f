// `irqlab decode irte <hi> <lo> [--eim] [--json]`: a 128-bit VT-d IRTE as its fields. `hi` is
// bits 127:64 (SID, SQ, SVT; PDA high), `lo` bits 63:0 (P, FPD, DM, ..., vector, DST). QEMU's
// `vtd_ir_irte_get index I low A high B` trace prints A = bits 127:64 and B = bits 63:0, so its
// "low" goes first here.

import type { Command } from 'commander';
import { dwordsFromBigInt, parseHex } from '../hw/bits.js';
import { decodeIrte } from '../hw/vtd/irte.js';
import { formatIrteText, irteJson } from '../report/irte-text.js';
import type { CliIo } from './io.js';

export function registerDecodeIrte(decode: Command, io: CliIo): void {
  decode
    .command('irte')
    .description('decode a VT-d interrupt remapping table entry (remapped or posted format)')
    .argument('<hi>', 'IRTE bits 127:64 in hex')
    .argument('<lo>', 'IRTE bits 63:0 in hex')
    .option('--eim', 'x2APIC mode (IRTA_REG.EIME = 1): DST is a 32-bit APIC ID')
    .option('--json', 'print the fields as JSON (camelCase spec names)')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  irqlab decode irte 0x40028 0x1000025000d   vector 0x25 -> xAPIC destination 0x01 logical\n' +
        '  irqlab decode irte 0x40028 0x1000025000d --json\n' +
        "  (QEMU's trace prints `vtd_ir_irte_get index I low <hi> high <lo>`: pass low first.)",
    )
    .action((hi: string, lo: string, opts: { eim?: boolean; json?: boolean }) => {
      const high = dwordsFromBigInt(parseHex(hi, 'IRTE bits 127:64', 64), 64);
      const low = dwordsFromBigInt(parseHex(lo, 'IRTE bits 63:0', 64), 64);
      const words = [...low, ...high];
      const mode = { eime: opts.eim === true };
      const decoded = decodeIrte(words, mode);
      io.out(
        opts.json
          ? `${JSON.stringify(irteJson(decoded, mode, words), null, 2)}\n`
          : formatIrteText(decoded, mode, words),
      );
    });
}
