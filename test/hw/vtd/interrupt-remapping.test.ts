// The VT-d remapping unit: one test per outcome and fault condition of the "Interrupt Remapping
// Fault Conditions" table (reasons 20h-26h as Linux dmar.c names them), the 5.1.4 order of
// checks, FPD, the interrupt entry cache, and QEMU's re-encoding of a remapped interrupt
// (values from QEMU-Q35.md fact 1). Properties: faults are data, remap never throws.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dwordsFromBigInt } from '../../../src/hw/bits.js';
import type { RequesterId } from '../../../src/hw/pci/bdf.js';
import type { MsiTransaction } from '../../../src/hw/pci/msi-transaction.js';
import {
  createVtdIrUnit,
  IR_FAULT_REASON,
  remappedAsMsiMessage,
  type VtdIrUnit,
  type VtdIrUnitOptions,
  vtdIrInvalidate,
  vtdIrRemap,
} from '../../../src/hw/vtd/interrupt-remapping.js';
import { encodeIrtePosted, encodeIrteRemapped } from '../../../src/hw/vtd/irte.js';
import { writeIrte } from '../../../src/hw/vtd/remapping-table.js';
import { composeRemappableMsi } from '../../../src/hw/x86/msi-message.js';

const NVME = 0x28 as RequesterId; // 00:05.0
const OPTS: VtdIrUnitOptions = {
  tableSize: 7,
  eime: false,
  ire: true,
  cfi: false,
  postedInterrupts: true,
};
const unitWith = (opts: Partial<VtdIrUnitOptions> = {}) => createVtdIrUnit({ ...OPTS, ...opts });
const tx = (addrLo: number, data = 0, requesterId = NVME, addrHi = 0): MsiTransaction => ({
  addrLo,
  addrHi,
  data,
  requesterId,
});
/** Handle `index` with SHV and subhandle 0, as Linux writes MSI-X entries under IR. */
const msiTo = (index: number, requesterId = NVME) =>
  tx(
    composeRemappableMsi({ handle: index, shv: 1, subhandle: 0, dontCare: 0 }).addrLo,
    0,
    requesterId,
  );
/** IRTE 32 of the fixture: `low 0x40028 high 0x1000025000d`. */
const IRTE_32 = [...dwordsFromBigInt(0x1000025000dn, 64), ...dwordsFromBigInt(0x40028n, 64)];

function withIrte(unit: VtdIrUnit, index: number, words: number[]): VtdIrUnit {
  writeIrte(unit.table, index, words);
  return unit;
}

describe('pass-through and blocking before the table', () => {
  it('passes a request through untouched while IR is off (fixture fact 5, first trace line)', () => {
    const out = vtdIrRemap(unitWith({ ire: false }), tx(0xfee00000, 0));
    expect(out).toEqual({
      kind: 'passed-through',
      why: 'ir-disabled',
      message: { addrLo: 0xfee00000, addrHi: 0, data: 0 },
    });
  });
  it('passes a compatibility request through only with CFIS set and EIME clear', () => {
    expect(vtdIrRemap(unitWith({ cfi: true }), tx(0xfee01004, 0x22)).kind).toBe('passed-through');
    const eim = unitWith({ cfi: true, eime: true });
    expect(vtdIrRemap(eim, tx(0xfee01004, 0x22))).toMatchObject({ kind: 'fault', reason: 0x25 });
  });
  it('blocks a compatibility request with CFIS clear: 25h, index = the address handle bits', () => {
    const unit = unitWith();
    const out = vtdIrRemap(unit, tx(0xfee04004, 0x22));
    expect(out).toEqual({
      kind: 'fault',
      reason: 0x25,
      index: 0x8200,
      sourceId: NVME,
      recorded: true,
    });
    expect(unit.faultLog).toEqual([{ reason: 0x25, index: 0x8200, sourceId: NVME }]);
  });
  it('does not treat a write outside 0xFEExxxxx as an interrupt', () => {
    expect(vtdIrRemap(unitWith(), tx(0xfec00000)).kind).toBe('not-interrupt');
    expect(vtdIrRemap(unitWith(), tx(0xfee00418, 0, NVME, 1)).kind).toBe('not-interrupt');
  });
  it('faults reserved data bits of a remappable request with 20h', () => {
    const unit = withIrte(unitWith(), 32, IRTE_32);
    expect(vtdIrRemap(unit, tx(0xfee00418, 0x10000))).toMatchObject({
      kind: 'fault',
      reason: 0x20,
    });
  });
  it('faults an index beyond the table with 21h, handle + subhandle counted', () => {
    const unit = unitWith({ tableSize: 0 }); // 2 entries
    const m = composeRemappableMsi({ handle: 1, shv: 1, subhandle: 1, dontCare: 0 });
    expect(vtdIrRemap(unit, tx(m.addrLo, m.data))).toMatchObject({
      kind: 'fault',
      reason: IR_FAULT_REASON.indexOverflow,
      index: 2,
    });
  });
});

