// The PCI Express Capability structure (PCI Express Base Spec 6.0, section 7.5.3 "PCI Express
// Capability Structure"): PCI Express Capabilities, Device, Link, Slot, Root and the "2" registers,
// as far as `lspci -vvv` prints them. Offsets are from the capability's start (Figure 7-24).
// Invariants: a function with this capability has 4 KiB of config space (extended capabilities
// start at 0x100); Link registers exist for every type except Root Complex Integrated Endpoints and
// Root Complex Event Collectors; Slot registers for ports with Slot Implemented set (pcieHasSlot),
// Root registers for Root Ports and Event Collectors; the "2" registers from Capability Version 2.
// Not modelled: DevSta2/SltCap2/SltCtl2/SltSta2 (reserved), Flit mode, hot-plug itself.

import { type Decoded, decode, defineLayout } from '../bits.js';
import { InputError } from '../errors.js';
import { type ConfigRegister, defineRegister } from './config-register.js';
import { type ConfigSpace, readConfig } from './config-space.js';

/** Device/Port Type values (PCIe 6.0, 7.5.3.2). */
export const PCIE_DEVICE_PORT_TYPE = {
  endpoint: 0x0,
  legacyEndpoint: 0x1,
  rootPort: 0x4,
  upstreamPort: 0x5,
  downstreamPort: 0x6,
  pcieToPciBridge: 0x7,
  pciToPcieBridge: 0x8,
  rootComplexIntegratedEndpoint: 0x9,
  rootComplexEventCollector: 0xa,
} as const;

/** Bytes the decoder reads: through Link Status 2 (version 2) or Link Status (version 1). The
 *  full structure is 0x3c bytes; Slot and Root registers are not decoded. */
export const PCIE_CAPABILITY_SIZE = 0x34;
export const PCIE_CAPABILITY_V1_SIZE = 0x14;

export const PCIE_CAPABILITIES = defineRegister(
  'PCI Express Capabilities',
  0x02,
  2,
  defineLayout(
    'pcie-capabilities',
    32,
    'PCIe Base Spec 6.0, 7.5.3.2 PCI Express Capabilities Register',
    {
      capabilityVersion: [3, 0, 'Capability Version (1 or 2)'],
      devicePortType: [7, 4, 'Device/Port Type'],
      slotImplemented: [8, 8, 'Slot Implemented'],
      interruptMessageNumber: [13, 9, 'Interrupt Message Number (MSI/MSI-X vector)'],
      tcsRoutingSupported: [14, 14, 'TCS Routing Supported (reserved since 6.0)'],
      flitModeSupported: [15, 15, 'Flit Mode Supported (6.0)'],
    },
    { complete: false },
  ),
  {
    capabilityVersion: 'RO',
    devicePortType: 'RO',
    slotImplemented: 'HwInit',
    interruptMessageNumber: 'RO',
    tcsRoutingSupported: 'RO',
    flitModeSupported: 'HwInit',
  },
);

export const DEVICE_CAPABILITIES = defineRegister(
  'Device Capabilities',
  0x04,
  4,
  defineLayout(
    'pcie-device-capabilities',
    32,
    'PCIe Base Spec 6.0, 7.5.3.3 Device Capabilities Register',
    {
      maxPayloadSizeSupported: [2, 0, 'Max_Payload_Size Supported: 128 << n bytes'],
      phantomFunctionsSupported: [4, 3, 'Phantom Functions Supported'],
      extendedTagFieldSupported: [5, 5, 'Extended Tag Field Supported'],
      endpointL0sAcceptableLatency: [8, 6, 'Endpoint L0s Acceptable Latency'],
      endpointL1AcceptableLatency: [11, 9, 'Endpoint L1 Acceptable Latency'],
      attentionButtonPresent: [12, 12, 'undefined since 1.1; lspci shows AttnBtn'],
      attentionIndicatorPresent: [13, 13, 'undefined since 1.1; lspci shows AttnInd'],
      powerIndicatorPresent: [14, 14, 'undefined since 1.1; lspci shows PwrInd'],
      roleBasedErrorReporting: [15, 15, 'Role-Based Error Reporting'],
      errCorSubclassCapable: [16, 16, 'ERR_COR Subclass Capable'],
      reserved: [17, 17, 'Reserved'],
      capturedSlotPowerLimitValue: [25, 18, 'Captured Slot Power Limit Value'],
      capturedSlotPowerLimitScale: [27, 26, 'Captured Slot Power Limit Scale'],
      functionLevelResetCapability: [28, 28, 'Function Level Reset Capability'],
      reservedHigh: [31, 29, 'Mixed_MPS/TEE-IO in 6.x; not decoded'],
    },
    { complete: true },
  ),
  {
    maxPayloadSizeSupported: 'RO',
    phantomFunctionsSupported: 'RO',
    extendedTagFieldSupported: 'RO',
    endpointL0sAcceptableLatency: 'RO',
    endpointL1AcceptableLatency: 'RO',
    attentionButtonPresent: 'RO',
    attentionIndicatorPresent: 'RO',
    powerIndicatorPresent: 'RO',
    roleBasedErrorReporting: 'RO',
    errCorSubclassCapable: 'RO',
    reserved: 'RsvdP',
    capturedSlotPowerLimitValue: 'RO',
    capturedSlotPowerLimitScale: 'RO',
    functionLevelResetCapability: 'RO',
    reservedHigh: 'RsvdP',
  },
);

