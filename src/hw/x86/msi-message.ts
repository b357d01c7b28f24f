// The x86 interrupt message: the address/data pair a PCI function writes to signal MSI, MSI-X or
// IMS, in its two formats.
//  - Compatibility format: Intel SDM Vol. 3A, 11.11 "Message Signalled Interrupts" (11.11.1
//    Message Address Register Format, 11.11.2 Message Data Register Format). The destination APIC
//    ID is in address bits 19:12; bits 11:5 carry APIC ID bits 14:8 where the hypervisor offers
//    the "extended destination ID" (KVM_FEATURE_MSI_EXT_DEST_ID, Hyper-V; Linux
//    `x86_msi_addr_lo.virt_destid_8_14`); on bare metal they are reserved.
//  - Remappable format: Intel VT-d spec, 5.1.2.2 "Interrupt Requests in Remappable Format":
//    address bit 4 (Interrupt Format) = 1, handle[14:0] in bits 19:5, handle[15] in bit 2, SHV in
//    bit 3; data bits 15:0 are the subhandle, used only when SHV is set.
// Invariants: an interrupt message is a DWORD write to 0x00000000_FEExxxxx: any other address,
// including one with a non-zero upper dword, is an ordinary memory write, never an interrupt (the
// remapping unit and the APICs never see it). The interrupt index a remappable message selects is
// computed in one place, `interruptIndex`.
// Not modelled: the SDM's Lowest Priority redirection itself (RH and the delivery mode are
// decoded, the arbitration belongs to the APIC model), 32-bit Extended Message Data.

import { decode, defineLayout, encode, reservedBitsSet } from '../bits.js';
import { InputError } from '../errors.js';
import { fieldPos, fieldValue } from '../field-pos.js';
import { DELIVERY_MODE, DEST_MODE } from './lapic.js';

/** Address bits 31:20 of every x86 interrupt message (the SDM's 0FEEH). */
export const MSI_ADDRESS_BASE = 0xfee;
/** Largest remappable handle (16 bits) and subhandle (16 bits). */
export const MSI_HANDLE_MAX = 0xffff;
export const MSI_SUBHANDLE_MAX = 0xffff;
/** APIC IDs reachable with the extended destination ID: 8 + 7 bits. */
export const MSI_EXT_DEST_APIC_ID_MAX = 0x7fff;

export const INTERRUPT_FORMAT = { compatibility: 0, remappable: 1 } as const;

export const MSI_ADDRESS_COMPAT = defineLayout(
  'msi-address-compat',
  32,
  'Intel SDM Vol. 3A 11.11.1 Message Address Register Format (compatibility format)',
  {
    dontCare: [1, 0, 'XX: not part of the message (DWORD write)'],
    destinationMode: [2, 2, 'DM: 0 physical, 1 logical'],
    redirectionHint: [3, 3, 'RH: 1 = lowest-priority redirection among the destinations'],
    interruptFormat: [4, 4, 'VT-d Interrupt Format: 0 for compatibility format'],
    extendedDestinationId: [11, 5, 'APIC ID bits 14:8 (hypervisor extension; reserved on metal)'],
    destinationId: [19, 12, 'Destination ID: APIC ID bits 7:0'],
    baseAddress: [31, 20, '0FEEH'],
  },
  { complete: true },
);

export const MSI_ADDRESS_REMAPPABLE = defineLayout(
  'msi-address-remappable',
  32,
  'Intel VT-d 5.1.2.2 Interrupt Requests in Remappable Format, address register',
  {
    dontCare: [1, 0, "Don't Care"],
    handleHigh: [2, 2, 'Interrupt Handle bit 15'],
    shv: [3, 3, 'SubHandle Valid'],
    interruptFormat: [4, 4, 'Interrupt Format: 1 for remappable format'],
    handleLow: [19, 5, 'Interrupt Handle bits 14:0'],
    baseAddress: [31, 20, 'FEEh'],
  },
  { complete: true },
);

export const MSI_DATA_COMPAT = defineLayout(
  'msi-data-compat',
  32,
  'Intel SDM Vol. 3A 11.11.2 Message Data Register Format',
  {
    vector: [7, 0, 'Vector'],
    deliveryMode: [10, 8, 'Delivery Mode'],
    reserved: [13, 11, 'Reserved'],
    level: [14, 14, 'Level: for level-triggered, 1 assert / 0 deassert; ignored for edge'],
    triggerMode: [15, 15, 'Trigger Mode: 0 edge, 1 level'],
    reservedHigh: [31, 16, 'Reserved'],
  },
  { complete: true },
);

