// Capability IDs and the two capability header formats (PCI Code and ID Assignment Spec 1.11,
// sections 2 "Capability IDs" and 3 "Extended Capability IDs"; PCIe Base Spec 6.0, 7.5.1.1.11 and
// 7.6.3 "PCI Express Extended Capability Header"). Only the IDs irqlab decodes or names are
// listed; an unknown ID is still walked and shown as lspci shows it.

import { defineLayout } from '../bits.js';
import { defineRegister } from './config-register.js';

export const CAP_ID = {
  powerManagement: 0x01,
  agp: 0x02,
  vpd: 0x03,
  slotIdentification: 0x04,
  msi: 0x05,
  pciX: 0x07,
  hyperTransport: 0x08,
  vendorSpecific: 0x09,
  debugPort: 0x0a,
  bridgeSubsystem: 0x0d,
  pciExpress: 0x10,
  msix: 0x11,
  sata: 0x12,
  advancedFeatures: 0x13,
  enhancedAllocation: 0x14,
} as const;

export const EXT_CAP_ID = {
  advancedErrorReporting: 0x0001,
  deviceSerialNumber: 0x0003,
  rootComplexEventCollectorAssociation: 0x0007,
  vendorSpecific: 0x000b,
  acs: 0x000d,
  ari: 0x000e,
  ats: 0x000f,
  sriov: 0x0010,
  pageRequest: 0x0013,
  resizableBar: 0x0015,
  tph: 0x0017,
  ltr: 0x0018,
  pasid: 0x001b,
  dpc: 0x001d,
  l1PmSubstates: 0x001e,
  designatedVendorSpecific: 0x0023,
  vfResizableBar: 0x0024,
  dataObjectExchange: 0x002e,
} as const;

/** Every standard capability starts with this 16-bit header. */
export const CAPABILITY_HEADER = defineRegister(
  'Capability Header',
  0x00,
  2,
  defineLayout(
    'capability-header',
    32,
    'PCIe Base Spec 6.0, 7.5.1.1.11: Capability ID, Next Capability Pointer',
    {
      capabilityId: [7, 0, 'Capability ID'],
      nextCapabilityPointer: [15, 8, 'Next Capability Pointer (0 ends the list)'],
    },
    { complete: false },
  ),
  { capabilityId: 'RO', nextCapabilityPointer: 'RO' },
);

/** Every extended capability (config offset 0x100 and above) starts with this 32-bit header. */
export const EXTENDED_CAPABILITY_HEADER = defineRegister(
  'PCI Express Extended Capability Header',
  0x00,
  4,
  defineLayout(
    'extended-capability-header',
    32,
    'PCIe Base Spec 6.0, 7.6.3 PCI Express Extended Capability Header',
    {
      capabilityId: [15, 0, 'PCI Express Extended Capability ID'],
      capabilityVersion: [19, 16, 'Capability Version'],
      nextCapabilityOffset: [31, 20, 'Next Capability Offset (0 ends the list)'],
    },
    { complete: true },
  ),
  { capabilityId: 'RO', capabilityVersion: 'RO', nextCapabilityOffset: 'RO' },
);
