// A vCPU's interrupt state in the whole-system model, below the code that moves it: its virtual
// IRR and ISR (the virtual-APIC page), its posted-interrupt descriptor's PIR, the host LAPIC IRR of each
// pCPU, the VM exit, and the move of PIR into the virtual IRR (Intel SDM Vol. 3C
// "Posted-Interrupt Processing"; KVM vmx_sync_pir_to_irr). Who runs these: `host-irq.ts` (the
// pCPU taking an interrupt), `kvm-posted-intr.ts` (KVM's scheduling of the vCPU and its
// descriptor), `guest-vector.ts` (the guest's handler).
//
// Invariants: a vCPU is in guest mode on at most one pCPU, and a pCPU runs at most one vCPU in
// guest mode (no overcommit); every vector PIR -> vIRR finds already set in the vIRR is counted
// coalesced for the vector that owns it there.
// Without APICv (host.apicv: false) KVM keeps injected vectors pending in software and injects
// them at the next VM entry after a kick; irqlab keeps that pending set in the same PIR dwords
// (no ON bit, no notification).

import { APIC_REG_DWORDS } from '../hw/x86/lapic.js';
import { PID_PIR_DWORDS, piSyncPirToIrr } from '../hw/x86/posted-descriptor.js';
import { countOutcome } from './system-delivery.js';
import { COALESCE_AT, EVENT, type EventLog, emit } from './system-events.js';
import { highestBit } from './system-fields.js';
import {
  pidAt,
  type SystemState,
  setPcpuHost,
  setVcpuRun,
  VCPU_STATE,
  vcpuPcpu,
  vcpuState,
} from './system-state.js';
import { NO_VECTOR, VECTOR_COUNTERS } from './system-topology.js';

export const virrAt = (s: SystemState, v: number): number =>
  s.topology.layout.vcpuVirr + v * APIC_REG_DWORDS;
/** The vCPU's virtual ISR (virtual-APIC page): set by virtual-interrupt delivery, cleared by
 *  the guest's EOI (`guest-vector.ts`). */
export const visrAt = (s: SystemState, v: number): number =>
  s.topology.layout.vcpuVisr + v * APIC_REG_DWORDS;
export const irrAt = (s: SystemState, p: number): number =>
  s.topology.layout.pcpuIrr + p * APIC_REG_DWORDS;

export const pcpuIrrPending = (s: SystemState, p: number): boolean =>
  highestBit(s.words, irrAt(s, p), APIC_REG_DWORDS) >= 0;
export const vcpuVirrPending = (s: SystemState, v: number): boolean =>
  highestBit(s.words, virrAt(s, v), APIC_REG_DWORDS) >= 0;
export const vcpuPirPending = (s: SystemState, v: number): boolean =>
  highestBit(s.words, pidAt(s, v), PID_PIR_DWORDS) >= 0;
/** vCPU `v` executes guest instructions: it is in guest mode and its pCPU has no host interrupt
 *  pending (the CPU takes a pending external interrupt before the next guest instruction: a VM
 *  exit, or the posted-interrupt notification processed into the vIRR; SDM 25.2, 29.6). */
export const guestExecuting = (s: SystemState, v: number): boolean =>
  vcpuState(s, v) === VCPU_STATE.inGuest && !pcpuIrrPending(s, vcpuPcpu(s, v));
/** The guest is in an interrupt handler: a vector it took is in service, not yet EOI'd. */
export const vcpuInService = (s: SystemState, v: number): boolean =>
  highestBit(s.words, visrAt(s, v), APIC_REG_DWORDS) >= 0;

export function countCoalesced(s: SystemState, log: EventLog, vector: number, where: number) {
  countOutcome(s, vector, VECTOR_COUNTERS.coalesced);
  emit(log, EVENT.coalesced, vector, where);
}

export function vmExit(s: SystemState, log: EventLog, v: number, reason: number, info: number) {
  const p = vcpuPcpu(s, v);
  setVcpuRun(s, v, VCPU_STATE.inHost, p);
  setPcpuHost(s, p);
  emit(log, EVENT.vmExit, v, reason, p, info);
}

/** Posted-interrupt processing or KVM's sync of vCPU `v`'s descriptor into its virtual IRR
 *  (`piSyncPirToIrr`, the one implementation); a vector already in the IRR merges into it,
 *  counted as coalesced for `ownerOf(vector)`. Returns how many vectors moved. */
export function syncPir(
  s: SystemState,
  log: EventLog,
  v: number,
  ownerOf: (s: SystemState, v: number, vector: number) => number,
): number {
  return piSyncPirToIrr(s.words, pidAt(s, v), s.words, virrAt(s, v), (vector) => {
    const owner = ownerOf(s, v, vector);
    if (owner !== NO_VECTOR) countCoalesced(s, log, owner, COALESCE_AT.virr);
  });
}
