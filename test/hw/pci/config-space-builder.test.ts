import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/hw/errors.js';
import { CAP_ID, EXT_CAP_ID } from '../../../src/hw/pci/capability-ids.js';
import { walkCapabilities } from '../../../src/hw/pci/capability-list.js';
import { decodeConfigHeader } from '../../../src/hw/pci/config-space.js';
import { buildConfigSpace } from '../../../src/hw/pci/config-space-builder.js';
import { decodeMsiCapability } from '../../../src/hw/pci/msi-capability.js';
import { decodeMsixCapability } from '../../../src/hw/pci/msix-capability.js';
import { decodePasidCapability } from '../../../src/hw/pci/pasid-capability.js';
import { decodeSriovCapability } from '../../../src/hw/pci/sriov-capability.js';

const MLX5_LIKE = {
  vendorId: 0x15b3,
  deviceId: 0x101d,
  classCode: 0x020000,
  bars: [{ index: 0, type: 'memory64', prefetchable: true, address: 0xe0000000 }] as const,
  capabilities: [
    { kind: 'pcie', devicePortType: 'endpoint' },
    { kind: 'msix', tableSize: 64, tableBir: 0, tableOffset: 0x2000, pbaBir: 0, pbaOffset: 0x3000 },
    { kind: 'pm' },
    { kind: 'sriov', totalVfs: 8, firstVfOffset: 1, vfStride: 1, vfDeviceId: 0x101e },
    { kind: 'pasid', maxPasidWidth: 20, executePermission: true },
  ],
} as const;

describe('buildConfigSpace', () => {
  it('lays out standard capabilities from 0x40 and extended ones from 0x100, in order', () => {
    const space = buildConfigSpace(MLX5_LIKE);
    expect(space.bytes.length).toBe(4096);
    const caps = walkCapabilities(space);
    expect(caps.map((c) => [c.id, c.offset, c.extended])).toEqual([
      [CAP_ID.pciExpress, 0x40, false],
      [CAP_ID.msix, 0x7c, false], // PCIe v2 structure is 0x3c bytes (PCIe 6.0, Figure 7-24)
      [CAP_ID.powerManagement, 0x88, false], // MSI-X structure is 12 bytes
      [EXT_CAP_ID.sriov, 0x100, true],
      [EXT_CAP_ID.pasid, 0x140, true], // SR-IOV structure is 0x40 bytes
    ]);
  });

  it('writes the header fields and the capability registers so that the decoders read them back', () => {
    const space = buildConfigSpace(MLX5_LIKE);
    const header = decodeConfigHeader(space);
    expect(header.vendorId).toBe(0x15b3);
    expect(header.classCode).toBe(0x020000);
    expect(header.bars.slice(0, 2)).toEqual([0xe000000c, 0]); // 64-bit prefetchable: type bits 1100b
    expect(decodeMsixCapability(space, 0x7c)).toMatchObject({
      tableSize: 64,
      tableBir: 0,
      tableOffset: 0x2000,
      pbaOffset: 0x3000,
      msixEnable: false,
    });
    expect(decodeSriovCapability(space, 0x100)).toMatchObject({
      totalVfs: 8,
      initialVfs: 8,
      numVfs: 0,
      firstVfOffset: 1,
      vfStride: 1,
      vfDeviceId: 0x101e,
      systemPageSize: 1,
    });
    expect(decodePasidCapability(space, 0x140).capability).toMatchObject({
      maxPasidWidth: 20,
      executePermissionSupported: 1,
      privilegedModeSupported: 0,
    });
  });

  it('builds each MSI variant with the offsets of the spec figures', () => {
    const space = buildConfigSpace({
      vendorId: 0x8086,
      deviceId: 0x0b25,
      classCode: 0x088000,
      capabilities: [{ kind: 'msi', count: 8, is64: true, perVectorMasking: true }],
    });
    expect(space.bytes.length).toBe(256);
    const msi = decodeMsiCapability(space, 0x40);
    expect(msi).toMatchObject({ multipleMessageCapable: 8, is64Bit: true, perVectorMasking: true });
    expect(msi.maskBits).toBe(0);
  });

  it('rejects out-of-range values naming the field', () => {
    const bad = (cap: object) => () =>
      buildConfigSpace({ vendorId: 1, deviceId: 2, classCode: 0, capabilities: [cap as never] });
    expect(
      bad({ kind: 'msix', tableSize: 2049, tableBir: 0, tableOffset: 0, pbaBir: 0, pbaOffset: 0 }),
    ).toThrow(/msix.tableSize/);
    expect(
      bad({ kind: 'msix', tableSize: 4, tableBir: 6, tableOffset: 0, pbaBir: 0, pbaOffset: 0 }),
    ).toThrow(/msix.tableBir/);
    expect(
      bad({ kind: 'msix', tableSize: 4, tableBir: 0, tableOffset: 4, pbaBir: 0, pbaOffset: 0 }),
    ).toThrow(InputError);
    expect(bad({ kind: 'msi', count: 3, is64: false, perVectorMasking: false })).toThrow(
      /msi.count/,
    );
    expect(bad({ kind: 'pasid', maxPasidWidth: 21 })).toThrow(/pasid.maxPasidWidth/);
  });
});
