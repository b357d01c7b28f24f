// The VT-d Interrupt Remapping Table Entry: 128 bits, four little-endian dwords, in one of two
// formats chosen by IM (bit 15):
//  - remapped (IM = 0): Intel VT-d spec rev 3.x/4.x, 9.10 "Interrupt Remapping Table Entry (IRTE)
//    for Remapped Interrupts": the interrupt is delivered to DST/vector as an external interrupt;
//  - posted (IM = 1): 9.11 "... for Posted Interrupts": the vector is recorded in the Posted
//    Interrupt Descriptor at PDA and, if needed, a notification event is sent.
// Both share P, FPD, AVAIL, IM and the source-id fields SID/SQ/SVT (bits 83:64), which say which
// requester may use the entry (9.10, SVT/SQ tables; checked by `verifySourceId`).
// Invariants: every bit belongs to a field; reserved fields are named `reserved...` and a present
// entry with one set is faulted by hardware (fault reason 24h). In xAPIC mode (IRTA_REG.EIME = 0)
// DST holds the 8-bit APIC ID in bits 47:40 and bits 39:32 and 63:48 are reserved too (9.10 DST
// table: "conditionally reserved"), so `irteReservedBitsSet` takes the mode.
// Not modelled: the Linux IRTE "available" bits' use (they are software's), SVT 11b meaning
// anything (reserved).

import {
  type Decoded,
  type Dwords,
  decode,
  defineLayout,
  encode,
  reservedBitsSet,
} from '../bits.js';
import { InputError } from '../errors.js';
import { fieldPos, fieldValue, getField, reservedMasks } from '../field-pos.js';
import { REQUESTER_ID, type RequesterId } from '../pci/bdf.js';

export const IRTE_DWORDS = 4;
export const IRTE_MODE = { remapped: 0, posted: 1 } as const;
/** SVT encodings (VT-d 9.10, Source Validation Type). */
export const SOURCE_VALIDATION_TYPE = {
  none: 0,
  requesterId: 1,
  busRange: 2,
  reserved: 3,
} as const;
/** SQ (Source-id Qualifier) with SVT = 01b: function-number bits of SID and requester-id that are
 *  NOT compared. VT-d 9.10: 00b all 16 bits; 01b ignore bit 2; 10b ignore bits 2:1; 11b ignore
 *  bits 2:0 (for phantom functions and devices that use several function numbers). */
export const SQ_IGNORED_FUNCTION_BITS: readonly number[] = [0b000, 0b100, 0b110, 0b111];

export const IRTE_REMAPPED = defineLayout(
  'vtd-irte-remapped',
  128,
  'Intel VT-d 9.10 Interrupt Remapping Table Entry (IRTE) for Remapped Interrupts',
  {
    present: [0, 0, 'P: the entry is valid'],
    faultProcessingDisable: [1, 1, 'FPD: do not record qualified faults for this entry'],
    destinationMode: [2, 2, 'DM: 0 physical, 1 logical'],
    redirectionHint: [3, 3, 'RH: lowest-priority redirection among the destinations'],
    triggerMode: [4, 4, 'TM: 0 edge, 1 level'],
    deliveryMode: [7, 5, 'DLM: as the MSI delivery mode (fixed, lowest priority, ...)'],
    available: [11, 8, 'AVAIL: for software'],
    reserved0: [14, 12, 'Reserved (0)'],
    irteMode: [15, 15, 'IM: 0 remapped, 1 posted'],
    vector: [23, 16, 'V: vector'],
    reserved1: [31, 24, 'Reserved (0)'],
    destinationId: [63, 32, 'DST: x2APIC ID, or in xAPIC mode the APIC ID in bits 47:40'],
    sourceId: [79, 64, 'SID: requester-id (or bus range) allowed to use the entry'],
    sourceIdQualifier: [81, 80, 'SQ: which function bits of SID are compared'],
    sourceValidationType: [83, 82, 'SVT: 0 none, 1 requester-id, 2 bus range, 3 reserved'],
    reserved2: [95, 84, 'Reserved (0)'],
    reserved3: [127, 96, 'Reserved (0)'],
  },
  { complete: true },
);

