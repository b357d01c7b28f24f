// Compiled field access for measured hot paths. STYLE §2: "On a measured hot path,
// `(dword >>> lo) & mask` with `>>> 0` on full-width results is the fast, safe form." The
// positions are not written by hand: `fieldPos` compiles them from a layout's own `[hi, lo]`
// table once, at module load, so the layouts (`bits.ts`) stay the single source of every bit
// number. (`npm run bench` measured the layouts' per-field accessor closures at several times
// the cost of this form on the delivery path: each is a distinct closure, so call sites that use
// several of them cannot inline them.) The hardware blocks' checks that both the hw API and the
// whole-system model run (e.g. `vtd/interrupt-remapping.ts irteCheck`) read fields this way, on
// (words, offset), so one implementation serves both.
// Invariant: every compiled field lies within one dword (asserted at load).

import type { FieldTable, Layout } from './bits.js';
import { assert } from './errors.js';

export interface FieldPos {
  /** Dword of the field, relative to the structure's first dword. */
  readonly dword: number;
  readonly shift: number;
  /** Mask of the field's width, applied after the shift. */
  readonly mask: number;
  /** The field's bits in place in its dword (`mask << shift`). */
  readonly bits: number;
}
// `mask` and `bits` are kept as int32 bit patterns (-1 for a full dword, bit 31 negative), not
// as uint32 values: a FieldPos then holds only small integers, and `&` with them needs no
// double-to-int conversion (0xffffffff would be stored as a heap double).

export function fieldPos<F extends FieldTable>(
  layout: Layout<F>,
  name: keyof F & string,
): FieldPos {
  const [hi, lo] = layout.fields[name];
  const dword = Math.floor(lo / 32);
  assert(Math.floor(hi / 32) === dword, `${layout.name}.${name} straddles two dwords`);
  return compiled(dword, lo - dword * 32, hi - lo + 1);
}

function compiled(dword: number, shift: number, width: number): FieldPos {
  const mask = width === 32 ? -1 : 2 ** width - 1;
  return { dword, shift, mask, bits: mask << shift };
}

/** The field of the structure at word `at`. Masking in place, then `>>>`, yields the unsigned
 *  value in two operations; kept this small so that V8 inlines it at every call site (its
 *  bytecode is within the always-inline size; one more operation and the delivery path paid a
 *  call per field read). */
export function getField(w: ArrayLike<number>, at: number, f: FieldPos): number {
  return (w[at + f.dword] & f.bits) >>> f.shift;
}

/** The field of a single value of at most 32 bits (a requester ID, a message's address or data
 *  dword): `f` must lie in dword 0 of its layout. */
export function fieldValue(value: number, f: FieldPos): number {
  return (value & f.bits) >>> f.shift;
}

/** `value` placed in field `f` of an otherwise zero dword: `fieldValue`'s inverse. */
export const fieldPlaced = (value: number, f: FieldPos): number =>
  ((value & f.mask) << f.shift) >>> 0;

/** Writes `value` (already known to fit) into the field of the structure at word `at`. */
export function setField(w: Uint32Array, at: number, f: FieldPos, value: number): void {
  const i = at + f.dword;
  w[i] = (w[i] & ~f.bits) | ((value & f.mask) << f.shift);
}

/** Reserved fields of a layout (named `reserved...`), compiled; one that straddles two dwords
 *  becomes two pieces (only "is any bit set" is asked of them). */
export function reservedFields<F extends FieldTable>(layout: Layout<F>): FieldPos[] {
  const out: FieldPos[] = [];
  for (const name of Object.keys(layout.fields)) {
    if (!name.startsWith('reserved')) continue;
    const [hi, lo] = layout.fields[name];
    for (let start = lo; start <= hi; start = (Math.floor(start / 32) + 1) * 32) {
      const end = Math.min(hi, Math.floor(start / 32) * 32 + 31);
      const dword = Math.floor(start / 32);
      out.push(compiled(dword, start - dword * 32, end - start + 1));
    }
  }
  return out;
}

/** Per dword of a layout, the bits of its reserved fields (what VT-d checks is all zero). */
export function reservedMasks<F extends FieldTable>(layout: Layout<F>): Uint32Array {
  const masks = new Uint32Array(layout.width / 32);
  for (const f of reservedFields(layout)) {
    masks[f.dword] = (masks[f.dword] | f.bits) >>> 0;
  }
  return masks;
}

/** Whether any bit under `masks` is set in the structure at word `at`. */
export function anyMasked(w: ArrayLike<number>, at: number, masks: Uint32Array): boolean {
  let any = 0;
  for (let i = 0; i < masks.length; i++) any |= w[at + i] & masks[i];
  return any !== 0;
}
