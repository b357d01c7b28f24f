// The Single Root I/O Virtualization Extended Capability (PCI Express Base Spec 6.0, section 9.3.3
// "SR-IOV Extended Capability"): how many Virtual Functions a Physical Function can expose, how
// many are enabled, where their Routing IDs fall (First VF Offset, VF Stride), their Device ID and
// their BARs. mlx5 exposes its VFs this way; each VF then has its own MSI-X capability.
// Invariants: NumVFs <= TotalVFs; VF n (1-based) has Routing ID = PF RID + First VF Offset +
// (n - 1) * VF Stride (spec 9.3.3.9/9.3.3.10), which must stay inside the 16-bit RID space.
// Not modelled: First VF Offset/VF Stride changing with NumVFs or ARI Capable Hierarchy (they are
// read as stored), VF Migration, VF BAR sizing.

import { type Decoded, decode, defineLayout } from '../bits.js';
import { InputError } from '../errors.js';
import { type Bdf, bdfOfRequesterId, type RequesterId, requesterIdOf } from './bdf.js';
import { type ConfigRegister, defineRegister } from './config-register.js';
import { type ConfigSpace, readConfig } from './config-space.js';

export const SRIOV_CAPABILITY_SIZE = 0x40;
export const SRIOV_VF_BAR_COUNT = 6;
/** Routing IDs are 16 bits. */
const ROUTING_ID_MAX = 0xffff;

const word = (name: string, section: string, field: string) =>
  defineLayout(name, 32, `PCIe Base Spec 6.0, ${section}`, { [field]: [15, 0, field] } as const, {
    complete: false,
  });

const dword = (name: string, section: string, field: string) =>
  defineLayout(name, 32, `PCIe Base Spec 6.0, ${section}`, { [field]: [31, 0, field] } as const, {
    complete: true,
  });

export const SRIOV_CAPABILITIES = defineRegister(
  'SR-IOV Capabilities',
  0x04,
  4,
  defineLayout(
    'sriov-capabilities',
    32,
    'PCIe Base Spec 6.0, 9.3.3.2 SR-IOV Capabilities Register',
    {
      vfMigrationCapable: [0, 0, 'VF Migration Capable'],
      ariCapableHierarchyPreserved: [1, 1, 'ARI Capable Hierarchy Preserved'],
      vf10BitTagRequesterSupported: [2, 2, 'VF 10-Bit Tag Requester Supported'],
      reserved: [20, 3, 'Reserved'],
      vfMigrationInterruptMessageNumber: [31, 21, 'VF Migration Interrupt Message Number'],
    },
    { complete: true },
  ),
  {
    vfMigrationCapable: 'RO',
    ariCapableHierarchyPreserved: 'RO',
    vf10BitTagRequesterSupported: 'RO',
    reserved: 'RsvdP',
    vfMigrationInterruptMessageNumber: 'RO',
  },
);

export const SRIOV_CONTROL = defineRegister(
  'SR-IOV Control',
  0x08,
  2,
  defineLayout(
    'sriov-control',
    32,
    'PCIe Base Spec 6.0, 9.3.3.3 SR-IOV Control Register',
    {
      vfEnable: [0, 0, 'VF Enable'],
      vfMigrationEnable: [1, 1, 'VF Migration Enable'],
      vfMigrationInterruptEnable: [2, 2, 'VF Migration Interrupt Enable'],
      vfMse: [3, 3, 'VF MSE (Memory Space Enable)'],
      ariCapableHierarchy: [4, 4, 'ARI Capable Hierarchy'],
      vf10BitTagRequesterEnable: [5, 5, 'VF 10-Bit Tag Requester Enable'],
      reserved: [15, 6, 'Reserved'],
    },
    { complete: false },
  ),
  {
    vfEnable: 'RW',
    vfMigrationEnable: 'RW',
    vfMigrationInterruptEnable: 'RW',
    vfMse: 'RW',
    ariCapableHierarchy: 'RW',
    vf10BitTagRequesterEnable: 'RW',
    reserved: 'RsvdP',
  },
);

