// KVM's irq bypass for an assigned vector's host IRTE (arch/x86/kvm/vmx/posted_intr.c
// vmx_pi_update_irte -> irq_set_vcpu_affinity -> drivers/iommu/intel/irq_remapping.c
// intel_ir_set_vcpu_affinity): with a vCPU, the IRTE is rewritten in posted format for that vCPU's
// descriptor and guest vector; without (the producer went away, e.g. VFIO's trigger moved to the
// VMM's eventfd), it goes back to the remapped entry the host's IR domain keeps (irte_entry: the
// host vector and CPU of VFIO's irq). Either way modify_irte then queues the interrupt entry cache
// invalidation and its wait (qi_flush_iec, `host-qi.ts`), which the remapping unit processes as
// its own actions; the caller holds irq_2_ir_lock until the wait completes.
//
// Invariants: the source-id fields (SVT, SQ, SID) never change: they are the device's, set when
// the host allocated the IRTE.

import {
  encodeIrtePosted,
  encodeIrteRemapped,
  IRTE_DWORDS,
  IRTE_MODE,
  IRTE_POSTED,
  irteDestinationId,
  pdaFields,
} from '../hw/vtd/irte.js';
import { qiFlushIec } from './host-qi.js';
import { EVENT, type EventLog, emit } from './system-events.js';
import { pidAddress, type SystemState, setRouteTarget, writeHostIrte } from './system-state.js';
import { vcpuId } from './system-topology.js';

const irteAt = (s: SystemState, irte: number) => s.topology.layout.irt + irte * IRTE_DWORDS;

/** Whether VFIO registers an irq bypass producer for the vector's host irq, so KVM can post it:
 *  an MSI, MSI-X or IMS host irq with its own IRTE (VFIO's INTx has none). */
export function hasBypassProducer(s: SystemState, vector: number): boolean {
  const spec = s.topology.vectors[vector];
  return s.topology.host.posted && spec.irte >= 0 && s.topology.stores[spec.store].kind !== 'intx';
}

/** Whether the vector's host IRTE is in posted format now. */
export function irtePosted(s: SystemState, vector: number): boolean {
  const irte = s.topology.vectors[vector].irte;
  return (
    irte >= 0 && IRTE_POSTED.accessors.irteMode.get(s.words, irteAt(s, irte)) === IRTE_MODE.posted
  );
}

/** KVM's routing update for a vector's new target (KVM_SET_GSI_ROUTING ->
 *  kvm_irq_routing_update -> kvm_arch_update_irqfd_routing): the route names vCPU `index`, guest
 *  vector `guestVector`, and a posted IRTE follows it. */
export function kvmRetarget(
  s: SystemState,
  log: EventLog,
  vector: number,
  index: number,
  guestVector: number,
): void {
  setRouteTarget(s, vector, index, guestVector);
  if (irtePosted(s, vector)) piUpdateIrte(s, log, vector, index, guestVector, true);
}

/** vmx_pi_update_irte(set) for the route's target, vCPU `index` of the vector's VM and guest
 *  vector `guestVector`: posted there, or (`set` false) back to remapped. */
export function piUpdateIrte(
  s: SystemState,
  log: EventLog,
  vector: number,
  index: number,
  guestVector: number,
  set: boolean,
) {
  const t = s.topology;
  const spec = t.vectors[vector];
  const at = irteAt(s, spec.irte);
  const keep = IRTE_POSTED.accessors;
  const sid = {
    present: 1,
    sourceId: keep.sourceId.get(s.words, at),
    sourceIdQualifier: keep.sourceIdQualifier.get(s.words, at),
    sourceValidationType: keep.sourceValidationType.get(s.words, at),
  };
  const target = vcpuId(t, spec.vm, index);
  const destinationId = irteDestinationId(spec.hostCpu, { eime: t.remapUnit.eime });
  const irte = set
    ? encodeIrtePosted({ ...sid, virtualVector: guestVector, ...pdaFields(pidAddress(target)) })
    : encodeIrteRemapped({ ...sid, vector: spec.hostVector, destinationId });
  writeHostIrte(s, spec.irte, irte);
  emit(log, EVENT.irteUpdate, spec.irte, target, guestVector, set ? 1 : 0);
  qiFlushIec(s, log, spec.irte);
}
