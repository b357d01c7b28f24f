// Hot-path bit arrays of the whole-system state (PIR, IRR, pending bits) by bit index counted
// from word 0 of the state, as `hw/bitmap.ts` numbers them, without its per-call range assertion
// string. (Fields: `hw/field-pos.ts`.)

// Bit `bit` is bit `bit % 32` of dword `bit >>> 5`. JavaScript takes shift counts modulo 32, so
// `x << bit` and `x >>> bit` already shift by `bit % 32`; the typed-array store wraps to uint32,
// and the compound form computes the index once. Written this way all three stay within the
// bytecode size V8 always inlines: the delivery path calls them several times per interrupt.
export const testBit = (w: Uint32Array, bit: number): boolean => ((w[bit >>> 5] >>> bit) & 1) === 1;

export function setBit(w: Uint32Array, bit: number): void {
  w[bit >>> 5] |= 1 << bit;
}

export function clearBit(w: Uint32Array, bit: number): void {
  w[bit >>> 5] &= ~(1 << bit);
}

/** Highest set bit of the `dwords`-long bit array at word `at` (its own numbering), or -1. */
export function highestBit(w: Uint32Array, at: number, dwords: number): number {
  for (let i = dwords - 1; i >= 0; i--) {
    const v = w[at + i];
    if (v !== 0) return i * 32 + 31 - Math.clz32(v);
  }
  return -1;
}
