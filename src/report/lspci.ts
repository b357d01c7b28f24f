// `lspci -vvv`-style text for a function's config space, formatted as pciutils 3.9 prints it
// (lspci.c show_verbose/show_htype0, ls-caps.c show_caps, ls-caps-vendor.c, ls-ecaps.c): the
// header lines that config space alone determines, then one `Capabilities: [xx] ...` line per
// capability in list order with its `-vvv` block. Values come from irqlab's decoders in hw/pci.
// What lspci takes from elsewhere is left out or replaced, and said here: device and vendor names
// (pci.ids) are shown as `Class [cccc]: Device [vvvv:dddd]`; the IRQ is the Interrupt Line register
// (what `lspci -F <dump>` shows, not the kernel's irq); BAR sizes, `Kernel driver in use` and IOMMU
// groups come from sysfs and are not printed.
// The lists are walked as lspci walks them (capability-list.ts `*CapabilityChain`): a loop or an
// ID 0xff ends the list with lspci's `<chain looped>` / `<chain broken>` line, never an error; a
// block whose bytes run past the dump is left out after its title, as lspci's failed
// config_fetch() leaves it out. The BARs, ROM, Subsystem and capability pointer are the header
// layout's (config-space.ts HEADER_LAYOUTS): a bridge has 2 BARs, a CardBus bridge 1 and its
// capability pointer at 0x14.
// A Type 1 header adds lspci's Bus, window, Secondary status and BridgeCtl lines (lspci-bridge.ts).
// Not modelled: blocks of AGP, VPD, PCI-X, HyperTransport and EA (their title is printed), the
// CardBus header lines, the BIST line.

import { decode } from '../hw/bits.js';
import { decodeAdvancedFeatures } from '../hw/pci/advanced-features-capability.js';
import { decodeAgpIdentifier } from '../hw/pci/agp-capability.js';
import type { Bdf } from '../hw/pci/bdf.js';
import { formatBdf } from '../hw/pci/bdf.js';
import { CAP_ID } from '../hw/pci/capability-ids.js';
import {
  type CapabilityEntry,
  extendedCapabilityChain,
  standardCapabilityChain,
} from '../hw/pci/capability-list.js';
import {
  BAR_LAYOUT,
  CACHE_LINE_SIZE,
  CLASS_CODE,
  COMMAND,
  type ConfigHeader,
  type ConfigSpace,
  decodeConfigHeader,
  EXPANSION_ROM_BASE,
  HEADER_LAYOUTS,
  headerLayoutOf,
  IO_BAR_LAYOUT,
  LATENCY_TIMER,
  MIN_GNT_MAX_LAT,
  readConfigWord,
  readRegister,
  readRegisterFields,
  STATUS,
} from '../hw/pci/config-space.js';
import { decodeDebugPort } from '../hw/pci/debug-port-capability.js';
import {
  decodeEaBusNumbers,
  decodeEaNumEntries,
} from '../hw/pci/enhanced-allocation-capability.js';
import {
  decodeHtCommand,
  HT_CAPABILITY_TYPE,
  HT_COMMAND,
  HT_INTERFACE_TYPE,
  HT_MSI_MAPPING,
  HT_REVISION_ID,
} from '../hw/pci/hypertransport-capability.js';
import { decodeMsiCapability } from '../hw/pci/msi-capability.js';
import { decodeMsixCapability } from '../hw/pci/msix-capability.js';
import { decodePcieCapability, PCIE_CAPABILITIES } from '../hw/pci/pcie-capability.js';
import { decodePmCapability, PM_CAPABILITIES } from '../hw/pci/pm-capability.js';
import {
  decodeSataCapability,
  SATA_BAR_LOCATION_CONFIG,
  SATA_BAR_LOCATION_FIRST,
  SATA_BAR_LOCATION_LAST,
} from '../hw/pci/sata-capability.js';
import { decodeSlotIdentification } from '../hw/pci/slot-identification-capability.js';
import { decodeBridgeSubsystem } from '../hw/pci/subsystem-vendor-capability.js';
import {
  decodeVendorCapability,
  decodeVirtioPciCapability,
  isVirtioDevice,
  VIRTIO_PCI_CAP_TYPE,
} from '../hw/pci/vendor-capability.js';
import { bridgeControlLines, bridgeWindowLines } from './lspci-bridge.js';
import { extendedCapabilityLines, extendedTitlePrefix } from './lspci-ecaps.js';
import { alternateHex, bitSet, flag, hex, titled } from './lspci-format.js';
import { hasMemoryBar, pcieBlock, pcieTitle } from './lspci-pcie.js';

