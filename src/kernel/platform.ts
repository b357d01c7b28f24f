// What the kernel touches outside itself, and the record of every touch. The kernel programs
// hardware only through `KernelPlatform`, supplied by whoever runs it: bare metal (the hw models
// directly), the hypervisor (which traps some of these accesses and counts exits for them), or
// `memoryPlatform()` below for a kernel run on its own. Every access is also appended to the
// kernel's `accessLog` as data (`HwAccess`), tagged with the kernel operation that made it, so the
// `emulate` strategy's exit counts follow from what current Linux writes: "mask-all at MSI-X
// enable, three dword writes and a read-back per entry, an unmask at request_irq".
// Invariant: the kernel never reads or writes device state except through `hwCfgRead` &c. here.
// Not modelled: config accesses made during enumeration (capability walks, BAR sizing): the
// kernel is given the capability offsets (`PciFunctionSpec`) as Linux has them after probe.

import { encode } from '../hw/bits.js';
import { MSIX_ENTRY_SIZE } from '../hw/pci/msix-capability.js';
import { MSIX_ENTRY_DWORD, MSIX_TABLE_ENTRY } from '../hw/pci/msix-table.js';
import { encodeIecDescriptor } from '../hw/vtd/interrupt-entry-cache.js';
import { encodeWaitDescriptor } from '../hw/vtd/invalidation-wait.js';
import { composeRemappableMsi } from '../hw/x86/msi-message.js';
import type { KernelState } from './kernel-state.js';
import type { CpuId, Vector } from './types.js';

export type MmioRegion = 'msix-table' | 'msix-pba' | 'ims';
export type CfgSize = 1 | 2 | 4;

export type HwAccess =
  | { kind: 'cfg-read'; op: string; bdf: string; offset: number; size: CfgSize; value: number }
  | { kind: 'cfg-write'; op: string; bdf: string; offset: number; size: CfgSize; value: number }
  | {
      kind: 'mmio-read';
      op: string;
      bdf: string;
      region: MmioRegion;
      offset: number;
      value: number;
    }
  | {
      kind: 'mmio-write';
      op: string;
      bdf: string;
      region: MmioRegion;
      offset: number;
      value: number;
    }
  | { kind: 'irte-write'; op: string; unit: string; index: number; dwords: number[] }
  | {
      kind: 'iec-invalidate';
      op: string;
      unit: string;
      index: number;
      count: number;
      /** The queued-invalidation descriptors, 4 dwords each, in queue order (`qiFlushIec`). */
      descriptors: number[][];
    }
  | { kind: 'ioapic-rte-write'; op: string; pin: number; rte: IoapicRte }
  | { kind: 'hypercall'; op: string; call: string; bdf: string; args: number[]; result: number[] }
  | { kind: 'ipi'; op: string; cpu: CpuId; vector: Vector };

/** The fields of an IOAPIC redirection table entry the kernel programs (82093AA datasheet,
 *  3.2.4). Recorded decoded: no layer of irqlab models the IOAPIC's registers yet. */
export interface IoapicRte {
  readonly vector: number;
  readonly destination: number;
  readonly destinationMode: 'physical' | 'logical';
  readonly trigger: 'edge' | 'level';
  readonly masked: boolean;
  /** Remappable format (VT-d 5.1.5.1): the IRTE index replaces the destination. */
  readonly irteIndex?: number;
}

/** A hypercall the guest-hypercall platform answers with a host-valid address/data pair. */
export interface MsiHypercall {
  readonly bdf: string;
  readonly index: number;
  readonly vector: number;
  readonly destApicId: number;
}

/** The address/data pair a hypercall returns (host-valid: it names a host IRTE). */
export interface MsiPair {
  readonly addrLo: number;
  readonly addrHi: number;
  readonly data: number;
}

