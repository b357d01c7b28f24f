// A PCI function's configuration space and its Type 0 (endpoint) header (PCI Express Base Spec
// 6.0, section 7.5.1.1 "Type 0/1 Common Configuration Space" and 7.5.1.2 "Type 0 Configuration
// Space Header"; PCI Local Bus Spec 3.0, 6.1).
//
// State is the raw bytes, exactly as `/sys/bus/pci/devices/BDF/config` or `lspci -xxxx` shows
// them: 256 bytes (conventional PCI) or 4096 bytes (PCI Express extended configuration space).
// Multi-byte registers are little-endian. Everything else (capabilities, decoders, the write
// semantics) is functions over these bytes, so a dump and a model device are the same data.
// Invariants: `bytes.length` is 256 or 4096; every access is inside it.
// The three header layouts differ in how many BARs they have and where the Capabilities Pointer,
// Subsystem IDs and Expansion ROM sit (HEADER_LAYOUTS); a header type with no layout (3-127) has
// no capability list, as Linux's __pci_bus_find_cap_start and lspci treat it.
// The Type 1 header's own registers are in type1-header.ts.
// Not modelled: the CardBus header beyond those; BAR sizing (a BAR's address bits are plain RW
// here, with no size-aligned read-only low bits); BIST.

import { type Decoded, decode, defineLayout, encode, type FieldTable } from '../bits.js';
import { InputError } from '../errors.js';
import { type ConfigRegister, defineRegister } from './config-register.js';

export const CONFIG_SPACE_SIZE = { conventional: 256, extended: 4096 } as const;
/** The Type 0 header occupies 0x00-0x3f; capabilities start at or above this. */
export const CONFIG_HEADER_SIZE = 0x40;

export interface ConfigSpace {
  /** 256 or 4096 bytes, little-endian registers. */
  bytes: Uint8Array;
}

export function emptyConfigSpace(size: 256 | 4096): ConfigSpace {
  return { bytes: new Uint8Array(size) };
}

/** Wraps a dump; `where` names it in errors (a file, a BDF). */
export function configSpaceFromBytes(bytes: Uint8Array, where: string): ConfigSpace {
  if (
    bytes.length !== CONFIG_SPACE_SIZE.conventional &&
    bytes.length !== CONFIG_SPACE_SIZE.extended
  ) {
    throw new InputError(
      where,
      `config space is ${bytes.length} bytes; expected ${CONFIG_SPACE_SIZE.conventional} or ${CONFIG_SPACE_SIZE.extended}`,
    );
  }
  return { bytes: Uint8Array.from(bytes) };
}

export const isExtendedConfigSpace = (space: ConfigSpace): boolean =>
  space.bytes.length === CONFIG_SPACE_SIZE.extended;

const hex = (n: number) => `0x${n.toString(16)}`;

function checkAccess(space: ConfigSpace, offset: number, size: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + size > space.bytes.length) {
    throw new InputError(
      `config offset ${hex(offset)}`,
      `${size}-byte access is outside the ${space.bytes.length}-byte config space`,
    );
  }
}

export function readConfigByte(space: ConfigSpace, offset: number): number {
  checkAccess(space, offset, 1);
  return space.bytes[offset];
}

export function readConfigWord(space: ConfigSpace, offset: number): number {
  checkAccess(space, offset, 2);
  return space.bytes[offset] | (space.bytes[offset + 1] << 8);
}

export function readConfigDword(space: ConfigSpace, offset: number): number {
  checkAccess(space, offset, 4);
  const b = space.bytes;
  return (b[offset] | (b[offset + 1] << 8) | (b[offset + 2] << 16) | (b[offset + 3] << 24)) >>> 0;
}

export function readConfig(space: ConfigSpace, offset: number, size: 1 | 2 | 4): number {
  checkAccess(space, offset, size);
  let value = 0;
  for (let i = size - 1; i >= 0; i--) value = value * 256 + space.bytes[offset + i];
  return value;
}

/**
 * Stores `value` as it is, ignoring register attributes: what the device itself (or a builder, or
 * a test) does to its own registers, like QEMU's `pci_set_word`. Software writes go through
 * `configWrite`.
 */
