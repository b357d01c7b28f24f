// The whole-system state: the shared topology plus ONE Uint32Array holding everything that changes
// (DESIGN.md §3): MSI-X tables and PBAs, IMS stores, MSI registers, requester FIFOs, the VT-d
// remapping table and interrupt entry cache, host LAPIC IRRs, posted-interrupt descriptors,
// virtual IRRs, vCPU run states, KVM's MSI routes, per-vector ghost counters. Hardware memory is
// kept as the dwords software sees (byte-comparable with the fixtures); irqlab's own bookkeeping
// (run states, tags, counters) has its own layouts below.
//
// Saving a state is one typed-array copy (`cloneSystemState`); its canonical encoding is the words
// themselves (FIFOs are kept shifted and zero-filled, so equal states have equal words).
// Invariants: only `state.words` changes; `state.topology` is shared and never written.
// Not modelled: host ISRs (a host handler runs atomically in one step, so nothing is in service
// between steps; the guest's virtual ISR is kept: its EOI is a step of its own), TMRs (every
// interrupt here is edge-triggered).

import { defineLayout } from '../hw/bits.js';
import { assert } from '../hw/errors.js';
import { fieldPos, getField, setField } from '../hw/field-pos.js';
import { IMS_ENTRY, IMS_ENTRY_DWORDS } from '../hw/ims/ims-store.js';
import { MSI_MESSAGE_CONTROL } from '../hw/pci/msi-capability.js';
import { MSIX_MESSAGE_CONTROL } from '../hw/pci/msix-capability.js';
import { MSIX_ENTRY_DWORDS, MSIX_TABLE_ENTRY } from '../hw/pci/msix-table.js';
import { IRTE_DWORDS } from '../hw/vtd/irte.js';
import { MSI_ADDRESS_COMPAT, MSI_DATA_COMPAT } from '../hw/x86/msi-message.js';
import {
  encodeNdst,
  PID_CONTROL,
  PID_CONTROL_DWORD,
  PID_DWORDS,
} from '../hw/x86/posted-descriptor.js';
import { FIRST_EXTERNAL_VECTOR } from '../kernel/x86-vector.js';
import { clearBit, setBit } from './system-fields.js';
import {
  GUEST_APIC_DWORDS,
  MSI_STORE_DWORDS,
  PID_REGION_HIGH,
  ROUTE_DWORDS,
  type StoreTopology,
  type SystemTopology,
  VMSIX_DWORDS,
} from './system-topology.js';

/** Host vectors Linux reserves (arch/x86/include/asm/irq_vectors.h). */
export const POSTED_INTR_VECTOR = 0xf2;
export const POSTED_INTR_WAKEUP_VECTOR = 0xf1;
export const RESCHEDULE_VECTOR = 0xfd;

/** Where a vCPU is, as KVM and the host scheduler see it: running guest code (vcpu->mode
 *  IN_GUEST_MODE), running KVM's vcpu_run loop outside guest mode (loaded: vcpu_load ran on
 *  `pcpu`), switched out while blocked in kvm_vcpu_block (on `pcpu`'s wake-up list), or switched
 *  out and runnable (preempted, or woken from the block): it must be loaded again (vcpu_load,
 *  vmx_vcpu_pi_load) on `target` before it can enter. */
export const VCPU_STATE = { inHost: 0, inGuest: 1, blocked: 2, runnable: 3 } as const;

export const VCPU_RUN = defineLayout(
  'irqlab-vcpu-run',
  32,
  'irqlab: a vCPU task as KVM and the host scheduler see it',
  {
    state: [1, 0, 'VCPU_STATE'],
    onWakeupList: [2, 2, "on the wake-up list of `pcpu` (KVM's per-CPU wakeup_vcpus_on_cpu)"],
    pcpu: [12, 3, 'vcpu->cpu: the pCPU it was last loaded on'],
    target: [22, 13, 'the pCPU the host scheduler runs the task on next'],
    reserved: [31, 23, 'zero'],
  },
  { complete: true },
);

/** A thread's step program in progress (`step-program.ts`): which program, at which step. */
export const THREAD = defineLayout(
  'irqlab-thread',
  32,
  'irqlab: the step program a thread (a vCPU task, a guest irq) is running, and its next step',
  {
    program: [7, 0, 'program id (0: none in progress)'],
    pc: [15, 8, 'index of the next step'],
    reserved: [31, 16, 'zero (the program locals are the next two words)'],
  },
  { complete: true },
);