export interface LspciFunction {
  /** undefined for a dump whose address is not known: printed as `??:??.?`. */
  bdf: Bdf | undefined;
  space: ConfigSpace;
}

const UNKNOWN_BDF = '??:??.?';

/** Standard capabilities pciutils names with fixed text. */
const STANDARD_TITLES: Readonly<Record<number, string>> = {
  0: 'Null',
  6: 'CompactPCI hot-swap <?>',
  11: 'CompactPCI central resource control <?>',
  12: 'Hot-plug capable',
  14: 'AGP3 <?>',
  15: 'Secure device <?>',
};

/** The whole `lspci -vvv` paragraph of one function, ending with a blank line. */
export function formatLspciFunction(fn: LspciFunction): string {
  const header = decodeConfigHeader(fn.space);
  const lines = [titleLine(fn, header)];
  // lspci's show_verbose stops at a header type it does not know.
  if (headerLayoutOf(fn.space) === undefined) {
    lines.push(`\t!!! Unknown header type ${hex(header.headerType, 2)}`);
  } else {
    lines.push(...headerLines(fn.space, header), ...capabilityLines(fn, header));
  }
  return `${lines.join('\n')}\n\n`;
}

function titleLine(fn: LspciFunction, header: ConfigHeader): string {
  const address = fn.bdf ? formatBdf(fn.bdf, { withSegment: fn.bdf.segment !== 0 }) : UNKNOWN_BDF;
  const cls = CLASS_CODE.accessors;
  const code = [header.classCode];
  const classId = hex(cls.baseClass.get(code), 2) + hex(cls.subClass.get(code), 2);
  let line = `${address} Class [${classId}]: Device [${hex(header.vendorId, 4)}:${hex(header.deviceId, 4)}]`;
  if (header.revisionId !== 0) line += ` (rev ${hex(header.revisionId, 2)})`;
  const progIf = cls.programmingInterface.get(code);
  if (progIf !== 0) line += ` (prog-if ${hex(progIf, 2)})`;
  return line;
}

const DEVSEL = ['fast', 'medium', 'slow', '??'];

/** Subsystem, Control, Status, Latency, Interrupt, Region and ROM lines. */
export function headerLines(space: ConfigSpace, header: ConfigHeader): string[] {
  const lines: string[] = [];
  if (header.subsystemVendorId !== 0 && header.subsystemVendorId !== 0xffff) {
    lines.push(
      `\tSubsystem: Device [${hex(header.subsystemVendorId, 4)}:${hex(header.subsystemId, 4)}]`,
    );
  }
  const c = COMMAND.layout.accessors;
  const cmd = [header.command];
  lines.push(
    `\tControl: I/O${flag(c.ioSpaceEnable.get(cmd))} Mem${flag(c.memorySpaceEnable.get(cmd))} BusMaster${flag(c.busMasterEnable.get(cmd))} SpecCycle${flag(c.specialCycleEnable.get(cmd))} MemWINV${flag(c.memoryWriteAndInvalidate.get(cmd))} VGASnoop${flag(c.vgaPaletteSnoop.get(cmd))} ParErr${flag(c.parityErrorResponse.get(cmd))} Stepping${flag(c.idselStepping.get(cmd))} SERR${flag(c.serrEnable.get(cmd))} FastB2B${flag(c.fastBackToBackEnable.get(cmd))} DisINTx${flag(c.interruptDisable.get(cmd))}`,
  );
  const s = STATUS.layout.accessors;
  const sta = [header.status];
  lines.push(
    `\tStatus: Cap${flag(s.capabilitiesList.get(sta))} 66MHz${flag(s.capable66Mhz.get(sta))} UDF${flag(s.userDefinableFeatures.get(sta))} FastB2B${flag(s.fastBackToBackCapable.get(sta))} ParErr${flag(s.masterDataParityError.get(sta))} DEVSEL=${DEVSEL[s.devselTiming.get(sta)]} >TAbort${flag(s.signaledTargetAbort.get(sta))} <TAbort${flag(s.receivedTargetAbort.get(sta))} <MAbort${flag(s.receivedMasterAbort.get(sta))} >SERR${flag(s.signaledSystemError.get(sta))} <PERR${flag(s.detectedParityError.get(sta))} INTx${flag(s.interruptStatus.get(sta))}`,
  );
  if (c.busMasterEnable.get(cmd)) lines.push(latencyLine(space));
  if (header.interruptPin !== 0 || header.interruptLine !== 0) {
    const pin =
      header.interruptPin >= 1 && header.interruptPin <= 4
        ? String.fromCharCode(0x40 + header.interruptPin)
        : '?';
    lines.push(`\tInterrupt: pin ${pin} routed to IRQ ${header.interruptLine}`);
  }
  const bridge = headerLayoutOf(space) === HEADER_LAYOUTS[1];
  lines.push(...barLines(header));
  if (bridge) lines.push(...bridgeWindowLines(space));
  lines.push(...romLines(header));
  if (bridge) lines.push(...bridgeControlLines(space));
  return lines;
}

