// A pCPU taking a host interrupt in the whole-system model (Intel SDM Vol. 3C "Posted-Interrupt
// Processing": the notification vector in VMX non-root mode is processed without an exit, any
// other external interrupt exits) and the host handlers that run for it: KVM's posted-interrupt
// and wake-up handlers (kvm_posted_intr_ipi, pi_wakeup_handler), VFIO's handler for an assigned
// vector signalling the irqfd, KVM injecting the guest MSI of the vector's route (kvm_set_msi ->
// vmx_deliver_posted_interrupt with APICv, else a pending request and a kick), and VFIO's INTx
// handler fanning a shared line out to a subdevice's sources.
//
// Invariants: a handler runs to completion in one step (nothing is in service between steps); a
// host vector no assigned vector owns is a spurious interrupt, counted as such.
// Not modelled: preemption by other host tasks, interrupt windows / EFLAGS.IF, NMIs,
// level-triggered interrupts.

import { apicHighestVector } from '../hw/x86/lapic.js';
import { piTestAndSetOn, piTestAndSetPir } from '../hw/x86/posted-descriptor.js';
import { attributedOwner } from './guest-vector.js';
import { kvmVcpuWakeUp, piWakeupHandler } from './kvm-posted-intr.js';
import { countOutcome, lapicRequest, NO_SUCH_DESTINATION } from './system-delivery.js';
import { COALESCE_AT, EVENT, type EventLog, EXIT_REASON, emit } from './system-events.js';
import { clearBit, testBit } from './system-fields.js';
import {
  guestOnPcpu,
  POSTED_INTR_VECTOR,
  POSTED_INTR_WAKEUP_VECTOR,
  pidAt,
  RESCHEDULE_VECTOR,
  routeTarget,
  type SystemState,
  setVmsixFlag,
  VCPU_STATE,
  vcpuPcpu,
  vcpuState,
  vmsixFlag,
} from './system-state.js';
import { NO_VECTOR, ROUTE_DWORDS, VECTOR_COUNTERS, vcpuId } from './system-topology.js';
import { countCoalesced, irrAt, syncPir, vmExit } from './system-vcpu.js';

/** The pCPU takes its highest pending interrupt (IRR -> handler -> EOI, in one step). */
export function pcpuInterrupt(s: SystemState, log: EventLog, p: number): void {
  const irr = irrAt(s, p);
  const vector = apicHighestVector(s.words, irr);
  if (vector < 0) return;
  clearBit(s.words, irr * 32 + vector);
  const guest = guestOnPcpu(s, p);
  if (guest >= 0) {
    if (vector === POSTED_INTR_VECTOR && s.topology.host.apicv) {
      // SDM: the notification vector in non-root mode is acknowledged and processed: PIR of the
      // descriptor of the vCPU running HERE moves into its virtual IRR, no VM exit.
      const moved = syncPir(s, log, guest, attributedOwner);
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
    piWakeupHandler(s, log, p);
    return;
  }
  const owner = t.hostVectorOwner[p * 256 + vector];
  if (owner < 0) {
    emit(log, EVENT.spurious, p, vector);
    return;
  }
  emit(log, EVENT.hostIrq, p, vector, t.vectors[owner].hostIrq, owner);
  const st = t.stores[t.vectors[owner].store];
  if (st.kind !== 'intx') vfioSignal(s, log, owner, p);
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
  for (const owner of injected) vfioSignal(s, log, owner, p);
}

/** VFIO's handler signals the vector's trigger eventfd: KVM's irqfd (kvm_set_msi from the route)
 *  or, while the guest's entry is masked under an emulating VMM, the VMM's (its event loop runs
 *  vfio_msi_interrupt: ACTION.vmmInterrupt); a signal on an eventfd not yet read merges. */
function vfioSignal(s: SystemState, log: EventLog, vector: number, p: number): void {
  if (!vmsixFlag(s, vector, 'vmmTrigger')) {
    kvmSetMsi(s, log, vector, p);
    return;
  }
  if (vmsixFlag(s, vector, 'signalled')) {
    countCoalesced(s, log, vector, COALESCE_AT.vmm);
    return;
  }
  setVmsixFlag(s, vector, 'signalled', true);
  emit(log, EVENT.vmmSignalled, vector);
}

/** VFIO's handler signalled the irqfd: KVM delivers the guest MSI of the vector's route. */
export function kvmSetMsi(s: SystemState, log: EventLog, vector: number, fromPcpu: number): void {
  const t = s.topology;
  const w = s.words;
  const route = t.layout.vectorRoute + vector * ROUTE_DWORDS;
  const vm = t.vms[t.vectors[vector].vm];
  const { vcpu: dest, vector: guestVector } = routeTarget(s, vector);
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
  if (piTestAndSetPir(w, pidAt(s, target), guestVector)) {
    countCoalesced(s, log, vector, COALESCE_AT.pir);
  } else emit(log, EVENT.posted, target, guestVector, vector, 0);
  kick(s, log, target, fromPcpu);
}

/** KVM with APICv (vmx_deliver_posted_interrupt): set PIR and ON in software, then
 *  kvm_vcpu_trigger_posted_interrupt: the notification IPI if the vCPU is in guest mode, else
 *  kvm_vcpu_wake_up (a sleeping vCPU wakes; a running one syncs at entry). NV/NDST and SN are
 *  the hardware's business and are not consulted. */
function softwarePost(
  s: SystemState,
  log: EventLog,
  v: number,
  vector: number,
  tag: number,
  fromPcpu: number,
): void {
  if (piTestAndSetPir(s.words, pidAt(s, v), vector)) {
    countCoalesced(s, log, tag, COALESCE_AT.pir);
    return;
  }
  const wasOn = piTestAndSetOn(s.words, pidAt(s, v));
  emit(log, EVENT.posted, v, vector, tag, wasOn ? 0 : 1);
  if (wasOn) return;
  kick(s, log, v, fromPcpu, POSTED_INTR_VECTOR);
}

/** kvm_vcpu_kick: an IPI to a vCPU in guest mode (the notification vector with APICv, else the
 *  reschedule vector), a wake-up to one that sleeps. */
function kick(s: SystemState, log: EventLog, v: number, fromPcpu: number, ipi = RESCHEDULE_VECTOR) {
  if (vcpuState(s, v) === VCPU_STATE.inGuest) {
    const p = vcpuPcpu(s, v);
    emit(log, EVENT.ipi, fromPcpu, p, ipi);
    lapicRequest(s, log, -1, p, ipi, NO_VECTOR);
  } else kvmVcpuWakeUp(s, log, v);
}
