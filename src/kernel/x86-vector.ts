// The x86 vector domain, root of every hierarchy (arch/x86/kernel/apic/vector.c): per irq a
// `struct apic_chip_data` (vector, cpu, prevVector, prevCpu, moveInProgress, isManaged,
// canReserve, hasReserved) on top of the vector matrix (`vector-matrix.ts`).
//  - alloc: a managed irq reserves a vector on every CPU of its mask; an irq with a fixed
//    destination (`info.mask`) gets its vector at once; any other irq only makes a global
//    reservation and points the hardware at MANAGED_IRQ_SHUTDOWN_VECTOR on the first online CPU
//    ("reservation mode": `qemu-q35-noir/msix-tables.txt` shows it, e1000e's allocated but never
//    requested entries hold vector 0xEF to CPU0);
//  - activate assigns the real vector (least-loaded CPU of the affinity, lowest free vector);
//  - set_affinity to another CPU allocates the new vector first and keeps the old one
//    (`moveInProgress`) until the first interrupt arrives on the new one (`irqCompleteMove`) or,
//    remapped, until the IRTE switched (intel_ir_set_affinity), then frees it through the
//    cleanup on the old CPU (`vectorCleanup`), run where the old CPU would take it
//    (`vectorCleanupIpi`).
// Invariants: `vectorIrq[cpu][v]` names the irq for every allocated (cpu, v) of a desc, current
// or previous; a desc with `hasReserved` holds one global reservation and no vector.
// Not modelled: NUMA node masks (assign_irq_vector_any_locked's node steps), CPU hot-unplug
// (irq_force_complete_move), the time between scheduling the cleanup and its run (the IPI or,
// 6.6+, the timer: nothing the kernel does in between can move the irq again).

import { decode } from '../hw/bits.js';
import { assert } from '../hw/errors.js';
import { DELIVERY_MODE } from '../hw/x86/lapic.js';
import { APIC_ID_SPLIT, composeCompatMsi } from '../hw/x86/msi-message.js';
import { calcDestApicId, destModeLogical } from './apic.js';
import type { AffinityResult, AllocInfo, IrqDomainOps, MsiMsg } from './irqdomain.js';
import { descOf, levelOf } from './irqdomain.js';
import {
  type ApicChipData,
  apicData,
  type IrqDesc,
  type IrqDomain,
  type KernelState,
  type KernelVersion,
  versionAtLeast,
  versionIsAtLeast,
} from './kernel-state.js';
import { hwSendIpi, type KernelPlatform } from './platform.js';
import {
  type CpuId,
  type CpuMask,
  cpumaskAnd,
  cpumaskSubset,
  cpumaskTest,
  fail,
  formatCpuList,
  type Hwirq,
  type IrqResult,
  OK,
  type Vector,
  type Virq,
} from './types.js';
import {
  matrixAlloc,
  matrixAllocManaged,
  matrixAssign,
  matrixAssignSystem,
  matrixFree,
  matrixOnline,
  matrixRemoveManaged,
  matrixRemoveReserved,
  matrixReserve,
  matrixReserveManaged,
} from './vector-matrix.js';

/** arch/x86/include/asm/irq_vectors.h */
export const FIRST_EXTERNAL_VECTOR = 0x20;
/** The cleanup IPI's vector until v6.6 replaced it with a timer (FIRST_EXTERNAL_VECTOR). */
export const IRQ_MOVE_CLEANUP_VECTOR = 0x20;
export const IA32_SYSCALL_VECTOR = 0x80;
/** FIRST_SYSTEM_VECTOR = LOCAL_TIMER_VECTOR without CONFIG_X86_POSTED_MSI. */
export const FIRST_SYSTEM_VECTOR = 0xec;
export const MANAGED_IRQ_SHUTDOWN_VECTOR = 0xef;
export const HYPERVISOR_CALLBACK_VECTOR = 0xf3;
/** ISA_IRQ_VECTOR(irq): the legacy PIC vectors, 0x30-0x3f. */
export const ISA_IRQ_VECTOR_BASE = 0x30;
export const NR_LEGACY_IRQS = 16;
export const PIC_CASCADE_IR = 2;
/** Exceptions 0-19 and the APIC's own vectors, as `system_vectors` has them on x86-64:
 *  LOCAL_TIMER 0xec, POSTED_INTR{,_WAKEUP,_NESTED} 0xf0-0xf2, DEFERRED_ERROR 0xf4,
 *  IRQ_WORK 0xf6, X86_PLATFORM_IPI 0xf7, REBOOT 0xf8, THRESHOLD 0xf9, THERMAL 0xfa,
 *  CALL_FUNCTION_SINGLE 0xfb, CALL_FUNCTION 0xfc, RESCHEDULE 0xfd, ERROR 0xfe, SPURIOUS 0xff. */
