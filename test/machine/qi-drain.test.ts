// Queued invalidation with its wait and interrupt draining (VT-d 6.5.2, 6.5.2.8, 6.5.5), for the
// host's IR code (Linux modify_irte -> qi_flush_iec -> qi_submit_sync): an interrupt posted
// through the vector's IRTE is still on its way to its LAPIC (its notification in the upstream
// FIFO) when the IRTE is rewritten and flushed. The unit drops the cached copy at once, but the
// wait descriptor completes only after the old interrupt has landed, and the caller's
// qi_submit_sync returns only after the wait has completed.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { irLockFree } from '../../src/machine/host-qi.js';
import { kvmRetarget } from '../../src/machine/kvm-irq-bypass.js';
import { threadEnabled } from '../../src/machine/programs.js';
import {
  conserved,
  describeSystemAction,
  quiescent,
  systemEnabled,
  systemIsEnabled,
  systemStep,
} from '../../src/machine/system.js';
import { ACTION, affinityTarget } from '../../src/machine/system-actions.js';
import { iecCached, upstreamCount } from '../../src/machine/system-delivery.js';
import { createEventLog, eventsOf } from '../../src/machine/system-events.js';
import { POSTED_INTR_VECTOR, UPSTREAM_MESSAGE } from '../../src/machine/system-state.js';
import { irqThread, UPSTREAM_DWORDS } from '../../src/machine/system-topology.js';
import { kinds, quiesce, stepper, system } from './system-helpers.js';

const qiProcessEnabled = (s: ReturnType<typeof system>) =>
  systemIsEnabled(s, { kind: ACTION.qiProcess, a: 0, b: 0 });

/** A raise posted through the vector's IRTE, its notification still in flight to the LAPIC. */
function postedInFlight(opts: Parameters<typeof system>[0]) {
  const s = system(opts);
  const x = stepper(s);
  const irte = s.topology.vectors[0].irte;
  x.step(ACTION.vcpuEnter, 0);
  x.step(ACTION.vcpuEnter, 1);
  x.raise();
  const posted = x.step(ACTION.deliver, 0);
  expect(kinds(posted)).toContain('upstream');
  expect(posted.find((e) => e.kind === 'upstream')?.args[1]).toBe(POSTED_INTR_VECTOR);
  expect(upstreamCount(s)).toBe(1);
  expect(iecCached(s, irte)).toBe(true);
  return { s, x, irte };
}

describe('interrupt draining: the wait completes after the old interrupt lands', () => {
  it('a caller nobody spins on: IEC dropped at once, the wait only after the LAPIC took it', () => {
    const { s, x, irte } = postedInFlight({ backing: 'msi' });
    // KVM's irq bypass re-posting the IRTE from a caller that is one action
    const log = createEventLog();
    kvmRetarget(s, log, 0, 1, 0x41);
    expect(kinds(eventsOf(log, 0))).toEqual(['irteUpdate', 'qiSubmit']);
    // a handler that may call modify_irte (QEMU's, for the guest's next config write) waits for
    // irq_2_ir_lock
    expect(irLockFree(s)).toBe(false);
    expect(describeSystemAction(s, { kind: ACTION.qiProcess, a: 0, b: 0 })).toBe(
      `qiProcess iec IRTE ${irte}`,
    );
    expect(kinds(x.step(ACTION.qiProcess))).toEqual(['iecInvalidate']);
    expect(iecCached(s, irte)).toBe(false);
    // the wait descriptor is at IQH, but the notification remapped through the old IRTE is not
    // at its LAPIC yet
    expect(qiProcessEnabled(s)).toBe(false);
    const landed = x.step(ACTION.apicDeliver);
    expect(kinds(landed)).toEqual(['hostIrrSet', 'qiDrained']);
    expect(qiProcessEnabled(s)).toBe(true);
    expect(kinds(x.step(ACTION.qiProcess))).toEqual(['qiWaitDone']);
    // nobody spins on a one-action caller's wait: the status write released the lock
    expect(irLockFree(s)).toBe(true);
    quiesce(s);
    expect(quiescent(s) && conserved(s)).toBe(true);
  });

  it("a move under pv: KVM's RETARGET handler returns only after the wait", () => {
    const { s, x, irte } = postedInFlight({ strategy: 'pv' });
    x.step(ACTION.setAffinity, 0, affinityTarget(1, 0x41));
    const irq = irqThread(s.topology, 0);
    x.step(ACTION.threadStep, irq); // apic_set_affinity
    const exit = x.step(ACTION.threadStep, irq); // vmcall(RETARGET): the vCPU exits
    const v = exit.find((e) => e.kind === 'vmExit')?.args[0] ?? -1;
    const handled = x.step(ACTION.threadStep, v); // pv_retarget: modify_irte, qi_flush_iec
    expect(kinds(handled)).toEqual(['irteUpdate', 'qiSubmit', 'programStep', 'threadReady']);
    expect(threadEnabled(s, v)).toBe(false); // qi_submit_sync spins
    x.step(ACTION.qiProcess);
    expect(iecCached(s, irte)).toBe(false);
    expect(qiProcessEnabled(s)).toBe(false);
    expect(threadEnabled(s, v)).toBe(false);
    x.step(ACTION.apicDeliver);
    expect(threadEnabled(s, v)).toBe(false); // drained, but the status is not written yet
    x.step(ACTION.qiProcess);
    expect(threadEnabled(s, v)).toBe(true);
    expect(kinds(x.step(ACTION.threadStep, v))).toContain('vcpuResume');
    quiesce(s);
    expect(quiescent(s) && conserved(s)).toBe(true);
  });

  it('nothing in flight through the IRTE: the wait follows the IEC descriptor at once', () => {
    const s = system({ backing: 'msi' });
    const x = stepper(s);
    kvmRetarget(s, createEventLog(), 0, 1, 0x41);
    expect(kinds(x.step(ACTION.qiProcess))).toEqual(['iecInvalidate']);
    expect(kinds(x.step(ACTION.qiProcess))).toEqual(['qiWaitDone']);
    expect(qiProcessEnabled(s)).toBe(false);
  });
});

