// The host IR code's queued invalidation of an IRTE and the remapping unit's processing of it, as
// the machine runs them (Linux drivers/iommu/intel/irq_remapping.c modify_irte, qi_flush_iec;
// drivers/iommu/intel/dmar.c qi_submit_sync; VT-d 6.5.2 queued invalidation, 6.5.2.8 the wait
// descriptor, 6.5.5 interrupt draining).
//   modify_irte      takes irq_2_ir_lock, writes the 128-bit IRTE at once (cmpxchg16b), then
//   qi_flush_iec     queues an index-selective IEC descriptor and a wait descriptor (status write
//                    of QI_DONE to desc_status[wait_index]) and writes IQT;
//   qi_submit_sync   spins until the status reads QI_DONE, reclaims the slots, drops the lock.
// The unit processes one descriptor per action (ACTION.qiProcess): an IEC descriptor drops the
// cached copies it covers and marks, for draining, the interrupts in flight to the LAPICs that
// were remapped (or posted) through those IRTEs before it; the wait descriptor completes (its
// status write) only once those have reached their LAPICs.
//
// Where the caller waits. The IRTE write and the submission are one step of the caller (the lock
// is held from one to the other, so nothing another thread does can come between them; a device
// raise between them finds the old copy in the cache either way). Three things must stay
// interleavable: the write, the unit's descriptor processing, and the end of the wait. So the
// state is: the lock (held while the wait's status word is not QI_FREE), the queue in words, a
// drain count, and who waits. A thread's step that may call modify_irte (QEMU's MSI-X handler,
// KVM's RETARGET handler, the vIOMMU's invalidation handler) is enabled only with the lock free,
// and, if it submitted, claims the wait: its next step is `qi_submit_sync`, enabled once the
// status reads QI_DONE (`QI_SUBMIT_SYNC`). A caller that is one action (the workload's
// set-affinity without steps) cannot spin: nobody claims its wait, and the unit's status write
// releases the lock for it. Other modify_irte callers wait for the lock, as on irq_2_ir_lock.
// Invariants: at most one batch outstanding (one IEC descriptor and its wait); the lock is free
// exactly when the status word is QI_FREE; the drain count never exceeds the interrupts in
// flight; with the queue empty and nothing waiting, the drain count, status and waiter words are
// zero (IQH = IQT keep where the ring is, and the ring its last descriptors, as memory does).
// Not modelled: the kernel's other queued invalidations (IOTLB, context), the QI fault paths
// (IQE, ITE: qi_check_fault), global IEC flushes (the control plane's, at IR enable).

import { assert } from '../hw/errors.js';
import { fieldPos, getField } from '../hw/field-pos.js';
import {
  decodeIecDescriptor,
  encodeIecDescriptor,
  iecInvalidate,
  invalidatedRange,
} from '../hw/vtd/interrupt-entry-cache.js';
import {
  QI_TYPES,
  type QiWords,
  qiAdvanceHead,
  qiDescriptorType,
  qiFree,
  qiHeadDescriptor,
  qiPending,
  qiSubmit,
} from '../hw/vtd/invalidation-queue.js';
import {
  decodeWaitDescriptor,
  encodeWaitDescriptor,
  QI_STATUS,
  type StatusAddress,
} from '../hw/vtd/invalidation-wait.js';
import { type ProgramStep, STEP, type StepResult, WAIT } from './step-program.js';
import { EVENT, type EventLog, emit } from './system-events.js';
import { type SystemState, UPSTREAM_MESSAGE } from './system-state.js';
import { HOST_QI_LENGTH, UPSTREAM_DWORDS } from './system-topology.js';
import { trapHandled } from './vcpu-trap.js';

/** Words of the region (`layout.hostQi`), in order. */
const QI = { iqh: 0, iqt: 1, drain: 2, status: 3, waiterPlusOne: 4, ring: 5 } as const;

/** Synthetic physical address of the wait's status word (Linux: `&qi->desc_status[wait_index]`,
 *  kernel memory anywhere): one fixed region, 8 GiB up, lets the unit's status write find it. */
const STATUS_ADDRESS: StatusAddress = { lo: 0, hi: 0x2 };

const queueOf = (s: SystemState): QiWords => {
  const at = s.topology.layout.hostQi;
  return { iqh: at + QI.iqh, iqt: at + QI.iqt, ring: at + QI.ring, length: HOST_QI_LENGTH };
};
const word = (s: SystemState, w: keyof typeof QI): number => s.topology.layout.hostQi + QI[w];

/** irq_2_ir_lock is free: no batch of modify_irte's is outstanding. */
export const irLockFree = (s: SystemState): boolean =>
  s.words[word(s, 'status')] === QI_STATUS.free;

/** modify_irte's qi_flush_iec(iommu, index, 0) -> qi_submit_sync: the IEC descriptor for IRTE
 *  `index` and a wait descriptor at IQT, the wait's status QI_IN_USE, IQT written. The caller
 *  holds the lock (it checked `irLockFree`) and has written the IRTE. */
export function qiFlushIec(s: SystemState, log: EventLog, index: number): void {
  const q = queueOf(s);
  assert(irLockFree(s), `modify_irte on IRTE ${index}: irq_2_ir_lock is held`);
  assert(qiFree(s.words, q) >= 2, 'qi_submit_sync: no room for a batch');
  s.words[word(s, 'status')] = QI_STATUS.inUse;
  qiSubmit(s.words, q, [
    encodeIecDescriptor({ granularity: 'index', index, indexMask: 0 }),
    encodeWaitDescriptor(STATUS_ADDRESS),
  ]);
  emit(log, EVENT.qiSubmit, index);
}

