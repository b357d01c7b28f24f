// The Latency Tolerance Reporting Extended Capability (PCI Express Base Spec 6.0, section 7.8.2
// "LTR Extended Capability"): the largest snoop and no-snoop latencies an Upstream Port may
// report, each a 10-bit value times 2^(5*scale) ns. Invariants: scales 6 and 7 are not permitted.
// Not modelled: LTR messages.

import { type Decoded, defineLayout } from '../bits.js';
import { type ConfigRegister, defineRegister } from './config-register.js';
import { type ConfigSpace, checkStructureFits, readRegisterFields } from './config-space.js';

export const LTR_CAPABILITY_SIZE = 0x08;
/** Latency Scale: each step multiplies the value by 32 ns (2^5). */
export const LTR_SCALE_SHIFT_BITS = 5;

const LATENCY = defineLayout(
  'ltr-max-latency',
  32,
  'PCIe Base Spec 6.0, 7.8.2.2/3 Max Snoop/No-Snoop Latency Registers',
  {
    value: [9, 0, 'Max Latency Value'],
    scale: [12, 10, 'Max Latency Scale (2^(5*scale) ns)'],
    reserved: [15, 13, 'Reserved'],
  },
  { complete: false },
);
const ATTRIBUTES = { value: 'RW', scale: 'RW', reserved: 'RsvdP' } as const;

export const LTR_MAX_SNOOP_LATENCY = defineRegister(
  'Max Snoop Latency',
  0x04,
  2,
  LATENCY,
  ATTRIBUTES,
);
export const LTR_MAX_NO_SNOOP_LATENCY = defineRegister(
  'Max No-Snoop Latency',
  0x06,
  2,
  LATENCY,
  ATTRIBUTES,
);

export const LTR_REGISTERS: readonly ConfigRegister[] = [
  LTR_MAX_SNOOP_LATENCY,
  LTR_MAX_NO_SNOOP_LATENCY,
];

export interface LtrCapability {
  maxSnoopLatency: Decoded<typeof LATENCY.fields>;
  maxNoSnoopLatency: Decoded<typeof LATENCY.fields>;
}

export function decodeLtrCapability(space: ConfigSpace, offset: number): LtrCapability {
  checkStructureFits(space, offset, LTR_CAPABILITY_SIZE, 'LTR capability');
  return {
    maxSnoopLatency: readRegisterFields(space, offset, LTR_MAX_SNOOP_LATENCY),
    maxNoSnoopLatency: readRegisterFields(space, offset, LTR_MAX_NO_SNOOP_LATENCY),
  };
}

/** The latency in ns a value/scale pair stands for (scale 6 and 7 give 2^30 and 2^35 ns). */
export const ltrLatencyNs = (value: number, scale: number): number =>
  value * 2 ** (LTR_SCALE_SHIFT_BITS * scale);