describe('interrupt draining over random interleavings (property)', () => {
  /** IRTE each interrupt in flight to the LAPICs was remapped through (-1: none), oldest first. */
  const inFlight = (s: ReturnType<typeof system>) => {
    const base = s.topology.layout.upstream;
    return Array.from(
      { length: s.words[base] },
      (_, i) =>
        UPSTREAM_MESSAGE.accessors.irtePlusOne.get(s.words, base + 1 + i * UPSTREAM_DWORDS) - 1,
    );
  };
  /** pv: the move's VMCALL has exited; KVM's handler is the vCPU's next step. */
  function pvExited() {
    const { s, x, irte } = postedInFlight({ strategy: 'pv' });
    x.step(ACTION.setAffinity, 0, affinityTarget(1, 0x41));
    x.step(ACTION.threadStep, irqThread(s.topology, 0));
    x.step(ACTION.threadStep, irqThread(s.topology, 0));
    return { s, irte };
  }
  /** emulate: the guest's MSI move (no mask bits) is about to write the data that re-routes. */
  function msiBeforeDataWrite() {
    const { s, x, irte } = postedInFlight({ backing: 'msi', msiMask: false });
    x.guestOp(
      ACTION.setAffinity,
      0,
      affinityTarget(1, 0x41),
      'pci_write_config_word(DATA_64) [temporary]',
    );
    expect(upstreamCount(s)).toBe(1);
    return { s, irte };
  }
  it.each([
    ['emulate, QEMU re-routing a guest MSI', msiBeforeDataWrite],
    ['pv, the RETARGET handler', pvExited],
  ])('%s: no wait completes before what its invalidation must drain has landed', (_, start) => {
    let drained = 0; // runs where a wait had something to drain (the property is not vacuous)
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 0xffff }), { minLength: 40, maxLength: 80 }),
        (choices) => {
          // from an interrupt in flight through the IRTE (as in the schedules above)
          const { s, irte } = start();
          const log = createEventLog();
          let raises = 3;
          let moves = [affinityTarget(1, 0x41), affinityTarget(0, 0x42)];
          // interrupts ahead in the FIFO that went through the invalidated IRTE before it
          let mustLand = 0;
          for (const c of choices) {
            const candidates = systemEnabled(s).filter(
              (a) => a.kind !== ACTION.raise || raises > 0,
            );
            const move = { kind: ACTION.setAffinity, a: 0, b: moves[0] ?? 0 } as const;
            if (moves.length > 0 && systemIsEnabled(s, move)) candidates.push(move);
            if (candidates.length === 0) break;
            const pick = candidates[c % candidates.length];
            if (pick.kind === ACTION.raise) raises--;
            if (pick === move) moves = moves.slice(1);
            const before = inFlight(s);
            const from = log.length;
            systemStep(s, pick, log);
            for (const e of eventsOf(log, from)) {
              if (e.kind === 'iecInvalidate') mustLand = before.lastIndexOf(irte) + 1;
              if (e.kind === 'qiDrained') drained++;
              if (e.kind === 'qiWaitDone') expect(mustLand).toBe(0);
            }
            if (pick.kind === ACTION.apicDeliver) mustLand = Math.max(0, mustLand - 1);
          }
          quiesce(s);
          expect(conserved(s)).toBe(true);
        },
      ),
      { numRuns: 150, seed: 0x6552 },
    );
    expect(drained).toBeGreaterThan(0);
  });
});
