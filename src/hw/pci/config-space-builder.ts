// Builds the config space of a model device (idxd, mlx5 with SR-IOV, a generic endpoint) from a
// short description, laid out the way real devices are: the Type 0 header, the standard
// capabilities packed from 0x40 in the order given (each DWORD aligned, chained by Next Pointer),
// the extended capabilities packed from 0x100 (PCI Express Base Spec 6.0, 7.5.1 and 7.6).
// Every value goes through the layouts of the capability files, so an out-of-range value is an
// InputError naming the field. Invariants: the result walks cleanly with `walkCapabilities`; a
// function with a PCI Express or any extended capability gets 4 KiB of config space.
// Not modelled: Type 1 headers, AER/ATS/PRI capabilities, BAR sizes (addresses only).

import { encode } from '../bits.js';
import { InputError } from '../errors.js';
import {
  CAP_ID,
  CAPABILITY_HEADER,
  EXT_CAP_ID,
  EXTENDED_CAPABILITY_HEADER,
} from './capability-ids.js';
import {
  BAR_LAYOUT,
  BAR_OFFSET,
  BARS,
  CAPABILITIES_POINTER,
  COMMAND,
  CONFIG_HEADER_SIZE,
  CONFIG_SPACE_SIZE,
  type ConfigSpace,
  DEVICE_ID,
  emptyConfigSpace,
  HEADER_TYPE,
  INTERRUPT_PIN,
  IO_BAR_LAYOUT,
  REVISION_CLASS,
  STATUS,
  SUBSYSTEM,
  setConfig,
  setRegisterFields,
  VENDOR_ID,
} from './config-space.js';
import {
  MSI_MESSAGE_CONTROL,
  MSI_MULTIPLE_MESSAGE_LOG2_MAX,
  msiRegisterOffsets,
} from './msi-capability.js';
import {
  MSIX_BIR_MAX,
  MSIX_CAPABILITY_SIZE,
  MSIX_ENTRIES_MAX,
  MSIX_MESSAGE_CONTROL,
  MSIX_PBA_OFFSET_BIR,
  MSIX_TABLE_OFFSET_BIR,
} from './msix-capability.js';
import { PASID_CAPABILITY, PASID_CAPABILITY_SIZE, PASID_WIDTH_MAX } from './pasid-capability.js';
import {
  DEVICE_CAPABILITIES,
  LINK_CAPABILITIES,
  LINK_CAPABILITIES_2,
  LINK_STATUS,
  PCIE_CAPABILITIES,
  PCIE_DEVICE_PORT_TYPE,
  pcieHasLink,
} from './pcie-capability.js';
import { PM_CAPABILITIES, PM_CAPABILITY_SIZE, PM_CONTROL_STATUS } from './pm-capability.js';
import {
  FIRST_VF_OFFSET,
  INITIAL_VFS,
  SRIOV_CAPABILITY_SIZE,
  SRIOV_VF_BAR_COUNT,
  SUPPORTED_PAGE_SIZES,
  SYSTEM_PAGE_SIZE,
  TOTAL_VFS,
  VF_BARS,
  VF_DEVICE_ID,
  VF_STRIDE,
} from './sriov-capability.js';
import {
  VIRTIO_PCI_CAP_MIN_LENGTH,
  VIRTIO_PCI_CAP_TYPE,
  VIRTIO_PCI_NOTIFY_CAP_MIN_LENGTH,
} from './vendor-capability.js';

/** Bytes of a full version-2 PCI Express capability (through Slot Status 2). */
const PCIE_STRUCTURE_SIZE = 0x3c;
/** A version-1 structure ends after Root Status. */
const PCIE_V1_STRUCTURE_SIZE = 0x24;
/** Max_Payload_Size encodings: 128 << n bytes, n = 0..5. */
const PAYLOAD_UNIT = 128;
const PAYLOAD_LOG2_MAX = 5;

