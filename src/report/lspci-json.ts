// The `--json` form of `irqlab decode config`: the same decode as the lspci-style text, as plain
// data whose field names are the specs' register and field names in camelCase (`tableSize`,
// `tableBir`, `msixEnable`, `multipleMessageCapable`, `firstVfOffset`, `vfStride`, ...). Reserved
// fields are left out. Numbers are numbers (JSON has no hex); addresses fit in 2^53.
// Not modelled: capabilities irqlab does not decode appear with their ID and version only.

import { namedFields } from '../hw/bits.js';
import { decodeAcsCapability } from '../hw/pci/acs-capability.js';
import { decodeAerCapability } from '../hw/pci/aer-capability.js';
import { decodeAriCapability } from '../hw/pci/ari-capability.js';
import { decodeAtsCapability } from '../hw/pci/ats-capability.js';
import { type Bdf, formatBdf } from '../hw/pci/bdf.js';
import { CAP_ID, EXT_CAP_ID } from '../hw/pci/capability-ids.js';
import {
  type CapabilityEntry,
  extendedCapabilityChain,
  walkStandardCapabilities,
} from '../hw/pci/capability-list.js';
import { type ConfigSpace, decodeConfigHeader } from '../hw/pci/config-space.js';
import { decodeDvsecHeader } from '../hw/pci/designated-vendor-capability.js';
import { decodeDpcCapability } from '../hw/pci/dpc-capability.js';
import { decodeL1PmSubstatesCapability } from '../hw/pci/l1-pm-substates-capability.js';
import { decodeLtrCapability } from '../hw/pci/ltr-capability.js';
import { decodeMsiCapability } from '../hw/pci/msi-capability.js';
import { decodeMsixCapability } from '../hw/pci/msix-capability.js';
import { decodePageRequestCapability } from '../hw/pci/page-request-capability.js';
import { decodePasidCapability } from '../hw/pci/pasid-capability.js';
import { decodePcieCapability } from '../hw/pci/pcie-capability.js';
import { decodePmCapability } from '../hw/pci/pm-capability.js';
import { decodeSataCapability } from '../hw/pci/sata-capability.js';
import { decodeSriovCapability, vfRequesterIds } from '../hw/pci/sriov-capability.js';
import { decodeTphRequesterCapability } from '../hw/pci/tph-requester-capability.js';
import { decodeVirtioPciCapability, isVirtioDevice } from '../hw/pci/vendor-capability.js';

export type JsonValue =
  | number
  | string
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue | undefined };

export interface ConfigSpaceJson {
  [key: string]: JsonValue | undefined;
  bdf: string | null;
  capabilities: JsonValue[];
}

const STANDARD_KIND: Readonly<Record<number, string>> = {
  [CAP_ID.powerManagement]: 'pm',
  [CAP_ID.msi]: 'msi',
  [CAP_ID.vendorSpecific]: 'vendor',
  [CAP_ID.pciExpress]: 'pcie',
  [CAP_ID.msix]: 'msix',
  [CAP_ID.sata]: 'sata',
};
const EXTENDED_KIND: Readonly<Record<number, string>> = {
  [EXT_CAP_ID.advancedErrorReporting]: 'aer',
  [EXT_CAP_ID.deviceSerialNumber]: 'dsn',
  [EXT_CAP_ID.acs]: 'acs',
  [EXT_CAP_ID.ari]: 'ari',
  [EXT_CAP_ID.ats]: 'ats',
  [EXT_CAP_ID.sriov]: 'sriov',
  [EXT_CAP_ID.pageRequest]: 'pri',
  [EXT_CAP_ID.tph]: 'tph',
  [EXT_CAP_ID.ltr]: 'ltr',
  [EXT_CAP_ID.pasid]: 'pasid',
  [EXT_CAP_ID.dpc]: 'dpc',
  [EXT_CAP_ID.l1PmSubstates]: 'l1ss',
  [EXT_CAP_ID.designatedVendorSpecific]: 'dvsec',
};

type Registers = Record<string, Record<string, number> | number>;
/** Kinds whose decoder returns registers of named fields (and plain numbers), by JSON key. */
const REGISTER_DECODERS: Readonly<
  Record<string, (space: ConfigSpace, offset: number) => Registers>
