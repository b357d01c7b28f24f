// CPUs and vCPUs in the whole-system model: a pCPU taking a host interrupt (Intel SDM Vol. 3C
// "Posted-Interrupt Processing": the notification vector in VMX non-root mode is processed
// without an exit, any other external interrupt exits), KVM's side of it (VFIO's handler, irqfd
// and kvm_set_msi injecting from the guest's MSI route; VM entry syncing PIR into the virtual
// APIC, vmx_sync_pir_to_irr; HLT and the posted-interrupt wake-up vector; vCPU migration with
// NDST/SN updates, vmx_vcpu_pi_load/put), and the guest running its handler.
//
// Invariants: a vCPU is in guest mode on at most one pCPU, and a pCPU runs at most one vCPU in
// guest mode (no overcommit); a blocked vCPU's descriptor notifies POSTED_INTR_WAKEUP_VECTOR, a
// loaded one POSTED_INTR_VECTOR at its own pCPU; handlers (host and guest) run to completion in
// one step, so nothing is ever in service between steps.
// Without APICv (host.apicv: false) KVM keeps injected vectors pending in software and injects
// them at the next VM entry after a kick; irqlab keeps that pending set in the same PIR dwords
// (no ON bit, no notification), and the guest's EOI exits (x2APIC EOI MSR write).
// Not modelled: preemption by other host tasks, overcommit, interrupt windows / EFLAGS.IF,
// nested interrupts inside a handler, NMIs, level-triggered interrupts.

import { fieldPos, getField, setField } from '../hw/field-pos.js';
import { IMS_ENTRY, IMS_ENTRY_DWORDS } from '../hw/ims/ims-store.js';
import { MSIX_ENTRY_DWORDS, MSIX_TABLE_ENTRY } from '../hw/pci/msix-table.js';
import {
  encodeIrtePosted,
  IRTE_DWORDS,
  IRTE_MODE,
  IRTE_POSTED,
  pdaFields,
} from '../hw/vtd/irte.js';
import { APIC_REG_DWORDS } from '../hw/x86/lapic.js';
import { MSI_ADDRESS_COMPAT, MSI_DATA_COMPAT } from '../hw/x86/msi-message.js';
import { PID_CONTROL, PID_PIR_DWORDS } from '../hw/x86/posted-descriptor.js';
import {
  countOutcome,
  entryMasked,
  intxLineAsserted,
  lapicRequest,
  NO_SUCH_DESTINATION,
  sendEntry,
} from './system-delivery.js';
import { COALESCE_AT, EVENT, type EventLog, EXIT_REASON, emit } from './system-events.js';
import { clearBit, highestBit, setBit, testBit } from './system-fields.js';
import {
  guestOnPcpu,
  POSTED_INTR_VECTOR,
  POSTED_INTR_WAKEUP_VECTOR,
  pidAddress,
  pidAt,
  pidControlAt,
  pidSetNotification,
  queueIecFlush,
  RESCHEDULE_VECTOR,
  ROUTE_PREVIOUS,
  ROUTE_PREVIOUS_DWORD,
  type SystemState,
  setPcpuGuest,
  setPcpuHost,
  setVcpuRun,
  VCPU_STATE,
  vcpuPcpu,
  vcpuState,
  writeHostIrte,
} from './system-state.js';
import {
  MSI_STORE_DWORDS,
  NO_VECTOR,
  ROUTE_DWORDS,
  VECTOR_COUNTERS,
  vcpuId,
} from './system-topology.js';

const PID_F = {
  on: fieldPos(PID_CONTROL, 'on'),
  sn: fieldPos(PID_CONTROL, 'sn'),
};
/** KVM's route holds the guest's compatibility-format pair: dword 0 address, dword 2 data. */
const ROUTE_F = {
  destinationId: fieldPos(MSI_ADDRESS_COMPAT, 'destinationId'),
  vector: fieldPos(MSI_DATA_COMPAT, 'vector'),
};
const PREV_F = {
  vcpuPlusOne: fieldPos(ROUTE_PREVIOUS, 'vcpuPlusOne'),
  vector: fieldPos(ROUTE_PREVIOUS, 'vector'),
};

