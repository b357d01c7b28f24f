// The Resizable BAR and VF Resizable BAR Extended Capabilities (PCI Express Base Spec 6.0,
// sections 7.8.6 "Resizable BAR Extended Capability" and 9.3.7.5 "VF Resizable BAR"): per
// resizable BAR a Capability register (supported sizes, bit n of [31:4] = 2^n MB) and a Control
// register (BAR index, number of resizable BARs in the first entry, current size, and the sizes
// above 128 TB in [31:16]). The two capabilities share this layout.
// Invariants: 1-6 entries (the first entry's Number of Resizable BARs).
// Not modelled: resizing.

import { type Decoded, defineLayout } from '../bits.js';
import { type ConfigRegister, defineRegister } from './config-register.js';
import { type ConfigSpace, readRegisterFields } from './config-space.js';

/** Each entry is a Capability and a Control dword, from +4. */
export const REBAR_ENTRY_SIZE = 8;
export const REBAR_ENTRIES_MAX = 6;
/** Sizes in Capability [31:4] are 2^0..2^27 MB; Control [31:16] continues from 2^28 MB. */
export const REBAR_CAPABILITY_SIZES = 28;

export const REBAR_CAPABILITY = defineRegister(
  'Resizable BAR Capability',
  0x04,
  4,
  defineLayout(
    'rebar-capability',
    32,
    'PCIe Base Spec 6.0, 7.8.6.2 Resizable BAR Capability Register',
    {
      reserved: [3, 0, 'Reserved'],
      supportedSizes: [31, 4, 'Supported sizes: bit n = 2^n MB (1 MB to 128 TB)'],
    },
    { complete: true },
  ),
  { reserved: 'RsvdP', supportedSizes: 'RO' },
);

export const REBAR_CONTROL = defineRegister(
  'Resizable BAR Control',
  0x08,
  4,
  defineLayout(
    'rebar-control',
    32,
    'PCIe Base Spec 6.0, 7.8.6.3 Resizable BAR Control Register',
    {
      barIndex: [2, 0, 'BAR Index'],
      reserved: [4, 3, 'Reserved'],
      numberOfResizableBars: [7, 5, 'Number of Resizable BARs (first entry only)'],
      barSize: [13, 8, 'BAR Size (2^n MB)'],
      reservedMid: [15, 14, 'Reserved'],
      extendedSizes: [31, 16, 'Supported sizes from 256 TB: bit n = 2^(n+28) MB'],
    },
    { complete: true },
  ),
  {
    barIndex: 'RO',
    reserved: 'RsvdP',
    numberOfResizableBars: 'RO',
    barSize: 'RW',
    reservedMid: 'RsvdP',
    extendedSizes: 'RO',
  },
);

export const REBAR_REGISTERS: readonly ConfigRegister[] = [REBAR_CAPABILITY, REBAR_CONTROL];

export interface ResizableBarEntry {
  capability: Decoded<typeof REBAR_CAPABILITY.layout.fields>;
  control: Decoded<typeof REBAR_CONTROL.layout.fields>;
}

/** Entry `n` (0-based) of the capability at `offset`; its registers sit 8*n bytes further. */
export const decodeResizableBarEntry = (
  space: ConfigSpace,
  offset: number,
  n: number,
): ResizableBarEntry => ({
  capability: readRegisterFields(space, offset + REBAR_ENTRY_SIZE * n, REBAR_CAPABILITY),
  control: readRegisterFields(space, offset + REBAR_ENTRY_SIZE * n, REBAR_CONTROL),
});
