// The x86 vector matrix allocator, Linux's `struct irq_matrix` (kernel/irq/matrix.c, T. Gleixner
// 2017): one bitmap of NR_VECTORS bits per CPU, a global bitmap of system vectors, and counters.
// The vector domain (`x86-vector.ts`) is its only user; the allocator knows nothing of irqs.
//  - System vectors (`matrixAssignSystem`) are taken on every CPU: the APIC's own vectors
//    0xec-0xff, IA32_SYSCALL 0x80, the move-cleanup vector and the PIC cascade.
//  - Managed interrupts reserve one bit on every CPU of their mask up front
//    (`matrixReserveManaged`) and take one of those bits at activation (`matrixAllocManaged`,
//    on the CPU with the fewest managed vectors allocated: ties go to the highest CPU).
//  - Regular interrupts make only a global reservation at allocation (`matrixReserve`) and get a
//    real bit at activation (`matrixAlloc`): the CPU with the most vectors available (ties go
//    to the lowest CPU), and on it the lowest free vector ("reservation mode").
// Invariants, per CPU (checked by `checkVectorMatrix`):
//   allocated === popcount(allocMap);  managed === popcount(managedMap)
//   managedAllocated === popcount(allocMap & managedMap) <= managed
//   available === allocSize - managed - systembitsInalloc - (allocated - managedAllocated)
//   no bit is both system and allocated or managed;  globalAvailable === sum over online CPUs
// Failures are data (`MatrixResult`), as Linux returns -ENOSPC: the callers undo what they did
// and say what ran out, naming the CPU mask and the counts.
// Not modelled: per-CPU hot-unplug accounting beyond online/offline counters (Linux's
// `irq_matrix_free` does not decrement total_allocated for an offline CPU; kept as is).

import { bitmapClear, bitmapCount, bitmapSet, bitmapTest } from '../hw/bitmap.js';
import { assert } from '../hw/errors.js';
import {
  type CpuId,
  type CpuMask,
  type Errno,
  fail,
  formatCpuList,
  type IrqFailure,
  type Vector,
} from './types.js';

/** NR_VECTORS: the IDT has 256 entries (SDM Vol. 3A 6.2). */
export const NR_VECTORS = 256;
const MAP_DWORDS = NR_VECTORS / 32;

export interface CpuMap {
  available: number;
  allocated: number;
  managed: number;
  managedAllocated: number;
  initialized: boolean;
  online: boolean;
  /** Bits allocated on this CPU (regular and managed), 8 dwords. */
  allocMap: number[];
  /** Bits reserved for managed interrupts on this CPU, 8 dwords. */
  managedMap: number[];
}

export interface VectorMatrix {
  readonly matrixBits: number;
  readonly allocStart: number;
  readonly allocEnd: number;
  readonly allocSize: number;
  globalAvailable: number;
  globalReserved: number;
  systembitsInalloc: number;
  totalAllocated: number;
  onlineMaps: number;
  maps: CpuMap[];
  systemMap: number[];
}

export type MatrixResult = { ok: true; cpu: CpuId; vector: Vector } | IrqFailure;

/** `irq_alloc_matrix(NR_VECTORS, FIRST_EXTERNAL_VECTOR, FIRST_SYSTEM_VECTOR)` for `nrCpus`
 *  possible CPUs, none online yet. */
