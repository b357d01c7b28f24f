// MSI-X Table, device side (PCI Express Base Spec 6.0, 7.7.2.5-7.7.2.8 "Message Address /
// Message Upper Address / Message Data / Vector Control Register for MSI-X Table Entries";
// 6.1.4.5 "Per-vector Masking and Function Masking").
//
// State is what software sees in the BAR: 16-byte entries, four little-endian dwords each
// (Message Address @0x0, Message Upper Address @0x4, Message Data @0x8, Vector Control @0xC),
// byte-comparable with `msix-tables.txt` in the recorded fixtures; the PBA (`msix-pba.ts`) beside
// it; and counters that make "no raise is lost" checkable.
// Invariants:
//  - every entry leaves reset masked (Vector Control Mask Bit = 1; "This bit's state after reset
//    is 1 (entry is masked)");
//  - a raise on an entry that is masked, or while the function is masked, sets the entry's
//    Pending Bit and sends nothing; a raise while the bit is already set coalesces into it;
//  - when an entry with its Pending Bit set becomes deliverable (its Mask Bit or the Function
//    Mask cleared, MSI-X enabled) the function sends the entry's CURRENT address/data once and
//    clears the bit;
//  - counters: raised === sent + coalesced + (pending bits set), over raises with MSI-X enabled;
//    raises with MSI-X disabled are `dropped` (the function "is prohibited from using MSI-X";
//    QEMU instead treats a disabled function as masked and sets the Pending Bit: irqlab follows
//    the spec and counts the loss instead).
// PCIe: "If software changes the Address or Data value of an entry while the entry is unmasked,
// the result is undefined." Linux masks around its updates; a guest here is an adversary and need
// not, so the device simply samples the entry's dwords at the moment it raises: a message sent
// between two of software's dword writes carries the half-written pair, and the model shows it.
// MSI-X Enable and Function Mask live in the MSI-X capability's Message Control in config space;
// they are passed in (`MsixControl`) as read there by the caller, so there is no copy to drift.
// Not modelled: TPH Steering Tags in Vector Control bits 31:16 (kept as written, reserved here),
// Bus Master Enable gating of the write, INTx fallback when MSI-X is disabled.

import { bitmapCount, bitmapIndices, bitmapTest } from '../bitmap.js';
import { defineLayout } from '../bits.js';
import { InputError } from '../errors.js';
import type { RequesterId } from './bdf.js';
import type { MsiTransaction } from './msi-transaction.js';
import { MSIX_ENTRIES_MAX, MSIX_ENTRY_SIZE } from './msix-capability.js';
import {
  type AccessSize,
  type AccessStatus,
  type MmioRead,
  mmioAccessStatus,
  newMsixPba,
  pendingBitFlush,
  pendingBitRaise,
  SIGNAL,
  undefinedRead,
} from './msix-pba.js';

/** Entry size in dwords (MSIX_ENTRY_SIZE = 16 bytes, from the capability's file). */
export const MSIX_ENTRY_DWORDS = MSIX_ENTRY_SIZE / 4;

export const MSIX_TABLE_ENTRY = defineLayout(
  'msix-table-entry',
  128,
  'PCIe Base Spec 6.0, 7.7.2.5-7.7.2.8 MSI-X Table Entry (16 bytes)',
  {
    messageAddress: [31, 0, 'Message Address; bits 1:0 are 0 (DWORD-aligned write)'],
    messageUpperAddress: [63, 32, 'Message Upper Address (0: 32-bit address)'],
    messageData: [95, 64, 'Message Data'],
    mask: [96, 96, 'Vector Control: Mask Bit (1 = function may not send this message)'],
    reservedVectorControl: [127, 97, 'Vector Control bits 31:1 (31:16: TPH ST when used)'],
  },
  { complete: true },
);

/** Dword index, inside an entry, of each register (byte offset / 4). */
export const MSIX_ENTRY_DWORD = { addrLo: 0, addrHi: 1, data: 2, vectorControl: 3 } as const;

// ---- what a raise or an access does, shared with MSI and IMS ----

export type SignalSource = 'msi' | 'msix' | 'ims';
export type DropReason = 'msix-disabled' | 'msi-disabled';

