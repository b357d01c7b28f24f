// An mlx5-like (NVIDIA ConnectX) physical function with SR-IOV: the PF and N virtual functions,
// each a PCI function of its own with its own requester ID, config space and MSI-X table (PCI
// Express Base Spec 6.0, chapter 9 "Single Root I/O Virtualization and Sharing").
//
// VF n (1-based) has Routing ID = PF RID + First VF Offset + (n - 1) * VF Stride, computed by
// `vfRequesterIds` of the SR-IOV capability; so, unlike IMS-backed subdevices, each VF's messages
// carry a requester ID of their own, which VT-d source-id validation can tell apart.
// A VF's Vendor ID and Device ID registers read FFFFh (its Device ID is the PF's VF Device ID
// field). A VF signals with MSI and/or MSI-X, never INTx; the VFs here have MSI-X only.
// Creating the device does what the PF driver does through sriov_numvfs: writes NumVFs and sets
// VF Enable and VF MSE in SR-IOV Control, then the VFs appear.
// Defaults (irqlab's, not read from hardware; a scenario should set what it measures): 64 PF
// MSI-X entries, 8 per VF, First VF Offset 1, VF Stride 1; MSI-X table at BAR0 + 0x2000, PBA at
// BAR0 + 0x3000 for PF and VFs. IDs: vendor 15b3 (Mellanox), PF 1017 / VF 1018 (ConnectX-5).
// Not modelled: sub-functions (SFs), the device's EQ-to-vector mapping, VF BAR sizing, ARI.

import { InputError } from '../errors.js';
import type { Bdf } from '../pci/bdf.js';
import { EXT_CAP_ID } from '../pci/capability-ids.js';
import { findCapability } from '../pci/capability-list.js';
import { setRegisterFields } from '../pci/config-space.js';
import type { ConfigSpaceSpec } from '../pci/config-space-builder.js';
import type { SignalEffect } from '../pci/msix-table.js';
import {
  decodeSriovCapability,
  NUM_VFS,
  SRIOV_CONTROL,
  vfRequesterIds,
} from '../pci/sriov-capability.js';
import { buildEndpoint, type DeviceInterrupt, type Endpoint, endpointRaise } from './endpoint.js';

export const MLX5_VENDOR_ID = 0x15b3;
export const MLX5_CX5_PF_DEVICE_ID = 0x1017;
export const MLX5_CX5_VF_DEVICE_ID = 0x1018;
/** Ethernet controller. */
export const MLX5_CLASS_CODE = 0x020000;
/** SR-IOV: a VF's Vendor ID / Device ID registers read FFFFh. */
export const VF_ID_READS = 0xffff;
/** NumVFs and TotalVFs are 16-bit registers. */
export const MLX5_VFS_MAX = 0xffff;

export interface Mlx5Spec {
  readonly bdf: Bdf;
  readonly numVfs: number;
  /** TotalVFs; numVfs unless given. */
  readonly totalVfs?: number;
  readonly pfMsixEntries?: number;
  readonly vfMsixEntries?: number;
  readonly firstVfOffset?: number;
  readonly vfStride?: number;
}

export interface Mlx5 {
  readonly pf: Endpoint;
  /** VF n is `vfs[n - 1]`. */
  readonly vfs: Endpoint[];
}

const DEFAULTS = { pfMsixEntries: 64, vfMsixEntries: 8, firstVfOffset: 1, vfStride: 1 } as const;
const MSIX_AT = { bar: 0, table: 0x2000, pba: 0x3000 } as const;

const msixCap = (tableSize: number) =>
  ({
    kind: 'msix',
    tableSize,
    tableBir: MSIX_AT.bar,
    tableOffset: MSIX_AT.table,
    pbaBir: MSIX_AT.bar,
    pbaOffset: MSIX_AT.pba,
  }) as const;

function pfSpec(spec: Mlx5Spec, totalVfs: number): ConfigSpaceSpec {
  return {
    vendorId: MLX5_VENDOR_ID,
    deviceId: MLX5_CX5_PF_DEVICE_ID,
    classCode: MLX5_CLASS_CODE,
    bars: [{ index: MSIX_AT.bar, type: 'memory64', prefetchable: true, address: 0 }],
    capabilities: [
      { kind: 'pcie', devicePortType: 'endpoint', functionLevelReset: true },
      msixCap(spec.pfMsixEntries ?? DEFAULTS.pfMsixEntries),
      {
        kind: 'sriov',
        totalVfs,
        firstVfOffset: spec.firstVfOffset ?? DEFAULTS.firstVfOffset,
        vfStride: spec.vfStride ?? DEFAULTS.vfStride,
        vfDeviceId: MLX5_CX5_VF_DEVICE_ID,
      },
    ],
  };
}

function vfSpec(spec: Mlx5Spec): ConfigSpaceSpec {
  return {
    vendorId: VF_ID_READS,
    deviceId: VF_ID_READS,
    classCode: MLX5_CLASS_CODE,
    capabilities: [
      { kind: 'pcie', devicePortType: 'endpoint', functionLevelReset: true },
      msixCap(spec.vfMsixEntries ?? DEFAULTS.vfMsixEntries),
    ],
  };
}

export function newMlx5(spec: Mlx5Spec): Mlx5 {
  const totalVfs = spec.totalVfs ?? spec.numVfs;
  if (!Number.isInteger(totalVfs) || totalVfs < 0 || totalVfs > MLX5_VFS_MAX) {
    throw new InputError('mlx5 totalVfs', `${totalVfs} is not 0..${MLX5_VFS_MAX}`);
  }
  if (!Number.isInteger(spec.numVfs) || spec.numVfs < 0 || spec.numVfs > totalVfs) {
    throw new InputError('mlx5 numVfs', `${spec.numVfs} is not 0..TotalVFs (${totalVfs})`);
  }
  const pf = buildEndpoint(spec.bdf, pfSpec(spec, totalVfs));
  const sriov = findCapability(pf.config, EXT_CAP_ID.sriov, { extended: true });
  if (sriov === undefined) throw new InputError('mlx5', 'PF has no SR-IOV capability');
  setRegisterFields(pf.config, sriov.offset, NUM_VFS, { numVfs: spec.numVfs });
  setRegisterFields(pf.config, sriov.offset, SRIOV_CONTROL, { vfEnable: 1, vfMse: 1 });
  const ids = vfRequesterIds(spec.bdf, decodeSriovCapability(pf.config, sriov.offset));
  const vfs = ids.map((vf) => buildEndpoint(vf.bdf, vfSpec(spec), vf.requesterId));
  return { pf, vfs };
}

/** Function `fn` ('pf' or VF number, 1-based) signals `irq`. */
export function mlx5Raise(dev: Mlx5, fn: 'pf' | number, irq: DeviceInterrupt): SignalEffect {
  return endpointRaise(mlx5Function(dev, fn), irq);
}

export function mlx5Function(dev: Mlx5, fn: 'pf' | number): Endpoint {
  if (fn === 'pf') return dev.pf;
  if (!Number.isInteger(fn) || fn < 1 || fn > dev.vfs.length) {
    throw new InputError(`mlx5 VF ${fn}`, `VFs are 1..${dev.vfs.length}`);
  }
  return dev.vfs[fn - 1];
}
