// The `Capabilities: [xx] Express (vN) ...` block of `lspci -vvv`, as pciutils 3.9 prints it
// (ls-caps.c: cap_express, cap_express_dev, cap_express_link, cap_express_dev2,
// cap_express_link2). The wording, flag order and per-type conditions follow pciutils so that the
// text is comparable line for line with a real `lspci -vvv`; the values come from irqlab's
// decoder (hw/pci/pcie-capability.ts), not from ad hoc bit masks.
// (cap_express_slot, cap_express_root print the SltCap/SltCtl/SltSta and RootCap/RootCtl/RootSta
// lines of ports with a slot and of Root Ports / Event Collectors.)

import type { Decoded } from '../hw/bits.js';
import { BAR_LAYOUT, type ConfigHeader } from '../hw/pci/config-space.js';
import {
  type PCIE_CAPABILITIES,
  type PcieCapability,
  PCIE_DEVICE_PORT_TYPE as T,
} from '../hw/pci/pcie-capability.js';
import { bitSet, flag, hex, printfG } from './lspci-format.js';

const TYPE_NAMES: Readonly<Record<number, (slot: number) => string>> = {
  [T.endpoint]: () => 'Endpoint',
  [T.legacyEndpoint]: () => 'Legacy Endpoint',
  [T.rootPort]: (slot) => `Root Port (Slot${flag(slot)})`,
  [T.upstreamPort]: () => 'Upstream Port',
  [T.downstreamPort]: (slot) => `Downstream Port (Slot${flag(slot)})`,
  [T.pcieToPciBridge]: () => 'PCI-Express to PCI/PCI-X Bridge',
  [T.pciToPcieBridge]: (slot) => `PCI/PCI-X to PCI-Express Bridge (Slot${flag(slot)})`,
  [T.rootComplexIntegratedEndpoint]: () => 'Root Complex Integrated Endpoint',
  [T.rootComplexEventCollector]: () => 'Root Complex Event Collector',
};

const L0S_LATENCY = ['<64ns', '<128ns', '<256ns', '<512ns', '<1us', '<2us', '<4us', 'unlimited'];
const L1_LATENCY = ['<1us', '<2us', '<4us', '<8us', '<16us', '<32us', '<64us', 'unlimited'];
const POWER_SCALE = [1.0, 0.1, 0.01, 0.001];
const PAYLOAD_UNIT = 128;
const ASPM_ENABLED = ['Disabled', 'L0s Enabled', 'L1 Enabled', 'L0s L1 Enabled'];
const LINK_SPEED: Readonly<Record<number, string>> = {
  1: '2.5GT/s',
  2: '5GT/s',
  3: '8GT/s',
  4: '16GT/s',
  5: '32GT/s',
  6: '64GT/s',
};

/** First line after `Capabilities: [xx] `: the PCI Express Capabilities register alone. */
export function pcieTitle(c: Decoded<typeof PCIE_CAPABILITIES.layout.fields>): string {
  const name =
    TYPE_NAMES[c.devicePortType]?.(c.slotImplemented) ?? `Unknown type ${c.devicePortType}`;
  return `Express (v${c.capabilityVersion}) ${name}, MSI ${c.interruptMessageNumber.toString(16).padStart(2, '0')}`;
}

const is = (type: number, ...types: number[]) => types.includes(type);

/** pciutils' show_power_limit(), shared by DevCap and SltCap. */
function powerLimit(value: number, scale: number): string {
  if (scale === 0 && value === 0xff) return '>600W';
  const watts = scale === 0 && value >= 0xf0 && value <= 0xfe ? 250 + 25 * (value - 0xf0) : value;
  return `${printfG(watts * POWER_SCALE[scale])}W`;
}

