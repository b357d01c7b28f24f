// The Root Complex Event Collector Endpoint Association Extended Capability (PCI Express Base
// Spec 6.0, section 7.9.10): which Root Complex Integrated Endpoints on the collector's bus (bit n
// = device n) and, from capability version 2, which range of further bus numbers report their
// errors and PMEs through this Event Collector (Linux's pcie/rcec.c).
// Not modelled: error and PME forwarding.

import { type Decoded, defineLayout } from '../bits.js';
import { type ConfigRegister, defineRegister } from './config-register.js';
import { type ConfigSpace, readRegisterFields } from './config-space.js';

/** Capability Version from which the Associated Bus Numbers register exists. */
export const RCEC_BUS_NUMBERS_VERSION = 2;

export const RCEC_ASSOCIATION_BITMAP = defineRegister(
  'Association Bitmap for RCiEPs',
  0x04,
  4,
  defineLayout(
    'rcec-association-bitmap',
    32,
    'PCIe Base Spec 6.0, 7.9.10.2 Association Bitmap for RCiEPs: bit n = Device n',
    { associatedDevices: [31, 0, 'Association Bitmap'] },
    { complete: true },
  ),
  { associatedDevices: 'HwInit' },
);

export const RCEC_ASSOCIATED_BUS_NUMBERS = defineRegister(
  'RCEC Associated Bus Numbers',
  0x08,
  4,
  defineLayout(
    'rcec-associated-bus-numbers',
    32,
    'PCIe Base Spec 6.0, 7.9.10.3 RCEC Associated Bus Numbers Register',
    {
      reserved: [7, 0, 'Reserved'],
      nextBus: [15, 8, 'RCEC Next Bus'],
      lastBus: [23, 16, 'RCEC Last Bus'],
      reservedHigh: [31, 24, 'Reserved'],
    },
    { complete: true },
  ),
  { reserved: 'RsvdP', nextBus: 'HwInit', lastBus: 'HwInit', reservedHigh: 'RsvdP' },
);

export const RCEC_REGISTERS: readonly ConfigRegister[] = [
  RCEC_ASSOCIATION_BITMAP,
  RCEC_ASSOCIATED_BUS_NUMBERS,
];

export const decodeRcecBitmap = (space: ConfigSpace, offset: number): number =>
  readRegisterFields(space, offset, RCEC_ASSOCIATION_BITMAP).associatedDevices;

export const decodeRcecBusNumbers = (
  space: ConfigSpace,
  offset: number,
): Decoded<typeof RCEC_ASSOCIATED_BUS_NUMBERS.layout.fields> =>
  readRegisterFields(space, offset, RCEC_ASSOCIATED_BUS_NUMBERS);
