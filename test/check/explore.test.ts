// The engine on models whose state spaces are known in closed form (test/check/toy-models.ts):
// counts by pan's convention (transitions = stored + matched = edges + 1), BFS's shortest
// counterexample, dead ends, `sometimes`, the bounds that end a search as "incomplete" (never
// "holds"), partial-order reduction, progress.
import { describe, expect, it } from 'vitest';
import { explore } from '../../src/check/explore.js';
import { packModel } from '../../src/check/model-adapter.js';
import { formatProgress, ttyProgress } from '../../src/check/progress.js';
import type { Model } from '../../src/sim/model.js';
import { counters, philosophers, type Words } from './toy-models.js';

const NO_EVENTS = { events: null, clear() {} };
const pack = (name: string, model: Model<Words, number, null>) => packModel(name, model, NO_EVENTS);

describe('explore: counts', () => {
  it.each([
    [1, 5],
    [2, 3],
    [3, 2],
    [4, 3],
  ])('%i counters 0..%i: (M+1)^N states, N·M·(M+1)^(N-1) + 1 transitions, both orders', (n, m) => {
    const states = (m + 1) ** n;
    const edges = n * m * (m + 1) ** (n - 1);
    for (const search of ['dfs', 'bfs'] as const) {
      for (const store of ['full', 'fingerprint'] as const) {
        const r = explore(pack('counters', counters(n, m)), { search, store });
        expect(r.verdict).toBe('holds');
        expect([r.states, r.transitions, r.matched]).toEqual([
          states,
          edges + 1,
          edges + 1 - states,
        ]);
        expect(r.store).toBe(store);
      }
    }
    // The deepest state (all at M) is N·M steps from the initial one, on every path.
    expect(explore(pack('counters', counters(n, m)), { search: 'bfs' }).maxDepth).toBe(n * m);
  });
});

describe('explore: properties and counterexamples', () => {
  const sumBelow = (limit: number) => ({
    name: `sum-below-${limit}`,
    expect: 'always' as const,
    holds: (s: Words) => s.words.reduce((a, b) => a + b, 0) < limit,
  });

  it('BFS returns a shortest counterexample: the sum of 3 counters reaches 4 in 4 steps', () => {
    const r = explore(pack('counters', counters(3, 3, { properties: [sumBelow(4)] })), {
      search: 'bfs',
    });
    expect(r.verdict).toBe('violated');
    expect(r.violated).toEqual({ property: 'sum-below-4', expect: 'always' });
    expect(r.counterexample?.length).toBe(4);
    // DFS in the model's order runs counter 0 up first: 0,0,0 then counter 1.
    const d = explore(pack('counters', counters(3, 3, { properties: [sumBelow(4)] })));
    expect(d.counterexample?.map((s) => s.label)).toEqual([
      'counter 0++',
      'counter 0++',
      'counter 0++',
      'counter 1++',
    ]);
  });

  it('an initial state that breaks a property gives an empty counterexample', () => {
    const r = explore(pack('counters', counters(2, 2, { properties: [sumBelow(0)] })));
    expect([r.verdict, r.states, r.counterexample]).toEqual(['violated', 0, []]);
  });

  it('finds the philosophers deadlock as a dead end, 2 steps by BFS, in 6 states', () => {
    const all = explore(pack('philosophers', philosophers()), { properties: [] });
    expect([all.verdict, all.states]).toEqual(['holds', 6]);
    const r = explore(pack('philosophers', philosophers()), { search: 'bfs' });
    expect(r.violated).toEqual({ property: 'no-deadlock', expect: 'at-end' });
    expect(r.counterexample?.map((s) => s.label)).toEqual(['P0 takes fork 0', 'P1 takes fork 1']);
  });

  it('a `sometimes` property holds when some state meets it and is violated when none does', () => {
    const reach = (total: number) => ({
      name: `sum-${total}`,
      expect: 'sometimes' as const,
      holds: (s: Words) => s.words.reduce((a, b) => a + b, 0) === total,
    });
    const model = (total: number) =>
      pack('counters', counters(2, 2, { properties: [reach(total)] }));
    expect(explore(model(4)).verdict).toBe('holds');
    const r = explore(model(5));
    expect([r.verdict, r.violated?.property, r.counterexample]).toEqual([
      'violated',
      'sum-5',
      null,
    ]);
  });

  it('checks only the properties asked for, and rejects an unknown name', () => {
    const r = explore(pack('counters', counters(2, 2)), { properties: ['all-at-m'] });
    expect(r.properties).toEqual(['all-at-m']);
    expect(() => explore(pack('counters', counters(2, 2)), { properties: ['nope'] })).toThrow(
      /no property 'nope'.*each-at-most-m, all-at-m/,
    );
  });
});

