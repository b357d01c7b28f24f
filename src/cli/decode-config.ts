// `irqlab decode config <file> [--bdf BB:DD.F] [--json]`: decodes a recorded config space — a raw
// binary dump (sysfs `config`, 256 or 4096 bytes) or `lspci -xxx`/`-xxxx` text, detected from the
// content — and prints every function's capabilities the way `lspci -vvv` does, or as JSON with
// the spec's field names. The dump is validated for use: a broken capability list or an MSI-X BIR
// naming no BAR is bad input (exit 2, one line naming the file and the offset).

import type { Command } from 'commander';
import { InputError } from '../hw/errors.js';
import { type Bdf, formatBdf, parseBdf } from '../hw/pci/bdf.js';
import { CAP_ID } from '../hw/pci/capability-ids.js';
import { walkStandardCapabilities } from '../hw/pci/capability-list.js';
import { type DumpedFunction, parseConfigDump } from '../hw/pci/config-dump.js';
import { msixCapabilityForUse } from '../hw/pci/msix-capability.js';
import { formatLspciFunction } from '../report/lspci.js';
import { configSpaceJson } from '../report/lspci-json.js';
import type { CliIo } from './io.js';

interface DecodeConfigOptions {
  bdf?: string;
  json?: boolean;
}

const BDF_IN_NAME = /(?:[0-9a-f]{4}:)?[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]/i;

export function registerDecodeConfig(decode: Command, io: CliIo): void {
  decode
    .command('config')
    .description(
      'decode a PCI config space dump (binary sysfs "config" or lspci -xxx/-xxxx text) like lspci -vvv',
    )
    .argument('<file>', 'binary config dump (256 or 4096 bytes) or lspci -xxx/-xxxx output')
    .option('--bdf <BB:DD.F>', 'only this function (lspci text), or the address of a binary dump')
    .option('--json', 'print the decoded fields as JSON (spec field names in camelCase)')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  irqlab decode config /sys/bus/pci/devices/0000:00:03.0/config',
        '  lspci -xxxx > dump.txt && irqlab decode config dump.txt --bdf 00:05.0',
        '  irqlab decode config 0000:00:03.0.config.bin --json',
      ].join('\n'),
    )
    .action((file: string, options: DecodeConfigOptions) => {
      io.out(decodeConfig(file, io.readFile(file), options));
    });
}

/** The command's whole output for one file (exported for in-process tests). */
export function decodeConfig(
  file: string,
  bytes: Uint8Array,
  options: DecodeConfigOptions,
): string {
  const wanted = options.bdf === undefined ? undefined : parseBdf(options.bdf);
  const dump = parseConfigDump(bytes, file, wanted ?? bdfFromFileName(file));
  const functions = selectFunctions(dump.functions, wanted, file);
  for (const fn of functions) validateForUse(fn, file);
  if (options.json) {
    const json = functions.map((fn) => configSpaceJson(fn.space, fn.bdf, whereOf(file, fn)));
    return `${JSON.stringify(json, null, 2)}\n`;
  }
  return functions.map((fn) => formatLspciFunction(fn)).join('');
}

/** sysfs names the file after its function (`0000:00:03.0/config`, `0000:00:03.0.config.bin`). */
function bdfFromFileName(file: string): Bdf | undefined {
  const match = BDF_IN_NAME.exec(file.split('/').slice(-2).join('/'));
  return match ? parseBdf(match[0]) : undefined;
}

const sameFunction = (a: Bdf, b: Bdf) =>
  a.segment === b.segment && a.bus === b.bus && a.device === b.device && a.function === b.function;

function selectFunctions(
  functions: DumpedFunction[],
  wanted: Bdf | undefined,
  file: string,
): DumpedFunction[] {
  if (wanted === undefined) return functions;
  const found = functions.filter((fn) => fn.bdf === undefined || sameFunction(fn.bdf, wanted));
  if (found.length === 0) {
    const have = functions.map((fn) => (fn.bdf ? formatBdf(fn.bdf, { withSegment: false }) : '?'));
    throw new InputError(
      file,
      `no function ${formatBdf(wanted, { withSegment: false })} in the dump (has ${have.join(', ')})`,
    );
  }
  return found;
}

const whereOf = (file: string, fn: DumpedFunction) =>
  fn.bdf ? `${file} (${formatBdf(fn.bdf, { withSegment: false })})` : file;

/** A dump decoded "for use" must have a sound standard list and MSI-X BIRs that name a BAR. The
 *  extended list is printed as lspci walks it: a looping or misaligned pointer ends it there
 *  (`<chain looped>`), as in lspci, instead of rejecting the dump. */
function validateForUse(fn: DumpedFunction, file: string): void {
  const where = whereOf(file, fn);
  for (const cap of walkStandardCapabilities(fn.space, where)) {
    if (cap.id === CAP_ID.msix) msixCapabilityForUse(fn.space, cap.offset, where);
  }
}
