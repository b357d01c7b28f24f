// Bit arrays held as little-endian dwords: the MSI-X Pending Bit Array (PCIe: bit n of QWORD
// n/64), the MSI Pending Bits, an IMS store's pending state, the posted-interrupt descriptor's PIR
// and the local APIC's IRR/ISR/TMR (SDM: bit n of the 256-bit register is bit n%32 of the 32-bit
// register at 0x10*(n/32)). All of them number bit n as bit (n mod 32) of dword floor(n / 32), so
// one small module serves them; the index arithmetic here is the arrays' own numbering, not a spec
// field, which stays in `bits.ts` layouts.
// Invariant: callers pass an index below 32 * words.length (asserted: an out-of-range bit is an
// irqlab bug, the hardware blocks check their own bounds and report bad input themselves).

import type { Dwords, MutableDwords } from './bits.js';
import { assert } from './errors.js';

const DWORD_BITS = 32;

/** Dwords needed for `bits` bits, rounded up to whole `granuleBits` (64 for the PCIe PBA). */
export const bitmapDwords = (bits: number, granuleBits = DWORD_BITS): number =>
  (Math.ceil(bits / granuleBits) * granuleBits) / DWORD_BITS;

function locate(words: Dwords, bit: number): number {
  assert(
    Number.isInteger(bit) && bit >= 0 && bit < words.length * DWORD_BITS,
    `bitmap: bit ${bit} outside ${words.length * DWORD_BITS} bits`,
  );
  return bit >>> 5;
}

export function bitmapTest(words: Dwords, bit: number): boolean {
  const w = locate(words, bit);
  return ((words[w] >>> (bit & 31)) & 1) === 1;
}

export function bitmapSet(words: MutableDwords, bit: number): void {
  const w = locate(words, bit);
  words[w] = (words[w] | (1 << (bit & 31))) >>> 0;
}

export function bitmapClear(words: MutableDwords, bit: number): void {
  const w = locate(words, bit);
  words[w] = (words[w] & ~(1 << (bit & 31))) >>> 0;
}

/** Number of set bits. */
export function bitmapCount(words: Dwords): number {
  let n = 0;
  for (let w = 0; w < words.length; w++) {
    let v = words[w] >>> 0;
    while (v !== 0) {
      v = (v & (v - 1)) >>> 0;
      n++;
    }
  }
  return n;
}

/** Index of the highest set bit, or -1 if none (the LAPIC's "highest priority" is the highest). */
export const bitmapHighest = (words: Dwords): number => bitmapHighestIn(words, 0, words.length);

/** Highest set bit of the `dwords`-long bit array at word `at` of `words` (its own numbering), or
 *  -1: the form a register held inside a larger array of words is read with. */
export function bitmapHighestIn(words: Dwords, at: number, dwords: number): number {
  for (let i = dwords - 1; i >= 0; i--) {
    const v = words[at + i];
    if (v !== 0) return i * DWORD_BITS + 31 - Math.clz32(v);
  }
  return -1;
}

/** Indices of the set bits, lowest first. */
export function bitmapIndices(words: Dwords): number[] {
  const out: number[] = [];
  for (let w = 0; w < words.length; w++) {
    const v = words[w] >>> 0;
    if (v === 0) continue;
    for (let b = 0; b < DWORD_BITS; b++) if ((v >>> b) & 1) out.push(w * DWORD_BITS + b);
  }
  return out;
}

// The same numbering for hot paths (the remapping unit's IEC bits, the whole-system state's PIR,
// IRR and pending bits), without the per-call range assertion and its message. JavaScript takes
// shift counts modulo 32, so `x << bit` and `x >>> bit` already shift by `bit % 32`; the typed
// array store wraps to uint32. Written this way all three stay within the bytecode size V8 always
// inlines: the delivery path calls them several times per interrupt.
export const testBit = (w: Uint32Array, bit: number): boolean => ((w[bit >>> 5] >>> bit) & 1) === 1;

export function setBit(w: Uint32Array, bit: number): void {
  w[bit >>> 5] |= 1 << bit;
}

export function clearBit(w: Uint32Array, bit: number): void {
  w[bit >>> 5] &= ~(1 << bit);
}
