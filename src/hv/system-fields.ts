// Hot-path field access for the whole-system model. STYLE §2: "On a measured hot path,
// `(dword >>> lo) & mask` with `>>> 0` on full-width results is the fast, safe form." The
// positions are not written here by hand: `fieldPos` compiles them from the hw layouts' own
// `[hi, lo]` tables once, at module load, so the layouts stay the single source of every bit
// number. (`npm run bench` measured the layouts' per-field accessor closures at several times
// the cost of this form on the delivery path: each is a distinct closure, so call sites that use
// several of them cannot inline them.)
// Also the bit arrays of the state (PIR, IRR, pending bits) by bit index counted from word 0 of
// the state, as `bitmap.ts` numbers them, without its per-call range assertion string.
// Invariant: every compiled field lies within one dword (asserted at load).

import type { FieldTable, Layout } from '../hw/bits.js';
import { assert } from '../hw/errors.js';

export interface FieldPos {
  /** Dword of the field, relative to the structure's first dword. */
  readonly dword: number;
  readonly shift: number;
  /** Mask of the field's width, applied after the shift. */
  readonly mask: number;
}

export function fieldPos<F extends FieldTable>(
  layout: Layout<F>,
  name: keyof F & string,
): FieldPos {
  const [hi, lo] = layout.fields[name];
  const dword = Math.floor(lo / 32);
  assert(Math.floor(hi / 32) === dword, `${layout.name}.${name} straddles two dwords`);
  const width = hi - lo + 1;
  return { dword, shift: lo - dword * 32, mask: width === 32 ? 0xffffffff : 2 ** width - 1 };
}

/** The field of the structure at word `at`. */
export function getField(w: Uint32Array, at: number, f: FieldPos): number {
  return ((w[at + f.dword] >>> f.shift) & f.mask) >>> 0;
}

/** Writes `value` (already known to fit) into the field of the structure at word `at`. */
export function setField(w: Uint32Array, at: number, f: FieldPos, value: number): void {
  const i = at + f.dword;
  w[i] = ((w[i] & ~(f.mask << f.shift)) | ((value & f.mask) << f.shift)) >>> 0;
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
      const width = end - start + 1;
      out.push({
        dword,
        shift: start - dword * 32,
        mask: width === 32 ? 0xffffffff : 2 ** width - 1,
      });
    }
  }
  return out;
}

/** Per dword of a layout, the bits of its reserved fields (what VT-d checks is all zero). */
export function reservedMasks<F extends FieldTable>(layout: Layout<F>): Uint32Array {
  const masks = new Uint32Array(layout.width / 32);
  for (const f of reservedFields(layout)) {
    masks[f.dword] = (masks[f.dword] | (f.mask << f.shift)) >>> 0;
  }
  return masks;
}

/** Whether any bit under `masks` is set in the structure at word `at`. */
export function anyMasked(w: Uint32Array, at: number, masks: Uint32Array): boolean {
  let any = 0;
  for (let i = 0; i < masks.length; i++) any |= w[at + i] & masks[i];
  return any !== 0;
}

export const testBit = (w: Uint32Array, bit: number): boolean =>
  ((w[bit >>> 5] >>> (bit & 31)) & 1) === 1;

export function setBit(w: Uint32Array, bit: number): void {
  w[bit >>> 5] = (w[bit >>> 5] | (1 << (bit & 31))) >>> 0;
}

export function clearBit(w: Uint32Array, bit: number): void {
  w[bit >>> 5] = (w[bit >>> 5] & ~(1 << (bit & 31))) >>> 0;
}

/** Highest set bit of the `dwords`-long bit array at word `at` (its own numbering), or -1. */
export function highestBit(w: Uint32Array, at: number, dwords: number): number {
  for (let i = dwords - 1; i >= 0; i--) {
    const v = w[at + i];
    if (v !== 0) return i * 32 + 31 - Math.clz32(v);
  }
  return -1;
}
