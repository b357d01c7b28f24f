// Interrupt Message Store of an Intel DSA-like device (Intel Data Streaming Accelerator
// Architecture Specification, "Interrupt Message Storage"; Linux: the entry is `struct ims_slot`
// and the control word bits are IMS_CTRL_* in include/linux/irqchip/irq-ims-msi.h of the IMS
// series (T. Gleixner, 2021); the store's place and size come from drivers/dma/idxd/registers.h:
// OFFSETS.ims * IDXD_TABLE_MULT (0x100) is its byte offset in BAR0, GENCAP.max_ims_mult * 256 its
// number of entries, see `devices/idxd.ts`).
//
// An entry is 16 bytes like an MSI-X Table entry: Message Address (64 bits), Message Data (32
// bits), then a control dword: bit 0 Mask, bit 3 PASID Enable, bits 31:12 PASID (Linux
// IMS_CTRL_VECTOR_MASKBIT, IMS_CTRL_PASID_ENABLE, IMS_CTRL_PASID_SHIFT 12; the out-of-tree
// idxd mdev driver sets the same bits: `IMS_PASID_ENABLE 0x8 | pasid << 12`). Linux reserves bits
// 2:0 for interrupt control and only names bit 0; bits 2:1 are kept as written and reported as
// reserved here.
// The IMS has no architectural Pending Bit Array. The device still has to remember a message
// raised on a masked entry (as MSI-X does), so irqlab keeps one pending bit per entry in device
// state, outside the software-visible entry, and says so: reading an entry does not show it.
// Invariants (the MSI-X ones, per entry; there is no function-level enable or mask):
//  - every entry leaves reset masked;
//  - a raise on a masked entry sets its pending bit; a raise while it is set coalesces;
//  - clearing Mask with the bit set sends the entry's current message once and clears the bit;
//  - raised === sent + coalesced + pending.
// Access: software uses aligned DWORD or QWORD accesses, by analogy with the MSI-X Table (the
// same rule and the same explicit handling of anything else, see `pci/msix-pba.ts`).
// Not modelled: the PASID TLP prefix on the interrupt write when PASID Enable is set (the
// transaction carries address, data and requester ID only); the queue-memory IMS variant.

import { bitmapCount, bitmapDwords, bitmapTest } from '../bitmap.js';
import { defineLayout } from '../bits.js';
import { InputError } from '../errors.js';
import type { RequesterId } from '../pci/bdf.js';
import type { MsiTransaction } from '../pci/msi-transaction.js';
import {
  type AccessSize,
  type MmioRead,
  mmioAccessStatus,
  pendingBitFlush,
  pendingBitRaise,
  SIGNAL,
  undefinedRead,
} from '../pci/msix-pba.js';
import {
  checkDword,
  type MmioWrite,
  newSignalCounters,
  type SignalCounters,
  type SignalEffect,
} from '../pci/msix-table.js';

export const IMS_ENTRY_BYTES = 16;
export const IMS_ENTRY_DWORDS = 4;
/** IMS size = GENCAP.max_ims_mult * 256 (Linux idxd: `max_ims_mult * 256ULL`). */
export const IMS_ENTRIES_PER_MULT = 256;
/** max_ims_mult is a 6-bit field. */
export const IMS_MULT_MAX = 63;
export const IMS_ENTRIES_MAX = IMS_MULT_MAX * IMS_ENTRIES_PER_MULT;

export const IMS_ENTRY = defineLayout(
  'ims-entry',
  128,
  'Intel DSA Architecture Spec, Interrupt Message Storage entry; Linux struct ims_slot',
  {
    messageAddress: [31, 0, 'Message Address bits 31:0 (address_lo)'],
    messageUpperAddress: [63, 32, 'Message Address bits 63:32 (address_hi)'],
    messageData: [95, 64, 'Message Data'],
    mask: [96, 96, 'control bit 0: Mask (IMS_CTRL_VECTOR_MASKBIT)'],
    reservedInterruptControl: [98, 97, 'control bits 2:1: interrupt control, unnamed in Linux'],
    pasidEnable: [99, 99, 'control bit 3: PASID Enable (IMS_CTRL_PASID_ENABLE)'],
    reservedControl: [107, 100, 'control bits 11:4: reserved'],
    pasid: [127, 108, 'control bits 31:12: PASID (IMS_CTRL_PASID_SHIFT 12)'],
  },
  { complete: true },
);

export interface ImsStore {
  /** Requester ID of the function that owns the store: subdevices backed by IMS share it. */
  readonly requesterId: RequesterId;
  readonly entries: number;
  /** 4 dwords per entry, as software sees them in BAR0. */
  readonly dwords: Uint32Array;
  /** Device-internal pending state, one bit per entry (no architectural PBA). */
  readonly pending: Uint32Array;
  readonly counters: SignalCounters;
}