/** The VMM's state of a guest MSI-X entry it emulates (QEMU hw/pci/msix.c, hw/vfio/pci.c). */
export const VMSIX_STATE = defineLayout(
  'irqlab-vmsix-state',
  32,
  "irqlab: QEMU's state of an emulated MSI-X entry and of VFIO's trigger for it",
  {
    pending: [
      0,
      0,
      "the virtual PBA bit (msix_set_pending): raised while the guest's entry was masked",
    ],
    vmmTrigger: [
      1,
      1,
      "VFIO signals the VMM's eventfd, not KVM's irqfd (vfio_msix_vector_release)",
    ],
    signalled: [2, 2, "the VMM's eventfd was signalled and its handler has not run yet"],
    reserved: [31, 3, 'zero'],
  },
  { complete: true },
);

/** An interrupt on its way from the remapping unit (or, without IR, the root complex) to a LAPIC:
 *  what the LAPIC will accept, who sent it, and the IRTE it was remapped through, for draining. */
export const UPSTREAM_MESSAGE = defineLayout(
  'irqlab-upstream-message',
  128,
  'irqlab: an interrupt in flight to a LAPIC',
  {
    apicId: [31, 0, 'destination APIC ID'],
    vector: [39, 32, 'vector'],
    portPlusOne: [55, 40, 'requester port it came from, plus 1 (0: the remapping unit itself)'],
    reserved0: [63, 56, 'zero'],
    tag: [79, 64, 'assigned vector it carries (NO_VECTOR: none)'],
    reserved1: [95, 80, 'zero'],
    irtePlusOne: [112, 96, 'IRTE index it was remapped through, plus 1 (0: not remapped)'],
    reserved2: [127, 113, 'zero'],
  },
  { complete: true },
);

/** What a vCPU exited on when a guest access trapped (KVM's exit to the VMM). */
export const TRAP_KIND = {
  none: 0,
  msixRead: 1,
  msixWrite: 2,
  hypercall: 3,
  invalidation: 4,
  imsRead: 5,
  imsWrite: 6,
  /** A config-space access to the guest's MSI capability (QEMU emulates it under VFIO). */
  cfgAccess: 7,
} as const;
export const TRAP = defineLayout(
  'irqlab-trap',
  32,
  'irqlab: the trapped access a vCPU exited on (its value in the next word)',
  {
    kind: [2, 0, 'TRAP_KIND'],
    dword: [5, 3, 'dword of the MSI-X (IMS) entry, or of the MSI capability (MSI_MESSAGE_DWORD)'],
    vector: [21, 6, 'assigned vector it is about'],
    reserved: [31, 22, 'zero'],
  },
  { complete: true },
);

export const vmsixAt = (s: SystemState, vector: number): number =>
  s.topology.layout.vmsix + vector * VMSIX_DWORDS;
/** The VMSIX_STATE word follows the entry's four dwords. */
export const vmsixStateAt = (s: SystemState, vector: number): number =>
  vmsixAt(s, vector) + MSIX_ENTRY_DWORDS;
export const vmsixFlag = (
  s: SystemState,
  vector: number,
  flag: 'pending' | 'vmmTrigger' | 'signalled',
) => VMSIX_STATE.accessors[flag].get(s.words, vmsixStateAt(s, vector)) === 1;
export function setVmsixFlag(
  s: SystemState,
  vector: number,
  flag: 'pending' | 'vmmTrigger' | 'signalled',
  on: boolean,
): void {
  VMSIX_STATE.accessors[flag].set(s.words, on ? 1 : 0, vmsixStateAt(s, vector));
}

/** The guest's MSI-X entry as the VMM holds it after setup: the pair the guest programmed,
 *  unmasked. */
export function setVirtualMsixEntry(
  s: SystemState,
  vector: number,
  msg: { addrLo: number; addrHi: number; data: number },
): void {
  const at = vmsixAt(s, vector);
  MSIX_TABLE_ENTRY.accessors.messageAddress.set(s.words, msg.addrLo, at);
  MSIX_TABLE_ENTRY.accessors.messageUpperAddress.set(s.words, msg.addrHi, at);
  MSIX_TABLE_ENTRY.accessors.messageData.set(s.words, msg.data, at);
  MSIX_TABLE_ENTRY.accessors.mask.set(s.words, 0, at);
}

/** `pcpuMode` word: 0 while the pCPU runs host code, else 1 + the vCPU in guest mode on it. */
export const PCPU_HOST = 0;

