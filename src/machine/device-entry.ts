// Software's write to a dword of a device's MSI-X or IMS entry (a guest reaching a mapped table,
// the host's own writes), or to its MSI capability's Mask Bits: the dword takes the value; a
// write that clears Mask while the entry's pending bit is set sends the entry's current message
// once and clears the bit (PCIe "Per-vector Masking and Pending Bits", `hw/pci/msix-pba.ts`
// pendingBitFlush; the IMS keeps the same rule in device state, `hw/ims/ims-store.ts`).
// Invariants: the word offsets are the store's entry's (4 dwords per entry, MSI-X and IMS alike).

import { pendingBitFlush } from '../hw/pci/msix-pba.js';
import { MSIX_ENTRY_DWORD, MSIX_ENTRY_DWORDS, MSIX_TABLE_ENTRY } from '../hw/pci/msix-table.js';
import { entryMasked, sendEntry } from './system-delivery.js';
import { EVENT, type EventLog, emit } from './system-events.js';
import { clearBit, setBit } from './system-fields.js';
import type { SystemState } from './system-state.js';
import { MSI_STORE_DWORDS } from './system-topology.js';

/** The word holding dword `dword` of `vector`'s entry in its device's store. */
export function deviceEntryWordAt(s: SystemState, vector: number, dword: number): number {
  const spec = s.topology.vectors[vector];
  return s.topology.stores[spec.store].entriesAt + spec.entry * MSIX_ENTRY_DWORDS + dword;
}

export function deviceEntryWrite(
  s: SystemState,
  log: EventLog,
  vector: number,
  dword: number,
  value: number,
): void {
  const spec = s.topology.vectors[vector];
  const st = s.topology.stores[spec.store];
  s.words[deviceEntryWordAt(s, vector, dword)] = value >>> 0;
  if (dword !== MSIX_ENTRY_DWORD.vectorControl) return;
  const maskBit = MSIX_TABLE_ENTRY.accessors.mask.get(s.words, deviceEntryWordAt(s, vector, 0));
  emit(log, EVENT.maskChanged, spec.store, spec.entry, maskBit, vector);
  const pending = st.pendingAt * 32 + spec.entry;
  if (pendingBitFlush(s.words, pending, !entryMasked(s.words, st, spec.entry))) {
    sendEntry(s, log, st, spec.entry, vector);
  }
}

/** A write of the vector's bit in its MSI capability's Mask Bits register (PCIe 7.7.1.7; VFIO
 *  passes it to the device): clearing it with the pending bit set sends the message once. An
 *  MSI without Per-Vector Masking has no such register: pci_msi_mask does nothing for it. */
export function deviceMsiMaskWrite(
  s: SystemState,
  log: EventLog,
  vector: number,
  masked: boolean,
): void {
  const spec = s.topology.vectors[vector];
  const st = s.topology.stores[spec.store];
  if (!st.perVectorMask) return;
  const bit = (st.entriesAt + MSI_STORE_DWORDS.mask) * 32 + spec.entry;
  if (masked) setBit(s.words, bit);
  else clearBit(s.words, bit);
  emit(log, EVENT.maskChanged, spec.store, spec.entry, masked ? 1 : 0, vector);
  const pending = st.pendingAt * 32 + spec.entry;
  if (pendingBitFlush(s.words, pending, !entryMasked(s.words, st, spec.entry))) {
    sendEntry(s, log, st, spec.entry, vector);
  }
}
