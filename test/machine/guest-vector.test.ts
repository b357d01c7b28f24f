// The guest's vector move as Linux does it (arch/x86/kernel/apic/vector.c): the old vector stays
// the irq's until the first interrupt on the new target schedules its cleanup, and the cleanup
// on the old CPU frees it only when it is no longer pending in that CPU's IRR.
import { describe, expect, it } from 'vitest';
import { currentTarget, guestVectorOwner, previousHeld } from '../../src/machine/guest-vector.js';
import { PROGRAMS } from '../../src/machine/programs.js';
import { threadProgram } from '../../src/machine/step-program.js';
import { conserved, quiescent, vectorOutcomes } from '../../src/machine/system.js';
import { ACTION, affinityTarget } from '../../src/machine/system-actions.js';
import { routeTarget, vcpuPcpu } from '../../src/machine/system-state.js';
import { cleanupThread, NO_VECTOR } from '../../src/machine/system-topology.js';
import { kinds, quiesce, stepper, system } from './system-helpers.js';

const NEW_VECTOR = 0x41;

/** One vector on vCPU 0 (guest vector 0x20), moved to vCPU 1 while an interrupt for the old
 *  target is still in vCPU 0's virtual IRR, and one more raised after the move. */
function movedWithOldPending() {
  // A guest MSI under emulate (maskable): __irq_move_irq masks, msi_set_affinity rewrites the
  // pair in place, and unmasks; the steps are tested in guest-msi.test.ts.
  const s = system({ backing: 'msi' });
  const x = stepper(s);
  const old = s.topology.vectors[0].guestVector;
  x.raise();
  x.step(ACTION.deliver, 0); // posted to vCPU 0, notification to its pCPU
  x.step(ACTION.apicDeliver);
  x.step(ACTION.pcpuInterrupt, vcpuPcpu(s, 0)); // processed in guest mode: in vCPU 0's vIRR
  x.guestOp(ACTION.setAffinity, 0, affinityTarget(1, NEW_VECTOR)); // its invalidations too
  x.raise();
  x.step(ACTION.deliver, 0); // posted to vCPU 1
  x.step(ACTION.apicDeliver);
  x.step(ACTION.pcpuInterrupt, vcpuPcpu(s, 1));
  x.step(ACTION.guestHandle, 1); // first interrupt on the new target, in service
  const first = x.step(ACTION.guestEoi, 1); // its ack: irq_complete_move, apic_eoi
  return { s, x, old, first };
}

describe('irq_complete_move and __vector_cleanup', () => {
  it('schedules the cleanup at the ack of the first interrupt on the new target, not at the move', () => {
    const { s, first } = movedWithOldPending();
    expect(kinds(first)).toEqual(['threadReady']);
    expect(threadProgram(s, cleanupThread(s.topology, 0))).toBe(
      PROGRAMS.findIndex((p) => p?.name === 'vector_cleanup'),
    );
  });

  it('re-arms while the old vector is pending in the old vCPU IRR, frees it after', () => {
    const { s, x, old } = movedWithOldPending();
    const thread = cleanupThread(s.topology, 0);
    const again = x.step(ACTION.threadStep, thread);
    expect(kinds(again)).toEqual(['vectorCleanup', 'programStep', 'threadReady']);
    expect(again[0].args.slice(0, 2)).toEqual([0, 0]); // not freed
    expect(guestVectorOwner(s, 0, old)).toBe(0);
    expect(kinds(x.step(ACTION.guestHandle, 0))).toEqual(['guestIrq']);
    x.step(ACTION.guestEoi, 0);
    const freed = x.step(ACTION.threadStep, thread);
    expect(freed[0].args.slice(0, 2)).toEqual([0, 1]);
    expect(previousHeld(s, 0)).toBe(false);
    expect(guestVectorOwner(s, 0, old)).toBe(NO_VECTOR);
  });

  it('refuses a second move while the first one is held (-EBUSY), rewriting nothing', () => {
    const { s, x } = movedWithOldPending();
    const target = currentTarget(s, 0);
    const route = routeTarget(s, 0);
    // __irq_move_irq still masks and unmasks around the refused apic_set_affinity
    const events = kinds(x.guestOp(ACTION.setAffinity, 0, affinityTarget(0, 0x50)));
    expect(events.filter((k) => k === 'affinityRefused')).toHaveLength(1);
    expect(events.filter((k) => k === 'vmmMsiWrite' || k === 'irteUpdate')).toEqual([]);
    expect(currentTarget(s, 0)).toEqual(target);
    expect(routeTarget(s, 0)).toEqual(route);
  });
});

describe('regression: the old vector freed too early', () => {
  // Found by an exhaustive search over the one-step model: the move completed and the previous
  // target was dropped while the old vector was still pending in the vCPU's virtual IRR, which
  // was then dispatched with no owner and counted nowhere.
  it('ends with both interrupts delivered', () => {
    const { s, x } = movedWithOldPending();
    // The cleanup timer fires on vCPU 0 before it has handled the old vector.
    x.step(ACTION.threadStep, cleanupThread(s.topology, 0));
    quiesce(s);
    expect(quiescent(s)).toBe(true);
    expect(conserved(s)).toBe(true);
    expect(vectorOutcomes(s, 0)).toMatchObject({ raised: 2, delivered: 2, lost: 0 });
  });
});

describe('a handler that finds no owner', () => {
  it('counts the interrupt lost for the vector whose freed target it reached', () => {
    const { s, x, old } = movedWithOldPending();
    quiesce(s);
    // A late message to the freed target (the device still had the old pair): inject it as
    // the hardware would leave it, in vCPU 0's virtual IRR.
    const virr = s.topology.layout.vcpuVirr;
    s.words[virr + (old >>> 5)] |= 1 << (old & 31);
    const e = x.step(ACTION.guestHandle, 0);
    expect(kinds(e)).toEqual(['misdirected', 'guestIrq']);
    expect(e[0].args.slice(0, 3)).toEqual([0, old, 0]);
    expect(vectorOutcomes(s, 0).lost).toBe(1);
  });
});
