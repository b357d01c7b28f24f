// The guest's interrupt in two steps: virtual-interrupt delivery takes the vector from the vIRR
// into the vISR (SDM Vol. 3C "Virtual-Interrupt Delivery"), and the guest's flow handler acks it
// later (Linux handle_edge_irq -> apic_ack_edge: irq_complete_move, apic_eoi; EOI
// virtualization clears the vISR bit). In between, the SDM's rule is that a vector arriving again
// sets its IRR bit (one IRR and one ISR bit per vector can be outstanding), so it is delivered
// after the EOI, not collapsed; Linux runs the handler with interrupts disabled (the interrupt
// gate clears IF), so no other vector is taken before the EOI, and after it the highest pending
// one is taken first. The vector cleanup, a timer callback on the old CPU, never runs inside a
// handler there.
import { describe, expect, it } from 'vitest';
import { previousHeld } from '../../src/machine/guest-vector.js';
import { threadEnabled } from '../../src/machine/programs.js';
import { systemIsEnabled, vectorOutcomes } from '../../src/machine/system.js';
import { ACTION, affinityTarget } from '../../src/machine/system-actions.js';
import { setGuestApic, vcpuPcpu } from '../../src/machine/system-state.js';
import { cleanupThread } from '../../src/machine/system-topology.js';
import { virrAt, visrAt } from '../../src/machine/system-vcpu.js';
import { kinds, stepper, system } from './system-helpers.js';

const bitSet = (w: Uint32Array, at: number, vector: number) =>
  ((w[at + (vector >>> 5)] >>> (vector & 31)) & 1) === 1;

/** Raise vector 0 and carry it, posted, into the virtual IRR of the vCPU in guest mode on `pcpu`. */
function raiseIntoVirr(x: ReturnType<typeof stepper>, pcpu: number) {
  x.raise();
  x.step(ACTION.deliver, 0);
  x.step(ACTION.apicDeliver);
  return x.step(ACTION.pcpuInterrupt, pcpu);
}

function inGuest() {
  const s = system({ vectors: 2 });
  const x = stepper(s);
  x.step(ACTION.vcpuEnter, 0);
  x.step(ACTION.vcpuEnter, 1);
  return { s, x, vector: s.topology.vectors[0].guestVector, pcpu: vcpuPcpu(s, 0) };
}

describe('dispatch and EOI are two steps of the guest', () => {
  it('dispatch moves the vector from the vIRR to the vISR; the EOI clears the vISR bit', () => {
    const { s, x, vector, pcpu } = inGuest();
    raiseIntoVirr(x, pcpu);
    expect(bitSet(s.words, virrAt(s, 0), vector)).toBe(true);
    expect(kinds(x.step(ACTION.guestHandle, 0))).toEqual(['guestIrq']);
    expect(bitSet(s.words, virrAt(s, 0), vector)).toBe(false);
    expect(bitSet(s.words, visrAt(s, 0), vector)).toBe(true);
    expect(systemIsEnabled(s, { kind: ACTION.guestEoi, a: 0, b: 0 })).toBe(true);
    expect(systemIsEnabled(s, { kind: ACTION.vcpuHalt, a: 0, b: 0 })).toBe(false);
    x.step(ACTION.guestEoi, 0);
    expect(bitSet(s.words, visrAt(s, 0), vector)).toBe(false);
    expect(systemIsEnabled(s, { kind: ACTION.guestEoi, a: 0, b: 0 })).toBe(false);
  });

  it('the same vector raised between dispatch and EOI waits in the vIRR and is delivered after', () => {
    const { s, x, vector, pcpu } = inGuest();
    raiseIntoVirr(x, pcpu);
    x.step(ACTION.guestHandle, 0);
    const second = raiseIntoVirr(x, pcpu);
    expect(kinds(second)).toEqual(['piProcessed']); // no coalescing: its vIRR bit was clear
    expect(bitSet(s.words, virrAt(s, 0), vector)).toBe(true);
    expect(systemIsEnabled(s, { kind: ACTION.guestHandle, a: 0, b: 0 })).toBe(false);
    x.step(ACTION.guestEoi, 0);
    expect(kinds(x.step(ACTION.guestHandle, 0))).toEqual(['guestIrq']);
    x.step(ACTION.guestEoi, 0);
    expect(vectorOutcomes(s, 0)).toEqual({ raised: 2, delivered: 2, coalesced: 0, lost: 0 });
  });

  it('a higher-class vector waits for the EOI (IF is clear in the handler), then goes first', () => {
    const { s, x, vector, pcpu } = inGuest();
    const higher = 0x61; // class 6, above the in-service vector's class 2
    setGuestApic(s, 1, 0, higher); // the guest kernel's vector_irq: vector 1 owns 0x61 on vCPU 0
    raiseIntoVirr(x, pcpu);
    x.step(ACTION.guestHandle, 0);
    raiseIntoVirr(x, pcpu); // 0x20 again, pending behind the one in service
    s.words[virrAt(s, 0) + (higher >>> 5)] |= 1 << (higher & 31); // as posting would leave it
    expect(systemIsEnabled(s, { kind: ACTION.guestHandle, a: 0, b: 0 })).toBe(false);
    x.step(ACTION.guestEoi, 0);
    const next = x.step(ACTION.guestHandle, 0);
    expect(next[0].args.slice(0, 3)).toEqual([0, higher, 1]); // vCPU 0, 0x61, vector 1
    x.step(ACTION.guestEoi, 0);
    expect(x.step(ACTION.guestHandle, 0)[0].args.slice(0, 3)).toEqual([0, vector, 0]);
  });
});

describe('the vector cleanup and an old vector in service', () => {
  it('does not run on the old vCPU between the old vector dispatch and its EOI', () => {
    // A guest MSI under emulate, moved as in guest-vector.test.ts (its invalidations included).
    const s = system({ backing: 'msi' });
    const x = stepper(s);
    x.step(ACTION.vcpuEnter, 0);
    x.step(ACTION.vcpuEnter, 1);
    raiseIntoVirr(x, vcpuPcpu(s, 0)); // pending on the old target
    x.guestOp(ACTION.setAffinity, 0, affinityTarget(1, 0x41));
    x.raise();
    x.step(ACTION.deliver, 0);
    x.step(ACTION.apicDeliver);
    x.step(ACTION.pcpuInterrupt, vcpuPcpu(s, 1));
    x.step(ACTION.guestHandle, 1);
    x.step(ACTION.guestEoi, 1); // irq_complete_move: the cleanup is armed on vCPU 0
    const cleanup = cleanupThread(s.topology, 0);
    x.step(ACTION.guestHandle, 0); // the old vector, now in service on vCPU 0
    expect(threadEnabled(s, cleanup)).toBe(false);
    x.step(ACTION.guestEoi, 0);
    expect(threadEnabled(s, cleanup)).toBe(true);
    x.step(ACTION.threadStep, cleanup);
    expect(previousHeld(s, 0)).toBe(false);
    expect(vectorOutcomes(s, 0)).toEqual({ raised: 2, delivered: 2, coalesced: 0, lost: 0 });
  });
});
