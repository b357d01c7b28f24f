// The `pv` hypercall ABI, version 1: how a guest obtains a host-valid MSI address/data pair for
// each of its assigned devices' interrupt entries (MSI, MSI-X and IMS alike) instead of having the
// hypervisor trap and translate its writes (DESIGN §1 facts 7-8, §2 `pv` / `pv-batch`; the full
// proposal, with prior art, is docs/pv-abi.md). This file is the wire format only: call numbers,
// status and refusal codes, the CPUID discovery leaf, and every register and batch-page entry as a
// `defineLayout` table with its encode/decode. The hypervisor side (negotiation state, per-VM
// allocations, the callbacks into the host IRTE allocator) is `pv-host.ts`; the guest side
// (negotiation with fallback to `emulate`, call wrappers) is `pv-guest.ts`.
//
// Convention (as KVM's, `Documentation/virt/kvm/x86/hypercalls.rst`): VMCALL/VMMCALL, call number
// in RAX, arguments in RBX, RCX, RDX, RSI; status back in RAX. Unlike KVM (which returns one value,
// -errno, in RAX) outputs also come back in RBX and RCX, as Hyper-V's fast hypercalls and TDX's
// TDG.VP.VMCALL return values in registers: one trip for a 96-bit pair. Status is a positive code
// so a batch entry and RAX carry the same one.
// Invariants: every reserved field of an argument must be zero (else `invalidArgument`, so later
// versions can give those bits a meaning); a status is one of `PV_STATUS`; a batch holds at most
// `PV_BATCH_ENTRIES_MAX` entries (one 4-KiB guest page of 16-byte entries).
// Not modelled: AMD's VMMCALL vs Intel's VMCALL (same ABI), 32-bit guests, hypercall continuations.

import { decode, defineLayout, encode } from '../hw/bits.js';
import { InputError } from '../hw/errors.js';
import type { Bdf } from '../hw/pci/bdf.js';

/** The ABI version this module implements; a host advertises its highest in the CPUID leaf. */
export const PV_MSI_VERSION = 1;
/** The version field is 8 bits wide. */
export const PV_MSI_VERSION_MAX = 0xff;
/** Proposed: the next free bit of KVM_CPUID_FEATURES EAX (bit 17 is MIGRATION_CONTROL). */
export const KVM_FEATURE_PV_MSI_BIT = 18;
/** KVM's feature leaf (KVM_CPUID_FEATURES; 0x40000101 when KVM also exposes Hyper-V leaves). */
export const KVM_CPUID_FEATURES = 0x40000001;
/** Proposed leaf for the pv capability's version and features, inside KVM's range. */
export const KVM_CPUID_PV_MSI = 0x40000020;
export const PAGE_SIZE = 4096;
export const PV_BATCH_ENTRY_BYTES = 16;
/** One guest page of 16-byte entries. */
export const PV_BATCH_ENTRIES_MAX = PAGE_SIZE / PV_BATCH_ENTRY_BYTES;
/** SDM Vol. 3A 6.2: vectors 0-31 are exceptions; a device must not be given one. */
export const PV_VECTOR_MIN = 0x20;
export const PV_VECTOR_MAX = 0xff;

/** Proposed hypercall numbers: upstream KVM_HC_* ends at 12 (KVM_HC_MAP_GPA_RANGE). */
export const PV_CALL = {
  negotiate: 13,
  getMsg: 14,
  getMsgBatch: 15,
  release: 16,
  retarget: 17,
} as const;
export type PvCallName = keyof typeof PV_CALL;

/** RAX on return. 0 is success; the rest name what the guest got wrong or what ran out. */
export const PV_STATUS = {
  success: 0,
  notNegotiated: 1,
  badDevice: 2,
  indexOutOfRange: 3,
  vcpuOutOfRange: 4,
  illegalVector: 5,
  noResources: 6,
  busy: 7,
  notAllocated: 8,
  alreadyAllocated: 9,
  invalidCall: 10,
  invalidArgument: 11,
  refused: 12,
  notSupported: 13,
} as const;
export type PvStatusName = keyof typeof PV_STATUS;
export type PvErrorName = Exclude<PvStatusName, 'success'>;

