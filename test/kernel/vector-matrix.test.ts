// The x86 vector matrix allocator against Linux's kernel/irq/matrix.c rules: which CPU and which
// vector an allocation takes, managed reservations, reservation mode, system vectors, and
// exhaustion as a typed failure that names the mask and the counts and changes nothing.
import { describe, expect, test } from 'vitest';
import { type CpuId, cpuMask, cpuRange } from '../../src/kernel/types.js';
import {
  checkVectorMatrix,
  formatVectorMatrix,
  matrixAlloc,
  matrixAllocManaged,
  matrixAssign,
  matrixAssignSystem,
  matrixCreate,
  matrixFree,
  matrixOnline,
  matrixRemoveManaged,
  matrixReserve,
  matrixReserveManaged,
  type VectorMatrix,
} from '../../src/kernel/vector-matrix.js';

/** FIRST_EXTERNAL_VECTOR 0x20 .. FIRST_SYSTEM_VECTOR 0xec (arch/x86/include/asm/irq_vectors.h). */
function x86Matrix(cpus: number, system: number[] = []): VectorMatrix {
  const m = matrixCreate({ nrCpus: cpus, allocStart: 0x20, allocEnd: 0xec });
  for (const v of system) matrixAssignSystem(m, v, { replace: false });
  for (let c = 0; c < cpus; c++) matrixOnline(m, c as CpuId);
  return m;
}

const all = (n: number) => cpuRange(n);

describe('vector matrix', () => {
  test('204 vectors per CPU between 0x20 and 0xeb (perf-anchors L1), 202 without 0x20 and 0x80', () => {
    expect(x86Matrix(1).maps[0].available).toBe(204);
    expect(x86Matrix(2, [0x20, 0x80]).maps[1].available).toBe(202);
  });

  test('a regular vector goes to the CPU with the most available, the first of equals', () => {
    const m = x86Matrix(4);
    const a = matrixAlloc(m, all(4), { reserved: false });
    expect(a).toMatchObject({ ok: true, cpu: 0, vector: 0x20 });
    const b = matrixAlloc(m, all(4), { reserved: false });
    expect(b).toMatchObject({ ok: true, cpu: 1, vector: 0x20 });
    matrixAlloc(m, all(4), { reserved: false });
    matrixAlloc(m, all(4), { reserved: false });
    expect(matrixAlloc(m, all(4), { reserved: false })).toMatchObject({ cpu: 0, vector: 0x21 });
    checkVectorMatrix(m);
  });

  test('the lowest free vector, skipping system and managed bits', () => {
    const m = x86Matrix(1, [0x20, 0x21]);
    matrixReserveManaged(m, [0 as CpuId]);
    expect(matrixAlloc(m, all(1), { reserved: false })).toMatchObject({ vector: 0x23 });
    checkVectorMatrix(m);
  });

  test('managed: one bit reserved on every CPU of the mask, allocated on the CPU with the fewest managed allocations, the LAST of equals', () => {
    const m = x86Matrix(2);
    expect(matrixReserveManaged(m, all(2)).ok).toBe(true);
    expect(m.maps.map((c) => [c.managed, c.available])).toEqual([
      [1, 203],
      [1, 203],
    ]);
    expect(matrixAllocManaged(m, all(2))).toMatchObject({ ok: true, cpu: 1, vector: 0x20 });
    // Allocation does not change the available counts: the bit was reserved already.
    expect(m.maps.map((c) => c.available)).toEqual([203, 203]);
    matrixReserveManaged(m, all(2));
    expect(matrixAllocManaged(m, all(2))).toMatchObject({ cpu: 0 });
    checkVectorMatrix(m);
  });

  test('freeing a managed vector keeps it reserved; removing the reservation gives it back', () => {
    const m = x86Matrix(1);
    matrixReserveManaged(m, all(1));
    const r = matrixAllocManaged(m, all(1));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    matrixFree(m, r.cpu, r.vector, { managed: true });
    expect(m.maps[0]).toMatchObject({ managed: 1, managedAllocated: 0, available: 203 });
    matrixRemoveManaged(m, all(1));
    expect(m.maps[0]).toMatchObject({ managed: 0, available: 204 });
    checkVectorMatrix(m);
  });

  test('reservation mode: a global reservation, consumed by the allocation that follows it', () => {
    const m = x86Matrix(2);
    matrixReserve(m);
    expect(m.globalReserved).toBe(1);
    matrixAlloc(m, all(2), { reserved: true });
    expect(m.globalReserved).toBe(0);
    expect(m.globalAvailable).toBe(2 * 204 - 1);
  });

  test('legacy vectors: assigned on the boot CPU, turned into a system bit with replace', () => {
    const m = matrixCreate({ nrCpus: 2, allocStart: 0x20, allocEnd: 0xec });
    matrixOnline(m, 0 as CpuId);
    matrixAssign(m, 0 as CpuId, 0x31);
    expect(m.maps[0]).toMatchObject({ allocated: 1, available: 203 });
    matrixAssignSystem(m, 0x31, { replace: true, cpu: 0 as CpuId });
    matrixOnline(m, 1 as CpuId);
    expect(m.maps[1].available).toBe(203);
    checkVectorMatrix(m);
  });

  test('exhaustion: ENOSPC naming the mask and each CPU counts, and nothing changed', () => {
    const m = x86Matrix(2);
    for (let i = 0; i < 204; i++) matrixAlloc(m, [1 as CpuId], { reserved: false });
    const before = structuredClone(m);
    const r = matrixAlloc(m, [1 as CpuId], { reserved: false });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errno).toBe('ENOSPC');
    expect(r.reason).toContain('CPU mask 1');
    expect(r.reason).toContain('CPU1 avl 0 man 0 mac 0 act 204');
    expect(m).toEqual(before);
  });

  test('managed reservation is all or nothing: a full CPU undoes the CPUs before it', () => {
    const m = x86Matrix(3);
    for (let i = 0; i < 204; i++) matrixAlloc(m, [2 as CpuId], { reserved: false });
    const before = structuredClone(m);
    const r = matrixReserveManaged(m, all(3));
    expect(r).toMatchObject({ ok: false, errno: 'ENOSPC' });
    if (!r.ok) expect(r.reason).toContain('on CPU 2');
    expect(m).toEqual(before);
  });

  test('an empty mask is EINVAL, an offline CPU is never chosen', () => {
    const m = matrixCreate({ nrCpus: 2, allocStart: 0x20, allocEnd: 0xec });
    matrixOnline(m, 0 as CpuId);
    expect(matrixAlloc(m, [], { reserved: false })).toMatchObject({ ok: false, errno: 'EINVAL' });
    expect(matrixAlloc(m, [1 as CpuId], { reserved: false })).toMatchObject({ errno: 'ENOSPC' });
    expect(matrixAlloc(m, cpuMask([0, 1]), { reserved: false })).toMatchObject({ cpu: 0 });
  });

  test('debugfs format: the | CPU | avl | man | mac | act | vectors table', () => {
    const m = x86Matrix(2, [0x20]);
    matrixAlloc(m, all(2), { reserved: false });
    const text = formatVectorMatrix(m);
    expect(text).toContain('Online bitmaps:        2');
    expect(text).toContain('System: 1: 32');
    expect(text).toContain(' | CPU | avl | man | mac | act | vectors');
    expect(text).toContain('     0   202     0     0    1  33');
  });
});