const EXCEPTION_VECTORS = 20;
const APIC_SYSTEM_VECTORS = [
  0xec, 0xf0, 0xf1, 0xf2, 0xf4, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff,
];

/** `vector_irq` markers (arch/x86/include/asm/hw_irq.h): no irq / shut down / retriggered. */
export const VECTOR_UNUSED = -1;
export const VECTOR_SHUTDOWN = -2;
export const VECTOR_RETRIGGERED = -3;

export const isaIrqVector = (irq: number): Vector => (ISA_IRQ_VECTOR_BASE + irq) as Vector;

export interface VectorDomainOptions {
  /** A legacy 8259 PIC: ISA vectors on the boot CPU and the cascade vector system-wide. */
  readonly legacyPic: boolean;
  /** CONFIG_IA32_EMULATION reserves vector 0x80. */
  readonly ia32Emulation: boolean;
  /** A hypervisor callback vector (KVM async PF, Xen, Hyper-V): "HYP" in /proc/interrupts. */
  readonly hypervisorCallback: boolean;
}

/** The vectors `lapic_assign_system_vectors` takes on every CPU, ascending. */
function systemVectors(version: KernelVersion, opts: VectorDomainOptions): number[] {
  const system: number[] = [];
  for (let v = 0; v < EXCEPTION_VECTORS; v++) system.push(v);
  if (!versionIsAtLeast(version, 6, 6)) system.push(IRQ_MOVE_CLEANUP_VECTOR);
  if (opts.ia32Emulation) system.push(IA32_SYSCALL_VECTOR);
  system.push(...APIC_SYSTEM_VECTORS);
  if (opts.hypervisorCallback) system.push(HYPERVISOR_CALLBACK_VECTOR);
  if (opts.legacyPic) system.push(isaIrqVector(PIC_CASCADE_IR));
  return system.sort((a, b) => a - b);
}

/** Vectors a device irq can get on one CPU (other than the boot CPU's ISA vectors): the
 *  external range less the system vectors in it; 203 on x86-64 6.6+ with IA32 emulation. */
export function allocatableVectorsPerCpu(
  version: KernelVersion,
  opts: VectorDomainOptions,
): number {
  const system = systemVectors(version, opts);
  const range = FIRST_SYSTEM_VECTOR - FIRST_EXTERNAL_VECTOR;
  return range - system.filter((v) => v >= FIRST_EXTERNAL_VECTOR && v < FIRST_SYSTEM_VECTOR).length;
}

/** `lapic_assign_system_vectors` on the boot CPU, then `irq_matrix_online` for it. */
export function vectorDomainInit(k: KernelState, opts: VectorDomainOptions): void {
  for (const v of systemVectors(k.version, opts)) {
    matrixAssignSystem(k.matrix, v, { replace: false });
  }
  if (opts.legacyPic) {
    matrixAssignSystem(k.matrix, isaIrqVector(PIC_CASCADE_IR), { replace: false });
  }
  const boot = 0 as CpuId;
  matrixOnline(k.matrix, boot);
  k.online = [boot];
  if (opts.legacyPic) {
    for (let irq = 0; irq < NR_LEGACY_IRQS; irq++) {
      if (irq === PIC_CASCADE_IR) continue;
      matrixAssign(k.matrix, boot, isaIrqVector(irq));
      k.vectorIrq[boot][isaIrqVector(irq)] = irq;
    }
  }
}

