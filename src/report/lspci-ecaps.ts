// The extended-capability part of `lspci -vvv` (pciutils 3.9, ls-ecaps.c): each capability's
// `Capabilities: [xxx vN] ...` title, and the blocks of the ones irqlab decodes (AER, SR-IOV,
// PASID, Device Serial Number). Titles follow pciutils' names so that every line is comparable with a real
// lspci.
// Not modelled: AER's Root Port lines (RootCmd/RootSta/ErrorSrc); the blocks of ACS, ARI, ATS, PRI, LTR, DPC, L1 PM Substates, PTM, TPH, VC,
// Multicast and the other capabilities pciutils decodes: their title is printed, the block is not.

import { type AerCapability, decodeAerCapability } from '../hw/pci/aer-capability.js';
import type { CapabilityEntry } from '../hw/pci/capability-list.js';
import {
  BAR_LAYOUT,
  type ConfigSpace,
  readConfigByte,
  readConfigDword,
} from '../hw/pci/config-space.js';
import { decodePasidCapability } from '../hw/pci/pasid-capability.js';
import {
  decodeSriovCapability,
  VF_MIGRATION_STATE_ARRAY_OFFSET,
} from '../hw/pci/sriov-capability.js';
import { VENDOR_SPECIFIC_EXTENDED_HEADER } from '../hw/pci/vendor-capability.js';
import { alternateHex, flag, hex } from './lspci-format.js';

/** pciutils' titles for extended capabilities it names without decoding further. */
const EXTENDED_TITLES: Readonly<Record<number, string>> = {
  0: 'Null',
  1: 'Advanced Error Reporting',
  2: 'Virtual Channel',
  4: 'Power Budgeting <?>',
  5: 'Root Complex Link',
  6: 'Root Complex Internal Link <?>',
  7: 'Root Complex Event Collector <?>',
  8: 'Multi-Function Virtual Channel <?>',
  9: 'Virtual Channel',
  10: 'Root Complex Register Block <?>',
  13: 'Access Control Services',
  14: 'Alternative Routing-ID Interpretation (ARI)',
  15: 'Address Translation Service (ATS)',
  17: 'Multi-Root I/O Virtualization <?>',
  18: 'Multicast',
  19: 'Page Request Interface (PRI)',
  21: 'Resizable BAR <?>',
  22: 'Dynamic Power Allocation <?>',
  23: 'Transaction Processing Hints',
  24: 'Latency Tolerance Reporting',
  25: 'Secondary PCI Express',
  26: 'Protocol Multiplexing <?>',
  28: 'LN Requester <?>',
  29: 'Downstream Port Containment',
  30: 'L1 PM Substates',
  31: 'Precision Time Measurement',
  32: 'PCI Express over M_PHY <?>',
  33: 'FRS Queueing <?>',
  34: 'Readiness Time Reporting <?>',
  36: 'VF Resizable BAR <?>',
  37: 'Data Link Feature <?>',
  38: 'Physical Layer 16.0 GT/s <?>',
  39: 'Lane Margining at the Receiver <?>',
  40: 'Hierarchy ID <?>',
  41: 'Native PCIe Enclosure Management <?>',
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

/** The `Capabilities: [xxx vN] ...` line and its block for one extended capability. */
export function extendedCapabilityLines(space: ConfigSpace, cap: CapabilityEntry): string[] {
  const title = `\tCapabilities: [${hex(cap.offset, 3)} v${cap.version ?? 0}] `;
  switch (cap.id) {
    case 0x0001:
      return [`${title}Advanced Error Reporting`, ...aerLines(space, cap.offset)];
    case 0x0003:
      return [title + deviceSerialNumber(space, cap.offset)];
    case 0x0010:
      return [`${title}Single Root I/O Virtualization (SR-IOV)`, ...sriovLines(space, cap.offset)];
    case 0x001b:
      return [`${title}Process Address Space ID (PASID)`, ...pasidLines(space, cap.offset)];
    case 0x000b:
      return [title + vendorExtendedTitle(space, cap.offset)];
    case 0x0023:
      return [`${title}Designated Vendor-Specific <?>`];
    default: {
      const name = EXTENDED_TITLES[cap.id] ?? `Extended Capability ID ${alternateHex(cap.id)}`;
      return [title + name];
    }
  }
}

/** Vendor-Specific Extended Capability (PCIe 6.0, 7.9.5): VSEC ID, Rev and Length at +4. */
function vendorExtendedTitle(space: ConfigSpace, offset: number): string {
  const v = VENDOR_SPECIFIC_EXTENDED_HEADER.accessors;
  const word = [readConfigDword(space, offset + 4)];
  return `Vendor Specific Information: ID=${hex(v.vsecId.get(word), 4)} Rev=${v.vsecRev.get(word)} Len=${hex(v.vsecLength.get(word), 3)} <?>`;
}
