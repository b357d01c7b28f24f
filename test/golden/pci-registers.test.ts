// Golden tests: register offsets and bit positions as the PCI Express Base Spec 6.0 tables and
// figures give them (section cited per case), checked against irqlab's layouts and register
// tables. A value here is copied from the spec, never from the code.
import { describe, expect, it } from 'vitest';
import { encode } from '../../src/hw/bits.js';
import {
  CORRECTABLE_ERROR_STATUS,
  UNCORRECTABLE_ERROR_STATUS,
} from '../../src/hw/pci/aer-capability.js';
import type { ConfigRegister } from '../../src/hw/pci/config-register.js';
import { COMMAND, STATUS, TYPE0_HEADER } from '../../src/hw/pci/config-space.js';
import {
  MSI_MESSAGE_CONTROL,
  msiRegisterOffsets,
  msiRegisters,
} from '../../src/hw/pci/msi-capability.js';
import {
  MSIX_MESSAGE_CONTROL,
  MSIX_REGISTERS,
  MSIX_TABLE_OFFSET_BIR,
} from '../../src/hw/pci/msix-capability.js';
import { PASID_CAPABILITY, PASID_CONTROL } from '../../src/hw/pci/pasid-capability.js';
import {
  DEVICE_CAPABILITIES,
  DEVICE_CONTROL,
  DEVICE_STATUS,
  PCIE_CAPABILITIES,
  PCIE_REGISTERS_V2,
} from '../../src/hw/pci/pcie-capability.js';
import { PM_CONTROL_STATUS, PM_REGISTERS } from '../../src/hw/pci/pm-capability.js';
import { SRIOV_CONTROL, SRIOV_REGISTERS } from '../../src/hw/pci/sriov-capability.js';

const single = (register: ConfigRegister, field: string) =>
  encode(register.layout, { [field]: 1 })[0];
const offsets = (registers: readonly ConfigRegister[]) =>
  Object.fromEntries(registers.map((r) => [r.name, r.offset]));

describe('Type 0 header (PCIe 6.0, Figure 7-10 / 7.5.1.1-7.5.1.2)', () => {
  it('registers sit at the offsets of the figure', () => {
    expect(offsets(TYPE0_HEADER)).toMatchObject({
      'Vendor ID': 0x00,
      'Device ID': 0x02,
      Command: 0x04,
      Status: 0x06,
      'Revision ID / Class Code': 0x08,
      'Cache Line Size': 0x0c,
      'Header Type': 0x0e,
      'Base Address Register 0': 0x10,
      'Base Address Register 5': 0x24,
      'Subsystem Vendor ID / Subsystem ID': 0x2c,
      'Expansion ROM Base Address': 0x30,
      'Capabilities Pointer': 0x34,
      'Interrupt Line': 0x3c,
      'Interrupt Pin': 0x3d,
    });
  });
  it('Command bits: Memory Space 1, Bus Master 2, Interrupt Disable 10 (7.5.1.1.3)', () => {
    expect(single(COMMAND, 'memorySpaceEnable')).toBe(0x0002);
    expect(single(COMMAND, 'busMasterEnable')).toBe(0x0004);
    expect(single(COMMAND, 'interruptDisable')).toBe(0x0400);
  });
  it('Status bits: Interrupt Status 3, Capabilities List 4, Received Master Abort 13 (7.5.1.1.4)', () => {
    expect(single(STATUS, 'interruptStatus')).toBe(0x0008);
    expect(single(STATUS, 'capabilitiesList')).toBe(0x0010);
    expect(single(STATUS, 'receivedMasterAbort')).toBe(0x2000);
    expect(single(STATUS, 'detectedParityError')).toBe(0x8000);
    expect(STATUS.attributes.receivedMasterAbort).toBe('RW1C');
  });
});

