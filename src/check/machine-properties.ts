// The properties the explorer checks on the machine (DESIGN.md "What is measured and what is
// proved"; issue 11 item 2), each read from the words of a check state (`machine-model.ts`):
//
//   exactly-once         always: no vector has more outcomes (delivered, coalesced, lost) than
//                        raises, and none is lost; at every dead end: every raise is delivered or
//                        coalesced, or still held by the pending bit of its masked entry (the
//                        device's or the VMM's virtual PBA), so nothing is left in a FIFO, a PIR
//                        or an IRR (`conserved`, `heldPending` of machine/system.ts).
//   right-target         always: no guest handler ran for a vector no assigned vector owns on
//                        that vCPU (`guest-vector.ts guestVectorOwner`), and no interrupt was
//                        posted or injected (the message's tag: its vector) anywhere but the
//                        guest's current target for it, the previous one while a move holds it,
//                        or the slot msi_set_affinity marked VECTOR_RETRIGGERED for it: a
//                        half-written or stale pair (the ghost bit the step sets).
//   notification-target  always: every posted notification reached the pCPU its vCPU is loaded
//                        on (POSTED_INTR_VECTOR) or blocked on (the wake-up vector); one sent to
//                        a pCPU it left is a wasted interrupt.
//   isolation            always: no interrupt a VM's device sent (the message's tag: the sender's
//                        assigned vector) is posted to or injected into another VM's vCPU, or
//                        accepted by a host LAPIC on a host vector that is not the sender's own,
//                        whatever the hostile guests write (the `hostile` actor).
//   takes-effect         at every dead end: each vector of a device still present is delivered
//                        where the guest last put it (KVM's route, and a posted IRTE's descriptor
//                        and vector, name its current target): a move the hypervisor never saw
//                        (an in-place rewrite QEMU ignores) leaves it at the old one.
// Not here: `no-leak` (needs the teardown as step programs).

import { IRTE_DWORDS, IRTE_POSTED, pdaFields } from '../hw/vtd/irte.js';
import { currentTarget } from '../machine/guest-vector.js';
import { irtePosted } from '../machine/kvm-irq-bypass.js';
import { conserved, heldPending, vectorOutcomes } from '../machine/system.js';
import { pidAddress, routeTarget } from '../machine/system-state.js';
import { vcpuId } from '../machine/system-topology.js';
import type { Property } from '../sim/model.js';
import { type CheckState, GHOST } from './machine-model.js';

export const MACHINE_PROPERTY_NAMES = [
  'exactly-once',
  'right-target',
  'notification-target',
  'isolation',
  'takes-effect',
] as const;
export type MachinePropertyName = (typeof MACHINE_PROPERTY_NAMES)[number];

/** No vector delivered twice, none lost. */
function neverDuplicatedNorLost(c: CheckState): boolean {
  const s = c.system;
  for (let v = 0; v < s.topology.vectors.length; v++) {
    const o = vectorOutcomes(s, v);
    if (o.lost > 0 || o.delivered + o.coalesced > o.raised) return false;
  }
  return true;
}

/** Every raise delivered, coalesced or held by a masked entry's pending bit. */
function allAccounted(c: CheckState): boolean {
  const s = c.system;
  if (!conserved(s)) return false;
  for (let v = 0; v < s.topology.vectors.length; v++) {
    const o = vectorOutcomes(s, v);
    if (o.raised !== o.delivered + o.coalesced + heldPending(s, v)) return false;
  }
  return true;
}

/** Every vector of a device still present is delivered where the guest last put it: KVM's
 *  route, and a posted IRTE's descriptor and vector, name the guest's current target. */
function movesTookEffect(c: CheckState): boolean {
  const s = c.system;
  const t = s.topology;
  for (let v = 0; v < t.vectors.length; v++) {
    const spec = t.vectors[v];
    if (s.words[t.stores[spec.store].unpluggedAt] === 1) continue;
    const now = currentTarget(s, v);
    const route = routeTarget(s, v);
    if (route.vcpu !== now.vcpu || route.vector !== now.vector) return false;
    if (!irtePosted(s, v)) continue;
    const at = t.layout.irt + spec.irte * IRTE_DWORDS;
    const want = pdaFields(pidAddress(vcpuId(t, spec.vm, now.vcpu)));
    const a = IRTE_POSTED.accessors;
    if (a.virtualVector.get(s.words, at) !== now.vector) return false;
    if (a.pdaLow.get(s.words, at) !== want.pdaLow || a.pdaHigh.get(s.words, at) !== want.pdaHigh) {
      return false;
    }
  }
  return true;
}

/** The ghost word is the last word of a check state. */
const ghostClear = (bit: number) => (c: CheckState) => (c.words[c.words.length - 1] & bit) === 0;

export const MACHINE_PROPERTIES: readonly (Property<CheckState> & {
  readonly name: MachinePropertyName;
})[] = [
  { name: 'exactly-once', expect: 'always', holds: neverDuplicatedNorLost },
  { name: 'exactly-once', expect: 'at-end', holds: allAccounted },
  { name: 'right-target', expect: 'always', holds: ghostClear(GHOST.misdirected) },
  {
    name: 'notification-target',
    expect: 'always',
    holds: ghostClear(GHOST.notificationMisdirected),
  },
  { name: 'isolation', expect: 'always', holds: ghostClear(GHOST.crossedVm) },
  { name: 'takes-effect', expect: 'at-end', holds: movesTookEffect },
];
