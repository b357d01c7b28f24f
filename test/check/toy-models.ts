// Two small models of the contract (`sim/model.ts` Model) with state spaces known in closed form,
// for the engine's own tests: N independent counters 0..M, and two philosophers taking two forks
// in opposite orders (the textbook deadlock).
import type { Model, Property } from '../../src/sim/model.js';

export interface Words {
  words: Uint32Array;
}

const clone = (s: Words): Words => ({ words: s.words.slice() });
const load = (s: Words, w: Uint32Array) => {
  s.words.set(w);
};

/** N counters, each stepped 0..M by its own action: (M+1)^N states, N·M·(M+1)^(N-1) edges. */
export function counters(
  n: number,
  m: number,
  opts: { independent?: boolean; properties?: Property<Words>[] } = {},
): Model<Words, number, null> {
  return {
    init: () => ({ words: new Uint32Array(n) }),
    enabled: (s) => Array.from({ length: n }, (_, i) => i).filter((i) => s.words[i] < m),
    step(s, i) {
      s.words[i]++;
    },
    clone,
    encode: (s) => s.words,
    decode: (_like, w) => ({ words: w.slice() }),
    load,
    independent: opts.independent ? () => true : undefined,
    describeAction: (_s, i) => `counter ${i}++`,
    properties: opts.properties ?? [
      {
        name: 'each-at-most-m',
        expect: 'always',
        holds: (s) => s.words.every((c) => c <= m),
      },
      { name: 'all-at-m', expect: 'at-end', holds: (s) => s.words.every((c) => c === m) },
    ],
  };
}

/** Philosopher 0 takes fork 0 then fork 1, philosopher 1 fork 1 then fork 0; each puts both
 *  back and starts again. pcs 0 (no fork), 1 (first fork), 2 (both): 6 reachable states, one a
 *  dead end (each holds its first fork). State: [pc0, pc1]. */
export function philosophers(): Model<Words, number, null> {
  const holds = (pc: Uint32Array, p: number, fork: number) =>
    pc[p] === 2 || (pc[p] === 1 && fork === p);
  const free = (pc: Uint32Array, fork: number) => !holds(pc, 0, fork) && !holds(pc, 1, fork);
  return {
    init: () => ({ words: new Uint32Array(2) }),
    enabled: (s) =>
      [0, 1].filter((p) => s.words[p] === 2 || free(s.words, s.words[p] === 0 ? p : 1 - p)),
    step(s, p) {
      s.words[p] = (s.words[p] + 1) % 3;
    },
    clone,
    encode: (s) => s.words,
    decode: (_like, w) => ({ words: w.slice() }),
    load,
    describeAction: (s, p) =>
      s.words[p] === 2
        ? `P${p} puts both forks back`
        : `P${p} takes fork ${s.words[p] === 0 ? p : 1 - p}`,
    properties: [{ name: 'no-deadlock', expect: 'at-end', holds: () => false }],
  };
}