/** Min_Gnt/Max_Lat are in units of 250 ns, Cache Line Size in DWORDs (PCI 3.0, 6.2.4). */
const GNT_LAT_UNIT_NS = 250;
const CACHE_LINE_UNIT = 4;

function latencyLine(space: ConfigSpace): string {
  const latency = readRegister(space, 0, LATENCY_TIMER);
  // lspci.c show_verbose sets min_gnt = max_lat = 0 for bridge and CardBus headers.
  const hasGntLat = headerLayoutOf(space)?.hasMinGntMaxLat === true;
  const gntLat = decode(MIN_GNT_MAX_LAT.layout, [
    hasGntLat ? readRegister(space, 0, MIN_GNT_MAX_LAT) : 0,
  ]);
  const minGnt = gntLat.minGnt;
  const maxLat = gntLat.maxLat;
  const cacheLine = readRegister(space, 0, CACHE_LINE_SIZE);
  let line = `\tLatency: ${latency}`;
  if (minGnt || maxLat) {
    const parts: string[] = [];
    if (minGnt) parts.push(`${minGnt * GNT_LAT_UNIT_NS}ns min`);
    if (maxLat) parts.push(`${maxLat * GNT_LAT_UNIT_NS}ns max`);
    line += ` (${parts.join(', ')})`;
  }
  if (cacheLine) line += `, Cache Line Size: ${cacheLine * CACHE_LINE_UNIT} bytes`;
  return line;
}

const MEMORY_TYPE = ['32-bit', 'low-1M', '64-bit', '??'];
const MEMORY_TYPE_64 = 2;

function barLines(header: ConfigHeader): string[] {
  const lines: string[] = [];
  const cmd = [header.command];
  const c = COMMAND.layout.accessors;
  for (let i = 0; i < header.bars.length; i++) {
    const bar = header.bars[i] === 0xffffffff ? 0 : header.bars[i];
    if (bar === 0) continue;
    const m = BAR_LAYOUT.accessors;
    if (m.memorySpaceIndicator.get([bar]) === 1) {
      const address = IO_BAR_LAYOUT.accessors.baseAddress.get([bar]) * 4;
      const disabled = c.ioSpaceEnable.get(cmd) ? '' : ' [disabled]';
      lines.push(`\tRegion ${i}: I/O ports at ${hex(address, 4)}${disabled}`);
      continue;
    }
    const index = i;
    const type = m.memoryType.get([bar]);
    const low = m.baseAddress.get([bar]) * 16;
    let address = hex(low, 8);
    if (type === MEMORY_TYPE_64 && i + 1 < header.bars.length) {
      i++;
      // printf("%08llx") of the 64-bit address: the upper dword unpadded, then 8 digits.
      if (header.bars[i] !== 0) address = header.bars[i].toString(16) + hex(low, 8);
    }
    const prefetch = m.prefetchable.get([bar]) ? '' : 'non-';
    const disabled = c.memorySpaceEnable.get(cmd) ? '' : ' [disabled]';
    lines.push(
      `\tRegion ${index}: Memory at ${address} (${MEMORY_TYPE[type]}, ${prefetch}prefetchable)${disabled}`,
    );
  }
  return lines;
}

