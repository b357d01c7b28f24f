// The extended-capability part of `lspci -vvv` (pciutils 3.9, ls-ecaps.c show_ext_caps): each
// capability's `Capabilities: [xxx vN] ...` title, and the blocks of the ones irqlab decodes: AER
// (with the Root Port / Event Collector lines), ACS, ARI, ATS, PRI, SR-IOV, PASID, LTR, L1 PM
// Substates, DPC, TPH and Device Serial Number. Formats are pciutils' printf strings field for
// field; where pciutils 3.9 differs from later releases (DPC's "INT Msg #%d", AER's "IntMsg %d",
// PRISta without the PASID flag that 3.11 added) 3.9's form is the one printed.
// Also the Resizable BAR and RCEC Endpoint Association blocks.
// Not modelled: the blocks of VC, Multicast, PTM, DOE, CXL DVSECs, Secondary
// PCIe and the other capabilities pciutils decodes: their title is printed, the block is not.

import { decode } from '../hw/bits.js';
import { decodeAcsCapability } from '../hw/pci/acs-capability.js';
import {
  type AerCapability,
  decodeAerCapability,
  decodeAerRootRegisters,
} from '../hw/pci/aer-capability.js';
import { decodeAriCapability } from '../hw/pci/ari-capability.js';
import { decodeAtsCapability } from '../hw/pci/ats-capability.js';
import { EXT_CAP_ID, EXTENDED_CAPABILITY_HEADER } from '../hw/pci/capability-ids.js';
import type { CapabilityEntry } from '../hw/pci/capability-list.js';
import {
  BAR_LAYOUT,
  type ConfigSpace,
  checkStructureFits,
  readConfigByte,
  readConfigDword,
} from '../hw/pci/config-space.js';
import { DVSEC_VENDOR_ID_CXL, decodeDvsecHeader } from '../hw/pci/designated-vendor-capability.js';
import { decodeDpcCapability } from '../hw/pci/dpc-capability.js';
import { decodeL1PmSubstatesCapability, tPowerOnUs } from '../hw/pci/l1-pm-substates-capability.js';
import { decodeLtrCapability } from '../hw/pci/ltr-capability.js';
import { decodePageRequestCapability } from '../hw/pci/page-request-capability.js';
import { decodePasidCapability } from '../hw/pci/pasid-capability.js';
import { PCIE_DEVICE_PORT_TYPE } from '../hw/pci/pcie-capability.js';
import {
  decodeRcecBitmap,
  decodeRcecBusNumbers,
  RCEC_BUS_NUMBERS_VERSION,
} from '../hw/pci/rcec-association-capability.js';
import {
  decodeResizableBarEntry,
  REBAR_CAPABILITY_SIZES,
  REBAR_ENTRIES_MAX,
  REBAR_ENTRY_SIZE,
} from '../hw/pci/resizable-bar-capability.js';
import {
  decodeSriovCapability,
  VF_MIGRATION_STATE_ARRAY_OFFSET,
} from '../hw/pci/sriov-capability.js';
import {
  decodeTphRequesterCapability,
  TPH_ST_TABLE_LOCATION,
} from '../hw/pci/tph-requester-capability.js';
import { VENDOR_SPECIFIC_EXTENDED_HEADER } from '../hw/pci/vendor-capability.js';
import { alternateHex, bitSet, flag, hex, titled } from './lspci-format.js';

/** pciutils' titles of the extended capabilities (ls-ecaps.c show_ext_caps and each cap_*). */
const EXTENDED_TITLES: Readonly<Record<number, string>> = {
  0: 'Null',
  1: 'Advanced Error Reporting',
  2: 'Virtual Channel',
  4: 'Power Budgeting <?>',
  5: 'Root Complex Link',
  6: 'Root Complex Internal Link <?>',
  7: 'Root Complex Event Collector Endpoint Association',
  8: 'Multi-Function Virtual Channel <?>',
  9: 'Virtual Channel',
  10: 'Root Complex Register Block <?>',
  13: 'Access Control Services',
  14: 'Alternative Routing-ID Interpretation (ARI)',
  15: 'Address Translation Service (ATS)',
  16: 'Single Root I/O Virtualization (SR-IOV)',
  17: 'Multi-Root I/O Virtualization <?>',
  18: 'Multicast',
  19: 'Page Request Interface (PRI)',
  21: 'Physical Resizable BAR',
  22: 'Dynamic Power Allocation <?>',
  23: 'Transaction Processing Hints',
  24: 'Latency Tolerance Reporting',
  25: 'Secondary PCI Express',
  26: 'Protocol Multiplexing <?>',
  27: 'Process Address Space ID (PASID)',
  28: 'LN Requester <?>',
  29: 'Downstream Port Containment',
  30: 'L1 PM Substates',
  31: 'Precision Time Measurement',
  32: 'PCI Express over M_PHY <?>',
  33: 'FRS Queueing <?>',
  34: 'Readiness Time Reporting <?>',
  36: 'Virtual Resizable BAR',
  37: 'Data Link Feature <?>',
  38: 'Physical Layer 16.0 GT/s <?>',
  39: 'Lane Margining at the Receiver <?>',
  40: 'Hierarchy ID <?>',
  41: 'Native PCIe Enclosure Management <?>',
  46: 'Data Object Exchange',
};