export const DEVICE_CONTROL = defineRegister(
  'Device Control',
  0x08,
  2,
  defineLayout(
    'pcie-device-control',
    32,
    'PCIe Base Spec 6.0, 7.5.3.4 Device Control Register',
    {
      correctableErrorReportingEnable: [0, 0, 'Correctable Error Reporting Enable'],
      nonFatalErrorReportingEnable: [1, 1, 'Non-Fatal Error Reporting Enable'],
      fatalErrorReportingEnable: [2, 2, 'Fatal Error Reporting Enable'],
      unsupportedRequestReportingEnable: [3, 3, 'Unsupported Request Reporting Enable'],
      enableRelaxedOrdering: [4, 4, 'Enable Relaxed Ordering'],
      maxPayloadSize: [7, 5, 'Max_Payload_Size: 128 << n bytes'],
      extendedTagFieldEnable: [8, 8, 'Extended Tag Field Enable'],
      phantomFunctionsEnable: [9, 9, 'Phantom Functions Enable'],
      auxPowerPmEnable: [10, 10, 'Aux Power PM Enable'],
      enableNoSnoop: [11, 11, 'Enable No Snoop'],
      maxReadRequestSize: [14, 12, 'Max_Read_Request_Size: 128 << n bytes'],
      initiateFunctionLevelReset: [15, 15, 'Initiate FLR (endpoints) / Bridge Config Retry'],
    },
    { complete: false },
  ),
  {
    correctableErrorReportingEnable: 'RW',
    nonFatalErrorReportingEnable: 'RW',
    fatalErrorReportingEnable: 'RW',
    unsupportedRequestReportingEnable: 'RW',
    enableRelaxedOrdering: 'RW',
    maxPayloadSize: 'RW',
    extendedTagFieldEnable: 'RW',
    phantomFunctionsEnable: 'RW',
    auxPowerPmEnable: 'RW',
    enableNoSnoop: 'RW',
    maxReadRequestSize: 'RW',
    // The spec: "always returns 0 when read"; a write of 1 starts an FLR, which irqlab does not
    // model, so the bit is kept as written rather than pretending a reset happened.
    initiateFunctionLevelReset: 'RW',
  },
);

export const DEVICE_STATUS = defineRegister(
  'Device Status',
  0x0a,
  2,
  defineLayout(
    'pcie-device-status',
    32,
    'PCIe Base Spec 6.0, 7.5.3.5 Device Status Register',
    {
      correctableErrorDetected: [0, 0, 'Correctable Error Detected'],
      nonFatalErrorDetected: [1, 1, 'Non-Fatal Error Detected'],
      fatalErrorDetected: [2, 2, 'Fatal Error Detected'],
      unsupportedRequestDetected: [3, 3, 'Unsupported Request Detected'],
      auxPowerDetected: [4, 4, 'AUX Power Detected'],
      transactionsPending: [5, 5, 'Transactions Pending'],
      emergencyPowerReductionDetected: [6, 6, 'Emergency Power Reduction Detected'],
      reserved: [15, 7, 'Reserved'],
    },
    { complete: false },
  ),
  {
    correctableErrorDetected: 'RW1C',
    nonFatalErrorDetected: 'RW1C',
    fatalErrorDetected: 'RW1C',
    unsupportedRequestDetected: 'RW1C',
    auxPowerDetected: 'RO',
    transactionsPending: 'RO',
    emergencyPowerReductionDetected: 'RW1C',
    reserved: 'RsvdZ',
  },
);

