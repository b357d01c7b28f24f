// Golden tests: offsets and bit masks of the capability registers decoded for lspci's blocks, as
// the PCIe Base Spec 6.0 figures give them and as Linux's include/uapi/linux/pci_regs.h spells
// them (mask named in each case). A value here is copied from the spec or pci_regs.h, never from
// the code.
import { describe, expect, it } from 'vitest';
import { encode } from '../../src/hw/bits.js';
import { ACS_CAPABILITY, ACS_CONTROL } from '../../src/hw/pci/acs-capability.js';
import { ROOT_ERROR_COMMAND, ROOT_ERROR_STATUS } from '../../src/hw/pci/aer-capability.js';
import { ARI_CAPABILITY, ARI_CONTROL } from '../../src/hw/pci/ari-capability.js';
import { ATS_CAPABILITY, ATS_CONTROL } from '../../src/hw/pci/ats-capability.js';
import type { ConfigRegister } from '../../src/hw/pci/config-register.js';
import { DPC_CAPABILITY, DPC_CONTROL, DPC_STATUS } from '../../src/hw/pci/dpc-capability.js';
import { L1SS_CAPABILITIES, L1SS_CONTROL_1 } from '../../src/hw/pci/l1-pm-substates-capability.js';
import {
  LTR_MAX_NO_SNOOP_LATENCY,
  LTR_MAX_SNOOP_LATENCY,
} from '../../src/hw/pci/ltr-capability.js';
import { PRI_CONTROL, PRI_STATUS } from '../../src/hw/pci/page-request-capability.js';
import {
  ROOT_CAPABILITIES,
  ROOT_CONTROL,
  ROOT_STATUS,
  SLOT_CAPABILITIES,
  SLOT_CONTROL,
  SLOT_STATUS,
} from '../../src/hw/pci/pcie-capability.js';
import { TPH_REQUESTER_CAPABILITY } from '../../src/hw/pci/tph-requester-capability.js';
import { BRIDGE_CONTROL, MEMORY_BASE, TYPE1_REGISTERS } from '../../src/hw/pci/type1-header.js';

/** The register value with every bit of `field` set. */
const mask = (register: ConfigRegister, field: string) => {
  const [hi, lo] = register.layout.fields[field];
  return encode(register.layout, { [field]: 2 ** (hi - lo + 1) - 1 })[0];
};

describe('PCIe capability Slot and Root registers (7.5.3.9-14; PCI_EXP_SLT*/RT*)', () => {
  it('sit at 0x14, 0x18, 0x1a, 0x1c, 0x1e, 0x20', () => {
    const at = [
      SLOT_CAPABILITIES,
      SLOT_CONTROL,
      SLOT_STATUS,
      ROOT_CONTROL,
      ROOT_CAPABILITIES,
      ROOT_STATUS,
    ];
    expect(at.map((r) => r.offset)).toEqual([0x14, 0x18, 0x1a, 0x1c, 0x1e, 0x20]);
  });
  it('have the pci_regs.h masks', () => {
    expect(mask(SLOT_CAPABILITIES, 'hotPlugCapable')).toBe(0x00000040); // PCI_EXP_SLTCAP_HPC
    expect(mask(SLOT_CAPABILITIES, 'slotPowerLimitValue')).toBe(0x00007f80); // _SPLV
    expect(mask(SLOT_CAPABILITIES, 'slotPowerLimitScale')).toBe(0x00018000); // _SPLS
    expect(mask(SLOT_CAPABILITIES, 'physicalSlotNumber')).toBe(0xfff80000); // _PSN
    expect(mask(SLOT_CONTROL, 'attentionIndicatorControl')).toBe(0x00c0); // PCI_EXP_SLTCTL_AIC
    expect(mask(SLOT_CONTROL, 'powerIndicatorControl')).toBe(0x0300); // _PIC
    expect(mask(SLOT_CONTROL, 'dataLinkLayerStateChangedEnable')).toBe(0x1000); // _DLLSCE
    expect(mask(SLOT_STATUS, 'presenceDetectState')).toBe(0x0040); // PCI_EXP_SLTSTA_PDS
    expect(mask(SLOT_STATUS, 'dataLinkLayerStateChanged')).toBe(0x0100); // _DLLSC
    expect(mask(ROOT_CONTROL, 'crsSoftwareVisibilityEnable')).toBe(0x0010); // PCI_EXP_RTCTL_CRSSVE
    expect(mask(ROOT_STATUS, 'pmeStatus')).toBe(0x00010000); // PCI_EXP_RTSTA_PME
    expect(mask(ROOT_STATUS, 'pmePending')).toBe(0x00020000); // PCI_EXP_RTSTA_PENDING
  });
});

