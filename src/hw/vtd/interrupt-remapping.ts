// The VT-d interrupt remapping unit: what happens to an interrupt request (a DWORD write to
// 0xFEExxxxx) on its way to the APICs. Intel VT-d spec 5.1.4 "Interrupt-Remapping Hardware
// Operation", 5.1.2 request formats, 9.10/9.11 IRTE, and the "Interrupt Remapping Fault
// Conditions" table (reasons 20h-26h; Linux `irq_remap_fault_reasons[]` in dmar.c names the same
// seven).
// One decision, over words: `vtdIrRequestIndex` (the request, before the table) and
// `vtdIrteLookup` (the IRTE through the interrupt entry cache, filled on a miss, and its checks)
// run on a Uint32Array holding the table and the cache (`IrWords`). The whole-system model calls
// them on its state words (machine/system-delivery.ts); `vtdIrRemap` is a view for one request
// on a unit object that keeps its table and cache in the same word form, and returns the outcome
// as data, recording a fault in the unit's log as the hardware would.
// Order of checks (5.1.4): compatibility format -> pass through only if CFIS = 1 and EIME = 0,
// else fault 25h; remappable: reserved request bits -> 20h; interrupt_index beyond the table ->
// 21h; IRTE (through the IEC) not present -> 22h; reserved IRTE bits -> 24h; source-id
// verification -> 26h; then remapped or posted by IM.
// Invariants: faults are outcomes, never exceptions, whatever the request and the table hold.
// "Qualified" faults (22h, 24h, 26h) are not recorded when the IRTE's FPD is set; the request
// is blocked all the same.
// Not modelled: fault event interrupts and the fault recording registers' overflow (the log is a
// list), fault 23h (table memory errors cannot happen here), posted-descriptor access faults.

import { decode, encode } from '../bits.js';
import { assert } from '../errors.js';
import { anyMasked, fieldPos, fieldValue, getField } from '../field-pos.js';
import type { RequesterId } from '../pci/bdf.js';
import type { MsiTransaction } from '../pci/msi-transaction.js';
import {
  APIC_ID_SPLIT,
  addressHandle,
  composeCompatMsi,
  decodeMsiMessage,
  INTERRUPT_FORMAT,
  MSI_ADDRESS_BASE,
  MSI_ADDRESS_COMPAT,
  MSI_ADDRESS_HIGH_X2APIC,
  MSI_ADDRESS_REMAPPABLE,
  MSI_DATA_COMPAT,
  type MsiMessage,
  notInterruptReason,
  remappableRequestIndex,
} from '../x86/msi-message.js';
import {
  type IecInvalidation,
  type IrWords,
  iecCached,
  iecInvalidate,
  iecLookupFill,
  irWordsFor,
} from './interrupt-entry-cache.js';
import {
  IRTE_DWORDS,
  IRTE_POSTED,
  IRTE_REMAPPED,
  irteApicId,
  irtePostedAt,
  irteReservedMasks,
  postedDescriptorAddress,
  sourceIdCheck,
} from './irte.js';
import {
  encodeIrta,
  entriesForSize,
  type InterruptRemappingTable,
  irtaEime,
} from './remapping-table.js';

/** VT-d "Interrupt Remapping Fault Conditions" reasons, as Linux's dmar.c lists them. */
export const IR_FAULT_REASON = {
  requestReserved: 0x20,
  indexOverflow: 0x21,
  entryNotPresent: 0x22,
  tableAccessError: 0x23,
  irteReserved: 0x24,
  compatBlocked: 0x25,
  sourceIdInvalid: 0x26,
} as const;
export type IrFaultReason = (typeof IR_FAULT_REASON)[keyof typeof IR_FAULT_REASON];