export interface BarSpec {
  /** BAR 0-5; a 64-bit memory BAR also uses the next one. */
  index: number;
  type: 'memory32' | 'memory64' | 'io';
  prefetchable?: boolean;
  /** Base address (memory: 16-byte aligned; I/O: 4-byte aligned). */
  address: number;
}

export type CapabilitySpec =
  | {
      kind: 'msi';
      /** Vectors requested (Multiple Message Capable): 1, 2, 4, 8, 16 or 32. */
      count: number;
      is64: boolean;
      perVectorMasking: boolean;
      extendedMessageData?: boolean;
    }
  | {
      kind: 'msix';
      /** Entries in the table (1..2048); stored as N-1. */
      tableSize: number;
      tableBir: number;
      tableOffset: number;
      pbaBir: number;
      pbaOffset: number;
    }
  | {
      kind: 'pcie';
      devicePortType: keyof typeof PCIE_DEVICE_PORT_TYPE;
      /** Capability Version; 2 unless given. */
      version?: 1 | 2;
      /** Bytes: 128..4096; 128 unless given. */
      maxPayloadSizeSupported?: number;
      functionLevelReset?: boolean;
      extendedTagField?: boolean;
      interruptMessageNumber?: number;
      /** Link speed as the Supported Link Speeds index (1 = 2.5 GT/s); 1 unless given. */
      linkSpeed?: number;
      linkWidth?: number;
    }
  | { kind: 'pm'; version?: number; noSoftReset?: boolean }
  | {
      /** A virtio_pci_cap (VIRTIO 1.2, 4.1.4); 20 bytes for Notify (cfg_type 2), else 16. */
      kind: 'virtio';
      cfgType: number;
      bar: number;
      /** Where the structure is in the BAR, and its length in bytes. */
      offset: number;
      length: number;
      notifyOffMultiplier?: number;
    }
  | {
      kind: 'pasid';
      maxPasidWidth: number;
      executePermission?: boolean;
      privilegedMode?: boolean;
    }
  | {
      kind: 'sriov';
      totalVfs: number;
      initialVfs?: number;
      firstVfOffset: number;
      vfStride: number;
      vfDeviceId: number;
      /** Bit n set = page size 2^(n+12) supported; 4 KiB (0x1) unless given. */
      supportedPageSizes?: number;
      vfBars?: readonly BarSpec[];
    };

export interface ConfigSpaceSpec {
  vendorId: number;
  deviceId: number;
  /** 24 bits: base class, sub-class, prog-if (e.g. 0x020000 Ethernet). */
  classCode: number;
  revisionId?: number;
  subsystemVendorId?: number;
  subsystemId?: number;
  multiFunction?: boolean;
  /** INTx pin: 0 none, 1-4 INTA-INTD. */
  interruptPin?: number;
  bars?: readonly BarSpec[];
  capabilities: readonly CapabilitySpec[];
}

const EXTENDED_KINDS: ReadonlySet<CapabilitySpec['kind']> = new Set(['pasid', 'sriov']);
const isExtended = (cap: CapabilitySpec) => EXTENDED_KINDS.has(cap.kind);

/** The config space of a model device: header, standard list from 0x40, extended from 0x100. */
export function buildConfigSpace(spec: ConfigSpaceSpec): ConfigSpace {
  const needsExtended = spec.capabilities.some((c) => isExtended(c) || c.kind === 'pcie');
  const space = emptyConfigSpace(
    needsExtended ? CONFIG_SPACE_SIZE.extended : CONFIG_SPACE_SIZE.conventional,
  );
  writeHeader(space, spec);
  const standard = spec.capabilities.filter((c) => !isExtended(c));
  const extended = spec.capabilities.filter(isExtended);
  layOutStandard(space, standard);
  layOutExtended(space, extended);
  return space;
}