function romLines(header: ConfigHeader): string[] {
  const lines: string[] = [];
  const rom = EXPANSION_ROM_BASE.layout.accessors;
  const romWord = [header.expansionRomBase];
  if (rom.baseAddress.get(romWord) !== 0) {
    const enabled = rom.expansionRomEnable.get(romWord) === 1;
    lines.push(
      `\tExpansion ROM at ${hex(rom.baseAddress.get(romWord) * 2048, 8)}${enabled ? '' : ' [disabled]'}`,
    );
  }
  return lines;
}

/** Every `Capabilities:` line and block, standard list first, extended after a PCIe capability. */
export function capabilityLines(fn: LspciFunction, header: ConfigHeader): string[] {
  const lines: string[] = [];
  const standard = standardCapabilityChain(fn.space);
  for (const cap of standard.entries) lines.push(...standardCapabilityLines(fn, header, cap));
  if (standard.end.kind !== 'end') {
    const what = standard.end.kind === 'looped' ? '<chain looped>' : '<chain broken>';
    lines.push(`\tCapabilities: [${hex(standard.end.offset, 2)}] ${what}`);
  }
  // lspci shows extended capabilities only for functions with a PCIe (or PCI-X) capability.
  const pcie = standard.entries.find((c) => c.id === CAP_ID.pciExpress);
  if (!pcie && !standard.entries.some((c) => c.id === CAP_ID.pciX)) return lines;
  const portType = pcie ? pcieCapabilities(fn.space, pcie.offset).devicePortType : undefined;
  const extended = extendedCapabilityChain(fn.space);
  for (const cap of extended.entries) {
    lines.push(...extendedCapabilityLines(fn.space, cap, portType));
  }
  if (extended.end.kind === 'looped') {
    const at = extended.end.offset;
    lines.push(`${extendedTitlePrefix(fn.space, at)}<chain looped>`);
  }
  return lines;
}

const pcieCapabilities = (space: ConfigSpace, offset: number) =>
  readRegisterFields(space, offset, PCIE_CAPABILITIES);

interface StandardContext {
  fn: LspciFunction;
  header: ConfigHeader;
  space: ConfigSpace;
  offset: number;
  /** The 16 bits after the ID and pointer (lspci's `cap`), which many titles decode. */
  flags: number;
}

/** Title (after `Capabilities: [xx] `) and block of each standard capability lspci decodes. */
const STANDARD_RENDERERS: Readonly<
  Record<number, (c: StandardContext) => { title: string; block?: () => string[] }>
> = {
  [CAP_ID.powerManagement]: (c) => ({
    title: `Power Management version ${PM_CAPABILITIES.layout.accessors.version.get([c.flags])}`,
    block: () => pmLines(c.space, c.offset),
  }),
  [CAP_ID.agp]: (c) => {
    const agp = decodeAgpIdentifier(c.space, c.offset);
    return { title: `AGP version ${agp.major.toString(16)}.${agp.minor.toString(16)}` };
  },
  [CAP_ID.vpd]: () => ({ title: 'Vital Product Data' }),
  [CAP_ID.slotIdentification]: (c) => ({ title: slotIdTitle(c.space, c.offset) }),
  [CAP_ID.msi]: (c) => withBlock(msiLines(c.space, c.offset)),
  // cap_pcix: the title by header type (Type 0 device, Type 1 bridge); its registers are not
  // modelled.
  [CAP_ID.pciX]: (c) => ({ title: PCI_X_TITLES[c.header.headerType] ?? '' }),
  [CAP_ID.hyperTransport]: (c) => ({ title: hyperTransportTitle(c.space, c.offset) }),
  [CAP_ID.vendorSpecific]: (c) => withBlock(vendorLines(c.space, c.header, c.offset)),
  [CAP_ID.debugPort]: (c) => ({ title: debugPortTitle(c.space, c.offset) }),
  [CAP_ID.bridgeSubsystem]: (c) => ({ title: bridgeSubsystemTitle(c.space, c.offset) }),
  [CAP_ID.pciExpress]: (c) => ({
    title: pcieTitle(pcieCapabilities(c.space, c.offset)),
    block: () =>
      pcieBlock(decodePcieCapability(c.space, c.offset), {
        hasMemoryBar: hasMemoryBar(c.header),
        isFunctionZero: (c.fn.bdf?.device ?? 0) === 0 && (c.fn.bdf?.function ?? 0) === 0,
      }),
  }),
  [CAP_ID.msix]: (c) => withBlock(msixLines(c.space, c.offset)),
  [CAP_ID.sata]: (c) => ({ title: sataTitle(c.space, c.offset) }),
  [CAP_ID.advancedFeatures]: (c) => ({
    title: 'PCI Advanced Features',
    block: () => advancedFeaturesLines(c.space, c.offset),
  }),
  [CAP_ID.enhancedAllocation]: (c) => ({ title: enhancedAllocationTitle(c.space, c.offset) }),
};