function deviceLines(cap: PcieCapability): string[] {
  const type = cap.capabilities.devicePortType;
  const dc = cap.deviceCapabilities;
  const ctl = cap.deviceControl;
  const sta = cap.deviceStatus;
  let devCap = `\t\tDevCap:\tMaxPayload ${PAYLOAD_UNIT * 2 ** dc.maxPayloadSizeSupported} bytes, PhantFunc ${2 ** dc.phantomFunctionsSupported - 1}`;
  if (is(type, T.endpoint, T.legacyEndpoint)) {
    devCap += `, Latency L0s ${L0S_LATENCY[dc.endpointL0sAcceptableLatency]}, L1 ${L1_LATENCY[dc.endpointL1AcceptableLatency]}`;
  }
  let devCapFlags = `\t\t\tExtTag${flag(dc.extendedTagFieldSupported)}`;
  if (is(type, T.endpoint, T.legacyEndpoint, T.upstreamPort, T.pcieToPciBridge)) {
    devCapFlags += ` AttnBtn${flag(dc.attentionButtonPresent)} AttnInd${flag(dc.attentionIndicatorPresent)} PwrInd${flag(dc.powerIndicatorPresent)}`;
  }
  devCapFlags += ` RBE${flag(dc.roleBasedErrorReporting)}`;
  const flrType = is(type, T.endpoint, T.legacyEndpoint, T.rootComplexIntegratedEndpoint);
  if (flrType) devCapFlags += ` FLReset${flag(dc.functionLevelResetCapability)}`;
  if (is(type, T.endpoint, T.upstreamPort, T.pcieToPciBridge)) {
    devCapFlags += ` SlotPowerLimit ${powerLimit(dc.capturedSlotPowerLimitValue, dc.capturedSlotPowerLimitScale)}`;
  }
  let devCtlFlags = `\t\t\tRlxdOrd${flag(ctl.enableRelaxedOrdering)} ExtTag${flag(ctl.extendedTagFieldEnable)} PhantFunc${flag(ctl.phantomFunctionsEnable)} AuxPwr${flag(ctl.auxPowerPmEnable)} NoSnoop${flag(ctl.enableNoSnoop)}`;
  if (type === T.pcieToPciBridge)
    devCtlFlags += ` BrConfRtry${flag(ctl.initiateFunctionLevelReset)}`;
  if (flrType && dc.functionLevelResetCapability) {
    devCtlFlags += ` FLReset${flag(ctl.initiateFunctionLevelReset)}`;
  }
  return [
    devCap,
    devCapFlags,
    `\t\tDevCtl:\tCorrErr${flag(ctl.correctableErrorReportingEnable)} NonFatalErr${flag(ctl.nonFatalErrorReportingEnable)} FatalErr${flag(ctl.fatalErrorReportingEnable)} UnsupReq${flag(ctl.unsupportedRequestReportingEnable)}`,
    devCtlFlags,
    `\t\t\tMaxPayload ${PAYLOAD_UNIT * 2 ** ctl.maxPayloadSize} bytes, MaxReadReq ${PAYLOAD_UNIT * 2 ** ctl.maxReadRequestSize} bytes`,
    `\t\tDevSta:\tCorrErr${flag(sta.correctableErrorDetected)} NonFatalErr${flag(sta.nonFatalErrorDetected)} FatalErr${flag(sta.fatalErrorDetected)} UnsupReq${flag(sta.unsupportedRequestDetected)} AuxPwr${flag(sta.auxPowerDetected)} TransPend${flag(sta.transactionsPending)}`,
  ];
}

const ASPM_SUPPORT = ['not supported', 'L0s', 'L1', 'L0s L1'];

function linkCompare(type: number, sta: number, cap: number): string {
  if (sta > cap) return ' (overdriven)';
  if (sta === cap) return '';
  if (is(type, T.rootPort, T.downstreamPort, T.pciToPcieBridge)) return '';
  return ' (downgraded)';
}

