import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bigIntFromDwords,
  decode,
  defineLayout,
  dwordsFromBigInt,
  encode,
  parseHex,
  reservedBitsSet,
} from '../../src/hw/bits.js';
import { InputError, InvariantError } from '../../src/hw/errors.js';
import { fieldPos, fieldValue } from '../../src/hw/field-pos.js';

const WIDE = defineLayout(
  'test-128',
  128,
  'test layout spanning all four dwords',
  {
    a: [3, 0, 'low nibble'],
    reservedA: [7, 4, 'reserved'],
    b: [31, 8, '24 bits up to the dword end'],
    straddle: [47, 32, 'bottom of dword 1'],
    c: [63, 48, 'top of dword 1'],
    cross: [79, 64, 'dword 2 low half'],
    reservedB: [95, 80, 'reserved'],
    full: [127, 96, 'a whole dword'],
  },
  { complete: true },
);

describe('defineLayout', () => {
  it('rejects overlapping fields, naming both', () => {
    expect(() =>
      defineLayout('t', 32, 's', { x: [7, 0, ''], y: [8, 7, ''] }, { complete: false }),
    ).toThrow(/y overlaps x at bit 7/);
  });
  it('rejects a gap in a complete layout', () => {
    expect(() =>
      defineLayout('t', 32, 's', { x: [7, 0, ''], y: [31, 9, ''] }, { complete: true }),
    ).toThrow(/bit 8 belongs to no field/);
  });
  it('rejects a field outside the width', () => {
    expect(() => defineLayout('t', 32, 's', { x: [32, 0, ''] }, { complete: false })).toThrow(
      InvariantError,
    );
  });
});

describe('encode/decode', () => {
  it('places fields at their spec bit positions', () => {
    const words = encode(WIDE, { a: 0xf, full: 0xdeadbeef, cross: 0x1234 });
    expect(words).toEqual([0xf, 0, 0x1234, 0xdeadbeef]);
  });
  it('rejects a value wider than its field, naming the field', () => {
    expect(() => encode(WIDE, { a: 16 })).toThrow(InputError);
    expect(() => encode(WIDE, { a: 16 })).toThrow(/test-128\.a/);
    expect(() => encode(WIDE, { a: -1 })).toThrow(/test-128\.a/);
  });
  it('reports non-zero reserved fields', () => {
    expect(reservedBitsSet(WIDE, [0x30, 0, 0x10000, 0])).toEqual(['reservedA', 'reservedB']);
  });
  it('decode(encode(x)) == x for every field value', () => {
    const arb = fc.record({
      a: fc.nat(15),
      b: fc.nat(2 ** 24 - 1),
      straddle: fc.nat(0xffff),
      c: fc.nat(0xffff),
      cross: fc.nat(0xffff),
      full: fc.nat(0xffffffff),
    });
    fc.assert(
      fc.property(arb, (x) => {
        const d = decode(WIDE, encode(WIDE, x));
        expect(d).toEqual({ ...x, reservedA: 0, reservedB: 0 });
      }),
    );
  });
  it('a field straddling two dwords round-trips', () => {
    const L = defineLayout('straddle', 64, 's', { f: [45, 14, 'x'] }, { complete: false });
    fc.assert(
      fc.property(fc.nat(0xffffffff), (v) => {
        const words = encode(L, { f: v });
        expect(decode(L, words).f).toBe(v);
        expect(bigIntFromDwords(words)).toBe(BigInt(v) << 14n);
      }),
    );
  });
});

describe('fieldValue', () => {
  it('reads every field of a one-dword value as decode does', () => {
    const ONE = defineLayout(
      'test-32',
      32,
      'test',
      {
        lo: [2, 0, 'three bits'],
        mid: [15, 3, 'thirteen bits'],
        top: [31, 16, 'sixteen bits, to bit 31'],
      },
      { complete: true },
    );
    const WHOLE = defineLayout(
      'test-32w',
      32,
      'test',
      { all: [31, 0, 'the dword'] },
      { complete: true },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (v) => {
        const d = decode(ONE, [v]);
        expect([
          fieldValue(v, fieldPos(ONE, 'lo')),
          fieldValue(v, fieldPos(ONE, 'mid')),
          fieldValue(v, fieldPos(ONE, 'top')),
        ]).toEqual([d.lo, d.mid, d.top]);
        expect(fieldValue(v, fieldPos(WHOLE, 'all'))).toBe(decode(WHOLE, [v]).all);
      }),
    );
  });
});

describe('hex and bigint helpers', () => {
  it('splits and joins 128-bit values little-endian', () => {
    const v = 0x0123456789abcdef_fedcba9876543210n;
    expect(dwordsFromBigInt(v, 128)).toEqual([0x76543210, 0xfedcba98, 0x89abcdef, 0x01234567]);
    expect(bigIntFromDwords(dwordsFromBigInt(v, 128))).toBe(v);
  });
  it('rejects non-hex text and too-wide values', () => {
    expect(() => parseHex('0xfeg', 'address', 64)).toThrow(/not a hexadecimal number/);
    expect(() => parseHex('1ffffffff', 'data', 32)).toThrow(/does not fit in 32 bits/);
    expect(parseHex('0xFEE00418', 'address', 64)).toBe(0xfee00418n);
  });
});
