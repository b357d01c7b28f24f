// A software write to a function's configuration space (PCI Express Base Spec 6.0, section 7.4
// "Configuration Register Types" and 7.2.2 "Configuration Request" rules): the access is 1, 2 or 4
// bytes, naturally aligned; each bit it covers changes according to its register's attribute table
// (RW takes the write, RW1C clears where 1 is written, RO/HwInit and RsvdP keep, RsvdZ become 0).
// The register map is the Type 0 header plus every capability the function's lists name, so a
// write lands in the same register a driver or a guest would reach.
// Effects are returned as data: every register the access touched with its old and new value, and
// the bytes no known register covers (written nowhere: unimplemented or vendor-defined space reads
// as it did, which is what a device that does not decode them does).
// Invariants: the space is changed in place only through `applyRegisterWrite`; a write never
// changes a byte outside the access.
// Not modelled: side effects of the write (an FLR, a power state change, VF Enable creating VFs):
// the caller reads them off the returned changes.

import { decode } from '../bits.js';
import { InputError } from '../errors.js';
import { AER_REGISTERS } from './aer-capability.js';
import {
  CAP_ID,
  CAPABILITY_HEADER,
  EXT_CAP_ID,
  EXTENDED_CAPABILITY_HEADER,
} from './capability-ids.js';
import { type CapabilityEntry, walkCapabilities } from './capability-list.js';
import { applyRegisterWrite, type ConfigRegister } from './config-register.js';
import {
  CONFIG_HEADER_SIZE,
  type ConfigSpace,
  readConfig,
  readRegister,
  setConfig,
  TYPE0_HEADER,
} from './config-space.js';
import { MSI_MESSAGE_CONTROL, msiRegisters } from './msi-capability.js';
import { MSIX_REGISTERS } from './msix-capability.js';
import { PASID_REGISTERS } from './pasid-capability.js';
import { PCIE_CAPABILITIES, PCIE_REGISTERS_V1, PCIE_REGISTERS_V2 } from './pcie-capability.js';
import { PM_REGISTERS } from './pm-capability.js';
import { SRIOV_REGISTERS } from './sriov-capability.js';

export type ConfigStructure =
  | 'header'
  | 'msi'
  | 'msix'
  | 'pcie'
  | 'pm'
  | 'vendor'
  | 'sriov'
  | 'pasid'
  | 'aer'
  | 'other';

export interface RegisterWrite {
  structure: ConfigStructure;
  /** Offset of the structure (0 for the header, else the capability's offset). */
  structureOffset: number;
  register: string;
  /** Absolute config offset of the register. */
  offset: number;
  oldValue: number;
  newValue: number;
}

export interface ConfigWriteResult {
  registers: RegisterWrite[];
  /** Config offsets of bytes the access covered that no known register holds. */
  ignoredBytes: number[];
}

export interface PlacedRegister {
  structure: ConfigStructure;
  base: number;
  register: ConfigRegister;
}

const STANDARD_KIND: Readonly<Record<number, ConfigStructure>> = {
  [CAP_ID.msi]: 'msi',
  [CAP_ID.msix]: 'msix',
  [CAP_ID.pciExpress]: 'pcie',
  [CAP_ID.powerManagement]: 'pm',
  [CAP_ID.vendorSpecific]: 'vendor',
};
const EXTENDED_KIND: Readonly<Record<number, ConfigStructure>> = {
  [EXT_CAP_ID.advancedErrorReporting]: 'aer',
  [EXT_CAP_ID.sriov]: 'sriov',
  [EXT_CAP_ID.pasid]: 'pasid',
};

/** The registers of one capability whose attributes irqlab knows (header included). */
function capabilityRegisters(space: ConfigSpace, cap: CapabilityEntry): PlacedRegister[] {
  const kind = (cap.extended ? EXTENDED_KIND[cap.id] : STANDARD_KIND[cap.id]) ?? 'other';
  const header = cap.extended ? EXTENDED_CAPABILITY_HEADER : CAPABILITY_HEADER;
  const place = (registers: readonly ConfigRegister[]) =>
    [header, ...registers].map((register) => ({ structure: kind, base: cap.offset, register }));
  switch (kind) {
    case 'msi': {
      const control = decode(MSI_MESSAGE_CONTROL.layout, [
        readRegister(space, cap.offset, MSI_MESSAGE_CONTROL),
      ]);
      return place(
        msiRegisters(control.address64BitCapable === 1, control.perVectorMaskingCapable === 1),
      );
    }
    case 'msix':
      return place(MSIX_REGISTERS);
    case 'pcie': {
      const caps = decode(PCIE_CAPABILITIES.layout, [
        readRegister(space, cap.offset, PCIE_CAPABILITIES),
      ]);
      return place(caps.capabilityVersion >= 2 ? PCIE_REGISTERS_V2 : PCIE_REGISTERS_V1);
    }
    case 'pm':
      return place(PM_REGISTERS);
    case 'sriov':
      return place(SRIOV_REGISTERS);
    case 'pasid':
      return place(PASID_REGISTERS);
    case 'aer':
      return place(AER_REGISTERS);
    case 'vendor':
    case 'other':
    case 'header':
      return place([]);
  }
}