export const LINK_CAPABILITIES = defineRegister(
  'Link Capabilities',
  0x0c,
  4,
  defineLayout(
    'pcie-link-capabilities',
    32,
    'PCIe Base Spec 6.0, 7.5.3.6 Link Capabilities Register',
    {
      maxLinkSpeed: [3, 0, 'Max Link Speed: index into Supported Link Speeds Vector'],
      maximumLinkWidth: [9, 4, 'Maximum Link Width'],
      aspmSupport: [11, 10, 'ASPM Support: 1 L0s, 2 L1, 3 both'],
      l0sExitLatency: [14, 12, 'L0s Exit Latency'],
      l1ExitLatency: [17, 15, 'L1 Exit Latency'],
      clockPowerManagement: [18, 18, 'Clock Power Management'],
      surpriseDownErrorReportingCapable: [19, 19, 'Surprise Down Error Reporting Capable'],
      dataLinkLayerLinkActiveReportingCapable: [20, 20, 'DLL Link Active Reporting Capable'],
      linkBandwidthNotificationCapability: [21, 21, 'Link Bandwidth Notification Capability'],
      aspmOptionalityCompliance: [22, 22, 'ASPM Optionality Compliance'],
      reserved: [23, 23, 'Reserved'],
      portNumber: [31, 24, 'Port Number'],
    },
    { complete: true },
  ),
  {
    maxLinkSpeed: 'RO',
    maximumLinkWidth: 'RO',
    aspmSupport: 'RO',
    l0sExitLatency: 'RO',
    l1ExitLatency: 'RO',
    clockPowerManagement: 'RO',
    surpriseDownErrorReportingCapable: 'RO',
    dataLinkLayerLinkActiveReportingCapable: 'RO',
    linkBandwidthNotificationCapability: 'RO',
    aspmOptionalityCompliance: 'HwInit',
    reserved: 'RsvdP',
    portNumber: 'HwInit',
  },
);

export const LINK_CONTROL = defineRegister(
  'Link Control',
  0x10,
  2,
  defineLayout(
    'pcie-link-control',
    32,
    'PCIe Base Spec 6.0, 7.5.3.7 Link Control Register',
    {
      aspmControl: [1, 0, 'ASPM Control'],
      reserved: [2, 2, 'PTM Propagation Delay Adaptation Interpretation B (6.0)'],
      readCompletionBoundary: [3, 3, 'Read Completion Boundary: 0 = 64, 1 = 128 bytes'],
      linkDisable: [4, 4, 'Link Disable'],
      retrainLink: [5, 5, 'Retrain Link'],
      commonClockConfiguration: [6, 6, 'Common Clock Configuration'],
      extendedSynch: [7, 7, 'Extended Synch'],
      enableClockPowerManagement: [8, 8, 'Enable Clock Power Management'],
      hardwareAutonomousWidthDisable: [9, 9, 'Hardware Autonomous Width Disable'],
      linkBandwidthManagementInterruptEnable: [10, 10, 'Link Bandwidth Mgmt Interrupt Enable'],
      linkAutonomousBandwidthInterruptEnable: [11, 11, 'Link Autonomous Bandwidth Int Enable'],
      reservedHigh: [13, 12, 'SRIS Clocking / Flit Mode Disable (6.0); not decoded'],
      drsSignalingControl: [15, 14, 'DRS Signaling Control'],
    },
    { complete: false },
  ),
  {
    aspmControl: 'RW',
    reserved: 'RsvdP',
    readCompletionBoundary: 'RW',
    linkDisable: 'RW',
    retrainLink: 'RW',
    commonClockConfiguration: 'RW',
    extendedSynch: 'RW',
    enableClockPowerManagement: 'RW',
    hardwareAutonomousWidthDisable: 'RW',
    linkBandwidthManagementInterruptEnable: 'RW',
    linkAutonomousBandwidthInterruptEnable: 'RW',
    reservedHigh: 'RsvdP',
    drsSignalingControl: 'RW',
  },
);

export const LINK_STATUS = defineRegister(
  'Link Status',
  0x12,
  2,
  defineLayout(
    'pcie-link-status',
    32,
    'PCIe Base Spec 6.0, 7.5.3.8 Link Status Register',
    {
      currentLinkSpeed: [3, 0, 'Current Link Speed'],
      negotiatedLinkWidth: [9, 4, 'Negotiated Link Width'],
      linkTrainingError: [10, 10, 'undefined since 2.0; lspci shows TrErr'],
      linkTraining: [11, 11, 'Link Training'],
      slotClockConfiguration: [12, 12, 'Slot Clock Configuration'],
      dataLinkLayerLinkActive: [13, 13, 'Data Link Layer Link Active'],
      linkBandwidthManagementStatus: [14, 14, 'Link Bandwidth Management Status'],
      linkAutonomousBandwidthStatus: [15, 15, 'Link Autonomous Bandwidth Status'],
    },
    { complete: false },
  ),
  {
    currentLinkSpeed: 'RO',
    negotiatedLinkWidth: 'RO',
    linkTrainingError: 'RO',
    linkTraining: 'RO',
    slotClockConfiguration: 'HwInit',
    dataLinkLayerLinkActive: 'RO',
    linkBandwidthManagementStatus: 'RW1C',
    linkAutonomousBandwidthStatus: 'RW1C',
  },
);

