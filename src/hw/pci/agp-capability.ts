// The AGP capability (AGP 3.0, section 2.5 "AGP Capability Structure"): its first register after
// the header carries the AGP revision the device complies with, major [7:4] and minor [3:0].
// Not modelled: the AGP Status and Command registers.

import { defineLayout } from '../bits.js';
import { defineRegister } from './config-register.js';
import { type ConfigSpace, readRegisterFields } from './config-space.js';

export const AGP_IDENTIFIER = defineRegister(
  'AGP Identifier',
  0x02,
  2,
  defineLayout(
    'agp-identifier',
    32,
    'AGP 3.0, 2.5.1 Capability Identifier Register: MINOR [19:16], MAJOR [23:20] of the dword',
    {
      minor: [3, 0, 'Minor revision'],
      major: [7, 4, 'Major revision'],
      reserved: [15, 8, 'Reserved'],
    },
    { complete: false },
  ),
  { minor: 'RO', major: 'RO', reserved: 'RsvdP' },
);

export const decodeAgpIdentifier = (space: ConfigSpace, offset: number) =>
  readRegisterFields(space, offset, AGP_IDENTIFIER);