export function setConfig(
  space: ConfigSpace,
  offset: number,
  size: 1 | 2 | 4,
  value: number,
): void {
  checkAccess(space, offset, size);
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** (8 * size)) {
    throw new InputError(
      `config offset ${hex(offset)}`,
      `${hex(value)} does not fit ${size} bytes`,
    );
  }
  let rest = value;
  for (let i = 0; i < size; i++) {
    space.bytes[offset + i] = rest % 256;
    rest = Math.floor(rest / 256);
  }
}

/** The raw value of one register of a structure that starts at `base`. */
export function readRegister(space: ConfigSpace, base: number, register: ConfigRegister): number {
  return readConfig(space, base + register.offset, register.size);
}

/** One register of a structure at `base`, decoded into its fields. */
export const readRegisterFields = <F extends FieldTable>(
  space: ConfigSpace,
  base: number,
  register: ConfigRegister<F>,
): Decoded<F> => decode(register.layout, [readRegister(space, base, register)]);

/** Rejects a structure of `size` bytes at `offset` that runs past the end of the space. */
export function checkStructureFits(space: ConfigSpace, offset: number, size: number, what: string) {
  if (offset + size > space.bytes.length) {
    throw new InputError(
      `${what} at 0x${offset.toString(16)}`,
      `its ${size} bytes run past the end of the ${space.bytes.length}-byte config space`,
    );
  }
}

/** Stores the given fields of one register (others 0), ignoring attributes, like `setConfig`. */
export function setRegisterFields<F extends FieldTable>(
  space: ConfigSpace,
  base: number,
  register: ConfigRegister<F>,
  values: Partial<Decoded<F>>,
): void {
  setConfig(space, base + register.offset, register.size, encode(register.layout, values)[0]);
}

// ---- Type 0 header registers (PCIe Base Spec 6.0, 7.5.1.1 and 7.5.1.2) ----

export const VENDOR_ID = defineRegister(
  'Vendor ID',
  0x00,
  2,
  defineLayout(
    'vendor-id',
    32,
    'PCIe Base Spec 6.0, 7.5.1.1.1 Vendor ID Register',
    { vendorId: [15, 0, 'Vendor ID'] },
    { complete: false },
  ),
  { vendorId: 'HwInit' },
);

export const DEVICE_ID = defineRegister(
  'Device ID',
  0x02,
  2,
  defineLayout(
    'device-id',
    32,
    'PCIe Base Spec 6.0, 7.5.1.1.2 Device ID Register',
    { deviceId: [15, 0, 'Device ID'] },
    { complete: false },
  ),
  { deviceId: 'HwInit' },
);

export const COMMAND = defineRegister(
  'Command',
  0x04,
  2,
  defineLayout(
    'command',
    32,
    'PCIe Base Spec 6.0, 7.5.1.1.3 Command Register (lspci "Control:")',
    {
      ioSpaceEnable: [0, 0, 'I/O Space Enable'],
      memorySpaceEnable: [1, 1, 'Memory Space Enable'],
      busMasterEnable: [2, 2, 'Bus Master Enable'],
      specialCycleEnable: [3, 3, 'Special Cycle Enable (PCIe: hardwired 0)'],
      memoryWriteAndInvalidate: [4, 4, 'Memory Write and Invalidate (PCIe: hardwired 0)'],
      vgaPaletteSnoop: [5, 5, 'VGA Palette Snoop (PCIe: hardwired 0)'],
      parityErrorResponse: [6, 6, 'Parity Error Response'],
      idselStepping: [7, 7, 'IDSEL Stepping/Wait Cycle Control (hardwired 0)'],
      serrEnable: [8, 8, 'SERR# Enable'],
      fastBackToBackEnable: [9, 9, 'Fast Back-to-Back Transactions Enable (PCIe: hardwired 0)'],
      interruptDisable: [10, 10, 'Interrupt Disable (INTx)'],
      reserved: [15, 11, 'Reserved'],
    },
    { complete: false },
  ),
  {
    ioSpaceEnable: 'RW',
    memorySpaceEnable: 'RW',
    busMasterEnable: 'RW',
    // PCI 3.0 lets a conventional device implement these; a dump keeps whatever it has.
    specialCycleEnable: 'RO',
    memoryWriteAndInvalidate: 'RO',
    vgaPaletteSnoop: 'RO',
    parityErrorResponse: 'RW',
    idselStepping: 'RO',
    serrEnable: 'RW',
    fastBackToBackEnable: 'RO',
    interruptDisable: 'RW',
    reserved: 'RsvdP',
  },
);

