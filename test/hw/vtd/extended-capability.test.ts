// ECAP_REG (VT-d 11.4.3) against QEMU's intel-iommu (hw/i386/intel_iommu_internal.h: VTD_ECAP_QI
// 1 << 1, VTD_ECAP_IR 1 << 3, VTD_ECAP_EIM 1 << 4, VTD_ECAP_PT 1 << 6, VTD_ECAP_MHMV 15 << 20,
// VTD_ECAP_IRO DMAR_IOTLB_REG_OFFSET 0xf0 << 4) and the value the recorded guest printed.
import { describe, expect, test } from 'vitest';
import { decodeEcap, EXTENDED_CAPABILITY } from '../../../src/hw/vtd/extended-capability.js';
import { readFixture } from '../../fixtures.js';

const QEMU = { qi: 1n << 1n, ir: 1n << 3n, eim: 1n << 4n, pt: 1n << 6n, mhmv: 15n << 20n };
const IRO = 0xf0n << 4n;

describe('ECAP_REG', () => {
  test("QEMU's bits, one field each", () => {
    expect(decodeEcap(QEMU.qi)).toMatchObject({ qi: 1, ir: 0, eim: 0 });
    expect(decodeEcap(QEMU.ir)).toMatchObject({ qi: 0, ir: 1, eim: 0 });
    expect(decodeEcap(QEMU.eim)).toMatchObject({ ir: 0, eim: 1, pt: 0 });
    expect(decodeEcap(QEMU.pt)).toMatchObject({ pt: 1, eim: 0 });
    expect(decodeEcap(QEMU.mhmv)).toMatchObject({ mhmv: 0xf });
    expect(decodeEcap(IRO)).toMatchObject({ iro: 0xf });
  });

  test('intremap=on,eim=off is what the q35 guest printed: ecap f00f4a', () => {
    const value = QEMU.qi | QEMU.ir | QEMU.pt | QEMU.mhmv | IRO;
    expect(readFixture('qemu-q35-ir/dmesg-boot.txt')).toContain(`ecap ${value.toString(16)}\n`);
    expect(decodeEcap(value).eim).toBe(0);
  });

  test('the layout is 64 bits wide and its fields stay inside bits 23:0', () => {
    expect(EXTENDED_CAPABILITY.width).toBe(64);
    const his = Object.values(EXTENDED_CAPABILITY.fields).map(([hi]) => hi);
    expect(Math.max(...his)).toBe(23);
  });
});
