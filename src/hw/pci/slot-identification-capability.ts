// The Slot Identification Capability (PCI-to-PCI Bridge Architecture Spec 1.2, section 13.1
// "Slot Numbering Capabilities List Item"): a bridge's count of expansion slots on its secondary
// bus, whether it is the first in its chassis, and the chassis number. Two bytes after the header.

import { type Decoded, defineLayout } from '../bits.js';
import { defineRegister } from './config-register.js';
import { type ConfigSpace, readRegisterFields } from './config-space.js';

export const SLOT_IDENTIFICATION = defineRegister(
  'Expansion Slot / Chassis Number',
  0x02,
  2,
  defineLayout(
    'slot-identification',
    32,
    'PCI-to-PCI Bridge 1.2, 13.1 Expansion Slot Register and Chassis Number Register',
    {
      expansionSlotsProvided: [4, 0, 'Expansion Slots Provided'],
      firstInChassis: [5, 5, 'First In Chassis'],
      reserved: [7, 6, 'Reserved'],
      chassisNumber: [15, 8, 'Chassis Number'],
    },
    { complete: false },
  ),
  {
    expansionSlotsProvided: 'HwInit',
    firstInChassis: 'HwInit',
    reserved: 'RsvdP',
    chassisNumber: 'RW',
  },
);

export const decodeSlotIdentification = (
  space: ConfigSpace,
  offset: number,
): Decoded<typeof SLOT_IDENTIFICATION.layout.fields> =>
  readRegisterFields(space, offset, SLOT_IDENTIFICATION);
