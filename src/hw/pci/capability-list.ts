// The two capability lists of a PCI function (PCI Express Base Spec 6.0, section 7.5.1.1.11
// "Capabilities Pointer" and 7.6.3 "PCI Express Extended Capability Header"; PCI Local Bus 3.0,
// 6.7): the standard list starts at the header layout's Capabilities Pointer (0x34; 0x14 in a
// CardBus header) when Status.Capabilities List is set and lives in 0x40-0xff; the extended list
// starts at 0x100 in a 4 KiB config space. A header type no spec defines has no list (Linux's
// __pci_bus_find_cap_start returns 0 for it; lspci prints no capabilities).
//
// One walk, `capabilityChain`, follows each list and says how it ended. The extended list masks
// bits 1:0 of every Next Capability Offset, as the spec tells software to ("must mask them") and
// as Linux (PCI_EXT_CAP_NEXT) and lspci (`(header >> 20) & ~3`) do; a pointer back to an offset
// already seen ends it (`looped`), which lspci prints as `<chain looped>`. A standard list that
// loops or reads ID 0xff ends likewise (`looped`, `broken`: lspci's `<chain looped>`, `<chain
// broken>`). `walkCapabilities` is the strict form for the model: a list that did not end at a
// zero pointer, or a pointer into the header, outside the space or misaligned, is an InputError
// naming the offset. Every loop is bounded by the most entries that fit (48 standard, 480
// extended), as Linux bounds `pci_find_next_capability`.
// Not modelled: PCI-X Mode 2 extended space (only PCIe's 0x100-0xfff).

