// Hot-path bit arrays of the whole-system state (PIR, IRR, pending bits) by bit index counted
// from word 0 of the state, as `hw/bitmap.ts` numbers them, without its per-call range assertion
// string; and the state's FIFOs (a count word, then records). (Fields: `hw/field-pos.ts`.)

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
export { bitmapHighestIn as highestBit } from '../hw/bitmap.js';

/** Takes the first record off the FIFO at word `fifo` (its count, then `dwords`-long records):
 *  the rest shift down and the freed slot is zeroed, so the FIFO stays canonical (the same
 *  records give the same words). The caller has read the first record. */
export function fifoShift(w: Uint32Array, fifo: number, dwords: number): void {
  const count = w[fifo];
  const at = fifo + 1;
  const end = at + (count - 1) * dwords;
  for (let i = at; i < end; i++) w[i] = w[i + dwords];
  for (let i = end; i < end + dwords; i++) w[i] = 0;
  w[fifo] = count - 1;
}