export const STATUS = defineRegister(
  'Status',
  0x06,
  2,
  defineLayout(
    'status',
    32,
    'PCIe Base Spec 6.0, 7.5.1.1.4 Status Register',
    {
      immediateReadiness: [0, 0, 'Immediate Readiness'],
      reserved: [2, 1, 'Reserved'],
      interruptStatus: [3, 3, 'Interrupt Status (INTx pending)'],
      capabilitiesList: [4, 4, 'Capabilities List (hardwired 1 on PCIe)'],
      capable66Mhz: [5, 5, '66 MHz Capable (PCIe: 0)'],
      userDefinableFeatures: [6, 6, 'UDF (PCI 2.1; reserved since)'],
      fastBackToBackCapable: [7, 7, 'Fast Back-to-Back Transactions Capable (PCIe: 0)'],
      masterDataParityError: [8, 8, 'Master Data Parity Error'],
      devselTiming: [10, 9, 'DEVSEL Timing (PCIe: 0 = fast)'],
      signaledTargetAbort: [11, 11, 'Signaled Target Abort'],
      receivedTargetAbort: [12, 12, 'Received Target Abort'],
      receivedMasterAbort: [13, 13, 'Received Master Abort'],
      signaledSystemError: [14, 14, 'Signaled System Error'],
      detectedParityError: [15, 15, 'Detected Parity Error'],
    },
    { complete: false },
  ),
  {
    immediateReadiness: 'RO',
    reserved: 'RsvdZ',
    interruptStatus: 'RO',
    capabilitiesList: 'RO',
    capable66Mhz: 'RO',
    userDefinableFeatures: 'RO',
    fastBackToBackCapable: 'RO',
    masterDataParityError: 'RW1C',
    devselTiming: 'RO',
    signaledTargetAbort: 'RW1C',
    receivedTargetAbort: 'RW1C',
    receivedMasterAbort: 'RW1C',
    signaledSystemError: 'RW1C',
    detectedParityError: 'RW1C',
  },
);

export const REVISION_CLASS = defineRegister(
  'Revision ID / Class Code',
  0x08,
  4,
  defineLayout(
    'revision-class',
    32,
    'PCIe Base Spec 6.0, 7.5.1.1.5 Revision ID and 7.5.1.1.6 Class Code Registers',
    {
      revisionId: [7, 0, 'Revision ID'],
      classCode: [31, 8, 'Class Code (24 bits, split by CLASS_CODE)'],
    },
    { complete: true },
  ),
  { revisionId: 'HwInit', classCode: 'HwInit' },
);

/** The 24-bit Class Code as lspci prints it (`[0200]` is base and sub-class, then prog-if). */
export const CLASS_CODE = defineLayout(
  'class-code',
  32,
  'PCIe Base Spec 6.0, 7.5.1.1.6 Class Code Register, bits 23:0 of the value',
  {
    programmingInterface: [7, 0, 'Programming Interface (prog-if)'],
    subClass: [15, 8, 'Sub-Class Code'],
    baseClass: [23, 16, 'Base Class Code'],
    reserved: [31, 24, 'not part of the 24-bit code'],
  },
  { complete: true },
);

export const CACHE_LINE_SIZE = defineRegister(
  'Cache Line Size',
  0x0c,
  1,
  defineLayout(
    'cache-line-size',
    32,
    'PCIe Base Spec 6.0, 7.5.1.1.7 Cache Line Size Register (no effect on PCIe)',
    { cacheLineSize: [7, 0, 'Cache Line Size'] },
    { complete: false },
  ),
  { cacheLineSize: 'RW' },
);

