// The Page Request Extended Capability (PCI Express Base Spec 6.0, section 10.5.2 "Page Request
// Extended Capability Structure", PRI): a function that takes I/O page faults (SVA through a
// vIOMMU) asks the IOMMU for pages; software allocates how many outstanding requests it may have.
// Invariants: Reset is written only while Enable is clear (not checked).
// Not modelled: page request messages and responses.

import { type Decoded, defineLayout } from '../bits.js';
import { type ConfigRegister, defineRegister } from './config-register.js';
import {
  type ConfigSpace,
  checkStructureFits,
  readConfigDword,
  readRegisterFields,
} from './config-space.js';

export const PRI_CAPABILITY_SIZE = 0x10;
export const PRI_OUTSTANDING_CAPACITY_OFFSET = 0x08;
export const PRI_OUTSTANDING_ALLOCATION_OFFSET = 0x0c;

export const PRI_CONTROL = defineRegister(
  'Page Request Control',
  0x04,
  2,
  defineLayout(
    'page-request-control',
    32,
    'PCIe Base Spec 6.0, 10.5.2.2 Page Request Control Register',
    { enable: [0, 0, 'Enable (E)'], reset: [1, 1, 'Reset (R)'], reserved: [15, 2, 'Reserved'] },
    { complete: false },
  ),
  { enable: 'RW', reset: 'RW', reserved: 'RsvdP' },
);

export const PRI_STATUS = defineRegister(
  'Page Request Status',
  0x06,
  2,
  defineLayout(
    'page-request-status',
    32,
    'PCIe Base Spec 6.0, 10.5.2.3 Page Request Status Register',
    {
      responseFailure: [0, 0, 'Response Failure (RF)'],
      unexpectedPageRequestGroupIndex: [1, 1, 'Unexpected Page Request Group Index (UPRGI)'],
      reserved: [7, 2, 'Reserved'],
      stopped: [8, 8, 'Stopped (S)'],
      reservedMid: [14, 9, 'Reserved'],
      prgResponsePasidRequired: [15, 15, 'PRG Response PASID Required'],
    },
    { complete: false },
  ),
  {
    responseFailure: 'RW1C',
    unexpectedPageRequestGroupIndex: 'RW1C',
    reserved: 'RsvdZ',
    stopped: 'RO',
    reservedMid: 'RsvdZ',
    prgResponsePasidRequired: 'RO',
  },
);

export const PRI_REGISTERS: readonly ConfigRegister[] = [PRI_CONTROL, PRI_STATUS];

export interface PageRequestCapability {
  control: Decoded<typeof PRI_CONTROL.layout.fields>;
  status: Decoded<typeof PRI_STATUS.layout.fields>;
  outstandingPageRequestCapacity: number;
  outstandingPageRequestAllocation: number;
}

export function decodePageRequestCapability(
  space: ConfigSpace,
  offset: number,
): PageRequestCapability {
  checkStructureFits(space, offset, PRI_CAPABILITY_SIZE, 'Page Request capability');
  return {
    control: readRegisterFields(space, offset, PRI_CONTROL),
    status: readRegisterFields(space, offset, PRI_STATUS),
    outstandingPageRequestCapacity: readConfigDword(
      space,
      offset + PRI_OUTSTANDING_CAPACITY_OFFSET,
    ),
    outstandingPageRequestAllocation: readConfigDword(
      space,
      offset + PRI_OUTSTANDING_ALLOCATION_OFFSET,
    ),
  };
}
