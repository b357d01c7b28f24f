// The Advanced Features Capability (PCI Advanced Capabilities ECN "Conventional PCI Advanced
// Features Capability (AF)", 2006): Function Level Reset and Transactions Pending for conventional
// PCI functions, which lack the PCIe capability's FLR bits. Linux's pci_af_flr uses it.
// Invariants: the capability is 6 bytes (Length at +2 reads 6).
// Not modelled: the reset itself.

import { type Decoded, defineLayout } from '../bits.js';
import { type ConfigRegister, defineRegister } from './config-register.js';
import { type ConfigSpace, checkStructureFits, readRegisterFields } from './config-space.js';

export const AF_CAPABILITY_SIZE = 0x06;

export const AF_CAPABILITIES = defineRegister(
  'AF Capabilities',
  0x03,
  1,
  defineLayout(
    'af-capabilities',
    32,
    'PCI AF ECN: AF Capabilities register at +3',
    {
      transactionsPendingCapable: [0, 0, 'TP Capability'],
      flrCapable: [1, 1, 'FLR Capability'],
      reserved: [7, 2, 'Reserved'],
    },
    { complete: false },
  ),
  { transactionsPendingCapable: 'RO', flrCapable: 'RO', reserved: 'RsvdP' },
);

export const AF_CONTROL = defineRegister(
  'AF Control',
  0x04,
  1,
  defineLayout(
    'af-control',
    32,
    'PCI AF ECN: AF Control register at +4',
    { initiateFlr: [0, 0, 'Initiate FLR'], reserved: [7, 1, 'Reserved'] },
    { complete: false },
  ),
  { initiateFlr: 'RW', reserved: 'RsvdP' },
);

export const AF_STATUS = defineRegister(
  'AF Status',
  0x05,
  1,
  defineLayout(
    'af-status',
    32,
    'PCI AF ECN: AF Status register at +5',
    { transactionsPending: [0, 0, 'Transactions Pending'], reserved: [7, 1, 'Reserved'] },
    { complete: false },
  ),
  { transactionsPending: 'RO', reserved: 'RsvdP' },
);

export const AF_REGISTERS: readonly ConfigRegister[] = [AF_CAPABILITIES, AF_CONTROL, AF_STATUS];

export interface AdvancedFeaturesCapability {
  capabilities: Decoded<typeof AF_CAPABILITIES.layout.fields>;
  control: Decoded<typeof AF_CONTROL.layout.fields>;
  status: Decoded<typeof AF_STATUS.layout.fields>;
}

export function decodeAdvancedFeatures(
  space: ConfigSpace,
  offset: number,
): AdvancedFeaturesCapability {
  checkStructureFits(space, offset, AF_CAPABILITY_SIZE, 'Advanced Features capability');
  return {
    capabilities: readRegisterFields(space, offset, AF_CAPABILITIES),
    control: readRegisterFields(space, offset, AF_CONTROL),
    status: readRegisterFields(space, offset, AF_STATUS),
  };
}
