// The VT-d interrupt remapping unit: what happens to an interrupt request (a DWORD write to
// 0xFEExxxxx) on its way to the APICs. Intel VT-d spec 5.1.4 "Interrupt-Remapping Hardware
// Operation", 5.1.2 request formats, 9.10/9.11 IRTE, and the "Interrupt Remapping Fault
// Conditions" table (reasons 20h-26h; Linux `irq_remap_fault_reasons[]` in dmar.c names the same
// seven).
// State (plain data): IRTA_REG as latched by SIRTP, GSTS.IRES (`ire`), GSTS.CFIS (`cfi`), CAP.PI,
// the table memory, the interrupt entry cache and a fault log. `vtdIrRemap` decides the outcome
// of one request and returns it as data; the hardware side effects it has (an IEC fill on a miss,
// a fault record) are applied to the unit in place, as the hardware would.
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
import { anyMasked, fieldPos, getField } from '../field-pos.js';
import type { RequesterId } from '../pci/bdf.js';
import type { MsiTransaction } from '../pci/msi-transaction.js';
import {
  APIC_ID_SPLIT,
  addressHandle,
  composeCompatMsi,
  decodeMsiMessage,
  isRemappableFormat,
  MSI_ADDRESS_COMPAT,
  MSI_ADDRESS_HIGH_X2APIC,
  MSI_DATA_COMPAT,
  type MsiMessage,
  notInterruptReason,
  remappableRequestIndex,
} from '../x86/msi-message.js';
import {
  createInterruptEntryCache,
  type InterruptEntryCache,
  iecFill,
  iecLookup,
} from './interrupt-entry-cache.js';
import {
  IRTE_POSTED,
  IRTE_REMAPPED,
  irteApicId,
  irteFormat,
  irtePostedAt,
  irteReservedMasks,
  postedDescriptorAddress,
  sourceIdCheck,
} from './irte.js';
import {
  createRemappingTable,
  encodeIrta,
  type InterruptRemappingTable,
  irtaEime,
  readIrte,
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
  readonly table: InterruptRemappingTable;
  readonly iec: InterruptEntryCache;
  readonly faultLog: IrFaultRecord[];
}

export interface VtdIrUnitOptions {
  /** IRTA.S: the table has 2^(S+1) entries. */
  readonly tableSize: number;
  readonly eime: boolean;
  readonly ire: boolean;
  readonly cfi: boolean;
  readonly postedInterrupts: boolean;
  /** Interrupt entry cache capacity; null = unbounded. */
  readonly iecCapacity: number | null;
}

export function createVtdIrUnit(opts: VtdIrUnitOptions): VtdIrUnit {
  return {
    irta: encodeIrta({ size: opts.tableSize, eime: opts.eime }),
    ire: opts.ire,
    cfi: opts.cfi,
    postedInterrupts: opts.postedInterrupts,
    table: createRemappingTable(opts.tableSize),
    iec: createInterruptEntryCache(opts.iecCapacity),
    faultLog: [],
  };
}

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

/** Remaps one interrupt request. Applies the IEC fill and the fault record to `unit` in place;
 *  never throws on hardware input (any address, data, requester, table contents). */
export function vtdIrRemap(unit: VtdIrUnit, tx: MsiTransaction): VtdIrOutcome {
  const addrLo = tx.addrLo >>> 0;
  const notInterrupt = notInterruptReason(addrLo, tx.addrHi >>> 0);
  if (notInterrupt !== null) return { kind: 'not-interrupt', reason: notInterrupt };
  const message = { addrLo, addrHi: tx.addrHi >>> 0, data: tx.data >>> 0 };
  if (!unit.ire) return { kind: 'passed-through', why: 'ir-disabled', message };
  if (!isRemappableFormat(addrLo)) {
    if (unit.cfi && !irtaEime(unit.irta)) {
      return { kind: 'passed-through', why: 'compatibility-format', message };
    }
    return fault(unit, IR_FAULT_REASON.compatBlocked, addressHandle(addrLo), tx, false);
  }
  return remapRemappable(unit, tx, message);
}

function remapRemappable(unit: VtdIrUnit, tx: MsiTransaction, message: MsiMessage): VtdIrOutcome {
  const request = decodeMsiMessage(message.addrLo, message.addrHi, message.data);
  assert(request.format === 'remappable', 'vtdIrRemap: format checked before');
  const index = remappableRequestIndex(message.addrLo, message.data);
  if (index < 0) {
    return fault(unit, IR_FAULT_REASON.requestReserved, request.interruptIndex, tx, false);
  }
  if (index >= unit.table.entries) {
    return fault(unit, IR_FAULT_REASON.indexOverflow, index, tx, false);
  }
  const cached = iecLookup(unit.iec, index);
  const words = cached ?? readIrte(unit.table, index);
  const fpd = IRTE_REMAPPED.accessors.faultProcessingDisable.get(words) === 1;
  if (IRTE_REMAPPED.accessors.present.get(words) === 0) {
    return fault(unit, IR_FAULT_REASON.entryNotPresent, index, tx, fpd);
  }
  if (cached === undefined) iecFill(unit.iec, index, words);
  const check = irteCheck(
    words,
    0,
    { eime: irtaEime(unit.irta), postedInterrupts: unit.postedInterrupts },
    tx.requesterId,
  );
  if (check !== IRTE_USABLE) return fault(unit, check, index, tx, fpd);
  const iecHit = cached !== undefined;
  return irteFormat(words) === 'posted'
    ? posted(words, index, iecHit)
    : remapped(unit, words, index, iecHit, request.shv ? null : ioapicRte(message.data));
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
  words: number[],
  index: number,
  iecHit: boolean,
  rte: VtdIrRemapped['ioapicRte'],
): VtdIrRemapped {
  const e = decode(IRTE_REMAPPED, words);
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

function posted(words: number[], index: number, iecHit: boolean): VtdIrPosted {
  const e = decode(IRTE_POSTED, words);
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
