// mlx5-like PF with SR-IOV. Expected requester IDs follow the SR-IOV rule (PCIe 6.0, 9.3.3.9-10):
// VF n's Routing ID = PF RID + First VF Offset + (n - 1) * VF Stride, worked by hand below.
import { describe, expect, it } from 'vitest';
import { endpointBarWrite, endpointConfigWrite } from '../../../src/hw/devices/endpoint.js';
import { mlx5Function, mlx5Raise, newMlx5 } from '../../../src/hw/devices/mlx5.js';
import { InputError } from '../../../src/hw/errors.js';
import { formatBdf, parseBdf } from '../../../src/hw/pci/bdf.js';
import { decodeConfigHeader } from '../../../src/hw/pci/config-space.js';

const PF = parseBdf('3b:00.0'); // RID 0x3b00

describe('mlx5 VF requester IDs', () => {
  it('First VF Offset 2, Stride 1: VFs 1-4 are 3b:00.2-3b:00.5 (RID 0x3b02-0x3b05)', () => {
    const dev = newMlx5({ bdf: PF, numVfs: 4, firstVfOffset: 2, vfStride: 1 });
    expect(dev.vfs.map((vf) => vf.requesterId)).toEqual([0x3b02, 0x3b03, 0x3b04, 0x3b05]);
    expect(dev.vfs.map((vf) => formatBdf(vf.bdf, { withSegment: false }))).toEqual([
      '3b:00.2',
      '3b:00.3',
      '3b:00.4',
      '3b:00.5',
    ]);
  });

  it('First VF Offset 8, Stride 2: VF 1 is 3b:01.0 and VF 3 is 3b:01.4', () => {
    // 0x3b00 + 8 = 0x3b08 = bus 3b device 1 function 0; + 2 * 2 = 0x3b0c = 3b:01.4.
    const dev = newMlx5({ bdf: PF, numVfs: 3, firstVfOffset: 8, vfStride: 2 });
    expect(dev.vfs.map((vf) => vf.requesterId)).toEqual([0x3b08, 0x3b0a, 0x3b0c]);
  });

  it('each VF signals with its own requester ID, through its own MSI-X table', () => {
    const dev = newMlx5({ bdf: PF, numVfs: 2, firstVfOffset: 2, vfStride: 1, vfMsixEntries: 4 });
    const vf2 = mlx5Function(dev, 2);
    expect(vf2.msix?.entries).toBe(4);
    endpointConfigWrite(vf2, vf2.msixLayout!.capOffset + 2, 2, 0x8000);
    endpointBarWrite(vf2, 0, 0x2000 + 3 * 16, 0xfee01004);
    endpointBarWrite(vf2, 0, 0x2000 + 3 * 16 + 12, 0);
    const e = mlx5Raise(dev, 2, { kind: 'msix', entry: 3 });
    expect(e.kind === 'msi-write' && e.tx).toEqual({
      addrLo: 0xfee01004,
      addrHi: 0,
      data: 0,
      requesterId: 0x3b03,
    });
    // VF 1 is a function of its own: its software has not enabled MSI-X, so it cannot signal.
    expect(mlx5Raise(dev, 1, { kind: 'msix', entry: 3 }).kind).toBe('dropped');
  });

  it('a VF reads Vendor ID and Device ID as FFFFh', () => {
    const dev = newMlx5({ bdf: PF, numVfs: 1 });
    const header = decodeConfigHeader(dev.vfs[0].config);
    expect([header.vendorId, header.deviceId]).toEqual([0xffff, 0xffff]);
    expect(decodeConfigHeader(dev.pf.config).vendorId).toBe(0x15b3);
  });

  it('rejects more VFs than TotalVFs and a VF number that does not exist', () => {
    expect(() => newMlx5({ bdf: PF, numVfs: 5, totalVfs: 4 })).toThrow(InputError);
    expect(() => mlx5Function(newMlx5({ bdf: PF, numVfs: 2 }), 3)).toThrow(InputError);
  });
});
