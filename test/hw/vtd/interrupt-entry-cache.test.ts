// Interrupt entry cache and its invalidate descriptor. Descriptor values are QEMU's trace of the
// IR fixture (`vtd_inv_desc invalidate desc type iec high 0x0 low 0x2000000014` followed by
// `vtd_inv_desc_iec granularity 0x1 index 0x20 mask 0x0`), which is what Linux's qi_flush_iec
// builds: QI_IEC_TYPE (4) | QI_IEC_SELECTIVE (bit 4) | QI_IEC_IM(m) (31:27) | QI_IEC_IIDEX (47:32).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dwordsFromBigInt } from '../../../src/hw/bits.js';
import { InputError } from '../../../src/hw/errors.js';
import {
  createInterruptEntryCache,
  decodeIecDescriptor,
  encodeIecDescriptor,
  iecFill,
  iecInvalidate,
  iecLookup,
  invalidates,
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

describe('interrupt entry cache', () => {
  const entry = (v: number) => [1, v, 0, 0];
  it('holds what was filled until an invalidation covers it', () => {
    const iec = createInterruptEntryCache();
    iecFill(iec, 32, entry(0x24));
    expect(iecLookup(iec, 32)).toEqual(entry(0x24));
    expect(iecInvalidate(iec, { granularity: 'index', index: 33, indexMask: 0 })).toBe(0);
    expect(iecLookup(iec, 32)).toEqual(entry(0x24));
    expect(iecInvalidate(iec, { granularity: 'index', index: 32, indexMask: 0 })).toBe(1);
    expect(iecLookup(iec, 32)).toBeUndefined();
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
  });
  it('global invalidation drops everything', () => {
    const iec = createInterruptEntryCache();
    for (let i = 0; i < 5; i++) iecFill(iec, i, entry(i));
    expect(iecInvalidate(iec, { granularity: 'global' })).toBe(5);
    expect(iec.indices).toEqual([]);
    expect(iec.dwords).toEqual([]);
  });
  it('a bounded cache evicts its oldest fill', () => {
    const iec = createInterruptEntryCache(2);
    iecFill(iec, 1, entry(1));
    iecFill(iec, 2, entry(2));
    iecFill(iec, 3, entry(3));
    expect(iec.indices).toEqual([2, 3]);
    expect(iecLookup(iec, 1)).toBeUndefined();
    iecFill(iec, 2, entry(9));
    expect(iec.indices).toEqual([3, 2]);
    expect(iecLookup(iec, 2)).toEqual(entry(9));
    expect(() => createInterruptEntryCache(0)).toThrow(InputError);
  });
  it('keeps one copy per index and 4 dwords per entry (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 15 }), fc.nat(255)), { maxLength: 40 }),
        fc.option(fc.integer({ min: 1, max: 6 }), { nil: null }),
        (fills, capacity) => {
          const iec = createInterruptEntryCache(capacity);
          for (const [index, v] of fills) iecFill(iec, index, entry(v));
          expect(new Set(iec.indices).size).toBe(iec.indices.length);
          expect(iec.dwords.length).toBe(iec.indices.length * 4);
          if (capacity !== null) expect(iec.indices.length).toBeLessThanOrEqual(capacity);
          const last = fills.at(-1);
          if (last) expect(iecLookup(iec, last[0])).toEqual(entry(last[1]));
        },
      ),
    );
  });
});
