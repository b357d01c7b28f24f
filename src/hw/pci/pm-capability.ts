// The PCI Power Management capability (PCI Bus Power Management Interface Spec 1.2, chapter 3;
// PCI Express Base Spec 6.0, section 7.5.2 "PCI Power Management Capability Structure").
// irqlab does not model power states; the structure is decoded so that a real config space walks
// and prints like lspci, and so that writes to PMCSR follow the spec's attributes.
// Not modelled: the Data register's selectable values, state transitions on a Power State write.

import { type Decoded, decode, defineLayout } from '../bits.js';
import { InputError } from '../errors.js';
import { type ConfigRegister, defineRegister } from './config-register.js';
import { type ConfigSpace, readConfig } from './config-space.js';

export const PM_CAPABILITY_SIZE = 0x08;

export const PM_CAPABILITIES = defineRegister(
  'Power Management Capabilities',
  0x02,
  2,
  defineLayout(
    'pm-capabilities',
    32,
    'PCIe Base Spec 6.0, 7.5.2.1 Power Management Capabilities Register (PMC)',
    {
      version: [2, 0, 'Version (3 = PCI PM 1.2)'],
      pmeClock: [3, 3, 'PME Clock (PCIe: 0)'],
      immediateReadinessOnReturnToD0: [4, 4, 'Immediate_Readiness_on_Return_to_D0'],
      deviceSpecificInitialization: [5, 5, 'Device Specific Initialization (DSI)'],
      auxCurrent: [8, 6, 'Aux_Current'],
      d1Support: [9, 9, 'D1_Support'],
      d2Support: [10, 10, 'D2_Support'],
      pmeSupport: [15, 11, 'PME_Support: D0, D1, D2, D3hot, D3cold from bit 11'],
    },
    { complete: false },
  ),
  {
    version: 'RO',
    pmeClock: 'RO',
    immediateReadinessOnReturnToD0: 'RO',
    deviceSpecificInitialization: 'RO',
    auxCurrent: 'RO',
    d1Support: 'RO',
    d2Support: 'RO',
    pmeSupport: 'RO',
  },
);

export const PM_CONTROL_STATUS = defineRegister(
  'Power Management Control/Status',
  0x04,
  2,
  defineLayout(
    'pm-control-status',
    32,
    'PCIe Base Spec 6.0, 7.5.2.2 Power Management Control/Status Register (PMCSR)',
    {
      powerState: [1, 0, 'PowerState: D0-D3hot'],
      reserved: [2, 2, 'Reserved'],
      noSoftReset: [3, 3, 'No_Soft_Reset'],
      reservedMid: [7, 4, 'Reserved'],
      pmeEnable: [8, 8, 'PME_En'],
      dataSelect: [12, 9, 'Data_Select'],
      dataScale: [14, 13, 'Data_Scale'],
      pmeStatus: [15, 15, 'PME_Status'],
    },
    { complete: false },
  ),
  {
    powerState: 'RW',
    reserved: 'RsvdP',
    noSoftReset: 'RO',
    reservedMid: 'RsvdP',
    pmeEnable: 'RW',
    dataSelect: 'RW',
    dataScale: 'RO',
    pmeStatus: 'RW1C',
  },
);

export const PM_BRIDGE_EXTENSIONS = defineRegister(
  'PMCSR_BSE Bridge Extensions',
  0x06,
  1,
  defineLayout(
    'pm-bridge-extensions',
    32,
    'PCI PM 1.2, 3.2.5 PMCSR PCI-to-PCI Bridge Support Extensions (reserved on PCIe)',
    {
      reserved: [5, 0, 'Reserved'],
      b2B3Support: [6, 6, 'B2_B3#'],
      bpccEnable: [7, 7, 'BPCC_En'],
    },
    { complete: false },
  ),
  { reserved: 'RsvdP', b2B3Support: 'RO', bpccEnable: 'RO' },
);

export const PM_DATA = defineRegister(
  'Power Management Data',
  0x07,
  1,
  defineLayout(
    'pm-data',
    32,
    'PCIe Base Spec 6.0, 7.5.2.3 Data Register',
    { data: [7, 0, 'Data'] },
    { complete: false },
  ),
  { data: 'RO' },
);

export const PM_REGISTERS: readonly ConfigRegister[] = [
  PM_CAPABILITIES,
  PM_CONTROL_STATUS,
  PM_BRIDGE_EXTENSIONS,
  PM_DATA,
];

export interface PmCapability {
  offset: number;
  capabilities: Decoded<typeof PM_CAPABILITIES.layout.fields>;
  controlStatus: Decoded<typeof PM_CONTROL_STATUS.layout.fields>;
  bridgeExtensions: Decoded<typeof PM_BRIDGE_EXTENSIONS.layout.fields>;
  /** The raw PMCSR_BSE byte: lspci prints the Bridge line only when it is not 0. */
  bridgeExtensionsRaw: number;
  data: number;
}

export function decodePmCapability(space: ConfigSpace, offset: number): PmCapability {
  if (offset + PM_CAPABILITY_SIZE > space.bytes.length) {
    throw new InputError(
      `Power Management capability at 0x${offset.toString(16)}`,
      `its ${PM_CAPABILITY_SIZE} bytes run past the end of the config space`,
    );
  }
  const raw = (register: ConfigRegister) =>
    readConfig(space, offset + register.offset, register.size);
  const bridgeExtensionsRaw = raw(PM_BRIDGE_EXTENSIONS);
  return {
    offset,
    capabilities: decode(PM_CAPABILITIES.layout, [raw(PM_CAPABILITIES)]),
    controlStatus: decode(PM_CONTROL_STATUS.layout, [raw(PM_CONTROL_STATUS)]),
    bridgeExtensions: decode(PM_BRIDGE_EXTENSIONS.layout, [bridgeExtensionsRaw]),
    bridgeExtensionsRaw,
    data: raw(PM_DATA),
  };
}