describe('MSI capability (PCIe 6.0, 7.7.1)', () => {
  it('Message Control: Enable 0, MMC 3:1, MME 6:4, 64-bit 7, PVM 8, EMD capable 9 / enable 10', () => {
    const f = MSI_MESSAGE_CONTROL.layout.fields;
    expect([f.msiEnable[0], f.msiEnable[1]]).toEqual([0, 0]);
    expect([f.multipleMessageCapable[0], f.multipleMessageCapable[1]]).toEqual([3, 1]);
    expect([f.multipleMessageEnable[0], f.multipleMessageEnable[1]]).toEqual([6, 4]);
    expect(single(MSI_MESSAGE_CONTROL, 'address64BitCapable')).toBe(0x0080);
    expect(single(MSI_MESSAGE_CONTROL, 'perVectorMaskingCapable')).toBe(0x0100);
    expect(single(MSI_MESSAGE_CONTROL, 'extendedMessageDataCapable')).toBe(0x0200);
    expect(single(MSI_MESSAGE_CONTROL, 'extendedMessageDataEnable')).toBe(0x0400);
    expect(MSI_MESSAGE_CONTROL.attributes.multipleMessageCapable).toBe('RO');
    expect(MSI_MESSAGE_CONTROL.attributes.multipleMessageEnable).toBe('RW');
  });
  it.each([
    // [64-bit, PVM, address, upper, data, mask, pending] from the four structure figures
    [false, false, 0x04, undefined, 0x08, undefined, undefined],
    [true, false, 0x04, 0x08, 0x0c, undefined, undefined],
    [false, true, 0x04, undefined, 0x08, 0x0c, 0x10],
    [true, true, 0x04, 0x08, 0x0c, 0x10, 0x14],
  ])(
    '64-bit %s, per-vector masking %s: registers at the figure offsets',
    (is64, pvm, a, u, d, m, p) => {
      expect(msiRegisterOffsets(is64, pvm)).toMatchObject({
        messageAddress: a,
        messageUpperAddress: u,
        messageData: d,
        extendedMessageData: d + 2,
        maskBits: m,
        pendingBits: p,
      });
      const names = msiRegisters(is64, pvm).map((r) => r.name);
      expect(names.includes('MSI Mask Bits')).toBe(pvm);
      expect(names.includes('MSI Message Upper Address')).toBe(is64);
    },
  );
});

describe('MSI-X capability (PCIe 6.0, 7.7.2)', () => {
  it('Message Control: Table Size 10:0, Function Mask 14, MSI-X Enable 15', () => {
    const f = MSIX_MESSAGE_CONTROL.layout.fields;
    expect([f.tableSize[0], f.tableSize[1]]).toEqual([10, 0]);
    expect(single(MSIX_MESSAGE_CONTROL, 'functionMask')).toBe(0x4000);
    expect(single(MSIX_MESSAGE_CONTROL, 'msixEnable')).toBe(0x8000);
    expect(MSIX_MESSAGE_CONTROL.attributes).toMatchObject({
      tableSize: 'RO',
      functionMask: 'RW',
      msixEnable: 'RW',
    });
  });
  it('Table Offset/BIR at 04h and PBA Offset/BIR at 08h: BIR 2:0, offset 31:3', () => {
    expect(offsets(MSIX_REGISTERS)).toEqual({
      'MSI-X Message Control': 0x02,
      'MSI-X Table Offset/Table BIR': 0x04,
      'MSI-X PBA Offset/PBA BIR': 0x08,
    });
    // The worked value of the vm-virtio-pci fixture: 0x00008000 = BAR0, offset 0x8000.
    expect(encode(MSIX_TABLE_OFFSET_BIR.layout, { bir: 0, offset: 0x8000 / 8 })[0]).toBe(0x8000);
    expect(encode(MSIX_TABLE_OFFSET_BIR.layout, { bir: 3, offset: 0x2000 / 8 })[0]).toBe(0x2003);
  });
});

describe('PCI Express capability (PCIe 6.0, 7.5.3, Figure 7-24)', () => {
  it('registers sit at the figure offsets', () => {
    expect(offsets(PCIE_REGISTERS_V2)).toEqual({
      'PCI Express Capabilities': 0x02,
      'Device Capabilities': 0x04,
      'Device Control': 0x08,
      'Device Status': 0x0a,
      'Link Capabilities': 0x0c,
      'Link Control': 0x10,
      'Link Status': 0x12,
      'Device Capabilities 2': 0x24,
      'Device Control 2': 0x28,
      'Link Capabilities 2': 0x2c,
      'Link Control 2': 0x30,
      'Link Status 2': 0x32,
    });
  });
  it('PCIe Capabilities: version 3:0, Device/Port Type 7:4, Interrupt Message Number 13:9', () => {
    expect(encode(PCIE_CAPABILITIES.layout, { capabilityVersion: 2, devicePortType: 9 })[0]).toBe(
      0x0092,
    );
    expect(single(PCIE_CAPABILITIES, 'interruptMessageNumber')).toBe(0x0200);
  });
  it('Device Capabilities: FLR 28; Device Control: Max_Read_Request_Size 14:12', () => {
    expect(single(DEVICE_CAPABILITIES, 'functionLevelResetCapability')).toBe(0x10000000);
    expect(encode(DEVICE_CONTROL.layout, { maxReadRequestSize: 2 })[0]).toBe(0x2000);
  });
  it('Device Status: error Detected bits 3:0 are RW1C, Transactions Pending 5 is RO', () => {
    expect(DEVICE_STATUS.attributes).toMatchObject({
      correctableErrorDetected: 'RW1C',
      nonFatalErrorDetected: 'RW1C',
      fatalErrorDetected: 'RW1C',
      unsupportedRequestDetected: 'RW1C',
      transactionsPending: 'RO',
    });
    expect(single(DEVICE_STATUS, 'transactionsPending')).toBe(0x0020);
  });
});

