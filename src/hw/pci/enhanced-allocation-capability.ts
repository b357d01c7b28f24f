// The Enhanced Allocation Capability (PCI Express Base Spec 6.0, section 7.8.5 "Enhanced
// Allocation Capability Structure (EA)"): fixed resource ranges that replace BARs. Its first
// dword holds the entry count; a Type 1 function's second dword holds its fixed secondary and
// subordinate bus numbers before the entries start.
// Not modelled: the entries themselves (Base, MaxOffset, properties).

import { type Decoded, defineLayout } from '../bits.js';
import { defineRegister } from './config-register.js';
import { type ConfigSpace, readRegisterFields } from './config-space.js';

export const EA_NUM_ENTRIES = defineRegister(
  'EA Num Entries',
  0x02,
  2,
  defineLayout(
    'ea-num-entries',
    32,
    'PCIe Base Spec 6.0, 7.8.5.1 Enhanced Allocation Capability First DW: Num Entries [21:16]',
    { numEntries: [5, 0, 'Num Entries'], reserved: [15, 6, 'Reserved'] },
    { complete: false },
  ),
  { numEntries: 'HwInit', reserved: 'RsvdP' },
);

export const EA_TYPE1_BUS_NUMBERS = defineRegister(
  'EA Fixed Secondary/Subordinate Bus Numbers',
  0x04,
  2,
  defineLayout(
    'ea-type1-bus-numbers',
    32,
    'PCIe Base Spec 6.0, 7.8.5.2 Type 1 Second DW: Fixed Secondary [7:0], Subordinate [15:8]',
    {
      fixedSecondaryBusNumber: [7, 0, 'Fixed Secondary Bus Number'],
      fixedSubordinateBusNumber: [15, 8, 'Fixed Subordinate Bus Number'],
    },
    { complete: false },
  ),
  { fixedSecondaryBusNumber: 'HwInit', fixedSubordinateBusNumber: 'HwInit' },
);

export const decodeEaNumEntries = (space: ConfigSpace, offset: number): number =>
  readRegisterFields(space, offset, EA_NUM_ENTRIES).numEntries;

export const decodeEaBusNumbers = (
  space: ConfigSpace,
  offset: number,
): Decoded<typeof EA_TYPE1_BUS_NUMBERS.layout.fields> =>
  readRegisterFields(space, offset, EA_TYPE1_BUS_NUMBERS);