export const SRIOV_STATUS = defineRegister(
  'SR-IOV Status',
  0x0a,
  2,
  defineLayout(
    'sriov-status',
    32,
    'PCIe Base Spec 6.0, 9.3.3.4 SR-IOV Status Register',
    { vfMigrationStatus: [0, 0, 'VF Migration Status'], reserved: [15, 1, 'Reserved'] },
    { complete: false },
  ),
  { vfMigrationStatus: 'RW1C', reserved: 'RsvdZ' },
);

export const INITIAL_VFS = defineRegister(
  'InitialVFs',
  0x0c,
  2,
  word('sriov-initial-vfs', '9.3.3.5 InitialVFs', 'initialVfs'),
  { initialVfs: 'RO' },
);
export const TOTAL_VFS = defineRegister(
  'TotalVFs',
  0x0e,
  2,
  word('sriov-total-vfs', '9.3.3.6 TotalVFs', 'totalVfs'),
  { totalVfs: 'RO' },
);
export const NUM_VFS = defineRegister(
  'NumVFs',
  0x10,
  2,
  word('sriov-num-vfs', '9.3.3.7 NumVFs', 'numVfs'),
  { numVfs: 'RW' },
);
export const FUNCTION_DEPENDENCY_LINK = defineRegister(
  'Function Dependency Link',
  0x12,
  1,
  defineLayout(
    'sriov-function-dependency-link',
    32,
    'PCIe Base Spec 6.0, 9.3.3.8 Function Dependency Link',
    { functionDependencyLink: [7, 0, 'Function Dependency Link'] },
    { complete: false },
  ),
  { functionDependencyLink: 'RO' },
);
export const FIRST_VF_OFFSET = defineRegister(
  'First VF Offset',
  0x14,
  2,
  word('sriov-first-vf-offset', '9.3.3.9 First VF Offset', 'firstVfOffset'),
  { firstVfOffset: 'RO' },
);
export const VF_STRIDE = defineRegister(
  'VF Stride',
  0x16,
  2,
  word('sriov-vf-stride', '9.3.3.10 VF Stride', 'vfStride'),
  { vfStride: 'RO' },
);
export const VF_DEVICE_ID = defineRegister(
  'VF Device ID',
  0x1a,
  2,
  word('sriov-vf-device-id', '9.3.3.11 VF Device ID', 'vfDeviceId'),
  { vfDeviceId: 'RO' },
);
export const SUPPORTED_PAGE_SIZES = defineRegister(
  'Supported Page Sizes',
  0x1c,
  4,
  dword('sriov-supported-page-sizes', '9.3.3.12 Supported Page Sizes', 'supportedPageSizes'),
  { supportedPageSizes: 'RO' },
);
export const SYSTEM_PAGE_SIZE = defineRegister(
  'System Page Size',
  0x20,
  4,
  dword('sriov-system-page-size', '9.3.3.13 System Page Size', 'systemPageSize'),
  { systemPageSize: 'RW' },
);

const VF_BAR_LAYOUT = dword('sriov-vf-bar', '9.3.3.14 VF BAR0-5', 'vfBar');
export const VF_BARS: readonly ConfigRegister[] = Array.from(
  { length: SRIOV_VF_BAR_COUNT },
  (_, n) => defineRegister(`VF BAR${n}`, 0x24 + 4 * n, 4, VF_BAR_LAYOUT, { vfBar: 'RW' }),
);

export const VF_MIGRATION_STATE_ARRAY_OFFSET = defineRegister(
  'VF Migration State Array Offset',
  0x3c,
  4,
  defineLayout(
    'sriov-vf-migration-state-array-offset',
    32,
    'PCIe Base Spec 6.0, 9.3.3.15 VF Migration State Array Offset',
    {
      vfMigrationStateBir: [2, 0, 'VF Migration State BIR'],
      vfMigrationStateOffset: [31, 3, 'VF Migration State Offset bits 31:3'],
    },
    { complete: true },
  ),
  { vfMigrationStateBir: 'RO', vfMigrationStateOffset: 'RO' },
);

export const SRIOV_REGISTERS: readonly ConfigRegister[] = [
  SRIOV_CAPABILITIES,
  SRIOV_CONTROL,
  SRIOV_STATUS,
  INITIAL_VFS,
  TOTAL_VFS,
  NUM_VFS,
  FUNCTION_DEPENDENCY_LINK,
  FIRST_VF_OFFSET,
  VF_STRIDE,
  VF_DEVICE_ID,
  SUPPORTED_PAGE_SIZES,
  SYSTEM_PAGE_SIZE,
  ...VF_BARS,
  VF_MIGRATION_STATE_ARRAY_OFFSET,
];

