// VF Routing IDs (PCIe 6.0, 9.3.3.9 First VF Offset and 9.3.3.10 VF Stride): VF n has Routing ID
// PF RID + First VF Offset + (n - 1) * VF Stride, bus and device included.
import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/hw/errors.js';
import { formatBdf, parseBdf } from '../../../src/hw/pci/bdf.js';
import { buildConfigSpace } from '../../../src/hw/pci/config-space-builder.js';
import { decodeSriovCapability, vfRequesterIds } from '../../../src/hw/pci/sriov-capability.js';

const names = (ids: ReturnType<typeof vfRequesterIds>) =>
  ids.map((vf) => formatBdf(vf.bdf, { withSegment: false }));

describe('vfRequesterIds', () => {
  it('ConnectX-style PF 3b:00.0, offset 2, stride 1: VFs 3b:00.2 .. 3b:01.1', () => {
    // 0x3b00 + 2 = 0x3b02 (3b:00.2); VF 8 = 0x3b02 + 7 = 0x3b09 (3b:01.1): the function number
    // carries into the device number because a RID is one 16-bit number (no ARI needed here).
    const ids = vfRequesterIds(parseBdf('3b:00.0'), {
      firstVfOffset: 2,
      vfStride: 1,
      numVfs: 8,
      totalVfs: 8,
    });
    expect(ids.map((vf) => vf.requesterId)).toEqual([
      0x3b02, 0x3b03, 0x3b04, 0x3b05, 0x3b06, 0x3b07, 0x3b08, 0x3b09,
    ]);
    expect(names(ids)).toEqual([
      '3b:00.2',
      '3b:00.3',
      '3b:00.4',
      '3b:00.5',
      '3b:00.6',
      '3b:00.7',
      '3b:01.0',
      '3b:01.1',
    ]);
    expect(ids[0].vf).toBe(1);
  });
  it('a stride of 8 with an offset of 0x80 puts VFs on the next bus (RID arithmetic crosses buses)', () => {
    const ids = vfRequesterIds(parseBdf('00:04.0'), {
      firstVfOffset: 0x100 - 0x20,
      vfStride: 8,
      numVfs: 3,
      totalVfs: 4,
    });
    // PF RID 0x0020; VF1 0x0100 = 01:00.0, VF2 0x0108 = 01:01.0, VF3 0x0110 = 01:02.0
    expect(names(ids)).toEqual(['01:00.0', '01:01.0', '01:02.0']);
  });
  it('defaults to NumVFs and accepts any count up to TotalVFs', () => {
    const sriov = { firstVfOffset: 1, vfStride: 1, numVfs: 2, totalVfs: 4 };
    expect(vfRequesterIds(parseBdf('05:00.0'), sriov)).toHaveLength(2);
    expect(vfRequesterIds(parseBdf('05:00.0'), sriov, 4)).toHaveLength(4);
    expect(vfRequesterIds(parseBdf('05:00.0'), { ...sriov, numVfs: 0 })).toEqual([]);
  });
  it('rejects counts above TotalVFs and RIDs past 0xffff', () => {
    const sriov = { firstVfOffset: 1, vfStride: 1, numVfs: 2, totalVfs: 4 };
    expect(() => vfRequesterIds(parseBdf('05:00.0'), sriov, 5)).toThrow(InputError);
    expect(() =>
      vfRequesterIds(parseBdf('ff:1f.0'), {
        firstVfOffset: 8,
        vfStride: 1,
        numVfs: 2,
        totalVfs: 2,
      }),
    ).toThrow(/beyond 0xffff/);
  });
  it('reads First VF Offset, VF Stride and NumVFs from a built SR-IOV capability', () => {
    const space = buildConfigSpace({
      vendorId: 0x15b3,
      deviceId: 0x1017,
      classCode: 0x020000,
      capabilities: [
        { kind: 'pcie', devicePortType: 'endpoint' },
        { kind: 'sriov', totalVfs: 16, firstVfOffset: 2, vfStride: 1, vfDeviceId: 0x1018 },
      ],
    });
    const sriov = decodeSriovCapability(space, 0x100);
    expect(names(vfRequesterIds(parseBdf('3b:00.0'), sriov, 2))).toEqual(['3b:00.2', '3b:00.3']);
  });
});
