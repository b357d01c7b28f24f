// The interrupt delivery path of the whole-system model, device to CPU: a store raises an entry
// (PCIe MSI-X "Per-vector Masking", the IDXD IMS, MSI per-vector masking), the message waits in
// its requester's FIFO (posted writes of one requester stay ordered), the VT-d remapping unit
// takes it (VT-d 5.1 "Interrupt Remapping": format, handle, IRTE through the interrupt entry
// cache, faults 20h-26h; 5.2.3 "Interrupt-Posting Hardware Operation"), and it ends in a host
// LAPIC IRR or a posted-interrupt descriptor with, perhaps, a notification.
//
// Why this file exists beside the hw modules: this is the simulator's hot path, measured by
// `npm run bench`. It works directly on the state's words through the SAME hw layouts (their
// `[hi, lo]` tables compiled once by `hw/field-pos.ts`), allocating nothing, where the hw
// modules' object APIs return effect objects. The decisions themselves have one implementation
// in hw, called by both: a store's raise (`pendingBitRaise`), the remapping unit's decision over
// words (`vtdIrRequestIndex`, `vtdIrteLookup`: the request, the IRTE through the interrupt entry
// cache and its checks; `vtdIrRemap` is a view of the same functions), the cache's invalidation
// and eviction (`iecDrop`), posting (`piPostAt`), the LAPIC's IRR (`apicIrrSet`). What stays here
// is the state's own bookkeeping (FIFOs, ghost counters, events).
// Invariants: every raise of an assigned vector ends, now or later, in exactly one of: a guest
// handler run, a coalescing (device pending bit, FIFO full, PIR, vIRR or host IRR bit already
// set), or a loss (dropped, IR fault, not an interrupt); the ghost counters record which.
// Not modelled: DMA remapping of non-interrupt writes, interrupt requests with a PASID prefix,
// lowest-priority arbitration (the destination APIC ID is taken as a physical CPU index).

import { assert } from '../hw/errors.js';
import { fieldPos, getField, setField } from '../hw/field-pos.js';
import { IMS_ENTRY, IMS_ENTRY_DWORDS } from '../hw/ims/ims-store.js';
import { MSI_MESSAGE_CONTROL } from '../hw/pci/msi-capability.js';
import { MSIX_MESSAGE_CONTROL } from '../hw/pci/msix-capability.js';
import { pendingBitRaise, SIGNAL } from '../hw/pci/msix-pba.js';
import { MSIX_ENTRY_DWORDS, MSIX_TABLE_ENTRY } from '../hw/pci/msix-table.js';
import { iecDrop, iecCached as vtdIecCached } from '../hw/vtd/interrupt-entry-cache.js';
import {
  IR_FAULT_REASON,
  IR_REQUEST,
  vtdIrRequestIndex,
  vtdIrteLookup,
} from '../hw/vtd/interrupt-remapping.js';
import { IRTE_MODE, IRTE_POSTED, IRTE_REMAPPED, irteApicId } from '../hw/vtd/irte.js';
import {
  APIC_FIRST_LEGAL_VECTOR,
  APIC_REG_DWORDS,
  apicIrrSet,
  DELIVERY_MODE,
} from '../hw/x86/lapic.js';
import {
  MSI_ADDRESS_COMPAT,
  MSI_ADDRESS_REMAPPABLE,
  MSI_DATA_COMPAT,
} from '../hw/x86/msi-message.js';
import { NDST_XAPIC, PI_POST, PID_CONTROL, piPostAt } from '../hw/x86/posted-descriptor.js';
import { qiDrainLanded } from './host-qi.js';
import { COALESCE_AT, EVENT, type EventLog, emit } from './system-events.js';
import { fifoShift, setBit, testBit } from './system-fields.js';
import { pidAt, pidControlAt, type SystemState, UPSTREAM_MESSAGE } from './system-state.js';
import {
  MESSAGE_DWORDS,
  MSI_STORE_DWORDS,
  NO_VECTOR,
  PID_REGION_HIGH,
  PORT_FIFO_DEPTH,
  type StoreTopology,
  UPSTREAM_DEPTH,
  UPSTREAM_DWORDS,
  VECTOR_COUNTER_DWORDS,
  VECTOR_COUNTERS,
} from './system-topology.js';

