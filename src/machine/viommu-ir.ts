// A move under the guest's own interrupt remapping (vir, vir-direct), as the machine runs it. The
// guest's IR domain moves a vector as Linux's intel_ir_set_affinity does: the vector domain first
// (apic_set_affinity), then modify_irte writes the new vector and destination into the guest's
// IRTE (guest memory: no exit), then qi_flush_iec queues an IEC invalidation and a wait in the
// guest's invalidation queue and writes its tail register, which traps (the vIOMMU is emulated:
// EPT_MISCONFIG). The hypervisor's handler processes the queue on that exit and completes the wait
// before the vCPU re-enters, so the guest's qi_submit_sync sees its status at once:
//   vir         QEMU's vtd_iec_notify_all -> kvm_update_msi_routes_all: every MSI route
//               re-translated through the guest's IRTEs, and KVM's irq bypass posts the IRTE to
//               the new target;
//   vir-direct  the hypervisor shadows the guest's IRTE into the host IRTE at the same index
//               (posted to the new vCPU and vector, or remapped to VFIO's host vector).
// Either way the host effect is KVM's route and the host IRTE re-pointed (`kvm-irq-bypass.ts`),
// so one handler serves both; what differs (which IRTE the device's handle names) was fixed at
// setup. The guest's IRTEs are in the words (`guestIrte`, one per assigned vector).
// Invariants: the guest IRTE of a vector names the guest's current target once modify_irte ran;
// the host learns of it only at the invalidation.
// Not modelled: the guest's invalidation queue's own words (one IEC + wait per move, handled
// synchronously), a guest that writes its IRTE and never invalidates (a mutation for the
// explorer), the vIOMMU's fault reporting.

import {
  encodeIrteRemapped,
  IRTE_DWORDS,
  IRTE_REMAPPED,
  irteApicId,
  irteDestinationId,
} from '../hw/vtd/irte.js';
import {
  apicSetAffinityStep,
  askedTarget,
  onRunningVcpu,
  startGuestOp,
  vectorOf,
} from './guest-op.js';
import { runner } from './guest-work.js';
import { handledOrWait, irLockFree, QI_SUBMIT_SYNC } from './host-qi.js';
import { kvmRetarget } from './kvm-irq-bypass.js';
import { STEP, type StepProgram, WAIT } from './step-program.js';
import { type EventLog, EXIT_REASON } from './system-events.js';
import { type SystemState, TRAP_KIND } from './system-state.js';
import { trapExit, trapOf } from './vcpu-trap.js';

/** The guest's vIOMMU runs x2APIC-format destinations (QEMU intel-iommu eim=on). */
const GUEST_EIME = { eime: true } as const;

const guestIrteAt = (s: SystemState, vector: number) =>
  s.topology.layout.guestIrte + vector * IRTE_DWORDS;

/** The guest's IRTE for `vector`: remapped to vCPU `index` (its APIC ID), guest vector `vector`. */
export function writeGuestIrte(s: SystemState, vector: number, index: number, guestVector: number) {
  const irte = encodeIrteRemapped({
    present: 1,
    vector: guestVector,
    destinationId: irteDestinationId(index, GUEST_EIME),
  });
  s.words.set(irte, guestIrteAt(s, vector));
}

/** The target the guest's IRTE names: vCPU index and guest vector. */
function guestIrteTarget(s: SystemState, vector: number) {
  const at = guestIrteAt(s, vector);
  const a = IRTE_REMAPPED.accessors;
  return {
    vcpu: irteApicId(a.destinationId.get(s.words, at), GUEST_EIME),
    vector: a.vector.get(s.words, at),
  };
}

/** The hypervisor processes the guest's invalidation: the route and the host IRTE follow the
 *  guest's IRTE (see the header for how each strategy gets there). */
function vtdProcessInvalidation(s: SystemState, log: EventLog, v: number) {
  const { vector } = trapOf(s, v);
  const t = s.topology;
  const target = guestIrteTarget(s, vector);
  if (target.vcpu < t.vms[t.vectors[vector].vm].vcpus) {
    kvmRetarget(s, log, vector, target.vcpu, target.vector);
  }
  return handledOrWait(s, log, v);
}

/** The handler may reach the host's modify_irte: it runs with irq_2_ir_lock free and then waits
 *  for the host's invalidation (`host-qi.ts`) before the guest's wait completes. */
export const VTD_INVALIDATION: StepProgram = {
  id: 12,
  name: 'kvm_exit(mmio: IQT)',
  source: 'hw/i386/intel_iommu.c vtd_process_inv_queue; hv/flows.ts (vir-direct shadow)',
  steps: [
    {
      name: 'vtd_process_iec_desc',
      wait: WAIT.now,
      enabled: irLockFree,
      run: vtdProcessInvalidation,
    },
    QI_SUBMIT_SYNC,
  ],
};

export const INTEL_IR_SET_AFFINITY: StepProgram = {
  id: 11,
  name: 'intel_ir_set_affinity',
  source: 'drivers/iommu/intel/irq_remapping.c, arch/x86/kernel/apic/vector.c',
  operation: 'affinity',
  steps: [
    apicSetAffinityStep(STEP.done),
    {
      name: 'modify_irte',
      wait: WAIT.now,
      enabled: onRunningVcpu,
      run: (s, _log, thread) => {
        const target = askedTarget(s, thread);
        writeGuestIrte(s, vectorOf(s, thread), target.vcpu, target.vector);
        return STEP.next;
      },
    },
    {
      name: 'qi_flush_iec',
      wait: WAIT.now,
      enabled: onRunningVcpu,
      run: (s, log, thread) => {
        const trap = {
          kind: TRAP_KIND.invalidation,
          vector: vectorOf(s, thread),
          dword: 0,
          value: 0,
        };
        trapExit(s, log, runner(s, thread), trap, EXIT_REASON.eptMisconfig, VTD_INVALIDATION);
        return STEP.done;
      },
    },
  ],
};

/** The guest kernel moves `vector` to `affinityTarget(vcpu, guestVector)` through its IR domain. */
export function viommuMove(s: SystemState, log: EventLog, vector: number, target: number) {
  startGuestOp(s, log, vector, INTEL_IR_SET_AFFINITY, target);
}
