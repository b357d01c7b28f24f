// The Interrupt Entry Cache (IEC): the remapping unit's cache of IRTEs, and the queued-invalidation
// descriptor that clears it (Intel VT-d spec 6.2 "Interrupt Entry Cache" among the translation
// caches; 6.5.2 Queued Invalidation, "Interrupt Entry Cache Invalidate Descriptor").
// Why it matters: hardware may keep using an IRTE it cached until software invalidates it, so an
// IRTE changed in memory without an invalidation still routes the old way. Linux's `modify_irte`
// always follows the write with `qi_flush_iec`; a guest of `vir-direct` need not, and the model
// must show what then happens.
// Invariants: at most one cached copy per index; `indices.length * 4 === dwords.length`;
// `indices.length <= capacity` when bounded. A lookup that misses fills the cache (the remapping
// unit does that); when full, the oldest fill is evicted (the spec leaves replacement to the
// implementation; software must not rely on any policy).
// Not modelled: caching of not-present entries (hardware "may" cache them only with
// Caching Mode; the unit here fills only present entries), invalidation-wait/fence ordering.

import { type Dwords, decode, defineLayout, encode, reservedBitsSet } from '../bits.js';
import { InputError } from '../errors.js';
import { IRTE_DWORDS } from './irte.js';

/** Default capacity: unbounded, so a stale entry stays until invalidated (the worst case a
 *  checker must cover; a bounded cache only evicts earlier). */
export const IEC_CAPACITY_UNBOUNDED = null;
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

export interface InterruptEntryCache {
  /** Most entries held, or null for unbounded. */
  readonly capacity: number | null;
  /** IRTE index of each cached entry, oldest fill first. */
  readonly indices: number[];
  /** The cached IRTEs, 4 dwords each, in the order of `indices`. */
  readonly dwords: number[];
}

export type IecInvalidation =
  | { readonly granularity: 'global' }
  | { readonly granularity: 'index'; readonly index: number; readonly indexMask: number };

export function createInterruptEntryCache(
  capacity: number | null = IEC_CAPACITY_UNBOUNDED,
): InterruptEntryCache {
  if (capacity !== null && !(Number.isInteger(capacity) && capacity > 0)) {
    throw new InputError('interrupt entry cache capacity', `${capacity} is not a positive count`);
  }
  return { capacity, indices: [], dwords: [] };
}

/** The cached copy of IRTE `index`, or undefined on a miss. */
export function iecLookup(iec: InterruptEntryCache, index: number): number[] | undefined {
  const slot = iec.indices.indexOf(index);
  if (slot < 0) return undefined;
  return iec.dwords.slice(slot * IRTE_DWORDS, (slot + 1) * IRTE_DWORDS);
}

/** Caches IRTE `index` (replacing an older copy), evicting the oldest fill when full. */
export function iecFill(iec: InterruptEntryCache, index: number, words: Dwords): void {
  dropSlot(iec, iec.indices.indexOf(index));
  if (iec.capacity !== null && iec.indices.length >= iec.capacity) dropSlot(iec, 0);
  iec.indices.push(index);
  for (let i = 0; i < IRTE_DWORDS; i++) iec.dwords.push(words[i] >>> 0);
}

/** Applies an invalidation; returns how many cached entries it dropped. */
export function iecInvalidate(iec: InterruptEntryCache, inv: IecInvalidation): number {
  const before = iec.indices.length;
  for (let slot = iec.indices.length - 1; slot >= 0; slot--) {
    if (invalidates(inv, iec.indices[slot])) dropSlot(iec, slot);
  }
  return before - iec.indices.length;
}

/** Does `inv` cover IRTE `index`? Index-selective with IM = m covers the 2^m entries whose index
 *  agrees with IIDX above bit m (Linux `qi_flush_iec(iommu, index, mask)` with mask = log2 of an
 *  aligned block). */
export function invalidates(inv: IecInvalidation, index: number): boolean {
  if (inv.granularity === 'global') return true;
  const block = 2 ** inv.indexMask;
  return Math.floor(index / block) === Math.floor(inv.index / block);
}

function dropSlot(iec: InterruptEntryCache, slot: number): void {
  if (slot < 0) return;
  iec.indices.splice(slot, 1);
  iec.dwords.splice(slot * IRTE_DWORDS, IRTE_DWORDS);
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