const DSN_BYTES = 8;

/** "Device Serial Number" prints the 64-bit serial most significant byte first. */
function deviceSerialNumber(space: ConfigSpace, offset: number): string {
  const bytes: string[] = [];
  for (let i = DSN_BYTES - 1; i >= 0; i--)
    bytes.push(hex(readConfigByte(space, offset + 4 + i), 2));
  return `Device Serial Number ${bytes.join('-')}`;
}

function sriovLines(space: ConfigSpace, offset: number): string[] {
  const s = decodeSriovCapability(space, offset);
  const lines = [
    `\t\tIOVCap:\tMigration${flag(s.capabilities.vfMigrationCapable)} 10BitTagReq${flag(s.capabilities.vf10BitTagRequesterSupported)} Interrupt Message Number: ${hex(s.capabilities.vfMigrationInterruptMessageNumber, 3)}`,
    `\t\tIOVCtl:\tEnable${flag(s.control.vfEnable)} Migration${flag(s.control.vfMigrationEnable)} Interrupt${flag(s.control.vfMigrationInterruptEnable)} MSE${flag(s.control.vfMse)} ARIHierarchy${flag(s.control.ariCapableHierarchy)} 10BitTagReq${flag(s.control.vf10BitTagRequesterEnable)}`,
    `\t\tIOVSta:\tMigration${flag(s.status.vfMigrationStatus)}`,
    `\t\tInitial VFs: ${s.initialVfs}, Total VFs: ${s.totalVfs}, Number of VFs: ${s.numVfs}, Function Dependency Link: ${hex(s.functionDependencyLink, 2)}`,
    `\t\tVF offset: ${s.firstVfOffset}, stride: ${s.vfStride}, Device ID: ${hex(s.vfDeviceId, 4)}`,
    `\t\tSupported Page Size: ${hex(s.supportedPageSizes, 8)}, System Page Size: ${hex(s.systemPageSize, 8)}`,
  ];
  lines.push(...vfBarLines(s.vfBars));
  const msa = VF_MIGRATION_STATE_ARRAY_OFFSET.layout.accessors;
  const word = [s.vfMigrationStateArrayOffset];
  lines.push(
    `\t\tVF Migration: offset: ${hex(msa.vfMigrationStateOffset.get(word) * 8, 8)}, BIR: ${msa.vfMigrationStateBir.get(word).toString(16)}`,
  );
  return lines;
}

const MEMORY_TYPE_64 = 2;

/** pciutils prints every non-zero VF BAR as memory (an all-ones BAR counts as 0). */
function vfBarLines(bars: readonly number[]): string[] {
  const lines: string[] = [];
  const m = BAR_LAYOUT.accessors;
  for (let i = 0; i < bars.length; i++) {
    const raw = bars[i] === 0xffffffff ? 0 : bars[i];
    if (raw === 0) continue;
    const type = m.memoryType.get([raw]);
    const address = hex(m.baseAddress.get([raw]) * 16, 8);
    let line = `\t\tRegion ${i}: Memory at `;
    if (type === MEMORY_TYPE_64 && i + 1 < bars.length) {
      i++;
      line += hex(bars[i], 8);
    }
    // pciutils: "32" only for type 0; the legacy below-1M type 1 prints as 64 too.
    const width = type === 0 ? '32' : '64';
    const prefetch = m.prefetchable.get([raw]) ? '' : 'non-';
    lines.push(`${line}${address} (${width}-bit, ${prefetch}prefetchable)`);
  }
  return lines;
}

