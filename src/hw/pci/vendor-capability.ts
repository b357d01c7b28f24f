// The Vendor-Specific capability (PCI Express Base Spec 6.0, section 7.9.4 "Vendor-Specific
// Capability": ID 09h, then a length byte, the rest defined by the vendor), and the one vendor
// layout lspci decodes that irqlab meets: virtio's "Virtio Structure PCI Capabilities" (Virtual
// I/O Device (VIRTIO) 1.2, section 4.1.4: struct virtio_pci_cap and virtio_pci_notify_cap).
// Invariants: the length byte counts from the capability ID; a virtio capability is at least 16
// bytes, a Notify capability 20 (it adds notify_off_multiplier).
// Not modelled: the virtio PCI configuration access capability's window (cfg_type 5).

import { type Decoded, decode, defineLayout } from '../bits.js';
import { InputError } from '../errors.js';
import { type ConfigSpace, readConfigDword } from './config-space.js';

export const VENDOR_CAPABILITY_HEADER = defineLayout(
  'vendor-capability-header',
  32,
  'PCIe Base Spec 6.0, 7.9.4: Capability ID, Next Pointer, Capability Length, vendor byte',
  {
    capabilityId: [7, 0, 'Capability ID (09h)'],
    nextCapabilityPointer: [15, 8, 'Next Capability Pointer'],
    capabilityLength: [23, 16, 'Capability Length in bytes'],
    vendorByte: [31, 24, 'first vendor-defined byte (virtio: cfg_type)'],
  },
  { complete: true },
);

/** The Vendor-Specific Extended Capability's second dword (PCIe 6.0, 7.9.5.2). */
export const VENDOR_SPECIFIC_EXTENDED_HEADER = defineLayout(
  'vendor-specific-extended-header',
  32,
  'PCIe Base Spec 6.0, 7.9.5.2 Vendor-Specific Header',
  {
    vsecId: [15, 0, 'VSEC ID'],
    vsecRev: [19, 16, 'VSEC Rev'],
    vsecLength: [31, 20, 'VSEC Length in bytes'],
  },
  { complete: true },
);

/** virtio_pci_cap's second dword: which BAR, and the shared-memory id. */
export const VIRTIO_PCI_CAP_BAR = defineLayout(
  'virtio-pci-cap-bar',
  32,
  'VIRTIO 1.2, 4.1.4 struct virtio_pci_cap: bar, id, padding[2]',
  {
    bar: [7, 0, 'BAR index (0-5) holding the structure'],
    id: [15, 8, 'id (shared memory regions)'],
    padding: [31, 16, 'padding'],
  },
  { complete: true },
);

/** cfg_type values (VIRTIO 1.2, 4.1.4). */
export const VIRTIO_PCI_CAP_TYPE = {
  commonCfg: 1,
  notifyCfg: 2,
  isrCfg: 3,
  deviceCfg: 4,
  pciCfg: 5,
  sharedMemoryCfg: 8,
  vendorCfg: 9,
} as const;

export const VIRTIO_PCI_CAP_MIN_LENGTH = 16;
export const VIRTIO_PCI_NOTIFY_CAP_MIN_LENGTH = 20;

export interface VendorCapability {
  offset: number;
  header: Decoded<typeof VENDOR_CAPABILITY_HEADER.fields>;
}

export interface VirtioPciCapability {
  offset: number;
  capabilityLength: number;
  cfgType: number;
  bar: number;
  id: number;
  /** Byte offset of the structure inside the BAR. */
  structureOffset: number;
  /** Length of the structure in bytes. */
  structureLength: number;
  /** Only for a Notify capability that is long enough. */
  notifyOffMultiplier: number | undefined;
  /** Shared memory capability: the upper halves (virtio_pci_cap64). */
  offsetHi: number | undefined;
  lengthHi: number | undefined;
}

export function decodeVendorCapability(space: ConfigSpace, offset: number): VendorCapability {
  return { offset, header: decode(VENDOR_CAPABILITY_HEADER, [readConfigDword(space, offset)]) };
}

/** Red Hat's virtio device IDs, the range lspci treats as virtio (vendor 1af4, 1000-107f). */
export const isVirtioDevice = (vendorId: number, deviceId: number): boolean =>
  vendorId === 0x1af4 && deviceId >= 0x1000 && deviceId <= 0x107f;

/** Decodes a vendor capability as a virtio_pci_cap; undefined if shorter than one. */
export function decodeVirtioPciCapability(
  space: ConfigSpace,
  offset: number,
): VirtioPciCapability | undefined {
  const { header } = decodeVendorCapability(space, offset);
  const length = header.capabilityLength;
  if (length < VIRTIO_PCI_CAP_MIN_LENGTH) return undefined;
  if (offset + length > space.bytes.length) {
    throw new InputError(
      `vendor capability at 0x${offset.toString(16)}`,
      `its length ${length} runs past the end of the config space`,
    );
  }
  const bar = decode(VIRTIO_PCI_CAP_BAR, [readConfigDword(space, offset + 4)]);
  const isShm = header.vendorByte === VIRTIO_PCI_CAP_TYPE.sharedMemoryCfg;
  const hasNotify =
    header.vendorByte === VIRTIO_PCI_CAP_TYPE.notifyCfg &&
    length >= VIRTIO_PCI_NOTIFY_CAP_MIN_LENGTH;
  const hasHi = isShm && length >= 24;
  return {
    offset,
    capabilityLength: length,
    cfgType: header.vendorByte,
    bar: bar.bar,
    id: bar.id,
    structureOffset: readConfigDword(space, offset + 8),
    structureLength: readConfigDword(space, offset + 12),
    notifyOffMultiplier: hasNotify ? readConfigDword(space, offset + 16) : undefined,
    offsetHi: hasHi ? readConfigDword(space, offset + 16) : undefined,
    lengthHi: hasHi ? readConfigDword(space, offset + 20) : undefined,
  };
}