/** The outcome of one raise (or of an unmask that flushes a pending bit), as data. */
export type SignalEffect =
  | { kind: 'msi-write'; source: SignalSource; index: number; tx: MsiTransaction }
  | { kind: 'set-pending'; source: SignalSource; index: number }
  | { kind: 'coalesced'; source: SignalSource; index: number }
  | { kind: 'dropped'; source: SignalSource; index: number; reason: DropReason };

/** raised === sent + coalesced + pending (with the mechanism enabled); dropped counted apart. */
export interface SignalCounters {
  raised: number;
  sent: number;
  coalesced: number;
  dropped: number;
}

export const newSignalCounters = (): SignalCounters => ({
  raised: 0,
  sent: 0,
  coalesced: 0,
  dropped: 0,
});

/** A software write to a table or store: whether it was a defined access, and what it caused. */
export interface MmioWrite {
  readonly status: AccessStatus;
  readonly effects: SignalEffect[];
}

// ---- state ----

/** MSI-X Enable and Function Mask, as read from the MSI-X capability's Message Control. */
export interface MsixControl {
  readonly enable: boolean;
  readonly functionMask: boolean;
}

export interface MsixTable {
  /** The requester ID of the function the table belongs to: the source-id of its writes. */
  readonly requesterId: RequesterId;
  /** N, the number of entries (Table Size + 1). */
  readonly entries: number;
  /** 4 dwords per entry, as in the BAR. */
  readonly dwords: Uint32Array;
  /** The PBA: bit n pending for entry n. */
  readonly pba: Uint32Array;
  readonly counters: SignalCounters;
}

export function newMsixTable(entries: number, requesterId: RequesterId): MsixTable {
  if (!Number.isInteger(entries) || entries < 1 || entries > MSIX_ENTRIES_MAX) {
    throw new InputError('MSI-X table', `${entries} entries; must be 1..${MSIX_ENTRIES_MAX}`);
  }
  const t: MsixTable = {
    requesterId,
    entries,
    dwords: new Uint32Array(entries * MSIX_ENTRY_DWORDS),
    pba: newMsixPba(entries),
    counters: newSignalCounters(),
  };
  msixReset(t);
  return t;
}

/** Function Level Reset: every entry masked, address/data 0 (their reset value is undefined in
 *  the spec; 0 is what QEMU's msix_reset leaves), no bit pending. Counters are kept. */
export function msixReset(t: MsixTable): void {
  t.dwords.fill(0);
  t.pba.fill(0);
  for (let entry = 0; entry < t.entries; entry++) {
    MSIX_TABLE_ENTRY.accessors.mask.set(t.dwords, 1, entry * MSIX_ENTRY_DWORDS);
  }
}

function checkEntry(t: MsixTable, entry: number): void {
  if (!Number.isInteger(entry) || entry < 0 || entry >= t.entries) {
    throw new InputError(`MSI-X entry ${entry}`, `the table has entries 0..${t.entries - 1}`);
  }
}

export const msixEntryMasked = (t: MsixTable, entry: number): boolean =>
  MSIX_TABLE_ENTRY.accessors.mask.get(t.dwords, entry * MSIX_ENTRY_DWORDS) === 1;

export const msixEntryPending = (t: MsixTable, entry: number): boolean => bitmapTest(t.pba, entry);

/** Pending bits set over the whole table. */
export const msixPendingCount = (t: MsixTable): number => bitmapCount(t.pba);

/** Whether a raise on `entry` would be sent now. */
const deliverable = (t: MsixTable, ctl: MsixControl, entry: number): boolean =>
  ctl.enable && !ctl.functionMask && !msixEntryMasked(t, entry);

/** The message the entry holds now, as the function would put it on the link. */
export function msixEntryTransaction(t: MsixTable, entry: number): MsiTransaction {
  checkEntry(t, entry);
  const at = entry * MSIX_ENTRY_DWORDS;
  const a = MSIX_TABLE_ENTRY.accessors;
  return {
    addrLo: a.messageAddress.get(t.dwords, at),
    addrHi: a.messageUpperAddress.get(t.dwords, at),
    data: a.messageData.get(t.dwords, at),
    requesterId: t.requesterId,
  };
}

function send(t: MsixTable, entry: number): SignalEffect {
  t.counters.sent++;
  return { kind: 'msi-write', source: 'msix', index: entry, tx: msixEntryTransaction(t, entry) };
}