export interface SystemState {
  readonly topology: SystemTopology;
  readonly words: Uint32Array;
}

/** Power-on state: every entry masked, stores disabled, every IRTE not present, every vCPU
 *  loaded on its initial pCPU outside guest mode with a descriptor ready for posting. */
export function resetSystemState(topology: SystemTopology): SystemState {
  const s: SystemState = { topology, words: new Uint32Array(topology.layout.words) };
  for (const store of topology.stores) resetStore(s, store);
  topology.vectors.forEach((v, i) => {
    if (v.virtualMsix !== undefined && v.virtualMsix !== 'none') {
      MSIX_TABLE_ENTRY.accessors.mask.set(s.words, 1, vmsixAt(s, i));
    }
  });
  topology.vcpus.forEach((_, v) => {
    const p = topology.initialPcpu[v];
    setVcpuRun(s, v, VCPU_STATE.inHost, p);
    setField(s.words, topology.layout.vcpuRun + v, RUN_TARGET, p);
    pidSetNotification(s, v, POSTED_INTR_VECTOR, p);
  });
  return s;
}

function resetStore(s: SystemState, store: StoreTopology): void {
  switch (store.kind) {
    case 'intx':
      // The pin masked (its RTE at reset), every source masked in the device.
      MSIX_TABLE_ENTRY.accessors.mask.set(s.words, 1, store.entriesAt);
      for (let e = 0; e < store.entries; e++) setBit(s.words, store.controlAt * 32 + e);
      return;
    case 'msix':
      for (let e = 0; e < store.entries; e++) {
        MSIX_TABLE_ENTRY.accessors.mask.set(s.words, 1, store.entriesAt + e * MSIX_ENTRY_DWORDS);
      }
      return;
    case 'ims':
      for (let e = 0; e < store.entries; e++) {
        IMS_ENTRY.accessors.mask.set(s.words, 1, store.entriesAt + e * IMS_ENTRY_DWORDS);
      }
      return;
    case 'msi':
      return;
  }
}

export const cloneSystemState = (s: SystemState): SystemState => ({
  topology: s.topology,
  words: s.words.slice(),
});

/** Copies `from`'s words into `into` (same topology): the explorer's cheap restore. */
export function copySystemState(into: SystemState, from: SystemState): void {
  assert(into.topology === from.topology, 'copySystemState: different topologies');
  into.words.set(from.words);
}

// ---- vCPU and pCPU run state ----

const RUN_STATE = fieldPos(VCPU_RUN, 'state');
const RUN_PCPU = fieldPos(VCPU_RUN, 'pcpu');
const RUN_TARGET = fieldPos(VCPU_RUN, 'target');
const RUN_ON_WAKEUP_LIST = fieldPos(VCPU_RUN, 'onWakeupList');

export const vcpuState = (s: SystemState, v: number): number =>
  getField(s.words, s.topology.layout.vcpuRun + v, RUN_STATE);
export const vcpuPcpu = (s: SystemState, v: number): number =>
  getField(s.words, s.topology.layout.vcpuRun + v, RUN_PCPU);

export function setVcpuRun(s: SystemState, v: number, state: number, pcpu: number): void {
  const at = s.topology.layout.vcpuRun + v;
  setField(s.words, at, RUN_STATE, state);
  setField(s.words, at, RUN_PCPU, pcpu);
}

export const vcpuTarget = (s: SystemState, v: number): number =>
  getField(s.words, s.topology.layout.vcpuRun + v, RUN_TARGET);
export const setVcpuTarget = (s: SystemState, v: number, pcpu: number): void =>
  setField(s.words, s.topology.layout.vcpuRun + v, RUN_TARGET, pcpu);
export const vcpuOnWakeupList = (s: SystemState, v: number): boolean =>
  getField(s.words, s.topology.layout.vcpuRun + v, RUN_ON_WAKEUP_LIST) === 1;
export const setVcpuOnWakeupList = (s: SystemState, v: number, on: boolean): void =>
  setField(s.words, s.topology.layout.vcpuRun + v, RUN_ON_WAKEUP_LIST, on ? 1 : 0);

/** The vCPU in guest mode on `pcpu`, or -1. */
export const guestOnPcpu = (s: SystemState, pcpu: number): number =>
  s.words[s.topology.layout.pcpuMode + pcpu] - 1;

export function setPcpuGuest(s: SystemState, pcpu: number, vcpu: number): void {
  s.words[s.topology.layout.pcpuMode + pcpu] = vcpu + 1;
}