function aerLines(space: ConfigSpace, offset: number): string[] {
  const aer = decodeAerCapability(space, offset);
  const ue = (e: AerCapability['uncorrectableErrorStatus']) =>
    `DLP${flag(e.dataLinkProtocolError)} SDES${flag(e.surpriseDownError)} TLP${flag(e.poisonedTlpReceived)} FCP${flag(e.flowControlProtocolError)} CmpltTO${flag(e.completionTimeout)} CmpltAbrt${flag(e.completerAbort)} UnxCmplt${flag(e.unexpectedCompletion)} RxOF${flag(e.receiverOverflow)} MalfTLP${flag(e.malformedTlp)} ECRC${flag(e.ecrcError)} UnsupReq${flag(e.unsupportedRequestError)} ACSViol${flag(e.acsViolation)}`;
  const ce = (e: AerCapability['correctableErrorStatus']) =>
    `RxErr${flag(e.receiverError)} BadTLP${flag(e.badTlp)} BadDLLP${flag(e.badDllp)} Rollover${flag(e.replayNumRollover)} Timeout${flag(e.replayTimerTimeout)} AdvNonFatalErr${flag(e.advisoryNonFatalError)}`;
  const cap = aer.capabilitiesControl;
  return [
    `\t\tUESta:\t${ue(aer.uncorrectableErrorStatus)}`,
    `\t\tUEMsk:\t${ue(aer.uncorrectableErrorMask)}`,
    `\t\tUESvrt:\t${ue(aer.uncorrectableErrorSeverity)}`,
    `\t\tCESta:\t${ce(aer.correctableErrorStatus)}`,
    `\t\tCEMsk:\t${ce(aer.correctableErrorMask)}`,
    `\t\tAERCap:\tFirst Error Pointer: ${hex(cap.firstErrorPointer, 2)}, ECRCGenCap${flag(cap.ecrcGenerationCapable)} ECRCGenEn${flag(cap.ecrcGenerationEnable)} ECRCChkCap${flag(cap.ecrcCheckCapable)} ECRCChkEn${flag(cap.ecrcCheckEnable)}`,
    `\t\t\tMultHdrRecCap${flag(cap.multipleHeaderRecordingCapable)} MultHdrRecEn${flag(cap.multipleHeaderRecordingEnable)} TLPPfxPres${flag(cap.tlpPrefixLogPresent)} HdrLogCap${flag(cap.completionTimeoutPrefixHeaderLogCapable)}`,
    `\t\tHeaderLog: ${aer.headerLog.map((dword) => hex(dword, 8)).join(' ')}`,
  ];
}

function pasidLines(space: ConfigSpace, offset: number): string[] {
  const p = decodePasidCapability(space, offset);
  return [
    `\t\tPASIDCap: Exec${flag(p.capability.executePermissionSupported)} Priv${flag(p.capability.privilegedModeSupported)}, Max PASID Width: ${hex(p.capability.maxPasidWidth, 2)}`,
    `\t\tPASIDCtl: Enable${flag(p.control.pasidEnable)} Exec${flag(p.control.executePermissionEnable)} Priv${flag(p.control.privilegedModeEnable)}`,
  ];
}

function aerRootLines(space: ConfigSpace, offset: number): string[] {
  const r = decodeAerRootRegisters(space, offset);
  const cmd = r.rootErrorCommand;
  const sta = r.rootErrorStatus;
  const src = r.errorSourceIdentification;
  return [
    `\t\tRootCmd: CERptEn${flag(cmd.correctableErrorReportingEnable)} NFERptEn${flag(cmd.nonFatalErrorReportingEnable)} FERptEn${flag(cmd.fatalErrorReportingEnable)}`,
    `\t\tRootSta: CERcvd${flag(sta.errCorReceived)} MultCERcvd${flag(sta.multipleErrCorReceived)} UERcvd${flag(sta.errFatalNonFatalReceived)} MultUERcvd${flag(sta.multipleErrFatalNonFatalReceived)}`,
    `\t\t\t FirstFatal${flag(sta.firstUncorrectableFatal)} NonFatalMsg${flag(sta.nonFatalErrorMessagesReceived)} FatalMsg${flag(sta.fatalErrorMessagesReceived)} IntMsg ${sta.advancedErrorInterruptMessageNumber}`,
    `\t\tErrorSrc: ERR_COR: ${hex(src.errCorSourceIdentification, 4)} ERR_FATAL/NONFATAL: ${hex(src.errFatalNonFatalSourceIdentification, 4)}`,
  ];
}

