// Interrupt entry cache and its invalidate descriptor. Descriptor values are QEMU's trace of the
// IR fixture (`vtd_inv_desc invalidate desc type iec high 0x0 low 0x2000000014` followed by
// `vtd_inv_desc_iec granularity 0x1 index 0x20 mask 0x0`), which is what Linux's qi_flush_iec
// builds: QI_IEC_TYPE (4) | QI_IEC_SELECTIVE (bit 4) | QI_IEC_IM(m) (31:27) | QI_IEC_IIDEX (47:32).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dwordsFromBigInt } from '../../../src/hw/bits.js';
import { InputError } from '../../../src/hw/errors.js';
import {
  decodeIecDescriptor,
  encodeIecDescriptor,
  iecCached,
  iecDrop,
  iecInvalidate,
  iecLookupFill,
  invalidates,
  irWordsFor,
} from '../../../src/hw/vtd/interrupt-entry-cache.js';

const descriptor = (low: bigint, high = 0n) => [
  ...dwordsFromBigInt(low, 64),
  ...dwordsFromBigInt(high, 64),
];

describe('IEC invalidate descriptor', () => {
  it('decodes the fixture descriptors: index 32 selective, and global', () => {
    expect(decodeIecDescriptor(descriptor(0x2000000014n))).toEqual({
      invalidation: { granularity: 'index', index: 32, indexMask: 0 },
      reservedBitsSet: [],
    });
    expect(decodeIecDescriptor(descriptor(0x4n)).invalidation).toEqual({ granularity: 'global' });
  });
  it('encodes what Linux qi_flush_iec queues', () => {
    expect(encodeIecDescriptor({ granularity: 'index', index: 32, indexMask: 0 })).toEqual(
      descriptor(0x2000000014n),
    );
    // IM 3 -> bits 31:27 = 3 -> 0x18000000; index 0xb -> 0xb << 32.
    expect(encodeIecDescriptor({ granularity: 'index', index: 0xb, indexMask: 3 })).toEqual(
      descriptor(0xb18000014n),
    );
    expect(encodeIecDescriptor({ granularity: 'global' })).toEqual(descriptor(0x4n));
  });
  it('rejects another descriptor type and reports reserved bits', () => {
    expect(() => decodeIecDescriptor(descriptor(0x5n))).toThrow(InputError);
    expect(decodeIecDescriptor(descriptor(0x4n, 1n)).reservedBitsSet).toEqual(['reserved3']);
  });
});

describe('interrupt entry cache, on words', () => {
  const ENTRIES = 16;
  /** A table of 16 IRTEs and its cache; IRTE i present with dword 1 = `v`. */
  function unit(present: readonly [index: number, v: number][] = []) {
    const l = irWordsFor(ENTRIES);
    const w = new Uint32Array(l.words);
    for (const [i, v] of present) w.set([1, v, 0, 0], l.irt + i * 4);
    return { w, l };
  }
  const copy = (w: Uint32Array, at: number) => Array.from(w.subarray(at, at + 4));
  it('lays out table, copies and valid bits without overlap', () => {
    const l = irWordsFor(ENTRIES);
    expect([l.irt, l.iecCopy, l.iecValid, l.words]).toEqual([0, 64, 128, 129]);
  });
  it('fills a present entry on a miss and hits it after; a not-present entry is never cached', () => {
    const { w, l } = unit([[3, 0x24]]);
    expect(iecLookupFill(w, l, 5)).toBe(-1);
    expect(iecCached(w, l, 5)).toBe(false);
    const at = iecLookupFill(w, l, 3);
    expect(at).toBe(l.iecCopy + 12);
    expect(copy(w, at)).toEqual([1, 0x24, 0, 0]);
    w.set([1, 0x25, 0, 0], l.irt + 12); // memory changes: the cache keeps the old copy
    expect(copy(w, iecLookupFill(w, l, 3))).toEqual([1, 0x24, 0, 0]);
  });
  it('holds what was filled until an invalidation covers it', () => {
    const { w, l } = unit([[0, 0x24]]);
    iecLookupFill(w, l, 0);
    expect(iecInvalidate(w, l, ENTRIES, { granularity: 'index', index: 1, indexMask: 0 })).toBe(0);
    expect(iecCached(w, l, 0)).toBe(true);
    expect(iecInvalidate(w, l, ENTRIES, { granularity: 'index', index: 0, indexMask: 0 })).toBe(1);
    expect(iecCached(w, l, 0)).toBe(false);
    expect(copy(w, l.iecCopy)).toEqual([0, 0, 0, 0]); // zeroed: equal caches, equal words
  });
  it('index mask m covers the aligned block of 2^m entries around IIDX', () => {
    const inv = { granularity: 'index', index: 8, indexMask: 2 } as const;
    expect([7, 8, 9, 10, 11, 12].map((i) => invalidates(inv, i))).toEqual([
      false,
      true,
      true,
      true,
      true,
      false,
    ]);
    const { w, l } = unit([7, 8, 9, 10, 11, 12].map((i) => [i, i] as [number, number]));
    for (let i = 7; i <= 12; i++) iecLookupFill(w, l, i);
    expect(iecInvalidate(w, l, ENTRIES, inv)).toBe(4);
    expect([7, 8, 11, 12].map((i) => iecCached(w, l, i))).toEqual([true, false, false, true]);
  });
  it('global invalidation drops everything', () => {
    const { w, l } = unit([0, 1, 2, 3, 4].map((i) => [i, i] as [number, number]));
    for (let i = 0; i < 5; i++) iecLookupFill(w, l, i);
    expect(iecInvalidate(w, l, ENTRIES, { granularity: 'global' })).toBe(5);
    expect(w.subarray(l.iecCopy).every((x) => x === 0)).toBe(true);
  });
  it('an eviction drops one copy; the next lookup reads the table again', () => {
    const { w, l } = unit([[2, 0x30]]);
    iecLookupFill(w, l, 2);
    w.set([1, 0x31, 0, 0], l.irt + 8);
    expect(iecDrop(w, l, 2)).toBe(true);
    expect(iecDrop(w, l, 2)).toBe(false);
    expect(copy(w, iecLookupFill(w, l, 2))).toEqual([1, 0x31, 0, 0]);
  });
  it('a cached copy is the table entry as it was at the last fill (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('write', 'lookup', 'drop'), fc.nat(15), fc.nat(255)), {
          maxLength: 60,
        }),
        (ops) => {
          const { w, l } = unit();
          const filled = new Map<number, number>();
          for (const [op, i, v] of ops) {
            if (op === 'write') w.set([v & 1, v, 0, 0], l.irt + i * 4);
            else if (op === 'drop') {
              iecDrop(w, l, i);
              filled.delete(i);
            } else if (iecLookupFill(w, l, i) >= 0 && !filled.has(i))
              filled.set(i, w[l.irt + i * 4 + 1]);
          }
          for (let i = 0; i < ENTRIES; i++) {
            expect(iecCached(w, l, i)).toBe(filled.has(i));
            if (filled.has(i)) expect(w[l.iecCopy + i * 4 + 1]).toBe(filled.get(i));
          }
        },
      ),
    );
  });
});
