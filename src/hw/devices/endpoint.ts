// A generic PCI Express endpoint function with MSI and/or MSI-X, device side: its config space
// (built by `buildConfigSpace` or read from a recorded dump), its MSI state and its MSI-X table
// and PBA in a BAR. This is the building block of the model devices (`idxd.ts`, `mlx5.ts` PF and
// VFs) and what a scenario's plain device is.
//
// What it adds to the parts it is made of:
//  - routing: a software config write goes through `configWrite` (register attributes), then the
//    device reacts to what changed (MSI Mask Bits / MSI Enable, MSI-X Message Control), which may
//    send pending messages; a BAR access goes to the MSI-X table or PBA if it falls in them;
//  - a raise names the interrupt the device means (`msi` vector n, `msix` entry n) and returns
//    the outcome as data: an `MsiTransaction` to hand to remapping, or pending / dropped.
// Invariants: MSI-X Enable and Function Mask are read from config space at each use (no copy);
// the MSI-X table has the Table Size of the capability; the function's requester ID is the one
// given at creation (its BDF; a VF's comes from the PF's SR-IOV capability).
// Not modelled: INTx; MSI and MSI-X both enabled (the spec forbids software to do it; a raise uses
// whichever the device is asked to use); BAR decoding of CPU addresses (accesses are by BAR index
// and offset, as a hypervisor's trap handler sees them); other MMIO registers of the function.

import { InputError } from '../errors.js';
import { type Bdf, formatBdf, type RequesterId, requesterIdOf } from '../pci/bdf.js';
import { CAP_ID } from '../pci/capability-ids.js';
import { findCapability } from '../pci/capability-list.js';
import type { ConfigSpace } from '../pci/config-space.js';
import { buildConfigSpace, type ConfigSpaceSpec } from '../pci/config-space-builder.js';
import { type ConfigWriteResult, configWrite } from '../pci/config-write.js';
import {
  type MsiFunction,
  msiConfigWritten,
  msiRaise,
  newMsiFunction,
} from '../pci/msi-function.js';
import {
  decodeMsixCapability,
  MSIX_ENTRY_SIZE,
  msixCapabilityForUse,
} from '../pci/msix-capability.js';
import { type AccessSize, type AccessStatus, msixPbaRead, msixPbaWrite } from '../pci/msix-pba.js';
import {
  type MsixControl,
  type MsixTable,
  msixControlWritten,
  msixRaise,
  msixTableRead,
  msixTableWrite,
  newMsixTable,
  type SignalEffect,
} from '../pci/msix-table.js';

/** Where the MSI-X table and PBA are, as the capability says. */
export interface MsixLayout {
  readonly capOffset: number;
  readonly tableBar: number;
  readonly tableOffset: number;
  readonly tableBytes: number;
  readonly pbaBar: number;
  readonly pbaOffset: number;
  readonly pbaBytes: number;
}

export interface Endpoint {
  readonly bdf: Bdf;
  readonly requesterId: RequesterId;
  readonly config: ConfigSpace;
  /** Present if the function has an MSI capability. */
  readonly msi: MsiFunction | undefined;
  /** Present if the function has an MSI-X capability. */
  readonly msix: MsixTable | undefined;
  readonly msixLayout: MsixLayout | undefined;
}

/** An interrupt the device means to signal. (`ims` is handled by devices that have an IMS.) */
export type DeviceInterrupt =
  | { readonly kind: 'msi'; readonly vector: number }
  | { readonly kind: 'msix'; readonly entry: number }
  | { readonly kind: 'ims'; readonly entry: number };

/** A BAR access that no structure of the function claims reads 0 and is otherwise ignored. */
export type BarAccessStatus = AccessStatus | 'unclaimed';

export interface BarRead {
  readonly status: BarAccessStatus;
  readonly value: number;
  readonly valueHigh: number;
}

export interface BarWrite {
  readonly status: BarAccessStatus;
  readonly effects: SignalEffect[];
}

const where = (bdf: Bdf) => formatBdf(bdf, { withSegment: true });

/** The endpoint of an existing config space (built, or a recorded dump). */
export function newEndpoint(bdf: Bdf, config: ConfigSpace, rid?: RequesterId): Endpoint {
  const requesterId = rid ?? requesterIdOf(bdf);
  const msiCap = findCapability(config, CAP_ID.msi, { extended: false }, where(bdf));
  const msixCap = findCapability(config, CAP_ID.msix, { extended: false }, where(bdf));
  let msix: MsixTable | undefined;
  let msixLayout: MsixLayout | undefined;
  if (msixCap !== undefined) {
    const cap = msixCapabilityForUse(config, msixCap.offset, where(bdf));
    msix = newMsixTable(cap.tableSize, requesterId);
    msixLayout = {
      capOffset: msixCap.offset,
      tableBar: cap.tableBir,
      tableOffset: cap.tableOffset,
      tableBytes: cap.tableSize * MSIX_ENTRY_SIZE,
      pbaBar: cap.pbaBir,
      pbaOffset: cap.pbaOffset,
      pbaBytes: msix.pba.length * 4,
    };
  }
  return {
    bdf,
    requesterId,
    config,
    msi: msiCap === undefined ? undefined : newMsiFunction(requesterId, msiCap.offset),
    msix,
    msixLayout,
  };
}

