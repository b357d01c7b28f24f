// What a step of the whole-system model reports: plain-data events, appended to a caller-owned
// log the simulator prices with the cost model and the trace recorder records. The log is a
// struct of arrays (a kind and four numeric arguments per event) so that stepping allocates
// nothing; `eventsOf` turns it into objects for tests and reports.
//
// Invariants: events appear in the order things happened inside the step; each kind has fixed
// argument meanings, documented on EVENT (the trace writers and the simulator rely on them).

import { defineLayout } from '../hw/bits.js';

export const EVENT = {
  /** A device raised an assigned vector: store, entry, vector index. */
  raise: 0,
  /** Raised on a masked entry: its pending bit was set. store, entry, vector. */
  pendingSet: 1,
  /** Merged into an interrupt already pending: vector, where (COALESCE_AT). */
  coalesced: 2,
  /** The device could not signal (MSI-X disabled, store unplugged): store, entry, vector. */
  dropped: 3,
  /** A message entered a requester's FIFO: port, vector, addrLo, data. */
  msiSent: 4,
  /** The remapping unit blocked a request: port, fault reason, interrupt index, vector. */
  irFault: 5,
  /** A request was posted into a PID: vCPU, guest vector, vector, notified (0/1). */
  posted: 6,
  /** A host LAPIC accepted an interrupt: pCPU, host vector, vector (NO_VECTOR if none). */
  hostIrrSet: 7,
  /** A posted-interrupt notification left for a pCPU: pCPU, notification vector, vCPU. */
  piNotify: 8,
  /** Posted-interrupt processing in guest mode (no exit): pCPU, vCPU, vectors moved. */
  piProcessed: 9,
  /** PIR moved into the virtual IRR at VM entry: vCPU, vectors moved. */
  pirSynced: 10,
  /** VM exit: vCPU, reason (EXIT_REASON), pCPU, vector (external interrupt) or 0. */
  vmExit: 11,
  /** VM entry: vCPU, pCPU. */
  vmEntry: 12,
  /** A host interrupt handler ran: pCPU, host vector, host irq (or -1), vector index. */
  hostIrq: 13,
  /** KVM injected an MSI from a route (kvm_set_msi): vCPU, address, data, vector index. */
  kvmMsiSetIrq: 14,
  /** An IPI (kick or posted notification sent by KVM): from pCPU, to pCPU, vector. */
  ipi: 15,
  /** A blocked vCPU was woken: vCPU, pCPU. */
  vcpuWake: 16,
  /** A vCPU blocked in HLT: vCPU, pCPU. */
  vcpuBlock: 17,
  /** The guest's handler ran: vCPU, guest vector, vector index (NO_VECTOR: nobody's), guest irq. */
  guestIrq: 18,
  /** A host IRTE was rewritten: IRTE index, vCPU, guest vector, posted (0/1). */
  irteUpdate: 19,
  /** Interrupt entry cache invalidated: first IRTE index, number of indices. */
  iecInvalidate: 20,
  /** A vCPU moved: vCPU, from pCPU, to pCPU. */
  vcpuMigrate: 21,
  /** An entry's mask changed: store, entry, masked (0/1), vector. */
  maskChanged: 22,
  /** A store was hot-unplugged: store. */
  unplugged: 23,
  /** An interrupt with no handler (spurious) reached a pCPU: pCPU, vector. */
  spurious: 24,
  /** The host's INTx handler read a subdevice's interrupt status register (and cleared what it
   *  read, write-1-to-clear): pCPU, store, status bits read, sources injected. */
  intxStatusRead: 25,
  /** A step of a step program ran: thread, program id, step index, result (STEP). */
  programStep: 26,
  /** A thread's next step can run once the gap passes: thread, wait (WAIT). */
  threadReady: 27,
  /** KVM loaded a vCPU (vmx_vcpu_pi_load): vCPU, previous pCPU, pCPU. */
  vcpuLoad: 28,
  /** kvm_vcpu_block ended without sleeping (an event was pending): vCPU, pCPU. */
  vcpuResume: 29,
  /** The guest's cleanup of a moved vector's previous target ran: vector index, freed (0/1:
   *  still pending in the old vCPU's IRR, re-armed). */
  vectorCleanup: 30,
  /** A guest handler found no owner for its vector: vCPU, guest vector, the assigned vector the
   *  interrupt is attributed to (its freed previous target) or NO_VECTOR. Counted as lost. */
  misdirected: 31,
  /** A set-affinity the guest kernel refuses while the previous move is still held (-EBUSY):
   *  vector index, vCPU index asked for, guest vector asked for. */
  affinityRefused: 32,
  /** QEMU handled a trapped write to a guest MSI-X entry it emulates: vector index, dword,
   *  value, whether the mask bit changed (0/1: only then does QEMU act). */
  vmmMsixWrite: 33,
  /** VFIO signalled the VMM's eventfd for a vector whose guest entry QEMU holds masked: vector. */
  vmmSignalled: 34,
  /** QEMU set the virtual PBA bit of a masked guest entry (msix_set_pending): vector index. */
  vmmPendingSet: 35,
  /** The interrupt entry cache evicted a cached IRTE on its own: IRTE index. */
  iecEvict: 36,
  /** An interrupt left the remapping unit for a LAPIC (accepted by ACTION.apicDeliver): APIC ID,
   *  vector, vector index (NO_VECTOR if none). */
  upstream: 37,
  /** A guest interrupt hit a vector_irq slot msi_set_affinity marked VECTOR_RETRIGGERED: vCPU,
   *  guest vector, vector index, RETRIGGER_MARK (carried: retriggered, counted at the new target;
   *  marked: dropped, counted lost). */
  retriggerMarkHit: 38,
  /** The guest's msi_set_affinity found the new vector pending in the old CPU's IRR and
   *  retriggered it to the new target (apic_retrigger_irq): vector index. */
  msiRetrigger: 39,
  /** QEMU handled a trapped write to the guest's MSI capability (vfio_pci_write_config): vector
   *  index, dword of the message (0 address, 1 upper address, 2 data), value. */
  vmmMsiWrite: 40,
  /** modify_irte's qi_flush_iec wrote IQT: an IEC descriptor and a wait are queued. IRTE index. */
  qiSubmit: 41,
  /** A wait descriptor completed: its status write (status data). */
  qiWaitDone: 42,
  /** The interrupts an IEC invalidation must drain have all reached their LAPICs: 0. */
  qiDrained: 43,
} as const;