/** cap_aer: the Root lines follow for Root Ports and Event Collectors only; their 12 bytes are
 *  fetched separately, so a dump that ends before them still prints the rest. */
function aerBlock(space: ConfigSpace, offset: number, portType: number | undefined): string[] {
  const lines = aerLines(space, offset);
  const root =
    portType === PCIE_DEVICE_PORT_TYPE.rootPort ||
    portType === PCIE_DEVICE_PORT_TYPE.rootComplexEventCollector;
  return root ? titled(lines, () => aerRootLines(space, offset)) : lines;
}

const ACS_FLAGS = [
  ['SrcValid', 'sourceValidation'],
  ['TransBlk', 'translationBlocking'],
  ['ReqRedir', 'p2pRequestRedirect'],
  ['CmpltRedir', 'p2pCompletionRedirect'],
  ['UpstreamFwd', 'upstreamForwarding'],
  ['EgressCtrl', 'p2pEgressControl'],
  ['DirectTrans', 'directTranslatedP2p'],
] as const;

function acsLines(space: ConfigSpace, offset: number): string[] {
  const acs = decodeAcsCapability(space, offset);
  const flags = (r: Record<(typeof ACS_FLAGS)[number][1], number>) =>
    ACS_FLAGS.map(([name, field]) => `${name}${flag(r[field])}`).join(' ');
  return [`\t\tACSCap:\t${flags(acs.capability)}`, `\t\tACSCtl:\t${flags(acs.control)}`];
}

function ariLines(space: ConfigSpace, offset: number): string[] {
  const { capability: c, control: ctl } = decodeAriCapability(space, offset);
  return [
    `\t\tARICap:\tMFVC${flag(c.mfvcFunctionGroupsCapability)} ACS${flag(c.acsFunctionGroupsCapability)}, Next Function: ${c.nextFunctionNumber}`,
    `\t\tARICtl:\tMFVC${flag(ctl.mfvcFunctionGroupsEnable)} ACS${flag(ctl.acsFunctionGroupsEnable)}, Function Group: ${ctl.functionGroup}`,
  ];
}

function atsLines(space: ConfigSpace, offset: number): string[] {
  const { capability: c, control: ctl } = decodeAtsCapability(space, offset);
  return [
    `\t\tATSCap:\tInvalidate Queue Depth: ${hex(c.invalidateQueueDepth, 2)}`,
    `\t\tATSCtl:\tEnable${flag(ctl.enable)}, Smallest Translation Unit: ${hex(ctl.smallestTranslationUnit, 2)}`,
  ];
}

function priLines(space: ConfigSpace, offset: number): string[] {
  const p = decodePageRequestCapability(space, offset);
  return [
    `\t\tPRICtl: Enable${flag(p.control.enable)} Reset${flag(p.control.reset)}`,
    `\t\tPRISta: RF${flag(p.status.responseFailure)} UPRGI${flag(p.status.unexpectedPageRequestGroupIndex)} Stopped${flag(p.status.stopped)}`,
    `\t\tPage Request Capacity: ${hex(p.outstandingPageRequestCapacity, 8)}, Page Request Allocation: ${hex(p.outstandingPageRequestAllocation, 8)}`,
  ];
}

/**
 * ls-ecaps.c cap_ltr_scale(): `1 << (scale * 5)` in a u32. Scales 6 and 7 are not permitted; for 7
 * the shift count (35) is beyond the width, and the x86 shift instruction lspci runs on uses it
 * modulo 32, giving 1 << 3. Reproduced so that such a dump prints as lspci prints it.
 */
const lspciLtrScale = (scale: number): number => 2 ** ((scale * 5) % 32);

function ltrLines(space: ConfigSpace, offset: number): string[] {
  const ltr = decodeLtrCapability(space, offset);
  const ns = (l: { value: number; scale: number }) => l.value * lspciLtrScale(l.scale);
  return [
    `\t\tMax snoop latency: ${ns(ltr.maxSnoopLatency)}ns`,
    `\t\tMax no snoop latency: ${ns(ltr.maxNoSnoopLatency)}ns`,
  ];
}

/** LTR_L1.2_THRESHOLD scales above 5 print as an error (cap_l1pm). */
const L1SS_THRESHOLD_SCALE_MAX = 5;