/** VT-d interrupt-remapping fault reasons, as the remapping unit names them. */
export const IR_FAULT = IR_FAULT_REASON;
/** Not a fault: the write does not target 0xFEExxxxx, so it is ordinary memory, not an
 *  interrupt (msi-message.ts `notInterruptReason`). Reported with the faults as reason 0. */
export const NOT_AN_INTERRUPT = 0;
/** A posted IRTE whose descriptor address is no vCPU's descriptor in this model. */
export const POSTED_TO_UNKNOWN_MEMORY = 0x100;
/** A remapped or compatibility request to an APIC ID no CPU has, or with an illegal vector. */
export const NO_SUCH_DESTINATION = 0x101;
/** A guest handler found no owner for its vector (`guest-vector.ts`): the interrupt is lost. */
export const MISDIRECTED = 0x102;

/** VT-d 5.1.2.2: handle[15] is address bit 2, handle[14:0] are address bits 19:5. */
/** SID (IRTE bits 79:64) starts dword 2 of the entry, so the requester-ID layout reads it there. */

const ENTRY = {
  address: fieldPos(MSIX_TABLE_ENTRY, 'messageAddress'),
  upperAddress: fieldPos(MSIX_TABLE_ENTRY, 'messageUpperAddress'),
  data: fieldPos(MSIX_TABLE_ENTRY, 'messageData'),
  mask: fieldPos(MSIX_TABLE_ENTRY, 'mask'),
};
const IMS_MASK = fieldPos(IMS_ENTRY, 'mask');
const MSIX_ENABLE = fieldPos(MSIX_MESSAGE_CONTROL.layout, 'msixEnable');
const MSIX_FUNCTION_MASK = fieldPos(MSIX_MESSAGE_CONTROL.layout, 'functionMask');
const MSI_ENABLE = fieldPos(MSI_MESSAGE_CONTROL.layout, 'msiEnable');
const MSI_MME = fieldPos(MSI_MESSAGE_CONTROL.layout, 'multipleMessageEnable');
const ADDR = {
  base: fieldPos(MSI_ADDRESS_COMPAT, 'baseAddress'),
  destinationId: fieldPos(MSI_ADDRESS_COMPAT, 'destinationId'),
  format: fieldPos(MSI_ADDRESS_REMAPPABLE, 'interruptFormat'),
};
const DATA = {
  vector: fieldPos(MSI_DATA_COMPAT, 'vector'),
};
const IRTE = {
  present: fieldPos(IRTE_REMAPPED, 'present'),
  mode: fieldPos(IRTE_REMAPPED, 'irteMode'),
  deliveryMode: fieldPos(IRTE_REMAPPED, 'deliveryMode'),
  vector: fieldPos(IRTE_REMAPPED, 'vector'),
  destinationId: fieldPos(IRTE_REMAPPED, 'destinationId'),
  virtualVector: fieldPos(IRTE_POSTED, 'virtualVector'),
  urgent: fieldPos(IRTE_POSTED, 'urgent'),
  pdaLow: fieldPos(IRTE_POSTED, 'pdaLow'),
  pdaHigh: fieldPos(IRTE_POSTED, 'pdaHigh'),
};
const PID = {
  nv: fieldPos(PID_CONTROL, 'nv'),
  ndst: fieldPos(PID_CONTROL, 'ndst'),
};
const NDST_XAPIC_ID = fieldPos(NDST_XAPIC, 'apicId');
// ---- ghost counters ----

