// The workload's inputs on assigned vectors: a guest's set-affinity (its kernel's choice of vCPU
// and vector, made on the control plane), a mask or unmask, a hot-unplug. A mask or unmask of an
// MSI-X or IMS entry is the guest driver's accesses, step by step (`guest-entry.ts`), trapped to
// QEMU where it emulates the entry (`qemu-vfio-msix.ts`); a move is the guest kernel's procedure
// for its platform (the entry's accesses, the pv RETARGET, the IR domain's IRTE and trapped
// invalidation). What is still one action: the mask of an MSI capability or INTx source, the move
// of an emulated MSI, and a hot-unplug.

import { pendingBitFlush } from '../hw/pci/msix-pba.js';
import { MSIX_ENTRY_DWORD, MSIX_TABLE_ENTRY } from '../hw/pci/msix-table.js';
import { deviceEntryWordAt, deviceEntryWrite } from './device-entry.js';
import { type EntryMaskOperation, guestEntrySetMask, guestMsixMove } from './guest-entry.js';
import { currentTarget, guestMoveVector } from './guest-vector.js';
import { kvmRetarget } from './kvm-irq-bypass.js';
import { pvRetarget } from './pv-retarget.js';
import { affinityTarget } from './system-actions.js';
import { entryMasked, intxLineAsserted, sendEntry } from './system-delivery.js';
import { EVENT, type EventLog, emit } from './system-events.js';
import { clearBit, setBit } from './system-fields.js';
import type { SystemState } from './system-state.js';
import { MSI_STORE_DWORDS } from './system-topology.js';
import { viommuMove } from './viommu-ir.js';

/** The guest moved `vector` to its vCPU `index` and guest vector `newVector` (its kernel's
 *  choice, made on the control plane: `guest-run.ts runGuestActions`, whose exits that plane
 *  counts per strategy). What reaches the data plane is the same under every strategy: KVM's
 *  route now names the new target and, with a posted host IRTE, the IRTE is rewritten for the
 *  new vCPU and vector (emulate/vir: kvm_pi_update_irte -> modify_irte; vir-direct: the shadow of
 *  the guest's new IRTE; pv: RETARGET) with an IEC flush that completes as its own action. The
 *  old target stays the vector's until the guest's cleanup frees it (`guest-vector.ts`); a move
 *  while it is still held is refused, as Linux refuses it (-EBUSY), and changes nothing. */
export function setAffinity(
  s: SystemState,
  log: EventLog,
  vector: number,
  index: number,
  newVector: number,
): void {
  const old = currentTarget(s, vector);
  if (old.vcpu === index && old.vector === newVector) return;
  switch (s.topology.vectors[vector].guestMove) {
    case 'msix-entry':
      guestMsixMove(s, log, vector, affinityTarget(index, newVector));
      return;
    case 'pv-retarget':
      pvRetarget(s, log, vector, affinityTarget(index, newVector));
      return;
    case 'viommu-irte':
      viommuMove(s, log, vector, affinityTarget(index, newVector));
      return;
  }
  if (!guestMoveVector(s, vector, index, newVector)) {
    emit(log, EVENT.affinityRefused, vector, index, newVector);
    return;
  }
  kvmRetarget(s, log, vector, index, newVector);
}

/** The guest driver masks or unmasks `vector` (on its own, or as free_irq's shutdown and
 *  request_irq's startup do): in its MSI-X or IMS entry, access by access (`guest-entry.ts`); an
 *  MSI capability's or INTx source's mask is still one action on the host's entry
 *  (`setHostEntryMask`). */
export function setVectorMask(
  s: SystemState,
  log: EventLog,
  vector: number,
  op: EntryMaskOperation,
) {
  const entry = s.topology.vectors[vector].guestEntry ?? 'none';
  if (entry === 'none') setHostEntryMask(s, log, vector, op === 'mask' || op === 'free');
  else guestEntrySetMask(s, log, vector, entry, op);
}

/** Sets or clears the Mask bit of the vector's host entry; clearing it with the pending bit set
 *  sends the entry's current message once (PCIe "Per-vector Masking"; IMS and MSI alike). */
function setHostEntryMask(s: SystemState, log: EventLog, vector: number, masked: boolean) {
  const t = s.topology;
  const spec = t.vectors[vector];
  const st = t.stores[spec.store];
  const w = s.words;
  switch (st.kind) {
    case 'intx': {
      // The source's bit in the subdevice's mask register; unmasking a latched source asserts
      // the line if nothing else holds it asserted.
      const bit = st.controlAt * 32 + spec.entry;
      const asserted = intxLineAsserted(s, st);
      if (masked) setBit(w, bit);
      else clearBit(w, bit);
      emit(log, EVENT.maskChanged, spec.store, spec.entry, masked ? 1 : 0, vector);
      if (!masked && !asserted && intxLineAsserted(s, st) && !entryMasked(w, st, spec.entry)) {
        sendEntry(s, log, st, 0, vector);
      }
      return;
    }
    case 'msix':
    case 'ims': {
      const at = deviceEntryWordAt(s, vector, MSIX_ENTRY_DWORD.vectorControl);
      const control = [0, 0, 0, w[at]];
      MSIX_TABLE_ENTRY.accessors.mask.set(control, masked ? 1 : 0, 0);
      deviceEntryWrite(s, log, vector, MSIX_ENTRY_DWORD.vectorControl, control[3]);
      return;
    }
    case 'msi': {
      const bit = (st.entriesAt + MSI_STORE_DWORDS.mask) * 32 + spec.entry;
      if (masked) setBit(w, bit);
      else clearBit(w, bit);
      emit(log, EVENT.maskChanged, spec.store, spec.entry, masked ? 1 : 0, vector);
      const pending = st.pendingAt * 32 + spec.entry;
      if (!masked && pendingBitFlush(w, pending, !entryMasked(w, st, spec.entry))) {
        sendEntry(s, log, st, spec.entry, vector);
      }
      return;
    }
  }
}

export function hotUnplug(s: SystemState, log: EventLog, store: number): void {
  s.words[s.topology.stores[store].unpluggedAt] = 1;
  emit(log, EVENT.unplugged, store);
}
