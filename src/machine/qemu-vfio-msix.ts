// QEMU's emulation of an assigned function's MSI-X table (hw/pci/msix.c, hw/vfio/pci.c), as the
// machine runs it when a guest access to the table traps (the table page is not mapped into the
// guest: KVM exits on the access and QEMU handles it, then the vCPU re-enters). A trapped IMS
// slice is emulated the same way (the VMM's virtual device holds the guest's entries, the same
// four dwords, and acts on their mask as QEMU does for MSI-X: the control plane's model too).
//
// QEMU acts on mask changes only (msix_handle_mask_update): a write that masks the guest's entry
// makes VFIO signal QEMU's eventfd instead of KVM's irqfd (vfio_msix_vector_release: KVM's route
// stays, and the irq bypass producer going away puts a posted host IRTE back in remapped format);
// a write that unmasks it re-routes from the entry's message (vfio_msix_vector_use ->
// vfio_update_kvm_msi_virq: KVM's route := the guest's pair, the irqfd back, the IRTE posted to
// the new target) and then sends a raise the virtual PBA held (msix_clr_pending, msix_notify).
// A write to the address or data of an UNMASKED entry only changes QEMU's copy: nothing is
// re-routed until the next mask/unmask, and interrupts keep going where the route says.
// While VFIO signals QEMU, each interrupt runs vfio_msi_interrupt in QEMU's event loop
// (ACTION.vmmInterrupt): msix_notify sets the virtual pending bit of a masked entry.
//
// Invariants: the trigger is QEMU's only while the guest's entry is masked, or the eventfd still
// holds a signal from then; a vCPU has at most one trapped access outstanding.
// Not modelled: the vIOMMU's translation of a remappable entry at unmask (the route is kept: the
// vIOMMU invalidation path re-routes), MSI-X function mask, the PBA page's reads.

import { fieldPos, getField } from '../hw/field-pos.js';
import { pendingBitFlush, pendingBitRaise, SIGNAL } from '../hw/pci/msix-pba.js';
import { MSIX_ENTRY_DWORD, MSIX_TABLE_ENTRY } from '../hw/pci/msix-table.js';
import { kvmSetMsi } from './host-irq.js';
import { handledOrWait, irLockFree, QI_SUBMIT_SYNC } from './host-qi.js';
import { hasBypassProducer, irtePosted, piUpdateIrte } from './kvm-irq-bypass.js';
import { type StepProgram, WAIT } from './step-program.js';
import { COALESCE_AT, EVENT, type EventLog, EXIT_REASON, emit } from './system-events.js';
import {
  routeTarget,
  type SystemState,
  setRoute,
  setVmsixFlag,
  TRAP_KIND,
  VMSIX_STATE,
  vmsixAt,
  vmsixStateAt,
} from './system-state.js';
import { countCoalesced } from './system-vcpu.js';
import { trapExit, trapOf } from './vcpu-trap.js';

const ENTRY_MASK = fieldPos(MSIX_TABLE_ENTRY, 'mask');

export const virtualMasked = (s: SystemState, vector: number): boolean =>
  getField(s.words, vmsixAt(s, vector), ENTRY_MASK) === 1;

const VIRTUAL_PENDING = fieldPos(VMSIX_STATE, 'pending');

/** The virtual PBA bit of the guest's entry, as a bit index counted from word 0 of the state. */
const virtualPendingBit = (s: SystemState, vector: number): number =>
  (vmsixStateAt(s, vector) + VIRTUAL_PENDING.dword) * 32 + VIRTUAL_PENDING.shift;

/** Per guest entry kind, the trap of a read and of a write. */
const ENTRY_TRAPS = {
  msix: { read: TRAP_KIND.msixRead, write: TRAP_KIND.msixWrite },
  ims: { read: TRAP_KIND.imsRead, write: TRAP_KIND.imsWrite },
} as const;

/** A guest access to assigned vector `vector`'s MSI-X (IMS) entry traps: vCPU `v` exits
 *  (EPT_MISCONFIG: KVM's MMIO exit) with it, and QEMU's handler is its thread's next step. */
export function trapEntryAccess(
  s: SystemState,
  log: EventLog,
  v: number,
  vector: number,
  dword: number,
  value: number | null,
): void {
  const traps = ENTRY_TRAPS[s.topology.vectors[vector].guestEntry === 'ims' ? 'ims' : 'msix'];
  const kind = value === null ? traps.read : traps.write;
  const trap = { kind, vector, dword, value: value ?? 0 };
  trapExit(s, log, v, trap, EXIT_REASON.eptMisconfig, QEMU_MSIX_MMIO);
}

