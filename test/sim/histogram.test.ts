// The latency histogram: a percentile is never below the exact one (sorted samples) and at most
// 1/64 above it, the bound its bucket layout promises.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createHistogram, histogramAdd, histogramPercentile } from '../../src/sim/histogram.js';

const exact = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(1, Math.ceil((p / 100) * s.length)) - 1];
};

describe('histogram', () => {
  it('is exact below 128 ns', () => {
    const h = createHistogram();
    for (const v of [5, 7, 100, 127]) histogramAdd(h, v);
    expect(histogramPercentile(h, 50)).toBe(7);
    expect(histogramPercentile(h, 100)).toBe(127);
  });
  it('reports 0 with no samples', () => {
    expect(histogramPercentile(createHistogram(), 99)).toBe(0);
  });
  it('bounds every percentile within 1/64 above the exact value', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 2 ** 31 }), { minLength: 1, maxLength: 400 }),
        fc.constantFrom(50, 90, 99, 99.9, 100),
        (xs, p) => {
          const h = createHistogram();
          for (const x of xs) histogramAdd(h, x);
          const want = exact(xs, p);
          const got = histogramPercentile(h, p);
          expect(got).toBeGreaterThanOrEqual(want);
          expect(got).toBeLessThanOrEqual(want + Math.floor(want / 64) + 1);
        },
      ),
    );
  });
});
