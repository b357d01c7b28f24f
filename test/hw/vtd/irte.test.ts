// VT-d IRTE layouts. Bit positions from Intel VT-d 9.10 (remapped) / 9.11 (posted) and Linux's
// `struct irte` (include/linux/dmar.h), which mirrors them; the decoded entry is QEMU-Q35.md fact 1.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode, dwordsFromBigInt } from '../../../src/hw/bits.js';
import { InputError } from '../../../src/hw/errors.js';
import type { RequesterId } from '../../../src/hw/pci/bdf.js';
import {
  decodeIrte,
  encodeIrtePosted,
  encodeIrteRemapped,
  IRTE_POSTED,
  IRTE_REMAPPED,
  irteApicId,
  irteDestinationId,
  irteReservedBitsSet,
  pdaFields,
  postedDescriptorAddress,
  verifySourceId,
} from '../../../src/hw/vtd/irte.js';

/** QEMU's `vtd_ir_irte_get ... low A high B`: A = bits 127:64, B = bits 63:0. */
const fromTrace = (low: bigint, high: bigint) => [
  ...dwordsFromBigInt(high, 64),
  ...dwordsFromBigInt(low, 64),
];

describe('remapped format (VT-d 9.10)', () => {
  it('decodes IRTE 32 of the IR fixture: P, DM logical, RH, edge, fixed, vector 0x25, APIC 1, SID 00:05.0', () => {
    // QEMU-Q35.md fact 1: `vtd_ir_irte_get index 32 low 0x40028 high 0x1000025000d`.
    const e = decodeIrte(fromTrace(0x40028n, 0x1000025000dn), { eime: false });
    expect(e.format).toBe('remapped');
    expect(e.reservedBitsSet).toEqual([]);
    if (e.format !== 'remapped') return;
    expect(e.fields).toMatchObject({
      present: 1,
      faultProcessingDisable: 0,
      destinationMode: 1,
      redirectionHint: 1,
      triggerMode: 0,
      deliveryMode: 0,
      irteMode: 0,
      vector: 0x25,
      destinationId: 0x100,
      sourceId: 0x28,
      sourceIdQualifier: 0,
      sourceValidationType: 1,
    });
    expect(irteApicId(e.fields.destinationId, { eime: false })).toBe(1);
  });
  it('places each field where the spec table does', () => {
    // P bit 0, FPD 1, DM 2, RH 3, TM 4, DLM 7:5, AVAIL 11:8, IM 15, V 23:16, DST 63:32,
    // SID 79:64, SQ 81:80, SVT 83:82.
    const at = (values: Parameters<typeof encodeIrteRemapped>[0]) => encodeIrteRemapped(values);
    expect(at({ present: 1 })).toEqual([0x1, 0, 0, 0]);
    expect(at({ faultProcessingDisable: 1 })).toEqual([0x2, 0, 0, 0]);
    expect(at({ destinationMode: 1, redirectionHint: 1, triggerMode: 1 })).toEqual([0x1c, 0, 0, 0]);
    expect(at({ deliveryMode: 7 })).toEqual([0xe0, 0, 0, 0]);
    expect(at({ available: 0xf })).toEqual([0xf00, 0, 0, 0]);
    expect(at({ vector: 0xff })).toEqual([0xff0000, 0, 0, 0]);
    expect(at({ destinationId: 0xffffffff })).toEqual([0, 0xffffffff, 0, 0]);
    expect(at({ sourceId: 0xffff, sourceIdQualifier: 3, sourceValidationType: 3 })).toEqual([
      0, 0, 0xfffff, 0,
    ]);
  });
  it('puts the xAPIC destination in bits 47:40 (Linux IRTE_DEST: dest << 8)', () => {
    expect(irteDestinationId(4, { eime: false })).toBe(0x400);
    expect(irteDestinationId(0x12345, { eime: true })).toBe(0x12345);
    expect(() => irteDestinationId(0x100, { eime: false })).toThrow(InputError);
  });
  it('treats DST bits 39:32 and 63:48 as reserved in xAPIC mode only', () => {
    const words = encodeIrteRemapped({ present: 1, destinationId: 0x10001 });
    expect(irteReservedBitsSet(words, { eime: false })).toEqual([
      'destinationId.reservedLow',
      'destinationId.reservedHigh',
    ]);
    expect(irteReservedBitsSet(words, { eime: true })).toEqual([]);
  });
  it('reports the reserved fields that are set', () => {
    const words = [0x7000 | 0x1000000, 0, 0x100000, 0x1];
    expect(irteReservedBitsSet(words, { eime: true })).toEqual([
      'reserved0',
      'reserved1',
      'reserved2',
      'reserved3',
    ]);
  });
});

