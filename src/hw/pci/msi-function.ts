// MSI, device side: what a function does with its MSI capability's registers when it signals
// (PCI Express Base Spec 6.0, 6.1.4 "MSI and MSI-X Operation" and 7.7.1 "MSI Capability
// Structures"; register layouts and offsets are in `msi-capability.ts`).
//
// The registers live in config space (`ConfigSpace` bytes); this file reads them at the moment of
// each raise, and writes only the one register the function itself owns, Pending Bits.
// Rules:
//  - MSI Enable clear: the function may not send MSI; the raise is dropped and counted;
//  - Multiple Message Enable (MME) = log2 of the vectors allocated: "the number of low order
//    message data bits the function is permitted to modify to generate its system software
//    allocated vectors". Vector n is sent with those low bits of Message Data replaced by n;
//    a vector at or above the allocation is not the function's to use (RuleError);
//  - with Per-Vector Masking, a raise on a masked vector sets its Pending Bit and sends nothing (a
//    raise while it is set coalesces); when the vector becomes deliverable again (Mask Bit
//    cleared, MSI enabled) the function sends the CURRENT address/data once and clears the bit;
//  - without Per-Vector Masking nothing can hold a message back: every raise with MSI enabled is
//    sent with whatever address/data the registers hold at that moment, including halfway through
//    software's update of them (the x86 affinity-change race that MSI-X masking avoids);
//  - Extended Message Data Enable set: the upper 16 bits of the DWORD sent are Extended Message
//    Data (7.7.1.6); clear: they are 0.
// Counters: raised === sent + coalesced + (Pending Bits set), over raises with MSI enabled.
// Not modelled: Bus Master Enable gating, INTx when MSI is disabled, a function that folds
// events onto fewer vectors than it asked for (a device policy, chosen in `devices/`).

import { bitmapClear, bitmapCount, bitmapSet, bitmapTest } from '../bitmap.js';
import { InputError, RuleError } from '../errors.js';
import type { RequesterId } from './bdf.js';
import { type ConfigSpace, setConfig } from './config-space.js';
import {
  decodeMsiCapability,
  MSI_VECTORS_MAX,
  type MsiCapability,
  msiRegisterOffsets,
} from './msi-capability.js';
import type { MsiTransaction } from './msi-transaction.js';
import { newSignalCounters, type SignalCounters, type SignalEffect } from './msix-table.js';

/** The device-side state of one function's MSI: where its capability is, and counters. */
export interface MsiFunction {
  readonly requesterId: RequesterId;
  /** Config-space offset of the MSI capability (its pointer). */
  readonly capOffset: number;
  readonly counters: SignalCounters;
}

export const newMsiFunction = (requesterId: RequesterId, capOffset: number): MsiFunction => ({
  requesterId,
  capOffset,
  counters: newSignalCounters(),
});

const EXTENDED_DATA_UNIT = 0x10000;

/** Message Data for vector `vector` of `allocated` (a power of two): the low log2(allocated)
 *  bits of `messageData` replaced by the vector number. */
export function msiVectorData(messageData: number, allocated: number, vector: number): number {
  if (!Number.isInteger(vector) || vector < 0 || vector >= allocated) {
    throw new InputError(`MSI vector ${vector}`, `only ${allocated} allocated`);
  }
  return messageData - (messageData % allocated) + vector;
}

function checkVector(fn: MsiFunction, cap: MsiCapability, vector: number): void {
  if (!Number.isInteger(vector) || vector < 0 || vector >= MSI_VECTORS_MAX) {
    throw new InputError(`MSI vector ${vector}`, `MSI has vectors 0..${MSI_VECTORS_MAX - 1}`);
  }
  if (vector >= cap.multipleMessageCapable) {
    throw new InputError(
      `MSI vector ${vector}`,
      `function ${fn.requesterId} is capable of ${cap.multipleMessageCapable} vector(s)`,
    );
  }
}

const bitsOf = (value: number | undefined) => [value ?? 0];

export function msiVectorMasked(cap: MsiCapability, vector: number): boolean {
  return cap.maskBits !== undefined && bitmapTest(bitsOf(cap.maskBits), vector);
}

