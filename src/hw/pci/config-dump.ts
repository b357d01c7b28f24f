// Reading recorded config spaces: a raw binary dump (sysfs `/sys/bus/pci/devices/BDF/config`, 256
// or 4096 bytes) or the hex text of `lspci -xxx` (256 bytes per function) / `lspci -xxxx` (4096),
// where each function is a line `00:02.0 <description>` followed by rows `00: 86 80 ...` of 16
// bytes. The format is detected from the content: a binary dump has NUL bytes, text has none.
// Invariants: every returned space is 256 or 4096 bytes, every row was present exactly once and in
// order. Bad input (truncated dump, odd size, a row that is not 16 hex bytes, rows out of order)
// is an InputError naming the source and the line. Not modelled: `lspci -x` (64 bytes only:
// rejected, since capabilities live above 0x40), `lspci -b` bus-centric dumps.

import { InputError } from '../errors.js';
import { type Bdf, formatBdf, parseBdf } from './bdf.js';
import { CONFIG_SPACE_SIZE, type ConfigSpace, configSpaceFromBytes } from './config-space.js';

export type ConfigDumpFormat = 'binary' | 'lspci-text';

export interface DumpedFunction {
  /** From the lspci line, or (binary) given by the caller; undefined if unknown. */
  bdf: Bdf | undefined;
  /** lspci's description after the address (names), '' for a binary dump. */
  description: string;
  space: ConfigSpace;
}

export interface ConfigDump {
  format: ConfigDumpFormat;
  functions: DumpedFunction[];
}

const ROW_BYTES = 16;
const FUNCTION_LINE = /^((?:[0-9a-f]{4}:)?[0-9a-f]{2}:[0-9a-f]{2}\.[0-7])(?:\s+(.*))?$/i;
const ROW_LINE = /^([0-9a-f]{2,3}):(.*)$/i;
const HEX_BYTE = /^[0-9a-f]{2}$/i;
/** lspci's own warnings ("lspci: Unable to load libkmod resources") may precede the dump. */
const LSPCI_WARNING = /^lspci: /;
const NUL = 0;

/**
 * Binary if any byte is NUL: text never has one, and a config space always does (the header's
 * reserved bytes 0x35-0x3b read 0). Non-ASCII bytes alone do not decide it: lspci prints names
 * from pci.ids, which may be UTF-8.
 */
export function detectConfigDumpFormat(bytes: Uint8Array): ConfigDumpFormat {
  return bytes.includes(NUL) ? 'binary' : 'lspci-text';
}

/**
 * Parses a dump. `source` names it in errors (the file). For a binary dump `bdf` is the function's
 * address if known (lspci text carries its own).
 */
export function parseConfigDump(bytes: Uint8Array, source: string, bdf?: Bdf): ConfigDump {
  if (bytes.length === 0) throw new InputError(source, 'is empty');
  const format = detectConfigDumpFormat(bytes);
  if (format === 'binary') {
    if (
      bytes.length !== CONFIG_SPACE_SIZE.conventional &&
      bytes.length !== CONFIG_SPACE_SIZE.extended
    ) {
      throw new InputError(
        source,
        `binary config dump of ${bytes.length} bytes; a config space is ${CONFIG_SPACE_SIZE.conventional} or ${CONFIG_SPACE_SIZE.extended} bytes (truncated?)`,
      );
    }
    return {
      format,
      functions: [{ bdf, description: '', space: configSpaceFromBytes(bytes, source) }],
    };
  }
  return { format, functions: parseLspciText(new TextDecoder().decode(bytes), source) };
}

interface PendingFunction {
  bdf: Bdf;
  description: string;
  line: number;
  rows: number[];
}

function parseLspciText(text: string, source: string): DumpedFunction[] {
  const functions: DumpedFunction[] = [];
  let current: PendingFunction | undefined;
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = raw.trimEnd();
    const where = `${source}:${index + 1}`;
    if (line.trim() === '') return;
    const fn = FUNCTION_LINE.exec(line);
    if (fn) {
      if (current) functions.push(finishFunction(current, source));
      current = { bdf: parseBdf(fn[1]), description: fn[2] ?? '', line: index + 1, rows: [] };
      return;
    }
    const row = ROW_LINE.exec(line);
    if (row) {
      if (!current) throw new InputError(where, 'hex row before any "BB:DD.F" function line');
      current.rows.push(...parseRow(row, current.rows.length, where));
      return;
    }
    if (LSPCI_WARNING.test(line) && current === undefined) return;
    throw new InputError(where, `not an lspci -xxx line: "${truncate(line)}"`);
  });
  if (current) functions.push(finishFunction(current, source));
  if (functions.length === 0) {
    throw new InputError(source, 'no "BB:DD.F" function line: not an lspci -xxx/-xxxx dump');
  }
  return functions;
}

function parseRow(row: RegExpExecArray, expectedBytes: number, where: string): number[] {
  const offset = parseInt(row[1], 16);
  if (offset !== expectedBytes) {
    throw new InputError(
      where,
      `row at offset 0x${row[1]} where 0x${expectedBytes.toString(16)} was expected (missing or out-of-order rows)`,
    );
  }
  const cells = row[2].trim().split(/\s+/);
  if (cells.length !== ROW_BYTES || !cells.every((c) => HEX_BYTE.test(c))) {
    throw new InputError(
      where,
      `row 0x${row[1]} is not ${ROW_BYTES} hex bytes: "${truncate(row[2].trim())}"`,
    );
  }
  return cells.map((c) => parseInt(c, 16));
}

function finishFunction(fn: PendingFunction, source: string): DumpedFunction {
  const where = `${source}:${fn.line} (${formatBdf(fn.bdf, { withSegment: false })})`;
  const size = fn.rows.length;
  if (size !== CONFIG_SPACE_SIZE.conventional && size !== CONFIG_SPACE_SIZE.extended) {
    const hint =
      size === 64 ? ' (lspci -x shows only the header; use -xxx or -xxxx)' : ' (truncated?)';
    throw new InputError(
      where,
      `${size} bytes of config space; expected ${CONFIG_SPACE_SIZE.conventional} (-xxx) or ${CONFIG_SPACE_SIZE.extended} (-xxxx)${hint}`,
    );
  }
  return {
    bdf: fn.bdf,
    description: fn.description,
    space: configSpaceFromBytes(Uint8Array.from(fn.rows), where),
  };
}

const truncate = (text: string) => (text.length > 60 ? `${text.slice(0, 57)}...` : text);