export type EventKind = (typeof EVENT)[keyof typeof EVENT];

export const EVENT_NAMES: readonly string[] = Object.keys(EVENT);

/** Where an interrupt merged into one already pending. */
export const COALESCE_AT = { device: 0, port: 1, pir: 2, virr: 3, hostIrr: 4, vmm: 5 } as const;
export const COALESCE_NAMES = ['device', 'port', 'pir', 'virr', 'host-irr', 'vmm'] as const;

/** VMX basic exit reasons (Intel SDM Vol. 3D, Appendix C "VMX Basic Exit Reasons"). */
export const EXIT_REASON = {
  externalInterrupt: 1,
  hlt: 12,
  vmcall: 18,
  ioInstruction: 30,
  msrWrite: 32,
  apicAccess: 44,
  eoiInduced: 45,
  eptViolation: 48,
  eptMisconfig: 49,
  apicWrite: 56,
} as const;

/** Names as KVM's kvm_exit tracepoint prints them (VMX_EXIT_REASONS in uapi/asm/vmx.h). */
export const EXIT_REASON_NAMES: Readonly<Record<number, string>> = {
  1: 'EXTERNAL_INTERRUPT',
  12: 'HLT',
  18: 'VMCALL',
  30: 'IO_INSTRUCTION',
  32: 'MSR_WRITE',
  44: 'APIC_ACCESS',
  45: 'EOI_INDUCED',
  48: 'EPT_VIOLATION',
  49: 'EPT_MISCONFIG',
  56: 'APIC_WRITE',
};

/** Delivery mode names as KVM's tracepoints print them (kvm_deliver_mode). */
export const DELIVERY_MODE_NAMES_KVM = [
  'Fixed',
  'LowPrio',
  'SMI',
  'Res3',
  'NMI',
  'INIT',
  'SIPI',
  'ExtINT',
] as const;

/** What kvm_exit prints as intr_info for an external-interrupt exit. */
export const VMX_EXIT_INTR_INFO = defineLayout(
  'vmx-exit-interruption-info',
  32,
  'Intel SDM Vol. 3C, "Information for VM Exits Due to Vectored Events": VM-exit interruption info',
  {
    vector: [7, 0, 'vector of the interrupt or exception'],
    interruptionType: [10, 8, 'interruption type: 0 external interrupt'],
    errorCodeValid: [11, 11, 'error code valid'],
    nmiUnblockingDueToIret: [12, 12, 'NMI unblocking due to IRET'],
    reserved: [30, 13, 'reserved (0)'],
    valid: [31, 31, 'valid'],
  },
  { complete: true },
);

const INITIAL_CAPACITY = 64;

/** Arguments per event, stored together: event i's are args[4i .. 4i+3]. */
export const EVENT_ARGS = 4;

export interface EventLog {
  length: number;
  kind: Uint8Array;
  args: Float64Array;
}

export function createEventLog(capacity = INITIAL_CAPACITY): EventLog {
  return {
    length: 0,
    kind: new Uint8Array(capacity),
    args: new Float64Array(capacity * EVENT_ARGS),
  };
}

export function emit(log: EventLog, kind: EventKind, a: number, b = 0, c = 0, d = 0): void {
  const i = log.length;
  if (i === log.kind.length) growLog(log);
  log.length = i + 1;
  log.kind[i] = kind;
  const at = i * EVENT_ARGS;
  const args = log.args;
  args[at] = a;
  args[at + 1] = b;
  args[at + 2] = c;
  args[at + 3] = d;
}

export function clearEvents(log: EventLog): void {
  log.length = 0;
}

function growLog(log: EventLog): void {
  const kind = new Uint8Array(log.kind.length * 2);
  kind.set(log.kind);
  const args = new Float64Array(kind.length * EVENT_ARGS);
  args.set(log.args);
  log.kind = kind;
  log.args = args;
}

export interface SystemEvent {
  readonly kind: string;
  readonly args: readonly [number, number, number, number];
}

/** The log as plain objects (for tests, reports and counterexamples; not for hot paths). */
export function eventsOf(log: EventLog, from = 0): SystemEvent[] {
  const out: SystemEvent[] = [];
  for (let i = from; i < log.length; i++) {
    const at = i * EVENT_ARGS;
    const a = log.args;
    out.push({ kind: EVENT_NAMES[log.kind[i]], args: [a[at], a[at + 1], a[at + 2], a[at + 3]] });
  }
  return out;
}