export const DEVICE_CAPABILITIES_2 = defineRegister(
  'Device Capabilities 2',
  0x24,
  4,
  defineLayout(
    'pcie-device-capabilities-2',
    32,
    'PCIe Base Spec 6.0, 7.5.3.15 Device Capabilities 2 Register',
    {
      completionTimeoutRangesSupported: [3, 0, 'Completion Timeout Ranges Supported'],
      completionTimeoutDisableSupported: [4, 4, 'Completion Timeout Disable Supported'],
      ariForwardingSupported: [5, 5, 'ARI Forwarding Supported'],
      atomicOpRoutingSupported: [6, 6, 'AtomicOp Routing Supported'],
      atomicOp32CompleterSupported: [7, 7, '32-bit AtomicOp Completer Supported'],
      atomicOp64CompleterSupported: [8, 8, '64-bit AtomicOp Completer Supported'],
      cas128CompleterSupported: [9, 9, '128-bit CAS Completer Supported'],
      noRoEnabledPrPrPassing: [10, 10, 'No RO-enabled PR-PR Passing'],
      ltrMechanismSupported: [11, 11, 'LTR Mechanism Supported'],
      tphCompleterSupported: [13, 12, 'TPH Completer Supported'],
      lnSystemCls: [15, 14, 'LN System CLS'],
      tenBitTagCompleterSupported: [16, 16, '10-Bit Tag Completer Supported'],
      tenBitTagRequesterSupported: [17, 17, '10-Bit Tag Requester Supported'],
      obffSupported: [19, 18, 'OBFF Supported'],
      extendedFmtFieldSupported: [20, 20, 'Extended Fmt Field Supported'],
      endEndTlpPrefixSupported: [21, 21, 'End-End TLP Prefix Supported'],
      maxEndEndTlpPrefixes: [23, 22, 'Max End-End TLP Prefixes (0 means 4)'],
      emergencyPowerReductionSupported: [25, 24, 'Emergency Power Reduction Supported'],
      emergencyPowerReductionInitRequired: [26, 26, 'Emergency Power Reduction Init Required'],
      reserved: [30, 27, 'Reserved / DMWr (6.0); not decoded'],
      frsSupported: [31, 31, 'FRS Supported'],
    },
    { complete: true },
  ),
  {
    completionTimeoutRangesSupported: 'HwInit',
    completionTimeoutDisableSupported: 'RO',
    ariForwardingSupported: 'RO',
    atomicOpRoutingSupported: 'RO',
    atomicOp32CompleterSupported: 'RO',
    atomicOp64CompleterSupported: 'RO',
    cas128CompleterSupported: 'RO',
    noRoEnabledPrPrPassing: 'HwInit',
    ltrMechanismSupported: 'RO',
    tphCompleterSupported: 'RO',
    lnSystemCls: 'HwInit',
    tenBitTagCompleterSupported: 'HwInit',
    tenBitTagRequesterSupported: 'HwInit',
    obffSupported: 'HwInit',
    extendedFmtFieldSupported: 'RO',
    endEndTlpPrefixSupported: 'HwInit',
    maxEndEndTlpPrefixes: 'HwInit',
    emergencyPowerReductionSupported: 'HwInit',
    emergencyPowerReductionInitRequired: 'HwInit',
    reserved: 'RsvdP',
    frsSupported: 'HwInit',
  },
);

export const DEVICE_CONTROL_2 = defineRegister(
  'Device Control 2',
  0x28,
  2,
  defineLayout(
    'pcie-device-control-2',
    32,
    'PCIe Base Spec 6.0, 7.5.3.16 Device Control 2 Register',
    {
      completionTimeoutValue: [3, 0, 'Completion Timeout Value'],
      completionTimeoutDisable: [4, 4, 'Completion Timeout Disable'],
      ariForwardingEnable: [5, 5, 'ARI Forwarding Enable'],
      atomicOpRequesterEnable: [6, 6, 'AtomicOp Requester Enable'],
      atomicOpEgressBlocking: [7, 7, 'AtomicOp Egress Blocking'],
      idoRequestEnable: [8, 8, 'IDO Request Enable'],
      idoCompletionEnable: [9, 9, 'IDO Completion Enable'],
      ltrMechanismEnable: [10, 10, 'LTR Mechanism Enable'],
      emergencyPowerReductionRequest: [11, 11, 'Emergency Power Reduction Request'],
      tenBitTagRequesterEnable: [12, 12, '10-Bit Tag Requester Enable'],
      obffEnable: [14, 13, 'OBFF Enable'],
      endEndTlpPrefixBlocking: [15, 15, 'End-End TLP Prefix Blocking'],
    },
    { complete: false },
  ),
  {
    completionTimeoutValue: 'RW',
    completionTimeoutDisable: 'RW',
    ariForwardingEnable: 'RW',
    atomicOpRequesterEnable: 'RW',
    atomicOpEgressBlocking: 'RW',
    idoRequestEnable: 'RW',
    idoCompletionEnable: 'RW',
    ltrMechanismEnable: 'RW',
    emergencyPowerReductionRequest: 'RW',
    tenBitTagRequesterEnable: 'RW',
    obffEnable: 'RW',
    endEndTlpPrefixBlocking: 'RW',
  },
);

