// The Access Control Services Extended Capability (PCI Express Base Spec 6.0, section 7.7.11
// "ACS Extended Capability"): which peer-to-peer controls a Downstream Port or multi-function
// device implements and which are enabled. Linux puts functions in one IOMMU group unless the
// path between them enforces Source Validation, Request/Completion Redirect and Upstream
// Forwarding (pci_acs_enabled, REQ_ACS_FLAGS), so these bits decide what VFIO can assign apart.
// Invariants: an enable bit is meaningful only where its capability bit is set (not checked).
// Not modelled: the Egress Control Vector (0x08), enforcement of the controls.

import { type Decoded, defineLayout } from '../bits.js';
import { type ConfigRegister, defineRegister } from './config-register.js';
import { type ConfigSpace, checkStructureFits, readRegisterFields } from './config-space.js';

/** Header, ACS Capability and ACS Control: what is decoded (no Egress Control Vector). */
export const ACS_CAPABILITY_SIZE = 0x08;

const CONTROLS = {
  sourceValidation: [0, 0, 'ACS Source Validation'],
  translationBlocking: [1, 1, 'ACS Translation Blocking'],
  p2pRequestRedirect: [2, 2, 'ACS P2P Request Redirect'],
  p2pCompletionRedirect: [3, 3, 'ACS P2P Completion Redirect'],
  upstreamForwarding: [4, 4, 'ACS Upstream Forwarding'],
  p2pEgressControl: [5, 5, 'ACS P2P Egress Control'],
  directTranslatedP2p: [6, 6, 'ACS Direct Translated P2P'],
} as const;

export const ACS_CAPABILITY = defineRegister(
  'ACS Capability',
  0x04,
  2,
  defineLayout(
    'acs-capability',
    32,
    'PCIe Base Spec 6.0, 7.7.11.2 ACS Capability Register',
    {
      ...CONTROLS,
      enhancedCapability: [7, 7, 'ACS Enhanced Capability'],
      egressControlVectorSize: [15, 8, 'Egress Control Vector Size'],
    },
    { complete: false },
  ),
  {
    sourceValidation: 'RO',
    translationBlocking: 'RO',
    p2pRequestRedirect: 'RO',
    p2pCompletionRedirect: 'RO',
    upstreamForwarding: 'RO',
    p2pEgressControl: 'RO',
    directTranslatedP2p: 'RO',
    enhancedCapability: 'RO',
    egressControlVectorSize: 'HwInit',
  },
);

export const ACS_CONTROL = defineRegister(
  'ACS Control',
  0x06,
  2,
  defineLayout(
    'acs-control',
    32,
    'PCIe Base Spec 6.0, 7.7.11.3 ACS Control Register (the enables of ACS_CAPABILITY bits 6:0)',
    {
      ...CONTROLS,
      ioRequestBlocking: [7, 7, 'ACS I/O Request Blocking Enable'],
      dspMemoryTargetAccess: [9, 8, 'ACS DSP Memory Target Access Control'],
      uspMemoryTargetAccess: [11, 10, 'ACS USP Memory Target Access Control'],
      unclaimedRequestRedirect: [12, 12, 'ACS Unclaimed Request Redirect Control'],
      reserved: [15, 13, 'Reserved'],
    },
    { complete: false },
  ),
  {
    sourceValidation: 'RW',
    translationBlocking: 'RW',
    p2pRequestRedirect: 'RW',
    p2pCompletionRedirect: 'RW',
    upstreamForwarding: 'RW',
    p2pEgressControl: 'RW',
    directTranslatedP2p: 'RW',
    ioRequestBlocking: 'RW',
    dspMemoryTargetAccess: 'RW',
    uspMemoryTargetAccess: 'RW',
    unclaimedRequestRedirect: 'RW',
    reserved: 'RsvdP',
  },
);

export const ACS_REGISTERS: readonly ConfigRegister[] = [ACS_CAPABILITY, ACS_CONTROL];

export interface AcsCapability {
  capability: Decoded<typeof ACS_CAPABILITY.layout.fields>;
  control: Decoded<typeof ACS_CONTROL.layout.fields>;
}

export function decodeAcsCapability(space: ConfigSpace, offset: number): AcsCapability {
  checkStructureFits(space, offset, ACS_CAPABILITY_SIZE, 'ACS capability');
  return {
    capability: readRegisterFields(space, offset, ACS_CAPABILITY),
    control: readRegisterFields(space, offset, ACS_CONTROL),
  };
}