export const LATENCY_TIMER = defineRegister(
  'Latency Timer',
  0x0d,
  1,
  defineLayout(
    'latency-timer',
    32,
    'PCIe Base Spec 6.0, 7.5.1.1.8 Latency Timer Register (PCIe: hardwired 0)',
    { latencyTimer: [7, 0, 'Latency Timer'] },
    { complete: false },
  ),
  { latencyTimer: 'RO' },
);

export const HEADER_TYPE = defineRegister(
  'Header Type',
  0x0e,
  1,
  defineLayout(
    'header-type',
    32,
    'PCIe Base Spec 6.0, 7.5.1.1.9 Header Type Register',
    {
      headerLayout: [6, 0, 'Header Layout: 0 = Type 0, 1 = Type 1'],
      multiFunctionDevice: [7, 7, 'Multi-Function Device'],
    },
    { complete: false },
  ),
  { headerLayout: 'RO', multiFunctionDevice: 'RO' },
);

export const BIST = defineRegister(
  'BIST',
  0x0f,
  1,
  defineLayout(
    'bist',
    32,
    'PCIe Base Spec 6.0, 7.5.1.1.10 BIST Register (not modelled: read-only here)',
    { bist: [7, 0, 'BIST'] },
    { complete: false },
  ),
  { bist: 'RO' },
);

/** A memory Base Address Register (PCIe 6.0, 7.5.1.2.1; PCI Local Bus 3.0, 6.2.5.1). */
export const BAR_LAYOUT = defineLayout(
  'memory-base-address-register',
  32,
  'PCIe Base Spec 6.0, 7.5.1.2.1 Base Address Register (Memory Space)',
  {
    memorySpaceIndicator: [0, 0, '0 = memory BAR (1 = I/O BAR, see IO_BAR_LAYOUT)'],
    memoryType: [2, 1, '0 = 32-bit, 2 = 64-bit (the next BAR holds bits 63:32)'],
    prefetchable: [3, 3, 'Prefetchable'],
    baseAddress: [31, 4, 'Base Address bits 31:4'],
  },
  { complete: true },
);

/** An I/O Base Address Register: bit 0 is 1, address bits 31:2. */
export const IO_BAR_LAYOUT = defineLayout(
  'io-base-address-register',
  32,
  'PCIe Base Spec 6.0, 7.5.1.2.1 Base Address Register (I/O Space)',
  {
    ioSpaceIndicator: [0, 0, '1 = I/O BAR'],
    reserved: [1, 1, 'Reserved'],
    baseAddress: [31, 2, 'Base Address bits 31:2'],
  },
  { complete: true },
);

export const BAR_COUNT = 6;
export const BAR_OFFSET = 0x10;

export const BARS: readonly ConfigRegister<typeof BAR_LAYOUT.fields>[] = Array.from(
  { length: BAR_COUNT },
  (_, n) =>
    defineRegister(`Base Address Register ${n}`, BAR_OFFSET + 4 * n, 4, BAR_LAYOUT, {
      memorySpaceIndicator: 'RO',
      memoryType: 'RO',
      prefetchable: 'RO',
      baseAddress: 'RW',
    }),
);

export const CARDBUS_CIS_POINTER = defineRegister(
  'Cardbus CIS Pointer',
  0x28,
  4,
  defineLayout(
    'cardbus-cis-pointer',
    32,
    'PCIe Base Spec 6.0, 7.5.1.2.2 Cardbus CIS Pointer (not supported on PCIe)',
    { cardbusCisPointer: [31, 0, 'Cardbus CIS Pointer'] },
    { complete: true },
  ),
  { cardbusCisPointer: 'RO' },
);