/** One line each, as Linux prints them (`dmar_get_fault_reason`). */
export const IR_FAULT_REASON_TEXT: Readonly<Record<IrFaultReason, string>> = {
  32: 'Detected reserved fields in the decoded interrupt-remapped request',
  33: 'Interrupt index exceeded the interrupt-remapping table size',
  34: 'Present field in the IRTE entry is clear',
  35: 'Error accessing interrupt-remapping table pointed by IRTA_REG',
  36: 'Detected reserved fields in the IRTE entry',
  37: 'Blocked a compatibility format interrupt request',
  38: 'Blocked an interrupt request due to source-id verification failure',
};

/** Faults the IRTE's FPD can keep from being recorded (the spec's "qualified" faults). */
const QUALIFIED: ReadonlySet<number> = new Set([
  IR_FAULT_REASON.entryNotPresent,
  IR_FAULT_REASON.irteReserved,
  IR_FAULT_REASON.sourceIdInvalid,
]);

export interface IrFaultRecord {
  readonly reason: IrFaultReason;
  /** interrupt_index; for a blocked compatibility request, the handle bits of its address (what
   *  real hardware reports, e.g. Linux's "fault index 0x8200 [fault reason 0x25]"). */
  readonly index: number;
  readonly sourceId: RequesterId;
}

export interface VtdIrUnit {
  /** IRTA_REG (two dwords) as latched by GCMD.SIRTP: table size and EIME. */
  readonly irta: number[];
  /** GSTS.IRES: interrupt remapping enabled. */
  ire: boolean;
  /** GSTS.CFIS: compatibility-format interrupts pass through (only while EIME = 0). */
  cfi: boolean;
  /** CAP.PI: posted-format IRTEs are supported; without it IM = 1 is a reserved-field fault. */
  readonly postedInterrupts: boolean;
  /** The table and the interrupt entry cache, as words (`layout`). */
  readonly words: Uint32Array;
  readonly layout: IrWords;
  /** The table memory: a view of `words` at `layout.irt`. */
  readonly table: InterruptRemappingTable;
  readonly faultLog: IrFaultRecord[];
}

export interface VtdIrUnitOptions {
  /** IRTA.S: the table has 2^(S+1) entries. */
  readonly tableSize: number;
  readonly eime: boolean;
  readonly ire: boolean;
  readonly cfi: boolean;
  readonly postedInterrupts: boolean;
}

export function createVtdIrUnit(opts: VtdIrUnitOptions): VtdIrUnit {
  const entries = entriesForSize(opts.tableSize);
  const layout = irWordsFor(entries);
  const words = new Uint32Array(layout.words);
  return {
    irta: encodeIrta({ size: opts.tableSize, eime: opts.eime }),
    ire: opts.ire,
    cfi: opts.cfi,
    postedInterrupts: opts.postedInterrupts,
    words,
    layout,
    table: { entries, dwords: words.subarray(layout.irt, layout.irt + entries * IRTE_DWORDS) },
    faultLog: [],
  };
}

/** The unit's modes the decision reads: GSTS.IRES, GSTS.CFIS, IRTA.EIME, CAP.PI. */
export interface VtdIrMode {
  readonly ire: boolean;
  readonly cfi: boolean;
  readonly eime: boolean;
  readonly postedInterrupts: boolean;
}

/** What a request is when it is no remappable request for the table (`vtdIrRequestIndex`). */
export const IR_REQUEST = { notInterrupt: -1, passedThrough: -2 } as const;

const REQUEST = {
  base: fieldPos(MSI_ADDRESS_COMPAT, 'baseAddress'),
  format: fieldPos(MSI_ADDRESS_REMAPPABLE, 'interruptFormat'),
};

/** 5.1.4 before the table: the interrupt_index of a remappable request, or (negative) what the
 *  request is instead: IR_REQUEST.notInterrupt (no write to 0xFEExxxxx), IR_REQUEST.passedThrough
 *  (IR off, or compatibility format with CFIS = 1 and EIME = 0), or minus the fault reason (25h
 *  a blocked compatibility request, 20h reserved request bits). Allocates nothing. */
