// The Debug Port Capability (EHCI 1.0, Appendix C.3.1 "Debug Port Capability Register"): where an
// EHCI controller's debug port registers sit, as a BAR number and an offset into it.

import { type Decoded, defineLayout } from '../bits.js';
import { defineRegister } from './config-register.js';
import { type ConfigSpace, readRegisterFields } from './config-space.js';

export const DEBUG_PORT = defineRegister(
  'Debug Port',
  0x02,
  2,
  defineLayout(
    'debug-port',
    32,
    'EHCI 1.0, C.3.1 Debug Port Capability Register: offset [12:0], BAR number [15:13]',
    { offset: [12, 0, 'Debug port offset in the BAR'], barNumber: [15, 13, 'BAR number (1-6)'] },
    { complete: false },
  ),
  { offset: 'RO', barNumber: 'RO' },
);

export const decodeDebugPort = (
  space: ConfigSpace,
  offset: number,
): Decoded<typeof DEBUG_PORT.layout.fields> => readRegisterFields(space, offset, DEBUG_PORT);