export const SUBSYSTEM = defineRegister(
  'Subsystem Vendor ID / Subsystem ID',
  0x2c,
  4,
  defineLayout(
    'subsystem',
    32,
    'PCIe Base Spec 6.0, 7.5.1.2.3 Subsystem Vendor ID and Subsystem ID',
    {
      subsystemVendorId: [15, 0, 'Subsystem Vendor ID'],
      subsystemId: [31, 16, 'Subsystem ID'],
    },
    { complete: true },
  ),
  { subsystemVendorId: 'HwInit', subsystemId: 'HwInit' },
);

export const EXPANSION_ROM_BASE = defineRegister(
  'Expansion ROM Base Address',
  0x30,
  4,
  defineLayout(
    'expansion-rom-base',
    32,
    'PCIe Base Spec 6.0, 7.5.1.2.4 Expansion ROM Base Address Register',
    {
      expansionRomEnable: [0, 0, 'Expansion ROM Enable'],
      validationStatus: [3, 1, 'Expansion ROM Validation Status'],
      validationDetails: [7, 4, 'Expansion ROM Validation Details'],
      reserved: [10, 8, 'Reserved'],
      baseAddress: [31, 11, 'Expansion ROM Base Address bits 31:11'],
    },
    { complete: true },
  ),
  {
    expansionRomEnable: 'RW',
    validationStatus: 'RO',
    validationDetails: 'RO',
    reserved: 'RsvdP',
    baseAddress: 'RW',
  },
);

export const CAPABILITIES_POINTER = defineRegister(
  'Capabilities Pointer',
  0x34,
  1,
  defineLayout(
    'capabilities-pointer',
    32,
    'PCIe Base Spec 6.0, 7.5.1.1.11 Capabilities Pointer (bits 1:0 reserved since PCI 3.0)',
    { capabilitiesPointer: [7, 0, 'offset of the first capability'] },
    { complete: false },
  ),
  { capabilitiesPointer: 'RO' },
);

export const INTERRUPT_LINE = defineRegister(
  'Interrupt Line',
  0x3c,
  1,
  defineLayout(
    'interrupt-line',
    32,
    'PCIe Base Spec 6.0, 7.5.1.1.12 Interrupt Line Register (scratch for software)',
    { interruptLine: [7, 0, 'Interrupt Line'] },
    { complete: false },
  ),
  { interruptLine: 'RW' },
);

export const INTERRUPT_PIN = defineRegister(
  'Interrupt Pin',
  0x3d,
  1,
  defineLayout(
    'interrupt-pin',
    32,
    'PCIe Base Spec 6.0, 7.5.1.1.13 Interrupt Pin Register: 0 none, 1-4 INTA-INTD',
    { interruptPin: [7, 0, 'Interrupt Pin'] },
    { complete: false },
  ),
  { interruptPin: 'RO' },
);

export const MIN_GNT_MAX_LAT = defineRegister(
  'Min_Gnt / Max_Lat',
  0x3e,
  2,
  defineLayout(
    'min-gnt-max-lat',
    32,
    'PCIe Base Spec 6.0, 7.5.1.2.5/6 Min_Gnt and Max_Lat (PCIe: hardwired 0)',
    { minGnt: [7, 0, 'Min_Gnt'], maxLat: [15, 8, 'Max_Lat'] },
    { complete: false },
  ),
  { minGnt: 'RO', maxLat: 'RO' },
);

/** The Type 0 header, in offset order. Bytes 0x35-0x3b are reserved (read 0, writes dropped). */
export const TYPE0_HEADER: readonly ConfigRegister[] = [
  VENDOR_ID,
  DEVICE_ID,
  COMMAND,
  STATUS,
  REVISION_CLASS,
  CACHE_LINE_SIZE,
  LATENCY_TIMER,
  HEADER_TYPE,
  BIST,
  ...BARS,
  CARDBUS_CIS_POINTER,
  SUBSYSTEM,
  EXPANSION_ROM_BASE,
  CAPABILITIES_POINTER,
  INTERRUPT_LINE,
  INTERRUPT_PIN,
  MIN_GNT_MAX_LAT,
];

