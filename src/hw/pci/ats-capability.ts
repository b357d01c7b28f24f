// The Address Translation Services Extended Capability (PCI Express Base Spec 6.0, section 10.5.1
// "ATS Extended Capability"): a function that caches IOMMU translations (a device behind a vIOMMU
// with device-IOTLB; Linux's pci_enable_ats) says how many invalidations it can queue and is told
// the Smallest Translation Unit. Invariants: STU is programmed before Enable (not checked).
// Not modelled: translation requests and invalidation messages.

import { type Decoded, defineLayout } from '../bits.js';
import { type ConfigRegister, defineRegister } from './config-register.js';
import { type ConfigSpace, checkStructureFits, readRegisterFields } from './config-space.js';

export const ATS_CAPABILITY_SIZE = 0x08;

export const ATS_CAPABILITY = defineRegister(
  'ATS Capability',
  0x04,
  2,
  defineLayout(
    'ats-capability',
    32,
    'PCIe Base Spec 6.0, 10.5.1.2 ATS Capability Register',
    {
      invalidateQueueDepth: [4, 0, 'Invalidate Queue Depth (0 means 32)'],
      pageAlignedRequest: [5, 5, 'Page Aligned Request'],
      globalInvalidateSupported: [6, 6, 'Global Invalidate Supported'],
      relaxedOrderingSupported: [7, 7, 'Relaxed Ordering Supported'],
      reserved: [15, 8, 'Reserved'],
    },
    { complete: false },
  ),
  {
    invalidateQueueDepth: 'RO',
    pageAlignedRequest: 'RO',
    globalInvalidateSupported: 'RO',
    relaxedOrderingSupported: 'RO',
    reserved: 'RsvdP',
  },
);

export const ATS_CONTROL = defineRegister(
  'ATS Control',
  0x06,
  2,
  defineLayout(
    'ats-control',
    32,
    'PCIe Base Spec 6.0, 10.5.1.3 ATS Control Register',
    {
      smallestTranslationUnit: [4, 0, 'Smallest Translation Unit (2^(12+STU) bytes)'],
      reserved: [14, 5, 'Reserved (bit 5: Relaxed Ordering Enable)'],
      enable: [15, 15, 'Enable'],
    },
    { complete: false },
  ),
  { smallestTranslationUnit: 'RW', reserved: 'RsvdP', enable: 'RW' },
);

export const ATS_REGISTERS: readonly ConfigRegister[] = [ATS_CAPABILITY, ATS_CONTROL];

export interface AtsCapability {
  capability: Decoded<typeof ATS_CAPABILITY.layout.fields>;
  control: Decoded<typeof ATS_CONTROL.layout.fields>;
}

export function decodeAtsCapability(space: ConfigSpace, offset: number): AtsCapability {
  checkStructureFits(space, offset, ATS_CAPABILITY_SIZE, 'ATS capability');
  return {
    capability: readRegisterFields(space, offset, ATS_CAPABILITY),
    control: readRegisterFields(space, offset, ATS_CONTROL),
  };
}