const virrAt = (s: SystemState, v: number) => s.topology.layout.vcpuVirr + v * APIC_REG_DWORDS;
const irrAt = (s: SystemState, p: number) => s.topology.layout.pcpuIrr + p * APIC_REG_DWORDS;

export const pcpuIrrPending = (s: SystemState, p: number): boolean =>
  highestBit(s.words, irrAt(s, p), APIC_REG_DWORDS) >= 0;
export const vcpuVirrPending = (s: SystemState, v: number): boolean =>
  highestBit(s.words, virrAt(s, v), APIC_REG_DWORDS) >= 0;
export const vcpuPirPending = (s: SystemState, v: number): boolean =>
  highestBit(s.words, pidAt(s, v), PID_PIR_DWORDS) >= 0;

// ---- pCPU ----

/** The pCPU takes its highest pending interrupt (IRR -> handler -> EOI, in one step). */
export function pcpuInterrupt(s: SystemState, log: EventLog, p: number): void {
  const irr = irrAt(s, p);
  const vector = highestBit(s.words, irr, APIC_REG_DWORDS);
  if (vector < 0) return;
  clearBit(s.words, irr * 32 + vector);
  const guest = guestOnPcpu(s, p);
  if (guest >= 0) {
    if (vector === POSTED_INTR_VECTOR && s.topology.host.apicv) {
      // SDM: the notification vector in non-root mode is acknowledged and processed: PIR of the
      // descriptor of the vCPU running HERE moves into its virtual IRR, no VM exit.
      const moved = syncPir(s, log, guest);
      emit(log, EVENT.piProcessed, p, guest, moved);
      return;
    }
    vmExit(s, log, guest, EXIT_REASON.externalInterrupt, vector);
  }
  hostHandler(s, log, p, vector);
}

function hostHandler(s: SystemState, log: EventLog, p: number, vector: number): void {
  const t = s.topology;
  if (vector === POSTED_INTR_VECTOR || vector === RESCHEDULE_VECTOR) {
    // kvm_posted_intr_ipi / the scheduler IPI: nothing to do, the vCPU syncs at entry.
    emit(log, EVENT.hostIrq, p, vector, -1, NO_VECTOR);
    return;
  }
  if (vector === POSTED_INTR_WAKEUP_VECTOR) {
    emit(log, EVENT.hostIrq, p, vector, -1, NO_VECTOR);
    wakeBlockedOn(s, log, p);
    return;
  }
  const owner = t.hostVectorOwner[p * 256 + vector];
  if (owner < 0) {
    emit(log, EVENT.spurious, p, vector);
    return;
  }
  emit(log, EVENT.hostIrq, p, vector, t.vectors[owner].hostIrq, owner);
  const st = t.stores[t.vectors[owner].store];
  if (st.kind !== 'intx') kvmSetMsi(s, log, owner, p);
  // A shared line: every sharer's handler runs and reads its own status register (IRQF_SHARED).
  else for (const sharer of st.lineStores) intxFanOut(s, log, p, sharer);
}

/** VFIO's INTx handler for a line shared by a subdevice's sources (the subdevice driver style):
 *  read the device's interrupt status register, clear the bits it read (write 1 to clear, which
 *  deasserts the line), then inject each unmasked source's guest vector through its route. A
 *  masked source's bit stays latched until it is unmasked. */
function intxFanOut(s: SystemState, log: EventLog, p: number, store: number): void {
  const st = s.topology.stores[store];
  const w = s.words;
  const owners: number[] = [];
  for (let e = 0; e < st.entries; e++) {
    const bit = st.pendingAt * 32 + e;
    if (!testBit(w, bit) || testBit(w, st.controlAt * 32 + e)) continue;
    clearBit(w, bit);
    owners.push(st.entryOwner[e]);
  }
  const injected = owners.filter((o) => o >= 0);
  emit(log, EVENT.intxStatusRead, p, store, owners.length, injected.length);
  for (const owner of injected) kvmSetMsi(s, log, owner, p);
}