/** Where the layout-specific registers of each Header Type sit (PCIe Base Spec 6.0, 7.5.1.2 Type 0
 *  and 7.5.1.3 Type 1; PCI Local Bus 3.0, 6.1 and the CardBus header of PC Card 8.0, whose
 *  Capabilities Pointer is at 0x14 and Subsystem IDs at 0x40). A Type 1 header has two BARs (0x18
 *  on holds bus numbers and windows) and no Subsystem registers (0x2c is Prefetchable Base Upper
 *  32 Bits; bridges carry the Subsystem ID capability instead). */
export interface HeaderLayout {
  barCount: number;
  capabilitiesPointer: number;
  subsystem: number | undefined;
  expansionRom: number | undefined;
  /** Min_Gnt/Max_Lat exist in Type 0 only (0x3e is Bridge Control in Type 1 and CardBus). */
  hasMinGntMaxLat: boolean;
}
export const HEADER_LAYOUTS: Readonly<Record<number, HeaderLayout>> = {
  0: {
    barCount: 6,
    capabilitiesPointer: 0x34,
    subsystem: 0x2c,
    expansionRom: 0x30,
    hasMinGntMaxLat: true,
  },
  1: {
    barCount: 2,
    capabilitiesPointer: 0x34,
    subsystem: undefined,
    expansionRom: 0x38,
    hasMinGntMaxLat: false,
  },
  2: {
    barCount: 1,
    capabilitiesPointer: 0x14,
    subsystem: 0x40,
    expansionRom: undefined,
    hasMinGntMaxLat: false,
  },
};

/** The layout of the function's Header Type, undefined for a type no spec defines. */
export const headerLayoutOf = (space: ConfigSpace): HeaderLayout | undefined =>
  HEADER_LAYOUTS[
    HEADER_TYPE.layout.accessors.headerLayout.get([readRegister(space, 0, HEADER_TYPE)])
  ];

export interface ConfigHeader {
  vendorId: number;
  deviceId: number;
  command: number;
  status: number;
  revisionId: number;
  classCode: number;
  headerType: number;
  multiFunction: boolean;
  /** The BARs of the header layout: 6 (Type 0), 2 (Type 1), 1 (CardBus), none for unknown types. */
  bars: number[];
  subsystemVendorId: number;
  subsystemId: number;
  expansionRomBase: number;
  capabilitiesPointer: number;
  interruptLine: number;
  interruptPin: number;
}

/** The standard header fields as numbers (Class Code is the 24-bit base/sub/prog-if value); the
 *  layout-specific ones from where the Header Type puts them, 0 where it has none. */
export function decodeConfigHeader(space: ConfigSpace): ConfigHeader {
  const revClass = readRegister(space, 0, REVISION_CLASS);
  const rev = REVISION_CLASS.layout.accessors;
  const headerType = HEADER_TYPE.layout.accessors;
  const type = [readRegister(space, 0, HEADER_TYPE)];
  const layout = headerLayoutOf(space);
  const at = (offset: number | undefined) =>
    offset === undefined ? 0 : readConfigDword(space, offset);
  const subsystem = [at(layout?.subsystem)];
  return {
    vendorId: readRegister(space, 0, VENDOR_ID),
    deviceId: readRegister(space, 0, DEVICE_ID),
    command: readRegister(space, 0, COMMAND),
    status: readRegister(space, 0, STATUS),
    revisionId: rev.revisionId.get([revClass]),
    classCode: rev.classCode.get([revClass]),
    headerType: headerType.headerLayout.get(type),
    multiFunction: headerType.multiFunctionDevice.get(type) === 1,
    bars: BARS.slice(0, layout?.barCount ?? 0).map((bar) => readRegister(space, 0, bar)),
    subsystemVendorId: SUBSYSTEM.layout.accessors.subsystemVendorId.get(subsystem),
    subsystemId: SUBSYSTEM.layout.accessors.subsystemId.get(subsystem),
    expansionRomBase: at(layout?.expansionRom),
    capabilitiesPointer:
      layout === undefined ? 0 : readConfigByte(space, layout.capabilitiesPointer),
    interruptLine: readRegister(space, 0, INTERRUPT_LINE),
    interruptPin: readRegister(space, 0, INTERRUPT_PIN),
  };
}
