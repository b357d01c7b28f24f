// The simulator's event queue: earliest time first, and entries due at the same time in the order
// they were scheduled (what makes a run reproducible). Expected orders come from a stable sort of
// the same entries, not from the queue.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createEventQueue,
  emptyQueueEntry,
  queuePeekTimeNs,
  queuePop,
  queuePush,
  queueRemove,
} from '../../src/sim/event-queue.js';

function drain(q: ReturnType<typeof createEventQueue>) {
  const out: { timeNs: number; a: number }[] = [];
  const e = emptyQueueEntry();
  while (queuePop(q, e)) out.push({ timeNs: e.timeNs, a: e.a });
  return out;
}

describe('event queue', () => {
  it('pops the earliest entry first', () => {
    const q = createEventQueue(2);
    queuePush(q, 30, 1, 3, 0);
    queuePush(q, 10, 1, 1, 0);
    queuePush(q, 20, 1, 2, 0);
    expect(drain(q).map((x) => x.a)).toEqual([1, 2, 3]);
  });
  it('breaks ties by insertion order', () => {
    const q = createEventQueue(1);
    for (let i = 0; i < 10; i++) queuePush(q, 5, 0, i, 0);
    expect(drain(q).map((x) => x.a)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
  it('reports an empty queue and the next time', () => {
    const q = createEventQueue();
    expect(queuePeekTimeNs(q)).toBe(Number.POSITIVE_INFINITY);
    queuePush(q, 7, 0, 0, 0);
    expect(queuePeekTimeNs(q)).toBe(7);
    expect(queuePop(q, emptyQueueEntry())).toBe(true);
    expect(queuePop(q, emptyQueueEntry())).toBe(false);
  });
  it('matches a stable sort by time for any pushes, interleaved with pops', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 50 }), fc.boolean()), { maxLength: 300 }),
        (ops) => {
          const q = createEventQueue(1);
          const model: { timeNs: number; a: number }[] = [];
          const popped: number[] = [];
          const expected: number[] = [];
          const e = emptyQueueEntry();
          ops.forEach(([t, pop], i) => {
            queuePush(q, t, 0, i, 0);
            model.push({ timeNs: t, a: i });
            if (pop) {
              // the reference: the earliest time, lowest insertion index among equals
              model.sort((x, y) => x.timeNs - y.timeNs || x.a - y.a);
              expected.push(model.shift()?.a ?? -1);
              queuePop(q, e);
              popped.push(e.a);
            }
          });
          model.sort((x, y) => x.timeNs - y.timeNs || x.a - y.a);
          expect(popped).toEqual(expected);
          expect(drain(q).map((x) => x.a)).toEqual(model.map((x) => x.a));
        },
      ),
    );
  });
  it('removing an entry at any heap position leaves the others in stable time order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 100 }),
        fc.array(fc.nat(), { maxLength: 50 }),
        (times, removals) => {
          const q = createEventQueue(1);
          times.forEach((t, i) => {
            queuePush(q, t, 0, i, 0);
          });
          const left = new Set(times.map((_, i) => i));
          const e = emptyQueueEntry();
          for (const r of removals) {
            if (q.size === 0) break;
            queueRemove(q, r % q.size, e);
            expect(left.delete(e.a)).toBe(true); // each entry comes out once
            expect(e.timeNs).toBe(times[e.a]);
          }
          const expected = [...left].sort((x, y) => times[x] - times[y] || x - y);
          expect(drain(q).map((x) => x.a)).toEqual(expected);
        },
      ),
    );
  });
});