function l1ssLines(space: ConfigSpace, offset: number): string[] {
  const {
    capabilities: c,
    control1: c1,
    control2: c2,
  } = decodeL1PmSubstatesCapability(space, offset);
  const time = (us: number | undefined) => (us === undefined ? '<error>' : `${us}us`);
  const l12 = c.pciPmL12Supported === 1 || c.aspmL12Supported === 1;
  const lines = [
    `\t\tL1SubCap: PCI-PM_L1.2${flag(c.pciPmL12Supported)} PCI-PM_L1.1${flag(c.pciPmL11Supported)} ASPM_L1.2${flag(c.aspmL12Supported)} ASPM_L1.1${flag(c.aspmL11Supported)} L1_PM_Substates${flag(c.l1PmSubstatesSupported)}`,
  ];
  if (l12) {
    lines.push(
      `\t\t\t  PortCommonModeRestoreTime=${c.portCommonModeRestoreTime}us PortTPowerOnTime=${time(tPowerOnUs(c.portTPowerOnScale, c.portTPowerOnValue))}`,
    );
  }
  lines.push(
    `\t\tL1SubCtl1: PCI-PM_L1.2${flag(c1.pciPmL12Enable)} PCI-PM_L1.1${flag(c1.pciPmL11Enable)} ASPM_L1.2${flag(c1.aspmL12Enable)} ASPM_L1.1${flag(c1.aspmL11Enable)}`,
  );
  if (l12) {
    let line = `\t\t\t   T_CommonMode=${c1.commonModeRestoreTime}us`;
    if (c.aspmL12Supported) {
      const scale = c1.ltrL12ThresholdScale;
      line +=
        scale > L1SS_THRESHOLD_SCALE_MAX
          ? ' LTR1.2_Threshold=<error>'
          : ` LTR1.2_Threshold=${c1.ltrL12ThresholdValue * lspciLtrScale(scale)}ns`;
    }
    lines.push(line);
  }
  const pwrOn = l12 ? ` T_PwrOn=${time(tPowerOnUs(c2.tPowerOnScale, c2.tPowerOnValue))}` : '';
  lines.push(`\t\tL1SubCtl2:${pwrOn}`);
  return lines;
}

function dpcLines(space: ConfigSpace, offset: number): string[] {
  const {
    capability: c,
    control: ctl,
    status: sta,
    errorSourceId,
  } = decodeDpcCapability(space, offset);
  return [
    `\t\tDpcCap:\tINT Msg #${c.interruptMessageNumber}, RPExt${flag(c.rpExtensionsForDpc)} PoisonedTLP${flag(c.poisonedTlpEgressBlockingSupported)} SwTrigger${flag(c.softwareTriggeringSupported)} RP PIO Log ${c.rpPioLogSize}, DL_ActiveErr${flag(c.dlActiveErrCorSignalingSupported)}`,
    `\t\tDpcCtl:\tTrigger:${ctl.triggerEnable.toString(16)} Cmpl${flag(ctl.completionControl)} INT${flag(ctl.interruptEnable)} ErrCor${flag(ctl.errCorEnable)} PoisonedTLP${flag(ctl.poisonedTlpEgressBlockingEnable)} SwTrigger${flag(ctl.softwareTrigger)} DL_ActiveErr${flag(ctl.dlActiveErrCorEnable)}`,
    `\t\tDpcSta:\tTrigger${flag(sta.triggerStatus)} Reason:${hex(sta.triggerReason, 2)} INT${flag(sta.interruptStatus)} RPBusy${flag(sta.rpBusy)} TriggerExt:${hex(sta.triggerReasonExtension, 2)} RP PIO ErrPtr:${hex(sta.rpPioFirstErrorPointer, 2)}`,
    `\t\tSource:\t${hex(errorSourceId, 4)}`,
  ];
}

const TPH_LOCATION: Readonly<Record<number, string>> = {
  [TPH_ST_TABLE_LOCATION.none]: 'No steering table available',
  [TPH_ST_TABLE_LOCATION.capability]: 'Steering table in TPH capability structure',
  [TPH_ST_TABLE_LOCATION.msixTable]: 'Steering table in MSI-X table',
};

