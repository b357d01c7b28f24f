// Hot-path bit arrays of the whole-system state (PIR, IRR, pending bits) by bit index counted
// from word 0 of the state (`hw/bitmap.ts`'s hot forms, re-exported), and the state's FIFOs (a
// count word, then records). (Fields: `hw/field-pos.ts`.)

/** Highest set bit of the `dwords`-long bit array at word `at` (its own numbering), or -1. */
export { bitmapHighestIn as highestBit, clearBit, setBit, testBit } from '../hw/bitmap.js';

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