describe('AER Root registers (7.8.4.9/10; PCI_ERR_ROOT_*)', () => {
  it('Root Error Command at 0x2c, Status at 0x30 with the message number in 31:27', () => {
    expect([ROOT_ERROR_COMMAND.offset, ROOT_ERROR_STATUS.offset]).toEqual([0x2c, 0x30]);
    expect(mask(ROOT_ERROR_COMMAND, 'fatalErrorReportingEnable')).toBe(0x4); // _CMD_FATAL_EN
    expect(mask(ROOT_ERROR_STATUS, 'fatalErrorMessagesReceived')).toBe(0x40); // _FATAL_RCV
    expect(mask(ROOT_ERROR_STATUS, 'advancedErrorInterruptMessageNumber')).toBe(0xf8000000); // _AER_IRQ
  });
});

describe('ACS, ARI, ATS, PRI (7.7.11, 7.8.7, 10.5.1, 10.5.2)', () => {
  it('ACS: capability 0x04, control 0x06; PCI_ACS_SV 0x01 .. PCI_ACS_DT 0x40', () => {
    expect([ACS_CAPABILITY.offset, ACS_CONTROL.offset]).toEqual([0x04, 0x06]);
    expect(mask(ACS_CAPABILITY, 'sourceValidation')).toBe(0x01);
    expect(mask(ACS_CAPABILITY, 'upstreamForwarding')).toBe(0x10);
    expect(mask(ACS_CONTROL, 'directTranslatedP2p')).toBe(0x40);
  });
  it('ARI: PCI_ARI_CAP_NFN (x >> 8) & 0xff, PCI_ARI_CTRL_FG (x >> 4) & 7', () => {
    expect(mask(ARI_CAPABILITY, 'nextFunctionNumber')).toBe(0xff00);
    expect(mask(ARI_CONTROL, 'functionGroup')).toBe(0x0070);
  });
  it('ATS: PCI_ATS_CAP_QDEP 0x1f, PCI_ATS_CTRL_ENABLE 0x8000, PCI_ATS_CTRL_STU 0x1f', () => {
    expect(mask(ATS_CAPABILITY, 'invalidateQueueDepth')).toBe(0x1f);
    expect(mask(ATS_CONTROL, 'enable')).toBe(0x8000);
    expect(mask(ATS_CONTROL, 'smallestTranslationUnit')).toBe(0x1f);
  });
  it('PRI: control 0x04, status 0x06; PCI_PRI_STATUS_STOPPED 0x100, _PASID 0x8000', () => {
    expect([PRI_CONTROL.offset, PRI_STATUS.offset]).toEqual([0x04, 0x06]);
    expect(mask(PRI_STATUS, 'stopped')).toBe(0x0100);
    expect(mask(PRI_STATUS, 'prgResponsePasidRequired')).toBe(0x8000);
  });
});