const PCI_X_TITLES: Readonly<Record<number, string>> = {
  0: 'PCI-X non-bridge device',
  1: 'PCI-X bridge device',
};

const withBlock = ([title, ...block]: string[]) => ({ title, block: () => block });

function standardCapabilityLines(
  fn: LspciFunction,
  header: ConfigHeader,
  cap: CapabilityEntry,
): string[] {
  const prefix = `\tCapabilities: [${hex(cap.offset, 2)}] `;
  const flags = readConfigWord(fn.space, cap.offset + 2);
  const render = STANDARD_RENDERERS[cap.id];
  if (render === undefined) {
    const name =
      STANDARD_TITLES[cap.id] ?? `Capability ID ${alternateHex(cap.id)} [${hex(flags, 4)}]`;
    return [prefix + name];
  }
  const context = { fn, header, space: fn.space, offset: cap.offset, flags };
  const rendered = titled([], () => {
    const { title, block } = render(context);
    return titled([prefix + title], block ?? (() => []));
  });
  // A title whose bytes run past the dump: lspci prints the prefix and nothing after it.
  return rendered.length > 0 ? rendered : [prefix];
}

const AUX_CURRENT_MA = [0, 55, 100, 160, 220, 270, 320, 375];
/** PME_Support bits 11-15 of PMC: D0, D1, D2, D3hot, D3cold (PCI PM 1.2, 3.2.3). */
const PME_STATES = ['D0', 'D1', 'D2', 'D3hot', 'D3cold'];

/** The lines after the title: Flags, Status and, for a bridge's PMCSR_BSE, Bridge. */
function pmLines(space: ConfigSpace, offset: number): string[] {
  const pm = decodePmCapability(space, offset);
  const pmc = pm.capabilities;
  const pme = PME_STATES.map((state, n) => `${state}${flag(bitSet(pmc.pmeSupport, n))}`);
  const csr = pm.controlStatus;
  const lines = [
    `\t\tFlags: PMEClk${flag(pmc.pmeClock)} DSI${flag(pmc.deviceSpecificInitialization)} D1${flag(pmc.d1Support)} D2${flag(pmc.d2Support)} AuxCurrent=${AUX_CURRENT_MA[pmc.auxCurrent]}mA PME(${pme.join(',')})`,
    `\t\tStatus: D${csr.powerState} NoSoftRst${flag(csr.noSoftReset)} PME-Enable${flag(csr.pmeEnable)} DSel=${csr.dataSelect} DScale=${csr.dataScale} PME${flag(csr.pmeStatus)}`,
  ];
  // ls-caps.c cap_pm reads the PMCSR_BSE byte (+6) and prints "PM" for BPCC_En (bit 7) and "B3"
  // for B2_B3# clear (bit 6: 1 means B2 on a D3hot transition, 0 means B3).
  const bse = pm.bridgeExtensions;
  if (pm.bridgeExtensionsRaw !== 0) {
    lines.push(`\t\tBridge: PM${flag(bse.bpccEnable)} B3${flag(bse.b2B3Support === 0)}`);
  }
  return lines;
}

function msiLines(space: ConfigSpace, offset: number): string[] {
  const msi = decodeMsiCapability(space, offset);
  const lines = [
    `MSI: Enable${flag(msi.msiEnable)} Count=${msi.multipleMessageEnable}/${msi.multipleMessageCapable} Maskable${flag(msi.perVectorMasking)} 64bit${flag(msi.is64Bit)}`,
    `\t\tAddress: ${msi.is64Bit ? hex(msi.messageUpperAddress, 8) : ''}${hex(msi.messageAddress, 8)}  Data: ${hex(msi.messageData, 4)}`,
  ];
  if (msi.perVectorMasking) {
    lines.push(
      `\t\tMasking: ${hex(msi.maskBits ?? 0, 8)}  Pending: ${hex(msi.pendingBits ?? 0, 8)}`,
    );
  }
  return lines;
}

