// configWrite applies each bit's attribute from the spec's register descriptions (PCIe Base Spec
// 6.0, 7.4 Table 7-2 "Register and Register Bit-Field Types", and the register sections cited per
// test). Expected values are what those descriptions say the register reads after the write.
import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/hw/errors.js';
import { readConfigDword, readConfigWord, setConfig } from '../../../src/hw/pci/config-space.js';
import { buildConfigSpace } from '../../../src/hw/pci/config-space-builder.js';
import { configWrite } from '../../../src/hw/pci/config-write.js';

// Offsets follow from the builder's layout (tested in config-space-builder.test.ts):
// PCIe 0x40 (0x3c bytes), MSI-X 0x7c, MSI 64-bit+PVM 0x88, PM 0xa0; SR-IOV 0x100, PASID 0x140.
const PCIE = 0x40;
const MSIX = 0x7c;
const MSI = 0x88;
const SRIOV = 0x100;
const PASID = 0x140;

const device = () =>
  buildConfigSpace({
    vendorId: 0x15b3,
    deviceId: 0x101d,
    classCode: 0x020000,
    capabilities: [
      { kind: 'pcie', devicePortType: 'endpoint' },
      {
        kind: 'msix',
        tableSize: 8,
        tableBir: 0,
        tableOffset: 0x2000,
        pbaBir: 0,
        pbaOffset: 0x3000,
      },
      { kind: 'msi', count: 4, is64: true, perVectorMasking: true },
      { kind: 'pm' },
      { kind: 'sriov', totalVfs: 4, firstVfOffset: 2, vfStride: 1, vfDeviceId: 0x101e },
      { kind: 'pasid', maxPasidWidth: 20 },
    ],
  });

describe('header Command/Status (PCIe 6.0, 7.5.1.1.3 and 7.5.1.1.4)', () => {
  it('Command bits take the write; hardwired bits (Special Cycle, 3) keep 0', () => {
    const space = device();
    configWrite(space, 0x04, 2, 0x0406 | 0x0008);
    // Memory Space (1), Bus Master (2), Interrupt Disable (10) set; Special Cycle stays 0.
    expect(readConfigWord(space, 0x04)).toBe(0x0406);
  });
  it('Status error bits are RW1C: writing 1 clears, 0 leaves; Capabilities List is RO', () => {
    const space = device();
    // Received Master Abort (13) and Detected Parity Error (15) set by the device.
    setConfig(space, 0x06, 2, 0xa010);
    configWrite(space, 0x06, 2, 0x2000);
    expect(readConfigWord(space, 0x06)).toBe(0x8010);
    configWrite(space, 0x06, 2, 0x0000);
    expect(readConfigWord(space, 0x06)).toBe(0x8010);
    configWrite(space, 0x06, 2, 0xffff);
    expect(readConfigWord(space, 0x06)).toBe(0x0010); // only Capabilities List (RO) is left
  });
  it('a dword write at 0x04 writes Command and Status with their own attributes', () => {
    const space = device();
    setConfig(space, 0x06, 2, 0x4010); // Signaled System Error
    const result = configWrite(space, 0x04, 4, 0x40000002);
    expect(readConfigDword(space, 0x04)).toBe(0x00100002);
    expect(result.registers.map((r) => r.register)).toEqual(['Command', 'Status']);
  });
  it('Vendor ID, Device ID and Class Code are read-only', () => {
    const space = device();
    configWrite(space, 0x00, 4, 0xffffffff);
    configWrite(space, 0x08, 4, 0xffffffff);
    expect(readConfigDword(space, 0x00)).toBe(0x101d15b3);
    expect(readConfigDword(space, 0x08)).toBe(0x02000000);
  });
  it('Interrupt Line is a scratch register, Interrupt Pin is read-only', () => {
    const space = device();
    configWrite(space, 0x3c, 2, 0x040b);
    expect(readConfigWord(space, 0x3c)).toBe(0x000b);
  });
});

describe('MSI-X Message Control (PCIe 6.0, 7.7.2.2)', () => {
  it('Table Size is RO; Function Mask and MSI-X Enable are RW; bits 13:11 RsvdP', () => {
    const space = device();
    configWrite(space, MSIX + 2, 2, 0xffff);
    expect(readConfigWord(space, MSIX + 2)).toBe(0xc007); // enable, mask, N-1 = 7
    configWrite(space, MSIX + 2, 2, 0x8000);
    expect(readConfigWord(space, MSIX + 2)).toBe(0x8007);
  });
  it('a byte write to the upper byte of Message Control touches only bits 15:8', () => {
    const space = device();
    const r = configWrite(space, MSIX + 3, 1, 0x80);
    expect(readConfigWord(space, MSIX + 2)).toBe(0x8007);
    expect(r.registers).toHaveLength(1);
    expect(r.registers[0]).toMatchObject({ oldValue: 0x0007, newValue: 0x8007 });
  });
  it('Table Offset/BIR and PBA Offset/BIR are read-only', () => {
    const space = device();
    configWrite(space, MSIX + 4, 4, 0xffffffff);
    configWrite(space, MSIX + 8, 4, 0);
    expect(readConfigDword(space, MSIX + 4)).toBe(0x2000);
    expect(readConfigDword(space, MSIX + 8)).toBe(0x3000);
  });
});