export interface KernelPlatform {
  cfgRead(bdf: string, offset: number, size: CfgSize): number;
  cfgWrite(bdf: string, offset: number, size: CfgSize, value: number): void;
  /** A dword access at byte `offset` of the device's MSI-X table, PBA or IMS. */
  mmioRead(bdf: string, region: MmioRegion, offset: number): number;
  mmioWrite(bdf: string, region: MmioRegion, offset: number, value: number): void;
  /** The remapping unit's table: one 128-bit IRTE as four dwords, then an IEC invalidation. */
  irteWrite?(unit: string, index: number, dwords: readonly number[]): void;
  iecInvalidate?(unit: string, index: number, count: number): void;
  ioapicWrite?(pin: number, rte: IoapicRte): void;
  /** guest-hypercall: the host composes the pair the device must send. */
  hypercallComposeMsi?(req: MsiHypercall): MsiPair;
  /** guest-hypercall: the irq behind entry (`bdf`, `index`) is freed; the host releases the
   *  host IRTE (and entry) its pair names (the pv ABI's RELEASE). Absent: the host reclaims only
   *  when the function is disabled or unplugged. */
  hypercallRelease?(req: { readonly bdf: string; readonly index: number }): void;
  /** guest-hypercall with batching (`pv-batch`): one hypercall composes up to `max` pairs, in
   *  request order. Absent: the kernel composes one pair per hypercall. */
  readonly hypercallBatch?: {
    readonly max: number;
    composeMsi(reqs: readonly MsiHypercall[]): MsiPair[];
  };
  /** Is `vector` pending in the IRR of `cpu`'s local APIC (`lapic_vector_set_in_irr`)? */
  lapicIrrTest?(cpu: CpuId, vector: Vector): boolean;
  /** A self/other IPI on `vector` (retrigger of an interrupt, `apic_retrigger_irq`). */
  sendIpi?(cpu: CpuId, vector: Vector): void;
}

const log = (k: KernelState, access: HwAccess) => {
  k.accessLog.push(access);
};

export function hwCfgRead(
  k: KernelState,
  p: KernelPlatform,
  bdf: string,
  offset: number,
  size: CfgSize,
): number {
  const value = p.cfgRead(bdf, offset, size);
  log(k, { kind: 'cfg-read', op: k.currentOp, bdf, offset, size, value });
  return value;
}

export function hwCfgWrite(
  k: KernelState,
  p: KernelPlatform,
  bdf: string,
  offset: number,
  size: CfgSize,
  value: number,
): void {
  log(k, { kind: 'cfg-write', op: k.currentOp, bdf, offset, size, value });
  p.cfgWrite(bdf, offset, size, value);
}

export function hwMmioRead(
  k: KernelState,
  p: KernelPlatform,
  bdf: string,
  region: MmioRegion,
  offset: number,
): number {
  const value = p.mmioRead(bdf, region, offset);
  log(k, { kind: 'mmio-read', op: k.currentOp, bdf, region, offset, value });
  return value;
}

export function hwMmioWrite(
  k: KernelState,
  p: KernelPlatform,
  bdf: string,
  region: MmioRegion,
  offset: number,
  value: number,
): void {
  log(k, { kind: 'mmio-write', op: k.currentOp, bdf, region, offset, value: value >>> 0 });
  p.mmioWrite(bdf, region, offset, value >>> 0);
}

export function hwIrteWrite(
  k: KernelState,
  p: KernelPlatform,
  unit: string,
  index: number,
  dwords: readonly number[],
): void {
  log(k, { kind: 'irte-write', op: k.currentOp, unit, index, dwords: [...dwords] });
  p.irteWrite?.(unit, index, dwords);
  log(k, {
    kind: 'iec-invalidate',
    op: k.currentOp,
    unit,
    index,
    count: 1,
    descriptors: qiFlushIec(index, 1),
  });
  p.iecInvalidate?.(unit, index, 1);
}

/** `qi_flush_iec(iommu, index, mask)` through `qi_submit_sync`: an index-selective IEC
 *  invalidation of the 2^mask entries from `index`, then the wait descriptor. */
function qiFlushIec(index: number, count: number): number[][] {
  const indexMask = Math.log2(count);
  return [encodeIecDescriptor({ granularity: 'index', index, indexMask }), encodeWaitDescriptor()];
}

export function hwIoapicWrite(k: KernelState, p: KernelPlatform, pin: number, rte: IoapicRte) {
  log(k, { kind: 'ioapic-rte-write', op: k.currentOp, pin, rte });
  p.ioapicWrite?.(pin, rte);
}

export function hwSendIpi(k: KernelState, p: KernelPlatform, cpu: CpuId, vector: Vector): void {
  log(k, { kind: 'ipi', op: k.currentOp, cpu, vector });
  p.sendIpi?.(cpu, vector);
}

