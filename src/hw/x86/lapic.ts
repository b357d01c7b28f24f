// Local APIC, the part that decides which interrupts a CPU takes (Intel SDM Vol. 3A, chapter
// "Advanced Programmable Interrupt Controller (APIC)": "Determining IPI Destination", "Interrupt,
// Task, and Processor Priority", "Interrupt Acceptance for Fixed Interrupts", "Signaling
// Interrupt Servicing Completion", "Error Handling", "Logical Destination Mode in x2APIC Mode").
// One model serves physical CPUs and vCPUs (a vCPU's virtual APIC has the same IRR/ISR/PPR rules;
// for it, IRR is the VIRR that posted-interrupt processing fills).
//
// State is the registers as software reads them (APIC ID, LDR, DFR, TPR, ESR as raw 32-bit
// values; IRR, ISR, TMR as 256-bit registers of 8 dwords), plus counters; PPR is derived.
// Invariants:
//  - vectors 0-15 are illegal: a message carrying one is not accepted and sets ESR "Receive
//    Illegal Vector" (bit 6); it is counted;
//  - a fixed interrupt is accepted into IRR; another with the same vector while its IRR bit is
//    set collapses into it ("Any additional interrupts issued for the same interrupt vector are
//    collapsed into the single bit in the IRR"), counted as coalesced; one IRR and one ISR bit
//    per vector can be outstanding at once;
//  - the CPU takes the highest IRR vector only if its priority class is above PPR's; it moves to
//    ISR; EOI clears the highest ISR bit;
//  - TMR follows the trigger mode of the last acceptance (set for level, cleared for edge).
// The acceptance, priority, dispatch and EOI decisions are word functions over registers held at
// an offset of a Uint32Array (`apicIrrSet` ... `apicEoi`): the object API is a view over them,
// and the whole-system model runs them on its state words (a pCPU's IRR, a vCPU's virtual
// IRR/ISR), so each decision exists once.
// Not modelled: the LVT, timer, ICR/IPIs sent by this APIC, SMI/INIT/SIPI/ExtINT delivery (they
// are reported as not modelled), lowest-priority arbitration between APICs (a bus-level choice:
// the caller picks the target), EFLAGS.IF and interrupt windows, directed EOI to IOAPICs beyond
// reporting that an EOI was for a level-triggered vector, the xAPIC cluster model's bus topology.

import { bitmapClear, bitmapCount, bitmapHighestIn, bitmapSet, bitmapTest } from '../bitmap.js';
import { defineLayout, type FieldAccessor } from '../bits.js';
import { InputError } from '../errors.js';
import { fieldPlaced, fieldPos, fieldValue } from '../field-pos.js';

export const APIC_VECTORS = 256;
/** Vectors 0-15 are illegal in a message (SDM, "Error Handling": Receive Illegal Vector). */
export const APIC_FIRST_LEGAL_VECTOR = 16;
export const APIC_REG_DWORDS = APIC_VECTORS / 32;

/** Destination Mode, as encoded in MSI addresses, IRTEs and the ICR. */
export const DEST_MODE = { physical: 0, logical: 1 } as const;
/** Delivery Mode encodings (SDM, MSI Data Register / ICR Delivery Mode). */
export const DELIVERY_MODE = {
  fixed: 0,
  lowestPriority: 1,
  smi: 2,
  nmi: 4,
  init: 5,
  startup: 6,
  extInt: 7,
} as const;
export const TRIGGER_MODE = { edge: 0, level: 1 } as const;

/** xAPIC broadcast destination (8 bits all 1) and x2APIC broadcast (32 bits all 1). */
export const XAPIC_BROADCAST = 0xff;
export const X2APIC_BROADCAST = 0xffffffff;
/** xAPIC DFR Model: 1111b flat, 0000b cluster. */
export const DFR_MODEL = { flat: 0xf, cluster: 0x0 } as const;

export const VECTOR = defineLayout(
  'apic-vector',
  32,
  'SDM Vol. 3A, "Interrupt, Task, and Processor Priority": class = vector[7:4]',
  {
    subClass: [3, 0, 'priority sub-class'],
    priorityClass: [7, 4, 'priority class (vectors 0x20-0xff: classes 2-15)'],
    reserved: [31, 8, 'not part of an 8-bit vector'],
  },
  { complete: true },
);