/** Entries for a GENCAP max_ims_mult value. */
export function imsEntriesFromMult(maxImsMult: number): number {
  if (!Number.isInteger(maxImsMult) || maxImsMult < 0 || maxImsMult > IMS_MULT_MAX) {
    throw new InputError('GENCAP.max_ims_mult', `${maxImsMult} is not 0..${IMS_MULT_MAX}`);
  }
  return maxImsMult * IMS_ENTRIES_PER_MULT;
}

export function newImsStore(entries: number, requesterId: RequesterId): ImsStore {
  if (!Number.isInteger(entries) || entries < 1 || entries > IMS_ENTRIES_MAX) {
    throw new InputError('IMS', `${entries} entries; must be 1..${IMS_ENTRIES_MAX}`);
  }
  const s: ImsStore = {
    requesterId,
    entries,
    dwords: new Uint32Array(entries * IMS_ENTRY_DWORDS),
    pending: new Uint32Array(bitmapDwords(entries)),
    counters: newSignalCounters(),
  };
  imsReset(s);
  return s;
}

/** Device reset: every entry masked, everything else 0, nothing pending. Counters are kept. */
export function imsReset(s: ImsStore): void {
  s.dwords.fill(0);
  s.pending.fill(0);
  for (let entry = 0; entry < s.entries; entry++) {
    IMS_ENTRY.accessors.mask.set(s.dwords, 1, entry * IMS_ENTRY_DWORDS);
  }
}

function checkEntry(s: ImsStore, entry: number): void {
  if (!Number.isInteger(entry) || entry < 0 || entry >= s.entries) {
    throw new InputError(`IMS entry ${entry}`, `the store has entries 0..${s.entries - 1}`);
  }
}

export const imsEntryMasked = (s: ImsStore, entry: number): boolean =>
  IMS_ENTRY.accessors.mask.get(s.dwords, entry * IMS_ENTRY_DWORDS) === 1;

export const imsEntryPending = (s: ImsStore, entry: number): boolean =>
  bitmapTest(s.pending, entry);

export const imsPendingCount = (s: ImsStore): number => bitmapCount(s.pending);

export function imsEntryTransaction(s: ImsStore, entry: number): MsiTransaction {
  checkEntry(s, entry);
  const at = entry * IMS_ENTRY_DWORDS;
  const a = IMS_ENTRY.accessors;
  return {
    addrLo: a.messageAddress.get(s.dwords, at),
    addrHi: a.messageUpperAddress.get(s.dwords, at),
    data: a.messageData.get(s.dwords, at),
    requesterId: s.requesterId,
  };
}

function send(s: ImsStore, entry: number): SignalEffect {
  s.counters.sent++;
  return { kind: 'msi-write', source: 'ims', index: entry, tx: imsEntryTransaction(s, entry) };
}

/** The device signals IMS entry `entry` (e.g. a completion for the subdevice bound to it). */
export function imsRaise(s: ImsStore, entry: number): SignalEffect {
  checkEntry(s, entry);
  s.counters.raised++;
  // An IMS store has no function-level enable or mask: each entry is masked or not.
  switch (pendingBitRaise(s.pending, entry, true, imsEntryMasked(s, entry))) {
    case SIGNAL.send:
      return send(s, entry);
    case SIGNAL.coalesced:
      s.counters.coalesced++;
      return { kind: 'coalesced', source: 'ims', index: entry };
    default:
      return { kind: 'set-pending', source: 'ims', index: entry };
  }
}

const storeBytes = (s: ImsStore) => s.entries * IMS_ENTRY_BYTES;

/** Software reads the store by aligned DWORD or QWORD at byte `offset` from its start. */
export function imsRead(s: ImsStore, offset: number, size: AccessSize = 4): MmioRead {
  const status = mmioAccessStatus(offset, size, storeBytes(s));
  if (status !== 'ok') return undefinedRead(status);
  const dword = offset / 4;
  return { status, value: s.dwords[dword], valueHigh: size === 8 ? s.dwords[dword + 1] : 0 };
}

/** Software writes a DWORD (or a QWORD: `value` is bits 31:0, `valueHigh` 63:32). Clearing an
 *  entry's Mask with its pending bit set sends the entry's current message once. */
export function imsWrite(
  s: ImsStore,
  offset: number,
  value: number,
  opts: { size: AccessSize; valueHigh?: number } = { size: 4 },
): MmioWrite {
  checkDword('IMS write', value);
  if (opts.size === 8) checkDword('IMS write (bits 63:32)', opts.valueHigh ?? 0);
  const status = mmioAccessStatus(offset, opts.size, storeBytes(s));
  if (status !== 'ok') return { status, effects: [] };
  const dword = offset / 4;
  const entry = Math.floor(dword / IMS_ENTRY_DWORDS);
  const wasMasked = imsEntryMasked(s, entry);
  s.dwords[dword] = value;
  if (opts.size === 8) s.dwords[dword + 1] = opts.valueHigh ?? 0;
  const effects: SignalEffect[] = [];
  if (wasMasked && pendingBitFlush(s.pending, entry, !imsEntryMasked(s, entry))) {
    effects.push(send(s, entry));
  }
  return { status, effects };
}
