// x86 interrupt message formats. Expected values are worked by hand from the bit positions in
// Intel SDM Vol. 3A 11.11.1/11.11.2 and Intel VT-d 5.1.2.2 (cited per case), or come from the
// QEMU q35 recording (../shared/fixtures/QEMU-Q35.md); round trips are properties.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/hw/errors.js';
import {
  addressHandle,
  compatDestinationApicId,
  composeCompatMsi,
  composeRemappableMsi,
  decodeMsiMessage,
  interruptIndex,
  splitExtDestApicId,
} from '../../../src/hw/x86/msi-message.js';

const compat = {
  destinationId: 0,
  extendedDestinationId: 0,
  destinationMode: 0,
  redirectionHint: 0,
  dontCare: 0,
  vector: 0,
  deliveryMode: 0,
  level: 0,
  triggerMode: 0,
};

describe('compatibility format (SDM 11.11)', () => {
  it('puts 0FEEH in 31:20, the destination in 19:12, RH in 3 and DM in 2', () => {
    // SDM 11.11.1: APIC 0x05 physical -> 0xFEE0_5000; with RH and DM set -> 0xFEE0_500C.
    expect(composeCompatMsi({ ...compat, destinationId: 5 }).addrLo).toBe(0xfee05000);
    const m = composeCompatMsi({
      ...compat,
      destinationId: 5,
      redirectionHint: 1,
      destinationMode: 1,
    });
    expect(m.addrLo).toBe(0xfee0500c);
    expect(m.addrHi).toBe(0);
  });
  it('puts the vector in 7:0, delivery mode in 10:8, level in 14, trigger mode in 15', () => {
    // SDM 11.11.2: vector 0x31, lowest priority (001b), level-triggered asserted -> 0xC131.
    const m = composeCompatMsi({
      ...compat,
      vector: 0x31,
      deliveryMode: 1,
      level: 1,
      triggerMode: 1,
    });
    expect(m.data).toBe(0xc131);
  });
  it('decodes the noir fixture entry virtio0-input.0: dest 0x01 logical, vector 0x22 fixed edge', () => {
    // QEMU-Q35.md fact 3: 0xFEE01004 / 0x00000022.
    expect(decodeMsiMessage(0xfee01004, 0, 0x22)).toEqual({
      format: 'compatibility',
      destinationId: 0x01,
      extendedDestinationId: 0,
      destinationMode: 1,
      redirectionHint: 0,
      dontCare: 0,
      vector: 0x22,
      deliveryMode: 0,
      level: 0,
      triggerMode: 0,
      reservedBitsSet: [],
    });
  });
  it('carries APIC ID bits 14:8 in address 11:5 with the extended destination ID', () => {
    // Linux x86_msi_addr_lo.virt_destid_8_14 (bits 11:5): APIC 0x1234 -> 0x34 in 19:12, 0x12
    // in 11:5 -> 0xFEE34000 | 0x12 << 5 = 0xFEE34240.
    const split = splitExtDestApicId(0x1234);
    const m = composeCompatMsi({ ...compat, ...split });
    expect(m.addrLo).toBe(0xfee34240);
    const d = decodeMsiMessage(m.addrLo, 0, 0);
    if (d.format !== 'compatibility') throw new Error(d.format);
    expect(compatDestinationApicId(d, { virtExtDestId: true })).toBe(0x1234);
    expect(compatDestinationApicId(d, { virtExtDestId: false })).toBe(0x34);
    expect(() => splitExtDestApicId(0x8000)).toThrow(InputError);
  });
  it('reports reserved data bits', () => {
    const d = decodeMsiMessage(0xfee00000, 0, 0x10800);
    expect(d.format === 'compatibility' && d.reservedBitsSet).toEqual(['reserved', 'reservedHigh']);
  });
  it('rejects a field wider than the SDM allows, naming it', () => {
    expect(() => composeCompatMsi({ ...compat, vector: 0x100 })).toThrow(/msi-data-compat\.vector/);
    expect(() => composeCompatMsi({ ...compat, destinationId: 0x100 })).toThrow(InputError);
  });
});