/** TPR and PPR share this layout. */
export const PRIORITY_REGISTER = defineLayout(
  'apic-priority',
  32,
  'SDM Vol. 3A, Task-Priority Register (TPR) / Processor-Priority Register (PPR)',
  {
    subClass: [3, 0, 'Task/Processor-Priority Sub-Class'],
    priorityClass: [7, 4, 'Task/Processor-Priority Class'],
    reserved: [31, 8, 'Reserved'],
  },
  { complete: true },
);

export const XAPIC_ID = defineLayout(
  'xapic-id',
  32,
  'SDM Vol. 3A, Local APIC ID Register (xAPIC): APIC ID in bits 31:24',
  { reserved: [23, 0, 'Reserved'], apicId: [31, 24, 'APIC ID'] },
  { complete: true },
);

export const XAPIC_LDR = defineLayout(
  'xapic-ldr',
  32,
  'SDM Vol. 3A, Logical Destination Register (xAPIC): Logical APIC ID in bits 31:24',
  { reserved: [23, 0, 'Reserved'], logicalApicId: [31, 24, 'Logical APIC ID'] },
  { complete: true },
);

/** Logical APIC ID seen through the cluster model (DFR Model = 0000b). */
export const XAPIC_CLUSTER_ID = defineLayout(
  'xapic-cluster-logical-id',
  32,
  'SDM Vol. 3A, "Cluster Model": bits 7:4 cluster, bits 3:0 one bit per APIC in it',
  {
    members: [3, 0, 'APICs within the cluster (bit mask)'],
    cluster: [7, 4, 'cluster address (0xf: broadcast to all clusters)'],
    reserved: [31, 8, 'not part of an 8-bit logical ID'],
  },
  { complete: true },
);

export const XAPIC_DFR = defineLayout(
  'xapic-dfr',
  32,
  'SDM Vol. 3A, Destination Format Register: Model in bits 31:28, bits 27:0 read as 1',
  {
    reservedOnes: [27, 0, 'Reserved (all 1s)'],
    model: [31, 28, 'Model: 1111b flat, 0000b cluster'],
  },
  { complete: true },
);

export const X2APIC_LDR = defineLayout(
  'x2apic-ldr',
  32,
  'SDM Vol. 3A, "Logical Destination Mode in x2APIC Mode": cluster ID 31:16, logical ID 15:0',
  { logicalId: [15, 0, 'one bit: the APIC within its cluster'], clusterId: [31, 16, 'Cluster ID'] },
  { complete: true },
);

/** How the x2APIC LDR is derived from the x2APIC ID. */
export const X2APIC_ID_PARTS = defineLayout(
  'x2apic-id-for-ldr',
  32,
  'SDM Vol. 3A, "Deriving Logical x2APIC ID from the Local x2APIC ID"',
  {
    bitInCluster: [3, 0, 'LDR logical ID = 1 << x2APIC ID[3:0]'],
    cluster: [19, 4, 'LDR cluster ID = x2APIC ID[19:4]'],
    reserved: [31, 20, 'beyond the 20 bits the derivation uses'],
  },
  { complete: true },
);

export const ESR = defineLayout(
  'apic-esr',
  32,
  'SDM Vol. 3A, "Error Handling": Error Status Register',
  {
    sendChecksumError: [0, 0, 'Send Checksum Error (P6/Pentium only)'],
    receiveChecksumError: [1, 1, 'Receive Checksum Error (P6/Pentium only)'],
    sendAcceptError: [2, 2, 'Send Accept Error (P6/Pentium only)'],
    receiveAcceptError: [3, 3, 'Receive Accept Error (P6/Pentium only)'],
    redirectableIpi: [4, 4, 'Redirectable IPI'],
    sendIllegalVector: [5, 5, 'Send Illegal Vector'],
    receiveIllegalVector: [6, 6, 'Receive Illegal Vector'],
    illegalRegisterAddress: [7, 7, 'Illegal Register Address'],
    reserved: [31, 8, 'Reserved'],
  },
  { complete: true },
);

export interface LapicCounters {
  accepted: number;
  coalesced: number;
  illegalVector: number;
  nmi: number;
  notModelled: number;
  /** Vectors the CPU took (IRR -> ISR). */
  delivered: number;
  eoi: number;
}

export interface Lapic {
  /** IA32_APIC_BASE.EXTD: x2APIC mode (32-bit IDs, cluster-only logical mode, no DFR). */
  readonly x2apic: boolean;
  /** APIC ID register: xAPIC keeps the ID in bits 31:24; x2APIC is the 32-bit ID itself. */
  id: number;
  /** Logical Destination Register (xAPIC: software-written; x2APIC: derived from the ID). */
  ldr: number;
  /** Destination Format Register (xAPIC only; 0xffffffff = flat). */
  dfr: number;
  tpr: number;
  esr: number;
  readonly irr: Uint32Array;
  readonly isr: Uint32Array;
  readonly tmr: Uint32Array;
  readonly counters: LapicCounters;
}