/** Why NEGOTIATE was refused (RBX.reason when RAX = refused). */
export const PV_REFUSAL = {
  versionUnsupported: 1,
  featureUnsupported: 2,
  policy: 3,
  emulatedVectorsLive: 4,
  allocationsLive: 5,
} as const;
export type PvRefusalName = keyof typeof PV_REFUSAL;

/** Which of a device's interrupt stores an index refers to (IDXD has MSI-X and IMS at once). */
export const PV_IRQ_TYPE = { msi: 0, msix: 1, ims: 2 } as const;
export type PvIrqType = keyof typeof PV_IRQ_TYPE;

export interface PvFeatures {
  /** The guest promises to obtain every pair by GET_MSG: the hypervisor stops emulating
   *  MSI/MSI-X for the VM's assigned functions (MSI == IMS). */
  readonly allByHypercall: boolean;
  /** GET_MSG_BATCH is available. */
  readonly batch: boolean;
}

/** A call's outcome: its outputs, or the status that says why not. */
export type PvResult<T extends object = object> =
  | ({ readonly ok: true } & T)
  | { readonly ok: false; readonly status: PvErrorName };

export interface PvPair {
  readonly addrLo: number;
  readonly addrHi: number;
  readonly data: number;
}

// --- discovery ---------------------------------------------------------------------------------

export const KVM_CPUID_FEATURES_EAX_PV = defineLayout(
  'kvm-cpuid-features-eax (pv bit)',
  32,
  'Linux Documentation/virt/kvm/x86/cpuid.rst, KVM_CPUID_FEATURES EAX; bit 18 proposed here',
  { pvMsi: [KVM_FEATURE_PV_MSI_BIT, KVM_FEATURE_PV_MSI_BIT, 'KVM_FEATURE_PV_MSI'] },
  { complete: false },
);

export const PV_CPUID_EAX = defineLayout(
  'pv-cpuid-eax',
  32,
  'irqlab pv ABI v1 (docs/pv-abi.md, Discovery): leaf KVM_CPUID_PV_MSI, EAX',
  { maxVersion: [7, 0, 'highest ABI version the host speaks'], reserved: [31, 8, 'zero'] },
  { complete: true },
);

const FEATURE_FIELDS = {
  allByHypercall: [0, 0, 'guest obtains every pair by hypercall; MSI/MSI-X emulation off'],
  batch: [1, 1, 'GET_MSG_BATCH'],
} as const;

export const PV_CPUID_EBX = defineLayout(
  'pv-cpuid-ebx',
  32,
  'irqlab pv ABI v1 (docs/pv-abi.md, Discovery): leaf KVM_CPUID_PV_MSI, EBX = features',
  { ...FEATURE_FIELDS, reserved: [31, 2, 'zero'] },
  { complete: true },
);

// --- registers ---------------------------------------------------------------------------------

export const PV_RAX_CALL = defineLayout(
  'pv-rax-call',
  64,
  'irqlab pv ABI v1 (docs/pv-abi.md, Calling convention): RAX on entry',
  { nr: [31, 0, 'hypercall number (PV_CALL)'], reserved: [63, 32, 'zero'] },
  { complete: true },
);

export const PV_RAX_STATUS = defineLayout(
  'pv-rax-status',
  64,
  'irqlab pv ABI v1 (docs/pv-abi.md, Status codes): RAX on return',
  { status: [15, 0, 'PV_STATUS'], reserved: [31, 16, 'zero'], reservedHigh: [63, 32, 'zero'] },
  { complete: true },
);