export function countOutcome(s: SystemState, vector: number, counter: number): void {
  if (vector === NO_VECTOR) return;
  const i = s.topology.layout.vectorCounters + vector * VECTOR_COUNTER_DWORDS + counter;
  s.words[i] = s.words[i] + 1;
}

export const vectorCounter = (s: SystemState, vector: number, counter: number): number =>
  s.words[s.topology.layout.vectorCounters + vector * VECTOR_COUNTER_DWORDS + counter];

function coalesce(s: SystemState, log: EventLog, vector: number, where: number): void {
  countOutcome(s, vector, VECTOR_COUNTERS.coalesced);
  emit(log, EVENT.coalesced, vector, where);
}

function lose(
  s: SystemState,
  log: EventLog,
  port: number,
  reason: number,
  index: number,
  tag: number,
) {
  countOutcome(s, tag, VECTOR_COUNTERS.lost);
  emit(log, EVENT.irFault, port, reason, index, tag);
}

// ---- device side ----

/** The device signals `entryIndex` of store `storeIndex`. */
export function storeRaise(s: SystemState, log: EventLog, storeIndex: number, entryIndex: number) {
  const st = s.topology.stores[storeIndex];
  const w = s.words;
  const vector = ownerTag(st, entryIndex);
  countOutcome(s, vector, VECTOR_COUNTERS.raised);
  emit(log, EVENT.raise, storeIndex, entryIndex, vector);
  const pendingBit = st.pendingAt * 32 + entryIndex;
  const enabled = w[st.unpluggedAt] === 0 && storeEnabled(w, st);
  switch (pendingBitRaise(w, pendingBit, enabled, entryMasked(w, st, entryIndex))) {
    case SIGNAL.dropped:
      countOutcome(s, vector, VECTOR_COUNTERS.lost);
      emit(log, EVENT.dropped, storeIndex, entryIndex, vector);
      return;
    case SIGNAL.coalesced:
      coalesce(s, log, vector, COALESCE_AT.device);
      return;
    case SIGNAL.setPending:
      emit(log, EVENT.pendingSet, storeIndex, entryIndex, vector);
      return;
    default:
      if (st.kind === 'intx') intxAssert(s, log, storeIndex, entryIndex, vector);
      else sendEntry(s, log, st, entryIndex, vector);
  }
}

/** A source of a subdevice on an INTx line: its status bit latches; the line asserts (the IOAPIC
 *  sends the pin's message) only if no unmasked source of any store on the line had it asserted
 *  already: the host handler that runs for the line reads every bit set by then. */
function intxAssert(
  s: SystemState,
  log: EventLog,
  storeIndex: number,
  entryIndex: number,
  vector: number,
): void {
  const w = s.words;
  const st = s.topology.stores[storeIndex];
  const bit = st.pendingAt * 32 + entryIndex;
  if (testBit(w, bit)) {
    coalesce(s, log, vector, COALESCE_AT.device);
    return;
  }
  const asserted = intxLineAsserted(s, st);
  setBit(w, bit);
  emit(log, EVENT.pendingSet, storeIndex, entryIndex, vector);
  if (!asserted) sendEntry(s, log, st, 0, vector);
}

/** The line `st` is on is asserted: some store on it has an unmasked status bit set (wired-OR
 *  of level-triggered sources). */
export function intxLineAsserted(s: SystemState, st: StoreTopology): boolean {
  for (const i of st.lineStores) {
    const x = s.topology.stores[i];
    for (let e = 0; e < x.entries; e++) {
      if (testBit(s.words, x.pendingAt * 32 + e) && !testBit(s.words, x.controlAt * 32 + e)) {
        return true;
      }
    }
  }
  return false;
}

const ownerTag = (st: StoreTopology, entryIndex: number) => {
  const owner = st.entryOwner[entryIndex];
  return owner < 0 ? NO_VECTOR : owner;
};

function storeEnabled(w: Uint32Array, st: StoreTopology): boolean {
  if (st.kind === 'msix') return getField(w, st.controlAt, MSIX_ENABLE) === 1;
  if (st.kind === 'msi') return getField(w, st.controlAt, MSI_ENABLE) === 1;
  return true;
}