/** What the remapping unit or the MSI decoder hands to the APIC bus: an already decoded request. */
export interface LapicInterrupt {
  readonly destination: number;
  readonly destinationMode: number;
  readonly deliveryMode: number;
  readonly vector: number;
  readonly triggerMode: number;
}

export type LapicAcceptance =
  | { kind: 'accepted'; vector: number }
  | { kind: 'coalesced'; vector: number }
  | { kind: 'illegal-vector'; vector: number }
  | { kind: 'nmi' }
  | { kind: 'not-modelled'; deliveryMode: number };

function checkUint(where: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new InputError(where, `${value} is not 0..0x${max.toString(16)}`);
  }
}

const checkVector = (vector: number) => checkUint('vector', vector, APIC_VECTORS - 1);

/** A LAPIC after reset with the given ID. xAPIC: `logicalId` (8-bit) and `model` set LDR/DFR as
 *  the OS would (Linux flat mode: logical ID 1 << cpu); x2APIC derives LDR from the ID. */
export function newLapic(opts: {
  x2apic: boolean;
  apicId: number;
  logicalId?: number;
  model?: keyof typeof DFR_MODEL;
}): Lapic {
  const counters: LapicCounters = {
    accepted: 0,
    coalesced: 0,
    illegalVector: 0,
    nmi: 0,
    notModelled: 0,
    delivered: 0,
    eoi: 0,
  };
  const words = () => new Uint32Array(APIC_REG_DWORDS);
  const base = { tpr: 0, esr: 0, irr: words(), isr: words(), tmr: words(), counters };
  if (opts.x2apic) {
    checkUint('x2APIC ID', opts.apicId, 0xffffffff);
    return { x2apic: true, id: opts.apicId, ldr: x2apicLdr(opts.apicId), dfr: 0, ...base };
  }
  checkUint('xAPIC ID', opts.apicId, 0xff);
  checkUint('xAPIC logical ID', opts.logicalId ?? 0, 0xff);
  const id = withField(0, XAPIC_ID.accessors.apicId, opts.apicId);
  const ldr = withField(0, XAPIC_LDR.accessors.logicalApicId, opts.logicalId ?? 0);
  const dfrOnes = withField(0, XAPIC_DFR.accessors.reservedOnes, 0xfffffff);
  const dfr = withField(dfrOnes, XAPIC_DFR.accessors.model, DFR_MODEL[opts.model ?? 'flat']);
  return { x2apic: false, id, ldr, dfr, ...base };
}

/** The x2APIC LDR for an x2APIC ID (read-only in x2APIC mode). */
export function x2apicLdr(x2apicId: number): number {
  const parts = [x2apicId];
  const cluster = X2APIC_ID_PARTS.accessors.cluster.get(parts);
  const logicalId = 2 ** X2APIC_ID_PARTS.accessors.bitInCluster.get(parts);
  return withField(
    withField(0, X2APIC_LDR.accessors.clusterId, cluster),
    X2APIC_LDR.accessors.logicalId,
    logicalId,
  );
}

/** The APIC ID as a number (xAPIC: the 8 bits of the ID register). */
export const lapicApicId = (apic: Lapic): number =>
  apic.x2apic ? apic.id : XAPIC_ID.accessors.apicId.get([apic.id]);

// ---- destination matching ----

/** Whether this APIC is a target of `destination` in `destinationMode` (SDM "Determining IPI
 *  Destination"; for MSIs, "Message Signalled Interrupts" uses the same rules). */
export function lapicMatchesDestination(
  apic: Lapic,
  destination: number,
  destinationMode: number,
): boolean {
  if (apic.x2apic) {
    checkUint('x2APIC destination', destination, 0xffffffff);
    if (destination === X2APIC_BROADCAST) return true;
    if (destinationMode === DEST_MODE.physical) return destination === apic.id;
    return x2apicLogicalMatch([apic.ldr], [destination]);
  }
  checkUint('xAPIC destination', destination, 0xff);
  if (destination === XAPIC_BROADCAST) return true;
  if (destinationMode === DEST_MODE.physical) return destination === lapicApicId(apic);
  const logicalId = XAPIC_LDR.accessors.logicalApicId.get([apic.ldr]);
  if (XAPIC_DFR.accessors.model.get([apic.dfr]) === DFR_MODEL.flat) {
    return (destination & logicalId) !== 0; // flat: the 8 bits are a set of APICs
  }
  return xapicClusterMatch([logicalId], [destination]);
}