describe('Power Management (PCIe 6.0, 7.5.2)', () => {
  it('PMC at 02h, PMCSR at 04h; PowerState 1:0 RW, PME_Status 15 RW1C', () => {
    expect(offsets(PM_REGISTERS)).toMatchObject({
      'Power Management Capabilities': 0x02,
      'Power Management Control/Status': 0x04,
    });
    expect(single(PM_CONTROL_STATUS, 'pmeStatus')).toBe(0x8000);
    expect(PM_CONTROL_STATUS.attributes).toMatchObject({ powerState: 'RW', pmeStatus: 'RW1C' });
  });
});

describe('SR-IOV (PCIe 6.0, 9.3.3, Figure 9-9)', () => {
  it('registers sit at the figure offsets', () => {
    expect(offsets(SRIOV_REGISTERS)).toEqual({
      'SR-IOV Capabilities': 0x04,
      'SR-IOV Control': 0x08,
      'SR-IOV Status': 0x0a,
      InitialVFs: 0x0c,
      TotalVFs: 0x0e,
      NumVFs: 0x10,
      'Function Dependency Link': 0x12,
      'First VF Offset': 0x14,
      'VF Stride': 0x16,
      'VF Device ID': 0x1a,
      'Supported Page Sizes': 0x1c,
      'System Page Size': 0x20,
      'VF BAR0': 0x24,
      'VF BAR1': 0x28,
      'VF BAR2': 0x2c,
      'VF BAR3': 0x30,
      'VF BAR4': 0x34,
      'VF BAR5': 0x38,
      'VF Migration State Array Offset': 0x3c,
    });
  });
  it('SR-IOV Control: VF Enable 0, VF MSE 3, ARI Capable Hierarchy 4', () => {
    expect(single(SRIOV_CONTROL, 'vfEnable')).toBe(0x0001);
    expect(single(SRIOV_CONTROL, 'vfMse')).toBe(0x0008);
    expect(single(SRIOV_CONTROL, 'ariCapableHierarchy')).toBe(0x0010);
  });
});

describe('AER (PCIe 6.0, 7.8.4)', () => {
  it('Uncorrectable Error Status: DLP 4, Surprise Down 5, Poisoned TLP 12, UR 20, ACS 21; RW1C', () => {
    const ue = UNCORRECTABLE_ERROR_STATUS;
    expect(single(ue, 'dataLinkProtocolError')).toBe(0x10);
    expect(single(ue, 'surpriseDownError')).toBe(0x20);
    expect(single(ue, 'poisonedTlpReceived')).toBe(0x1000);
    expect(single(ue, 'unsupportedRequestError')).toBe(0x100000);
    expect(single(ue, 'acsViolation')).toBe(0x200000);
    expect(ue.attributes.unsupportedRequestError).toBe('RW1C');
  });
  it('Correctable Error Status: Receiver Error 0, Bad TLP 6, Advisory Non-Fatal 13', () => {
    expect(single(CORRECTABLE_ERROR_STATUS, 'receiverError')).toBe(0x1);
    expect(single(CORRECTABLE_ERROR_STATUS, 'badTlp')).toBe(0x40);
    expect(single(CORRECTABLE_ERROR_STATUS, 'advisoryNonFatalError')).toBe(0x2000);
  });
});

describe('PASID (PCIe 6.0, 7.8.8)', () => {
  it('Capability: Execute 1, Privileged 2, Max PASID Width 12:8; Control: Enable 0', () => {
    expect(single(PASID_CAPABILITY, 'executePermissionSupported')).toBe(0x0002);
    expect(single(PASID_CAPABILITY, 'privilegedModeSupported')).toBe(0x0004);
    expect(encode(PASID_CAPABILITY.layout, { maxPasidWidth: 20 })[0]).toBe(0x1400);
    expect(single(PASID_CONTROL, 'pasidEnable')).toBe(0x0001);
    expect([PASID_CAPABILITY.offset, PASID_CONTROL.offset]).toEqual([0x04, 0x06]);
  });
});