function linkLines(cap: PcieCapability, link: NonNullable<PcieCapability['link']>): string[] {
  const type = cap.capabilities.devicePortType;
  const lc = link.linkCapabilities;
  const ctl = link.linkControl;
  const sta = link.linkStatus;
  let lnkCap = `\t\tLnkCap:\tPort #${lc.portNumber}, Speed ${LINK_SPEED[lc.maxLinkSpeed] ?? 'unknown'}, Width x${lc.maximumLinkWidth}, ASPM ${ASPM_SUPPORT[lc.aspmSupport]}`;
  // ASPM Support is a 2-bit vector: bit 0 L0s, bit 1 L1.
  const l0s = bitSet(lc.aspmSupport, 0);
  if (lc.aspmSupport !== 0) {
    lnkCap += ', Exit Latency ';
    if (l0s) lnkCap += `L0s ${L0S_LATENCY[lc.l0sExitLatency]}`;
    if (bitSet(lc.aspmSupport, 1)) lnkCap += `${l0s ? ', ' : ''}L1 ${L1_LATENCY[lc.l1ExitLatency]}`;
  }
  let lnkCtl = `\t\tLnkCtl:\tASPM ${ASPM_ENABLED[ctl.aspmControl]};`;
  if (is(type, T.rootPort, T.endpoint, T.legacyEndpoint, T.pcieToPciBridge)) {
    lnkCtl += ` RCB ${ctl.readCompletionBoundary ? 128 : 64} bytes,`;
  }
  lnkCtl += ` Disabled${flag(ctl.linkDisable)} CommClk${flag(ctl.commonClockConfiguration)}`;
  return [
    lnkCap,
    `\t\t\tClockPM${flag(lc.clockPowerManagement)} Surprise${flag(lc.surpriseDownErrorReportingCapable)} LLActRep${flag(lc.dataLinkLayerLinkActiveReportingCapable)} BwNot${flag(lc.linkBandwidthNotificationCapability)} ASPMOptComp${flag(lc.aspmOptionalityCompliance)}`,
    lnkCtl,
    `\t\t\tExtSynch${flag(ctl.extendedSynch)} ClockPM${flag(ctl.enableClockPowerManagement)} AutWidDis${flag(ctl.hardwareAutonomousWidthDisable)} BWInt${flag(ctl.linkBandwidthManagementInterruptEnable)} AutBWInt${flag(ctl.linkAutonomousBandwidthInterruptEnable)}`,
    `\t\tLnkSta:\tSpeed ${LINK_SPEED[sta.currentLinkSpeed] ?? 'unknown'}${linkCompare(type, sta.currentLinkSpeed, lc.maxLinkSpeed)}, Width x${sta.negotiatedLinkWidth}${linkCompare(type, sta.negotiatedLinkWidth, lc.maximumLinkWidth)}`,
    `\t\t\tTrErr${flag(sta.linkTrainingError)} Train${flag(sta.linkTraining)} SlotClk${flag(sta.slotClockConfiguration)} DLActive${flag(sta.dataLinkLayerLinkActive)} BWMgmt${flag(sta.linkBandwidthManagementStatus)} ABWMgmt${flag(sta.linkAutonomousBandwidthStatus)}`,
  ];
}

const TIMEOUT_RANGE: Readonly<Record<number, string>> = {
  0: 'Not Supported',
  1: 'Range A',
  2: 'Range B',
  3: 'Range AB',
  6: 'Range BC',
  7: 'Range ABC',
  14: 'Range BCD',
  15: 'Range ABCD',
};
const TIMEOUT_VALUE: Readonly<Record<number, string>> = {
  0: '50us to 50ms',
  1: '50us to 100us',
  2: '1ms to 10ms',
  5: '16ms to 55ms',
  6: '65ms to 210ms',
  9: '260ms to 900ms',
  10: '1s to 3.5s',
  13: '4s to 13s',
  14: '17s to 64s',
};
const OBFF_SUPPORT = ['Not Supported', 'Via message', 'Via WAKE#', 'Via message/WAKE#'];
const EPR_SUPPORT = ['Not Supported', 'Dev Specific', 'Form Factor Dev Specific', 'Reserved'];
const LN_CLS = ['Not Supported', '64byte cachelines', '128byte cachelines', 'Reserved'];
const TPH_COMP = ['TPHComp- ExtTPHComp-', 'TPHComp+ ExtTPHComp-', '', 'TPHComp+ ExtTPHComp+'];
const OBFF_ENABLE = ['Disabled', 'Via message A', 'Via message B', 'Via WAKE#'];
/** End-End TLP Prefixes: the field's 0 means 4 (PCIe 6.0, 7.5.3.15). */
const MAX_EE_PREFIXES_ZERO = 4;