import { decode } from '../bits.js';
import { InputError } from '../errors.js';
import { CAPABILITY_HEADER, EXTENDED_CAPABILITY_HEADER } from './capability-ids.js';
import {
  CONFIG_HEADER_SIZE,
  CONFIG_SPACE_SIZE,
  type ConfigSpace,
  headerLayoutOf,
  isExtendedConfigSpace,
  readConfigByte,
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
/** Capability pointers are DWORD aligned: bits 1:0 are reserved and software masks them. */
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

/** How a list ended: at a zero pointer (or, extended, an all-zero or all-ones header), at a
 *  pointer back to `offset` already listed, or at a standard header reading ID 0xff. */
export type ChainEnd =
  | { kind: 'end' }
  | { kind: 'looped'; offset: number }
  | { kind: 'broken'; offset: number };

export interface CapabilityChain {
  entries: CapabilityEntry[];
  end: ChainEnd;
}

const hex = (n: number) => `0x${n.toString(16)}`;

interface Link {
  entry: CapabilityEntry;
  next: number;
}

/** What differs between the two lists. */
interface ListRules {
  extended: boolean;
  lowest: number;
  lowName: string;
  end: number;
  max: number;
  /** The entry at `offset` and its raw next pointer; undefined where the list ends there. */
  read(space: ConfigSpace, offset: number): Link | undefined;
}

const STANDARD_RULES: ListRules = {
  extended: false,
  lowest: CONFIG_HEADER_SIZE,
  lowName: 'header',
  end: CONFIG_SPACE_SIZE.conventional,
  max: STANDARD_CAPABILITIES_MAX,
  read: (space, offset) => {
    const header = decode(CAPABILITY_HEADER.layout, [readConfigWord(space, offset)]);
    const entry = { id: header.capabilityId, offset, extended: false };
    return { entry, next: header.nextCapabilityPointer };
  },
};

const EXTENDED_RULES: ListRules = {
  extended: true,
  lowest: CONFIG_SPACE_SIZE.conventional,
  lowName: '0x100',
  end: CONFIG_SPACE_SIZE.extended,
  max: EXTENDED_CAPABILITIES_MAX,
  read: (space, offset) => {
    const raw = readConfigDword(space, offset);
    // An empty list reads 0 at 0x100 (Linux: "if (header == 0) return 0"); all ones means the
    // extended space is not accessible. Either ends the walk; neither is an entry.
    if (raw === 0 || raw === ALL_ONES_HEADER) return undefined;
    const header = decode(EXTENDED_CAPABILITY_HEADER.layout, [raw]);
    const entry = {
      id: header.capabilityId,
      offset,
      extended: true,
      version: header.capabilityVersion,
    };
    return { entry, next: header.nextCapabilityOffset };
  },
};

/** Follows one list from `pointer` (read at `from`, -1 for the fixed start 0x100). Lenient, it
 *  reads wherever a pointer leads, as lspci does; strict, it rejects what the spec rules out. */
function followChain(
  space: ConfigSpace,
  rules: ListRules,
  first: { pointer: number; from: number },
  where: string,
  strict: boolean,
): CapabilityChain {
  const entries: CapabilityEntry[] = [];
  const seen = new Set<number>();
  // Bits 1:0 are masked before the pointer is tested for 0 (lspci: `where = ... & ~3; while
  // (where)`): a raw pointer of 1-3 ends the list.
  const masked = (raw: number) => raw - (raw % POINTER_ALIGN);
  let pointer = masked(first.pointer);
  let from = first.from;
  // Distinct DWORD offsets bound the walk: a space has at most length/4 of them.
  while (pointer !== 0) {
    const offset = pointer;
    const name = rules.extended ? 'extended capability' : 'capability';
    const at =
      from < 0
        ? `${where}: ${name} at ${hex(offset)}`
        : `${where}: ${name} pointer ${hex(offset)} at ${hex(from)}`;
    if (strict) checkPointer(offset, at, rules);
    if (seen.has(offset)) {
      if (strict) throw new InputError(at, 'loops back to a capability already listed');
      return { entries, end: { kind: 'looped', offset } };
    }
    if (strict && entries.length >= rules.max) {
      throw new InputError(at, `more than ${rules.max} ${name.replace(/y$/, 'ies')}`);
    }
    seen.add(offset);
    const link = rules.read(space, offset);
    if (link === undefined) break;
    if (!rules.extended && link.entry.id === ALL_ONES_ID) {
      if (strict) {
        throw new InputError(at, 'capability ID 0xff (an all-ones read: the chain is broken)');
      }
      return { entries, end: { kind: 'broken', offset } };
    }
    entries.push(link.entry);
    from = rules.extended ? offset : offset + 1;
    pointer = masked(link.next);
  }
  return { entries, end: { kind: 'end' } };
}

/** Where the standard list starts: the header layout's Capabilities Pointer, if Status says so. */
function standardStart(space: ConfigSpace): { pointer: number; from: number } {
  const status = [readRegister(space, 0, STATUS)];
  const layout = headerLayoutOf(space);
  if (STATUS.layout.accessors.capabilitiesList.get(status) === 0 || layout === undefined) {
    return { pointer: 0, from: 0 };
  }
  const from = layout.capabilitiesPointer;
  return { pointer: readConfigByte(space, from), from };
}

const extendedStart = (space: ConfigSpace) => ({
  pointer: isExtendedConfigSpace(space) ? CONFIG_SPACE_SIZE.conventional : 0,
  from: -1,
});

/** The standard list as lspci walks it: it ends at 0, at a loop or at ID 0xff, never rejects. */
export const standardCapabilityChain = (space: ConfigSpace): CapabilityChain =>
  followChain(space, STANDARD_RULES, standardStart(space), '', false);

/** The extended list as lspci walks it (pointers masked to DWORDs, a loop ends it). */
export const extendedCapabilityChain = (space: ConfigSpace): CapabilityChain =>
  followChain(space, EXTENDED_RULES, extendedStart(space), '', false);

/** Both lists, standard first, each in list order. `where` names the dump in errors. */
export function walkCapabilities(space: ConfigSpace, where = 'config space'): CapabilityEntry[] {
  return [...walkStandardCapabilities(space, where), ...walkExtendedCapabilities(space, where)];
}

export const walkStandardCapabilities = (space: ConfigSpace, where: string): CapabilityEntry[] =>
  followChain(space, STANDARD_RULES, standardStart(space), where, true).entries;

export const walkExtendedCapabilities = (space: ConfigSpace, where: string): CapabilityEntry[] =>
  followChain(space, EXTENDED_RULES, extendedStart(space), where, true).entries;

function checkPointer(pointer: number, at: string, rules: ListRules): void {
  if (pointer < rules.lowest) {
    throw new InputError(
      at,
      rules.lowName === 'header'
        ? `points into the header (below ${hex(rules.lowest)})`
        : `points below ${hex(rules.lowest)}`,
    );
  }
  if (pointer + POINTER_ALIGN > rules.end) {
    throw new InputError(at, `points beyond the ${rules.end}-byte config space`);
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
