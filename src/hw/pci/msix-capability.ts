// The MSI-X capability structure (PCI Express Base Spec 6.0, section 7.7.2 "MSI-X Capability and
// Table Structure"): Message Control, and where the MSI-X Table and the Pending Bit Array live
// (a BAR Indicator Register plus a QWORD-aligned offset into that BAR). The table and PBA
// themselves are `msix-table.ts` / `msix-pba.ts`.
// Invariants: Table Size is N-1 in 11 bits, so 1..2048 entries; a BIR names one of BAR0-5 (6 and 7
// are reserved); the offsets are QWORD aligned (their low 3 bits are the BIR).
// Not modelled: the Flit-mode/Extended Table bits of PCIe 6.x.

import { defineLayout } from '../bits.js';
import { InputError } from '../errors.js';
import { type ConfigRegister, defineRegister } from './config-register.js';
import { BAR_COUNT, type ConfigSpace, readRegister } from './config-space.js';

/** Table Size is N-1 in bits 10:0 of Message Control. */
export const MSIX_ENTRIES_MAX = 2048;
/** The structure is three DWORDs. */
export const MSIX_CAPABILITY_SIZE = 0x0c;
/** A BIR above this is reserved (BARs 0-5 only; 64-bit BARs use the lower BIR). */
export const MSIX_BIR_MAX = BAR_COUNT - 1;
/** Table/PBA offsets are QWORD aligned: the register's bits 31:3 are offset bits 31:3. */
const OFFSET_UNIT = 8;

export const MSIX_MESSAGE_CONTROL = defineRegister(
  'MSI-X Message Control',
  0x02,
  2,
  defineLayout(
    'msix-message-control',
    32,
    'PCIe Base Spec 6.0, 7.7.2.2 Message Control Register for MSI-X',
    {
      tableSize: [10, 0, 'Table Size: entries - 1'],
      reserved: [13, 11, 'Reserved'],
      functionMask: [14, 14, 'Function Mask: masks every vector of the function'],
      msixEnable: [15, 15, 'MSI-X Enable'],
    },
    { complete: false },
  ),
  { tableSize: 'RO', reserved: 'RsvdP', functionMask: 'RW', msixEnable: 'RW' },
);

const OFFSET_BIR_FIELDS = {
  bir: [2, 0, 'BAR Indicator Register: 0-5 = BAR 10h-24h; 6, 7 reserved'],
  offset: [31, 3, 'offset bits 31:3 into that BAR (QWORD aligned)'],
} as const;

export const MSIX_TABLE_OFFSET_BIR = defineRegister(
  'MSI-X Table Offset/Table BIR',
  0x04,
  4,
  defineLayout(
    'msix-table-offset-bir',
    32,
    'PCIe Base Spec 6.0, 7.7.2.3 Table Offset/Table BIR Register for MSI-X',
    OFFSET_BIR_FIELDS,
    { complete: true },
  ),
  { bir: 'RO', offset: 'RO' },
);

export const MSIX_PBA_OFFSET_BIR = defineRegister(
  'MSI-X PBA Offset/PBA BIR',
  0x08,
  4,
  defineLayout(
    'msix-pba-offset-bir',
    32,
    'PCIe Base Spec 6.0, 7.7.2.4 PBA Offset/PBA BIR Register for MSI-X',
    OFFSET_BIR_FIELDS,
    { complete: true },
  ),
  { bir: 'RO', offset: 'RO' },
);

export const MSIX_REGISTERS: readonly ConfigRegister[] = [
  MSIX_MESSAGE_CONTROL,
  MSIX_TABLE_OFFSET_BIR,
  MSIX_PBA_OFFSET_BIR,
];

export interface MsixCapability {
  offset: number;
  /** Entries in the table: Table Size + 1 (1..MSIX_ENTRIES_MAX). */
  tableSize: number;
  functionMask: boolean;
  msixEnable: boolean;
  /** 0-5 valid; 6 and 7 kept as read so that a display can show them as lspci does. */
  tableBir: number;
  /** Byte offset of the table into its BAR. */
  tableOffset: number;
  pbaBir: number;
  pbaOffset: number;
}

/** Reads the MSI-X structure at `offset` as it is (a reserved BIR is returned, not rejected). */
export function decodeMsixCapability(space: ConfigSpace, offset: number): MsixCapability {
  const control = [readRegister(space, offset, MSIX_MESSAGE_CONTROL)];
  const table = [readRegister(space, offset, MSIX_TABLE_OFFSET_BIR)];
  const pba = [readRegister(space, offset, MSIX_PBA_OFFSET_BIR)];
  const c = MSIX_MESSAGE_CONTROL.layout.accessors;
  const t = MSIX_TABLE_OFFSET_BIR.layout.accessors;
  const p = MSIX_PBA_OFFSET_BIR.layout.accessors;
  return {
    offset,
    tableSize: c.tableSize.get(control) + 1,
    functionMask: c.functionMask.get(control) === 1,
    msixEnable: c.msixEnable.get(control) === 1,
    tableBir: t.bir.get(table),
    tableOffset: t.offset.get(table) * OFFSET_UNIT,
    pbaBir: p.bir.get(pba),
    pbaOffset: p.offset.get(pba) * OFFSET_UNIT,
  };
}

/**
 * The MSI-X structure for a driver or device model to use: a reserved BIR (6 or 7) names no BAR,
 * so the table cannot be found, and that is an error naming the register. `where` names the
 * function (a file or BDF).
 */
export function msixCapabilityForUse(
  space: ConfigSpace,
  offset: number,
  where: string,
): MsixCapability {
  const cap = decodeMsixCapability(space, offset);
  const at = `${where}: MSI-X capability at 0x${offset.toString(16)}`;
  if (cap.tableBir > MSIX_BIR_MAX) {
    throw new InputError(at, `Table BIR ${cap.tableBir} is reserved (BARs 0-${MSIX_BIR_MAX})`);
  }
  if (cap.pbaBir > MSIX_BIR_MAX) {
    throw new InputError(at, `PBA BIR ${cap.pbaBir} is reserved (BARs 0-${MSIX_BIR_MAX})`);
  }
  return cap;
}

/** Bytes of the PBA: one bit per entry, in QWORDs (spec 7.7.2: "ceil(N/64) QWORDs"). */
export const msixPbaBytes = (tableSize: number): number => Math.ceil(tableSize / 64) * 8;
/** Bytes of the table: 16 per entry. */
export const MSIX_ENTRY_SIZE = 16;