export function vtdIrRequestIndex(
  mode: VtdIrMode,
  addrLo: number,
  addrHi: number,
  data: number,
): number {
  if (addrHi !== 0 || fieldValue(addrLo, REQUEST.base) !== MSI_ADDRESS_BASE) {
    return IR_REQUEST.notInterrupt;
  }
  if (!mode.ire) return IR_REQUEST.passedThrough;
  if (fieldValue(addrLo, REQUEST.format) !== INTERRUPT_FORMAT.remappable) {
    return mode.cfi && !mode.eime ? IR_REQUEST.passedThrough : -IR_FAULT_REASON.compatBlocked;
  }
  const index = remappableRequestIndex(addrLo, data);
  return index < 0 ? -IR_FAULT_REASON.requestReserved : index;
}

/** 5.1.4 at the table of `entries` IRTEs: IRTE `index` through the interrupt entry cache (a
 *  present entry fills it on a miss), then its checks for `requesterId` (`irteCheck`). Returns the
 *  word offset of the entry the unit uses (its cached copy; `irtePostedAt` tells its format), or
 *  minus the fault reason: 21h, 22h, 24h, 26h. Allocates nothing. */
export function vtdIrteLookup(
  w: Uint32Array,
  l: IrWords,
  mode: VtdIrMode,
  entries: number,
  index: number,
  requesterId: number,
): number {
  if (index >= entries) return -IR_FAULT_REASON.indexOverflow;
  const at = iecLookupFill(w, l, index);
  if (at < 0) return -IR_FAULT_REASON.entryNotPresent;
  const check = irteCheck(w, at, mode, requesterId);
  return check === IRTE_USABLE ? at : -check;
}

/** Software's invalidation reaches the unit's interrupt entry cache (`iecInvalidate`). */
export const vtdIrInvalidate = (unit: VtdIrUnit, inv: IecInvalidation): number =>
  iecInvalidate(unit.words, unit.layout, unit.table.entries, inv);

export type VtdIrOutcome =
  /** Not an interrupt at all: an ordinary memory write the remapping unit never sees. */
  | { readonly kind: 'not-interrupt'; readonly reason: string }
  /** Delivered unchanged: IR off, or a compatibility request with CFIS = 1 (and EIME = 0). */
  | {
      readonly kind: 'passed-through';
      readonly why: 'ir-disabled' | 'compatibility-format';
      readonly message: MsiMessage;
    }
  /** Blocked. `recorded` is false when the IRTE's FPD suppressed the fault record. */
  | {
      readonly kind: 'fault';
      readonly reason: IrFaultReason;
      readonly index: number;
      readonly sourceId: RequesterId;
      readonly recorded: boolean;
    }
  | VtdIrRemapped
  | VtdIrPosted;

export interface VtdIrRemapped {
  readonly kind: 'remapped';
  readonly index: number;
  /** APIC ID: DST[47:40] in xAPIC mode, all of DST with EIME. */
  readonly destination: number;
  readonly destinationMode: number;
  readonly vector: number;
  readonly deliveryMode: number;
  readonly triggerMode: number;
  readonly redirectionHint: number;
  /** The IRTE came from the interrupt entry cache (possibly stale w.r.t. memory). */
  readonly iecHit: boolean;
  /** SHV clear (an IOAPIC request): the vector and trigger mode the IOAPIC RTE put in the data.
   *  VT-d 5.1.5.1 asks software to program them equal to the IRTE's; hardware uses the IRTE's.
   *  Linux puts the pin number there instead, and QEMU warns (`vtd_warn_ir_vector`) but
   *  delivers the IRTE's vector, as here. Null for SHV set. */
  readonly ioapicRte: { readonly vector: number; readonly triggerMode: number } | null;
}