export const LINK_CAPABILITIES_2 = defineRegister(
  'Link Capabilities 2',
  0x2c,
  4,
  defineLayout(
    'pcie-link-capabilities-2',
    32,
    'PCIe Base Spec 6.0, 7.5.3.18 Link Capabilities 2 Register',
    {
      reserved: [0, 0, 'Reserved'],
      supportedLinkSpeedsVector: [7, 1, 'Supported Link Speeds Vector: bit 0 = 2.5 GT/s'],
      crosslinkSupported: [8, 8, 'Crosslink Supported'],
      lowerSkpOsGenerationSupported: [15, 9, 'Lower SKP OS Generation Supported Speeds'],
      lowerSkpOsReceptionSupported: [22, 16, 'Lower SKP OS Reception Supported Speeds'],
      retimerPresenceDetectSupported: [23, 23, 'Retimer Presence Detect Supported'],
      twoRetimersPresenceDetectSupported: [24, 24, 'Two Retimers Presence Detect Supported'],
      reservedHigh: [30, 25, 'Reserved'],
      drsSupported: [31, 31, 'DRS Supported'],
    },
    { complete: true },
  ),
  {
    reserved: 'RsvdP',
    supportedLinkSpeedsVector: 'HwInit',
    crosslinkSupported: 'RO',
    lowerSkpOsGenerationSupported: 'HwInit',
    lowerSkpOsReceptionSupported: 'HwInit',
    retimerPresenceDetectSupported: 'HwInit',
    twoRetimersPresenceDetectSupported: 'HwInit',
    reservedHigh: 'RsvdP',
    drsSupported: 'HwInit',
  },
);

export const LINK_CONTROL_2 = defineRegister(
  'Link Control 2',
  0x30,
  2,
  defineLayout(
    'pcie-link-control-2',
    32,
    'PCIe Base Spec 6.0, 7.5.3.19 Link Control 2 Register',
    {
      targetLinkSpeed: [3, 0, 'Target Link Speed'],
      enterCompliance: [4, 4, 'Enter Compliance'],
      hardwareAutonomousSpeedDisable: [5, 5, 'Hardware Autonomous Speed Disable'],
      selectableDeEmphasis: [6, 6, 'Selectable De-emphasis'],
      transmitMargin: [9, 7, 'Transmit Margin'],
      enterModifiedCompliance: [10, 10, 'Enter Modified Compliance'],
      complianceSos: [11, 11, 'Compliance SOS'],
      compliancePresetDeEmphasis: [15, 12, 'Compliance Preset/De-emphasis'],
    },
    { complete: false },
  ),
  {
    targetLinkSpeed: 'RW',
    enterCompliance: 'RW',
    hardwareAutonomousSpeedDisable: 'RW',
    selectableDeEmphasis: 'HwInit',
    transmitMargin: 'RW',
    enterModifiedCompliance: 'RW',
    complianceSos: 'RW',
    compliancePresetDeEmphasis: 'RW',
  },
);

export const LINK_STATUS_2 = defineRegister(
  'Link Status 2',
  0x32,
  2,
  defineLayout(
    'pcie-link-status-2',
    32,
    'PCIe Base Spec 6.0, 7.5.3.20 Link Status 2 Register',
    {
      currentDeEmphasisLevel: [0, 0, 'Current De-emphasis Level'],
      equalizationComplete: [1, 1, 'Equalization 8.0 GT/s Complete'],
      equalizationPhase1Successful: [2, 2, 'Equalization 8.0 GT/s Phase 1 Successful'],
      equalizationPhase2Successful: [3, 3, 'Equalization 8.0 GT/s Phase 2 Successful'],
      equalizationPhase3Successful: [4, 4, 'Equalization 8.0 GT/s Phase 3 Successful'],
      linkEqualizationRequest: [5, 5, 'Link Equalization Request 8.0 GT/s'],
      retimerPresenceDetected: [6, 6, 'Retimer Presence Detected'],
      twoRetimersPresenceDetected: [7, 7, 'Two Retimers Presence Detected'],
      crosslinkResolution: [9, 8, 'Crosslink Resolution'],
      reserved: [11, 10, 'Flit Mode Status (6.0) / Reserved'],
      downstreamComponentPresence: [14, 12, 'Downstream Component Presence'],
      drsMessageReceived: [15, 15, 'DRS Message Received'],
    },
    { complete: false },
  ),
  {
    currentDeEmphasisLevel: 'RO',
    equalizationComplete: 'RO',
    equalizationPhase1Successful: 'RO',
    equalizationPhase2Successful: 'RO',
    equalizationPhase3Successful: 'RO',
    linkEqualizationRequest: 'RW1C',
    retimerPresenceDetected: 'RO',
    twoRetimersPresenceDetected: 'RO',
    crosslinkResolution: 'RO',
    reserved: 'RsvdZ',
    downstreamComponentPresence: 'RO',
    drsMessageReceived: 'RW1C',
  },
);

