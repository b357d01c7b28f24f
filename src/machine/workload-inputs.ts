// The workload's inputs on assigned vectors: a guest's set-affinity (its kernel's choice of vCPU
// and vector, made on the control plane), a mask or unmask, a hot-unplug. Where the VMM emulates
// the guest's MSI-X entry, mask, unmask and (compatibility format) the move are the guest
// driver's accesses, step by step (`guest-msix.ts`), and QEMU's handling of each trap
// (`qemu-vfio-msix.ts`); elsewhere each is still one action on the host entry and KVM's route,
// with the exits the guest's accesses cost counted on the control plane (`hv/guest-run.ts`).

import { IMS_ENTRY, IMS_ENTRY_DWORDS } from '../hw/ims/ims-store.js';
import { MSIX_ENTRY_DWORDS, MSIX_TABLE_ENTRY } from '../hw/pci/msix-table.js';
import { guestMsixMove, guestMsixSetMask } from './guest-msix.js';
import { currentTarget, guestMoveVector } from './guest-vector.js';
import { kvmRetarget } from './kvm-irq-bypass.js';
import { pvRetarget } from './pv-retarget.js';
import { affinityTarget } from './system-actions.js';
import { entryMasked, intxLineAsserted, sendEntry } from './system-delivery.js';
import { EVENT, type EventLog, emit } from './system-events.js';
import { clearBit, setBit, testBit } from './system-fields.js';
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

/** Sets or clears the Mask bit of the vector's host entry; clearing it with the pending bit set
 *  sends the entry's current message once (PCIe "Per-vector Masking"; IMS alike). */
export function setVectorMask(s: SystemState, log: EventLog, vector: number, masked: boolean) {
  const t = s.topology;
  const spec = t.vectors[vector];
  if (spec.virtualMsix !== undefined && spec.virtualMsix !== 'none') {
    guestMsixSetMask(s, log, vector, masked);
    return;
  }
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
      MSIX_TABLE_ENTRY.accessors.mask.set(
        w,
        masked ? 1 : 0,
        st.entriesAt + spec.entry * MSIX_ENTRY_DWORDS,
      );
      break;
    case 'ims':
      IMS_ENTRY.accessors.mask.set(w, masked ? 1 : 0, st.entriesAt + spec.entry * IMS_ENTRY_DWORDS);
      break;
    case 'msi': {
      const bit = (st.entriesAt + MSI_STORE_DWORDS.mask) * 32 + spec.entry;
      if (masked) setBit(w, bit);
      else clearBit(w, bit);
      break;
    }
  }
  emit(log, EVENT.maskChanged, spec.store, spec.entry, masked ? 1 : 0, vector);
  const pending = st.pendingAt * 32 + spec.entry;
  if (!masked && testBit(w, pending) && !entryMasked(w, st, spec.entry)) {
    clearBit(w, pending);
    sendEntry(s, log, st, spec.entry, vector);
  }
}

export function hotUnplug(s: SystemState, log: EventLog, store: number): void {
  s.words[s.topology.stores[store].unpluggedAt] = 1;
  emit(log, EVENT.unplugged, store);
}