export const IRTE_POSTED = defineLayout(
  'vtd-irte-posted',
  128,
  'Intel VT-d 9.11 Interrupt Remapping Table Entry (IRTE) for Posted Interrupts',
  {
    present: [0, 0, 'P: the entry is valid'],
    faultProcessingDisable: [1, 1, 'FPD: do not record qualified faults for this entry'],
    reserved0: [7, 2, 'Reserved (0)'],
    available: [11, 8, 'AVAIL: for software'],
    reserved1: [13, 12, 'Reserved (0)'],
    urgent: [14, 14, 'URG: notify even if the vCPU suppresses notifications'],
    irteMode: [15, 15, 'IM: 1 posted'],
    virtualVector: [23, 16, 'VV: vector recorded in the descriptor PIR'],
    reserved2: [37, 24, 'Reserved (0)'],
    pdaLow: [63, 38, 'PDA-L: posted interrupt descriptor address bits 31:6'],
    sourceId: [79, 64, 'SID'],
    sourceIdQualifier: [81, 80, 'SQ'],
    sourceValidationType: [83, 82, 'SVT'],
    reserved3: [95, 84, 'Reserved (0)'],
    pdaHigh: [127, 96, 'PDA-H: posted interrupt descriptor address bits 63:32'],
  },
  { complete: true },
);

/** DST in xAPIC mode (IRTA_REG.EIME = 0). Linux writes `dest << 8` (IRTE_DEST). */
export const IRTE_XAPIC_DESTINATION = defineLayout(
  'vtd-irte-dst-xapic',
  32,
  'Intel VT-d 9.10 Destination ID field, xAPIC mode',
  {
    reservedLow: [7, 0, 'IRTE bits 39:32, reserved in xAPIC mode'],
    apicId: [15, 8, 'IRTE bits 47:40: APIC DestinationID[7:0]'],
    reservedHigh: [31, 16, 'IRTE bits 63:48, reserved in xAPIC mode'],
  },
  { complete: true },
);

/** SID with SVT = 10b: "the most significant 8 bits of the requester-id (Bus#) must be equal to
 *  or within StartBus# (SID 15:8) and EndBus# (SID 7:0)"; Linux `set_irte_verify_bus` writes
 *  `start_bus << 8 | end_bus`. (QEMU 7.2's `vtd_irte_get` reads 15:8 as the last bus and 7:0 as
 *  the first, the other way round; irqlab follows the spec and Linux.) */
export const SID_BUS_RANGE = defineLayout(
  'vtd-irte-sid-bus-range',
  32,
  'Intel VT-d 9.10 SID with SVT = 10b',
  {
    endBus: [7, 0, 'last bus allowed'],
    startBus: [15, 8, 'first bus allowed'],
    reserved: [31, 16, 'a SID has 16 bits'],
  },
  { complete: true },
);

/** The 64-bit descriptor address as PDA-L/PDA-H split it; the descriptor is 64-byte aligned. */
const POSTED_DESCRIPTOR_ADDRESS = defineLayout(
  'vtd-posted-descriptor-address',
  64,
  'Intel VT-d 9.11 PDA-L (address 31:6) and PDA-H (address 63:32)',
  {
    reservedAlignment: [5, 0, 'the descriptor is 64-byte aligned'],
    low: [31, 6, 'PDA-L'],
    high: [63, 32, 'PDA-H'],
  },
  { complete: true },
);

export type IrteRemapped = Decoded<typeof IRTE_REMAPPED.fields>;
export type IrtePosted = Decoded<typeof IRTE_POSTED.fields>;

export type DecodedIrte =
  | {
      readonly format: 'remapped';
      readonly fields: IrteRemapped;
      readonly reservedBitsSet: string[];
    }
  | { readonly format: 'posted'; readonly fields: IrtePosted; readonly reservedBitsSet: string[] };