export function matrixCreate(opts: {
  nrCpus: number;
  allocStart: number;
  allocEnd: number;
  matrixBits?: number;
}): VectorMatrix {
  const matrixBits = opts.matrixBits ?? NR_VECTORS;
  assert(
    opts.allocStart >= 0 && opts.allocStart < opts.allocEnd && opts.allocEnd <= matrixBits,
    `vector matrix: alloc range ${opts.allocStart}..${opts.allocEnd} outside ${matrixBits} bits`,
  );
  assert(matrixBits <= NR_VECTORS, `vector matrix: ${matrixBits} bits > ${NR_VECTORS}`);
  return {
    matrixBits,
    allocStart: opts.allocStart,
    allocEnd: opts.allocEnd,
    allocSize: opts.allocEnd - opts.allocStart,
    globalAvailable: 0,
    globalReserved: 0,
    systembitsInalloc: 0,
    totalAllocated: 0,
    onlineMaps: 0,
    maps: Array.from({ length: opts.nrCpus }, () => ({
      available: 0,
      allocated: 0,
      managed: 0,
      managedAllocated: 0,
      initialized: false,
      online: false,
      allocMap: new Array<number>(MAP_DWORDS).fill(0),
      managedMap: new Array<number>(MAP_DWORDS).fill(0),
    })),
    systemMap: new Array<number>(MAP_DWORDS).fill(0),
  };
}

const cpuMap = (m: VectorMatrix, cpu: number): CpuMap => {
  const cm = m.maps[cpu];
  assert(cm !== undefined, `vector matrix: no CPU ${cpu} (have ${m.maps.length})`);
  return cm;
};

/** `irq_matrix_online`: the CPU comes up; its available count is set once, at first online. */
export function matrixOnline(m: VectorMatrix, cpu: CpuId): void {
  const cm = cpuMap(m, cpu);
  assert(!cm.online, `vector matrix: CPU ${cpu} is already online`);
  if (!cm.initialized) {
    cm.available = m.allocSize - (cm.managed + m.systembitsInalloc);
    cm.initialized = true;
  }
  m.globalAvailable += cm.available;
  cm.online = true;
  m.onlineMaps++;
}

/** `irq_matrix_offline`. */
export function matrixOffline(m: VectorMatrix, cpu: CpuId): void {
  const cm = cpuMap(m, cpu);
  assert(cm.online, `vector matrix: CPU ${cpu} is not online`);
  m.globalAvailable -= cm.available;
  cm.online = false;
  m.onlineMaps--;
}

/** `irq_matrix_assign_system`: a vector taken on every CPU. Only legal while at most the boot
 *  CPU is online (Linux BUG()s otherwise); `replace` turns the boot CPU's allocated bit into a
 *  system bit (the legacy PIC vectors). */
export function matrixAssignSystem(
  m: VectorMatrix,
  bit: number,
  opts: { replace: false } | { replace: true; cpu: CpuId },
): void {
  assert(bit < m.matrixBits, `vector matrix: system bit ${bit} outside ${m.matrixBits}`);
  assert(
    m.onlineMaps <= 1 && (m.onlineMaps === 0 || opts.replace),
    'vector matrix: system vectors are assigned before the secondary CPUs come up',
  );
  bitmapSet(m.systemMap, bit);
  if (opts.replace) {
    const cm = cpuMap(m, opts.cpu);
    assert(bitmapTest(cm.allocMap, bit), `vector matrix: replace of unallocated bit ${bit}`);
    bitmapClear(cm.allocMap, bit);
    cm.allocated--;
    m.totalAllocated--;
  }
  if (bit >= m.allocStart && bit < m.allocEnd) m.systembitsInalloc++;
}

/** Lowest bit in [allocStart, allocEnd) free of system, managed and allocated bits: Linux's
 *  `bitmap_find_next_zero_area()` over the OR of the three maps, for one bit. */
function findFreeBit(m: VectorMatrix, cm: CpuMap): number {
  for (let bit = m.allocStart; bit < m.allocEnd; bit++) {
    if (bitmapTest(m.systemMap, bit)) continue;
    if (bitmapTest(cm.managedMap, bit) || bitmapTest(cm.allocMap, bit)) continue;
    return bit;
  }
  return m.allocEnd;
}

/** `matrix_alloc_area` for one bit: marks it in the managed or the allocated map. */
function allocArea(m: VectorMatrix, cm: CpuMap, opts: { managed: boolean }): number {
  const bit = findFreeBit(m, cm);
  if (bit >= m.allocEnd) return bit;
  bitmapSet(opts.managed ? cm.managedMap : cm.allocMap, bit);
  return bit;
}

