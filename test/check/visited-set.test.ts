// The visited set against the obvious oracle (a JS Set of the words as strings): `add` is true
// exactly for a state not added before, across the table's growth, for both stores; the load
// never passes 3/4.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type StoreKind, VisitedSet } from '../../src/check/visited-set.js';

function agreesWithOracle(kind: StoreKind, k: number, states: number[][]): VisitedSet {
  const set = new VisitedSet(kind, k);
  const oracle = new Set<string>();
  const w = new Uint32Array(k);
  for (const s of states) {
    w.set(s);
    if (set.full) set.grow();
    const key = s.join(',');
    expect(set.add(w, 0)).toBe(!oracle.has(key));
    oracle.add(key);
    expect(set.has(w, 0)).toBe(true);
    expect(set.size * 4).toBeLessThanOrEqual(set.capacity * 3);
  }
  expect(set.size).toBe(oracle.size);
  return set;
}

describe('visited set', () => {
  it.each(['full', 'fingerprint'] as const)(
    '%s: random states with repeats (fast-check)',
    (kind) => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 4 }),
          fc.array(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 4, maxLength: 4 }), {
            maxLength: 200,
          }),
          (k, rows) => {
            agreesWithOracle(
              kind,
              k,
              rows.map((r) => r.slice(0, k)),
            );
          },
        ),
        { numRuns: 50 },
      );
    },
  );

  it.each(['full', 'fingerprint'] as const)(
    '%s: 120,000 adds of up to 2^16 distinct states, across growth',
    (kind) => {
      const rows: number[][] = [];
      let x = 12345;
      for (let i = 0; i < 120_000; i++) {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0;
        rows.push([(x >>> 8) & 0xff, (x >>> 16) & 0xff, 0xffffffff]);
      }
      const set = agreesWithOracle(kind, 3, rows);
      expect(set.size).toBeGreaterThan(49152);
      expect(set.capacity).toBe(2 ** 17);
    },
  );

  it('keeps the all-zero state as a state (full store: an all-zero slot is empty)', () => {
    const set = new VisitedSet('full', 2);
    const zero = new Uint32Array(2);
    expect([set.add(zero, 0), set.add(zero, 0), set.size]).toEqual([true, false, 1]);
  });

  it('a long state starts with a small table (at most 4 MiB) and still agrees with a JS Set', () => {
    const k = 256;
    const set = new VisitedSet('full', k);
    expect(set.bytes).toBeLessThanOrEqual(4 * 1024 * 1024);
    expect(new VisitedSet('full', 3).capacity).toBe(2 ** 16);
    const rows = Array.from({ length: 5000 }, (_, i) =>
      Array.from({ length: k }, (_, j) => (j === i % k ? i : j === 0 ? 1 : 0)),
    );
    const oracle = new Set<string>();
    for (const row of rows) {
      if (set.full) set.grow();
      expect(set.add(Uint32Array.from(row), 0)).toBe(!oracle.has(row.join()));
      oracle.add(row.join());
    }
    expect(set.size).toBe(oracle.size);
  });
});
