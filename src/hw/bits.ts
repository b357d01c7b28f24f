// Bit layouts as data: every register, table entry and message format in irqlab is a `Layout`, a
// table of named fields with the spec's bit ranges `[hi, lo]`, and is read and written only
// through the one codec in this file (no shift or mask for a spec field anywhere else).
//
// A value is 32, 64 or 128 bits wide and is held as little-endian 32-bit dwords (dword 0 = bits
// 31:0), the way the hardware exposes it to software: an MSI-X entry, an IRTE, a posted descriptor
// all live in state as dword arrays, byte-comparable with the recorded fixtures.
// Invariants checked by `defineLayout`: fields lie inside the width, are at most 32 bits wide and
// do not overlap; layouts that cover every bit (`complete: true`) name their reserved ranges
// `reserved...`, so `reservedBitsSet` can report what VT-d would fault on.

import { InputError, InvariantError } from './errors.js';

export type BitRange = readonly [hi: number, lo: number, meaning: string];
export type FieldTable = Readonly<Record<string, BitRange>>;
export type Width = 32 | 64 | 128;
/** Little-endian dwords; `number[]` or a typed array, read at an optional dword offset. */
export type Dwords = ArrayLike<number>;
export type MutableDwords = { [index: number]: number; readonly length: number };

export interface Layout<F extends FieldTable = FieldTable> {
  readonly name: string;
  /** One line: the spec and section the table is taken from. */
  readonly spec: string;
  readonly width: Width;
  readonly fields: F;
  readonly accessors: Readonly<Record<keyof F & string, FieldAccessor>>;
}

export type Decoded<F extends FieldTable> = { [K in keyof F]: number };

/** Precomputed location of one field: used directly on hot paths (no allocation per access). */
export interface FieldAccessor {
  readonly name: string;
  readonly hi: number;
  readonly lo: number;
  readonly bitWidth: number;
  get(words: Dwords, offset?: number): number;
  set(words: MutableDwords, value: number, offset?: number): void;
}

const isReserved = (name: string) => name.startsWith('reserved');

export function defineLayout<F extends FieldTable>(
  name: string,
  width: Width,
  spec: string,
  fields: F,
  opts: { complete: boolean },
): Layout<F> {
  const covered = new Array<string | undefined>(width).fill(undefined);
  const accessors = {} as Record<string, FieldAccessor>;
  for (const field in fields) {
    const [hi, lo] = fields[field];
    if (!(Number.isInteger(hi) && Number.isInteger(lo) && lo >= 0 && hi >= lo && hi < width)) {
      throw new InvariantError(`${name}.${field}: bit range [${hi}:${lo}] is not inside ${width}`);
    }
    if (hi - lo + 1 > 32) {
      throw new InvariantError(`${name}.${field}: ${hi - lo + 1} bits; fields are at most 32`);
    }
    for (let bit = lo; bit <= hi; bit++) {
      const other = covered[bit];
      if (other !== undefined) {
        throw new InvariantError(`${name}: ${field} overlaps ${other} at bit ${bit}`);
      }
      covered[bit] = field;
    }
    accessors[field] = makeAccessor(name, field, hi, lo);
  }
  if (opts.complete) {
    const gap = covered.indexOf(undefined);
    if (gap >= 0) throw new InvariantError(`${name}: bit ${gap} belongs to no field`);
  }
  return { name, spec, width, fields, accessors: accessors as Layout<F>['accessors'] };
}

function makeAccessor(layout: string, name: string, hi: number, lo: number): FieldAccessor {
  const bitWidth = hi - lo + 1;
  const loWord = lo >>> 5;
  const hiWord = hi >>> 5;
  const shift = lo & 31;
  const max = bitWidth === 32 ? 0xffffffff : 2 ** bitWidth - 1;
  if (loWord === hiWord) {
    const mask = ((2 ** bitWidth - 1) * 2 ** shift) >>> 0;
    return {
      name,
      hi,
      lo,
      bitWidth,
      get: (w, off = 0) => ((w[off + loWord] & mask) >>> shift) >>> 0,
      set: (w, value, off = 0) => {
        checkFits(layout, name, value, max);
        w[off + loWord] = ((w[off + loWord] & ~mask) | ((value << shift) & mask)) >>> 0;
      },
    };
  }
  // A field that straddles two dwords (e.g. a 26-bit address field at [63:38] does not, but a
  // descriptor address at [45:14] would): low part from loWord, high part from hiWord.
  const lowBits = 32 - shift;
  const lowMask = (0xffffffff << shift) >>> 0;
  const highBits = bitWidth - lowBits;
  const highMask = (1 << highBits) - 1;
  return {
    name,
    hi,
    lo,
    bitWidth,
    get: (w, off = 0) => (w[off + loWord] >>> shift) + (w[off + hiWord] & highMask) * 2 ** lowBits,
    set: (w, value, off = 0) => {
      checkFits(layout, name, value, max);
      w[off + loWord] = ((w[off + loWord] & ~lowMask) | (value << shift)) >>> 0;
      const high = Math.floor(value / 2 ** lowBits);
      w[off + hiWord] = ((w[off + hiWord] & ~highMask) | high) >>> 0;
    },
  };
}