/** `matrix_find_best_cpu`: the online CPU of `mask` with the most vectors available; strictly
 *  more, so the first of equals wins. */
function findBestCpu(m: VectorMatrix, mask: CpuMask): CpuId | undefined {
  let best: CpuId | undefined;
  let maxAvailable = 0;
  for (const cpu of mask) {
    const cm = cpuMap(m, cpu);
    if (!cm.online || cm.available <= maxAvailable) continue;
    best = cpu;
    maxAvailable = cm.available;
  }
  return best;
}

/** `matrix_find_best_cpu_managed`: the online CPU of `mask` with the fewest managed vectors
 *  allocated; `>` in the comparison, so the LAST of equals wins. */
function findBestCpuManaged(m: VectorMatrix, mask: CpuMask): CpuId | undefined {
  let best: CpuId | undefined;
  let fewest = Number.POSITIVE_INFINITY;
  for (const cpu of mask) {
    const cm = cpuMap(m, cpu);
    if (!cm.online || cm.managedAllocated > fewest) continue;
    best = cpu;
    fewest = cm.managedAllocated;
  }
  return best;
}

/** `irq_matrix_reserve_managed`: one managed bit on every CPU of `mask` (offline ones too).
 *  All or nothing: on a CPU with no free bit, the bits taken on the CPUs before it are given
 *  back and the failure names that CPU. */
export function matrixReserveManaged(m: VectorMatrix, mask: CpuMask): { ok: true } | IrqFailure {
  for (const [i, cpu] of mask.entries()) {
    const cm = cpuMap(m, cpu);
    const bit = allocArea(m, cm, { managed: true });
    if (bit >= m.allocEnd) {
      matrixRemoveManaged(m, mask.slice(0, i));
      return exhausted(
        m,
        'ENOSPC',
        `no vector left to reserve for a managed interrupt on CPU ${cpu}`,
        mask,
      );
    }
    cm.managed++;
    if (cm.online) {
      cm.available--;
      m.globalAvailable--;
    }
  }
  return { ok: true };
}

/** `irq_matrix_remove_managed`: gives back one managed bit that is not allocated, per CPU. */
export function matrixRemoveManaged(m: VectorMatrix, mask: CpuMask): void {
  for (const cpu of mask) {
    const cm = cpuMap(m, cpu);
    assert(cm.managed > 0, `vector matrix: CPU ${cpu} has no managed reservation to remove`);
    const bit = firstManagedUnallocated(m, cm);
    assert(bit < m.allocEnd, `vector matrix: CPU ${cpu}: every managed bit is allocated`);
    bitmapClear(cm.managedMap, bit);
    cm.managed--;
    if (cm.online) {
      cm.available++;
      m.globalAvailable++;
    }
  }
}

function firstManagedUnallocated(m: VectorMatrix, cm: CpuMap): number {
  for (let bit = 0; bit < m.allocEnd; bit++) {
    if (bitmapTest(cm.managedMap, bit) && !bitmapTest(cm.allocMap, bit)) return bit;
  }
  return m.allocEnd;
}

/** `irq_matrix_alloc_managed`: takes a reserved managed bit (the lowest) on the best CPU. */
export function matrixAllocManaged(m: VectorMatrix, mask: CpuMask): MatrixResult {
  if (mask.length === 0) return fail('EINVAL', 'managed vector allocation with an empty CPU mask');
  const cpu = findBestCpuManaged(m, mask);
  if (cpu === undefined) return exhausted(m, 'ENOSPC', 'no online CPU in the mask', mask);
  const cm = cpuMap(m, cpu);
  const bit = firstManagedUnallocated(m, cm);
  if (bit >= m.allocEnd) {
    return exhausted(m, 'ENOSPC', `CPU ${cpu} has no reserved managed vector left`, mask);
  }
  bitmapSet(cm.allocMap, bit);
  cm.allocated++;
  cm.managedAllocated++;
  m.totalAllocated++;
  return { ok: true, cpu, vector: bit as Vector };
}