/** Bytes of each structure irqlab knows registers for, to find the one an offset falls in. */
function structureEnd(placed: readonly PlacedRegister[]): number {
  let end = 0;
  for (const p of placed) end = Math.max(end, p.base + p.register.offset + p.register.size);
  return end;
}

const HEADER_REGISTERS: readonly PlacedRegister[] = TYPE0_HEADER.map((register) => ({
  structure: 'header',
  base: 0,
  register,
}));

/** The registers an access at `offset`..`offset + size` may touch: one list walk per access. */
function registersNear(
  space: ConfigSpace,
  offset: number,
  size: number,
  where: string,
): readonly PlacedRegister[] {
  // Accesses are aligned and at most 4 bytes, so none straddles the end of the header.
  if (offset < CONFIG_HEADER_SIZE) return HEADER_REGISTERS;
  const near: PlacedRegister[] = [];
  for (const cap of walkCapabilities(space, where)) {
    if (offset + size <= cap.offset) continue;
    const placed = capabilityRegisters(space, cap);
    if (offset < structureEnd(placed)) near.push(...placed);
  }
  return near;
}

const holds = (p: PlacedRegister, at: number) =>
  at >= p.base + p.register.offset && at < p.base + p.register.offset + p.register.size;

/** The register holding config byte `at`, or undefined if no known register does. */
export function registerAt(
  space: ConfigSpace,
  at: number,
  where = 'config space',
): PlacedRegister | undefined {
  return registersNear(space, at, 1, where).find((p) => holds(p, at));
}

/** Every register of the function by absolute offset of each of its bytes (for tests/reports). */
export function configRegisterMap(space: ConfigSpace, where: string): Map<number, PlacedRegister> {
  const map = new Map<number, PlacedRegister>();
  const add = (placed: PlacedRegister) => {
    for (let i = 0; i < placed.register.size; i++) {
      const at = placed.base + placed.register.offset + i;
      if (at < space.bytes.length) map.set(at, placed);
    }
  };
  for (const placed of HEADER_REGISTERS) add(placed);
  for (const cap of walkCapabilities(space, where)) {
    for (const placed of capabilityRegisters(space, cap)) add(placed);
  }
  return map;
}

/**
 * Software writes `value` (`size` bytes, little-endian) at `offset`. Changes `space` in place
 * and returns what changed. A misaligned or out-of-range access, or a value wider than the
 * access, is an InputError naming the offset.
 */
export function configWrite(
  space: ConfigSpace,
  offset: number,
  size: 1 | 2 | 4,
  value: number,
  where = 'config space',
): ConfigWriteResult {
  checkAccess(space, offset, size, value, where);
  const near = registersNear(space, offset, size, where);
  const touched = new Map<string, { placed: PlacedRegister; written: number; mask: number }>();
  const ignoredBytes: number[] = [];
  for (let i = 0; i < size; i++) {
    const at = offset + i;
    const byte = Math.floor(value / 256 ** i) % 256;
    const placed = near.find((p) => holds(p, at));
    if (placed === undefined) {
      ignoredBytes.push(at);
      continue;
    }
    const shift = 256 ** (at - placed.base - placed.register.offset);
    const key = `${placed.base + placed.register.offset}`;
    const entry = touched.get(key) ?? { placed, written: 0, mask: 0 };
    entry.written += byte * shift;
    entry.mask += 0xff * shift;
    touched.set(key, entry);
  }
  const registers: RegisterWrite[] = [];
  for (const { placed, written, mask } of touched.values()) {
    const at = placed.base + placed.register.offset;
    const oldValue = readConfig(space, at, placed.register.size);
    const newValue = constrain(
      placed,
      applyRegisterWrite(placed.register, oldValue, written, mask),
    );
    setConfig(space, at, placed.register.size, newValue);
    registers.push({
      structure: placed.structure,
      structureOffset: placed.base,
      register: placed.register.name,
      offset: at,
      oldValue,
      newValue,
    });
  }
  return { registers, ignoredBytes };
}

/**
 * Attributes that depend on another register: MSI's Extended Message Data Enable is RW only when
 * Extended Message Data Capable is set, otherwise RO 0 (PCIe 6.0, 7.7.1.2).
 */
function constrain(placed: PlacedRegister, value: number): number {
  if (placed.structure !== 'msi' || placed.register !== MSI_MESSAGE_CONTROL) return value;
  const control = MSI_MESSAGE_CONTROL.layout.accessors;
  const words = [value];
  if (control.extendedMessageDataCapable.get(words) === 0) {
    control.extendedMessageDataEnable.set(words, 0);
  }
  return words[0];
}

function checkAccess(
  space: ConfigSpace,
  offset: number,
  size: number,
  value: number,
  where: string,
): void {
  const at = `${where}: config write at 0x${Number(offset).toString(16)}`;
  if (size !== 1 && size !== 2 && size !== 4) {
    throw new InputError(at, `size ${size} is not 1, 2 or 4 bytes`);
  }
  if (!Number.isInteger(offset) || offset < 0 || offset + size > space.bytes.length) {
    throw new InputError(at, `outside the ${space.bytes.length}-byte config space`);
  }
  if (offset % size !== 0) throw new InputError(at, `a ${size}-byte access must be aligned`);
  if (!Number.isInteger(value) || value < 0 || value >= 256 ** size) {
    throw new InputError(at, `value ${value} does not fit ${size} bytes`);
  }
}
