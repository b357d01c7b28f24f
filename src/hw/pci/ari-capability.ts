// The Alternative Routing-ID Interpretation Extended Capability (PCI Express Base Spec 6.0,
// section 7.8.7 "ARI Extended Capability"): with ARI a device's 8-bit Device/Function field is one
// Function Number, so an SR-IOV PF can place VFs beyond function 7 (Linux's pci_iov_virtfn_bus,
// the SR-IOV ARI Capable Hierarchy bit). Next Function Number links the functions of the device.
// Not modelled: MFVC and ACS Function Groups arbitration.

import { type Decoded, defineLayout } from '../bits.js';
import { type ConfigRegister, defineRegister } from './config-register.js';
import { type ConfigSpace, checkStructureFits, readRegisterFields } from './config-space.js';

export const ARI_CAPABILITY_SIZE = 0x08;

export const ARI_CAPABILITY = defineRegister(
  'ARI Capability',
  0x04,
  2,
  defineLayout(
    'ari-capability',
    32,
    'PCIe Base Spec 6.0, 7.8.7.2 ARI Capability Register',
    {
      mfvcFunctionGroupsCapability: [0, 0, 'MFVC Function Groups Capability (M)'],
      acsFunctionGroupsCapability: [1, 1, 'ACS Function Groups Capability (A)'],
      reserved: [7, 2, 'Reserved'],
      nextFunctionNumber: [15, 8, 'Next Function Number'],
    },
    { complete: false },
  ),
  {
    mfvcFunctionGroupsCapability: 'RO',
    acsFunctionGroupsCapability: 'RO',
    reserved: 'RsvdP',
    nextFunctionNumber: 'RO',
  },
);

export const ARI_CONTROL = defineRegister(
  'ARI Control',
  0x06,
  2,
  defineLayout(
    'ari-control',
    32,
    'PCIe Base Spec 6.0, 7.8.7.3 ARI Control Register',
    {
      mfvcFunctionGroupsEnable: [0, 0, 'MFVC Function Groups Enable (M)'],
      acsFunctionGroupsEnable: [1, 1, 'ACS Function Groups Enable (A)'],
      reserved: [3, 2, 'Reserved'],
      functionGroup: [6, 4, 'Function Group'],
      reservedHigh: [15, 7, 'Reserved'],
    },
    { complete: false },
  ),
  {
    mfvcFunctionGroupsEnable: 'RW',
    acsFunctionGroupsEnable: 'RW',
    reserved: 'RsvdP',
    functionGroup: 'RW',
    reservedHigh: 'RsvdP',
  },
);

export const ARI_REGISTERS: readonly ConfigRegister[] = [ARI_CAPABILITY, ARI_CONTROL];

export interface AriCapability {
  capability: Decoded<typeof ARI_CAPABILITY.layout.fields>;
  control: Decoded<typeof ARI_CONTROL.layout.fields>;
}

export function decodeAriCapability(space: ConfigSpace, offset: number): AriCapability {
  checkStructureFits(space, offset, ARI_CAPABILITY_SIZE, 'ARI capability');
  return {
    capability: readRegisterFields(space, offset, ARI_CAPABILITY),
    control: readRegisterFields(space, offset, ARI_CONTROL),
  };
}
