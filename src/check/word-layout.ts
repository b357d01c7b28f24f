// A layout compiler for packed explorer states (reference/explorer-limit.md §1): every variable
// a model can change gets the fewest bits its range needs, and the fields are placed first-fit
// into 32-bit words, none straddling two words, so a successor is computed by get/set on the
// words with precomputed positions (`hw/field-pos.ts`' FieldPos, read and written with its
// getField/setField). Invariants: fields do not overlap; each lies within one word; `words` is
// the fewest words first-fit needs for the fields in the order given.

import { assert } from '../hw/errors.js';
import type { FieldPos } from '../hw/field-pos.js';

/** Bits a field holding 0..max needs (at least 1). */
export function bitsFor(max: number): number {
  assert(Number.isInteger(max) && max >= 0 && max < 2 ** 32, `bitsFor: bad range 0..${max}`);
  let bits = 1;
  while (2 ** bits <= max) bits++;
  return bits;
}

export interface WordLayout<N extends string> {
  readonly words: number;
  readonly bits: number;
  readonly fields: Readonly<Record<N, FieldPos>>;
}

/** Places fields (name -> largest value) first-fit into words, in the order given. */
export function packFields<N extends string>(ranges: Readonly<Record<N, number>>): WordLayout<N> {
  const free: number[] = [];
  const fields = {} as Record<N, FieldPos>;
  let bits = 0;
  for (const name of Object.keys(ranges) as N[]) {
    const width = bitsFor(ranges[name]);
    let word = free.findIndex((f) => f >= width);
    if (word < 0) {
      word = free.length;
      free.push(32);
    }
    const shift = 32 - free[word];
    free[word] -= width;
    bits += width;
    const mask = width === 32 ? -1 : 2 ** width - 1;
    fields[name] = { dword: word, shift, mask, bits: mask << shift };
  }
  return { words: Math.max(1, free.length), bits, fields };
}