/** Runs `body` with `op` as the label of every access it makes (nested labels keep the outer
 *  one: an access belongs to the API call the driver made). */
export function withOp<T>(k: KernelState, op: string, body: () => T): T {
  if (k.currentOp !== '') return body();
  k.currentOp = op;
  try {
    return body();
  } finally {
    k.currentOp = '';
  }
}

/** Device memory for a kernel run on its own: config space bytes and region dwords per BDF,
 *  plain data, readable back by tests (`mem.cfg`, `mem.regions`). Writes land as written; the
 *  devices' own rules (read-only fields, pending bits) are the hw models' job, not this one. */
export interface MemoryPlatform extends KernelPlatform {
  readonly cfg: Record<string, number[]>;
  readonly regions: Record<string, Record<MmioRegion, Record<number, number>>>;
  readonly irtes: Record<string, Record<number, number[]>>;
  readonly rtes: Record<number, IoapicRte>;
}

/** First host IRTE handle `memoryPlatform`'s stand-in hypercall hands out. */
export const HOST_HANDLE_BASE = 0x1000;

/** `configSpaces`: the initial config space bytes of each function (its capabilities are what the
 *  kernel reads Message Control from). MSI-X and IMS entries read as reset: Mask Bit set. */
export function memoryPlatform(
  configSpaces: Record<string, ArrayLike<number>> = {},
): MemoryPlatform {
  const cfg: Record<string, number[]> = {};
  for (const [bdf, bytes] of Object.entries(configSpaces)) {
    cfg[bdf] = Array.from({ length: 4096 }, (_, i) => (i < bytes.length ? bytes[i] : 0));
  }
  const regions: MemoryPlatform['regions'] = {};
  const irtes: MemoryPlatform['irtes'] = {};
  const rtes: Record<number, IoapicRte> = {};
  const handles: Record<string, number> = {};
  const space = (bdf: string) => {
    cfg[bdf] ??= new Array<number>(4096).fill(0);
    return cfg[bdf];
  };
  const region = (bdf: string, r: MmioRegion) => {
    regions[bdf] ??= { 'msix-table': {}, 'msix-pba': {}, ims: {} };
    return regions[bdf][r];
  };
  return {
    cfg,
    regions,
    irtes,
    rtes,
    cfgRead(bdf, offset, size) {
      const bytes = space(bdf);
      let value = 0;
      for (let i = size - 1; i >= 0; i--) value = value * 256 + bytes[offset + i];
      return value;
    },
    cfgWrite(bdf, offset, size, value) {
      const bytes = space(bdf);
      let v = value >>> 0;
      for (let i = 0; i < size; i++) {
        bytes[offset + i] = v % 256;
        v = Math.floor(v / 256);
      }
    },
    mmioRead(bdf, r, offset) {
      return region(bdf, r)[offset] ?? resetValue(r, offset);
    },
    mmioWrite(bdf, r, offset, value) {
      region(bdf, r)[offset] = value >>> 0;
    },
    irteWrite(unit, index, dwords) {
      irtes[unit] ??= {};
      irtes[unit][index] = [...dwords];
    },
    iecInvalidate() {},
    ioapicWrite(pin, rte) {
      rtes[pin] = rte;
    },
    hypercallComposeMsi(req) {
      // A stand-in host: one remappable handle per (function, index), from HOST_HANDLE_BASE.
      const key = `${req.bdf}#${req.index}`;
      handles[key] ??= HOST_HANDLE_BASE + Object.keys(handles).length;
      return composeRemappableMsi({ handle: handles[key], shv: 1, subhandle: 0, dontCare: 0 });
    },
  };
}

/** PCIe 7.7.2.8 (and the IMS entry, by analogy): Vector Control leaves reset with the Mask Bit
 *  set; every other dword reads 0. */
function resetValue(region: MmioRegion, offset: number): number {
  const dword = (offset % MSIX_ENTRY_SIZE) / 4;
  if (region === 'msix-pba' || dword !== MSIX_ENTRY_DWORD.vectorControl) return 0;
  return encode(MSIX_TABLE_ENTRY, { mask: 1 })[MSIX_ENTRY_DWORD.vectorControl];
}