export const PV_ARG_VERSION = defineLayout(
  'pv-arg-version',
  64,
  'irqlab pv ABI v1 (docs/pv-abi.md, NEGOTIATE): RBX on entry, RCX on return',
  { version: [7, 0, 'ABI version'], reserved: [31, 8, 'zero'], reservedHigh: [63, 32, 'zero'] },
  { complete: true },
);

export const PV_ARG_FEATURES = defineLayout(
  'pv-arg-features',
  64,
  'irqlab pv ABI v1 (docs/pv-abi.md, NEGOTIATE): RCX on entry, RBX on success',
  { ...FEATURE_FIELDS, reserved: [31, 2, 'zero'], reservedHigh: [63, 32, 'zero'] },
  { complete: true },
);

export const PV_OUT_REFUSAL = defineLayout(
  'pv-out-refusal',
  64,
  'irqlab pv ABI v1 (docs/pv-abi.md, NEGOTIATE): RBX on return when RAX = refused',
  {
    reason: [15, 0, 'PV_REFUSAL'],
    maxVersion: [23, 16, 'the highest version the host would accept'],
    reserved: [31, 24, 'zero'],
    reservedHigh: [63, 32, 'zero'],
  },
  { complete: true },
);

/** A device handle is the function's guest segment and Routing ID: unique in the VM, known to the
 *  guest after enumeration with no further discovery (a subdevice has its own guest BDF even where
 *  it shares its parent's host requester ID). */
const DEVICE_FIELDS = {
  function: [2, 0, 'guest Function Number'],
  device: [7, 3, 'guest Device Number'],
  bus: [15, 8, 'guest Bus Number'],
  segment: [31, 16, 'guest PCI segment'],
} as const;

export const PV_ARG_DEVICE = defineLayout(
  'pv-arg-device',
  64,
  'irqlab pv ABI v1 (docs/pv-abi.md, Arguments): RBX, the device handle',
  { ...DEVICE_FIELDS, reserved: [63, 32, 'zero'] },
  { complete: true },
);

export const PV_ARG_ENTRY = defineLayout(
  'pv-arg-entry',
  64,
  'irqlab pv ABI v1 (docs/pv-abi.md, Arguments): RCX, which interrupt entry',
  {
    index: [15, 0, 'entry index in the store'],
    type: [17, 16, 'PV_IRQ_TYPE: 0 MSI, 1 MSI-X, 2 IMS'],
    reserved: [31, 18, 'zero'],
    reservedHigh: [63, 32, 'zero'],
  },
  { complete: true },
);

export const PV_ARG_TARGET = defineLayout(
  'pv-arg-target',
  64,
  'irqlab pv ABI v1 (docs/pv-abi.md, Arguments): RDX, guest vector and destination vCPU',
  {
    vector: [7, 0, 'guest IDT vector, 0x20-0xff'],
    reservedLow: [31, 8, 'zero'],
    destination: [63, 32, 'destination vCPU by its (x2)APIC ID'],
  },
  { complete: true },
);

export const PV_OUT_ADDRESS = defineLayout(
  'pv-out-address',
  64,
  'irqlab pv ABI v1 (docs/pv-abi.md, GET_MSG): RBX on return, the message address',
  { addrLo: [31, 0, 'Message Address'], addrHi: [63, 32, 'Message Upper Address'] },
  { complete: true },
);

export const PV_OUT_DATA = defineLayout(
  'pv-out-data',
  64,
  'irqlab pv ABI v1 (docs/pv-abi.md, GET_MSG): RCX on return, the message data',
  { data: [31, 0, 'Message Data'], reserved: [63, 32, 'zero'] },
  { complete: true },
);

export const PV_ARG_BATCH_PAGE = defineLayout(
  'pv-arg-batch-page',
  64,
  'irqlab pv ABI v1 (docs/pv-abi.md, GET_MSG_BATCH): RBX, guest physical address of the page',
  {
    reservedOffset: [11, 0, 'page aligned: zero'],
    frameLow: [31, 12, 'guest frame number bits 19:0'],
    frameHigh: [51, 32, 'guest frame number bits 39:20 (MAXPHYADDR 52)'],
    reservedHigh: [63, 52, 'zero'],
  },
  { complete: true },
);