> = {
  acs: (space, offset) => {
    const acs = decodeAcsCapability(space, offset);
    return { acsCapability: acs.capability, acsControl: acs.control };
  },
  ari: (space, offset) => {
    const ari = decodeAriCapability(space, offset);
    return { ariCapability: ari.capability, ariControl: ari.control };
  },
  ats: (space, offset) => {
    const ats = decodeAtsCapability(space, offset);
    return { atsCapability: ats.capability, atsControl: ats.control };
  },
  pri: (space, offset) => {
    const pri = decodePageRequestCapability(space, offset);
    return {
      pageRequestControl: pri.control,
      pageRequestStatus: pri.status,
      outstandingPageRequestCapacity: pri.outstandingPageRequestCapacity,
      outstandingPageRequestAllocation: pri.outstandingPageRequestAllocation,
    };
  },
  tph: (space, offset) => ({ tphRequesterCapability: decodeTphRequesterCapability(space, offset) }),
  ltr: (space, offset) => ({ ...decodeLtrCapability(space, offset) }),
  dpc: (space, offset) => {
    const dpc = decodeDpcCapability(space, offset);
    return {
      dpcCapability: dpc.capability,
      dpcControl: dpc.control,
      dpcStatus: dpc.status,
      dpcErrorSourceId: dpc.errorSourceId,
    };
  },
  l1ss: (space, offset) => {
    const l1ss = decodeL1PmSubstatesCapability(space, offset);
    return {
      l1PmSubstatesCapabilities: l1ss.capabilities,
      l1PmSubstatesControl1: l1ss.control1,
      l1PmSubstatesControl2: l1ss.control2,
    };
  },
  dvsec: (space, offset) => ({ ...decodeDvsecHeader(space, offset) }),
};

const registersJson = (registers: Registers): Record<string, JsonValue | undefined> =>
  Object.fromEntries(
    Object.entries(registers).map(([name, value]) => [
      name,
      typeof value === 'number' ? value : namedFields(value),
    ]),
  );

/** One function's config space as JSON-ready data. */
export function configSpaceJson(
  space: ConfigSpace,
  bdf: Bdf | undefined,
  where = 'config space',
): ConfigSpaceJson {
  const header = decodeConfigHeader(space);
  const isVirtio = isVirtioDevice(header.vendorId, header.deviceId);
  return {
    bdf: bdf ? formatBdf(bdf, { withSegment: true }) : null,
    configSpaceSize: space.bytes.length,
    ...header,
    // The extended list as the text form walks it (a loop ends it), the standard one strictly.
    capabilities: [
      ...walkStandardCapabilities(space, where),
      ...extendedCapabilityChain(space).entries,
    ].map((cap) => capabilityJson(space, cap, bdf, isVirtio)),
  };
}

function capabilityJson(
  space: ConfigSpace,
  cap: CapabilityEntry,
  bdf: Bdf | undefined,
  isVirtio: boolean,
): JsonValue {
  const kind = (cap.extended ? EXTENDED_KIND[cap.id] : STANDARD_KIND[cap.id]) ?? 'unknown';
  const base = {
    kind,
    capabilityId: cap.id,
    offset: cap.offset,
    extended: cap.extended,
    ...(cap.version === undefined ? {} : { capabilityVersion: cap.version }),
  };
  return { ...base, ...capabilityFields(space, cap, kind, bdf, isVirtio) };
}