function x2apicLogicalMatch(ldr: number[], mda: number[]): boolean {
  const a = X2APIC_LDR.accessors;
  return (
    a.clusterId.get(mda) === a.clusterId.get(ldr) &&
    (a.logicalId.get(mda) & a.logicalId.get(ldr)) !== 0
  );
}

function xapicClusterMatch(logicalId: number[], mda: number[]): boolean {
  const a = XAPIC_CLUSTER_ID.accessors;
  const cluster = a.cluster.get(mda);
  const broadcastCluster = 0xf;
  if (cluster !== broadcastCluster && cluster !== a.cluster.get(logicalId)) return false;
  return (a.members.get(mda) & a.members.get(logicalId)) !== 0;
}

// ---- IRR, ISR and priority as words: the one implementation ----
// Each function works on 256-bit registers of APIC_REG_DWORDS dwords held at an offset of a
// Uint32Array: the object API below passes a Lapic's own arrays at 0; the whole-system model
// passes its state words at a pCPU's IRR or a vCPU's virtual IRR/ISR (machine/system-vcpu.ts),
// so both run the same decisions. For a vCPU with virtual-interrupt delivery the virtual-APIC
// page follows the same rules (SDM Vol. 3C, "Virtual-Interrupt Delivery": RVI is the highest
// VIRR bit, SVI the highest VISR bit, VPPR computed as PPR is; "EOI Virtualization": VISR[SVI]
// cleared). Vectors are known to be 0..255 here (the callers check their input); no allocation.

const VECTOR_CLASS = fieldPos(VECTOR, 'priorityClass');
const PRIORITY_CLASS = fieldPos(PRIORITY_REGISTER, 'priorityClass');

/** SDM "Interrupt Acceptance for Fixed Interrupts": sets IRR[vector]. False when it was set
 *  already: the request collapses into it ("Any additional interrupts issued for the same
 *  interrupt vector are collapsed into the single bit in the IRR"). */
export function apicIrrSet(irr: Uint32Array, irrAt: number, vector: number): boolean {
  const i = irrAt + (vector >>> 5);
  const bit = 1 << (vector & 31);
  if ((irr[i] & bit) !== 0) return false;
  irr[i] |= bit;
  return true;
}

/** The highest vector set in the register at `at` (IRRV, ISRV), or -1. */
export const apicHighestVector = (reg: Uint32Array, at: number): number =>
  bitmapHighestIn(reg, at, APIC_REG_DWORDS);

/** SDM "Processor-Priority Register": TPR if TPR[7:4] >= ISRV[7:4], else ISRV[7:4] with
 *  sub-class 0 (ISRV: the highest in-service vector, 0 if none). */
export function apicPpr(isr: Uint32Array, isrAt: number, tpr: number): number {
  const isrv = apicHighestVector(isr, isrAt);
  const isrvClass = isrv < 0 ? 0 : fieldValue(isrv, VECTOR_CLASS);
  if (fieldValue(tpr, PRIORITY_CLASS) >= isrvClass) return tpr;
  return fieldPlaced(isrvClass, PRIORITY_CLASS);
}

/** SDM "Interrupt Acceptance for Fixed Interrupts" (and virtual-interrupt delivery's RVI[7:4] >
 *  VPPR[7:4]): the vector the CPU takes next, the highest IRR vector if its priority class
 *  (vector[7:4]) is above PPR[7:4]; -1 if none is. */
export function apicDeliverableVector(
  irr: Uint32Array,
  irrAt: number,
  isr: Uint32Array,
  isrAt: number,
  tpr: number,
): number {
  const v = apicHighestVector(irr, irrAt);
  if (v < 0) return -1;
  const pprClass = fieldValue(apicPpr(isr, isrAt, tpr), PRIORITY_CLASS);
  return fieldValue(v, VECTOR_CLASS) > pprClass ? v : -1;
}

/** The CPU takes `vector` (the deliverable one): IRR[vector] := 0, ISR[vector] := 1 (virtual-
 *  interrupt delivery: VIRR -> VISR, SVI := vector, RVI := the next highest VIRR bit). */