export function setPcpuHost(s: SystemState, pcpu: number): void {
  s.words[s.topology.layout.pcpuMode + pcpu] = PCPU_HOST;
}

// ---- posted-interrupt descriptors ----

export const pidAt = (s: SystemState, v: number): number =>
  s.topology.layout.vcpuPid + v * PID_DWORDS;
export const pidControlAt = (s: SystemState, v: number): number => pidAt(s, v) + PID_CONTROL_DWORD;

/** KVM sets NV and NDST (vmx_vcpu_pi_load, pi_enable_wakeup_handler). APIC ID = pCPU index. */
export function pidSetNotification(s: SystemState, v: number, nv: number, pcpu: number): void {
  const at = pidControlAt(s, v);
  PID_CONTROL.accessors.nv.set(s.words, nv, at);
  PID_CONTROL.accessors.ndst.set(s.words, encodeNdst(pcpu, { x2apic: s.topology.host.x2apic }), at);
}

/** The descriptor address KVM programs into a posted IRTE for vCPU `v` (see PID_REGION_HIGH). */
export function pidAddress(v: number): { lo: number; hi: number } {
  return { lo: v * PID_DWORDS * 4, hi: PID_REGION_HIGH };
}

// ---- stores: what the builder (and later the kernel/VFIO flows) program ----

export function setStoreEnabled(s: SystemState, store: number, enabled: boolean): void {
  const st = s.topology.stores[store];
  if (st.kind === 'msix') {
    MSIX_MESSAGE_CONTROL.layout.accessors.msixEnable.set(s.words, enabled ? 1 : 0, st.controlAt);
    MSIX_MESSAGE_CONTROL.layout.accessors.tableSize.set(s.words, st.entries - 1, st.controlAt);
  } else if (st.kind === 'msi') {
    const control = MSI_MESSAGE_CONTROL.layout.accessors;
    control.msiEnable.set(s.words, enabled ? 1 : 0, st.controlAt);
    control.multipleMessageEnable.set(s.words, Math.ceil(Math.log2(st.entries)), st.controlAt);
    control.address64BitCapable.set(s.words, 1, st.controlAt);
    control.perVectorMaskingCapable.set(s.words, st.perVectorMask ? 1 : 0, st.controlAt);
  }
}

/** Writes the message of one entry. MSI: one message for the block, vector = data + entry. */
export function programStoreEntry(
  s: SystemState,
  store: number,
  entry: number,
  msg: { addrLo: number; addrHi: number; data: number },
): void {
  const st = s.topology.stores[store];
  if (st.kind === 'msi') {
    s.words[st.entriesAt + MSI_STORE_DWORDS.addrLo] = msg.addrLo;
    s.words[st.entriesAt + MSI_STORE_DWORDS.addrHi] = msg.addrHi;
    s.words[st.entriesAt + MSI_STORE_DWORDS.data] = msg.data;
    return;
  }
  const at = st.entriesAt + entry * MSIX_ENTRY_DWORDS;
  MSIX_TABLE_ENTRY.accessors.messageAddress.set(s.words, msg.addrLo, at);
  MSIX_TABLE_ENTRY.accessors.messageUpperAddress.set(s.words, msg.addrHi, at);
  MSIX_TABLE_ENTRY.accessors.messageData.set(s.words, msg.data, at);
}

/** A source of a shared INTx line masked or enabled in the subdevice's mask register. */
export function setIntxSourceMask(s: SystemState, store: number, source: number, masked: boolean) {
  const st = s.topology.stores[store];
  assert(st.kind === 'intx' && source < st.entries, `${st.name}: no INTx source ${source}`);
  if (masked) setBit(s.words, st.controlAt * 32 + source);
  else clearBit(s.words, st.controlAt * 32 + source);
}

export function writeHostIrte(s: SystemState, index: number, irte: ArrayLike<number>): void {
  assert(index >= 0 && index < s.topology.irtEntries, `IRTE ${index} outside the table`);
  const at = s.topology.layout.irt + index * IRTE_DWORDS;
  for (let i = 0; i < IRTE_DWORDS; i++) s.words[at + i] = irte[i] >>> 0;
}

const ROUTE_DEST = fieldPos(MSI_ADDRESS_COMPAT, 'destinationId');
const ROUTE_VECTOR = fieldPos(MSI_DATA_COMPAT, 'vector');

/** Where KVM's route of `vector` points (its compatibility-format pair): the destination ID (a
 *  vCPU index in the VM, if it has one) and the guest vector. */