export const PV_ARG_BATCH_COUNT = defineLayout(
  'pv-arg-batch-count',
  64,
  'irqlab pv ABI v1 (docs/pv-abi.md, GET_MSG_BATCH): RCX on entry',
  { count: [15, 0, 'entries, 1..256'], reserved: [31, 16, 'zero'], reservedHigh: [63, 32, 'zero'] },
  { complete: true },
);

export const PV_OUT_BATCH_DONE = defineLayout(
  'pv-out-batch-done',
  64,
  'irqlab pv ABI v1 (docs/pv-abi.md, GET_MSG_BATCH): RBX on return',
  {
    completed: [15, 0, 'entries that got a pair, from the first'],
    entryFailed: [16, 16, '1: entry `completed` failed; its status is in the page and RAX'],
    reserved: [31, 17, 'zero'],
    reservedHigh: [63, 32, 'zero'],
  },
  { complete: true },
);

export const PV_BATCH_REQUEST = defineLayout(
  'pv-batch-request',
  128,
  'irqlab pv ABI v1 (docs/pv-abi.md, GET_MSG_BATCH): one page entry as the guest writes it',
  {
    ...DEVICE_FIELDS,
    index: [47, 32, 'entry index'],
    type: [49, 48, 'PV_IRQ_TYPE'],
    reservedType: [55, 50, 'zero'],
    vector: [63, 56, 'guest vector'],
    destination: [95, 64, 'destination (x2)APIC ID'],
    reservedTail: [127, 96, 'zero'],
  },
  { complete: true },
);

export const PV_BATCH_RESPONSE = defineLayout(
  'pv-batch-response',
  128,
  'irqlab pv ABI v1 (docs/pv-abi.md, GET_MSG_BATCH): the same entry as the host leaves it',
  {
    addrLo: [31, 0, 'Message Address'],
    addrHi: [63, 32, 'Message Upper Address'],
    data: [95, 64, 'Message Data'],
    status: [111, 96, 'PV_STATUS of this entry'],
    reserved: [127, 112, 'zero'],
  },
  { complete: true },
);

// --- typed views -------------------------------------------------------------------------------

/** The five argument/result registers, each a 64-bit value as two little-endian dwords. */
export interface PvRegs {
  rax: number[];
  rbx: number[];
  rcx: number[];
  rdx: number[];
  rsi: number[];
}

export const zeroRegs = (): PvRegs => ({
  rax: [0, 0],
  rbx: [0, 0],
  rcx: [0, 0],
  rdx: [0, 0],
  rsi: [0, 0],
});

/** (device, type, index) and the target: the arguments of GET_MSG and RETARGET. */
export interface PvEntryRef {
  readonly device: number;
  readonly type: PvIrqType;
  readonly index: number;
}
export interface PvTarget {
  readonly vcpu: number;
  readonly vector: number;
}
export type PvGetMsgArgs = PvEntryRef & PvTarget;

const TYPE_NAMES = Object.keys(PV_IRQ_TYPE) as PvIrqType[];
const STATUS_NAMES = Object.keys(PV_STATUS) as PvStatusName[];
const REFUSAL_NAMES = Object.keys(PV_REFUSAL) as PvRefusalName[];

export const pvTypeName = (code: number): PvIrqType | undefined => TYPE_NAMES[code];
export const pvRefusalName = (code: number): PvRefusalName | undefined =>
  REFUSAL_NAMES.find((n) => PV_REFUSAL[n] === code);

/** The status name of a code; a code the ABI does not define is an input error. */
export function pvStatusName(code: number): PvStatusName {
  const name = STATUS_NAMES.find((n) => PV_STATUS[n] === code);
  if (name === undefined) throw new InputError('pv status', `unknown status code ${code}`);
  return name;
}

