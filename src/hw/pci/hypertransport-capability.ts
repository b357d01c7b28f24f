// The HyperTransport capability (HyperTransport I/O Link Spec 3.10, section 7.3 "Capability
// Block"): one capability ID (08h) for many blocks, told apart by the Capability Type in the
// upper bits of the Command register at +2. Types 000b and 001b (Slave/Primary and Host/Secondary
// interface) use 3 bits; every other type uses 5 bits (15:11).
// Not modelled: the registers of each block (link control, frequency, error handling).

import { defineLayout } from '../bits.js';
import { defineRegister } from './config-register.js';
import { type ConfigSpace, readRegisterFields } from './config-space.js';

export const HT_COMMAND = defineRegister(
  'HyperTransport Command',
  0x02,
  2,
  defineLayout(
    'hypertransport-command',
    32,
    'HyperTransport 3.10, 7.3: Capability Type in Command [15:11] ([15:13] for interfaces)',
    {
      typeSpecific: [10, 0, 'Type-specific bits (Revision ID minor/major in [4:0]/[7:5], ...)'],
      capabilityType: [15, 11, 'Capability Type'],
    },
    { complete: false },
  ),
  { typeSpecific: 'RO', capabilityType: 'RO' },
);

/** Capability Type [15:13] of the two interface blocks (5-bit values 00xxx and 001xx). */
export const HT_INTERFACE_TYPE = { slaveOrPrimary: 0b000, hostOrSecondary: 0b001 } as const;

/** The 5-bit Capability Types of the other blocks. */
export const HT_CAPABILITY_TYPE = {
  switch: 0b01000,
  interruptDiscovery: 0b10000,
  revisionId: 0b10001,
  unitIdClumping: 0b10010,
  extendedConfigSpaceAccess: 0b10011,
  addressMapping: 0b10100,
  msiMapping: 0b10101,
  directRoute: 0b10110,
  vcSet: 0b10111,
  retryMode: 0b11000,
  x86Encoding: 0b11001,
} as const;

/** The Revision ID block's Command bits (7.8): Minor [4:0], Major [7:5]. */
export const HT_REVISION_ID = defineLayout(
  'hypertransport-revision-id',
  32,
  'HyperTransport 3.10, 7.8 Revision ID Capability: Command [7:0]',
  { minor: [4, 0, 'Minor revision'], major: [7, 5, 'Major revision'] },
  { complete: false },
);

/** The MSI Mapping block's Command bits (7.12): Enable [0], Fixed [1]. */
export const HT_MSI_MAPPING = defineLayout(
  'hypertransport-msi-mapping',
  32,
  'HyperTransport 3.10, 7.12 MSI Mapping Capability: Command [1:0]',
  { enable: [0, 0, 'Enable'], fixed: [1, 1, 'Fixed (the mapping address is fixed at 0xFEE00000)'] },
  { complete: false },
);

export const decodeHtCommand = (space: ConfigSpace, offset: number) =>
  readRegisterFields(space, offset, HT_COMMAND);
