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
// Not here: `no-leak` (needs the teardown as step programs).

import { conserved, heldPending, vectorOutcomes } from '../machine/system.js';
import type { Property } from '../sim/model.js';
import { type CheckState, GHOST } from './machine-model.js';

export const MACHINE_PROPERTY_NAMES = [
  'exactly-once',
  'right-target',
  'notification-target',
  'isolation',
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
];