describe('IRTE checks', () => {
  it('remaps through IRTE 32 of the fixture and re-encodes as QEMU does', () => {
    // QEMU-Q35.md fact 1: vtd_ir_remap index 32 trigger 0 vector 37 deliver 0 dest 0x1 mode 1,
    // then (addr 0xfee00418, data 0x0) -> (addr 0xfee0100c, data 0x4025).
    const unit = withIrte(unitWith(), 32, IRTE_32);
    const request = tx(0xfee00418, 0);
    const out = vtdIrRemap(unit, request);
    expect(out).toEqual({
      kind: 'remapped',
      index: 32,
      destination: 1,
      destinationMode: 1,
      vector: 37,
      deliveryMode: 0,
      triggerMode: 0,
      redirectionHint: 1,
      iecHit: false,
      ioapicRte: null,
    });
    if (out.kind !== 'remapped') return;
    expect(remappedAsMsiMessage(out, request)).toEqual({
      addrLo: 0xfee0100c,
      addrHi: 0,
      data: 0x4025,
    });
  });
  it('faults a not-present IRTE with 22h; FPD keeps it out of the log but still blocks', () => {
    const unit = unitWith();
    expect(vtdIrRemap(unit, msiTo(5))).toMatchObject({
      kind: 'fault',
      reason: 0x22,
      recorded: true,
    });
    withIrte(unit, 6, encodeIrteRemapped({ faultProcessingDisable: 1 }));
    expect(vtdIrRemap(unit, msiTo(6))).toMatchObject({
      kind: 'fault',
      reason: 0x22,
      recorded: false,
    });
    expect(unit.faultLog.map((f) => f.index)).toEqual([5]);
  });
  it('faults reserved IRTE bits with 24h, including xAPIC-reserved DST bits', () => {
    const unit = withIrte(unitWith(), 1, encodeIrteRemapped({ present: 1, reserved3: 1 }));
    withIrte(unit, 2, encodeIrteRemapped({ present: 1, destinationId: 0x1 }));
    expect(vtdIrRemap(unit, msiTo(1))).toMatchObject({ kind: 'fault', reason: 0x24 });
    expect(vtdIrRemap(unit, msiTo(2))).toMatchObject({ kind: 'fault', reason: 0x24 });
  });
  it('faults a posted IRTE with 24h where posted interrupts are not supported', () => {
    const words = encodeIrtePosted({ present: 1, virtualVector: 0x40, pdaLow: 1 });
    expect(
      vtdIrRemap(withIrte(unitWith({ postedInterrupts: false }), 3, words), msiTo(3)),
    ).toMatchObject({
      kind: 'fault',
      reason: 0x24,
    });
    expect(vtdIrRemap(withIrte(unitWith(), 3, words), msiTo(3))).toEqual({
      kind: 'posted',
      index: 3,
      pda: { lo: 0x40, hi: 0 },
      vector: 0x40,
      urgent: 0,
      iecHit: false,
    });
  });
  it('faults a requester the IRTE does not name with 26h; FPD suppresses the record', () => {
    const other = 0x18 as RequesterId; // 00:03.0
    const unit = withIrte(unitWith(), 32, IRTE_32);
    expect(vtdIrRemap(unit, msiTo(32, other))).toMatchObject({
      kind: 'fault',
      reason: IR_FAULT_REASON.sourceIdInvalid,
      index: 32,
      sourceId: other,
      recorded: true,
    });
    const fpd = [...IRTE_32];
    fpd[0] |= 2;
    withIrte(unit, 33, fpd);
    expect(vtdIrRemap(unit, msiTo(33, other))).toMatchObject({ reason: 0x26, recorded: false });
    expect(unit.faultLog).toHaveLength(1);
  });
  it('reads the whole of DST as the APIC ID in x2APIC mode (EIME)', () => {
    const unit = withIrte(
      unitWith({ eime: true }),
      9,
      encodeIrteRemapped({ present: 1, vector: 0x30, destinationId: 0x1234 }),
    );
    const out = vtdIrRemap(unit, msiTo(9));
    expect(out).toMatchObject({ kind: 'remapped', destination: 0x1234 });
    if (out.kind !== 'remapped') return;
    // QEMU keeps destination bits 31:8 in the upper address (x86_iommu_irq_to_msi_message).
    expect(remappedAsMsiMessage(out, msiTo(9))).toEqual({
      addrLo: 0xfee34000,
      addrHi: 0x1200,
      data: 0x4030,
    });
  });
  it('uses the IRTE vector for an IOAPIC request and reports the RTE vector it carried', () => {
    // QEMU-Q35.md fact 4: addr 0xfee00070 data 0x4 -> IRTE 3 `low 0x4ff00 high 0x4000022000d`.
    const ioapic = 0xff00 as RequesterId;
    const irte3 = [...dwordsFromBigInt(0x4000022000dn, 64), ...dwordsFromBigInt(0x4ff00n, 64)];
    const out = vtdIrRemap(withIrte(unitWith(), 3, irte3), tx(0xfee00070, 0x4, ioapic));
    expect(out).toMatchObject({
      kind: 'remapped',
      vector: 0x22,
      destination: 4,
      ioapicRte: { vector: 4, triggerMode: 0 },
    });
    if (out.kind !== 'remapped') return;
    expect(remappedAsMsiMessage(out, tx(0xfee00070, 0x4, ioapic))).toEqual({
      addrLo: 0xfee0400c,
      addrHi: 0,
      data: 0x4022,
    });
  });
});

