// The PASID Extended Capability (PCI Express Base Spec 6.0, section 7.8.8 "PASID Extended
// Capability Structure"): whether the function may put a PASID TLP prefix on its requests, with
// Execute/Privileged permissions, and how wide its PASIDs are (1..20 bits). IDXD needs it for
// shared work queues; mlx5 does not.
// Invariants: the enables are meaningful only where the matching "Supported" bit is set; PASID
// Enable is changed by software only while the function has no outstanding requests (not checked).
// Not modelled: the PASID prefix on the TLPs themselves.

import { type Decoded, decode, defineLayout } from '../bits.js';
import { InputError } from '../errors.js';
import { type ConfigRegister, defineRegister } from './config-register.js';
import { type ConfigSpace, readConfigWord } from './config-space.js';

export const PASID_CAPABILITY_SIZE = 0x08;
/** Max PASID Width is 5 bits, but the spec allows at most 20 (PASIDs are 20 bits). */
export const PASID_WIDTH_MAX = 20;

export const PASID_CAPABILITY = defineRegister(
  'PASID Capability',
  0x04,
  2,
  defineLayout(
    'pasid-capability',
    32,
    'PCIe Base Spec 6.0, 7.8.8.2 PASID Capability Register',
    {
      reserved: [0, 0, 'Reserved'],
      executePermissionSupported: [1, 1, 'Execute Permission Supported'],
      privilegedModeSupported: [2, 2, 'Privileged Mode Supported'],
      reservedMid: [7, 3, 'Reserved'],
      maxPasidWidth: [12, 8, 'Max PASID Width (1-20)'],
      reservedHigh: [15, 13, 'Reserved'],
    },
    { complete: false },
  ),
  {
    reserved: 'RsvdP',
    executePermissionSupported: 'RO',
    privilegedModeSupported: 'RO',
    reservedMid: 'RsvdP',
    maxPasidWidth: 'RO',
    reservedHigh: 'RsvdP',
  },
);

export const PASID_CONTROL = defineRegister(
  'PASID Control',
  0x06,
  2,
  defineLayout(
    'pasid-control',
    32,
    'PCIe Base Spec 6.0, 7.8.8.3 PASID Control Register',
    {
      pasidEnable: [0, 0, 'PASID Enable'],
      executePermissionEnable: [1, 1, 'Execute Permission Enable'],
      privilegedModeEnable: [2, 2, 'Privileged Mode Enable'],
      reserved: [15, 3, 'Reserved'],
    },
    { complete: false },
  ),
  {
    pasidEnable: 'RW',
    executePermissionEnable: 'RW',
    privilegedModeEnable: 'RW',
    reserved: 'RsvdP',
  },
);

export const PASID_REGISTERS: readonly ConfigRegister[] = [PASID_CAPABILITY, PASID_CONTROL];

export interface PasidCapability {
  offset: number;
  capability: Decoded<typeof PASID_CAPABILITY.layout.fields>;
  control: Decoded<typeof PASID_CONTROL.layout.fields>;
}

export function decodePasidCapability(space: ConfigSpace, offset: number): PasidCapability {
  if (offset + PASID_CAPABILITY_SIZE > space.bytes.length) {
    throw new InputError(
      `PASID capability at 0x${offset.toString(16)}`,
      'runs past the end of the config space',
    );
  }
  return {
    offset,
    capability: decode(PASID_CAPABILITY.layout, [readConfigWord(space, offset + 0x04)]),
    control: decode(PASID_CONTROL.layout, [readConfigWord(space, offset + 0x06)]),
  };
}