export interface SriovCapability {
  offset: number;
  capabilities: Decoded<typeof SRIOV_CAPABILITIES.layout.fields>;
  control: Decoded<typeof SRIOV_CONTROL.layout.fields>;
  status: Decoded<typeof SRIOV_STATUS.layout.fields>;
  initialVfs: number;
  totalVfs: number;
  numVfs: number;
  functionDependencyLink: number;
  firstVfOffset: number;
  vfStride: number;
  vfDeviceId: number;
  supportedPageSizes: number;
  systemPageSize: number;
  /** The six VF BAR registers as stored. */
  vfBars: number[];
  vfMigrationStateArrayOffset: number;
}

export function decodeSriovCapability(space: ConfigSpace, offset: number): SriovCapability {
  if (offset + SRIOV_CAPABILITY_SIZE > space.bytes.length) {
    throw new InputError(
      `SR-IOV capability at 0x${offset.toString(16)}`,
      `its ${SRIOV_CAPABILITY_SIZE} bytes run past the end of the config space`,
    );
  }
  const raw = (register: ConfigRegister) =>
    readConfig(space, offset + register.offset, register.size);
  return {
    offset,
    capabilities: decode(SRIOV_CAPABILITIES.layout, [raw(SRIOV_CAPABILITIES)]),
    control: decode(SRIOV_CONTROL.layout, [raw(SRIOV_CONTROL)]),
    status: decode(SRIOV_STATUS.layout, [raw(SRIOV_STATUS)]),
    initialVfs: raw(INITIAL_VFS),
    totalVfs: raw(TOTAL_VFS),
    numVfs: raw(NUM_VFS),
    functionDependencyLink: raw(FUNCTION_DEPENDENCY_LINK),
    firstVfOffset: raw(FIRST_VF_OFFSET),
    vfStride: raw(VF_STRIDE),
    vfDeviceId: raw(VF_DEVICE_ID),
    supportedPageSizes: raw(SUPPORTED_PAGE_SIZES),
    systemPageSize: raw(SYSTEM_PAGE_SIZE),
    vfBars: VF_BARS.map(raw),
    vfMigrationStateArrayOffset: raw(VF_MIGRATION_STATE_ARRAY_OFFSET),
  };
}

export interface VirtualFunctionId {
  /** 1-based, as the spec numbers VFs. */
  vf: number;
  requesterId: RequesterId;
  bdf: Bdf;
}

/**
 * The Routing ID of each VF: PF RID + First VF Offset + (n - 1) * VF Stride, for n = 1..count
 * (PCIe 6.0, 9.3.3.9 and 9.3.3.10). `count` defaults to NumVFs. A RID past 0xffff is an error: the
 * spec requires the VFs to fit the PF's hierarchy, and Linux refuses such a configuration too.
 */
export function vfRequesterIds(
  pfBdf: Bdf,
  sriov: Pick<SriovCapability, 'firstVfOffset' | 'vfStride' | 'numVfs' | 'totalVfs'>,
  count: number = sriov.numVfs,
): VirtualFunctionId[] {
  if (!Number.isInteger(count) || count < 0 || count > sriov.totalVfs) {
    throw new InputError(
      'SR-IOV',
      `VF count ${count} is not within 0..TotalVFs (${sriov.totalVfs})`,
    );
  }
  if (count > 1 && sriov.vfStride === 0) {
    throw new InputError('SR-IOV', 'VF Stride is 0 but more than one VF is requested');
  }
  const pfRid = requesterIdOf(pfBdf);
  const out: VirtualFunctionId[] = [];
  for (let vf = 1; vf <= count; vf++) {
    const rid = pfRid + sriov.firstVfOffset + (vf - 1) * sriov.vfStride;
    if (rid > ROUTING_ID_MAX) {
      throw new InputError(
        'SR-IOV',
        `VF ${vf} would have Routing ID 0x${rid.toString(16)}, beyond 0x${ROUTING_ID_MAX.toString(16)}`,
      );
    }
    out.push({ vf, requesterId: rid as RequesterId, bdf: bdfOfRequesterId(rid, pfBdf.segment) });
  }
  return out;
}
