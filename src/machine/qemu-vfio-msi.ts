// QEMU's emulation of an assigned function's MSI capability (hw/vfio/pci.c vfio_pci_write_config,
// hw/pci/msi.c), as the machine runs it when the guest's config access traps (VFIO's config space
// is always QEMU's: KVM exits on the MMCONFIG access and QEMU handles it, then the vCPU
// re-enters). A write into the message of an enabled MSI re-routes at once (vfio_update_msi ->
// vfio_update_kvm_msi_virq: KVM's route := QEMU's copy of the message as it stands after this
// write, then kvm_irqchip_commit_routes, and KVM's irq bypass re-posts the IRTE), so between
// the guest's address and data writes KVM routes a half-written pair: the race Linux's
// msi_set_affinity steps around.
// A write of the Mask Bits goes through to the device (vfio-pci passes them to the hardware).
// Invariants: QEMU's copy of the guest's message is the vector's VMSIX words 0-2 (address,
// upper address, data); an access to Message Control changes nothing routed.
// Not modelled: multi-message MSI (a guest without IR runs one vector per function); the guest's
// own mask and unmask of an MSI vector outside a move (one action still: `workload-inputs.ts`).

import { deviceMsiMaskWrite } from './device-entry.js';
import { handledOrWait, irLockFree, QI_SUBMIT_SYNC } from './host-qi.js';
import { hasBypassProducer, irtePosted, piUpdateIrte } from './kvm-irq-bypass.js';
import { type StepProgram, WAIT } from './step-program.js';
import { EVENT, type EventLog, EXIT_REASON, emit } from './system-events.js';
import { routeTarget, type SystemState, setRoute, TRAP_KIND, vmsixAt } from './system-state.js';
import { trapExit, trapOf } from './vcpu-trap.js';

/** What a trapped MSI capability access touches: a dword of the message in QEMU's copy,
 *  Message Control, or the Mask Bits register. */
export const MSI_MESSAGE_DWORD = {
  addrLo: 0,
  addrHi: 1,
  data: 2,
  control: 3,
  maskBits: 4,
} as const;

/** vCPU `v` accesses the MSI capability of `vector`'s function: `value` into `dword`
 *  (MSI_MESSAGE_DWORD), or a read. */
export function trapMsiConfigAccess(
  s: SystemState,
  log: EventLog,
  v: number,
  vector: number,
  dword: number,
  value: number,
): void {
  const trap = { kind: TRAP_KIND.cfgAccess, vector, dword, value };
  trapExit(s, log, v, trap, EXIT_REASON.eptMisconfig, QEMU_VFIO_MSI_CONFIG);
}

/** vfio_pci_write_config on the MSI capability of an enabled MSI. */
function vfioPciWriteConfig(s: SystemState, log: EventLog, v: number) {
  const trap = trapOf(s, v);
  if (trap.dword === MSI_MESSAGE_DWORD.maskBits) {
    deviceMsiMaskWrite(s, log, trap.vector, (trap.value & 1) === 1);
  } else if (trap.dword !== MSI_MESSAGE_DWORD.control) {
    vfioUpdateMsi(s, log, trap.vector, trap.dword, trap.value);
  }
  return handledOrWait(s, log, v);
}

/** QEMU's copy takes the write, KVM's route follows it; KVM re-posts the IRTE only when the
 *  route changed (irqfd_update: kvm_arch_irqfd_route_changed). */
function vfioUpdateMsi(
  s: SystemState,
  log: EventLog,
  vector: number,
  dword: number,
  value: number,
) {
  const at = vmsixAt(s, vector);
  s.words[at + dword] = value >>> 0;
  emit(log, EVENT.vmmMsiWrite, vector, dword, value);
  const before = routeTarget(s, vector);
  setRoute(s, vector, {
    addrLo: s.words[at + MSI_MESSAGE_DWORD.addrLo],
    addrHi: s.words[at + MSI_MESSAGE_DWORD.addrHi],
    data: s.words[at + MSI_MESSAGE_DWORD.data],
  });
  const route = routeTarget(s, vector);
  if (route.vcpu === before.vcpu && route.vector === before.vector) return;
  const vcpus = s.topology.vms[s.topology.vectors[vector].vm].vcpus;
  if (hasBypassProducer(s, vector) && irtePosted(s, vector) && route.vcpu < vcpus) {
    piUpdateIrte(s, log, vector, route.vcpu, route.vector, true);
  }
}

export const QEMU_VFIO_MSI_CONFIG: StepProgram = {
  id: 19,
  name: 'kvm_exit(mmio: MSI capability)',
  source: 'hw/vfio/pci.c vfio_pci_write_config, vfio_update_msi',
  steps: [
    // It may re-post the IRTE (modify_irte): it runs with irq_2_ir_lock free, and waits for the
    // invalidation it queued (`host-qi.ts`).
    { name: 'vfio_pci_write_config', wait: WAIT.now, enabled: irLockFree, run: vfioPciWriteConfig },
    QI_SUBMIT_SYNC,
  ],
};
