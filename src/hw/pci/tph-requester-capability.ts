// The TPH Requester Extended Capability (PCI Express Base Spec 6.0, section 7.9.13 "TPH
// Requester Extended Capability"): which Steering Tag modes a function supports and where its
// Steering Tag table lives (in this capability or in the MSI-X table's Vector Control upper bits).
// Not modelled: the TPH Requester Control register and the ST table entries.

import { type Decoded, defineLayout } from '../bits.js';
import { type ConfigRegister, defineRegister } from './config-register.js';
import { type ConfigSpace, checkStructureFits, readRegisterFields } from './config-space.js';

export const TPH_CAPABILITY_SIZE = 0x08;

/** ST Table Location (bits 10:9). */
export const TPH_ST_TABLE_LOCATION = { none: 0, capability: 1, msixTable: 2 } as const;

export const TPH_REQUESTER_CAPABILITY = defineRegister(
  'TPH Requester Capability',
  0x04,
  4,
  defineLayout(
    'tph-requester-capability',
    32,
    'PCIe Base Spec 6.0, 7.9.13.2 TPH Requester Capability Register',
    {
      noStModeSupported: [0, 0, 'No ST Mode Supported'],
      interruptVectorModeSupported: [1, 1, 'Interrupt Vector Mode Supported'],
      deviceSpecificModeSupported: [2, 2, 'Device Specific Mode Supported'],
      reserved: [7, 3, 'Reserved'],
      extendedTphRequesterSupported: [8, 8, 'Extended TPH Requester Supported'],
      stTableLocation: [10, 9, 'ST Table Location'],
      reservedMid: [15, 11, 'Reserved'],
      stTableSize: [26, 16, 'ST Table Size (N-1)'],
      reservedHigh: [31, 27, 'Reserved'],
    },
    { complete: true },
  ),
  {
    noStModeSupported: 'RO',
    interruptVectorModeSupported: 'RO',
    deviceSpecificModeSupported: 'RO',
    reserved: 'RsvdP',
    extendedTphRequesterSupported: 'RO',
    stTableLocation: 'RO',
    reservedMid: 'RsvdP',
    stTableSize: 'HwInit',
    reservedHigh: 'RsvdP',
  },
);

export const TPH_REGISTERS: readonly ConfigRegister[] = [TPH_REQUESTER_CAPABILITY];

export type TphRequesterCapability = Decoded<typeof TPH_REQUESTER_CAPABILITY.layout.fields>;

export function decodeTphRequesterCapability(
  space: ConfigSpace,
  offset: number,
): TphRequesterCapability {
  checkStructureFits(space, offset, TPH_CAPABILITY_SIZE, 'TPH Requester capability');
  return readRegisterFields(space, offset, TPH_REQUESTER_CAPABILITY);
}