export const MSI_DATA_REMAPPABLE = defineLayout(
  'msi-data-remappable',
  32,
  'Intel VT-d 5.1.2.2 Interrupt Requests in Remappable Format, data register',
  {
    subhandle: [15, 0, 'SubHandle: added to the handle when SHV is set'],
    reserved: [31, 16, 'Reserved (0)'],
  },
  { complete: true },
);

/** The 16-bit handle as the address splits it (bit 15 apart from bits 14:0). */
const HANDLE = defineLayout(
  'vtd-interrupt-handle',
  32,
  'Intel VT-d 5.1.2.2: Interrupt Handle[15:0] as carried in address bits 2 and 19:5',
  {
    low: [14, 0, 'handle[14:0], address bits 19:5'],
    high: [15, 15, 'handle[15], address bit 2'],
    reserved: [31, 16, 'a handle has 16 bits'],
  },
  { complete: true },
);

/** An APIC ID as the compatibility format and the hypervisor conventions split it. */
export const APIC_ID_SPLIT = defineLayout(
  'apic-id-split',
  32,
  'x2APIC ID split: bits 7:0 in address 19:12, the rest in address 11:5 or the upper address',
  {
    low: [7, 0, 'APIC ID bits 7:0: Destination ID'],
    high: [31, 8, 'APIC ID bits 31:8'],
  },
  { complete: true },
);

/** Upper address dword as QEMU and KVM use it internally for x2APIC destinations (QEMU
 *  `x86_iommu_irq_to_msi_message`, KVM_X2APIC_API_USE_32BIT_IDS; Linux uses it only for the
 *  remapping unit's own event interrupts). Never valid on a PCI write: see `decodeMsiMessage`. */
export const MSI_ADDRESS_HIGH_X2APIC = defineLayout(
  'msi-address-high-x2apic',
  32,
  'QEMU/KVM internal MSI: destination ID bits 31:8 in upper address bits 31:8',
  {
    reserved: [7, 0, 'zero'],
    destinationIdHigh: [31, 8, 'APIC ID bits 31:8'],
  },
  { complete: true },
);

export const DELIVERY_MODE_NAMES: readonly string[] = [
  'fixed',
  'lowest-priority',
  'smi',
  'reserved-3',
  'nmi',
  'init',
  'reserved-6',
  'extint',
];

export interface MsiMessage {
  readonly addrLo: number;
  readonly addrHi: number;
  readonly data: number;
}

export interface CompatMsiFields {
  readonly destinationId: number;
  readonly extendedDestinationId: number;
  readonly destinationMode: number;
  readonly redirectionHint: number;
  readonly dontCare: number;
  readonly vector: number;
  readonly deliveryMode: number;
  readonly level: number;
  readonly triggerMode: number;
}

export interface RemappableMsiFields {
  readonly handle: number;
  readonly shv: number;
  readonly subhandle: number;
  readonly dontCare: number;
}

export type DecodedMsi =
  | ({ readonly format: 'compatibility'; readonly reservedBitsSet: string[] } & CompatMsiFields)
  | ({
      readonly format: 'remappable';
      /** The IRTE this message selects: `interruptIndex(handle, shv, subhandle)`. */
      readonly interruptIndex: number;
      readonly reservedBitsSet: string[];
    } & RemappableMsiFields)
  | { readonly format: 'not-interrupt'; readonly reason: string };

/** VT-d 5.1.2.2: "if SHV = 0, interrupt_index = handle; if SHV = 1, interrupt_index = handle +
 *  subhandle". No wrap: a sum above the table size is the remapping unit's fault 21h to report
 *  (QEMU computes it in 16 bits and wraps; no real table can be indexed past 65535 anyway). */
export function interruptIndex(handle: number, shv: number, subhandle: number): number {
  return shv ? handle + subhandle : handle;
}

