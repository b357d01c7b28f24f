// The layout compiler: the fewest bits per range, first-fit into words, no field straddling a
// word or overlapping another; the transcription of msix_affinity.pml packs NV=4,R=3 and NV=5,R=3
// into 3 words, as reference/explorer-limit.md §1 found (71 and 87 bits).
import { describe, expect, it } from 'vitest';
import { msixAffinityModel } from '../../bench/msix-affinity-model.js';
import { bitsFor, packFields } from '../../src/check/word-layout.js';

describe('word layout', () => {
  it.each([
    [0, 1],
    [1, 1],
    [2, 2],
    [3, 2],
    [4, 3],
    [255, 8],
    [256, 9],
    [2 ** 32 - 1, 32],
  ])('a field holding 0..%i needs %i bits', (max, bits) => {
    expect(bitsFor(max)).toBe(bits);
  });

  it('places fields first-fit without overlap or straddling', () => {
    const l = packFields({ a: 2 ** 20, b: 2 ** 12, c: 1, d: 2 ** 31, e: 7 });
    // a: 21 bits, b: 13 (no room beside a: next word), c: 1 (beside a), d: 32 (own word), e: 3.
    expect(l.words).toBe(3);
    expect(l.bits).toBe(21 + 13 + 1 + 32 + 3);
    const used = new Uint32Array(l.words);
    for (const f of Object.values(l.fields)) {
      expect(f.shift + Math.log2((f.mask >>> 0) + 1)).toBeLessThanOrEqual(32);
      expect(used[f.dword] & f.bits).toBe(0);
      used[f.dword] |= f.bits;
    }
  });

  it.each([
    [4, 3],
    [5, 3],
  ])('msix_affinity NV=%i R=%i: 3 words', (nv, r) => {
    expect(msixAffinityModel({ nv, r, masked: true }).stateWords).toBe(3);
  });
});