/** `lapic_online` for a secondary CPU. */
export function vectorCpuOnline(k: KernelState, cpu: CpuId): void {
  matrixOnline(k.matrix, cpu);
  k.online = [...k.online, cpu].sort((a, b) => a - b);
}

const newApicData = (): ApicChipData => ({
  hwIrqCfg: { vector: 0 as Vector, destApicId: 0 },
  vector: 0,
  prevVector: 0,
  cpu: 0 as CpuId,
  prevCpu: 0 as CpuId,
  moveInProgress: false,
  cleanupPending: false,
  isManaged: false,
  canReserve: false,
  hasReserved: false,
});

const cpuOnline = (k: KernelState, cpu: number) => cpumaskTest(k.online, cpu);

/** `apic_update_irq_cfg`: what the hardware will be programmed with, and the effective
 *  affinity /proc/irq/N/effective_affinity_list shows. */
function apicUpdateIrqCfg(k: KernelState, d: IrqDesc, vector: Vector, cpu: CpuId): void {
  const apicd = apicData(d);
  apicd.hwIrqCfg = { vector, destApicId: calcDestApicId(k, cpu) };
  d.effectiveAffinity = [cpu];
}

/** `apic_update_vector`. */
function apicUpdateVector(k: KernelState, d: IrqDesc, vector: Vector, cpu: CpuId): void {
  const apicd = apicData(d);
  apicd.prevVector = 0;
  if (apicd.vector !== 0 && apicd.vector !== MANAGED_IRQ_SHUTDOWN_VECTOR) {
    if (cpuOnline(k, apicd.cpu)) {
      apicd.moveInProgress = true;
      apicd.prevVector = apicd.vector;
      apicd.prevCpu = apicd.cpu;
    } else {
      matrixFree(k.matrix, apicd.cpu, apicd.vector, { managed: d.state.managed });
    }
  }
  apicd.vector = vector;
  apicd.cpu = cpu;
  assert(k.vectorIrq[cpu][vector] < 0, `CPU ${cpu} vector ${vector} already routes an irq`);
  k.vectorIrq[cpu][vector] = d.irq;
}

function vectorAssignManagedShutdown(k: KernelState, d: IrqDesc): void {
  apicUpdateIrqCfg(k, d, MANAGED_IRQ_SHUTDOWN_VECTOR as Vector, k.online[0]);
}

function reserveIrqVectorLocked(k: KernelState, d: IrqDesc): void {
  const apicd = apicData(d);
  if (matrixReserve(k.matrix).reserveExceeded) {
    k.events.push({ op: k.currentOp, text: 'Interrupt reservation exceeds available resources' });
  }
  apicd.canReserve = true;
  apicd.hasReserved = true;
  d.state.canReserve = true;
  vectorAssignManagedShutdown(k, d);
}

function reserveManagedVector(k: KernelState, d: IrqDesc): IrqResult {
  apicData(d).isManaged = true;
  return matrixReserveManaged(k.matrix, d.affinity);
}

/** `assign_vector_locked`. */
function assignVectorLocked(k: KernelState, d: IrqDesc, dest: CpuMask): IrqResult {
  const apicd = apicData(d);
  if (apicd.vector !== 0 && cpuOnline(k, apicd.cpu) && cpumaskTest(dest, apicd.cpu)) return OK;
  if (apicd.moveInProgress || apicd.cleanupPending) {
    return fail('EBUSY', `irq ${d.irq}: a vector move is still in progress`);
  }
  const r = matrixAlloc(k.matrix, dest, { reserved: apicd.hasReserved });
  if (!r.ok) return { ...r, reason: `irq ${d.irq}: ${r.reason}` };
  apicUpdateVector(k, d, r.vector, r.cpu);
  apicUpdateIrqCfg(k, d, r.vector, r.cpu);
  return OK;
}

function assignIrqVector(k: KernelState, d: IrqDesc, dest: CpuMask): IrqResult {
  return assignVectorLocked(k, d, cpumaskAnd(dest, k.online));
}

/** `assign_irq_vector_any_locked`: the affinity's online CPUs, then any online CPU. */
function assignIrqVectorAnyLocked(k: KernelState, d: IrqDesc): IrqResult {
  const first = assignVectorLocked(k, d, cpumaskAnd(d.affinity, k.online));
  if (first.ok) return first;
  return assignVectorLocked(k, d, k.online);
}