function tphLines(space: ConfigSpace, offset: number): string[] {
  const tph = decodeTphRequesterCapability(space, offset);
  const lines: string[] = [];
  if (tph.interruptVectorModeSupported) lines.push('\t\tInterrupt vector mode supported');
  if (tph.deviceSpecificModeSupported) lines.push('\t\tDevice specific mode supported');
  if (tph.extendedTphRequesterSupported) lines.push('\t\tExtended requester support');
  lines.push(`\t\t${TPH_LOCATION[tph.stTableLocation] ?? 'Reserved steering table location'}`);
  return lines;
}

/** cap_rcec: the devices of the bitmap as ranges ("RCiEP at Device(s): 0-2, 5"), then, from
 *  version 2, the associated bus range. As in lspci, a range still open at device 31 is printed
 *  by its first device only. */
function rcecLines(space: ConfigSpace, offset: number): string[] {
  checkStructureFits(space, offset, RCEC_FETCH_SIZE, 'RCEC Endpoint Association capability');
  const bitmap = decodeRcecBitmap(space, offset);
  // At -vvv (verbose > 2) lspci prints the empty bitmap and bus range before "[none]".
  let devices = '00000000 [none]';
  if (bitmap !== 0) {
    devices = 'RCiEP at Device(s):';
    let run = 0;
    let previous = 0;
    let matched = false;
    for (let dev = 0; dev < RCEC_DEVICES; dev++) {
      if (bitSet(bitmap, dev)) {
        if (run === 0) devices += `${matched ? ',' : ''} ${dev}`;
        run++;
        previous = dev;
        matched = true;
      } else {
        if (run > 1) devices += `-${previous}`;
        run = 0;
      }
    }
  }
  const lines = [`\t\tRCiEPBitmap: ${devices}`];
  const version = EXTENDED_CAPABILITY_HEADER.layout.accessors.capabilityVersion.get([
    readConfigDword(space, offset),
  ]);
  if (version < RCEC_BUS_NUMBERS_VERSION) return lines;
  const bus = decodeRcecBusNumbers(space, offset);
  const none = bus.lastBus === 0 && bus.nextBus === 0xff;
  lines.push(
    `\t\tAssociatedBusNumbers: ${none ? 'ff-00 [none]' : `${hex(bus.nextBus, 2)}-${hex(bus.lastBus, 2)}`}`,
  );
  return lines;
}
/** cap_rcec fetches header, bitmap and bus numbers (12 bytes) before printing. */
const RCEC_FETCH_SIZE = 12;
const RCEC_DEVICES = 32;

/** print_rebar_range_size: 2^n MB in the largest unit that keeps it whole. */
function rebarSize(log2Mb: number): string {
  const units = ['MB', 'GB', 'TB', 'PB', 'EB'];
  const unit = Math.floor(log2Mb / 10);
  return log2Mb >= 0 && log2Mb < 44 ? ` ${2 ** (log2Mb % 10)}${units[unit]}` : ' <unknown>';
}

/** cap_rebar: one "BAR n: current size: ..., supported: ..." line per entry. */
function rebarLines(space: ConfigSpace, offset: number): string[] {
  const lines: string[] = [];
  let count = 1;
  for (let n = 0; n < count; n++) {
    if (offset + REBAR_ENTRY_SIZE * (n + 1) + 4 > space.bytes.length) {
      lines.push('\t\t<unreadable>');
      return lines;
    }
    const { capability, control } = decodeResizableBarEntry(space, offset, n);
    if (n === 0) {
      count = control.numberOfResizableBars;
      if (count < 1 || count > REBAR_ENTRIES_MAX) {
        lines.push(`\t\t<error in resizable BAR: num_bars=${count} is out of specification>`);
        break;
      }
    }
    let line = `\t\tBAR ${control.barIndex}: current size:${rebarSize(control.barSize)}`;
    if (capability.supportedSizes !== 0 || control.extendedSizes !== 0) {
      line += ', supported:';
      for (let i = 0; i < REBAR_CAPABILITY_SIZES; i++) {
        if (bitSet(capability.supportedSizes, i)) line += rebarSize(i);
      }
      for (let i = 0; i < 16; i++) {
        if (bitSet(control.extendedSizes, i)) line += rebarSize(i + REBAR_CAPABILITY_SIZES);
      }
    }
    lines.push(line);
  }
  return lines;
}

/** cap_dvsec: the header, then ": CXL" for CXL's DVSECs (at least 16 bytes long), " <?>"
 *  otherwise. The CXL structures' blocks (whose wording changed across pciutils releases) are not
 *  modelled. */
const CXL_DVSEC_LENGTH_MIN = 16;