/** Builds the config space from `spec` and the endpoint over it. */
export const buildEndpoint = (bdf: Bdf, spec: ConfigSpaceSpec, rid?: RequesterId): Endpoint =>
  newEndpoint(bdf, buildConfigSpace(spec), rid);

/** MSI-X Enable and Function Mask as config space holds them now. */
export function endpointMsixControl(dev: Endpoint): MsixControl {
  const layout = requireMsix(dev).layout;
  const cap = decodeMsixCapability(dev.config, layout.capOffset);
  return { enable: cap.msixEnable, functionMask: cap.functionMask };
}

function requireMsix(dev: Endpoint): { table: MsixTable; layout: MsixLayout } {
  if (dev.msix === undefined || dev.msixLayout === undefined) {
    throw new InputError(where(dev.bdf), 'the function has no MSI-X capability');
  }
  return { table: dev.msix, layout: dev.msixLayout };
}

function requireMsi(dev: Endpoint): MsiFunction {
  if (dev.msi === undefined) {
    throw new InputError(where(dev.bdf), 'the function has no MSI capability');
  }
  return dev.msi;
}

/** The device signals `irq`. IMS is not a property of a plain endpoint (see `idxd.ts`). */
export function endpointRaise(dev: Endpoint, irq: DeviceInterrupt): SignalEffect {
  switch (irq.kind) {
    case 'msi':
      return msiRaise(requireMsi(dev), dev.config, irq.vector);
    case 'msix':
      return msixRaise(requireMsix(dev).table, endpointMsixControl(dev), irq.entry);
    case 'ims':
      throw new InputError(where(dev.bdf), 'a plain endpoint has no IMS');
  }
}

/**
 * Software writes config space. The write follows the registers' attributes; then the function
 * reacts: a write to its MSI capability may unmask a pending vector, a write to MSI-X Message
 * Control may unmask the function. Returns what changed and any messages that went out.
 */
export function endpointConfigWrite(
  dev: Endpoint,
  offset: number,
  size: 1 | 2 | 4,
  value: number,
): { write: ConfigWriteResult; effects: SignalEffect[] } {
  const write = configWrite(dev.config, offset, size, value, where(dev.bdf));
  const effects: SignalEffect[] = [];
  const touched = (structure: string) => write.registers.some((r) => r.structure === structure);
  if (dev.msi !== undefined && touched('msi'))
    effects.push(...msiConfigWritten(dev.msi, dev.config));
  if (dev.msix !== undefined && touched('msix')) {
    effects.push(...msixControlWritten(dev.msix, endpointMsixControl(dev)));
  }
  return { write, effects };
}

const inside = (offset: number, start: number, bytes: number) =>
  offset >= start && offset < start + bytes;

/** Software reads `size` bytes at `offset` into BAR `bar`. */
export function endpointBarRead(
  dev: Endpoint,
  bar: number,
  offset: number,
  size: AccessSize = 4,
): BarRead {
  const l = dev.msixLayout;
  if (dev.msix !== undefined && l !== undefined) {
    if (bar === l.tableBar && inside(offset, l.tableOffset, l.tableBytes)) {
      return msixTableRead(dev.msix, offset - l.tableOffset, size);
    }
    if (bar === l.pbaBar && inside(offset, l.pbaOffset, l.pbaBytes)) {
      return msixPbaRead(dev.msix.pba, offset - l.pbaOffset, size);
    }
  }
  return { status: 'unclaimed', value: 0, valueHigh: 0 };
}

/** Software writes BAR `bar` at `offset` (a QWORD: `value` bits 31:0, `valueHigh` 63:32). */
export function endpointBarWrite(
  dev: Endpoint,
  bar: number,
  offset: number,
  value: number,
  opts: { size: AccessSize; valueHigh?: number } = { size: 4 },
): BarWrite {
  const l = dev.msixLayout;
  if (dev.msix !== undefined && l !== undefined) {
    if (bar === l.tableBar && inside(offset, l.tableOffset, l.tableBytes)) {
      return msixTableWrite(
        dev.msix,
        endpointMsixControl(dev),
        offset - l.tableOffset,
        value,
        opts,
      );
    }
    if (bar === l.pbaBar && inside(offset, l.pbaOffset, l.pbaBytes)) {
      return { status: msixPbaWrite(dev.msix.pba, offset - l.pbaOffset, opts.size), effects: [] };
    }
  }
  return { status: 'unclaimed', effects: [] };
}