describe('interrupt entry cache', () => {
  it('keeps using a cached IRTE after memory changes, until an invalidation covers it', () => {
    // QEMU-Q35.md fact 6: IRTE 32 held vector 0x24, then 0x25 after nvme re-enabled MSI-X.
    const old = [...IRTE_32];
    old[0] = 0x24000d;
    const unit = withIrte(unitWith(), 32, old);
    expect(vtdIrRemap(unit, msiTo(32))).toMatchObject({ vector: 0x24, iecHit: false });
    writeIrte(unit.table, 32, IRTE_32);
    expect(vtdIrRemap(unit, msiTo(32))).toMatchObject({ vector: 0x24, iecHit: true });
    vtdIrInvalidate(unit, { granularity: 'index', index: 33, indexMask: 0 });
    expect(vtdIrRemap(unit, msiTo(32))).toMatchObject({ vector: 0x24, iecHit: true });
    vtdIrInvalidate(unit, { granularity: 'index', index: 32, indexMask: 0 });
    expect(vtdIrRemap(unit, msiTo(32))).toMatchObject({ vector: 0x25, iecHit: false });
  });
  it('keeps routing through a cached entry that memory has since cleared', () => {
    const unit = withIrte(unitWith(), 32, IRTE_32);
    vtdIrRemap(unit, msiTo(32));
    writeIrte(unit.table, 32, [0, 0, 0, 0]);
    expect(vtdIrRemap(unit, msiTo(32)).kind).toBe('remapped');
    vtdIrInvalidate(unit, { granularity: 'global' });
    expect(vtdIrRemap(unit, msiTo(32))).toMatchObject({ kind: 'fault', reason: 0x22 });
  });
});

describe('properties', () => {
  const u32 = fc.integer({ min: 0, max: 0xffffffff });
  it('never throws on any IRTE contents and any request; faults carry a spec reason', () => {
    const reasons = new Set<number>(Object.values(IR_FAULT_REASON));
    fc.assert(
      fc.property(
        fc.array(u32, { minLength: 4, maxLength: 4 }),
        fc.record({
          addrLo: fc.oneof(u32, fc.integer({ min: 0xfee00000, max: 0xfeefffff })),
          addrHi: fc.oneof(fc.constant(0), u32),
          data: u32,
          requesterId: fc.integer({ min: 0, max: 0xffff }),
        }),
        fc.record({
          eime: fc.boolean(),
          cfi: fc.boolean(),
          ire: fc.boolean(),
          postedInterrupts: fc.boolean(),
        }),
        (irte, req, flags) => {
          const unit = unitWith({ ...flags, tableSize: 0 });
          writeIrte(unit.table, 0, irte);
          writeIrte(unit.table, 1, irte);
          const out = vtdIrRemap(unit, req as MsiTransaction);
          if (out.kind === 'fault') expect(reasons.has(out.reason)).toBe(true);
        },
      ),
    );
  });
});