export interface IrteModeOptions {
  /** IRTA_REG.EIME: x2APIC mode, DST is a 32-bit APIC ID. */
  readonly eime: boolean;
}

export function irteFormat(words: Dwords, offset = 0): 'remapped' | 'posted' {
  return IRTE_REMAPPED.accessors.irteMode.get(words, offset) === IRTE_MODE.posted
    ? 'posted'
    : 'remapped';
}

/** Decodes the entry in the format its IM bit selects, with every reserved violation. */
export function decodeIrte(words: Dwords, opts: IrteModeOptions, offset = 0): DecodedIrte {
  const reserved = irteReservedBitsSet(words, opts, offset);
  return irteFormat(words, offset) === 'posted'
    ? { format: 'posted', fields: decode(IRTE_POSTED, words, offset), reservedBitsSet: reserved }
    : {
        format: 'remapped',
        fields: decode(IRTE_REMAPPED, words, offset),
        reservedBitsSet: reserved,
      };
}

/** Reserved fields that are set, including DST's conditionally reserved bits in xAPIC mode. */
export function irteReservedBitsSet(words: Dwords, opts: IrteModeOptions, offset = 0): string[] {
  if (irteFormat(words, offset) === 'posted') return reservedBitsSet(IRTE_POSTED, words, offset);
  const set = reservedBitsSet(IRTE_REMAPPED, words, offset);
  if (!opts.eime) {
    const dst = IRTE_REMAPPED.accessors.destinationId.get(words, offset);
    for (const name of reservedBitsSet(IRTE_XAPIC_DESTINATION, [dst])) {
      set.push(`destinationId.${name}`);
    }
  }
  return set;
}

const F = {
  irteMode: fieldPos(IRTE_REMAPPED, 'irteMode'),
  destinationId: fieldPos(IRTE_REMAPPED, 'destinationId'),
};
const RESERVED_POSTED = reservedMasks(IRTE_POSTED);
const RESERVED_REMAPPED = reservedMasks(IRTE_REMAPPED);
/** xAPIC mode (IRTA.EIME = 0): DST bits 39:32 and 63:48 are reserved too (VT-d 9.10). */
const RESERVED_REMAPPED_XAPIC = (() => {
  const out = RESERVED_REMAPPED.slice();
  for (const r of reservedMasks(IRTE_XAPIC_DESTINATION)) {
    out[F.destinationId.dword] = (out[F.destinationId.dword] | r) >>> 0;
  }
  return out;
})();

/** IM = 1: the IRTE at `words[at..]` is in posted format (compiled read, for the remapping path). */
export const irtePostedAt = (words: ArrayLike<number>, at: number): boolean =>
  getField(words, at, F.irteMode) === IRTE_MODE.posted;

/** The reserved bits, per dword, of an IRTE in posted (IM = 1) or remapped format under the
 *  unit's mode: what `irteReservedBitsSet` lists by name, as masks for one `anyMasked` test. */
export const irteReservedMasks = (posted: boolean, opts: IrteModeOptions): Uint32Array =>
  posted ? RESERVED_POSTED : opts.eime ? RESERVED_REMAPPED : RESERVED_REMAPPED_XAPIC;

/** The dwords of a remapped-format entry (IM = 0); fields not given are 0. */
export function encodeIrteRemapped(values: Partial<IrteRemapped>): number[] {
  return encode(IRTE_REMAPPED, { ...values, irteMode: IRTE_MODE.remapped });
}

/** The dwords of a posted-format entry (IM = 1); fields not given are 0. */
export function encodeIrtePosted(values: Partial<IrtePosted>): number[] {
  return encode(IRTE_POSTED, { ...values, irteMode: IRTE_MODE.posted });
}

/** DST for an APIC ID: the ID itself in x2APIC mode, the ID in bits 47:40 in xAPIC mode. */
export function irteDestinationId(apicId: number, opts: IrteModeOptions): number {
  if (opts.eime) return encode(IRTE_REMAPPED, { destinationId: apicId })[1];
  return encode(IRTE_XAPIC_DESTINATION, { apicId })[0];
}

