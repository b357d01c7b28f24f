// xoshiro128** and the deterministic logarithm. Reference outputs: xoshiro128** 1.1 applied by hand
// to the state {1, 2, 3, 4} (Blackman & Vigna's xoshiro128starstar.c: result = rotl(s[1] * 5, 7) * 9,
// then t = s[1] << 9; s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t;
// s[3] = rotl(s[3], 11)): 11520, 0, 5927040.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  lnDeterministic,
  prngBelow,
  prngExponentialNs,
  prngFromSeed,
  prngNext,
  prngUnitOpen,
} from '../../src/sim/prng.js';

describe('xoshiro128**', () => {
  it('produces the reference sequence from state {1, 2, 3, 4}', () => {
    const s = new Uint32Array([1, 2, 3, 4]);
    expect([prngNext(s), prngNext(s), prngNext(s)]).toEqual([11520, 0, 5927040]);
  });
  it('gives the same sequence for the same seed and another for another seed', () => {
    const a = prngFromSeed(42);
    const b = prngFromSeed(42);
    const c = prngFromSeed(43);
    const xs = Array.from({ length: 8 }, () => prngNext(a));
    expect(Array.from({ length: 8 }, () => prngNext(b))).toEqual(xs);
    expect(Array.from({ length: 8 }, () => prngNext(c))).not.toEqual(xs);
  });
  it('never seeds the all-zero state', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (seed) => {
        const s = prngFromSeed(seed);
        expect(s[0] | s[1] | s[2] | s[3]).not.toBe(0);
      }),
    );
  });
  it('draws unit values in (0, 1] and integers below n', () => {
    const s = prngFromSeed(1);
    for (let i = 0; i < 1000; i++) {
      const u = prngUnitOpen(s);
      expect(u).toBeGreaterThan(0);
      expect(u).toBeLessThanOrEqual(1);
      const k = prngBelow(s, 7);
      expect(Number.isInteger(k) && k >= 0 && k < 7).toBe(true);
    }
  });
  it('exponential inter-arrival times average the mean (fixed seed, 200k draws, within 1 %)', () => {
    const s = prngFromSeed(7);
    const n = 200_000;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += prngExponentialNs(s, 10_000);
    expect(Math.abs(sum / n / 10_000 - 1)).toBeLessThan(0.01);
  });
});

describe('lnDeterministic', () => {
  it('agrees with Math.log to 1e-14 relative over (0, 1e6]', () => {
    fc.assert(
      fc.property(fc.double({ min: 1e-300, max: 1e6, noNaN: true }), (x) => {
        const expected = Math.log(x);
        const got = lnDeterministic(x);
        expect(Math.abs(got - expected)).toBeLessThanOrEqual(
          1e-14 * Math.max(1, Math.abs(expected)),
        );
      }),
    );
  });
  it('is exact at 1 and gives ln 2 at 2', () => {
    expect(lnDeterministic(1)).toBe(0);
    expect(lnDeterministic(2)).toBeCloseTo(Math.LN2, 15);
  });
});