export function msiVectorPending(cap: MsiCapability, vector: number): boolean {
  return cap.pendingBits !== undefined && bitmapTest(bitsOf(cap.pendingBits), vector);
}

/** The message vector `vector` would carry now. */
export function msiTransaction(
  fn: MsiFunction,
  cap: MsiCapability,
  vector: number,
): MsiTransaction {
  const low = msiVectorData(cap.messageData, cap.multipleMessageEnable, vector);
  const high = cap.extendedMessageDataEnable ? cap.extendedMessageData : 0;
  return {
    addrLo: cap.messageAddress,
    addrHi: cap.is64Bit ? cap.messageUpperAddress : 0,
    data: high * EXTENDED_DATA_UNIT + low,
    requesterId: fn.requesterId,
  };
}

function writePendingBits(space: ConfigSpace, fn: MsiFunction, cap: MsiCapability, bits: number) {
  const at = msiRegisterOffsets(cap.is64Bit, cap.perVectorMasking).pendingBits;
  if (at === undefined) throw new InputError('MSI', 'no Pending Bits without Per-Vector Masking');
  setConfig(space, fn.capOffset + at, 4, bits >>> 0);
}

function send(fn: MsiFunction, cap: MsiCapability, vector: number): SignalEffect {
  fn.counters.sent++;
  return { kind: 'msi-write', source: 'msi', index: vector, tx: msiTransaction(fn, cap, vector) };
}

/** The function signals MSI vector `vector` (0-based, below the allocated count). */
export function msiRaise(fn: MsiFunction, space: ConfigSpace, vector: number): SignalEffect {
  const cap = decodeMsiCapability(space, fn.capOffset);
  checkVector(fn, cap, vector);
  if (!cap.msiEnable) {
    fn.counters.dropped++;
    return { kind: 'dropped', source: 'msi', index: vector, reason: 'msi-disabled' };
  }
  if (vector >= cap.multipleMessageEnable) {
    throw new RuleError(
      'msi-vector-allocated',
      `MSI vector ${vector} of function ${fn.requesterId}`,
      `Multiple Message Enable allocates ${cap.multipleMessageEnable} vector(s)`,
    );
  }
  fn.counters.raised++;
  if (!msiVectorMasked(cap, vector)) return send(fn, cap, vector);
  if (msiVectorPending(cap, vector)) {
    fn.counters.coalesced++;
    return { kind: 'coalesced', source: 'msi', index: vector };
  }
  const pending = bitsOf(cap.pendingBits);
  bitmapSet(pending, vector);
  writePendingBits(space, fn, cap, pending[0]);
  return { kind: 'set-pending', source: 'msi', index: vector };
}

/**
 * Software wrote the MSI capability (Mask Bits, MSI Enable, address/data...). Every vector whose
 * Pending Bit is set and that is now deliverable (MSI enabled, vector unmasked) is sent once with
 * the current address/data, lowest vector first, and its bit cleared. A bit is only ever set while
 * its vector is not deliverable, so no old register value is needed.
 */
export function msiConfigWritten(fn: MsiFunction, space: ConfigSpace): SignalEffect[] {
  const cap = decodeMsiCapability(space, fn.capOffset);
  const out: SignalEffect[] = [];
  if (!cap.msiEnable || cap.pendingBits === undefined || cap.pendingBits === 0) return out;
  const pending = bitsOf(cap.pendingBits);
  for (let vector = 0; vector < cap.multipleMessageEnable; vector++) {
    if (bitmapTest(pending, vector) && !msiVectorMasked(cap, vector)) {
      bitmapClear(pending, vector);
      out.push(send(fn, cap, vector));
    }
  }
  if (out.length > 0) writePendingBits(space, fn, cap, pending[0]);
  return out;
}

/** Pending Bits set (0 without Per-Vector Masking). */
export function msiPendingCount(fn: MsiFunction, space: ConfigSpace): number {
  return bitmapCount(bitsOf(decodeMsiCapability(space, fn.capOffset).pendingBits));
}
