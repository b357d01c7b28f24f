// Partial-order reduction never changes a verdict (issue 11, "Checked by"), over random small
// models of the contract: P processes, each counting a local variable up to L (a local step,
// declared independent: it touches only its own counter, which no property reads, and nothing
// else enables it) and then applying its own map x := (a·x + c) mod M to the shared x, at most B
// times. Properties: x never equals t (always), x equals u at every dead end (at-end). Reduced and
// full searches, both orders, must give the same verdict and property, and a complete reduced
// search no more states.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { explore } from '../../src/check/explore.js';
import { packModel } from '../../src/check/model-adapter.js';
import type { Model } from '../../src/sim/model.js';

const M = 5;

interface Spec {
  readonly maps: readonly { a: number; c: number }[];
  readonly local: number;
  readonly budget: number;
  readonly avoid: number;
  readonly end: number;
}

interface S {
  words: Uint32Array; // [x, local_0, used_0, local_1, used_1, ...]
}

/** Action 2p: process p's local step; 2p+1: its shared step. */
function model(spec: Spec): Model<S, number, null> {
  const n = spec.maps.length;
  const enabled = (s: S, action: number) => {
    const p = action >> 1;
    const local = s.words[1 + 2 * p];
    if ((action & 1) === 0) return local < spec.local;
    return local === spec.local && s.words[2 + 2 * p] < spec.budget;
  };
  return {
    init: () => ({ words: new Uint32Array(1 + 2 * n) }),
    enabled: (s) => Array.from({ length: 2 * n }, (_, a) => a).filter((a) => enabled(s, a)),
    step(s, action) {
      const p = action >> 1;
      if ((action & 1) === 0) {
        s.words[1 + 2 * p]++;
        return;
      }
      const { a, c } = spec.maps[p];
      s.words[0] = (a * s.words[0] + c) % M;
      s.words[2 + 2 * p]++;
    },
    clone: (s) => ({ words: s.words.slice() }),
    encode: (s) => s.words,
    decode: (_like, w) => ({ words: w.slice() }),
    load(s, w) {
      s.words.set(w);
    },
    independent: (_s, action) => (action & 1) === 0,
    describeAction: (_s, action) => `P${action >> 1} ${(action & 1) === 0 ? 'local' : 'shared'}`,
    properties: [
      { name: 'avoid', expect: 'always', holds: (s) => s.words[0] !== spec.avoid },
      { name: 'end', expect: 'at-end', holds: (s) => s.words[0] === spec.end },
    ],
  };
}

const specs = fc.record({
  maps: fc.array(
    fc.record({ a: fc.integer({ min: 0, max: M - 1 }), c: fc.integer({ min: 0, max: M - 1 }) }),
    {
      minLength: 1,
      maxLength: 3,
    },
  ),
  local: fc.integer({ min: 1, max: 3 }),
  budget: fc.integer({ min: 1, max: 2 }),
  avoid: fc.integer({ min: 0, max: M }),
  end: fc.integer({ min: 0, max: M }),
});

describe('partial-order reduction', () => {
  it('gives the full search verdict on random small models (fast-check)', () => {
    let reducedSomewhere = false;
    fc.assert(
      fc.property(specs, (spec) => {
        const packed = packModel('random', model(spec), { events: null, clear() {} });
        for (const search of ['dfs', 'bfs'] as const) {
          for (const properties of [['avoid'], ['end'], ['avoid', 'end']]) {
            const full = explore(packed, { search, properties, por: false });
            const reduced = explore(packed, { search, properties });
            expect([reduced.verdict, reduced.violated]).toEqual([full.verdict, full.violated]);
            // A complete reduced search visits a subset of the states (one that stops at a
            // violation may take another way to it).
            if (full.verdict === 'holds') {
              expect(reduced.states).toBeLessThanOrEqual(full.states);
              if (reduced.states < full.states) reducedSomewhere = true;
            }
          }
        }
      }),
      { numRuns: 150 },
    );
    expect(reducedSomewhere).toBe(true);
  });
});