export const SLOT_CAPABILITIES = defineRegister(
  'Slot Capabilities',
  0x14,
  4,
  defineLayout(
    'slot-capabilities',
    32,
    'PCIe Base Spec 6.0, 7.5.3.9 Slot Capabilities Register',
    {
      attentionButtonPresent: [0, 0, 'Attention Button Present'],
      powerControllerPresent: [1, 1, 'Power Controller Present'],
      mrlSensorPresent: [2, 2, 'MRL Sensor Present'],
      attentionIndicatorPresent: [3, 3, 'Attention Indicator Present'],
      powerIndicatorPresent: [4, 4, 'Power Indicator Present'],
      hotPlugSurprise: [5, 5, 'Hot-Plug Surprise'],
      hotPlugCapable: [6, 6, 'Hot-Plug Capable'],
      slotPowerLimitValue: [14, 7, 'Slot Power Limit Value'],
      slotPowerLimitScale: [16, 15, 'Slot Power Limit Scale'],
      electromechanicalInterlockPresent: [17, 17, 'Electromechanical Interlock Present'],
      noCommandCompletedSupport: [18, 18, 'No Command Completed Support'],
      physicalSlotNumber: [31, 19, 'Physical Slot Number'],
    },
    { complete: true },
  ),
  {
    attentionButtonPresent: 'HwInit',
    powerControllerPresent: 'HwInit',
    mrlSensorPresent: 'HwInit',
    attentionIndicatorPresent: 'HwInit',
    powerIndicatorPresent: 'HwInit',
    hotPlugSurprise: 'HwInit',
    hotPlugCapable: 'HwInit',
    slotPowerLimitValue: 'HwInit',
    slotPowerLimitScale: 'HwInit',
    electromechanicalInterlockPresent: 'HwInit',
    noCommandCompletedSupport: 'HwInit',
    physicalSlotNumber: 'HwInit',
  },
);

export const SLOT_CONTROL = defineRegister(
  'Slot Control',
  0x18,
  2,
  defineLayout(
    'slot-control',
    32,
    'PCIe Base Spec 6.0, 7.5.3.10 Slot Control Register',
    {
      attentionButtonPressedEnable: [0, 0, 'Attention Button Pressed Enable'],
      powerFaultDetectedEnable: [1, 1, 'Power Fault Detected Enable'],
      mrlSensorChangedEnable: [2, 2, 'MRL Sensor Changed Enable'],
      presenceDetectChangedEnable: [3, 3, 'Presence Detect Changed Enable'],
      commandCompletedInterruptEnable: [4, 4, 'Command Completed Interrupt Enable'],
      hotPlugInterruptEnable: [5, 5, 'Hot-Plug Interrupt Enable'],
      attentionIndicatorControl: [7, 6, 'Attention Indicator Control'],
      powerIndicatorControl: [9, 8, 'Power Indicator Control'],
      powerControllerControl: [10, 10, 'Power Controller Control (1 = off)'],
      electromechanicalInterlockControl: [11, 11, 'Electromechanical Interlock Control'],
      dataLinkLayerStateChangedEnable: [12, 12, 'Data Link Layer State Changed Enable'],
      reserved: [15, 13, 'Auto Slot Power Limit Disable, In-Band PD Disable, Reserved'],
    },
    { complete: false },
  ),
  {
    attentionButtonPressedEnable: 'RW',
    powerFaultDetectedEnable: 'RW',
    mrlSensorChangedEnable: 'RW',
    presenceDetectChangedEnable: 'RW',
    commandCompletedInterruptEnable: 'RW',
    hotPlugInterruptEnable: 'RW',
    attentionIndicatorControl: 'RW',
    powerIndicatorControl: 'RW',
    powerControllerControl: 'RW',
    electromechanicalInterlockControl: 'RW',
    dataLinkLayerStateChangedEnable: 'RW',
    reserved: 'RsvdP',
  },
);

export const SLOT_STATUS = defineRegister(
  'Slot Status',
  0x1a,
  2,
  defineLayout(
    'slot-status',
    32,
    'PCIe Base Spec 6.0, 7.5.3.11 Slot Status Register',
    {
      attentionButtonPressed: [0, 0, 'Attention Button Pressed'],
      powerFaultDetected: [1, 1, 'Power Fault Detected'],
      mrlSensorChanged: [2, 2, 'MRL Sensor Changed'],
      presenceDetectChanged: [3, 3, 'Presence Detect Changed'],
      commandCompleted: [4, 4, 'Command Completed'],
      mrlSensorState: [5, 5, 'MRL Sensor State'],
      presenceDetectState: [6, 6, 'Presence Detect State'],
      electromechanicalInterlockStatus: [7, 7, 'Electromechanical Interlock Status'],
      dataLinkLayerStateChanged: [8, 8, 'Data Link Layer State Changed'],
      reserved: [15, 9, 'Reserved'],
    },
    { complete: false },
  ),
  {
    attentionButtonPressed: 'RW1C',
    powerFaultDetected: 'RW1C',
    mrlSensorChanged: 'RW1C',
    presenceDetectChanged: 'RW1C',
    commandCompleted: 'RW1C',
    mrlSensorState: 'RO',
    presenceDetectState: 'RO',
    electromechanicalInterlockStatus: 'RO',
    dataLinkLayerStateChanged: 'RW1C',
    reserved: 'RsvdZ',
  },
);