function assignIrqVectorPolicy(k: KernelState, d: IrqDesc, info: AllocInfo): IrqResult {
  if (d.state.managed) return reserveManagedVector(k, d);
  if (info.mask) return assignIrqVector(k, d, info.mask);
  reserveIrqVectorLocked(k, d);
  return OK;
}

/** `assign_managed_vector`. */
function assignManagedVector(k: KernelState, d: IrqDesc, dest: CpuMask): IrqResult {
  const apicd = apicData(d);
  const search = cpumaskAnd(dest, d.affinity);
  if (apicd.vector !== 0 && cpumaskTest(search, apicd.cpu)) return OK;
  const r = matrixAllocManaged(k.matrix, search);
  if (!r.ok) return { ...r, reason: `irq ${d.irq}: ${r.reason}` };
  apicUpdateVector(k, d, r.vector, r.cpu);
  apicUpdateIrqCfg(k, d, r.vector, r.cpu);
  return OK;
}

/** `clear_irq_vector`: frees the vector and a move's previous vector. */
function clearIrqVector(k: KernelState, d: IrqDesc): void {
  const apicd = apicData(d);
  const managed = d.state.managed;
  if (apicd.vector === 0) return;
  k.vectorIrq[apicd.cpu][apicd.vector] = VECTOR_SHUTDOWN;
  matrixFree(k.matrix, apicd.cpu, apicd.vector, { managed });
  apicd.vector = 0;
  if (apicd.prevVector === 0) return;
  k.vectorIrq[apicd.prevCpu][apicd.prevVector] = VECTOR_SHUTDOWN;
  matrixFree(k.matrix, apicd.prevCpu, apicd.prevVector, { managed });
  apicd.prevVector = 0;
  apicd.moveInProgress = false;
  apicd.cleanupPending = false;
}

function activateReserved(k: KernelState, d: IrqDesc): IrqResult {
  const apicd = apicData(d);
  const r = assignIrqVectorAnyLocked(k, d);
  if (r.ok) {
    apicd.hasReserved = false;
    // Core might have disabled reservation mode after allocating the irq (MSI without masking).
    if (!d.state.canReserve) apicd.canReserve = false;
  }
  if (!cpumaskSubset(d.effectiveAffinity, d.affinity)) {
    k.events.push({
      op: k.currentOp,
      text: `irq ${d.irq}: Affinity broken due to vector space exhaustion.`,
    });
  }
  return r;
}

function activateManaged(k: KernelState, d: IrqDesc): IrqResult {
  const dest = cpumaskAnd(d.affinity, k.online);
  if (dest.length === 0) {
    k.events.push({ op: k.currentOp, text: `Managed startup for irq ${d.irq}, but no CPU` });
    return fail('EINVAL', `managed irq ${d.irq}: no online CPU in ${formatCpuList(d.affinity)}`);
  }
  return assignManagedVector(k, d, dest);
}

/** `vector_configure_legacy`: an ISA irq the IOAPIC takes over from the PIC. Returns true when
 *  the irq must be allocated anew (its ISA vector was released). */
function vectorConfigureLegacy(
  k: KernelState,
  d: IrqDesc,
  apicd: ApicChipData,
  active: boolean,
): boolean {
  apicd.vector = isaIrqVector(d.irq);
  apicd.cpu = 0 as CpuId;
  if (active) {
    apicUpdateIrqCfg(k, d, apicd.vector, apicd.cpu);
    k.vectorIrq[0][apicd.vector] = d.irq;
    return false;
  }
  apicd.canReserve = true;
  d.state.canReserve = true;
  clearIrqVector(k, d);
  return true;
}

function vectorFreeReservedAndManaged(k: KernelState, d: IrqDesc): void {
  const apicd = apicData(d);
  if (apicd.hasReserved) matrixRemoveReserved(k.matrix);
  if (apicd.isManaged) matrixRemoveManaged(k.matrix, d.affinity);
}