function capabilityFields(
  space: ConfigSpace,
  cap: CapabilityEntry,
  kind: string,
  bdf: Bdf | undefined,
  isVirtio: boolean,
): Record<string, JsonValue | undefined> {
  switch (kind) {
    case 'msi': {
      const { offset: _, ...msi } = decodeMsiCapability(space, cap.offset);
      return { ...msi, maskBits: msi.maskBits ?? null, pendingBits: msi.pendingBits ?? null };
    }
    case 'msix': {
      const { offset: _, ...msix } = decodeMsixCapability(space, cap.offset);
      return msix;
    }
    case 'pcie':
      return pcieJson(space, cap.offset);
    case 'pm': {
      const pm = decodePmCapability(space, cap.offset);
      return {
        powerManagementCapabilities: namedFields(pm.capabilities),
        powerManagementControlStatus: namedFields(pm.controlStatus),
        data: pm.data,
      };
    }
    case 'vendor': {
      const virtio = isVirtio ? decodeVirtioPciCapability(space, cap.offset) : undefined;
      if (virtio === undefined) return {};
      const { offset: _, ...fields } = virtio;
      return { virtio: { ...fields } as Record<string, JsonValue | undefined> };
    }
    case 'sata': {
      const sata = decodeSataCapability(space, cap.offset);
      return {
        majorRevision: sata.register0.majorRevision,
        minorRevision: sata.register0.minorRevision,
        barLocation: sata.register1.barLocation,
        barOffset: sata.register1.barOffset,
      };
    }
    case 'sriov':
      return sriovJson(space, cap.offset, bdf);
    case 'aer': {
      const { offset: _, headerLog, ...registers } = decodeAerCapability(space, cap.offset);
      const out: Record<string, JsonValue | undefined> = { headerLog };
      for (const [name, fields] of Object.entries(registers)) {
        out[name] = namedFields(fields as Record<string, number>);
      }
      return out;
    }
    case 'pasid': {
      const pasid = decodePasidCapability(space, cap.offset);
      return {
        pasidCapability: namedFields(pasid.capability),
        pasidControl: namedFields(pasid.control),
      };
    }
    default: {
      const decoder = REGISTER_DECODERS[kind];
      return decoder === undefined ? {} : registersJson(decoder(space, cap.offset));
    }
  }
}

function pcieJson(space: ConfigSpace, offset: number): Record<string, JsonValue | undefined> {
  const pcie = decodePcieCapability(space, offset);
  const out: Record<string, JsonValue | undefined> = {
    pciExpressCapabilities: namedFields(pcie.capabilities),
    deviceCapabilities: namedFields(pcie.deviceCapabilities),
    deviceControl: namedFields(pcie.deviceControl),
    deviceStatus: namedFields(pcie.deviceStatus),
  };
  if (pcie.link) {
    out.linkCapabilities = namedFields(pcie.link.linkCapabilities);
    out.linkControl = namedFields(pcie.link.linkControl);
    out.linkStatus = namedFields(pcie.link.linkStatus);
  }
  if (pcie.slot) {
    out.slotCapabilities = namedFields(pcie.slot.slotCapabilities);
    out.slotControl = namedFields(pcie.slot.slotControl);
    out.slotStatus = namedFields(pcie.slot.slotStatus);
  }
  if (pcie.root) {
    out.rootControl = namedFields(pcie.root.rootControl);
    out.rootCapabilities = namedFields(pcie.root.rootCapabilities);
    out.rootStatus = namedFields(pcie.root.rootStatus);
  }
  if (pcie.version2) {
    out.deviceCapabilities2 = namedFields(pcie.version2.deviceCapabilities2);
    out.deviceControl2 = namedFields(pcie.version2.deviceControl2);
    if (pcie.link) {
      out.linkCapabilities2 = namedFields(pcie.version2.linkCapabilities2);
      out.linkControl2 = namedFields(pcie.version2.linkControl2);
      out.linkStatus2 = namedFields(pcie.version2.linkStatus2);
    }
  }
  return out;
}

function sriovJson(
  space: ConfigSpace,
  offset: number,
  bdf: Bdf | undefined,
): Record<string, JsonValue | undefined> {
  const {
    offset: _,
    capabilities,
    control,
    status,
    ...counts
  } = decodeSriovCapability(space, offset);
  const out: Record<string, JsonValue | undefined> = {
    sriovCapabilities: namedFields(capabilities),
    sriovControl: namedFields(control),
    sriovStatus: namedFields(status),
    ...counts,
  };
  if (bdf !== undefined) {
    out.vfRoutingIds = vfRequesterIds(bdf, counts).map((vf) =>
      formatBdf(vf.bdf, { withSegment: true }),
    );
  }
  return out;
}