/** pi_wakeup_handler: every vCPU blocked on `p` whose descriptor has ON set becomes runnable. */
function wakeBlockedOn(s: SystemState, log: EventLog, p: number): void {
  for (let v = 0; v < s.topology.vcpus.length; v++) {
    if (vcpuState(s, v) !== VCPU_STATE.blocked || vcpuPcpu(s, v) !== p) continue;
    if (getField(s.words, pidControlAt(s, v), PID_F.on) === 1) wake(s, log, v);
  }
}

function wake(s: SystemState, log: EventLog, v: number): void {
  const p = vcpuPcpu(s, v);
  setVcpuRun(s, v, VCPU_STATE.inHost, p);
  emit(log, EVENT.vcpuWake, v, p);
}

/** VFIO's handler signalled the irqfd: KVM delivers the guest MSI of the vector's route. */
function kvmSetMsi(s: SystemState, log: EventLog, vector: number, fromPcpu: number): void {
  const t = s.topology;
  const w = s.words;
  const route = t.layout.vectorRoute + vector * ROUTE_DWORDS;
  const vm = t.vms[t.vectors[vector].vm];
  const dest = getField(w, route, ROUTE_F.destinationId);
  const guestVector = getField(w, route + 2, ROUTE_F.vector);
  if (dest >= vm.vcpus) {
    countOutcome(s, vector, VECTOR_COUNTERS.lost);
    emit(log, EVENT.irFault, -1, NO_SUCH_DESTINATION, dest, vector);
    return;
  }
  const target = vcpuId(t, t.vectors[vector].vm, dest);
  emit(log, EVENT.kvmMsiSetIrq, target, w[route], w[route + 2], vector);
  if (t.host.apicv) {
    softwarePost(s, log, target, guestVector, vector, fromPcpu);
    return;
  }
  // No APICv: pending in software, injected at the next entry; kick the vCPU out of the guest.
  const bit = pidAt(s, target) * 32 + guestVector;
  if (testBit(w, bit)) countCoalesced(s, log, vector, COALESCE_AT.pir);
  else {
    setBit(w, bit);
    emit(log, EVENT.posted, target, guestVector, vector, 0);
  }
  kick(s, log, target, fromPcpu);
}

/** KVM with APICv (vmx_deliver_posted_interrupt): set PIR and ON in software, then
 *  kvm_vcpu_trigger_posted_interrupt: the notification IPI if the vCPU is in guest mode, a
 *  wake-up if it is blocked, nothing if it is in the host (it syncs at entry). NV/NDST and SN
 *  are the hardware's business and are not consulted. */
function softwarePost(
  s: SystemState,
  log: EventLog,
  v: number,
  vector: number,
  tag: number,
  fromPcpu: number,
): void {
  const w = s.words;
  const bit = pidAt(s, v) * 32 + vector;
  if (testBit(w, bit)) {
    countCoalesced(s, log, tag, COALESCE_AT.pir);
    return;
  }
  setBit(w, bit);
  const ctl = pidControlAt(s, v);
  const wasOn = getField(w, ctl, PID_F.on) === 1;
  setField(w, ctl, PID_F.on, 1);
  emit(log, EVENT.posted, v, vector, tag, wasOn ? 0 : 1);
  if (wasOn) return;
  const state = vcpuState(s, v);
  if (state === VCPU_STATE.blocked) wake(s, log, v);
  else if (state === VCPU_STATE.inGuest) {
    const p = vcpuPcpu(s, v);
    emit(log, EVENT.ipi, fromPcpu, p, POSTED_INTR_VECTOR);
    lapicRequest(s, log, -1, p, POSTED_INTR_VECTOR, NO_VECTOR);
  }
}

function kick(s: SystemState, log: EventLog, v: number, fromPcpu: number): void {
  const state = vcpuState(s, v);
  if (state === VCPU_STATE.blocked) wake(s, log, v);
  else if (state === VCPU_STATE.inGuest) {
    const p = vcpuPcpu(s, v);
    emit(log, EVENT.ipi, fromPcpu, p, RESCHEDULE_VECTOR);
    lapicRequest(s, log, -1, p, RESCHEDULE_VECTOR, NO_VECTOR);
  }
}