// ---- device side ----

/** The function signals entry `entry` (e.g. a completion on the queue bound to it). */
export function msixRaise(t: MsixTable, ctl: MsixControl, entry: number): SignalEffect {
  checkEntry(t, entry);
  switch (pendingBitRaise(t.pba, entry, ctl.enable, !deliverable(t, ctl, entry))) {
    case SIGNAL.dropped:
      t.counters.dropped++;
      return { kind: 'dropped', source: 'msix', index: entry, reason: 'msix-disabled' };
    case SIGNAL.send:
      t.counters.raised++;
      return send(t, entry);
    case SIGNAL.coalesced:
      t.counters.raised++;
      t.counters.coalesced++;
      return { kind: 'coalesced', source: 'msix', index: entry };
    default:
      t.counters.raised++;
      return { kind: 'set-pending', source: 'msix', index: entry };
  }
}

/** Sends and clears the Pending Bit of `entry` if it is set and the entry is deliverable. */
function flushPending(t: MsixTable, ctl: MsixControl, entry: number, out: SignalEffect[]): void {
  if (pendingBitFlush(t.pba, entry, deliverable(t, ctl, entry))) out.push(send(t, entry));
}

/**
 * Software wrote Message Control (MSI-X Enable, Function Mask); `ctl` is its new value. Clearing
 * the Function Mask, or setting MSI-X Enable with it clear, makes every unmasked entry whose
 * Pending Bit is set deliverable: each is sent once, lowest entry first (the spec gives no order),
 * and its bit cleared. Pending bits survive MSI-X being disabled, as in QEMU. Since a bit is only
 * ever set while its entry is not deliverable, no old value is needed.
 */
export function msixControlWritten(t: MsixTable, ctl: MsixControl): SignalEffect[] {
  const out: SignalEffect[] = [];
  if (!ctl.enable || ctl.functionMask) return out;
  for (const entry of bitmapIndices(t.pba)) flushPending(t, ctl, entry, out);
  return out;
}

// ---- software side: the table in the BAR ----

/** A value written by software must be an unsigned 32-bit number: bad input otherwise. */
export function checkDword(where: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new InputError(where, `${value} is not a 32-bit unsigned value`);
  }
}

const tableBytes = (t: MsixTable) => t.entries * MSIX_ENTRY_SIZE;

/** Software reads the table by aligned DWORD or QWORD at byte `offset` from its start. */
export function msixTableRead(t: MsixTable, offset: number, size: AccessSize = 4): MmioRead {
  const status = mmioAccessStatus(offset, size, tableBytes(t));
  if (status !== 'ok') return undefinedRead(status);
  const dword = offset / 4;
  return { status, value: t.dwords[dword], valueHigh: size === 8 ? t.dwords[dword + 1] : 0 };
}

/**
 * Software writes `value` (a DWORD), or `value` and `valueHigh` (a QWORD: bits 31:0 then 63:32),
 * at byte `offset` from the table's start. An aligned QWORD covers two registers of one entry and
 * is one transaction: both land before the entry's mask state is evaluated. Clearing an entry's
 * Mask Bit with its Pending Bit set sends the entry's current message once.
 * An undefined access (see `msix-pba.ts`) changes nothing and reports why.
 */
export function msixTableWrite(
  t: MsixTable,
  ctl: MsixControl,
  offset: number,
  value: number,
  opts: { size: AccessSize; valueHigh?: number } = { size: 4 },
): MmioWrite {
  checkDword('MSI-X table write', value);
  if (opts.size === 8) checkDword('MSI-X table write (bits 63:32)', opts.valueHigh ?? 0);
  const status = mmioAccessStatus(offset, opts.size, tableBytes(t));
  if (status !== 'ok') return { status, effects: [] };
  const dword = offset / 4;
  const entry = Math.floor(dword / MSIX_ENTRY_DWORDS);
  const wasDeliverable = deliverable(t, ctl, entry);
  t.dwords[dword] = value;
  if (opts.size === 8) t.dwords[dword + 1] = opts.valueHigh ?? 0;
  const effects: SignalEffect[] = [];
  if (!wasDeliverable) flushPending(t, ctl, entry, effects);
  return { status, effects };
}