function device2Lines(
  cap: PcieCapability,
  v2: NonNullable<PcieCapability['version2']>,
  hasMemoryBar: boolean,
): string[] {
  const type = cap.capabilities.devicePortType;
  const dc = v2.deviceCapabilities2;
  const ctl = v2.deviceControl2;
  const lines: string[] = [];
  lines.push(
    `\t\tDevCap2: Completion Timeout: ${TIMEOUT_RANGE[dc.completionTimeoutRangesSupported] ?? 'Unknown'}, TimeoutDis${flag(dc.completionTimeoutDisableSupported)} NROPrPrP${flag(dc.noRoEnabledPrPrPassing)} LTR${flag(dc.ltrMechanismSupported)}`,
  );
  let prefixes = `\t\t\t 10BitTagComp${flag(dc.tenBitTagCompleterSupported)} 10BitTagReq${flag(dc.tenBitTagRequesterSupported)} OBFF ${OBFF_SUPPORT[dc.obffSupported]}, ExtFmt${flag(dc.extendedFmtFieldSupported)} EETLPPrefix${flag(dc.endEndTlpPrefixSupported)}`;
  if (dc.endEndTlpPrefixSupported) {
    prefixes += `, MaxEETLPPrefixes ${dc.maxEndEndTlpPrefixes || MAX_EE_PREFIXES_ZERO}`;
  }
  lines.push(prefixes);
  lines.push(
    `\t\t\t EmergencyPowerReduction ${EPR_SUPPORT[dc.emergencyPowerReductionSupported]}, EmergencyPowerReductionInit${flag(dc.emergencyPowerReductionInitRequired)}`,
  );
  let frs = `\t\t\t FRS${flag(dc.frsSupported)}`;
  if (type === T.rootPort) frs += ` LN System CLS ${LN_CLS[dc.lnSystemCls]},`;
  if (is(type, T.rootPort, T.endpoint)) frs += ` ${TPH_COMP[dc.tphCompleterSupported]}`;
  if (is(type, T.rootPort, T.downstreamPort)) frs += ` ARIFwd${flag(dc.ariForwardingSupported)}`;
  lines.push(frs);
  const switchPort = is(type, T.rootPort, T.upstreamPort, T.downstreamPort);
  if (switchPort || hasMemoryBar) {
    let atomic = '\t\t\t AtomicOpsCap:';
    if (switchPort) atomic += ` Routing${flag(dc.atomicOpRoutingSupported)}`;
    if (type === T.rootPort || hasMemoryBar) {
      atomic += ` 32bit${flag(dc.atomicOp32CompleterSupported)} 64bit${flag(dc.atomicOp64CompleterSupported)} 128bitCAS${flag(dc.cas128CompleterSupported)}`;
    }
    lines.push(atomic);
  }
  let devCtl2 = `\t\tDevCtl2: Completion Timeout: ${TIMEOUT_VALUE[ctl.completionTimeoutValue] ?? 'Unknown'}, TimeoutDis${flag(ctl.completionTimeoutDisable)} LTR${flag(ctl.ltrMechanismEnable)} 10BitTagReq${flag(ctl.tenBitTagRequesterEnable)} OBFF ${OBFF_ENABLE[ctl.obffEnable]},`;
  if (is(type, T.rootPort, T.downstreamPort)) devCtl2 += ` ARIFwd${flag(ctl.ariForwardingEnable)}`;
  lines.push(devCtl2);
  const requester = is(
    type,
    T.rootPort,
    T.endpoint,
    T.rootComplexIntegratedEndpoint,
    T.legacyEndpoint,
  );
  if (switchPort || requester) {
    let atomic = '\t\t\t AtomicOpsCtl:';
    if (requester) atomic += ` ReqEn${flag(ctl.atomicOpRequesterEnable)}`;
    if (switchPort) atomic += ` EgressBlck${flag(ctl.atomicOpEgressBlocking)}`;
    lines.push(atomic);
  }
  return lines;
}

const DEEMPHASIS = ['-6dB', '-3.5dB'];
const TARGET_SPEED: Readonly<Record<number, string>> = { 0: '2.5GT/s', ...LINK_SPEED };
const TRANSMIT_MARGIN = [
  'Normal Operating Range',
  '800-1200mV(full-swing)/400-700mV(half-swing)',
  '200-400mV(full-swing)/100-200mV(half-swing)',
  '200-400mV(full-swing)/100-200mV(half-swing)',
  '200-400mV(full-swing)/100-200mV(half-swing)',
  '200-400mV(full-swing)/100-200mV(half-swing)',
];
const COMPLIANCE_PRESET = [
  '-6dB de-emphasis, 0dB preshoot',
  '-3.5dB de-emphasis, 0dB preshoot',
  '-4.4dB de-emphasis, 0dB preshoot',
  '-2.5dB de-emphasis, 0dB preshoot',
  '0dB de-emphasis, 0dB preshoot',
  '0dB de-emphasis, 1.9dB preshoot',
  '0dB de-emphasis, 2.5dB preshoot',
  '-6.0dB de-emphasis, 3.5dB preshoot',
  '-3.5dB de-emphasis, 3.5dB preshoot',
  '0dB de-emphasis, 3.5dB preshoot',
];
const CROSSLINK = ['unsupported', 'Upstream Port', 'Downstream Port', 'incomplete'];
const COMPONENT: Readonly<Record<number, string>> = {
  0: 'Link Down - Not Determined',
  1: 'Link Down - Not Present',
  2: 'Link Down - Present',
  4: 'Link Up - Present',
  5: 'Link Up - Present and DRS Received',
};