function msixLines(space: ConfigSpace, offset: number): string[] {
  const msix = decodeMsixCapability(space, offset);
  return [
    `MSI-X: Enable${flag(msix.msixEnable)} Count=${msix.tableSize} Masked${flag(msix.functionMask)}`,
    `\t\tVector table: BAR=${msix.tableBir} offset=${hex(msix.tableOffset, 8)}`,
    `\t\tPBA: BAR=${msix.pbaBir} offset=${hex(msix.pbaOffset, 8)}`,
  ];
}

const VIRTIO_TYPE_NAMES: Readonly<Record<number, string>> = {
  [VIRTIO_PCI_CAP_TYPE.commonCfg]: 'CommonCfg',
  [VIRTIO_PCI_CAP_TYPE.notifyCfg]: 'Notify',
  [VIRTIO_PCI_CAP_TYPE.isrCfg]: 'ISR',
  [VIRTIO_PCI_CAP_TYPE.deviceCfg]: 'DeviceCfg',
  [VIRTIO_PCI_CAP_TYPE.sharedMemoryCfg]: 'SharedMemory',
};

function vendorLines(space: ConfigSpace, header: ConfigHeader, offset: number): string[] {
  const title = 'Vendor Specific Information: ';
  const { header: vendorHeader } = decodeVendorCapability(space, offset);
  const fallback = [`${title}Len=${hex(vendorHeader.capabilityLength, 2)} <?>`];
  if (!isVirtioDevice(header.vendorId, header.deviceId)) return fallback;
  const lengthFits = offset + vendorHeader.capabilityLength <= space.bytes.length;
  const virtio = lengthFits ? decodeVirtioPciCapability(space, offset) : undefined;
  if (virtio === undefined) return fallback;
  const name = VIRTIO_TYPE_NAMES[virtio.cfgType] ?? '<unknown>';
  let detail: string;
  if (virtio.cfgType === VIRTIO_PCI_CAP_TYPE.sharedMemoryCfg) {
    const offset64 = hex(virtio.offsetHi ?? 0, 8) + hex(virtio.structureOffset, 8);
    const length64 = hex(virtio.lengthHi ?? 0, 8) + hex(virtio.structureLength, 8);
    detail = `\t\tBAR=${virtio.bar} offset=${offset64} size=${length64} id=${virtio.id}`;
  } else {
    detail = `\t\tBAR=${virtio.bar} offset=${hex(virtio.structureOffset, 8)} size=${hex(virtio.structureLength, 8)}`;
  }
  if (virtio.notifyOffMultiplier !== undefined) {
    detail += ` multiplier=${hex(virtio.notifyOffMultiplier, 8)}`;
  }
  return [`${title}VirtIO: ${name}`, detail];
}

/** ls-caps.c cap_slotid: "Slot ID: %d slots, First%c, chassis %02x". */
function slotIdTitle(space: ConfigSpace, offset: number): string {
  const s = decodeSlotIdentification(space, offset);
  return `Slot ID: ${s.expansionSlotsProvided} slots, First${flag(s.firstInChassis)}, chassis ${hex(s.chassisNumber, 2)}`;
}

/** ls-caps.c cap_debug_port: "Debug port: BAR=%d offset=%04x". */
function debugPortTitle(space: ConfigSpace, offset: number): string {
  const d = decodeDebugPort(space, offset);
  return `Debug port: BAR=${d.barNumber} offset=${hex(d.offset, 4)}`;
}

/** ls-caps.c cap_ssvid: "Subsystem: " and the name pci.ids gives; irqlab prints IDs as the
 *  header's Subsystem line does. */
function bridgeSubsystemTitle(space: ConfigSpace, offset: number): string {
  const s = decodeBridgeSubsystem(space, offset);
  return `Subsystem: Device [${hex(s.subsystemVendorId, 4)}:${hex(s.subsystemId, 4)}]`;
}

