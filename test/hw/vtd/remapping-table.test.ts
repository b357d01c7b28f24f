// Interrupt remapping table and IRTA_REG. The golden value is the IR fixture's bring-up: Linux
// writes IRTA = table address | EIME | S with S = 0xf (INTR_REMAP_TABLE_REG_SIZE), and QEMU
// traces `vtd_reg_ir_root addr 0x1200000 size 0x10000` (QEMU-Q35.md fact 5).
import { describe, expect, it } from 'vitest';
import { decode } from '../../../src/hw/bits.js';
import { InputError } from '../../../src/hw/errors.js';
import {
  createRemappingTable,
  encodeIrta,
  entriesForSize,
  IRTA_REG,
  IRTE_ENTRIES_MAX,
  irtaEime,
  irtaEntries,
  readIrte,
  writeIrte,
} from '../../../src/hw/vtd/remapping-table.js';

describe('IRTA_REG', () => {
  it('encodes the fixture table: 0x1200000, S = 15, xAPIC -> 65,536 entries', () => {
    const irta = encodeIrta({ size: 15, eime: false, address: { lo: 0x1200000, hi: 0 } });
    expect(irta).toEqual([0x120000f, 0]);
    expect(irtaEntries(irta)).toBe(0x10000);
    expect(irtaEime(irta)).toBe(false);
  });
  it('puts EIME in bit 11 and the address in 63:12', () => {
    const irta = encodeIrta({ size: 0, eime: true, address: { lo: 0xfffff000, hi: 0xffffffff } });
    expect(irta).toEqual([0xfffff800, 0xffffffff]);
    expect(decode(IRTA_REG, irta)).toMatchObject({ size: 0, eime: 1 });
  });
  it('rejects an address that is not 4 KiB aligned and a size above 15', () => {
    expect(() => encodeIrta({ size: 1, eime: false, address: { lo: 0x800, hi: 0 } })).toThrow(
      InputError,
    );
    expect(() => entriesForSize(16)).toThrow(InputError);
  });
  it('has 2^(S+1) entries, at most 65,536', () => {
    expect(entriesForSize(0)).toBe(2);
    expect(entriesForSize(7)).toBe(256);
    expect(entriesForSize(15)).toBe(IRTE_ENTRIES_MAX);
    expect(IRTE_ENTRIES_MAX).toBe(65536);
  });
});

describe('table memory', () => {
  it('starts all zero (not present) and reads back what was written, per index', () => {
    const t = createRemappingTable(3);
    expect(t.entries).toBe(16);
    expect(readIrte(t, 15)).toEqual([0, 0, 0, 0]);
    writeIrte(t, 5, [0xd, 0x100, 0x40028, 0]);
    expect(readIrte(t, 5)).toEqual([0xd, 0x100, 0x40028, 0]);
    expect(Array.from(t.dwords.subarray(20, 24))).toEqual([0xd, 0x100, 0x40028, 0]);
    expect(readIrte(t, 4)).toEqual([0, 0, 0, 0]);
  });
  it('rejects an index outside the table and a malformed entry', () => {
    const t = createRemappingTable(0);
    expect(() => readIrte(t, 2)).toThrow(/outside the table/);
    expect(() => writeIrte(t, -1, [0, 0, 0, 0])).toThrow(InputError);
    expect(() => writeIrte(t, 0, [0, 0, 0])).toThrow(InputError);
    expect(() => writeIrte(t, 0, [0, 0, 0, 2 ** 32])).toThrow(InputError);
  });
});