export const ROOT_CONTROL = defineRegister(
  'Root Control',
  0x1c,
  2,
  defineLayout(
    'root-control',
    32,
    'PCIe Base Spec 6.0, 7.5.3.12 Root Control Register',
    {
      systemErrorOnCorrectableErrorEnable: [0, 0, 'System Error on Correctable Error Enable'],
      systemErrorOnNonFatalErrorEnable: [1, 1, 'System Error on Non-Fatal Error Enable'],
      systemErrorOnFatalErrorEnable: [2, 2, 'System Error on Fatal Error Enable'],
      pmeInterruptEnable: [3, 3, 'PME Interrupt Enable'],
      crsSoftwareVisibilityEnable: [4, 4, 'CRS Software Visibility Enable'],
      reserved: [15, 5, 'Reserved (bit 5: No NFM Subtree Below This Root Port)'],
    },
    { complete: false },
  ),
  {
    systemErrorOnCorrectableErrorEnable: 'RW',
    systemErrorOnNonFatalErrorEnable: 'RW',
    systemErrorOnFatalErrorEnable: 'RW',
    pmeInterruptEnable: 'RW',
    crsSoftwareVisibilityEnable: 'RW',
    reserved: 'RsvdP',
  },
);

export const ROOT_CAPABILITIES = defineRegister(
  'Root Capabilities',
  0x1e,
  2,
  defineLayout(
    'root-capabilities',
    32,
    'PCIe Base Spec 6.0, 7.5.3.13 Root Capabilities Register',
    {
      crsSoftwareVisibility: [0, 0, 'CRS Software Visibility'],
      reserved: [15, 1, 'Reserved'],
    },
    { complete: false },
  ),
  { crsSoftwareVisibility: 'RO', reserved: 'RsvdP' },
);

export const ROOT_STATUS = defineRegister(
  'Root Status',
  0x20,
  4,
  defineLayout(
    'root-status',
    32,
    'PCIe Base Spec 6.0, 7.5.3.14 Root Status Register',
    {
      pmeRequesterId: [15, 0, 'PME Requester ID'],
      pmeStatus: [16, 16, 'PME Status'],
      pmePending: [17, 17, 'PME Pending'],
      reserved: [31, 18, 'Reserved'],
    },
    { complete: true },
  ),
  { pmeRequesterId: 'RO', pmeStatus: 'RW1C', pmePending: 'RO', reserved: 'RsvdZ' },
);

/** Registers that `configWrite` knows attributes for, version 1 and version 2. */
export const PCIE_REGISTERS_V1: readonly ConfigRegister[] = [
  PCIE_CAPABILITIES,
  DEVICE_CAPABILITIES,
  DEVICE_CONTROL,
  DEVICE_STATUS,
  LINK_CAPABILITIES,
  LINK_CONTROL,
  LINK_STATUS,
];
export const PCIE_REGISTERS_V2: readonly ConfigRegister[] = [
  ...PCIE_REGISTERS_V1,
  DEVICE_CAPABILITIES_2,
  DEVICE_CONTROL_2,
  LINK_CAPABILITIES_2,
  LINK_CONTROL_2,
  LINK_STATUS_2,
];

const field = <R extends ConfigRegister>(space: ConfigSpace, offset: number, register: R) =>
  decode(register.layout, [readConfig(space, offset + register.offset, register.size)]) as Decoded<
    R['layout']['fields']
  >;

