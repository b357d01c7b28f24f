// The Subsystem ID and Subsystem Vendor ID Capability (PCI-to-PCI Bridge Architecture Spec 1.2,
// section 3.2.5.13; PCI Code and ID Assignment 1.11, ID 0Dh "SSVID"): a Type 1 header has no
// Subsystem registers, so a bridge that wants them carries this capability.

import { type Decoded, defineLayout } from '../bits.js';
import { defineRegister } from './config-register.js';
import { type ConfigSpace, checkStructureFits, readRegisterFields } from './config-space.js';

export const SSVID_CAPABILITY_SIZE = 0x08;

export const BRIDGE_SUBSYSTEM = defineRegister(
  'Subsystem Vendor ID / Subsystem ID (bridge)',
  0x04,
  4,
  defineLayout(
    'bridge-subsystem',
    32,
    'PCI-to-PCI Bridge 1.2, 3.2.5.13 Subsystem ID capability: Vendor at +4, ID at +6',
    {
      subsystemVendorId: [15, 0, 'Subsystem Vendor ID'],
      subsystemId: [31, 16, 'Subsystem ID'],
    },
    { complete: true },
  ),
  { subsystemVendorId: 'HwInit', subsystemId: 'HwInit' },
);

export function decodeBridgeSubsystem(
  space: ConfigSpace,
  offset: number,
): Decoded<typeof BRIDGE_SUBSYSTEM.layout.fields> {
  checkStructureFits(space, offset, SSVID_CAPABILITY_SIZE, 'Subsystem ID capability');
  return readRegisterFields(space, offset, BRIDGE_SUBSYSTEM);
}
