// The L1 PM Substates Extended Capability (PCI Express Base Spec 6.0, section 7.8.3 "L1 PM
// Substates Extended Capability"): which of L1.1/L1.2 (ASPM- and PCI-PM-entered) a port supports
// and has enabled, and the timing parameters of L1.2 exit. T_POWER_ON is value x {2, 10, 100} us
// by scale (3 is not permitted); LTR_L1.2_THRESHOLD is value x 2^(5*scale) ns as LTR's latencies.
// Not modelled: entry and exit of the substates.

import { type Decoded, defineLayout } from '../bits.js';
import { type ConfigRegister, defineRegister } from './config-register.js';
import { type ConfigSpace, checkStructureFits, readRegisterFields } from './config-space.js';

export const L1SS_CAPABILITY_SIZE = 0x10;
/** T_POWER_ON Scale: 0 = 2 us, 1 = 10 us, 2 = 100 us, 3 not permitted. */
export const T_POWER_ON_SCALE_US: readonly number[] = [2, 10, 100];

export const L1SS_CAPABILITIES = defineRegister(
  'L1 PM Substates Capabilities',
  0x04,
  4,
  defineLayout(
    'l1ss-capabilities',
    32,
    'PCIe Base Spec 6.0, 7.8.3.2 L1 PM Substates Capabilities Register',
    {
      pciPmL12Supported: [0, 0, 'PCI-PM L1.2 Supported'],
      pciPmL11Supported: [1, 1, 'PCI-PM L1.1 Supported'],
      aspmL12Supported: [2, 2, 'ASPM L1.2 Supported'],
      aspmL11Supported: [3, 3, 'ASPM L1.1 Supported'],
      l1PmSubstatesSupported: [4, 4, 'L1 PM Substates Supported'],
      linkActivationSupported: [5, 5, 'Link Activation Supported'],
      reserved: [7, 6, 'Reserved'],
      portCommonModeRestoreTime: [15, 8, 'Port Common_Mode_Restore_Time (us)'],
      portTPowerOnScale: [17, 16, 'Port T_POWER_ON Scale'],
      reservedMid: [18, 18, 'Reserved'],
      portTPowerOnValue: [23, 19, 'Port T_POWER_ON Value'],
      reservedHigh: [31, 24, 'Reserved'],
    },
    { complete: true },
  ),
  {
    pciPmL12Supported: 'HwInit',
    pciPmL11Supported: 'HwInit',
    aspmL12Supported: 'HwInit',
    aspmL11Supported: 'HwInit',
    l1PmSubstatesSupported: 'HwInit',
    linkActivationSupported: 'HwInit',
    reserved: 'RsvdP',
    portCommonModeRestoreTime: 'HwInit',
    portTPowerOnScale: 'HwInit',
    reservedMid: 'RsvdP',
    portTPowerOnValue: 'HwInit',
    reservedHigh: 'RsvdP',
  },
);

export const L1SS_CONTROL_1 = defineRegister(
  'L1 PM Substates Control 1',
  0x08,
  4,
  defineLayout(
    'l1ss-control-1',
    32,
    'PCIe Base Spec 6.0, 7.8.3.3 L1 PM Substates Control 1 Register',
    {
      pciPmL12Enable: [0, 0, 'PCI-PM L1.2 Enable'],
      pciPmL11Enable: [1, 1, 'PCI-PM L1.1 Enable'],
      aspmL12Enable: [2, 2, 'ASPM L1.2 Enable'],
      aspmL11Enable: [3, 3, 'ASPM L1.1 Enable'],
      linkActivationInterruptEnable: [4, 4, 'Link Activation Interrupt Enable'],
      linkActivationControl: [5, 5, 'Link Activation Control'],
      reserved: [7, 6, 'Reserved'],
      commonModeRestoreTime: [15, 8, 'Common_Mode_Restore_Time (us)'],
      ltrL12ThresholdValue: [25, 16, 'LTR_L1.2_THRESHOLD_Value'],
      reservedMid: [28, 26, 'Reserved'],
      ltrL12ThresholdScale: [31, 29, 'LTR_L1.2_THRESHOLD_Scale'],
    },
    { complete: true },
  ),
  {
    pciPmL12Enable: 'RW',
    pciPmL11Enable: 'RW',
    aspmL12Enable: 'RW',
    aspmL11Enable: 'RW',
    linkActivationInterruptEnable: 'RW',
    linkActivationControl: 'RW',
    reserved: 'RsvdP',
    commonModeRestoreTime: 'RW',
    ltrL12ThresholdValue: 'RW',
    reservedMid: 'RsvdP',
    ltrL12ThresholdScale: 'RW',
  },
);

export const L1SS_CONTROL_2 = defineRegister(
  'L1 PM Substates Control 2',
  0x0c,
  4,
  defineLayout(
    'l1ss-control-2',
    32,
    'PCIe Base Spec 6.0, 7.8.3.4 L1 PM Substates Control 2 Register',
    {
      tPowerOnScale: [1, 0, 'T_POWER_ON Scale'],
      reserved: [2, 2, 'Reserved'],
      tPowerOnValue: [7, 3, 'T_POWER_ON Value'],
      reservedHigh: [31, 8, 'Reserved'],
    },
    { complete: true },
  ),
  { tPowerOnScale: 'RW', reserved: 'RsvdP', tPowerOnValue: 'RW', reservedHigh: 'RsvdP' },
);

export const L1SS_REGISTERS: readonly ConfigRegister[] = [
  L1SS_CAPABILITIES,
  L1SS_CONTROL_1,
  L1SS_CONTROL_2,
];

export interface L1PmSubstatesCapability {
  capabilities: Decoded<typeof L1SS_CAPABILITIES.layout.fields>;
  control1: Decoded<typeof L1SS_CONTROL_1.layout.fields>;
  control2: Decoded<typeof L1SS_CONTROL_2.layout.fields>;
}

export function decodeL1PmSubstatesCapability(
  space: ConfigSpace,
  offset: number,
): L1PmSubstatesCapability {
  checkStructureFits(space, offset, L1SS_CAPABILITY_SIZE, 'L1 PM Substates capability');
  return {
    capabilities: readRegisterFields(space, offset, L1SS_CAPABILITIES),
    control1: readRegisterFields(space, offset, L1SS_CONTROL_1),
    control2: readRegisterFields(space, offset, L1SS_CONTROL_2),
  };
}

/** T_POWER_ON in us, undefined for the scale the spec does not permit. */
export const tPowerOnUs = (scale: number, value: number): number | undefined => {
  const unit = T_POWER_ON_SCALE_US[scale];
  return unit === undefined ? undefined : unit * value;
};