/** The APIC ID a remapped-format entry targets, as the hardware reads DST in the given mode. */
export function irteApicId(destinationId: number, opts: IrteModeOptions): number {
  if (opts.eime) return destinationId;
  return IRTE_XAPIC_DESTINATION.accessors.apicId.get([destinationId]);
}

/** The posted-interrupt descriptor address as two dwords: `lo` (64-byte aligned) and `hi`. */
export function postedDescriptorAddress(fields: Pick<IrtePosted, 'pdaLow' | 'pdaHigh'>): {
  lo: number;
  hi: number;
} {
  const [lo, hi] = encode(POSTED_DESCRIPTOR_ADDRESS, { low: fields.pdaLow, high: fields.pdaHigh });
  return { lo, hi };
}

/** PDA-L/PDA-H for a descriptor address; rejects one that is not 64-byte aligned. */
export function pdaFields(address: { lo: number; hi: number }): {
  pdaLow: number;
  pdaHigh: number;
} {
  const words = [address.lo, address.hi];
  if (reservedBitsSet(POSTED_DESCRIPTOR_ADDRESS, words).length > 0) {
    throw new InputError('posted descriptor address', 'not 64-byte aligned (VT-d 9.11 PDA)');
  }
  const d = decode(POSTED_DESCRIPTOR_ADDRESS, words);
  return { pdaLow: d.low, pdaHigh: d.high };
}

export type SourceIdCheck = 'ok' | 'mismatch' | 'reserved-svt';

/** VT-d 9.10 SVT/SQ/SID: may `requesterId` use this entry? */
export function verifySourceId(
  fields: Pick<IrteRemapped, 'sourceId' | 'sourceIdQualifier' | 'sourceValidationType'>,
  requesterId: RequesterId,
): SourceIdCheck {
  return sourceIdCheck(
    fields.sourceValidationType,
    fields.sourceIdQualifier,
    fields.sourceId,
    requesterId,
  );
}

/** VT-d 9.10 on the raw SVT, SQ and SID fields: the one implementation of the check, for the IRTE
 *  decoded (`verifySourceId`) and for the whole-system model's words (`machine/system-delivery.ts`). */
export function sourceIdCheck(svt: number, sq: number, sid: number, rid: number): SourceIdCheck {
  switch (svt) {
    case SOURCE_VALIDATION_TYPE.none:
      return 'ok';
    case SOURCE_VALIDATION_TYPE.requesterId:
      return requesterIdMatches(sid, rid, sq) ? 'ok' : 'mismatch';
    case SOURCE_VALIDATION_TYPE.busRange:
      return busInRange(sid, rid) ? 'ok' : 'mismatch';
    default:
      return 'reserved-svt';
  }
}

const RID = {
  bus: fieldPos(REQUESTER_ID, 'bus'),
  device: fieldPos(REQUESTER_ID, 'device'),
  function: fieldPos(REQUESTER_ID, 'function'),
};
const SID_RANGE = {
  startBus: fieldPos(SID_BUS_RANGE, 'startBus'),
  endBus: fieldPos(SID_BUS_RANGE, 'endBus'),
};

/** Bits of a requester ID that name the function: bus, device, function (RID bits 15:0). */
const RID_BITS = RID.bus.bits | RID.device.bits | RID.function.bits;

/** SID and RID agree on bus, device and function, less the function bits SQ says to ignore. */
function requesterIdMatches(sid: number, rid: number, sq: number): boolean {
  const ignored = SQ_IGNORED_FUNCTION_BITS[sq] << RID.function.shift;
  return ((sid ^ rid) & RID_BITS & ~ignored) === 0;
}

function busInRange(sid: number, rid: number): boolean {
  const bus = fieldValue(rid, RID.bus);
  return bus >= fieldValue(sid, SID_RANGE.startBus) && bus <= fieldValue(sid, SID_RANGE.endBus);
}