/** `irq_matrix_assign`: marks a preallocated bit (the legacy ISA vectors on the boot CPU). */
export function matrixAssign(m: VectorMatrix, cpu: CpuId, bit: number): void {
  assert(bit >= m.allocStart && bit < m.allocEnd, `vector matrix: assign of ${bit} out of range`);
  const cm = cpuMap(m, cpu);
  assert(!bitmapTest(cm.allocMap, bit), `vector matrix: CPU ${cpu} vector ${bit} already taken`);
  bitmapSet(cm.allocMap, bit);
  cm.allocated++;
  m.totalAllocated++;
  cm.available--;
  m.globalAvailable--;
}

/** `irq_matrix_reserve`: book-keeping only; Linux warns, and goes on, when reservations exceed
 *  what is available (`reserveExceeded` says so to the caller, which records it). */
export function matrixReserve(m: VectorMatrix): { reserveExceeded: boolean } {
  const reserveExceeded = m.globalReserved === m.globalAvailable;
  m.globalReserved++;
  return { reserveExceeded };
}

/** `irq_matrix_remove_reserved`. */
export function matrixRemoveReserved(m: VectorMatrix): void {
  assert(m.globalReserved > 0, 'vector matrix: no reservation to remove');
  m.globalReserved--;
}

/** `irq_matrix_alloc`: the lowest free bit on the online CPU of `mask` with the most vectors
 *  available. `reserved`: this allocation consumes an earlier `matrixReserve`. */
export function matrixAlloc(
  m: VectorMatrix,
  mask: CpuMask,
  opts: { reserved: boolean },
): MatrixResult {
  if (mask.length === 0) return fail('EINVAL', 'vector allocation with an empty CPU mask');
  const cpu = findBestCpu(m, mask);
  if (cpu === undefined) return exhausted(m, 'ENOSPC', 'no vector available', mask);
  const cm = cpuMap(m, cpu);
  const bit = allocArea(m, cm, { managed: false });
  if (bit >= m.allocEnd) return exhausted(m, 'ENOSPC', `no free vector on CPU ${cpu}`, mask);
  cm.allocated++;
  cm.available--;
  m.totalAllocated++;
  m.globalAvailable--;
  if (opts.reserved) {
    assert(m.globalReserved > 0, 'vector matrix: reserved allocation without a reservation');
    m.globalReserved--;
  }
  return { ok: true, cpu, vector: bit as Vector };
}

/** `irq_matrix_free`: a managed bit stays reserved (its interrupt may start up again), a
 *  regular one becomes available. Freeing a bit that is not allocated is an irqlab bug. */
export function matrixFree(
  m: VectorMatrix,
  cpu: CpuId,
  bit: number,
  opts: { managed: boolean },
): void {
  assert(bit >= m.allocStart && bit < m.allocEnd, `vector matrix: free of ${bit} out of range`);
  const cm = cpuMap(m, cpu);
  assert(bitmapTest(cm.allocMap, bit), `vector matrix: CPU ${cpu} vector ${bit} is not allocated`);
  bitmapClear(cm.allocMap, bit);
  cm.allocated--;
  if (opts.managed) cm.managedAllocated--;
  if (cm.online) m.totalAllocated--;
  if (!opts.managed) {
    cm.available++;
    if (cm.online) m.globalAvailable++;
  }
}

/** `irq_matrix_available`: vectors available on all online CPUs, or on all but `cpuDown`. */
export function matrixAvailable(m: VectorMatrix, cpuDown?: CpuId): number {
  return cpuDown === undefined
    ? m.globalAvailable
    : m.globalAvailable - cpuMap(m, cpuDown).available;
}

/** `irq_matrix_allocated`: vectors allocated on `cpu`. */
export const matrixAllocated = (m: VectorMatrix, cpu: CpuId): number => cpuMap(m, cpu).allocated;

export const matrixIsAllocated = (m: VectorMatrix, cpu: CpuId, bit: number): boolean =>
  bitmapTest(cpuMap(m, cpu).allocMap, bit);