/** KVM_RUN returns to QEMU with the access: msix_table_mmio_write (or _read, which changes
 *  nothing), then the vCPU goes back to KVM's run loop. */
function msixTableMmioAccess(s: SystemState, log: EventLog, v: number) {
  const trap = trapOf(s, v);
  if (trap.kind === TRAP_KIND.msixWrite || trap.kind === TRAP_KIND.imsWrite) {
    msixTableWrite(s, log, trap.vector, trap.dword, trap.value);
  }
  return handledOrWait(s, log, v);
}

/** The handler may reach modify_irte (VFIO -> KVM's irq bypass): it runs with irq_2_ir_lock
 *  free and then waits for its invalidation (`host-qi.ts`). */
export const QEMU_MSIX_MMIO: StepProgram = {
  id: 5,
  name: 'kvm_exit(mmio)',
  source: 'hw/pci/msix.c, hw/vfio/pci.c',
  steps: [
    {
      name: 'msix_table_mmio_access',
      wait: WAIT.now,
      enabled: irLockFree,
      run: msixTableMmioAccess,
    },
    QI_SUBMIT_SYNC,
  ],
};

/** msix_table_mmio_write: QEMU's copy takes the value; only a change of the mask bit acts. */
function msixTableWrite(
  s: SystemState,
  log: EventLog,
  vector: number,
  dword: number,
  value: number,
) {
  const wasMasked = virtualMasked(s, vector);
  s.words[vmsixAt(s, vector) + dword] = value >>> 0;
  const isMasked = virtualMasked(s, vector);
  emit(log, EVENT.vmmMsixWrite, vector, dword, value, isMasked === wasMasked ? 0 : 1);
  if (isMasked === wasMasked) return;
  if (isMasked) vfioMsixVectorRelease(s, log, vector);
  else vfioMsixVectorUse(s, log, vector);
}

/** vfio_msix_vector_release: VFIO signals QEMU's eventfd; the irq bypass producer is gone, so a
 *  posted IRTE goes back to remapped (kvm_arch_irq_bypass_del_producer). */
function vfioMsixVectorRelease(s: SystemState, log: EventLog, vector: number): void {
  setVmsixFlag(s, vector, 'vmmTrigger', true);
  if (!irtePosted(s, vector)) return;
  const route = routeTarget(s, vector);
  piUpdateIrte(s, log, vector, route.vcpu, route.vector, false);
}

/** vfio_msix_vector_use: KVM's route from the guest's pair (compatibility format), the irqfd
 *  back, the IRTE posted to the route's target; then msix_handle_mask_update sends what the
 *  virtual PBA held. */
function vfioMsixVectorUse(s: SystemState, log: EventLog, vector: number): void {
  const t = s.topology;
  const spec = t.vectors[vector];
  const at = vmsixAt(s, vector);
  if (spec.virtualMsix === 'compat') {
    setRoute(s, vector, {
      addrLo: s.words[at + MSIX_ENTRY_DWORD.addrLo],
      addrHi: s.words[at + MSIX_ENTRY_DWORD.addrHi],
      data: s.words[at + MSIX_ENTRY_DWORD.data],
    });
  }
  setVmsixFlag(s, vector, 'vmmTrigger', false);
  const route = routeTarget(s, vector);
  if (hasBypassProducer(s, vector) && route.vcpu < t.vms[spec.vm].vcpus) {
    piUpdateIrte(s, log, vector, route.vcpu, route.vector, true);
  }
  // msix_handle_mask_update: unmasked with the virtual PBA bit set -> msix_clr_pending, notify.
  if (pendingBitFlush(s.words, virtualPendingBit(s, vector), true)) kvmSetMsi(s, log, vector, -1);
}

/** vfio_msi_interrupt in QEMU's event loop: the eventfd VFIO signalled is read; msix_notify
 *  sends the entry's message, or, the entry masked, sets its virtual pending bit. */
export function vmmInterrupt(s: SystemState, log: EventLog, vector: number): void {
  setVmsixFlag(s, vector, 'signalled', false);
  // QEMU emulates the PCIe pending-bit rule on its virtual PBA: the same decision.
  switch (pendingBitRaise(s.words, virtualPendingBit(s, vector), true, virtualMasked(s, vector))) {
    case SIGNAL.send:
      kvmSetMsi(s, log, vector, -1);
      return;
    case SIGNAL.coalesced:
      countCoalesced(s, log, vector, COALESCE_AT.vmm);
      return;
    default:
      emit(log, EVENT.vmmPendingSet, vector);
  }
}