/** pciutils: "a device must support 2.5GT/s and may not skip rates up to its highest". */
function supportedSpeeds(vector: number): string {
  // Bits 5 and 6 (64 GT/s and above) are printed as reserved by pciutils 3.9.
  if (bitSet(vector, 5) || bitSet(vector, 6)) return 'RsvdP';
  const upTo = ['2.5GT/s', '2.5-5GT/s', '2.5-8GT/s', '2.5-16GT/s', '2.5-32GT/s'];
  for (let bit = upTo.length - 1; bit >= 0; bit--) if (bitSet(vector, bit)) return upTo[bit];
  return 'Unknown';
}

function link2Lines(
  cap: PcieCapability,
  v2: NonNullable<PcieCapability['version2']>,
  isFunctionZero: boolean,
): string[] {
  const type = cap.capabilities.devicePortType;
  const lines: string[] = [];
  const lc2 = v2.linkCapabilities2;
  // Link Capabilities 2 was reserved before PCIe 3.0 in non-zero functions of endpoints.
  const hasLink2 = !(is(type, T.endpoint, T.legacyEndpoint) && !isFunctionZero);
  let drsSupported = 0;
  if (hasLink2) {
    const raw = Object.values(lc2).some((v) => v !== 0);
    if (raw) {
      drsSupported = lc2.drsSupported;
      lines.push(
        `\t\tLnkCap2: Supported Link Speeds: ${supportedSpeeds(lc2.supportedLinkSpeedsVector)}, Crosslink${flag(lc2.crosslinkSupported)} Retimer${flag(lc2.retimerPresenceDetectSupported)} 2Retimers${flag(lc2.twoRetimersPresenceDetectSupported)} DRS${flag(lc2.drsSupported)}`,
      );
    }
    const ctl = v2.linkControl2;
    let lnkCtl2 = `\t\tLnkCtl2: Target Link Speed: ${TARGET_SPEED[ctl.targetLinkSpeed] ?? 'Unknown'}, EnterCompliance${flag(ctl.enterCompliance)} SpeedDis${flag(ctl.hardwareAutonomousSpeedDisable)}`;
    if (type === T.downstreamPort) {
      lnkCtl2 += `, Selectable De-emphasis: ${DEEMPHASIS[ctl.selectableDeEmphasis]}`;
    }
    lines.push(
      lnkCtl2,
      `\t\t\t Transmit Margin: ${TRANSMIT_MARGIN[ctl.transmitMargin] ?? 'Unknown'}, EnterModifiedCompliance${flag(ctl.enterModifiedCompliance)} ComplianceSOS${flag(ctl.complianceSos)}`,
      `\t\t\t Compliance Preset/De-emphasis: ${COMPLIANCE_PRESET[ctl.compliancePresetDeEmphasis] ?? 'Unknown'}`,
    );
  }
  const sta = v2.linkStatus2;
  lines.push(
    `\t\tLnkSta2: Current De-emphasis Level: ${DEEMPHASIS[sta.currentDeEmphasisLevel]}, EqualizationComplete${flag(sta.equalizationComplete)} EqualizationPhase1${flag(sta.equalizationPhase1Successful)}`,
    `\t\t\t EqualizationPhase2${flag(sta.equalizationPhase2Successful)} EqualizationPhase3${flag(sta.equalizationPhase3Successful)} LinkEqualizationRequest${flag(sta.linkEqualizationRequest)}`,
  );
  let last = `\t\t\t Retimer${flag(sta.retimerPresenceDetected)} 2Retimers${flag(sta.twoRetimersPresenceDetected)} CrosslinkRes: ${CROSSLINK[sta.crosslinkResolution]}`;
  const downstream = is(type, T.rootPort, T.downstreamPort, T.pciToPcieBridge);
  if (downstream && drsSupported) {
    last += `, DRS${flag(sta.drsMessageReceived)}`;
    lines.push(
      last,
      `\t\t\t DownstreamComp: ${COMPONENT[sta.downstreamComponentPresence] ?? 'Reserved'}`,
    );
  } else {
    lines.push(last);
  }
  return lines;
}

const INDICATOR = ['Unknown', 'On', 'Blink', 'Off'];