describe('LTR, L1 PM Substates, DPC, TPH (7.8.2, 7.8.3, 7.9.14, 7.9.13)', () => {
  it('LTR: snoop 0x4, no-snoop 0x6; PCI_LTR_VALUE_MASK 0x3ff, PCI_LTR_SCALE_MASK 0x1c00', () => {
    expect([LTR_MAX_SNOOP_LATENCY.offset, LTR_MAX_NO_SNOOP_LATENCY.offset]).toEqual([0x04, 0x06]);
    expect(mask(LTR_MAX_SNOOP_LATENCY, 'value')).toBe(0x03ff);
    expect(mask(LTR_MAX_SNOOP_LATENCY, 'scale')).toBe(0x1c00);
  });
  it('L1SS: PCI_L1SS_CAP_P_PWR_ON_VALUE 0x00f80000, PCI_L1SS_CTL1_LTR_L12_TH_SCALE 0xe0000000', () => {
    expect(mask(L1SS_CAPABILITIES, 'portCommonModeRestoreTime')).toBe(0x0000ff00);
    expect(mask(L1SS_CAPABILITIES, 'portTPowerOnScale')).toBe(0x00030000);
    expect(mask(L1SS_CAPABILITIES, 'portTPowerOnValue')).toBe(0x00f80000);
    expect(mask(L1SS_CONTROL_1, 'ltrL12ThresholdValue')).toBe(0x03ff0000);
    expect(mask(L1SS_CONTROL_1, 'ltrL12ThresholdScale')).toBe(0xe0000000);
  });
  it('DPC: PCI_EXP_DPC_IRQ 0x1f, _RP_PIO_LOG_SIZE 0x0f00, _STATUS_TRIGGER_RSN 0x6, _RP_PIO_FEP 0x1f00', () => {
    expect([DPC_CAPABILITY.offset, DPC_CONTROL.offset, DPC_STATUS.offset]).toEqual([4, 6, 8]);
    expect(mask(DPC_CAPABILITY, 'interruptMessageNumber')).toBe(0x001f);
    expect(mask(DPC_CAPABILITY, 'rpPioLogSize')).toBe(0x0f00);
    expect(mask(DPC_CAPABILITY, 'dlActiveErrCorSignalingSupported')).toBe(0x1000);
    expect(mask(DPC_CONTROL, 'interruptEnable')).toBe(0x0008); // PCI_EXP_DPC_CTL_INT_EN
    expect(mask(DPC_STATUS, 'triggerReason')).toBe(0x0006);
    expect(mask(DPC_STATUS, 'triggerReasonExtension')).toBe(0x0060);
    expect(mask(DPC_STATUS, 'rpPioFirstErrorPointer')).toBe(0x1f00);
  });
  it('TPH: PCI_TPH_CAP_LOC_MASK 0x600, PCI_TPH_CAP_ST_MASK 0x07ff0000', () => {
    expect(mask(TPH_REQUESTER_CAPABILITY, 'stTableLocation')).toBe(0x600);
    expect(mask(TPH_REQUESTER_CAPABILITY, 'stTableSize')).toBe(0x07ff0000);
  });
});

describe('Type 1 header (7.5.1.3, Figure 7-14; PCI_PRIMARY_BUS .. PCI_BRIDGE_CONTROL)', () => {
  it('registers sit at the offsets of the figure', () => {
    expect(Object.fromEntries(TYPE1_REGISTERS.map((r) => [r.name, r.offset]))).toMatchObject({
      'Primary Bus Number': 0x18,
      'Secondary Bus Number': 0x19,
      'Subordinate Bus Number': 0x1a,
      'Secondary Latency Timer': 0x1b,
      'I/O Base': 0x1c,
      'I/O Limit': 0x1d,
      'Secondary Status': 0x1e,
      'Memory Base': 0x20,
      'Memory Limit': 0x22,
      'Prefetchable Memory Base': 0x24,
      'Prefetchable Memory Limit': 0x26,
      'Prefetchable Base Upper 32 Bits': 0x28,
      'Prefetchable Limit Upper 32 Bits': 0x2c,
      'I/O Base Upper 16 Bits': 0x30,
      'I/O Limit Upper 16 Bits': 0x32,
      'Bridge Control': 0x3e,
    });
  });
  it('PCI_MEMORY_RANGE_MASK 0xfff0; PCI_BRIDGE_CTL_VGA 0x08, _BUS_RESET 0x40', () => {
    expect(mask(MEMORY_BASE, 'address')).toBe(0xfff0);
    expect(mask(BRIDGE_CONTROL, 'vgaEnable')).toBe(0x08);
    expect(mask(BRIDGE_CONTROL, 'secondaryBusReset')).toBe(0x40);
  });
});