const REMAP_F = {
  handleLow: fieldPos(MSI_ADDRESS_REMAPPABLE, 'handleLow'),
  handleHigh: fieldPos(MSI_ADDRESS_REMAPPABLE, 'handleHigh'),
  shv: fieldPos(MSI_ADDRESS_REMAPPABLE, 'shv'),
  subhandle: fieldPos(MSI_DATA_REMAPPABLE, 'subhandle'),
  reserved: fieldPos(MSI_DATA_REMAPPABLE, 'reserved'),
};
/** handle[15] sits above handle[14:0]: its weight in the handle. */
const HANDLE_HIGH_WEIGHT = 2 ** MSI_ADDRESS_REMAPPABLE.accessors.handleLow.bitWidth;

/** VT-d 5.1.2.2 on the raw dwords of a remappable-format request: the interrupt index it names
 *  (handle, plus the subhandle when SHV is set), or -1 when its data has reserved bits set (the
 *  unit's fault 20h). Allocation-free: the remapping unit (`vtd/interrupt-remapping.ts`) and the
 *  whole-system model's delivery path both read the index this way. */
export function remappableRequestIndex(addrLo: number, data: number): number {
  if (fieldValue(data, REMAP_F.reserved) !== 0) return -1;
  const handle =
    fieldValue(addrLo, REMAP_F.handleLow) +
    fieldValue(addrLo, REMAP_F.handleHigh) * HANDLE_HIGH_WEIGHT;
  return interruptIndex(
    handle,
    fieldValue(addrLo, REMAP_F.shv),
    fieldValue(data, REMAP_F.subhandle),
  );
}

/** Why `addrLo`/`addrHi` is not an interrupt message, or null if it is one. */
export function notInterruptReason(addrLo: number, addrHi: number): string | null {
  if (addrHi !== 0) {
    return `upper address 0x${hex(addrHi)} is not 0: interrupt messages are writes to 0xFEExxxxx`;
  }
  const base = MSI_ADDRESS_COMPAT.accessors.baseAddress.get([addrLo]);
  if (base !== MSI_ADDRESS_BASE) {
    return `address 0x${hex(addrLo)} is outside 0xFEE00000-0xFEEFFFFF: a memory write, not an interrupt`;
  }
  return null;
}

export function isRemappableFormat(addrLo: number): boolean {
  return (
    MSI_ADDRESS_REMAPPABLE.accessors.interruptFormat.get([addrLo]) === INTERRUPT_FORMAT.remappable
  );
}

/** Tells the format of the message and returns its fields (SDM 11.11 / VT-d 5.1.2). */
export function decodeMsiMessage(addrLo: number, addrHi: number, data: number): DecodedMsi {
  checkDword('address', addrLo);
  checkDword('upper address', addrHi);
  checkDword('data', data);
  const reason = notInterruptReason(addrLo, addrHi);
  if (reason !== null) return { format: 'not-interrupt', reason };
  return isRemappableFormat(addrLo) ? decodeRemappable(addrLo, data) : decodeCompat(addrLo, data);
}

function decodeCompat(addrLo: number, data: number): DecodedMsi {
  const a = decode(MSI_ADDRESS_COMPAT, [addrLo]);
  const d = decode(MSI_DATA_COMPAT, [data]);
  return {
    format: 'compatibility',
    destinationId: a.destinationId,
    extendedDestinationId: a.extendedDestinationId,
    destinationMode: a.destinationMode,
    redirectionHint: a.redirectionHint,
    dontCare: a.dontCare,
    vector: d.vector,
    deliveryMode: d.deliveryMode,
    level: d.level,
    triggerMode: d.triggerMode,
    reservedBitsSet: reservedBitsSet(MSI_DATA_COMPAT, [data]),
  };
}

function decodeRemappable(addrLo: number, data: number): DecodedMsi {
  const a = decode(MSI_ADDRESS_REMAPPABLE, [addrLo]);
  const d = decode(MSI_DATA_REMAPPABLE, [data]);
  const handle = encode(HANDLE, { low: a.handleLow, high: a.handleHigh })[0];
  return {
    format: 'remappable',
    handle,
    shv: a.shv,
    subhandle: d.subhandle,
    dontCare: a.dontCare,
    interruptIndex: interruptIndex(handle, a.shv, d.subhandle),
    reservedBitsSet: reservedBitsSet(MSI_DATA_REMAPPABLE, [data]),
  };
}

/** The handle a remappable address carries, read as the remapping unit reads it. Also what VT-d
 *  hardware reports as the fault index of a blocked compatibility-format request. */
