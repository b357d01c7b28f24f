// MSI-X Pending Bit Array (PCI Express Base Spec 6.0, 7.7.2.9 "Pending Bits Register for MSI-X
// PBA Entries"; 6.1.4.5 "Per-vector Masking and Function Masking"), and the access rules shared by
// the MSI-X Table and the PBA (and, by analogy, the IDXD IMS store).
//
// The PBA is an array of QWORDs in device memory; Pending Bit n is bit n%64 of QWORD n/64, held
// here as dwords (bit n of the array = bit n%32 of dword n/32, the same bits). Its size is the
// table size rounded up to whole QWORDs; bits past the last entry are reserved and read 0.
// Invariants: a pending bit is set only by the function (a raise on a masked entry) and cleared
// only by the function (when it sends the message after the entry becomes deliverable).
// Software access: PCIe 6.0, 6.1.4.5: "Software should never write, and should only read Pending
// Bits. If software writes to Pending Bits, the result is undefined." Here such writes are
// dropped, as QEMU's msix_pba_mmio_write does.
//
// Access rule (PCIe, "MSI-X Configuration"): "For all accesses to MSI-X Table and MSI-X PBA
// fields, software must use aligned full DWORD or aligned full QWORD transactions; otherwise, the
// result is undefined." irqlab makes the undefined case explicit: the access reports why it is not
// one of those, a read returns 0 and a write is dropped (what QEMU's memory core does for an
// access its MemoryRegionOps declare invalid: unassigned_mem_read returns 0).
// Not modelled: the PBA sharing a page with other device registers.

import { bitmapDwords } from '../bitmap.js';

/** What a function does when it signals an entry (`signalOutcome`). */
export const SIGNAL = { dropped: 0, send: 1, coalesced: 2, setPending: 3 } as const;
export type SignalOutcome = (typeof SIGNAL)[keyof typeof SIGNAL];

/** PCIe 6.1.4.5: a function signalling an entry: nothing while its interrupt mechanism is
 *  disabled; the message if the entry is deliverable (not masked, by its Mask Bit or the
 *  Function Mask); otherwise its Pending Bit is set, and a signal while it is already set merges
 *  into it. The decision `pendingBitRaise` applies to a pending bit. */
export function signalOutcome(enabled: boolean, masked: boolean, pending: boolean): SignalOutcome {
  if (!enabled) return SIGNAL.dropped;
  if (!masked) return SIGNAL.send;
  return pending ? SIGNAL.coalesced : SIGNAL.setPending;
}

// The pending-bit rule on the words: the one implementation of a raise and of an unmask's flush,
// run by the hw object APIs (msix-table.ts, ims-store.ts: the bit is the entry number in their own
// pending array) and by the whole-system model (machine/system-delivery.ts storeRaise,
// workload-inputs.ts setVectorMask: the bit is counted from word 0 of the state). Bit n is bit
// n % 32 of dword n >>> 5, the arrays' own numbering (hw/bitmap.ts); no allocation, no range check
// (callers own their bounds: this is the delivery hot path).

/** PCIe 6.1.4.5, a function signals an entry whose Pending Bit is bit `bit` of `w`: `signalOutcome`,
 *  and on `setPending` the bit is set. The caller sends the message on `send`. */
export function pendingBitRaise(
  w: Uint32Array,
  bit: number,
  enabled: boolean,
  masked: boolean,
): SignalOutcome {
  const outcome = signalOutcome(enabled, masked, ((w[bit >>> 5] >>> bit) & 1) === 1);
  if (outcome === SIGNAL.setPending) w[bit >>> 5] |= 1 << bit;
  return outcome;
}

/** PCIe 6.1.4.5: an entry that becomes deliverable with its Pending Bit (bit `bit` of `w`) set
 *  sends its message once and the bit clears. Returns whether the message is due (bit taken). */
export function pendingBitFlush(w: Uint32Array, bit: number, deliverable: boolean): boolean {
  if (!deliverable || ((w[bit >>> 5] >>> bit) & 1) === 0) return false;
  w[bit >>> 5] &= ~(1 << bit);
  return true;
}

/** PCIe: "aligned full DWORD or aligned full QWORD". */
export type AccessSize = 1 | 2 | 4 | 8;

export type AccessStatus =
  | 'ok'
  /** A 1- or 2-byte access: not a full DWORD or QWORD. */
  | 'unsupported-size'
  /** A DWORD not on a 4-byte boundary or a QWORD not on an 8-byte boundary. */
  | 'misaligned'
  /** Any byte of the access lies past the structure. */
  | 'out-of-range';

/** A read: for a QWORD, `value` is bits 31:0 and `valueHigh` bits 63:32; 0 for undefined reads. */
export interface MmioRead {
  readonly status: AccessStatus;
  readonly value: number;
  readonly valueHigh: number;
}

export const PBA_QWORD_BITS = 64;
const DWORD_BYTES = 4;
const QWORD_BYTES = 8;

/** Classifies an access of `size` bytes at byte `offset` into a structure of `lengthBytes`. */
export function mmioAccessStatus(
  offset: number,
  size: AccessSize,
  lengthBytes: number,
): AccessStatus {
  if (size !== DWORD_BYTES && size !== QWORD_BYTES) return 'unsupported-size';
  if (!Number.isInteger(offset) || offset < 0 || offset + size > lengthBytes) return 'out-of-range';
  if (offset % size !== 0) return 'misaligned';
  return 'ok';
}

/** What an access outside the rules reads: 0 (QEMU's unassigned_mem_read). */
export const undefinedRead = (status: AccessStatus): MmioRead => ({
  status,
  value: 0,
  valueHigh: 0,
});

/** Dwords of a PBA for `entries` table entries (whole QWORDs). */
export const msixPbaDwords = (entries: number): number => bitmapDwords(entries, PBA_QWORD_BITS);

/** A PBA with no bit pending (its state after reset). */
export const newMsixPba = (entries: number): Uint32Array => new Uint32Array(msixPbaDwords(entries));

/** Software reads the PBA by aligned DWORD or QWORD. */
export function msixPbaRead(pba: Uint32Array, offset: number, size: AccessSize = 4): MmioRead {
  const status = mmioAccessStatus(offset, size, pba.length * DWORD_BYTES);
  if (status !== 'ok') return undefinedRead(status);
  const dword = offset / DWORD_BYTES;
  return { status, value: pba[dword], valueHigh: size === QWORD_BYTES ? pba[dword + 1] : 0 };
}

/** Software writes to the PBA have an undefined result; the function ignores them. Returns the
 *  access status so that the caller can still count or trap the write. */
export function msixPbaWrite(pba: Uint32Array, offset: number, size: AccessSize = 4): AccessStatus {
  return mmioAccessStatus(offset, size, pba.length * DWORD_BYTES);
}