/** cap_dvsec fetches the two Designated Vendor-Specific headers, 8 bytes from +4. */
const DVSEC_FETCH_END = 0x0c;

function dvsecLines(space: ConfigSpace, offset: number): string[] {
  const title = 'Designated Vendor-Specific: ';
  if (offset + DVSEC_FETCH_END > space.bytes.length) return [`${title}<unreadable>`];
  const h = decodeDvsecHeader(space, offset);
  const header = `${title}Vendor=${hex(h.dvsecVendorId, 4)} ID=${hex(h.dvsecId, 4)} Rev=${h.dvsecRevision} Len=${h.dvsecLength}`;
  if (h.dvsecVendorId !== DVSEC_VENDOR_ID_CXL || h.dvsecLength < CXL_DVSEC_LENGTH_MIN) {
    return [`${header} <?>`];
  }
  return [`${header}: CXL`];
}

/** `\tCapabilities: [xxx vN] ` as show_ext_caps prints it before each title. */
export function extendedTitlePrefix(space: ConfigSpace, offset: number): string {
  const version = EXTENDED_CAPABILITY_HEADER.layout.accessors.capabilityVersion.get([
    readConfigDword(space, offset),
  ]);
  return `\tCapabilities: [${hex(offset, 3)} v${version}] `;
}

/** Blocks printed after EXTENDED_TITLES' name, by Extended Capability ID. */
const EXTENDED_BLOCKS: Readonly<
  Record<number, (space: ConfigSpace, offset: number, portType: number | undefined) => string[]>
> = {
  [EXT_CAP_ID.advancedErrorReporting]: aerBlock,
  [EXT_CAP_ID.acs]: acsLines,
  [EXT_CAP_ID.ari]: ariLines,
  [EXT_CAP_ID.ats]: atsLines,
  [EXT_CAP_ID.sriov]: sriovLines,
  [EXT_CAP_ID.pageRequest]: priLines,
  [EXT_CAP_ID.tph]: tphLines,
  [EXT_CAP_ID.ltr]: ltrLines,
  [EXT_CAP_ID.pasid]: pasidLines,
  [EXT_CAP_ID.dpc]: dpcLines,
  [EXT_CAP_ID.l1PmSubstates]: l1ssLines,
  [EXT_CAP_ID.rootComplexEventCollectorAssociation]: rcecLines,
  [EXT_CAP_ID.resizableBar]: rebarLines,
  [EXT_CAP_ID.vfResizableBar]: rebarLines,
};

/** The `Capabilities: [xxx vN] ...` line and its block for one extended capability; `portType` is
 *  the function's PCIe Device/Port Type (AER's Root lines depend on it). */
export function extendedCapabilityLines(
  space: ConfigSpace,
  cap: CapabilityEntry,
  portType: number | undefined,
): string[] {
  const prefix = extendedTitlePrefix(space, cap.offset);
  switch (cap.id) {
    case EXT_CAP_ID.deviceSerialNumber:
      // cap_dsn prints nothing after the prefix when the serial is not in the dump.
      return titled([prefix], () => [prefix + deviceSerialNumber(space, cap.offset)]).slice(-1);
    case EXT_CAP_ID.vendorSpecific:
      return [prefix + vendorExtendedTitle(space, cap.offset)];
    case EXT_CAP_ID.designatedVendorSpecific: {
      const [first, ...rest] = dvsecLines(space, cap.offset);
      return [prefix + first, ...rest];
    }
  }
  const name = EXTENDED_TITLES[cap.id] ?? `Extended Capability ID ${alternateHex(cap.id)}`;
  const block = EXTENDED_BLOCKS[cap.id];
  if (block === undefined) return [prefix + name];
  return titled([prefix + name], () => block(space, cap.offset, portType));
}

/** Vendor-Specific Extended Capability (PCIe 6.0, 7.9.5): VSEC ID, Rev and Length at +4. */
function vendorExtendedTitle(space: ConfigSpace, offset: number): string {
  const title = 'Vendor Specific Information: ';
  // cap_evendor fetches the Vendor-Specific Header at +4.
  if (offset + 8 > space.bytes.length) return `${title}<unreadable>`;
  const v = decode(VENDOR_SPECIFIC_EXTENDED_HEADER, [readConfigDword(space, offset + 4)]);
  return `${title}ID=${hex(v.vsecId, 4)} Rev=${v.vsecRev} Len=${hex(v.vsecLength, 3)} <?>`;
}
