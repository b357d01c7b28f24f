// Property: any sequence of allocator operations keeps every CPU's counts equal to its bitmaps
// (checkVectorMatrix), never hands out a vector that is already out, and a failed operation
// changes nothing.
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { type CpuId, cpuMask } from '../../src/kernel/types.js';
import {
  checkVectorMatrix,
  matrixAlloc,
  matrixAllocManaged,
  matrixCreate,
  matrixFree,
  matrixOnline,
  matrixRemoveManaged,
  matrixReserveManaged,
} from '../../src/kernel/vector-matrix.js';

const CPUS = 3;
/** A small allocation range so that exhaustion happens within a run. */
const RANGE = { allocStart: 0x20, allocEnd: 0x28 };

type Op =
  | { op: 'alloc'; mask: number[] }
  | { op: 'reserve-managed'; mask: number[] }
  | { op: 'alloc-managed'; which: number }
  | { op: 'free'; which: number }
  | { op: 'remove-managed'; which: number };

const mask = fc.uniqueArray(fc.integer({ min: 0, max: CPUS - 1 }), {
  minLength: 1,
  maxLength: CPUS,
});
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('alloc' as const), mask }),
  fc.record({ op: fc.constant('reserve-managed' as const), mask }),
  fc.record({ op: fc.constant('alloc-managed' as const), which: fc.nat() }),
  fc.record({ op: fc.constant('free' as const), which: fc.nat() }),
  fc.record({ op: fc.constant('remove-managed' as const), which: fc.nat() }),
);

const counts = (m: ReturnType<typeof matrixCreate>) =>
  m.maps.map((c) => [c.available, c.allocated, c.managed, c.managedAllocated, c.allocMap.join()]);

test('vector matrix: counts equal bitmaps, no double assignment, failures change nothing', () => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 80 }), (ops) => {
      const m = matrixCreate({ nrCpus: CPUS, ...RANGE });
      for (let c = 0; c < CPUS; c++) matrixOnline(m, c as CpuId);
      const out = new Map<string, boolean>(); // "cpu:vector" -> managed
      const reservations: { mask: number[]; allocated: string | null }[] = [];
      for (const o of ops) {
        const before = structuredClone(m);
        switch (o.op) {
          case 'alloc': {
            const r = matrixAlloc(m, cpuMask(o.mask), { reserved: false });
            if (r.ok) {
              const key = `${r.cpu}:${r.vector}`;
              expect(out.has(key)).toBe(false);
              expect(o.mask).toContain(r.cpu);
              out.set(key, false);
            } else expect(m).toEqual(before);
            break;
          }
          case 'reserve-managed': {
            const r = matrixReserveManaged(m, cpuMask(o.mask));
            if (r.ok) reservations.push({ mask: [...cpuMask(o.mask)], allocated: null });
            // Undoing gives back the lowest unallocated managed bit of each CPU ("it does not
            // matter which one"): the counts are restored, the managed bit positions may move.
            else expect(counts(m)).toEqual(counts(before));
            break;
          }
          case 'alloc-managed': {
            const free = reservations.filter((x) => x.allocated === null);
            if (free.length === 0) break;
            const res = free[o.which % free.length];
            const r = matrixAllocManaged(m, cpuMask(res.mask));
            if (r.ok) {
              const key = `${r.cpu}:${r.vector}`;
              expect(out.has(key)).toBe(false);
              out.set(key, true);
              res.allocated = key;
            } else expect(m).toEqual(before);
            break;
          }
          case 'free': {
            const keys = [...out.keys()];
            if (keys.length === 0) break;
            const key = keys[o.which % keys.length];
            const managed = out.get(key) ?? false;
            const [cpu, vector] = key.split(':').map(Number);
            matrixFree(m, cpu as CpuId, vector, { managed });
            out.delete(key);
            for (const res of reservations) if (res.allocated === key) res.allocated = null;
            break;
          }
          case 'remove-managed': {
            const free = reservations.filter((x) => x.allocated === null);
            if (free.length === 0) break;
            const res = free[o.which % free.length];
            matrixRemoveManaged(m, cpuMask(res.mask));
            reservations.splice(reservations.indexOf(res), 1);
            break;
          }
        }
        checkVectorMatrix(m);
        const allocated = m.maps.reduce((n, c) => n + c.allocated, 0);
        expect(allocated).toBe(out.size);
      }
    }),
    { numRuns: 300 },
  );
});
