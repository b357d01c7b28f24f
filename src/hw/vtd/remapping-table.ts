// The Interrupt Remapping Table and the register that locates it (Intel VT-d spec, Register
// Descriptions: "Interrupt Remapping Table Address Register", IRTA_REG; 9.10 for the entries). The table is
// 2^(S+1) IRTEs of 16 bytes in memory, at most 65,536 (S is 4 bits, 15 is the largest valid
// size: a 16-bit handle can name no more).
// State is the memory as dwords (4 per IRTE, entry i at dwords 4i..4i+3), byte-comparable with
// what software wrote; the remapping unit reads an entry through its interrupt entry cache
// (interrupt-entry-cache.ts), never straight from here, except on a miss.
// Invariants: `dwords.length === entries * IRTE_DWORDS`; entries is a power of two <= 65,536.
// Not modelled: the table's physical address beyond carrying it in IRTA (memory errors, fault
// 23h, cannot happen in the model), tables in guest memory mapped through DMA remapping.

import { type Dwords, decode, defineLayout, encode } from '../bits.js';
import { InputError } from '../errors.js';
import { IRTE_DWORDS } from './irte.js';

/** 2^(S+1) with S = 15: the most IRTEs a table can have (VT-d IRTA_REG.S). */
export const IRTE_ENTRIES_MAX = 65_536;
export const IRTA_SIZE_MAX = 15;

export const IRTA_REG = defineLayout(
  'vtd-irta-reg',
  64,
  'Intel VT-d Register Descriptions: Interrupt Remapping Table Address Register (IRTA_REG)',
  {
    size: [3, 0, 'S: the table has 2^(S+1) entries'],
    reserved0: [10, 4, 'Reserved (0)'],
    eime: [11, 11, 'EIME: Extended Interrupt Mode (x2APIC) Enable'],
    addressLow: [31, 12, 'IRTA: table address bits 31:12 (4 KiB aligned)'],
    addressHigh: [63, 32, 'IRTA: table address bits 63:32'],
  },
  { complete: true },
);

/** The low dword of the table address as IRTA splits it. */
const IRTA_ADDRESS_LOW = defineLayout(
  'vtd-irta-address-low',
  32,
  'Intel VT-d IRTA_REG: the table is 4 KiB aligned',
  { offset: [11, 0, 'must be 0'], page: [31, 12, 'address bits 31:12'] },
  { complete: true },
);

export interface InterruptRemappingTable {
  /** Number of IRTEs, 2^(S+1). */
  readonly entries: number;
  /** The table memory: IRTE i is dwords 4i..4i+3, little-endian (dword 0 = bits 31:0). */
  readonly dwords: Uint32Array;
}

/** IRTA_REG value (two dwords) for a table of 2^(size+1) entries at `address` (4 KiB aligned). */
export function encodeIrta(f: {
  size: number;
  eime: boolean;
  address?: { lo: number; hi: number };
}): number[] {
  const lo = f.address?.lo ?? 0;
  const addressLow = decode(IRTA_ADDRESS_LOW, [lo]);
  if (addressLow.offset !== 0) {
    throw new InputError('IRTA', `table address 0x${lo.toString(16)} is not 4 KiB aligned`);
  }
  checkSize(f.size);
  return encode(IRTA_REG, {
    size: f.size,
    eime: f.eime ? 1 : 0,
    addressLow: addressLow.page,
    addressHigh: f.address?.hi ?? 0,
  });
}

export function irtaEntries(irta: Dwords): number {
  return entriesForSize(IRTA_REG.accessors.size.get(irta));
}

export function irtaEime(irta: Dwords): boolean {
  return IRTA_REG.accessors.eime.get(irta) === 1;
}

/** 2^(S+1) entries for IRTA.S = `size`. */
export function entriesForSize(size: number): number {
  checkSize(size);
  return 2 ** (size + 1);
}

function checkSize(size: number): void {
  if (!Number.isInteger(size) || size < 0 || size > IRTA_SIZE_MAX) {
    throw new InputError('IRTA.S', `${size} is not a table size 0..${IRTA_SIZE_MAX}`);
  }
}

/** An all-zero (all not-present) table of 2^(size+1) entries. */
export function createRemappingTable(size: number): InterruptRemappingTable {
  const entries = entriesForSize(size);
  return { entries, dwords: new Uint32Array(entries * IRTE_DWORDS) };
}

/** A copy of IRTE `index`'s four dwords. */
export function readIrte(table: InterruptRemappingTable, index: number): number[] {
  checkIndex(table, index);
  const at = index * IRTE_DWORDS;
  return Array.from(table.dwords.subarray(at, at + IRTE_DWORDS));
}

/** Writes IRTE `index` (all 128 bits at once, as Linux's `modify_irte` does with cmpxchg16b). */
export function writeIrte(table: InterruptRemappingTable, index: number, words: Dwords): void {
  checkIndex(table, index);
  if (words.length !== IRTE_DWORDS) {
    throw new InputError(`IRTE ${index}`, `needs ${IRTE_DWORDS} dwords, got ${words.length}`);
  }
  for (let i = 0; i < IRTE_DWORDS; i++) {
    const word = words[i];
    if (!Number.isInteger(word) || word < 0 || word > 0xffffffff) {
      throw new InputError(`IRTE ${index} dword ${i}`, `${word} is not a 32-bit value`);
    }
    table.dwords[index * IRTE_DWORDS + i] = word;
  }
}

function checkIndex(table: InterruptRemappingTable, index: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= table.entries) {
    throw new InputError('IRTE index', `${index} is outside the table (0..${table.entries - 1})`);
  }
}