/** Masked per entry, or (MSI-X) by the Function Mask. */
export function entryMasked(w: Uint32Array, st: StoreTopology, entryIndex: number): boolean {
  switch (st.kind) {
    case 'msix':
      return (
        getField(w, st.controlAt, MSIX_FUNCTION_MASK) === 1 ||
        getField(w, st.entriesAt + entryIndex * MSIX_ENTRY_DWORDS, ENTRY.mask) === 1
      );
    case 'intx':
      return (
        getField(w, st.entriesAt, ENTRY.mask) === 1 || testBit(w, st.controlAt * 32 + entryIndex)
      );
    case 'ims':
      return getField(w, st.entriesAt + entryIndex * IMS_ENTRY_DWORDS, IMS_MASK) === 1;
    case 'msi':
      return testBit(w, (st.entriesAt + MSI_STORE_DWORDS.mask) * 32 + entryIndex);
  }
}

/** Puts the entry's current message in its requester's FIFO. */
export function sendEntry(
  s: SystemState,
  log: EventLog,
  st: StoreTopology,
  entryIndex: number,
  vector: number,
): void {
  const w = s.words;
  if (st.kind === 'msi') {
    // PCIe MSI: the function modifies the low log2(vectors) bits of Message Data per vector.
    const block = 2 ** getField(w, st.controlAt, MSI_MME);
    const data = w[st.entriesAt + MSI_STORE_DWORDS.data];
    const vectorData = data - (data % block) + entryIndex;
    const at = st.entriesAt;
    enqueue(
      s,
      log,
      st.port,
      w[at + MSI_STORE_DWORDS.addrLo],
      w[at + MSI_STORE_DWORDS.addrHi],
      vectorData,
      vector,
    );
    return;
  }
  const at = st.entriesAt + entryIndex * MSIX_ENTRY_DWORDS;
  enqueue(
    s,
    log,
    st.port,
    getField(w, at, ENTRY.address),
    getField(w, at, ENTRY.upperAddress),
    getField(w, at, ENTRY.data),
    vector,
  );
}

function enqueue(
  s: SystemState,
  log: EventLog,
  portIndex: number,
  addrLo: number,
  addrHi: number,
  data: number,
  vector: number,
): void {
  const w = s.words;
  const fifo = s.topology.ports[portIndex].fifoAt;
  const count = w[fifo];
  if (count === PORT_FIFO_DEPTH) {
    coalesce(s, log, vector, COALESCE_AT.port);
    return;
  }
  const at = fifo + 1 + count * MESSAGE_DWORDS;
  w[at] = addrLo;
  w[at + 1] = addrHi;
  w[at + 2] = data;
  w[at + 3] = vector;
  w[fifo] = count + 1;
  emit(log, EVENT.msiSent, portIndex, vector, addrLo, data);
}

export const portPending = (s: SystemState, portIndex: number): number =>
  s.words[s.topology.ports[portIndex].fifoAt];

// ---- root complex and remapping unit ----

/** The oldest message of `portIndex` reaches the remapping unit (or, without IR, the APICs). */
export function portDeliver(s: SystemState, log: EventLog, portIndex: number): void {
  const w = s.words;
  const fifo = s.topology.ports[portIndex].fifoAt;
  const count = w[fifo];
  if (count === 0) return;
  const at = fifo + 1;
  interruptRequest(s, log, portIndex, at, w[at + 3]);
  fifoShift(w, fifo, MESSAGE_DWORDS);
}

/** The request whose address is words[at], upper address words[at + 1], data words[at + 2]:
 *  the remapping unit's decision (`vtdIrRequestIndex`, `vtdIrteLookup` on the state's words). */