function writeHeader(space: ConfigSpace, spec: ConfigSpaceSpec): void {
  setRegisterFields(space, 0, VENDOR_ID, { vendorId: spec.vendorId });
  setRegisterFields(space, 0, DEVICE_ID, { deviceId: spec.deviceId });
  setRegisterFields(space, 0, COMMAND, {});
  setRegisterFields(space, 0, REVISION_CLASS, {
    revisionId: spec.revisionId ?? 0,
    classCode: spec.classCode,
  });
  setRegisterFields(space, 0, HEADER_TYPE, {
    headerLayout: 0,
    multiFunctionDevice: spec.multiFunction ? 1 : 0,
  });
  setRegisterFields(space, 0, SUBSYSTEM, {
    subsystemVendorId: spec.subsystemVendorId ?? 0,
    subsystemId: spec.subsystemId ?? 0,
  });
  setRegisterFields(space, 0, INTERRUPT_PIN, { interruptPin: spec.interruptPin ?? 0 });
  writeBars(space, BAR_OFFSET, spec.bars ?? [], BARS.length, 'BAR');
}

/** Writes BAR registers at `bar0 + 4 * index` (the header's BARs or SR-IOV's VF BARs). */
function writeBars(
  space: ConfigSpace,
  bar0: number,
  bars: readonly BarSpec[],
  count: number,
  what: string,
): void {
  const used = new Set<number>();
  for (const bar of bars) {
    const slots = bar.type === 'memory64' ? [bar.index, bar.index + 1] : [bar.index];
    for (const slot of slots) {
      if (!Number.isInteger(slot) || slot < 0 || slot >= count) {
        throw new InputError(`${what}${bar.index}`, `BAR ${slot} does not exist (0-${count - 1})`);
      }
      if (used.has(slot)) throw new InputError(`${what}${bar.index}`, `BAR ${slot} used twice`);
      used.add(slot);
    }
    writeBar(space, bar0 + 4 * bar.index, bar, what);
  }
}

function writeBar(space: ConfigSpace, at: number, bar: BarSpec, what: string): void {
  const align = bar.type === 'io' ? 4 : 16;
  const limit = bar.type === 'memory64' ? 2 ** 53 : 2 ** 32;
  if (!Number.isInteger(bar.address) || bar.address < 0 || bar.address >= limit) {
    throw new InputError(`${what}${bar.index}`, `address ${bar.address} out of range`);
  }
  if (bar.address % align !== 0) {
    throw new InputError(`${what}${bar.index}`, `address is not ${align}-byte aligned`);
  }
  const low = bar.address % 2 ** 32;
  // Base Address holds address bits 31:4 (memory) or 31:2 (I/O): the address over 16 or 4.
  const [value] =
    bar.type === 'io'
      ? encode(IO_BAR_LAYOUT, { ioSpaceIndicator: 1, baseAddress: low / 4 })
      : encode(BAR_LAYOUT, {
          memoryType: bar.type === 'memory64' ? 2 : 0,
          prefetchable: bar.prefetchable ? 1 : 0,
          baseAddress: low / 16,
        });
  setConfig(space, at, 4, value);
  if (bar.type === 'memory64') setConfig(space, at + 4, 4, Math.floor(bar.address / 2 ** 32));
}

function standardSize(cap: CapabilitySpec): number {
  switch (cap.kind) {
    case 'msi':
      return msiRegisterOffsets(cap.is64, cap.perVectorMasking).size;
    case 'msix':
      return MSIX_CAPABILITY_SIZE;
    case 'pcie':
      return (cap.version ?? 2) === 1 ? PCIE_V1_STRUCTURE_SIZE : PCIE_STRUCTURE_SIZE;
    case 'pm':
      return PM_CAPABILITY_SIZE;
    case 'virtio':
      return virtioCapLength(cap);
    case 'pasid':
      return PASID_CAPABILITY_SIZE;
    case 'sriov':
      return SRIOV_CAPABILITY_SIZE;
  }
}