export function routeTarget(s: SystemState, vector: number): { vcpu: number; vector: number } {
  const at = s.topology.layout.vectorRoute + vector * ROUTE_DWORDS;
  return {
    vcpu: getField(s.words, at, ROUTE_DEST),
    vector: getField(s.words, at + 2, ROUTE_VECTOR),
  };
}

/** KVM's route of `vector` re-pointed at vCPU `index`, guest vector `guestVector` (the guest's
 *  compatibility-format pair: destination ID and vector; nothing else of it changes). */
export function setRouteTarget(s: SystemState, vector: number, index: number, guestVector: number) {
  const at = s.topology.layout.vectorRoute + vector * ROUTE_DWORDS;
  MSI_ADDRESS_COMPAT.accessors.destinationId.set(s.words, index, at);
  MSI_DATA_COMPAT.accessors.vector.set(s.words, guestVector, at + 2);
}

export function setRoute(
  s: SystemState,
  vector: number,
  msg: { addrLo: number; addrHi: number; data: number },
): void {
  const at = s.topology.layout.vectorRoute + vector * ROUTE_DWORDS;
  s.words[at] = msg.addrLo;
  s.words[at + 1] = msg.addrHi;
  s.words[at + 2] = msg.data;
}

/** The guest's current target of an assigned vector (apic_chip_data cpu/vector): what the
 *  guest kernel's vector_irq says, which KVM's route follows only once the hypervisor has seen
 *  the guest's new message. */
export const GUEST_APIC_CURRENT = defineLayout(
  'irqlab-guest-apic-current',
  32,
  "irqlab: a guest vector's vCPU (index in the VM) and vector",
  {
    vcpu: [15, 0, 'vCPU index in the VM'],
    vector: [23, 16, 'guest vector'],
    reserved: [31, 24, 'zero'],
  },
  { complete: true },
);

/** The guest's previous target during a move (apic_chip_data prev_cpu / prev_vector), kept from
 *  the move until the guest's cleanup frees it on the old vCPU (irq_complete_move,
 *  __vector_cleanup; `guest-vector.ts`). Once freed it stays as a ghost, so that an interrupt
 *  arriving there later is attributed to the vector it came from. */
/** The previous vCPU's vector_irq slot of the current vector during msi_set_affinity: not
 *  marked, VECTOR_RETRIGGERED, or VECTOR_RETRIGGERED with the interrupt it catches already
 *  retriggered to the new target (the IRR check saw it). */
export const RETRIGGER_MARK = { none: 0, marked: 1, carried: 2 } as const;

export const GUEST_APIC_PREVIOUS = defineLayout(
  'irqlab-guest-apic-previous',
  32,
  "irqlab: a guest vector's previous vCPU and vector during a move",
  {
    vcpuPlusOne: [15, 0, 'previous vCPU index in the VM, plus 1; 0: never moved'],
    vector: [23, 16, 'previous guest vector'],
    freed: [24, 24, 'the cleanup freed it (ghost: kept for attribution only)'],
    retrigger: [
      26,
      25,
      'RETRIGGER_MARK: the current vector on the previous vCPU is VECTOR_RETRIGGERED (msi_set_affinity)',
    ],
    reserved: [31, 27, 'zero'],
  },
  { complete: true },
);

/** The guest kernel's vector for assigned vector `vector` at setup (what the flows programmed). */
export function setGuestApic(s: SystemState, vector: number, vcpu: number, guestVector: number) {
  const at = s.topology.layout.guestApic + vector * GUEST_APIC_DWORDS;
  s.words[at] = 0;
  s.words[at + 1] = 0;
  GUEST_APIC_CURRENT.accessors.vcpu.set(s.words, vcpu, at);
  GUEST_APIC_CURRENT.accessors.vector.set(s.words, guestVector, at);
}

/** Vectors Linux hands to devices start here: FIRST_EXTERNAL_VECTOR, free since Linux 6.6 dropped
 *  IRQ_MOVE_CLEANUP_VECTOR (`kernel/x86-vector.ts`; the recorded older guests start at 0x22). The
 *  kernels allocate; the isolation probes sweep the device vectors from here. */
export const FIRST_DEVICE_VECTOR = FIRST_EXTERNAL_VECTOR;
/** Vectors at and above this are Linux system vectors (LOCAL_TIMER_VECTOR 0xec). */
export const FIRST_SYSTEM_VECTOR = 0xec;
