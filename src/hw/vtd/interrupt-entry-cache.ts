// The Interrupt Entry Cache (IEC): the remapping unit's cache of IRTEs, and the queued-invalidation
// descriptor that clears it (Intel VT-d spec 6.2 "Interrupt Entry Cache" among the translation
// caches; 6.5.2 Queued Invalidation, "Interrupt Entry Cache Invalidate Descriptor").
// Why it matters: hardware may keep using an IRTE it cached until software invalidates it, so an
// IRTE changed in memory without an invalidation still routes the old way. Linux's `modify_irte`
// always follows the write with `qi_flush_iec`; a guest of `vir-direct` need not, and the model
// must show what then happens.
// State: words of one Uint32Array (`IrWords`): the table, a copy slot per IRTE index and a valid
// bit per index. The functions here are the one implementation of lookup, fill, invalidation and
// eviction: the whole-system model runs them on its state words, the remapping unit object of
// `interrupt-remapping.ts` on its own.
// Invariants: at most one cached copy per index (its slot); a slot whose valid bit is clear is
// zero, so equal caches have equal words. Only present entries are filled.
// Not modelled: a capacity and replacement policy (the spec leaves replacement to the
// implementation and software must not rely on one: eviction is an operation of its own, which
// the whole-system model offers at any time), caching of not-present entries (hardware "may"
// cache them only with Caching Mode).

import { bitmapDwords, clearBit, setBit, testBit } from '../bitmap.js';
import { type Dwords, decode, defineLayout, encode, reservedBitsSet } from '../bits.js';
import { InputError } from '../errors.js';
import { fieldPos, getField } from '../field-pos.js';
import { IRTE_DWORDS, IRTE_REMAPPED } from './irte.js';

const PRESENT = fieldPos(IRTE_REMAPPED, 'present');

/** Queued-invalidation descriptor type of the IEC invalidate descriptor (Linux QI_IEC_TYPE). */
export const IEC_DESCRIPTOR_TYPE = 0x4;
export const IEC_GRANULARITY = { global: 0, indexSelective: 1 } as const;

export const IEC_INVALIDATE_DESCRIPTOR = defineLayout(
  'vtd-iec-invalidate-descriptor',
  128,
  'Intel VT-d 6.5.2 Interrupt Entry Cache Invalidate Descriptor',
  {
    type: [3, 0, 'Type: 4h'],
    granularity: [4, 4, 'G: 0 global, 1 index-selective'],
    reserved0: [8, 5, 'Reserved (0)'],
    typeHigh: [11, 9, 'Type bits 6:4 (VT-d 3.0+), 0 for this descriptor'],
    reserved1: [26, 12, 'Reserved (0)'],
    indexMask: [31, 27, 'IM: low bits of IIDX ignored (2^IM entries invalidated)'],
    interruptIndex: [47, 32, 'IIDX: first IRTE index to invalidate'],
    reserved2: [63, 48, 'Reserved (0)'],
    reserved3: [95, 64, 'Reserved (0)'],
    reserved4: [127, 96, 'Reserved (0)'],
  },
  { complete: true },
);

export type IecInvalidation =
  | { readonly granularity: 'global' }
  | { readonly granularity: 'index'; readonly index: number; readonly indexMask: number };

/** Where the remapping unit's words are: IRTE i at `irt + 4i`, its cached copy at `iecCopy + 4i`,
 *  its valid bit at bit i counted from word `iecValid`. The whole-system layout is one. */
export interface IrWords {
  readonly irt: number;
  readonly iecCopy: number;
  readonly iecValid: number;
}

/** The words `entries` IRTEs and their cache take, laid out from word 0: table, copies, bits. */
export function irWordsFor(entries: number): IrWords & { readonly words: number } {
  const copies = entries * IRTE_DWORDS;
  return {
    irt: 0,
    iecCopy: copies,
    iecValid: 2 * copies,
    words: 2 * copies + bitmapDwords(entries),
  };
}

export const iecCached = (w: Uint32Array, l: IrWords, index: number): boolean =>
  testBit(w, l.iecValid * 32 + index);