function countCoalesced(s: SystemState, log: EventLog, vector: number, where: number): void {
  countOutcome(s, vector, VECTOR_COUNTERS.coalesced);
  emit(log, EVENT.coalesced, vector, where);
}

// ---- vCPU ----

export function vmExit(s: SystemState, log: EventLog, v: number, reason: number, info: number) {
  const p = vcpuPcpu(s, v);
  setVcpuRun(s, v, VCPU_STATE.inHost, p);
  setPcpuHost(s, p);
  emit(log, EVENT.vmExit, v, reason, p, info);
}

/** VM entry (vcpu_enter_guest): pi_load (NDST = this pCPU, NV = notification vector, SN = 0),
 *  then PIR -> virtual IRR (vmx_sync_pir_to_irr), then guest mode. */
export function vcpuEnter(s: SystemState, log: EventLog, v: number): void {
  if (vcpuState(s, v) !== VCPU_STATE.inHost) return;
  const p = vcpuPcpu(s, v);
  pidSetNotification(s, v, POSTED_INTR_VECTOR, p);
  setField(s.words, pidControlAt(s, v), PID_F.sn, 0);
  const moved = syncPir(s, log, v);
  setVcpuRun(s, v, VCPU_STATE.inGuest, p);
  setPcpuGuest(s, p, v);
  emit(log, EVENT.vmEntry, v, p);
  if (moved > 0) emit(log, EVENT.pirSynced, v, moved);
}

/** Clears ON and ORs PIR into the virtual IRR, clearing PIR; a vector already in the IRR merges
 *  into it (counted as coalesced). Returns how many vectors moved. */
function syncPir(s: SystemState, log: EventLog, v: number): number {
  const w = s.words;
  const pir = pidAt(s, v);
  const virr = virrAt(s, v);
  setField(w, pidControlAt(s, v), PID_F.on, 0);
  let moved = 0;
  for (let i = 0; i < PID_PIR_DWORDS; i++) {
    const bits = w[pir + i];
    if (bits === 0) continue;
    const merged = (w[virr + i] & bits) >>> 0;
    w[virr + i] = (w[virr + i] | bits) >>> 0;
    w[pir + i] = 0;
    for (let rest = bits; rest !== 0; rest = (rest & (rest - 1)) >>> 0) moved++;
    for (let rest = merged; rest !== 0; rest = (rest & (rest - 1)) >>> 0) {
      const b = 31 - Math.clz32(rest & -rest);
      countCoalesced(s, log, guestVectorOwner(s, v, i * 32 + b), COALESCE_AT.virr);
    }
  }
  return moved;
}

/** The guest takes its highest pending vector, runs the handler and EOIs (one step). */
export function guestHandle(s: SystemState, log: EventLog, v: number): void {
  if (vcpuState(s, v) !== VCPU_STATE.inGuest) return;
  const virr = virrAt(s, v);
  const vector = highestBit(s.words, virr, APIC_REG_DWORDS);
  if (vector < 0) return;
  clearBit(s.words, virr * 32 + vector);
  const owner = guestVectorOwner(s, v, vector);
  if (owner !== NO_VECTOR) {
    countOutcome(s, owner, VECTOR_COUNTERS.delivered);
    completeMove(s, owner, v, vector);
  }
  const guestIrq = owner === NO_VECTOR ? -1 : s.topology.vectors[owner].guestIrq;
  emit(log, EVENT.guestIrq, v, vector, owner, guestIrq);
  if (!s.topology.host.apicv) vmExit(s, log, v, EXIT_REASON.msrWrite, 0);
}

/** The assigned vector whose guest handler runs for `vector` on vCPU `v`: the one routed there,
 *  or one that was routed there before its last move. NO_VECTOR if none. */