/** ls-caps.c cap_af. */
function advancedFeaturesLines(space: ConfigSpace, offset: number): string[] {
  const af = decodeAdvancedFeatures(space, offset);
  return [
    `\t\tAFCap: TP${flag(af.capabilities.transactionsPendingCapable)} FLR${flag(af.capabilities.flrCapable)}`,
    `\t\tAFCtrl: FLR${flag(af.control.initiateFlr)}`,
    `\t\tAFStatus: TP${flag(af.status.transactionsPending)}`,
  ];
}

/** ls-caps.c cap_ea's title: the entry count, and a bridge's fixed bus numbers. */
function enhancedAllocationTitle(space: ConfigSpace, offset: number): string {
  const title = `Enhanced Allocation (EA): NumEntries=${decodeEaNumEntries(space, offset)}`;
  if (headerLayoutOf(space) !== HEADER_LAYOUTS[1]) return title;
  const bus = decodeEaBusNumbers(space, offset);
  return `${title}, secondary=${bus.fixedSecondaryBusNumber}, subordinate=${bus.fixedSubordinateBusNumber}`;
}

const HT_TITLES: Readonly<Record<number, (command: number) => string>> = {
  [HT_CAPABILITY_TYPE.switch]: () => 'Switch',
  [HT_CAPABILITY_TYPE.interruptDiscovery]: () => 'Interrupt Discovery and Configuration',
  [HT_CAPABILITY_TYPE.revisionId]: (command) => {
    const r = decode(HT_REVISION_ID, [command]);
    return `Revision ID: ${r.major}.${String(r.minor).padStart(2, '0')}`;
  },
  [HT_CAPABILITY_TYPE.unitIdClumping]: () => 'UnitID Clumping',
  [HT_CAPABILITY_TYPE.extendedConfigSpaceAccess]: () => 'Extended Configuration Space Access',
  [HT_CAPABILITY_TYPE.addressMapping]: () => 'Address Mapping',
  [HT_CAPABILITY_TYPE.msiMapping]: (command) => {
    const m = decode(HT_MSI_MAPPING, [command]);
    return `MSI Mapping Enable${flag(m.enable)} Fixed${flag(m.fixed)}`;
  },
  [HT_CAPABILITY_TYPE.directRoute]: () => 'DirectRoute',
  [HT_CAPABILITY_TYPE.vcSet]: () => 'VCSet',
  [HT_CAPABILITY_TYPE.retryMode]: () => 'Retry Mode',
  [HT_CAPABILITY_TYPE.x86Encoding]: () => 'X86 (reserved)',
};
/** The interface blocks' 3-bit type is the top 3 bits of the 5-bit Capability Type. */
const HT_INTERFACE_SHIFT = 2;

/** ls-caps.c cap_ht's titles (the interface blocks' register dumps are not modelled). */
function hyperTransportTitle(space: ConfigSpace, offset: number): string {
  const command = readRegister(space, offset, HT_COMMAND);
  const type = decodeHtCommand(space, offset).capabilityType;
  const iface = Math.floor(type / 2 ** HT_INTERFACE_SHIFT);
  if (iface === HT_INTERFACE_TYPE.slaveOrPrimary) {
    return 'HyperTransport: Slave or Primary Interface';
  }
  if (iface === HT_INTERFACE_TYPE.hostOrSecondary) {
    return 'HyperTransport: Host or Secondary Interface';
  }
  const name = HT_TITLES[type]?.(command) ?? `#${hex(type, 2)}`;
  return `HyperTransport: ${name}`;
}

function sataTitle(space: ConfigSpace, offset: number): string {
  const sata = decodeSataCapability(space, offset);
  const r0 = sata.register0;
  const r1 = sata.register1;
  const title = `SATA HBA v${r0.majorRevision}.${r0.minorRevision}`;
  if (r1.barLocation >= SATA_BAR_LOCATION_FIRST && r1.barLocation <= SATA_BAR_LOCATION_LAST) {
    return `${title} BAR${r1.barLocation - SATA_BAR_LOCATION_FIRST} Offset=${hex(r1.barOffset, 8)}`;
  }
  if (r1.barLocation === SATA_BAR_LOCATION_CONFIG) return `${title} InCfgSpace`;
  return `${title} BAR??${r1.barLocation}`;
}

/** Every function of a dump, one paragraph each, in the order given. */
export function formatLspci(functions: readonly LspciFunction[]): string {
  return functions.map((fn) => formatLspciFunction(fn)).join('');
}