/** The unit can process the descriptor at IQH: there is one, and if it is a wait, nothing it
 *  must drain is still in flight. */
export function qiProcessEnabled(s: SystemState): boolean {
  const q = queueOf(s);
  if (!qiPending(s.words, q)) return false;
  const type = qiDescriptorType(s.words, qiHeadDescriptor(s.words, q));
  return type !== QI_TYPES.wait || s.words[word(s, 'drain')] === 0;
}

/** The descriptor at IQH as counterexamples name it: `iec IRTE 3`, `wait`, or `empty`. */
export function describeQiHead(s: SystemState): string {
  const q = queueOf(s);
  if (!qiPending(s.words, q)) return 'empty';
  const at = qiHeadDescriptor(s.words, q);
  if (qiDescriptorType(s.words, at) === QI_TYPES.wait) return 'wait';
  const { invalidation } = decodeIecDescriptor(s.words.subarray(at, at + 4));
  const [first, count] = invalidatedRange(invalidation, s.topology.irtEntries);
  return count === 1 ? `iec IRTE ${first}` : `iec IRTEs ${first}-${first + count - 1}`;
}

/** The unit fetches the descriptor at IQH and processes it (VT-d 6.5.2). */
export function qiProcess(s: SystemState, log: EventLog): void {
  const q = queueOf(s);
  const at = qiHeadDescriptor(s.words, q);
  const type = qiDescriptorType(s.words, at);
  assert(type === QI_TYPES.iec || type === QI_TYPES.wait, `descriptor type ${type} at IQH`);
  if (type === QI_TYPES.iec) invalidateIec(s, log, at);
  else completeWait(s, log, at);
  qiAdvanceHead(s.words, q);
}

/** IEC invalidate descriptor: the covered copies go; the interrupts in flight remapped through
 *  them before now are to be drained by the next wait (6.5.5). */
function invalidateIec(s: SystemState, log: EventLog, at: number): void {
  const t = s.topology;
  const { invalidation } = decodeIecDescriptor(s.words.subarray(at, at + 4));
  iecInvalidate(s.words, t.layout, t.irtEntries, invalidation);
  const [first, count] = invalidatedRange(invalidation, t.irtEntries);
  const drain = word(s, 'drain');
  s.words[drain] = Math.max(s.words[drain], lastInFlightThrough(s, first, count));
  emit(log, EVENT.iecInvalidate, first, count);
}

const UP_IRTE_PLUS_ONE = fieldPos(UPSTREAM_MESSAGE, 'irtePlusOne');

/** 1 + the position in the upstream FIFO of the last interrupt remapped through IRTEs
 *  `first .. first + count - 1`, or 0 if none is in flight. */
function lastInFlightThrough(s: SystemState, first: number, count: number): number {
  const base = s.topology.layout.upstream;
  let last = 0;
  for (let i = 0; i < s.words[base]; i++) {
    const irte = getField(s.words, base + 1 + i * UPSTREAM_DWORDS, UP_IRTE_PLUS_ONE) - 1;
    if (irte >= first && irte < first + count) last = i + 1;
  }
  return last;
}

/** Wait descriptor: every descriptor before it is done and drained: the status write. With no
 *  thread spinning on it (a caller that is one action), the write also ends its wait. */
function completeWait(s: SystemState, log: EventLog, at: number): void {
  const wait = decodeWaitDescriptor(s.words, at);
  assert(
    wait.statusWrite &&
      wait.statusAddress.lo === STATUS_ADDRESS.lo &&
      wait.statusAddress.hi === STATUS_ADDRESS.hi,
    'wait descriptor: the status address is the host qi status word',
  );
  s.words[word(s, 'status')] = wait.statusData;
  emit(log, EVENT.qiWaitDone, wait.statusData);
  if (s.words[word(s, 'waiterPlusOne')] === 0) s.words[word(s, 'status')] = QI_STATUS.free;
}

/** An interrupt in flight reached its LAPIC (the upstream FIFO's oldest): one fewer to drain. */
export function qiDrainLanded(s: SystemState, log: EventLog): void {
  const drain = word(s, 'drain');
  if (s.words[drain] === 0) return;
  s.words[drain]--;
  if (s.words[drain] === 0) emit(log, EVENT.qiDrained, 0);
}

/** The end of a handler step that may have called modify_irte on vCPU `v`'s thread: if it
 *  submitted a batch, the thread waits for it (its next step, `QI_SUBMIT_SYNC`); otherwise the
 *  vCPU goes back to KVM's run loop at once. */
export function handledOrWait(s: SystemState, log: EventLog, v: number): StepResult {
  if (s.words[word(s, 'status')] !== QI_STATUS.inUse) return trapHandled(s, log, v);
  s.words[word(s, 'waiterPlusOne')] = v + 1;
  return STEP.next;
}

/** qi_submit_sync's spin ends: the status reads QI_DONE; the slots are reclaimed, the lock
 *  dropped, and the handler returns (the vCPU goes back to KVM's run loop). */
export const QI_SUBMIT_SYNC: ProgramStep = {
  name: 'qi_submit_sync',
  wait: WAIT.now,
  enabled: (s) => s.words[word(s, 'status')] === QI_STATUS.done,
  run: (s, log, v) => {
    s.words[word(s, 'status')] = QI_STATUS.free;
    s.words[word(s, 'waiterPlusOne')] = 0;
    return trapHandled(s, log, v);
  },
};