function freeIrqs(k: KernelState, dom: IrqDomain, virq: Virq, nrIrqs: number): void {
  for (let i = 0; i < nrIrqs; i++) {
    const d = descOf(k, virq + i);
    const level = levelOf(d, dom.id);
    if (d.data[level].chip.kind !== 'apic') continue;
    clearIrqVector(k, d);
    vectorFreeReservedAndManaged(k, d);
    d.data[level].chip = { kind: 'msi' };
  }
}

/** `apic_set_affinity`. */
function apicSetAffinity(k: KernelState, d: IrqDesc, dest: CpuMask): AffinityResult {
  const apicd = apicData(d);
  if (!d.state.activated && (apicd.isManaged || apicd.canReserve)) return { ok: true, done: false };
  const search = cpumaskAnd(dest, k.online);
  const r = d.state.managed ? assignManagedVector(k, d, search) : assignVectorLocked(k, d, search);
  return r.ok ? { ok: true, done: false } : r;
}

/** `__irq_msi_compose_msg(cfg, msg, false)`: a compatibility-format message to the irq's
 *  destination and vector (fixed delivery, edge). `virtExtDestId`: the hypervisor lets APIC ID
 *  bits 14:8 ride in address bits 11:5. */
export function composeCompatMsg(k: KernelState, d: IrqDesc): MsiMsg {
  const cfg = apicData(d).hwIrqCfg;
  const split = decode(APIC_ID_SPLIT, [cfg.destApicId]);
  if (split.high !== 0) {
    k.events.push({
      op: k.currentOp,
      text: `irq ${d.irq}: APIC ID ${cfg.destApicId} above 0xff in a compatibility message`,
    });
  }
  return composeCompatMsi({
    destinationId: split.low,
    extendedDestinationId: 0,
    destinationMode: destModeLogical(k) ? 1 : 0,
    redirectionHint: 0,
    dontCare: 0,
    vector: cfg.vector,
    deliveryMode: DELIVERY_MODE.fixed,
    level: 0,
    triggerMode: 0,
  });
}

export const x86VectorOps: IrqDomainOps = {
  alloc(k, _p, dom, virq, nrIrqs, info) {
    for (let i = 0; i < nrIrqs; i++) {
      const d = descOf(k, virq + i);
      const level = levelOf(d, dom.id);
      const apicd = newApicData();
      d.data[level].chip = { kind: 'apic', apicd };
      d.data[level].hwirq = (virq + i) as Hwirq;
      if (info.legacy && !vectorConfigureLegacy(k, d, apicd, info.legacy.active)) continue;
      const r = assignIrqVectorPolicy(k, d, info);
      if (!r.ok) {
        d.data[level].chip = { kind: 'msi' };
        freeIrqs(k, dom, virq, i);
        return r;
      }
    }
    return OK;
  },
  free(k, _p, dom, virq, nrIrqs) {
    freeIrqs(k, dom, virq, nrIrqs);
  },
  activate(k, _p, d, _level, reserve) {
    const apicd = apicData(d);
    if (!apicd.canReserve && !apicd.isManaged) return OK;
    if (reserve || (d.state.managed && d.state.managedShutdown)) {
      vectorAssignManagedShutdown(k, d);
      return OK;
    }
    if (apicd.isManaged) return activateManaged(k, d);
    if (apicd.hasReserved) return activateReserved(k, d);
    return OK;
  },
  deactivate(k, _p, d) {
    const apicd = apicData(d);
    if (!apicd.isManaged && !apicd.canReserve) return;
    if (apicd.hasReserved) return;
    clearIrqVector(k, d);
    if (apicd.canReserve) reserveIrqVectorLocked(k, d);
    else vectorAssignManagedShutdown(k, d);
  },
  composeMsiMsg(k, _p, d) {
    return composeCompatMsg(k, d);
  },
  setAffinity(k, _p, d, _level, mask) {
    return apicSetAffinity(k, d, mask);
  },
};

/** `irq_complete_move`, from the edge ack: the first interrupt on the new vector on the new
 *  CPU schedules the release of the old one. */
export function irqCompleteMove(
  k: KernelState,
  p: KernelPlatform,
  d: IrqDesc,
  cpu: CpuId,
  vector: Vector,
): void {
  const apicd = apicData(d);
  if (!apicd.moveInProgress) return;
  if (vector === apicd.vector && cpu === apicd.cpu) vectorScheduleCleanup(k, p, d);
}