function interruptRequest(s: SystemState, log: EventLog, port: number, at: number, tag: number) {
  const w = s.words;
  const t = s.topology;
  const index = vtdIrRequestIndex(t.remapUnit, w[at], w[at + 1], w[at + 2]);
  if (index === IR_REQUEST.passedThrough) {
    // Without remapping every message is read in compatibility format (VT-d off: the APICs
    // decode the address and data themselves).
    const apicId = getField(w, at, ADDR.destinationId);
    sendUpstream(s, log, port, apicId, getField(w, at + 2, DATA.vector), tag, -1);
    return;
  }
  if (index < 0) {
    lose(s, log, port, index === IR_REQUEST.notInterrupt ? NOT_AN_INTERRUPT : -index, 0, tag);
    return;
  }
  const e = vtdIrteLookup(w, t.layout, t.remapUnit, t.irtEntries, index, t.ports[port].requesterId);
  if (e < 0) {
    lose(s, log, port, -e, index, tag);
    return;
  }
  if (getField(w, e, IRTE.mode) === IRTE_MODE.posted) {
    const vcpu = pidOwner(s, getField(w, e, IRTE.pdaLow), getField(w, e, IRTE.pdaHigh));
    if (vcpu < 0) {
      lose(s, log, port, POSTED_TO_UNKNOWN_MEMORY, index, tag);
      return;
    }
    const vector = getField(w, e, IRTE.virtualVector);
    post(s, log, vcpu, vector, getField(w, e, IRTE.urgent) === 1, tag, index);
    return;
  }
  const mode = getField(w, e, IRTE.deliveryMode);
  if (mode !== DELIVERY_MODE.fixed && mode !== DELIVERY_MODE.lowestPriority) {
    lose(s, log, port, NO_SUCH_DESTINATION, index, tag);
    return;
  }
  const dst = getField(w, e, IRTE.destinationId);
  const apicId = t.host.x2apic ? dst : irteApicId(dst, { eime: false });
  sendUpstream(s, log, port, apicId, getField(w, e, IRTE.vector), tag, index);
}

export const iecCached = (s: SystemState, index: number): boolean =>
  vtdIecCached(s.words, s.topology.layout, index);

/** Software's invalidation of IRTE `index` reaches the unit at once: the control plane's, at
 *  setup, when nothing is in flight (the machine's own runs through `host-qi.ts`). */
export function iecInvalidateNow(s: SystemState, log: EventLog, index: number): void {
  iecDrop(s.words, s.topology.layout, index);
  emit(log, EVENT.iecInvalidate, index, 1);
}

/** The cache evicts IRTE `index` on its own: the next lookup reads the table again. */
export function iecEvict(s: SystemState, log: EventLog, index: number): void {
  iecDrop(s.words, s.topology.layout, index);
  emit(log, EVENT.iecEvict, index);
}

/** The vCPU whose descriptor is at PDA, or -1 (see PID_REGION_HIGH). */
function pidOwner(s: SystemState, pdaLow: number, pdaHigh: number): number {
  // PDA-L holds address bits 31:6: with 64-byte descriptors from 0 it is the vCPU index.
  if (pdaHigh !== PID_REGION_HIGH || pdaLow >= s.topology.vcpus.length) return -1;
  return pdaLow;
}

/** NDST in xAPIC mode: the APIC ID in bits 15:8 (VT-d 9.12). */
function ndstXapic(w: Uint32Array, ctl: number): number {
  return (getField(w, ctl, PID.ndst) >>> NDST_XAPIC_ID.shift) & NDST_XAPIC_ID.mask;
}

/** VT-d 5.2.3 posting (`piPostAt`, the one implementation) into vCPU `vcpu`'s descriptor through
 *  IRTE `irte`, and the notification it may generate (in flight to NDST's LAPIC). */
