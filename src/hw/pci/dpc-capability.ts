// The Downstream Port Containment Extended Capability (PCI Express Base Spec 6.0, section 7.9.14
// "DPC Extended Capability"): a Root or Switch Downstream Port that, on an uncorrectable error,
// takes its link down so that no corrupted TLP passes (Linux's pcie/dpc.c). The Capability,
// Control, Status and Error Source ID registers are decoded.
// Not modelled: the RP PIO registers (0x0c onwards), containment itself.

import { type Decoded, defineLayout } from '../bits.js';
import { type ConfigRegister, defineRegister } from './config-register.js';
import { type ConfigSpace, checkStructureFits, readRegisterFields } from './config-space.js';

/** Header through the DPC Error Source ID register. */
export const DPC_CAPABILITY_SIZE = 0x0c;

export const DPC_CAPABILITY = defineRegister(
  'DPC Capability',
  0x04,
  2,
  defineLayout(
    'dpc-capability',
    32,
    'PCIe Base Spec 6.0, 7.9.14.2 DPC Capability Register',
    {
      interruptMessageNumber: [4, 0, 'DPC Interrupt Message Number'],
      rpExtensionsForDpc: [5, 5, 'RP Extensions for DPC'],
      poisonedTlpEgressBlockingSupported: [6, 6, 'Poisoned TLP Egress Blocking Supported'],
      softwareTriggeringSupported: [7, 7, 'DPC Software Triggering Supported'],
      rpPioLogSize: [11, 8, 'RP PIO Log Size'],
      dlActiveErrCorSignalingSupported: [12, 12, 'DL_Active ERR_COR Signaling Supported'],
      reserved: [15, 13, 'Reserved (bit 13: RP PIO Log Size[4])'],
    },
    { complete: false },
  ),
  {
    interruptMessageNumber: 'RO',
    rpExtensionsForDpc: 'RO',
    poisonedTlpEgressBlockingSupported: 'RO',
    softwareTriggeringSupported: 'RO',
    rpPioLogSize: 'RO',
    dlActiveErrCorSignalingSupported: 'RO',
    reserved: 'RsvdP',
  },
);

export const DPC_CONTROL = defineRegister(
  'DPC Control',
  0x06,
  2,
  defineLayout(
    'dpc-control',
    32,
    'PCIe Base Spec 6.0, 7.9.14.3 DPC Control Register',
    {
      triggerEnable: [1, 0, 'DPC Trigger Enable'],
      completionControl: [2, 2, 'DPC Completion Control'],
      interruptEnable: [3, 3, 'DPC Interrupt Enable'],
      errCorEnable: [4, 4, 'DPC ERR_COR Enable'],
      poisonedTlpEgressBlockingEnable: [5, 5, 'Poisoned TLP Egress Blocking Enable'],
      softwareTrigger: [6, 6, 'DPC Software Trigger'],
      dlActiveErrCorEnable: [7, 7, 'DL_Active ERR_COR Enable'],
      reserved: [15, 8, 'Reserved (bit 8: DPC SIG_SFW Enable)'],
    },
    { complete: false },
  ),
  {
    triggerEnable: 'RW',
    completionControl: 'RW',
    interruptEnable: 'RW',
    errCorEnable: 'RW',
    poisonedTlpEgressBlockingEnable: 'RW',
    softwareTrigger: 'RW',
    dlActiveErrCorEnable: 'RW',
    reserved: 'RsvdP',
  },
);

export const DPC_STATUS = defineRegister(
  'DPC Status',
  0x08,
  2,
  defineLayout(
    'dpc-status',
    32,
    'PCIe Base Spec 6.0, 7.9.14.4 DPC Status Register',
    {
      triggerStatus: [0, 0, 'DPC Trigger Status'],
      triggerReason: [2, 1, 'DPC Trigger Reason'],
      interruptStatus: [3, 3, 'DPC Interrupt Status'],
      rpBusy: [4, 4, 'DPC RP Busy'],
      triggerReasonExtension: [6, 5, 'DPC Trigger Reason Extension'],
      reserved: [7, 7, 'Reserved'],
      rpPioFirstErrorPointer: [12, 8, 'RP PIO First Error Pointer'],
      reservedHigh: [15, 13, 'Reserved'],
    },
    { complete: false },
  ),
  {
    triggerStatus: 'RW1C',
    triggerReason: 'RO',
    interruptStatus: 'RW1C',
    rpBusy: 'RO',
    triggerReasonExtension: 'RO',
    reserved: 'RsvdZ',
    rpPioFirstErrorPointer: 'RO',
    reservedHigh: 'RsvdZ',
  },
);

export const DPC_ERROR_SOURCE_ID = defineRegister(
  'DPC Error Source ID',
  0x0a,
  2,
  defineLayout(
    'dpc-error-source-id',
    32,
    'PCIe Base Spec 6.0, 7.9.14.5 DPC Error Source ID Register',
    { errorSourceId: [15, 0, 'DPC Error Source ID (requester ID)'] },
    { complete: false },
  ),
  { errorSourceId: 'RO' },
);

export const DPC_REGISTERS: readonly ConfigRegister[] = [
  DPC_CAPABILITY,
  DPC_CONTROL,
  DPC_STATUS,
  DPC_ERROR_SOURCE_ID,
];

export interface DpcCapability {
  capability: Decoded<typeof DPC_CAPABILITY.layout.fields>;
  control: Decoded<typeof DPC_CONTROL.layout.fields>;
  status: Decoded<typeof DPC_STATUS.layout.fields>;
  errorSourceId: number;
}

export function decodeDpcCapability(space: ConfigSpace, offset: number): DpcCapability {
  checkStructureFits(space, offset, DPC_CAPABILITY_SIZE, 'DPC capability');
  return {
    capability: readRegisterFields(space, offset, DPC_CAPABILITY),
    control: readRegisterFields(space, offset, DPC_CONTROL),
    status: readRegisterFields(space, offset, DPC_STATUS),
    errorSourceId: readRegisterFields(space, offset, DPC_ERROR_SOURCE_ID).errorSourceId,
  };
}