export function guestVectorOwner(s: SystemState, v: number, vector: number): number {
  const t = s.topology;
  const w = s.words;
  const vcpu = t.vcpus[v];
  const vectors = t.vms[vcpu.vm].vectors;
  let previous = NO_VECTOR;
  for (let i = 0; i < vectors.length; i++) {
    const route = t.layout.vectorRoute + vectors[i] * ROUTE_DWORDS;
    if (
      getField(w, route + 2, ROUTE_F.vector) === vector &&
      getField(w, route, ROUTE_F.destinationId) === vcpu.index
    ) {
      return vectors[i];
    }
    const prev = route + ROUTE_PREVIOUS_DWORD;
    if (
      getField(w, prev, PREV_F.vcpuPlusOne) === vcpu.index + 1 &&
      getField(w, prev, PREV_F.vector) === vector
    ) {
      previous = vectors[i];
    }
  }
  return previous;
}

/** irq_complete_move: the first interrupt on the new target frees the old vector. */
function completeMove(s: SystemState, vector: number, v: number, guestVector: number): void {
  const route = s.topology.layout.vectorRoute + vector * ROUTE_DWORDS;
  if (s.words[route + ROUTE_PREVIOUS_DWORD] === 0) return; // no move in progress
  if (
    getField(s.words, route, ROUTE_F.destinationId) === s.topology.vcpus[v].index &&
    getField(s.words, route + 2, ROUTE_F.vector) === guestVector
  ) {
    s.words[route + ROUTE_PREVIOUS_DWORD] = 0;
  }
}

/** The lowest device vector no vector of the VM uses on vCPU `index`, now or mid-move. */
/** An idle guest executes HLT: exit; KVM blocks the vCPU unless something is already pending
 *  (kvm_vcpu_check_block), switching its descriptor to the wake-up vector (pi_pre_block). */
export function vcpuHalt(s: SystemState, log: EventLog, v: number): void {
  if (vcpuState(s, v) !== VCPU_STATE.inGuest) return;
  const p = vcpuPcpu(s, v);
  vmExit(s, log, v, EXIT_REASON.hlt, 0);
  if (vcpuPirPending(s, v) || vcpuVirrPending(s, v)) return;
  pidSetNotification(s, v, POSTED_INTR_WAKEUP_VECTOR, p);
  setVcpuRun(s, v, VCPU_STATE.blocked, p);
  emit(log, EVENT.vcpuBlock, v, p);
}

/** The host scheduler moves vCPU `v` to `p`: out of guest mode (the reschedule IPI exits it),
 *  SN set while it is not running (vmx_vcpu_pi_put), NDST follows at the next entry. A blocked
 *  vCPU's wake-up notification follows it at once. */
export function vcpuMigrate(s: SystemState, log: EventLog, v: number, p: number): void {
  const from = vcpuPcpu(s, v);
  if (from === p) return;
  const state = vcpuState(s, v);
  if (state === VCPU_STATE.inGuest)
    vmExit(s, log, v, EXIT_REASON.externalInterrupt, RESCHEDULE_VECTOR);
  if (state === VCPU_STATE.blocked) pidSetNotification(s, v, POSTED_INTR_WAKEUP_VECTOR, p);
  else setField(s.words, pidControlAt(s, v), PID_F.sn, 1);
  setVcpuRun(s, v, state === VCPU_STATE.blocked ? VCPU_STATE.blocked : VCPU_STATE.inHost, p);
  emit(log, EVENT.vcpuMigrate, v, from, p);
}

// ---- workload inputs on assigned vectors ----

/** The guest moved `vector` to its vCPU `index` and guest vector `newVector` (its kernel's
 *  choice, made on the control plane: `guest-run.ts runGuestActions`, whose exits that plane
 *  counts per strategy). What reaches the data plane is the same under every strategy: KVM's
 *  route now names the new target and, with a posted host IRTE, the IRTE is rewritten for the
 *  new vCPU and vector (emulate/vir: kvm_pi_update_irte -> modify_irte; vir-direct: the shadow of
 *  the guest's new IRTE; pv: RETARGET) with an IEC flush that completes as its own action. */