export interface VtdIrPosted {
  readonly kind: 'posted';
  readonly index: number;
  /** Posted-interrupt descriptor address: `lo` (64-byte aligned) and `hi` dwords. */
  readonly pda: { readonly lo: number; readonly hi: number };
  readonly vector: number;
  readonly urgent: number;
  readonly iecHit: boolean;
}

/** Remaps one interrupt request (`vtdIrRequestIndex`, `vtdIrteLookup` on the unit's words).
 *  Applies the IEC fill and the fault record to `unit` in place; never throws on hardware input
 *  (any address, data, requester, table contents). */
export function vtdIrRemap(unit: VtdIrUnit, tx: MsiTransaction): VtdIrOutcome {
  const message = { addrLo: tx.addrLo >>> 0, addrHi: tx.addrHi >>> 0, data: tx.data >>> 0 };
  const mode = unitMode(unit);
  const index = vtdIrRequestIndex(mode, message.addrLo, message.addrHi, message.data);
  if (index === IR_REQUEST.notInterrupt) {
    return {
      kind: 'not-interrupt',
      reason: notInterruptReason(message.addrLo, message.addrHi) ?? '',
    };
  }
  if (index === IR_REQUEST.passedThrough) {
    return {
      kind: 'passed-through',
      why: unit.ire ? 'compatibility-format' : 'ir-disabled',
      message,
    };
  }
  if (index === -IR_FAULT_REASON.compatBlocked) {
    return fault(unit, IR_FAULT_REASON.compatBlocked, addressHandle(message.addrLo), tx, false);
  }
  if (index < 0) {
    const request = decodeMsiMessage(message.addrLo, message.addrHi, message.data);
    assert(request.format === 'remappable', 'vtdIrRemap: format checked before');
    return fault(unit, IR_FAULT_REASON.requestReserved, request.interruptIndex, tx, false);
  }
  const iecHit = iecCached(unit.words, unit.layout, index);
  const at = vtdIrteLookup(
    unit.words,
    unit.layout,
    mode,
    unit.table.entries,
    index,
    tx.requesterId,
  );
  if (at < 0) return fault(unit, -at as IrFaultReason, index, tx, fpdOf(unit, index));
  if (irtePostedAt(unit.words, at)) return posted(unit.words, at, index, iecHit);
  const shv = fieldValue(message.addrLo, SHV) === 1;
  return remapped(unit, at, index, iecHit, shv ? null : ioapicRte(message.data));
}

const SHV = fieldPos(MSI_ADDRESS_REMAPPABLE, 'shv');
const FPD = fieldPos(IRTE_REMAPPED, 'faultProcessingDisable');

const unitMode = (unit: VtdIrUnit): VtdIrMode => ({
  ire: unit.ire,
  cfi: unit.cfi,
  eime: irtaEime(unit.irta),
  postedInterrupts: unit.postedInterrupts,
});

/** FPD of the IRTE the unit read for `index`: its cached copy, else the table's entry. */
function fpdOf(unit: VtdIrUnit, index: number): boolean {
  const l = unit.layout;
  const at = (iecCached(unit.words, l, index) ? l.iecCopy : l.irt) + index * IRTE_DWORDS;
  return getField(unit.words, at, FPD) === 1;
}

/** A present IRTE may be used for this request: neither check below failed. */
export const IRTE_USABLE = 0;

const SOURCE = {
  svt: fieldPos(IRTE_REMAPPED, 'sourceValidationType'),
  sq: fieldPos(IRTE_REMAPPED, 'sourceIdQualifier'),
  sid: fieldPos(IRTE_REMAPPED, 'sourceId'),
};

/** VT-d 9.10 / 5.1.4: the checks on a present IRTE at `words[at..]`, in the unit's order: its
 *  reserved fields for its format and the unit's mode (a posted-format entry on a unit without
 *  posted-interrupt support is one), then source-id validation of `requesterId` (SVT 11b is a
 *  reserved encoding; QEMU takes it as a verification failure, 26h, and so do we). IRTE_USABLE,
 *  or the fault reason. One implementation: `vtdIrRemap` and the whole-system model's delivery
 *  path (`machine/system-delivery.ts`) both call it on their own words. */