describe('remappable format (VT-d 5.1.2.2)', () => {
  it('decodes nvme0q0 of the IR fixture: handle 32, SHV, subhandle 0 -> IRTE 32', () => {
    // QEMU-Q35.md fact 1: 0xFEE00418: bit 4 = 1, bit 3 = 1, bits 19:5 = 0x20.
    expect(decodeMsiMessage(0xfee00418, 0, 0)).toEqual({
      format: 'remappable',
      handle: 32,
      shv: 1,
      subhandle: 0,
      dontCare: 0,
      interruptIndex: 32,
      reservedBitsSet: [],
    });
  });
  it('composes handle[15] into address bit 2 and handle[14:0] into 19:5', () => {
    // handle 0x8000: only bit 2 and the format bit -> 0xFEE00014.
    expect(composeRemappableMsi({ handle: 0x8000, shv: 0, subhandle: 0, dontCare: 0 }).addrLo).toBe(
      0xfee00014,
    );
    // handle 0xFFFF with SHV: 0x7FFF << 5 = 0xFFFE0, | 0x1C -> 0xFEEFFFFC.
    expect(composeRemappableMsi({ handle: 0xffff, shv: 1, subhandle: 0, dontCare: 0 }).addrLo).toBe(
      0xfeeffffc,
    );
    expect(() =>
      composeRemappableMsi({ handle: 0x10000, shv: 0, subhandle: 0, dontCare: 0 }),
    ).toThrow(InputError);
  });
  it('selects handle + subhandle with SHV and the handle alone without it (5.1.2.2)', () => {
    expect(interruptIndex(16, 1, 3)).toBe(19);
    expect(interruptIndex(16, 0, 3)).toBe(16);
    // An IOAPIC request (QEMU-Q35.md fact 4): 0xfee00070 data 0x4 is handle 3, no SHV.
    const d = decodeMsiMessage(0xfee00070, 0, 4);
    expect(d.format === 'remappable' && [d.handle, d.shv, d.interruptIndex]).toEqual([3, 0, 3]);
  });
  it('reads the handle bits of a compatibility address as hardware reports its fault index', () => {
    // 0xFEE04004: bits 19:5 = 0x200, bit 2 = 1 -> 0x8200, the "fault index 0x8200 [fault reason
    // 0x25]" Linux prints for a blocked compatibility MSI to logical APIC 0x04.
    expect(addressHandle(0xfee04004)).toBe(0x8200);
  });
});

describe('not an interrupt', () => {
  it('says so for an address outside 0xFEExxxxx or with a non-zero upper dword', () => {
    expect(decodeMsiMessage(0xfed00000, 0, 0).format).toBe('not-interrupt');
    expect(decodeMsiMessage(0xfee00000, 1, 0).format).toBe('not-interrupt');
    expect(decodeMsiMessage(0, 0, 0).format).toBe('not-interrupt');
  });
  it('rejects a value that is not a dword', () => {
    expect(() => decodeMsiMessage(2 ** 32, 0, 0)).toThrow(InputError);
    expect(() => decodeMsiMessage(0xfee00000, 0, -1)).toThrow(InputError);
  });
});

describe('properties', () => {
  const bits = (n: number) => fc.integer({ min: 0, max: 2 ** n - 1 });
  it('decode(composeCompatMsi(x)) == x', () => {
    fc.assert(
      fc.property(
        fc.record({
          destinationId: bits(8),
          extendedDestinationId: bits(7),
          destinationMode: bits(1),
          redirectionHint: bits(1),
          dontCare: bits(2),
          vector: bits(8),
          deliveryMode: bits(3),
          level: bits(1),
          triggerMode: bits(1),
        }),
        (f) => {
          const m = composeCompatMsi(f);
          expect(decodeMsiMessage(m.addrLo, m.addrHi, m.data)).toEqual({
            format: 'compatibility',
            ...f,
            reservedBitsSet: [],
          });
        },
      ),
    );
  });
  it('decode(composeRemappableMsi(x)) == x', () => {
    fc.assert(
      fc.property(
        fc.record({ handle: bits(16), shv: bits(1), subhandle: bits(16), dontCare: bits(2) }),
        (f) => {
          const m = composeRemappableMsi(f);
          expect(decodeMsiMessage(m.addrLo, m.addrHi, m.data)).toEqual({
            format: 'remappable',
            ...f,
            interruptIndex: f.shv ? f.handle + f.subhandle : f.handle,
            reservedBitsSet: [],
          });
        },
      ),
    );
  });
  it('every dword triple decodes to exactly one of the three kinds, without throwing', () => {
    fc.assert(
      fc.property(bits(32), bits(32), bits(32), (lo, hi, data) => {
        const d = decodeMsiMessage(lo, hi, data);
        const inRange = hi === 0 && Math.floor(lo / 2 ** 20) === 0xfee;
        expect(d.format === 'not-interrupt').toBe(!inRange);
      }),
    );
  });
});
