// An Intel DSA-like device (Linux drivers/dma/idxd; Intel Data Streaming Accelerator Architecture
// Specification): one PCI function with MSI-X (entry 0 for misc/errors, entry n+1 for the
// completions of work queue n, as Linux idxd uses them) and an Interrupt Message Store, both usable
// at once; a PASID capability; BAR0 holding the capability registers, the MSI-X table and PBA and
// the IMS.
// Register layouts are Linux's drivers/dma/idxd/registers.h unions (`gen_cap_reg`, `wq_cap_reg`,
// `group_cap_reg`, `engine_cap_reg`, `offsets_reg`) at their IDXD_*_OFFSET. GENCAP bits 39:32 are
// reserved in mainline and named `max_descs_per_engine` in the out-of-tree intel/idxd-driver tree;
// a Sapphire Rapids DSA reports GENCAP 0x40915f0107, so they are not zero on real hardware.
// Invariants: the IMS has GENCAP.max_ims_mult * 256 entries (0: no IMS) and sits at
// OFFSETS.ims * IDXD_TABLE_MULT (0x100) in BAR0; every message the device sends, MSI-X or IMS,
// carries the PF's requester ID: the subdevices an IMS entry serves share it (no per-subdevice
// source-id: this is what limits IRTE source validation for them).
// Defaults (perf-anchors.md L5, an SPR DSA): GENCAP 0x40915f0107 (2048 IMS entries), 8 WQs,
// total WQ size 128, 4 groups, 4 engines; MSI-X Table Size 1 + WQs = 9.
// The BAR0 placement of the tables (MSI-X table 0x2000, PBA 0x3000, IMS 0x8000, GRPCFG 0x400,
// WQCFG 0x500, MSIXPERM 0x300) is irqlab's choice, read back through OFFSETS like Linux does.
// SPR places the DSA as a Root Complex Integrated Endpoint (e.g. 6a:01.0), so its PCI Express
// capability has no Link registers.
// Not modelled: commands (CMD/CMDSTS: Request Interrupt Handle etc.), WQ configuration and
// descriptors, MSIXPERM/GRPCFG/WQCFG contents, the portals in BAR2, event log, perfmon.

import { type Decoded, decode, defineLayout, dwordsFromBigInt } from '../bits.js';
import { InputError } from '../errors.js';
import {
  type ImsStore,
  imsEntriesFromMult,
  imsRaise,
  imsRead,
  imsWrite,
  newImsStore,
} from '../ims/ims-store.js';
import type { Bdf } from '../pci/bdf.js';
import { type AccessSize, mmioAccessStatus } from '../pci/msix-pba.js';
import type { SignalEffect } from '../pci/msix-table.js';
import {
  type BarRead,
  type BarWrite,
  buildEndpoint,
  type DeviceInterrupt,
  type Endpoint,
  endpointBarRead,
  endpointBarWrite,
  endpointRaise,
} from './endpoint.js';

export const IDXD_VENDOR_ID = 0x8086;
/** PCI_DEVICE_ID_INTEL_DSA_SPR0 (registers.h of the idxd driver). */
export const IDXD_DSA_SPR_DEVICE_ID = 0x0b25;
/** Base class 08h (system peripheral), sub-class 80h (other). */
export const IDXD_CLASS_CODE = 0x088000;
/** IDXD_MMIO_BAR. */
export const IDXD_MMIO_BAR = 0;
/** IDXD_TABLE_MULT: OFFSETS fields count in units of 0x100 bytes. */
export const IDXD_TABLE_MULT = 0x100;
/** MSI-X entry 0 signals misc events/errors; WQ n completes on entry n + 1 (Linux idxd). */
export const IDXD_MISC_MSIX_ENTRY = 0;
/** Bytes of BAR0 register space modelled as plain registers (capabilities through IAACAP). */
export const IDXD_REGISTER_BYTES = 0x200;
export const IDXD_WQS_MAX = 255;

/** Byte offsets in BAR0 (registers.h IDXD_*_OFFSET). */
export const IDXD_REG = {
  version: 0x00,
  gencap: 0x10,
  wqcap: 0x20,
  grpcap: 0x30,
  engcap: 0x38,
  opcap: 0x40,
  offsets: 0x60,
  gencfg: 0x80,
  genctrl: 0x88,
  gensts: 0x90,
  intcause: 0x98,
  cmd: 0xa0,
  cmdsts: 0xa8,
} as const;