export function irteCheck(
  words: ArrayLike<number>,
  at: number,
  unit: { readonly eime: boolean; readonly postedInterrupts: boolean },
  requesterId: number,
): typeof IRTE_USABLE | IrFaultReason {
  const posted = irtePostedAt(words, at);
  if ((posted && !unit.postedInterrupts) || anyMasked(words, at, irteReservedMasks(posted, unit))) {
    return IR_FAULT_REASON.irteReserved;
  }
  const sid = sourceIdCheck(
    getField(words, at, SOURCE.svt),
    getField(words, at, SOURCE.sq),
    getField(words, at, SOURCE.sid),
    requesterId,
  );
  return sid === 'ok' ? IRTE_USABLE : IR_FAULT_REASON.sourceIdInvalid;
}

function remapped(
  unit: VtdIrUnit,
  at: number,
  index: number,
  iecHit: boolean,
  rte: VtdIrRemapped['ioapicRte'],
): VtdIrRemapped {
  const e = decode(IRTE_REMAPPED, unit.words, at);
  return {
    kind: 'remapped',
    index,
    destination: irteApicId(e.destinationId, { eime: irtaEime(unit.irta) }),
    destinationMode: e.destinationMode,
    vector: e.vector,
    deliveryMode: e.deliveryMode,
    triggerMode: e.triggerMode,
    redirectionHint: e.redirectionHint,
    iecHit,
    ioapicRte: rte,
  };
}

function posted(words: Uint32Array, at: number, index: number, iecHit: boolean): VtdIrPosted {
  const e = decode(IRTE_POSTED, words, at);
  return {
    kind: 'posted',
    index,
    pda: postedDescriptorAddress(e),
    vector: e.virtualVector,
    urgent: e.urgent,
    iecHit,
  };
}

function ioapicRte(data: number): VtdIrRemapped['ioapicRte'] {
  const d = decode(MSI_DATA_COMPAT, [data]);
  return { vector: d.vector, triggerMode: d.triggerMode };
}

function fault(
  unit: VtdIrUnit,
  reason: IrFaultReason,
  index: number,
  tx: MsiTransaction,
  fpd: boolean,
): VtdIrOutcome {
  const recorded = !(fpd && QUALIFIED.has(reason));
  const sourceId = tx.requesterId;
  if (recorded) unit.faultLog.push({ reason, index, sourceId });
  return { kind: 'fault', reason, index, sourceId, recorded };
}

/** The remapped interrupt as a compatibility-format message, the way QEMU hands it to its APIC
 *  (`x86_iommu_irq_to_msi_message`): destination bits 7:0 in address 19:12 and bits 31:8 in the
 *  upper address, DM, RH, the request's don't-care address bits 1:0 kept, data with the IRTE's
 *  vector, delivery mode and trigger mode and Level = 1. Real hardware delivers to the APIC
 *  fabric directly; this form is what the recorded traces show. */
export function remappedAsMsiMessage(r: VtdIrRemapped, request: MsiTransaction): MsiMessage {
  const dest = decode(APIC_ID_SPLIT, [r.destination]);
  const m = composeCompatMsi({
    destinationId: dest.low,
    extendedDestinationId: 0,
    destinationMode: r.destinationMode,
    redirectionHint: r.redirectionHint,
    dontCare: MSI_ADDRESS_COMPAT.accessors.dontCare.get([request.addrLo]),
    vector: r.vector,
    deliveryMode: r.deliveryMode,
    level: 1,
    triggerMode: r.triggerMode,
  });
  const [addrHi] = encode(MSI_ADDRESS_HIGH_X2APIC, { destinationIdHigh: dest.high });
  return { ...m, addrHi };
}