function checkFits(layout: string, field: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new InputError(
      `${layout}.${field}`,
      `value ${formatValue(value)} does not fit in ${Math.log2(max + 1)} bits (max 0x${max.toString(16)})`,
    );
  }
}

const formatValue = (v: number) =>
  Number.isInteger(v) && v >= 0 ? `0x${v.toString(16)}` : String(v);

const dwordCount = (layout: Layout) => layout.width / 32;

/** Every field of `layout` read from `words` (at dword `offset`). */
export function decode<F extends FieldTable>(
  layout: Layout<F>,
  words: Dwords,
  offset = 0,
): Decoded<F> {
  checkWords(layout, words, offset);
  const out = {} as Record<string, number>;
  for (const name in layout.accessors) out[name] = layout.accessors[name].get(words, offset);
  return out as Decoded<F>;
}

/** The dwords whose fields are `values`; fields not given are 0. Rejects a value wider than its
 *  field, or a name the layout does not have, with an error naming the field. */
export function encode<F extends FieldTable>(
  layout: Layout<F>,
  values: Partial<Decoded<F>>,
): number[] {
  const words = new Array<number>(dwordCount(layout)).fill(0);
  for (const name in values) {
    const accessor = layout.accessors[name as keyof F & string];
    if (!accessor) throw new InputError(layout.name, `no field named ${name}`);
    const value = values[name];
    if (value !== undefined) accessor.set(words, value);
  }
  return words;
}

/** Names of the reserved fields that are not zero (VT-d faults on these; PCI reads them as 0). */
export function reservedBitsSet(layout: Layout, words: Dwords, offset = 0): string[] {
  checkWords(layout, words, offset);
  const set: string[] = [];
  for (const name in layout.accessors) {
    if (isReserved(name) && layout.accessors[name].get(words, offset) !== 0) set.push(name);
  }
  return set;
}

/** The layout's fields without its reserved ones, e.g. for `--json` output. */
export function namedFields<F extends FieldTable>(decoded: Decoded<F>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name in decoded) if (!isReserved(name)) out[name] = decoded[name];
  return out;
}

function checkWords(layout: Layout, words: Dwords, offset: number): void {
  if (offset + dwordCount(layout) > words.length) {
    throw new InvariantError(
      `${layout.name}: needs ${dwordCount(layout)} dwords at ${offset}, have ${words.length}`,
    );
  }
}

/** Splits a value of up to 128 bits into little-endian dwords. */
export function dwordsFromBigInt(value: bigint, width: Width): number[] {
  if (value < 0n || value >= 1n << BigInt(width)) {
    throw new InputError('', `0x${value.toString(16)} does not fit in ${width} bits`);
  }
  const out: number[] = [];
  for (let i = 0; i < width / 32; i++) out.push(Number((value >> BigInt(32 * i)) & 0xffffffffn));
  return out;
}

export function bigIntFromDwords(words: Dwords): bigint {
  let value = 0n;
  for (let i = words.length - 1; i >= 0; i--) value = (value << 32n) | BigInt(words[i] >>> 0);
  return value;
}

/** Parses `0x...` or bare hex digits: registers are written in hex in the specs, in lspci and in
 *  QEMU's traces, so a bare number is hex here too. */
export function parseHex(text: string, what: string, width: Width): bigint {
  const digits = text.trim().replace(/^0x/i, '');
  if (!/^[0-9a-f]+$/i.test(digits)) {
    throw new InputError(what, `"${text}" is not a hexadecimal number`);
  }
  const value = BigInt(`0x${digits}`);
  if (value >= 1n << BigInt(width)) {
    throw new InputError(what, `${text} does not fit in ${width} bits`);
  }
  return value;
}