export const IDXD_GENCAP = defineLayout(
  'idxd-gencap',
  64,
  'Linux drivers/dma/idxd/registers.h union gen_cap_reg (IDXD_GENCAP_OFFSET 0x10)',
  {
    blockOnFault: [0, 0, 'block_on_fault'],
    overlapCopy: [1, 1, 'overlap_copy'],
    cacheControlMem: [2, 2, 'cache_control_mem'],
    cacheControlCache: [3, 3, 'cache_control_cache'],
    cmdCap: [4, 4, 'cmd_cap: CMDCAP register present'],
    reserved0: [7, 5, 'rsvd'],
    destReadback: [8, 8, 'dest_readback'],
    drainReadback: [9, 9, 'drain_readback'],
    reserved1: [12, 10, 'rsvd2'],
    evlSupport: [14, 13, 'evl_support: event log'],
    batchContinuation: [15, 15, 'batch_continuation'],
    maxXferShift: [20, 16, 'max_xfer_shift: max transfer = 1 << shift'],
    maxBatchShift: [24, 21, 'max_batch_shift: max batch = 1 << shift'],
    maxImsMult: [30, 25, 'max_ims_mult: IMS entries = mult * 256'],
    configEn: [31, 31, 'config_en: configurable device'],
    maxDescsPerEngine: [39, 32, 'max_descs_per_engine (intel/idxd-driver; rsvd3 in mainline)'],
    reserved2: [63, 40, 'rsvd3'],
  },
  { complete: true },
);

export const IDXD_WQCAP = defineLayout(
  'idxd-wqcap',
  64,
  'Linux drivers/dma/idxd/registers.h union wq_cap_reg (IDXD_WQCAP_OFFSET 0x20)',
  {
    totalWqSize: [15, 0, 'total_wq_size'],
    numWqs: [23, 16, 'num_wqs'],
    wqcfgSize: [27, 24, 'wqcfg_size'],
    reserved0: [47, 28, 'rsvd'],
    sharedMode: [48, 48, 'shared_mode'],
    dedicatedMode: [49, 49, 'dedicated_mode'],
    wqAtsSupport: [50, 50, 'wq_ats_support'],
    priority: [51, 51, 'priority'],
    occupancy: [52, 52, 'occupancy'],
    occupancyInt: [53, 53, 'occupancy_int'],
    opConfig: [54, 54, 'op_config'],
    wqPrsSupport: [55, 55, 'wq_prs_support'],
    reserved1: [63, 56, 'rsvd4'],
  },
  { complete: true },
);

export const IDXD_GRPCAP = defineLayout(
  'idxd-grpcap',
  64,
  'Linux drivers/dma/idxd/registers.h union group_cap_reg (IDXD_GRPCAP_OFFSET 0x30)',
  {
    numGroups: [7, 0, 'num_groups'],
    totalRdbufs: [15, 8, 'total_rdbufs (formerly total_tokens)'],
    rdbufCtrl: [16, 16, 'rdbuf_ctrl'],
    rdbufLimit: [17, 17, 'rdbuf_limit'],
    progressLimit: [18, 18, 'progress_limit'],
    reserved0: [31, 19, 'rsvd'],
    reserved1: [63, 32, 'rsvd'],
  },
  { complete: true },
);

export const IDXD_ENGCAP = defineLayout(
  'idxd-engcap',
  64,
  'Linux drivers/dma/idxd/registers.h union engine_cap_reg (IDXD_ENGCAP_OFFSET 0x38)',
  {
    numEngines: [7, 0, 'num_engines'],
    reserved0: [31, 8, 'rsvd'],
    reserved1: [63, 32, 'rsvd'],
  },
  { complete: true },
);

export const IDXD_OFFSETS = defineLayout(
  'idxd-offsets',
  128,
  'Linux drivers/dma/idxd/registers.h union offsets_reg (IDXD_TABLE_OFFSET 0x60), x 0x100',
  {
    grpcfg: [15, 0, 'GRPCFG table offset / 0x100'],
    wqcfg: [31, 16, 'WQCFG table offset / 0x100'],
    msixPerm: [47, 32, 'MSIXPERM table offset / 0x100'],
    ims: [63, 48, 'IMS offset / 0x100'],
    perfmon: [79, 64, 'perfmon offset / 0x100 (0: none)'],
    reserved0: [95, 80, 'rsvd'],
    reserved1: [127, 96, 'rsvd'],
  },
  { complete: true },
);