export interface PcieCapability {
  offset: number;
  capabilities: Decoded<typeof PCIE_CAPABILITIES.layout.fields>;
  deviceCapabilities: Decoded<typeof DEVICE_CAPABILITIES.layout.fields>;
  deviceControl: Decoded<typeof DEVICE_CONTROL.layout.fields>;
  deviceStatus: Decoded<typeof DEVICE_STATUS.layout.fields>;
  /** Absent for Root Complex Integrated Endpoints and Event Collectors (no link). */
  link:
    | {
        linkCapabilities: Decoded<typeof LINK_CAPABILITIES.layout.fields>;
        linkControl: Decoded<typeof LINK_CONTROL.layout.fields>;
        linkStatus: Decoded<typeof LINK_STATUS.layout.fields>;
      }
    | undefined;
  /** Root, Downstream and PCI/PCI-X-to-PCIe ports whose Slot Implemented bit is set. */
  slot:
    | {
        slotCapabilities: Decoded<typeof SLOT_CAPABILITIES.layout.fields>;
        slotControl: Decoded<typeof SLOT_CONTROL.layout.fields>;
        slotStatus: Decoded<typeof SLOT_STATUS.layout.fields>;
      }
    | undefined;
  /** Root Ports and Root Complex Event Collectors. */
  root:
    | {
        rootControl: Decoded<typeof ROOT_CONTROL.layout.fields>;
        rootCapabilities: Decoded<typeof ROOT_CAPABILITIES.layout.fields>;
        rootStatus: Decoded<typeof ROOT_STATUS.layout.fields>;
      }
    | undefined;
  /** Present from Capability Version 2. */
  version2:
    | {
        deviceCapabilities2: Decoded<typeof DEVICE_CAPABILITIES_2.layout.fields>;
        deviceControl2: Decoded<typeof DEVICE_CONTROL_2.layout.fields>;
        linkCapabilities2: Decoded<typeof LINK_CAPABILITIES_2.layout.fields>;
        linkControl2: Decoded<typeof LINK_CONTROL_2.layout.fields>;
        linkStatus2: Decoded<typeof LINK_STATUS_2.layout.fields>;
      }
    | undefined;
}

export const pcieHasLink = (devicePortType: number): boolean =>
  devicePortType !== PCIE_DEVICE_PORT_TYPE.rootComplexIntegratedEndpoint &&
  devicePortType !== PCIE_DEVICE_PORT_TYPE.rootComplexEventCollector;

const T = PCIE_DEVICE_PORT_TYPE;
/** Port types whose Slot Implemented bit means a slot (PCIe 6.0, 7.5.3.2: "valid for Root Port,
 *  Switch Downstream Port and PCI Express to PCI/PCI-X Bridge" downstream sides). */
export const pcieHasSlot = (devicePortType: number, slotImplemented: number): boolean =>
  slotImplemented === 1 &&
  [T.rootPort, T.downstreamPort, T.pciToPcieBridge].some((t) => t === devicePortType);
/** Port types that have the Root Control/Capabilities/Status registers. */
export const pcieHasRoot = (devicePortType: number): boolean =>
  devicePortType === T.rootPort || devicePortType === T.rootComplexEventCollector;
/** Bytes through Slot Status and through Root Status. */
const SLOT_END = 0x1c;
const ROOT_END = 0x24;

/** Reads the PCI Express capability at `offset`. */
export function decodePcieCapability(space: ConfigSpace, offset: number): PcieCapability {
  const capabilities = field(space, offset, PCIE_CAPABILITIES);
  const isV2 = capabilities.capabilityVersion >= 2;
  const hasSlot = pcieHasSlot(capabilities.devicePortType, capabilities.slotImplemented);
  const hasRoot = pcieHasRoot(capabilities.devicePortType);
  const size = Math.max(
    isV2 ? PCIE_CAPABILITY_SIZE : PCIE_CAPABILITY_V1_SIZE,
    hasRoot ? ROOT_END : hasSlot ? SLOT_END : 0,
  );
  if (offset + size > space.bytes.length) {
    throw new InputError(
      `PCI Express capability at 0x${offset.toString(16)}`,
      `its ${size} bytes run past the end of the ${space.bytes.length}-byte config space`,
    );
  }
  const hasLink = pcieHasLink(capabilities.devicePortType);
  return {
    offset,
    capabilities,
    deviceCapabilities: field(space, offset, DEVICE_CAPABILITIES),
    deviceControl: field(space, offset, DEVICE_CONTROL),
    deviceStatus: field(space, offset, DEVICE_STATUS),
    link: hasLink
      ? {
          linkCapabilities: field(space, offset, LINK_CAPABILITIES),
          linkControl: field(space, offset, LINK_CONTROL),
          linkStatus: field(space, offset, LINK_STATUS),
        }
      : undefined,
    slot: hasSlot
      ? {
          slotCapabilities: field(space, offset, SLOT_CAPABILITIES),
          slotControl: field(space, offset, SLOT_CONTROL),
          slotStatus: field(space, offset, SLOT_STATUS),
        }
      : undefined,
    root: hasRoot
      ? {
          rootControl: field(space, offset, ROOT_CONTROL),
          rootCapabilities: field(space, offset, ROOT_CAPABILITIES),
          rootStatus: field(space, offset, ROOT_STATUS),
        }
      : undefined,
    version2: isV2
      ? {
          deviceCapabilities2: field(space, offset, DEVICE_CAPABILITIES_2),
          deviceControl2: field(space, offset, DEVICE_CONTROL_2),
          linkCapabilities2: field(space, offset, LINK_CAPABILITIES_2),
          linkControl2: field(space, offset, LINK_CONTROL_2),
          linkStatus2: field(space, offset, LINK_STATUS_2),
        }
      : undefined,
  };
}