export function apicDispatch(
  irr: Uint32Array,
  irrAt: number,
  isr: Uint32Array,
  isrAt: number,
  vector: number,
): void {
  const bit = 1 << (vector & 31);
  irr[irrAt + (vector >>> 5)] &= ~bit;
  isr[isrAt + (vector >>> 5)] |= bit;
}

/** SDM "Signaling Interrupt Servicing Completion" (EOI virtualization alike): the highest
 *  in-service vector is done, its ISR bit cleared; returns it, or -1 if nothing was in service
 *  (the write then changes nothing). */
export function apicEoi(isr: Uint32Array, isrAt: number): number {
  const v = apicHighestVector(isr, isrAt);
  if (v >= 0) isr[isrAt + (v >>> 5)] &= ~(1 << (v & 31));
  return v;
}

// ---- acceptance, priority, EOI: the object API, a view over the word functions ----

/** Sets the IRR bit for `vector` (collapsing into it if already set) and its TMR bit. */
export function lapicSetIrr(
  apic: Lapic,
  vector: number,
  opts: { level: boolean },
): LapicAcceptance {
  checkVector(vector);
  if (opts.level) bitmapSet(apic.tmr, vector);
  else bitmapClear(apic.tmr, vector);
  if (!apicIrrSet(apic.irr, 0, vector)) {
    apic.counters.coalesced++;
    return { kind: 'coalesced', vector };
  }
  apic.counters.accepted++;
  return { kind: 'accepted', vector };
}

/** The APIC accepts an interrupt addressed to it (the caller has matched the destination). */
export function lapicAccept(apic: Lapic, irq: LapicInterrupt): LapicAcceptance {
  switch (irq.deliveryMode) {
    case DELIVERY_MODE.fixed:
    case DELIVERY_MODE.lowestPriority:
      checkVector(irq.vector);
      if (irq.vector < APIC_FIRST_LEGAL_VECTOR) {
        apic.esr = withField(apic.esr, ESR.accessors.receiveIllegalVector, 1);
        apic.counters.illegalVector++;
        return { kind: 'illegal-vector', vector: irq.vector };
      }
      return lapicSetIrr(apic, irq.vector, { level: irq.triggerMode === TRIGGER_MODE.level });
    case DELIVERY_MODE.nmi:
      apic.counters.nmi++;
      return { kind: 'nmi' };
    default:
      apic.counters.notModelled++;
      return { kind: 'not-modelled', deliveryMode: irq.deliveryMode };
  }
}

/** `register` with one field replaced (registers are single numbers in this state). */
function withField(register: number, field: FieldAccessor, value: number): number {
  const words = [register];
  field.set(words, value);
  return words[0];
}

/** Processor-Priority Register (`apicPpr`). */
export const lapicPpr = (apic: Lapic): number => apicPpr(apic.isr, 0, apic.tpr);

/** The vector the CPU would take now, or -1 (`apicDeliverableVector`). */
export const lapicDeliverable = (apic: Lapic): number =>
  apicDeliverableVector(apic.irr, 0, apic.isr, 0, apic.tpr);

/** The CPU acknowledges the highest deliverable vector (IRR -> ISR); -1 if none. */
export function lapicAck(apic: Lapic): number {
  const v = lapicDeliverable(apic);
  if (v < 0) return -1;
  apicDispatch(apic.irr, 0, apic.isr, 0, v);
  apic.counters.delivered++;
  return v;
}

export type LapicEoi = { kind: 'eoi'; vector: number; level: boolean } | { kind: 'spurious-eoi' };

/** Software writes EOI: the highest in-service vector is done. `level` tells the caller to
 *  broadcast the EOI to the IOAPICs (TMR set). An EOI with nothing in service does nothing. */
export function lapicEoi(apic: Lapic): LapicEoi {
  const v = apicEoi(apic.isr, 0);
  if (v < 0) return { kind: 'spurious-eoi' };
  apic.counters.eoi++;
  return { kind: 'eoi', vector: v, level: bitmapTest(apic.tmr, v) };
}

export function lapicSetTpr(apic: Lapic, tpr: number): void {
  checkUint('TPR', tpr, 0xff);
  apic.tpr = tpr;
}

export const lapicIrrCount = (apic: Lapic): number => bitmapCount(apic.irr);
export const lapicIrrTest = (apic: Lapic, vector: number): boolean => bitmapTest(apic.irr, vector);
export const lapicIsrTest = (apic: Lapic, vector: number): boolean => bitmapTest(apic.isr, vector);