/** The device handle of a guest function: its segment and Routing ID in one dword. */
export function pvDeviceHandle(bdf: Bdf): number {
  return encode(PV_ARG_DEVICE, {
    segment: bdf.segment,
    bus: bdf.bus,
    device: bdf.device,
    function: bdf.function,
  })[0];
}

export function pvBdfOfHandle(handle: number): Bdf {
  const d = decode(PV_ARG_DEVICE, [handle >>> 0, 0]);
  return { segment: d.segment, bus: d.bus, device: d.device, function: d.function };
}

const asFeatures = (d: { allByHypercall: number; batch: number }): PvFeatures => ({
  allByHypercall: d.allByHypercall === 1,
  batch: d.batch === 1,
});
const featureBits = (f: PvFeatures) => ({
  allByHypercall: f.allByHypercall ? 1 : 0,
  batch: f.batch ? 1 : 0,
});

export function encodeFeatures(f: PvFeatures): number[] {
  return encode(PV_ARG_FEATURES, featureBits(f));
}
export function decodeFeatures(words: readonly number[]): PvFeatures {
  return asFeatures(decode(PV_ARG_FEATURES, words));
}

/** What the guest reads from CPUID: the presence bit and the pv leaf. */
export interface PvCpuid {
  /** KVM_CPUID_FEATURES EAX. */
  readonly featuresEax: number;
  /** KVM_CPUID_PV_MSI EAX and EBX (all zero when the capability is absent). */
  readonly leafEax: number;
  readonly leafEbx: number;
}

export interface PvDiscovery {
  readonly present: boolean;
  readonly maxVersion: number;
  readonly features: PvFeatures;
}

export function encodeCpuid(d: PvDiscovery): PvCpuid {
  if (!d.present) return { featuresEax: 0, leafEax: 0, leafEbx: 0 };
  return {
    featuresEax: encode(KVM_CPUID_FEATURES_EAX_PV, { pvMsi: 1 })[0],
    leafEax: encode(PV_CPUID_EAX, { maxVersion: d.maxVersion })[0],
    leafEbx: encode(PV_CPUID_EBX, featureBits(d.features))[0],
  };
}

export function decodeCpuid(c: PvCpuid): PvDiscovery {
  const present = KVM_CPUID_FEATURES_EAX_PV.accessors.pvMsi.get([c.featuresEax]) === 1;
  if (!present)
    return { present, maxVersion: 0, features: { allByHypercall: false, batch: false } };
  return {
    present,
    maxVersion: decode(PV_CPUID_EAX, [c.leafEax]).maxVersion,
    features: asFeatures(decode(PV_CPUID_EBX, [c.leafEbx])),
  };
}

/** RBX/RCX/RDX of GET_MSG (RETARGET takes the same three). */
export function encodeEntryArgs(nr: number, a: PvGetMsgArgs): PvRegs {
  const regs = zeroRegs();
  regs.rax = encode(PV_RAX_CALL, { nr });
  regs.rbx = encodeDevice(a.device);
  regs.rcx = encode(PV_ARG_ENTRY, { index: a.index, type: PV_IRQ_TYPE[a.type] });
  regs.rdx = encode(PV_ARG_TARGET, { vector: a.vector, destination: a.vcpu });
  return regs;
}

const encodeDevice = (handle: number) => [handle >>> 0, 0];

export function encodeBatchRequest(a: PvGetMsgArgs): number[] {
  const bdf = pvBdfOfHandle(a.device);
  return encode(PV_BATCH_REQUEST, {
    segment: bdf.segment,
    bus: bdf.bus,
    device: bdf.device,
    function: bdf.function,
    index: a.index,
    type: PV_IRQ_TYPE[a.type],
    vector: a.vector,
    destination: a.vcpu,
  });
}