describe('explore: bounds end the search as incomplete, naming the bound', () => {
  it('max-states', () => {
    const r = explore(pack('counters', counters(3, 3)), { maxStates: 10 });
    expect([r.verdict, r.bound, r.states]).toEqual(['incomplete', 'max-states', 10]);
  });
  it.each(['dfs', 'bfs'] as const)('max-depth (%s)', (search) => {
    const r = explore(pack('counters', counters(3, 3)), { maxDepth: 4, search });
    expect([r.verdict, r.bound, r.maxDepth]).toEqual(['incomplete', 'max-depth', 4]);
  });
  it('a violation within the bound is still reported as violated', () => {
    const r = explore(pack('philosophers', philosophers()), { maxDepth: 2, search: 'bfs' });
    expect(r.verdict).toBe('violated');
  });
  it.each(['dfs', 'bfs'] as const)(
    'memory: the visited set may not grow past maxBytes (%s)',
    (search) => {
      // 4 counters 0..15: 65,536 states of 4 words; the set starts at 2^16 slots (1 MiB) and must
      // double at 49,152 states.
      const r = explore(pack('counters', counters(4, 15)), { maxBytes: 1.5 * 2 ** 20, search });
      expect([r.verdict, r.bound]).toEqual(['incomplete', 'memory']);
      // DFS: exactly the states that fit; BFS: its queue counts too, so it stops earlier.
      if (search === 'dfs') expect(r.states).toBe(49152);
      else expect(r.states).toBeLessThan(49152);
    },
  );
});

describe('explore: partial-order reduction', () => {
  it('takes one independent action at a time: N·M + 1 states, same verdicts', () => {
    const model = pack('counters', counters(3, 4, { independent: true }));
    const reduced = explore(model);
    expect([reduced.verdict, reduced.por, reduced.states, reduced.transitions]).toEqual([
      'holds',
      true,
      13,
      13,
    ]);
    const full = explore(model, { por: false });
    expect([full.verdict, full.por, full.states]).toEqual(['holds', false, 125]);
  });
  it('is off for a model that declares no independence', () => {
    expect(explore(pack('counters', counters(2, 2))).por).toBe(false);
  });
});

describe('explore: the Model adapter', () => {
  it('restores states with decode when the model has no load: the same counts', () => {
    const { load: _load, ...withoutLoad } = counters(3, 2);
    const r = explore(pack('counters', withoutLoad));
    expect([r.states, r.transitions]).toEqual([27, 3 * 2 * 9 + 1]);
  });
  it('clears the events a step appends after every step', () => {
    const log: number[] = [];
    const base = counters(2, 2);
    const model: Model<Words, number, number[]> = {
      ...base,
      step(s, a, events) {
        base.step(s, a, null);
        events.push(a);
      },
    };
    let clears = 0;
    const r = explore(
      packModel('counters', model, {
        events: log,
        clear(e) {
          clears++;
          e.length = 0;
        },
      }),
    );
    expect([r.transitions - 1, clears, log.length]).toEqual([12, 12, 0]);
  });
});

describe('explore: progress', () => {
  it('prints nothing where stderr is not a terminal', () => {
    const p = ttyProgress({ isTTY: false } as NodeJS.WriteStream);
    expect(p.onProgress).toBeUndefined();
  });
  it('reports states, rate, depth and memory every 4096 states, and once at the end', () => {
    const seen: string[] = [];
    const states: number[] = [];
    explore(pack('counters', counters(2, 99)), {
      progressIntervalMs: 0,
      onProgress(p) {
        states.push(p.states);
        seen.push(formatProgress(p));
      },
    });
    expect(states).toEqual([4096, 8192, 10000]);
    expect(seen[0]).toMatch(
      /^4,096 states, [\d.]+ [kM] states\/s, [\d,]+ transitions, depth \d+, [\d.]+ MiB, [\d.]+ s$/,
    );
  });
});