const alignUp = (n: number) => Math.ceil(n / 4) * 4;

function layOutStandard(space: ConfigSpace, caps: readonly CapabilitySpec[]): void {
  let offset = CONFIG_HEADER_SIZE;
  const offsets: number[] = [];
  for (const cap of caps) {
    const size = standardSize(cap);
    if (offset + size > CONFIG_SPACE_SIZE.conventional) {
      throw new InputError(
        `${cap.kind} capability`,
        `does not fit below 0x100 (needs ${size} bytes at 0x${offset.toString(16)})`,
      );
    }
    offsets.push(offset);
    offset = alignUp(offset + size);
  }
  caps.forEach((cap, n) => {
    const next = n + 1 < offsets.length ? offsets[n + 1] : 0;
    writeStandard(space, offsets[n], cap, next);
  });
  if (offsets.length > 0) {
    setRegisterFields(space, 0, CAPABILITIES_POINTER, { capabilitiesPointer: offsets[0] });
    setRegisterFields(space, 0, STATUS, { capabilitiesList: 1 });
  }
}

function layOutExtended(space: ConfigSpace, caps: readonly CapabilitySpec[]): void {
  let offset: number = CONFIG_SPACE_SIZE.conventional;
  const offsets: number[] = [];
  for (const cap of caps) {
    const size = standardSize(cap);
    if (offset + size > CONFIG_SPACE_SIZE.extended) {
      throw new InputError(`${cap.kind} capability`, 'does not fit in the extended config space');
    }
    offsets.push(offset);
    offset = alignUp(offset + size);
  }
  caps.forEach((cap, n) => {
    const next = n + 1 < offsets.length ? offsets[n + 1] : 0;
    writeExtended(space, offsets[n], cap, next);
  });
}

function writeStandard(space: ConfigSpace, at: number, cap: CapabilitySpec, next: number): void {
  const id = {
    msi: CAP_ID.msi,
    msix: CAP_ID.msix,
    pcie: CAP_ID.pciExpress,
    pm: CAP_ID.powerManagement,
    virtio: CAP_ID.vendorSpecific,
  } as const;
  if (cap.kind === 'pasid' || cap.kind === 'sriov') {
    throw new InputError(`${cap.kind} capability`, 'is an extended capability');
  }
  setRegisterFields(space, at, CAPABILITY_HEADER, {
    capabilityId: id[cap.kind],
    nextCapabilityPointer: next,
  });
  switch (cap.kind) {
    case 'msi':
      writeMsi(space, at, cap);
      return;
    case 'msix':
      writeMsix(space, at, cap);
      return;
    case 'pcie':
      writePcie(space, at, cap);
      return;
    case 'pm':
      writePm(space, at, cap);
      return;
    case 'virtio':
      writeVirtio(space, at, cap);
      return;
  }
}

function writeExtended(space: ConfigSpace, at: number, cap: CapabilitySpec, next: number): void {
  switch (cap.kind) {
    case 'pasid':
      setRegisterFields(space, at, EXTENDED_CAPABILITY_HEADER, {
        capabilityId: EXT_CAP_ID.pasid,
        capabilityVersion: 1,
        nextCapabilityOffset: next,
      });
      writePasid(space, at, cap);
      return;
    case 'sriov':
      setRegisterFields(space, at, EXTENDED_CAPABILITY_HEADER, {
        capabilityId: EXT_CAP_ID.sriov,
        capabilityVersion: 1,
        nextCapabilityOffset: next,
      });
      writeSriov(space, at, cap);
      return;
    default:
      throw new InputError(`${cap.kind} capability`, 'is not an extended capability');
  }
}