function slotLines(slot: NonNullable<PcieCapability['slot']>): string[] {
  const c = slot.slotCapabilities;
  const ctl = slot.slotControl;
  const sta = slot.slotStatus;
  return [
    `\t\tSltCap:\tAttnBtn${flag(c.attentionButtonPresent)} PwrCtrl${flag(c.powerControllerPresent)} MRL${flag(c.mrlSensorPresent)} AttnInd${flag(c.attentionIndicatorPresent)} PwrInd${flag(c.powerIndicatorPresent)} HotPlug${flag(c.hotPlugCapable)} Surprise${flag(c.hotPlugSurprise)}`,
    `\t\t\tSlot #${c.physicalSlotNumber}, PowerLimit ${powerLimit(c.slotPowerLimitValue, c.slotPowerLimitScale)}; Interlock${flag(c.electromechanicalInterlockPresent)} NoCompl${flag(c.noCommandCompletedSupport)}`,
    `\t\tSltCtl:\tEnable: AttnBtn${flag(ctl.attentionButtonPressedEnable)} PwrFlt${flag(ctl.powerFaultDetectedEnable)} MRL${flag(ctl.mrlSensorChangedEnable)} PresDet${flag(ctl.presenceDetectChangedEnable)} CmdCplt${flag(ctl.commandCompletedInterruptEnable)} HPIrq${flag(ctl.hotPlugInterruptEnable)} LinkChg${flag(ctl.dataLinkLayerStateChangedEnable)}`,
    `\t\t\tControl: AttnInd ${INDICATOR[ctl.attentionIndicatorControl]}, PwrInd ${INDICATOR[ctl.powerIndicatorControl]}, Power${flag(ctl.powerControllerControl)} Interlock${flag(ctl.electromechanicalInterlockControl)}`,
    `\t\tSltSta:\tStatus: AttnBtn${flag(sta.attentionButtonPressed)} PowerFlt${flag(sta.powerFaultDetected)} MRL${flag(sta.mrlSensorState)} CmdCplt${flag(sta.commandCompleted)} PresDet${flag(sta.presenceDetectState)} Interlock${flag(sta.electromechanicalInterlockStatus)}`,
    `\t\t\tChanged: MRL${flag(sta.mrlSensorChanged)} PresDet${flag(sta.presenceDetectChanged)} LinkState${flag(sta.dataLinkLayerStateChanged)}`,
  ];
}

function rootLines(root: NonNullable<PcieCapability['root']>): string[] {
  const ctl = root.rootControl;
  const sta = root.rootStatus;
  return [
    `\t\tRootCap: CRSVisible${flag(root.rootCapabilities.crsSoftwareVisibility)}`,
    `\t\tRootCtl: ErrCorrectable${flag(ctl.systemErrorOnCorrectableErrorEnable)} ErrNon-Fatal${flag(ctl.systemErrorOnNonFatalErrorEnable)} ErrFatal${flag(ctl.systemErrorOnFatalErrorEnable)} PMEIntEna${flag(ctl.pmeInterruptEnable)} CRSVisible${flag(ctl.crsSoftwareVisibilityEnable)}`,
    `\t\tRootSta: PME ReqID ${hex(sta.pmeRequesterId, 4)}, PMEStatus${flag(sta.pmeStatus)} PMEPending${flag(sta.pmePending)}`,
  ];
}

/** Whether lspci's device_has_memory_space_bar() holds: some BAR of the header layout is a
 *  non-zero memory BAR (a bridge has two BARs; 0x18-0x27 are its bus numbers and windows). */
export const hasMemoryBar = (header: ConfigHeader): boolean =>
  header.bars.some(
    (bar) => bar !== 0 && BAR_LAYOUT.accessors.memorySpaceIndicator.get([bar]) === 0,
  );

/** The lines after the title, as `lspci -vvv` prints them. */
export function pcieBlock(
  cap: PcieCapability,
  opts: { hasMemoryBar: boolean; isFunctionZero: boolean },
): string[] {
  const lines = deviceLines(cap);
  if (cap.link) lines.push(...linkLines(cap, cap.link));
  if (cap.slot) lines.push(...slotLines(cap.slot));
  if (cap.root) lines.push(...rootLines(cap.root));
  if (cap.version2) {
    lines.push(...device2Lines(cap, cap.version2, opts.hasMemoryBar));
    if (cap.link) lines.push(...link2Lines(cap, cap.version2, opts.isFunctionZero));
  }
  return lines;
}