describe('posted format (VT-d 9.11)', () => {
  it('places URG in 14, IM in 15, VV in 23:16, PDA-L in 63:38, PDA-H in 127:96', () => {
    expect(encodeIrtePosted({ urgent: 1 })).toEqual([0xc000, 0, 0, 0]);
    expect(encodeIrtePosted({ virtualVector: 0xff })).toEqual([0xff8000, 0, 0, 0]);
    expect(encodeIrtePosted({ pdaLow: 2 ** 26 - 1 })).toEqual([0x8000, 0xffffffc0, 0, 0]);
    expect(encodeIrtePosted({ pdaHigh: 0xffffffff })).toEqual([0x8000, 0, 0, 0xffffffff]);
  });
  it('splits the descriptor address as Linux does (pda_l = address 31:6, pda_h = 63:32)', () => {
    // Descriptor at 0x1_2345_6780: pda_l = 0x23456780 >> 6 = 0x8D159E, pda_h = 1.
    expect(pdaFields({ lo: 0x23456780, hi: 1 })).toEqual({ pdaLow: 0x8d159e, pdaHigh: 1 });
    expect(postedDescriptorAddress({ pdaLow: 0x8d159e, pdaHigh: 1 })).toEqual({
      lo: 0x23456780,
      hi: 1,
    });
    expect(() => pdaFields({ lo: 0x20, hi: 0 })).toThrow(/64-byte aligned/);
  });
  it('is chosen by IM', () => {
    expect(decodeIrte(encodeIrtePosted({ present: 1 }), { eime: true }).format).toBe('posted');
    expect(decodeIrte(encodeIrteRemapped({ present: 1 }), { eime: true }).format).toBe('remapped');
  });
});

describe('source-id verification (VT-d 9.10 SVT/SQ)', () => {
  const rid = (bus: number, dev: number, fn: number) => (bus * 256 + dev * 8 + fn) as RequesterId;
  const sid = rid(0x3a, 2, 0);
  it('SVT 0 accepts any requester', () => {
    const f = { sourceId: sid, sourceIdQualifier: 0, sourceValidationType: 0 };
    expect(verifySourceId(f, rid(1, 2, 3))).toBe('ok');
  });
  it('SVT 1 compares all 16 bits with SQ 00b, and ignores function bits per SQ', () => {
    const table: [sq: number, fn: number, expected: string][] = [
      [0, 0, 'ok'],
      [0, 4, 'mismatch'],
      [1, 4, 'ok'], // SQ 01b ignores bit 2
      [1, 2, 'mismatch'],
      [2, 6, 'ok'], // SQ 10b ignores bits 2:1
      [2, 1, 'mismatch'],
      [3, 7, 'ok'], // SQ 11b ignores bits 2:0
    ];
    for (const [sq, fn, expected] of table) {
      const f = { sourceId: sid, sourceIdQualifier: sq, sourceValidationType: 1 };
      expect([sq, fn, verifySourceId(f, rid(0x3a, 2, fn))]).toEqual([sq, fn, expected]);
    }
    const f = { sourceId: sid, sourceIdQualifier: 3, sourceValidationType: 1 };
    expect(verifySourceId(f, rid(0x3a, 3, 0))).toBe('mismatch');
    expect(verifySourceId(f, rid(0x3b, 2, 0))).toBe('mismatch');
  });
  it('SVT 2 accepts a requester whose bus is within StartBus (SID 15:8)..EndBus (SID 7:0)', () => {
    // Linux set_irte_verify_bus(irte, start_bus, end_bus): SID = start << 8 | end.
    const f = { sourceId: 0x0305, sourceIdQualifier: 0, sourceValidationType: 2 };
    expect(verifySourceId(f, rid(3, 0, 0))).toBe('ok');
    expect(verifySourceId(f, rid(5, 31, 7))).toBe('ok');
    expect(verifySourceId(f, rid(2, 0, 0))).toBe('mismatch');
    expect(verifySourceId(f, rid(6, 0, 0))).toBe('mismatch');
  });
  it('SVT 3 is reserved', () => {
    const f = { sourceId: sid, sourceIdQualifier: 0, sourceValidationType: 3 };
    expect(verifySourceId(f, sid)).toBe('reserved-svt');
  });
});

describe('properties', () => {
  const words128 = fc.array(fc.integer({ min: 0, max: 0xffffffff }), {
    minLength: 4,
    maxLength: 4,
  });
  it('decode(encode(x)) == x for the remapped format', () => {
    fc.assert(
      fc.property(words128, (w) => {
        const fields = decode(IRTE_REMAPPED, w);
        fields.irteMode = 0;
        const words = encodeIrteRemapped(fields);
        expect(decode(IRTE_REMAPPED, words)).toEqual(fields);
      }),
    );
  });
  it('decode(encode(x)) == x for the posted format', () => {
    fc.assert(
      fc.property(words128, (w) => {
        const fields = decode(IRTE_POSTED, w);
        fields.irteMode = 1;
        expect(decode(IRTE_POSTED, encodeIrtePosted(fields))).toEqual(fields);
      }),
    );
  });
  it('any 128 bits decode in the format IM selects, without throwing', () => {
    fc.assert(
      fc.property(words128, fc.boolean(), (w, eime) => {
        const e = decodeIrte(w, { eime });
        expect(e.format).toBe(IRTE_REMAPPED.accessors.irteMode.get(w) ? 'posted' : 'remapped');
      }),
    );
  });
});