function writeMsi(space: ConfigSpace, at: number, cap: CapabilitySpec & { kind: 'msi' }): void {
  const log2 = Math.log2(cap.count);
  if (!Number.isInteger(log2) || log2 < 0 || log2 > MSI_MULTIPLE_MESSAGE_LOG2_MAX) {
    throw new InputError('msi.count', `${cap.count} is not a power of two from 1 to 32`);
  }
  setRegisterFields(space, at, MSI_MESSAGE_CONTROL, {
    multipleMessageCapable: log2,
    address64BitCapable: cap.is64 ? 1 : 0,
    perVectorMaskingCapable: cap.perVectorMasking ? 1 : 0,
    extendedMessageDataCapable: cap.extendedMessageData ? 1 : 0,
  });
}

function checkOffset(field: string, offset: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset % 8 !== 0 || offset >= 2 ** 32) {
    throw new InputError(`msix.${field}`, `${offset} is not a QWORD-aligned 32-bit offset`);
  }
}

function writeMsix(space: ConfigSpace, at: number, cap: CapabilitySpec & { kind: 'msix' }): void {
  if (!Number.isInteger(cap.tableSize) || cap.tableSize < 1 || cap.tableSize > MSIX_ENTRIES_MAX) {
    throw new InputError('msix.tableSize', `${cap.tableSize} is not within 1..${MSIX_ENTRIES_MAX}`);
  }
  for (const [field, bir] of [
    ['tableBir', cap.tableBir],
    ['pbaBir', cap.pbaBir],
  ] as const) {
    if (!Number.isInteger(bir) || bir < 0 || bir > MSIX_BIR_MAX) {
      throw new InputError(`msix.${field}`, `BIR ${bir} is not a BAR (0-${MSIX_BIR_MAX})`);
    }
  }
  checkOffset('tableOffset', cap.tableOffset);
  checkOffset('pbaOffset', cap.pbaOffset);
  setRegisterFields(space, at, MSIX_MESSAGE_CONTROL, { tableSize: cap.tableSize - 1 });
  setRegisterFields(space, at, MSIX_TABLE_OFFSET_BIR, {
    bir: cap.tableBir,
    offset: cap.tableOffset / 8,
  });
  setRegisterFields(space, at, MSIX_PBA_OFFSET_BIR, { bir: cap.pbaBir, offset: cap.pbaOffset / 8 });
}

function writePcie(space: ConfigSpace, at: number, cap: CapabilitySpec & { kind: 'pcie' }): void {
  const type = PCIE_DEVICE_PORT_TYPE[cap.devicePortType];
  if (type === undefined) {
    throw new InputError('pcie.devicePortType', `unknown type "${cap.devicePortType}"`);
  }
  const payload = Math.log2((cap.maxPayloadSizeSupported ?? PAYLOAD_UNIT) / PAYLOAD_UNIT);
  if (!Number.isInteger(payload) || payload < 0 || payload > PAYLOAD_LOG2_MAX) {
    throw new InputError(
      'pcie.maxPayloadSizeSupported',
      `${cap.maxPayloadSizeSupported} is not 128, 256, ... 4096 bytes`,
    );
  }
  const version = cap.version ?? 2;
  setRegisterFields(space, at, PCIE_CAPABILITIES, {
    capabilityVersion: version,
    devicePortType: type,
    interruptMessageNumber: cap.interruptMessageNumber ?? 0,
  });
  setRegisterFields(space, at, DEVICE_CAPABILITIES, {
    maxPayloadSizeSupported: payload,
    extendedTagFieldSupported: cap.extendedTagField ? 1 : 0,
    functionLevelResetCapability: (cap.functionLevelReset ?? true) ? 1 : 0,
  });
  if (!pcieHasLink(type)) return;
  const speed = cap.linkSpeed ?? 1;
  const width = cap.linkWidth ?? 1;
  setRegisterFields(space, at, LINK_CAPABILITIES, { maxLinkSpeed: speed, maximumLinkWidth: width });
  setRegisterFields(space, at, LINK_STATUS, {
    currentLinkSpeed: speed,
    negotiatedLinkWidth: width,
  });
  if (version >= 2) {
    // Supported Link Speeds Vector: every speed up to the maximum (PCIe 6.0, 8.2.1: no gaps).
    setRegisterFields(space, at, LINK_CAPABILITIES_2, {
      supportedLinkSpeedsVector: 2 ** speed - 1,
    });
  }
}

