// The Serial ATA capability of an AHCI controller (Serial ATA AHCI 1.3.1, section 2.4 "Serial ATA
// Capability", PCI Capability ID 12h): where the Index-Data Pair lives. irqlab meets it on the
// AHCI function of a q35 guest and only decodes it to list and print it as lspci does.
// Not modelled: the Index-Data Pair itself.

import { type Decoded, decode, defineLayout } from '../bits.js';
import { type ConfigSpace, readConfigDword } from './config-space.js';

export const SATA_CAPABILITY_REGISTER_0 = defineLayout(
  'sata-capability-register-0',
  32,
  'Serial ATA AHCI 1.3.1, 2.4.1 SATACR0',
  {
    capabilityId: [7, 0, 'Cap ID (12h)'],
    nextCapabilityPointer: [15, 8, 'Next Capability Pointer'],
    minorRevision: [19, 16, 'Minor Revision'],
    majorRevision: [23, 20, 'Major Revision'],
    reserved: [31, 24, 'Reserved'],
  },
  { complete: true },
);

export const SATA_CAPABILITY_REGISTER_1 = defineLayout(
  'sata-capability-register-1',
  32,
  'Serial ATA AHCI 1.3.1, 2.4.2 SATACR1',
  {
    barLocation: [3, 0, 'BAR Location: 4-9 = BAR 10h-24h, 15 = in config space'],
    barOffset: [23, 4, 'BAR Offset in DWORDs'],
    reserved: [31, 24, 'Reserved'],
  },
  { complete: true },
);

/** BAR Location values 4..9 name BAR0..BAR5 (the BAR's config offset / 4). */
export const SATA_BAR_LOCATION_FIRST = 4;
export const SATA_BAR_LOCATION_LAST = 9;
export const SATA_BAR_LOCATION_CONFIG = 15;

export interface SataCapability {
  offset: number;
  register0: Decoded<typeof SATA_CAPABILITY_REGISTER_0.fields>;
  register1: Decoded<typeof SATA_CAPABILITY_REGISTER_1.fields>;
}

export function decodeSataCapability(space: ConfigSpace, offset: number): SataCapability {
  return {
    offset,
    register0: decode(SATA_CAPABILITY_REGISTER_0, [readConfigDword(space, offset)]),
    register1: decode(SATA_CAPABILITY_REGISTER_1, [readConfigDword(space, offset + 4)]),
  };
}