/** The word offset of IRTE `index` as the unit reads it: its cached copy, else (a miss) the
 *  table entry, which a present entry fills the cache with first. -1 for a not-present entry
 *  (never cached). */
export function iecLookupFill(w: Uint32Array, l: IrWords, index: number): number {
  const cached = l.iecCopy + index * IRTE_DWORDS;
  if (iecCached(w, l, index)) return cached;
  const table = l.irt + index * IRTE_DWORDS;
  if (getField(w, table, PRESENT) !== 1) return -1;
  for (let i = 0; i < IRTE_DWORDS; i++) w[cached + i] = w[table + i];
  setBit(w, l.iecValid * 32 + index);
  return cached;
}

/** The cache drops its copy of IRTE `index` (an invalidation or an eviction), zeroing the slot.
 *  Returns whether there was one. */
export function iecDrop(w: Uint32Array, l: IrWords, index: number): boolean {
  if (!iecCached(w, l, index)) return false;
  clearBit(w, l.iecValid * 32 + index);
  const at = l.iecCopy + index * IRTE_DWORDS;
  w.fill(0, at, at + IRTE_DWORDS);
  return true;
}

/** Applies an invalidation to a table of `entries` IRTEs; returns how many copies it dropped. */
export function iecInvalidate(
  w: Uint32Array,
  l: IrWords,
  entries: number,
  inv: IecInvalidation,
): number {
  const [first, count] = invalidatedRange(inv, entries);
  let dropped = 0;
  for (let i = first; i < first + count; i++) if (iecDrop(w, l, i)) dropped++;
  return dropped;
}

/** The first index and the number of indices `inv` covers in a table of `entries`. */
export function invalidatedRange(inv: IecInvalidation, entries: number): [number, number] {
  if (inv.granularity === 'global') return [0, entries];
  const block = 2 ** inv.indexMask;
  const first = Math.floor(inv.index / block) * block;
  return [Math.min(first, entries), Math.max(0, Math.min(block, entries - first))];
}

/** Does `inv` cover IRTE `index`? Index-selective with IM = m covers the 2^m entries whose index
 *  agrees with IIDX above bit m (Linux `qi_flush_iec(iommu, index, mask)` with mask = log2 of an
 *  aligned block). */
export function invalidates(inv: IecInvalidation, index: number): boolean {
  const [first, count] = invalidatedRange(inv, Number.POSITIVE_INFINITY);
  return index >= first && index < first + count;
}

/** Reads an IEC invalidate descriptor as software queues it (dword 0 = bits 31:0). Reserved bits
 *  set are returned (hardware reports an Invalidation Queue Error for them). */
export function decodeIecDescriptor(words: Dwords): {
  invalidation: IecInvalidation;
  reservedBitsSet: string[];
} {
  const d = decode(IEC_INVALIDATE_DESCRIPTOR, words);
  if (d.type !== IEC_DESCRIPTOR_TYPE || d.typeHigh !== 0) {
    throw new InputError('invalidation descriptor', `type ${d.type} is not an IEC invalidation`);
  }
  const invalidation: IecInvalidation =
    d.granularity === IEC_GRANULARITY.global
      ? { granularity: 'global' }
      : { granularity: 'index', index: d.interruptIndex, indexMask: d.indexMask };
  return { invalidation, reservedBitsSet: reservedBitsSet(IEC_INVALIDATE_DESCRIPTOR, words) };
}

/** The descriptor dwords for an invalidation (what Linux's `qi_flush_iec` queues). */
export function encodeIecDescriptor(inv: IecInvalidation): number[] {
  if (inv.granularity === 'global') {
    return encode(IEC_INVALIDATE_DESCRIPTOR, {
      type: IEC_DESCRIPTOR_TYPE,
      granularity: IEC_GRANULARITY.global,
    });
  }
  return encode(IEC_INVALIDATE_DESCRIPTOR, {
    type: IEC_DESCRIPTOR_TYPE,
    granularity: IEC_GRANULARITY.indexSelective,
    indexMask: inv.indexMask,
    interruptIndex: inv.index,
  });
}
