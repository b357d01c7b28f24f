// The two capability lists of a PCI function (PCI Express Base Spec 6.0, section 7.5.1.1.11
// "Capabilities Pointer" and 7.6.3 "PCI Express Extended Capability Header"; PCI Local Bus 3.0,
// 6.7): the standard list starts at the Capabilities Pointer (0x34) when Status.Capabilities List
// is set and lives in 0x40-0xff; the extended list starts at 0x100 in a 4 KiB config space.
//
// A dump is input, so a broken list is an InputError naming the offset, never a crash and never an
// endless loop: a pointer into the header, outside the space or not DWORD aligned, a pointer back
// to a capability already seen, more entries than the space can hold. Every loop is bounded by the
// most entries that fit (48 standard, 480 extended), as Linux bounds `pci_find_next_capability`.
// Not modelled: PCI-X Mode 2 extended space (only PCIe's 0x100-0xfff).

import { decode } from '../bits.js';
import { InputError } from '../errors.js';
import { CAPABILITY_HEADER, EXTENDED_CAPABILITY_HEADER } from './capability-ids.js';
import {
  CAPABILITIES_POINTER,
  CONFIG_HEADER_SIZE,
  CONFIG_SPACE_SIZE,
  type ConfigSpace,
  isExtendedConfigSpace,
  readConfigDword,
  readConfigWord,
  readRegister,
  STATUS,
} from './config-space.js';

/** Standard capabilities: at least 4 bytes each between 0x40 and 0xff. */
export const STANDARD_CAPABILITIES_MAX = (CONFIG_SPACE_SIZE.conventional - CONFIG_HEADER_SIZE) / 4;
/** Extended capabilities: at least 8 bytes each between 0x100 and 0xfff (Linux's bound). */
export const EXTENDED_CAPABILITIES_MAX =
  (CONFIG_SPACE_SIZE.extended - CONFIG_SPACE_SIZE.conventional) / 8;
/** Capability pointers are DWORD aligned (PCI 3.0 reserves bits 1:0). */
const POINTER_ALIGN = 4;
/** A header read as all ones: no function, or a broken chain. */
const ALL_ONES_ID = 0xff;
const ALL_ONES_HEADER = 0xffffffff;

export interface CapabilityEntry {
  /** Capability ID (8 bits) or Extended Capability ID (16 bits). */
  id: number;
  offset: number;
  extended: boolean;
  /** Extended capabilities only: Capability Version. */
  version?: number;
}

const hex = (n: number) => `0x${n.toString(16)}`;

/** Both lists, standard first, each in list order. `where` names the dump in errors. */
export function walkCapabilities(space: ConfigSpace, where = 'config space'): CapabilityEntry[] {
  return [...walkStandardCapabilities(space, where), ...walkExtendedCapabilities(space, where)];
}

export function walkStandardCapabilities(space: ConfigSpace, where: string): CapabilityEntry[] {
  const status = [readRegister(space, 0, STATUS)];
  if (STATUS.layout.accessors.capabilitiesList.get(status) === 0) return [];
  const entries: CapabilityEntry[] = [];
  const seen = new Set<number>();
  let pointer = readRegister(space, 0, CAPABILITIES_POINTER);
  let from = CAPABILITIES_POINTER.offset;
  for (let n = 0; pointer !== 0; n++) {
    const at = `${where}: capability pointer ${hex(pointer)} at ${hex(from)}`;
    checkPointer(pointer, at, CONFIG_HEADER_SIZE, CONFIG_SPACE_SIZE.conventional, 'header');
    if (seen.has(pointer)) throw new InputError(at, 'loops back to a capability already listed');
    // Distinct aligned pointers cannot outnumber the slots, so this only bounds the loop.
    if (n >= STANDARD_CAPABILITIES_MAX) {
      throw new InputError(at, `more than ${STANDARD_CAPABILITIES_MAX} capabilities`);
    }
    seen.add(pointer);
    const header = decode(CAPABILITY_HEADER.layout, [readConfigWord(space, pointer)]);
    if (header.capabilityId === ALL_ONES_ID) {
      throw new InputError(at, 'capability ID 0xff (an all-ones read: the chain is broken)');
    }
    entries.push({ id: header.capabilityId, offset: pointer, extended: false });
    from = pointer + 1;
    pointer = header.nextCapabilityPointer;
  }
  return entries;
}

export function walkExtendedCapabilities(space: ConfigSpace, where: string): CapabilityEntry[] {
  if (!isExtendedConfigSpace(space)) return [];
  const entries: CapabilityEntry[] = [];
  const seen = new Set<number>();
  let offset: number = CONFIG_SPACE_SIZE.conventional;
  let from = -1;
  for (let n = 0; offset !== 0; n++) {
    const at =
      from < 0
        ? `${where}: extended capability at ${hex(offset)}`
        : `${where}: extended capability pointer ${hex(offset)} at ${hex(from)}`;
    checkPointer(offset, at, CONFIG_SPACE_SIZE.conventional, CONFIG_SPACE_SIZE.extended, '0x100');
    if (seen.has(offset)) throw new InputError(at, 'loops back to a capability already listed');
    // Linux's bound: a list longer than this is broken even without a repeated offset.
    if (n >= EXTENDED_CAPABILITIES_MAX) {
      throw new InputError(at, `more than ${EXTENDED_CAPABILITIES_MAX} extended capabilities`);
    }
    seen.add(offset);
    const raw = readConfigDword(space, offset);
    // An empty list reads 0 at 0x100 (Linux: "if (header == 0) return 0"); all ones means the
    // extended space is not accessible. Either ends the walk; neither is an entry.
    if (raw === 0 || raw === ALL_ONES_HEADER) break;
    const header = decode(EXTENDED_CAPABILITY_HEADER.layout, [raw]);
    entries.push({
      id: header.capabilityId,
      offset,
      extended: true,
      version: header.capabilityVersion,
    });
    from = offset;
    offset = header.nextCapabilityOffset;
  }
  return entries;
}

function checkPointer(
  pointer: number,
  at: string,
  lowest: number,
  end: number,
  lowName: string,
): void {
  if (pointer < lowest) {
    throw new InputError(
      at,
      lowName === 'header'
        ? `points into the header (below ${hex(lowest)})`
        : `points below ${hex(lowest)}`,
    );
  }
  if (pointer % POINTER_ALIGN !== 0) throw new InputError(at, 'is not DWORD aligned');
  if (pointer + POINTER_ALIGN > end) {
    throw new InputError(at, `points beyond the ${end}-byte config space`);
  }
}

/** The first capability with `id` in the standard (or, with `extended`, extended) list. */
export function findCapability(
  space: ConfigSpace,
  id: number,
  opts: { extended: boolean },
  where = 'config space',
): CapabilityEntry | undefined {
  const list = opts.extended
    ? walkExtendedCapabilities(space, where)
    : walkStandardCapabilities(space, where);
  return list.find((entry) => entry.id === id);
}