export interface IdxdSpec {
  readonly bdf: Bdf;
  /** GENCAP as a 64-bit value; 0x40915f0107n (SPR DSA) unless given. */
  readonly gencap?: bigint;
  readonly numWqs?: number;
  readonly totalWqSize?: number;
  readonly numGroups?: number;
  readonly numEngines?: number;
  /** BAR0 address (0: not yet assigned by firmware). */
  readonly bar0Address?: number;
}

export const IDXD_SPR_GENCAP = 0x40915f0107n;
const DEFAULTS = { numWqs: 8, totalWqSize: 128, numGroups: 4, numEngines: 4 } as const;
const LAYOUT = {
  msixPerm: 0x300,
  grpcfg: 0x400,
  wqcfg: 0x500,
  msixTable: 0x2000,
  msixPba: 0x3000,
  ims: 0x8000,
} as const;
/** 20-bit PASIDs (PCIe PASID capability Max PASID Width). */
const PASID_WIDTH = 20;
/** WQCAP.wqcfg_size encodes the WQCFG stride as 32 << n bytes; 1 = 64 bytes (Linux union wqcfg). */
const WQCFG_SIZE_64_BYTES = 1;

export interface Idxd {
  /** The PCI function: config space, MSI-X table/PBA in BAR0, requester ID. */
  readonly pf: Endpoint;
  /** BAR0 register block 0x000-0x1ff as dwords (GENCAP, WQCAP, OFFSETS, ...). */
  readonly regs: Uint32Array;
  /** Undefined when GENCAP.max_ims_mult is 0. */
  readonly ims: ImsStore | undefined;
  /** Byte offset of the IMS in BAR0, from OFFSETS.ims. */
  readonly imsOffset: number;
  readonly numWqs: number;
}

export const idxdGencap = (dev: Idxd): Decoded<typeof IDXD_GENCAP.fields> =>
  decode(IDXD_GENCAP, dev.regs, IDXD_REG.gencap / 4);

/** IMS entries the device has, from a GENCAP value (Linux: max_ims_mult * 256). */
export function idxdImsEntries(gencap: bigint): number {
  return imsEntriesFromMult(decode(IDXD_GENCAP, dwordsFromBigInt(gencap, 64)).maxImsMult);
}

function checkCount(what: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new InputError(`idxd ${what}`, `${value} is not 1..${max}`);
  }
}

function writeRegisters(regs: Uint32Array, spec: IdxdSpec, numWqs: number): void {
  const put = (offset: number, words: number[]) => regs.set(words, offset / 4);
  put(IDXD_REG.gencap, dwordsFromBigInt(spec.gencap ?? IDXD_SPR_GENCAP, 64));
  put(IDXD_REG.wqcap, [0, 0]);
  const wqcap = IDXD_WQCAP.accessors;
  const at = IDXD_REG.wqcap / 4;
  wqcap.totalWqSize.set(regs, spec.totalWqSize ?? DEFAULTS.totalWqSize, at);
  wqcap.numWqs.set(regs, numWqs, at);
  wqcap.wqcfgSize.set(regs, WQCFG_SIZE_64_BYTES, at);
  wqcap.sharedMode.set(regs, 1, at);
  wqcap.dedicatedMode.set(regs, 1, at);
  IDXD_GRPCAP.accessors.numGroups.set(
    regs,
    spec.numGroups ?? DEFAULTS.numGroups,
    IDXD_REG.grpcap / 4,
  );
  IDXD_ENGCAP.accessors.numEngines.set(
    regs,
    spec.numEngines ?? DEFAULTS.numEngines,
    IDXD_REG.engcap / 4,
  );
  const offsets = IDXD_OFFSETS.accessors;
  const o = IDXD_REG.offsets / 4;
  offsets.grpcfg.set(regs, LAYOUT.grpcfg / IDXD_TABLE_MULT, o);
  offsets.wqcfg.set(regs, LAYOUT.wqcfg / IDXD_TABLE_MULT, o);
  offsets.msixPerm.set(regs, LAYOUT.msixPerm / IDXD_TABLE_MULT, o);
  offsets.ims.set(regs, LAYOUT.ims / IDXD_TABLE_MULT, o);
}