function writePm(space: ConfigSpace, at: number, cap: CapabilitySpec & { kind: 'pm' }): void {
  setRegisterFields(space, at, PM_CAPABILITIES, { version: cap.version ?? 3 });
  setRegisterFields(space, at, PM_CONTROL_STATUS, {
    noSoftReset: (cap.noSoftReset ?? true) ? 1 : 0,
  });
}

const virtioCapLength = (cap: CapabilitySpec & { kind: 'virtio' }) =>
  cap.cfgType === VIRTIO_PCI_CAP_TYPE.notifyCfg
    ? VIRTIO_PCI_NOTIFY_CAP_MIN_LENGTH
    : VIRTIO_PCI_CAP_MIN_LENGTH;

function writeVirtio(
  space: ConfigSpace,
  at: number,
  cap: CapabilitySpec & { kind: 'virtio' },
): void {
  const length = virtioCapLength(cap);
  setConfig(space, at + 2, 1, length);
  setConfig(space, at + 3, 1, cap.cfgType);
  setConfig(space, at + 4, 1, cap.bar);
  setConfig(space, at + 8, 4, cap.offset);
  setConfig(space, at + 12, 4, cap.length);
  if (length === VIRTIO_PCI_NOTIFY_CAP_MIN_LENGTH) {
    setConfig(space, at + 16, 4, cap.notifyOffMultiplier ?? 0);
  }
}

function writePasid(space: ConfigSpace, at: number, cap: CapabilitySpec & { kind: 'pasid' }): void {
  if (
    !Number.isInteger(cap.maxPasidWidth) ||
    cap.maxPasidWidth < 1 ||
    cap.maxPasidWidth > PASID_WIDTH_MAX
  ) {
    throw new InputError(
      'pasid.maxPasidWidth',
      `${cap.maxPasidWidth} is not within 1..${PASID_WIDTH_MAX}`,
    );
  }
  setRegisterFields(space, at, PASID_CAPABILITY, {
    maxPasidWidth: cap.maxPasidWidth,
    executePermissionSupported: cap.executePermission ? 1 : 0,
    privilegedModeSupported: cap.privilegedMode ? 1 : 0,
  });
}

function writeSriov(space: ConfigSpace, at: number, cap: CapabilitySpec & { kind: 'sriov' }): void {
  if (cap.totalVfs > 0 && cap.firstVfOffset === 0) {
    throw new InputError('sriov.firstVfOffset', "is 0: VF 1 would have the PF's Routing ID");
  }
  setRegisterFields(space, at, INITIAL_VFS, { initialVfs: cap.initialVfs ?? cap.totalVfs });
  setRegisterFields(space, at, TOTAL_VFS, { totalVfs: cap.totalVfs });
  setRegisterFields(space, at, FIRST_VF_OFFSET, { firstVfOffset: cap.firstVfOffset });
  setRegisterFields(space, at, VF_STRIDE, { vfStride: cap.vfStride });
  setRegisterFields(space, at, VF_DEVICE_ID, { vfDeviceId: cap.vfDeviceId });
  setRegisterFields(space, at, SUPPORTED_PAGE_SIZES, {
    supportedPageSizes: cap.supportedPageSizes ?? 1,
  });
  // System Page Size resets to 1 (4 KiB), spec 9.3.3.13.
  setRegisterFields(space, at, SYSTEM_PAGE_SIZE, { systemPageSize: 1 });
  writeBars(space, at + VF_BARS[0].offset, cap.vfBars ?? [], SRIOV_VF_BAR_COUNT, 'VF BAR');
}