export function addressHandle(addrLo: number): number {
  const a = MSI_ADDRESS_REMAPPABLE.accessors;
  return encode(HANDLE, { low: a.handleLow.get([addrLo]), high: a.handleHigh.get([addrLo]) })[0];
}

/** A compatibility-format message (what Linux's `__irq_msi_compose_msg` writes without IR).
 *  Rejects a field wider than the SDM allows, naming it. */
export function composeCompatMsi(f: CompatMsiFields): MsiMessage {
  const [addrLo] = encode(MSI_ADDRESS_COMPAT, {
    dontCare: f.dontCare,
    destinationMode: f.destinationMode,
    redirectionHint: f.redirectionHint,
    interruptFormat: INTERRUPT_FORMAT.compatibility,
    extendedDestinationId: f.extendedDestinationId,
    destinationId: f.destinationId,
    baseAddress: MSI_ADDRESS_BASE,
  });
  const [data] = encode(MSI_DATA_COMPAT, {
    vector: f.vector,
    deliveryMode: f.deliveryMode,
    level: f.level,
    triggerMode: f.triggerMode,
  });
  return { addrLo, addrHi: 0, data };
}

/** The common case: fixed delivery, edge, physical destination `apicId` (8-bit xAPIC ID). */
export function composeCompatMsiPhysical(apicId: number, vector: number): MsiMessage {
  return composeCompatMsi({
    destinationId: apicId,
    extendedDestinationId: 0,
    destinationMode: DEST_MODE.physical,
    redirectionHint: 0,
    dontCare: 0,
    vector,
    deliveryMode: DELIVERY_MODE.fixed,
    level: 0,
    triggerMode: 0,
  });
}

/** A remappable-format message (what Linux's intel IR `fill_msi_msg` writes: SHV 1, subhandle 0
 *  for MSI-X; handle = the first IRTE of a multi-MSI block). */
export function composeRemappableMsi(f: RemappableMsiFields): MsiMessage {
  if (!Number.isInteger(f.handle) || f.handle < 0 || f.handle > MSI_HANDLE_MAX) {
    throw new InputError('remappable MSI handle', `${f.handle} is not a 16-bit handle`);
  }
  const handle = decode(HANDLE, [f.handle]);
  const [addrLo] = encode(MSI_ADDRESS_REMAPPABLE, {
    dontCare: f.dontCare,
    handleHigh: handle.high,
    shv: f.shv,
    interruptFormat: INTERRUPT_FORMAT.remappable,
    handleLow: handle.low,
    baseAddress: MSI_ADDRESS_BASE,
  });
  const [data] = encode(MSI_DATA_REMAPPABLE, { subhandle: f.subhandle });
  return { addrLo, addrHi: 0, data };
}

/** The APIC ID a compatibility-format message targets. `virtExtDestId`: the hypervisor offers
 *  the extended destination ID (bits 11:5 are APIC ID bits 14:8); otherwise only bits 19:12
 *  count (bits 11:5 are reserved on bare metal and ignored here). */
export function compatDestinationApicId(
  m: Pick<CompatMsiFields, 'destinationId' | 'extendedDestinationId'>,
  opts: { virtExtDestId: boolean },
): number {
  const high = opts.virtExtDestId ? m.extendedDestinationId : 0;
  return encode(APIC_ID_SPLIT, { low: m.destinationId, high })[0];
}

/** Splits an APIC ID for `composeCompatMsi` with the extended destination ID (Linux's
 *  `virt_ext_dest_id` path). Rejects an ID above 0x7fff, which the format cannot carry. */
export function splitExtDestApicId(apicId: number): {
  destinationId: number;
  extendedDestinationId: number;
} {
  if (!Number.isInteger(apicId) || apicId < 0 || apicId > MSI_EXT_DEST_APIC_ID_MAX) {
    throw new InputError('APIC ID', `${apicId} needs more than the 15 bits of ext dest ID`);
  }
  const split = decode(APIC_ID_SPLIT, [apicId]);
  return { destinationId: split.low, extendedDestinationId: split.high };
}

export const deliveryModeName = (mode: number): string => DELIVERY_MODE_NAMES[mode] ?? 'invalid';

function checkDword(what: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new InputError(`MSI ${what}`, `${value} is not a 32-bit value`);
  }
}

const hex = (v: number) => v.toString(16).padStart(8, '0');