export function newIdxd(spec: IdxdSpec): Idxd {
  const numWqs = spec.numWqs ?? DEFAULTS.numWqs;
  checkCount('numWqs', numWqs, IDXD_WQS_MAX);
  const pf = buildEndpoint(spec.bdf, {
    vendorId: IDXD_VENDOR_ID,
    deviceId: IDXD_DSA_SPR_DEVICE_ID,
    classCode: IDXD_CLASS_CODE,
    bars: [{ index: IDXD_MMIO_BAR, type: 'memory64', address: spec.bar0Address ?? 0 }],
    capabilities: [
      { kind: 'pcie', devicePortType: 'rootComplexIntegratedEndpoint' },
      {
        kind: 'msix',
        tableSize: 1 + numWqs,
        tableBir: IDXD_MMIO_BAR,
        tableOffset: LAYOUT.msixTable,
        pbaBir: IDXD_MMIO_BAR,
        pbaOffset: LAYOUT.msixPba,
      },
      { kind: 'pasid', maxPasidWidth: PASID_WIDTH, privilegedMode: true },
    ],
  });
  const regs = new Uint32Array(IDXD_REGISTER_BYTES / 4);
  writeRegisters(regs, spec, numWqs);
  const imsEntries = imsEntriesFromMult(
    IDXD_GENCAP.accessors.maxImsMult.get(regs, IDXD_REG.gencap / 4),
  );
  const imsOffset = IDXD_OFFSETS.accessors.ims.get(regs, IDXD_REG.offsets / 4) * IDXD_TABLE_MULT;
  return {
    pf,
    regs,
    ims: imsEntries === 0 ? undefined : newImsStore(imsEntries, pf.requesterId),
    imsOffset,
    numWqs,
  };
}

/** MSI-X entry on which work queue `wq` signals completions. */
export function idxdWqMsixEntry(dev: Idxd, wq: number): number {
  if (!Number.isInteger(wq) || wq < 0 || wq >= dev.numWqs) {
    throw new InputError(`idxd WQ ${wq}`, `the device has WQs 0..${dev.numWqs - 1}`);
  }
  return wq + 1;
}

/** The device signals `irq`: MSI-X through the PF's table, IMS through the store. */
export function idxdRaise(dev: Idxd, irq: DeviceInterrupt): SignalEffect {
  if (irq.kind !== 'ims') return endpointRaise(dev.pf, irq);
  if (dev.ims === undefined) throw new InputError('idxd', 'GENCAP.max_ims_mult is 0: no IMS');
  return imsRaise(dev.ims, irq.entry);
}

/** A completion on a host-owned work queue (its MSI-X entry). */
export const idxdWqCompletion = (dev: Idxd, wq: number): SignalEffect =>
  idxdRaise(dev, { kind: 'msix', entry: idxdWqMsixEntry(dev, wq) });

const imsBytes = (dev: Idxd) => (dev.ims === undefined ? 0 : dev.ims.entries * 16);
const inside = (offset: number, start: number, bytes: number) =>
  offset >= start && offset < start + bytes;

/** Software reads BAR0 at `offset`: the register block, the MSI-X table/PBA or the IMS. */
export function idxdMmioRead(dev: Idxd, offset: number, size: AccessSize = 4): BarRead {
  if (dev.ims !== undefined && inside(offset, dev.imsOffset, imsBytes(dev))) {
    return imsRead(dev.ims, offset - dev.imsOffset, size);
  }
  if (inside(offset, 0, IDXD_REGISTER_BYTES)) {
    const status = mmioAccessStatus(offset, size, IDXD_REGISTER_BYTES);
    if (status !== 'ok') return { status, value: 0, valueHigh: 0 };
    const dword = offset / 4;
    return { status, value: dev.regs[dword], valueHigh: size === 8 ? dev.regs[dword + 1] : 0 };
  }
  return endpointBarRead(dev.pf, IDXD_MMIO_BAR, offset, size);
}

/** Software writes BAR0. The capability registers are read-only and the command registers are
 *  not modelled: such writes are `unclaimed`. IMS and MSI-X writes take effect. */
export function idxdMmioWrite(
  dev: Idxd,
  offset: number,
  value: number,
  opts: { size: AccessSize; valueHigh?: number } = { size: 4 },
): BarWrite {
  if (dev.ims !== undefined && inside(offset, dev.imsOffset, imsBytes(dev))) {
    return imsWrite(dev.ims, offset - dev.imsOffset, value, opts);
  }
  if (inside(offset, 0, IDXD_REGISTER_BYTES)) return { status: 'unclaimed', effects: [] };
  return endpointBarWrite(dev.pf, IDXD_MMIO_BAR, offset, value, opts);
}