describe('MSI (PCIe 6.0, 7.7.1)', () => {
  it('Enable and Multiple Message Enable are RW; MMC, 64-bit and PVM capable are RO', () => {
    const space = device();
    configWrite(space, MSI + 2, 2, 0x0021 | 0x000e);
    // 64-bit (bit 7), PVM (bit 8), MMC = 2 (4 vectors) stay; MME = 2, enable set.
    expect(readConfigWord(space, MSI + 2)).toBe(0x0100 | 0x0080 | 0x0004 | 0x0020 | 0x0001);
  });
  it('Extended Message Data Enable stays 0 when not capable (7.7.1.2)', () => {
    const space = device();
    configWrite(space, MSI + 2, 2, 0x0400);
    expect(readConfigWord(space, MSI + 2) & 0x0400).toBe(0);
  });
  it('address, upper address, data and mask bits are RW; bits 1:0 of the address stay 0', () => {
    const space = device();
    configWrite(space, MSI + 4, 4, 0xfee0100f);
    configWrite(space, MSI + 8, 4, 0x1);
    configWrite(space, MSI + 0x0c, 2, 0x4025);
    configWrite(space, MSI + 0x10, 4, 0xa);
    expect(readConfigDword(space, MSI + 4)).toBe(0xfee0100c);
    expect(readConfigDword(space, MSI + 8)).toBe(1);
    expect(readConfigWord(space, MSI + 0x0c)).toBe(0x4025);
    expect(readConfigDword(space, MSI + 0x10)).toBe(0xa);
  });
  it('Pending Bits are read-only to software', () => {
    const space = device();
    setConfig(space, MSI + 0x14, 4, 0x3);
    configWrite(space, MSI + 0x14, 4, 0);
    expect(readConfigDword(space, MSI + 0x14)).toBe(0x3);
  });
});

describe('PCI Express Device Control/Status (PCIe 6.0, 7.5.3.4 and 7.5.3.5)', () => {
  it('Device Control is RW', () => {
    const space = device();
    configWrite(space, PCIE + 8, 2, 0x2810);
    expect(readConfigWord(space, PCIE + 8)).toBe(0x2810);
  });
  it('Device Status error bits are RW1C, AUX Power and Transactions Pending RO, 15:7 RsvdZ', () => {
    const space = device();
    setConfig(space, PCIE + 0x0a, 2, 0x003f);
    configWrite(space, PCIE + 0x0a, 2, 0xff05);
    expect(readConfigWord(space, PCIE + 0x0a)).toBe(0x003a);
  });
});

describe('SR-IOV Control and NumVFs (PCIe 6.0, 9.3.3.3 and 9.3.3.7)', () => {
  it('VF Enable/VF MSE/ARI Capable Hierarchy are RW, NumVFs RW, TotalVFs RO', () => {
    const space = device();
    configWrite(space, SRIOV + 8, 2, 0x0019);
    configWrite(space, SRIOV + 0x10, 2, 3);
    configWrite(space, SRIOV + 0x0e, 2, 99);
    expect(readConfigWord(space, SRIOV + 8)).toBe(0x0019);
    expect(readConfigWord(space, SRIOV + 0x10)).toBe(3);
    expect(readConfigWord(space, SRIOV + 0x0e)).toBe(4);
  });
  it('SR-IOV Control reserved bits 15:6 are RsvdP: the stored value is kept', () => {
    const space = device();
    setConfig(space, SRIOV + 8, 2, 0x8000);
    configWrite(space, SRIOV + 8, 2, 0x0001);
    expect(readConfigWord(space, SRIOV + 8)).toBe(0x8001);
  });
  it('PASID Control enables are RW, PASID Capability is RO', () => {
    const space = device();
    configWrite(space, PASID + 4, 4, 0x00071f06);
    expect(readConfigWord(space, PASID + 4)).toBe(0x1400);
    expect(readConfigWord(space, PASID + 6)).toBe(0x0007);
  });
});

describe('accesses the spec does not allow', () => {
  it.each([
    [0x05, 2, 0, /must be aligned/],
    [0x06, 4, 0, /must be aligned/],
    [0x1000, 1, 0, /outside/],
    [0x04, 3, 0, /size 3/],
    [0x04, 2, 0x10000, /does not fit/],
  ])('write at %s size %s is an InputError', (offset, size, value, message) => {
    expect(() => configWrite(device(), offset, size as 1, value)).toThrow(InputError);
    expect(() => configWrite(device(), offset, size as 1, value)).toThrow(message);
  });
  it('reports bytes that no known register holds and leaves them alone', () => {
    const space = device();
    const r = configWrite(space, 0x38, 4, 0xffffffff); // reserved dword of the Type 0 header
    expect(r.ignoredBytes).toEqual([0x38, 0x39, 0x3a, 0x3b]);
    expect(readConfigDword(space, 0x38)).toBe(0);
  });
});