export function post(
  s: SystemState,
  log: EventLog,
  vcpu: number,
  vector: number,
  urgent: boolean,
  tag: number,
  irte: number,
): boolean {
  const w = s.words;
  const r = piPostAt(w, pidAt(s, vcpu), vector, urgent);
  const notify = (r & PI_POST.notify) !== 0;
  if ((r & PI_POST.coalesced) !== 0) coalesce(s, log, tag, COALESCE_AT.pir);
  else emit(log, EVENT.posted, vcpu, vector, tag, notify ? 1 : 0);
  if (notify) {
    const ctl = pidControlAt(s, vcpu);
    const nv = getField(w, ctl, PID.nv);
    const pcpu = s.topology.host.x2apic ? getField(w, ctl, PID.ndst) : ndstXapic(w, ctl);
    emit(log, EVENT.piNotify, pcpu, nv, vcpu);
    sendUpstream(s, log, -1, pcpu, nv, NO_VECTOR, irte);
  }
  return (r & PI_POST.coalesced) === 0;
}

// ---- interrupts in flight to the LAPICs ----

const UP = {
  apicId: fieldPos(UPSTREAM_MESSAGE, 'apicId'),
  vector: fieldPos(UPSTREAM_MESSAGE, 'vector'),
  portPlusOne: fieldPos(UPSTREAM_MESSAGE, 'portPlusOne'),
  tag: fieldPos(UPSTREAM_MESSAGE, 'tag'),
  irtePlusOne: fieldPos(UPSTREAM_MESSAGE, 'irtePlusOne'),
};

export const upstreamCount = (s: SystemState): number => s.words[s.topology.layout.upstream];

/** The interrupt leaves the remapping unit for APIC `apicId`; it is accepted there by its own
 *  action (`apicDeliver`), so a move can race it. The IRTE it went through is kept for VT-d's
 *  interrupt draining (6.5.5: an invalidation's wait descriptor completes once what the old
 *  entry remapped has landed, `host-qi.ts`). */
function sendUpstream(
  s: SystemState,
  log: EventLog,
  port: number,
  apicId: number,
  vector: number,
  tag: number,
  irte: number,
): void {
  const w = s.words;
  const base = s.topology.layout.upstream;
  const n = w[base];
  assert(n < UPSTREAM_DEPTH, 'upstream full: deliver is enabled only with room');
  const at = base + 1 + n * UPSTREAM_DWORDS;
  setField(w, at, UP.apicId, apicId);
  setField(w, at, UP.vector, vector);
  setField(w, at, UP.portPlusOne, port + 1);
  setField(w, at, UP.tag, tag);
  setField(w, at, UP.irtePlusOne, irte + 1);
  w[base] = n + 1;
  emit(log, EVENT.upstream, apicId, vector, tag);
}

/** The oldest interrupt in flight reaches its LAPIC. */
export function apicDeliver(s: SystemState, log: EventLog): void {
  const w = s.words;
  const base = s.topology.layout.upstream;
  const n = w[base];
  if (n === 0) return;
  const at = base + 1;
  const port = getField(w, at, UP.portPlusOne) - 1;
  const apicId = getField(w, at, UP.apicId);
  const vector = getField(w, at, UP.vector);
  const tag = getField(w, at, UP.tag);
  fifoShift(w, base, UPSTREAM_DWORDS);
  lapicRequest(s, log, port, apicId, vector, tag);
  qiDrainLanded(s, log);
}

/** A fixed, physical-destination interrupt reaches APIC `apicId` (= pCPU index). */
export function lapicRequest(
  s: SystemState,
  log: EventLog,
  port: number,
  apicId: number,
  vector: number,
  tag: number,
): void {
  if (apicId >= s.topology.host.cpus || vector < APIC_FIRST_LEGAL_VECTOR) {
    lose(s, log, port, NO_SUCH_DESTINATION, apicId, tag);
    return;
  }
  if (!apicIrrSet(s.words, s.topology.layout.pcpuIrr + apicId * APIC_REG_DWORDS, vector)) {
    coalesce(s, log, tag, COALESCE_AT.hostIrr);
    return;
  }
  emit(log, EVENT.hostIrrSet, apicId, vector, tag);
}