export function setAffinity(
  s: SystemState,
  log: EventLog,
  vector: number,
  index: number,
  newVector: number,
): void {
  const t = s.topology;
  const spec = t.vectors[vector];
  const w = s.words;
  const route = t.layout.vectorRoute + vector * ROUTE_DWORDS;
  const oldIndex = getField(w, route, ROUTE_F.destinationId);
  const oldVector = getField(w, route + 2, ROUTE_F.vector);
  if (oldIndex === index && oldVector === newVector) return;
  // Linux allocates the vector on the new CPU first and keeps the old one until the move
  // completes (assign_irq_vector, irq_complete_move).
  setField(w, route, ROUTE_F.destinationId, index);
  setField(w, route + 2, ROUTE_F.vector, newVector);
  const prev = route + ROUTE_PREVIOUS_DWORD;
  setField(w, prev, PREV_F.vcpuPlusOne, oldIndex + 1);
  setField(w, prev, PREV_F.vector, oldVector);
  const target = vcpuId(t, spec.vm, index);
  if (spec.irte < 0) return;
  const irteAt = t.layout.irt + spec.irte * IRTE_DWORDS;
  if (IRTE_POSTED.accessors.irteMode.get(w, irteAt) !== IRTE_MODE.posted) return;
  const keep = IRTE_POSTED.accessors;
  const irte = encodeIrtePosted({
    present: 1,
    virtualVector: newVector,
    ...pdaFields(pidAddress(target)),
    sourceId: keep.sourceId.get(w, irteAt),
    sourceIdQualifier: keep.sourceIdQualifier.get(w, irteAt),
    sourceValidationType: keep.sourceValidationType.get(w, irteAt),
  });
  writeHostIrte(s, spec.irte, irte);
  queueIecFlush(s, spec.irte);
  emit(log, EVENT.irteUpdate, spec.irte, target, newVector, 1);
}

/** Sets or clears the Mask bit of the vector's host entry; clearing it with the pending bit set
 *  sends the entry's current message once (PCIe "Per-vector Masking"; IMS alike). */
export function setVectorMask(s: SystemState, log: EventLog, vector: number, masked: boolean) {
  const t = s.topology;
  const spec = t.vectors[vector];
  const st = t.stores[spec.store];
  const w = s.words;
  switch (st.kind) {
    case 'intx': {
      // The source's bit in the subdevice's mask register; unmasking a latched source asserts
      // the line if nothing else holds it asserted.
      const bit = st.controlAt * 32 + spec.entry;
      const asserted = intxLineAsserted(s, st);
      if (masked) setBit(w, bit);
      else clearBit(w, bit);
      emit(log, EVENT.maskChanged, spec.store, spec.entry, masked ? 1 : 0, vector);
      if (!masked && !asserted && intxLineAsserted(s, st) && !entryMasked(w, st, spec.entry)) {
        sendEntry(s, log, st, 0, vector);
      }
      return;
    }
    case 'msix':
      MSIX_TABLE_ENTRY.accessors.mask.set(
        w,
        masked ? 1 : 0,
        st.entriesAt + spec.entry * MSIX_ENTRY_DWORDS,
      );
      break;
    case 'ims':
      IMS_ENTRY.accessors.mask.set(w, masked ? 1 : 0, st.entriesAt + spec.entry * IMS_ENTRY_DWORDS);
      break;
    case 'msi': {
      const bit = (st.entriesAt + MSI_STORE_DWORDS.mask) * 32 + spec.entry;
      if (masked) setBit(w, bit);
      else clearBit(w, bit);
      break;
    }
  }
  emit(log, EVENT.maskChanged, spec.store, spec.entry, masked ? 1 : 0, vector);
  const pending = st.pendingAt * 32 + spec.entry;
  if (!masked && testBit(w, pending) && !entryMasked(w, st, spec.entry)) {
    clearBit(w, pending);
    sendEntry(s, log, st, spec.entry, vector);
  }
}

export function hotUnplug(s: SystemState, log: EventLog, store: number): void {
  s.words[s.topology.stores[store].unpluggedAt] = 1;
  emit(log, EVENT.unplugged, store);
}