/** The failure of an allocation, naming the mask and every CPU's counts in it. */
function exhausted(m: VectorMatrix, errno: Errno, what: string, mask: CpuMask): IrqFailure {
  const counts = mask
    .map((cpu) => {
      const cm = cpuMap(m, cpu);
      const state = cm.online ? '' : ' offline';
      return `CPU${cpu}${state} avl ${cm.available} man ${cm.managed} mac ${cm.managedAllocated} act ${cm.allocated}`;
    })
    .join('; ');
  return fail(errno, `${what} (CPU mask ${formatCpuList(mask) || 'empty'}: ${counts})`);
}

/** Asserts every invariant in the file header; an irqlab bug if one does not hold. */
export function checkVectorMatrix(m: VectorMatrix): void {
  let online = 0;
  let globalAvailable = 0;
  for (const [cpu, cm] of m.maps.entries()) {
    const where = `vector matrix CPU ${cpu}`;
    assert(cm.allocated === bitmapCount(cm.allocMap), `${where}: allocated != popcount`);
    assert(cm.managed === bitmapCount(cm.managedMap), `${where}: managed != popcount`);
    let managedAllocated = 0;
    for (let bit = 0; bit < m.matrixBits; bit++) {
      const alloc = bitmapTest(cm.allocMap, bit);
      const managed = bitmapTest(cm.managedMap, bit);
      if (alloc && managed) managedAllocated++;
      if (bitmapTest(m.systemMap, bit)) {
        assert(!alloc && !managed, `${where}: vector ${bit} is system and allocated/managed`);
      }
      if (alloc || managed) {
        assert(bit >= m.allocStart && bit < m.allocEnd, `${where}: vector ${bit} out of range`);
      }
    }
    assert(cm.managedAllocated === managedAllocated, `${where}: managed allocated mismatch`);
    assert(cm.managedAllocated <= cm.managed, `${where}: more managed allocated than reserved`);
    if (cm.initialized) {
      const expected =
        m.allocSize - cm.managed - m.systembitsInalloc - (cm.allocated - cm.managedAllocated);
      assert(cm.available === expected, `${where}: available ${cm.available} != ${expected}`);
    }
    if (cm.online) {
      online++;
      globalAvailable += cm.available;
    }
  }
  assert(online === m.onlineMaps, 'vector matrix: online map count mismatch');
  assert(globalAvailable === m.globalAvailable, 'vector matrix: global available mismatch');
  assert(m.globalReserved >= 0, 'vector matrix: negative global reservation');
}

/** The debugfs view (`/sys/kernel/debug/irq/domains/VECTOR`, `irq_matrix_debug_show`). */
export function formatVectorMatrix(m: VectorMatrix): string {
  const system: number[] = [];
  for (let bit = 0; bit < m.matrixBits; bit++) if (bitmapTest(m.systemMap, bit)) system.push(bit);
  const lines = [
    `Online bitmaps:   ${String(m.onlineMaps).padStart(6)}`,
    `Global available: ${String(m.globalAvailable).padStart(6)}`,
    `Global reserved:  ${String(m.globalReserved).padStart(6)}`,
    `Total allocated:  ${String(m.totalAllocated).padStart(6)}`,
    `System: ${system.length}: ${formatBitList(system)}`,
    ' | CPU | avl | man | mac | act | vectors',
  ];
  for (const [cpu, cm] of m.maps.entries()) {
    if (!cm.online) continue;
    const vectors: number[] = [];
    for (let bit = 0; bit < m.matrixBits; bit++)
      if (bitmapTest(cm.allocMap, bit)) vectors.push(bit);
    lines.push(
      `  ${String(cpu).padStart(4)}  ${String(cm.available).padStart(4)}  ${String(cm.managed).padStart(4)}  ${String(cm.managedAllocated).padStart(4)} ${String(cm.allocated).padStart(4)}  ${formatBitList(vectors)}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

const formatBitList = (bits: number[]): string => formatCpuList(bits as CpuId[]);