/** `vector_schedule_cleanup` (`send_cleanup_vector` before 6.6): the old vector is queued on
 *  the old CPU's cleanup list and that CPU is told, by IRQ_MOVE_CLEANUP_VECTOR before 6.6 and by
 *  a timer one jiffy later since. Until the cleanup ran, a new move is refused with EBUSY
 *  (`assign_vector_locked`); `vectorCleanupIpi` is the cleanup running. */
export function vectorScheduleCleanup(k: KernelState, p: KernelPlatform, d: IrqDesc): void {
  const apicd = apicData(d);
  if (!apicd.moveInProgress) return;
  apicd.moveInProgress = false;
  if (!cpuOnline(k, apicd.prevCpu)) {
    apicd.prevVector = 0;
    return;
  }
  apicd.cleanupPending = true;
  if (!versionAtLeast(k, 6, 6)) {
    hwSendIpi(k, p, apicd.prevCpu, IRQ_MOVE_CLEANUP_VECTOR as Vector);
  }
}

/** The old CPU takes the cleanup the move scheduled for `d` (the IPI's handler, or the timer):
 *  as soon as interrupts are enabled there, so before anything the kernel does next can move the
 *  irq again. Callers run it where that is: after a move made in process context (the IR
 *  domain's set_affinity, which is why Linux accepts a second IR move right after a first), and
 *  at the exit of an interrupt whose ack scheduled it (`irq_complete_move`: a deferred move in
 *  that same ack still finds the cleanup pending and waits for the next interrupt). */
export function vectorCleanupIpi(k: KernelState, p: KernelPlatform, d: IrqDesc): void {
  const apicd = apicData(d);
  if (apicd.cleanupPending) vectorCleanup(k, p, apicd.prevCpu);
}

/** The cleanup on `cpu` (`__vector_cleanup`, the IRQ_MOVE_CLEANUP_VECTOR handler before 6.6):
 *  frees every old vector waiting there, except one still pending in the local APIC's IRR,
 *  which waits: Linux sends the cleanup IPI to itself again, and that lower-priority vector
 *  runs once the pending one is serviced (the exit of that interrupt, `vectorCleanupIpi`). */
export function vectorCleanup(k: KernelState, p: KernelPlatform, cpu: CpuId): number {
  let freed = 0;
  for (const d of Object.values(k.descs)) {
    const bottom = d.data[d.data.length - 1];
    if (bottom.chip.kind !== 'apic') continue;
    const apicd = bottom.chip.apicd;
    if (!apicd.cleanupPending || apicd.prevCpu !== cpu || apicd.prevVector === 0) continue;
    if (p.lapicIrrTest?.(cpu, apicd.prevVector)) continue;
    matrixFree(k.matrix, cpu, apicd.prevVector, { managed: d.state.managed });
    k.vectorIrq[cpu][apicd.prevVector] = VECTOR_UNUSED;
    apicd.prevVector = 0;
    apicd.cleanupPending = false;
    freed++;
  }
  return freed;
}

/** `apic_retrigger_irq`: an IPI to the irq's CPU on its vector. */
export function apicRetriggerIrq(k: KernelState, p: KernelPlatform, d: IrqDesc): void {
  const apicd = apicData(d);
  if (apicd.vector === 0) return;
  hwSendIpi(k, p, apicd.cpu, apicd.vector);
}

/** Vectors held by an irq, for checks: current and previous (cpu, vector) pairs. */
export function heldVectors(d: IrqDesc): { cpu: CpuId; vector: Vector }[] {
  const bottom = d.data[d.data.length - 1];
  if (bottom.chip.kind !== 'apic') return [];
  const apicd = bottom.chip.apicd;
  const held: { cpu: CpuId; vector: Vector }[] = [];
  if (apicd.vector !== 0) held.push({ cpu: apicd.cpu, vector: apicd.vector });
  if (apicd.prevVector !== 0) held.push({ cpu: apicd.prevCpu, vector: apicd.prevVector });
  return held;
}
