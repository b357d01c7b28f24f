// A move under the guest's own interrupt remapping (Linux intel_ir_set_affinity: the vector
// domain, modify_irte in guest memory, qi_flush_iec whose tail-register write traps): under vir
// and vir-direct the host follows at the trapped invalidation, one exit per move (what compare's
// control plane counts for them too), and not before.
import { describe, expect, it } from 'vitest';
import { threadProgram } from '../../src/machine/step-program.js';
import { ACTION, affinityTarget } from '../../src/machine/system-actions.js';
import { createEventLog, EXIT_REASON, eventsOf } from '../../src/machine/system-events.js';
import { irqThread } from '../../src/machine/system-topology.js';
import { quiesce, stepper, system } from './system-helpers.js';

function settled(s: ReturnType<typeof system>) {
  const log = createEventLog();
  quiesce(s, log);
  return eventsOf(log);
}

describe.each(['vir', 'vir-direct'] as const)('a move under %s', (strategy) => {
  it('is one trapped invalidation; the route and the posted IRTE follow the guest IRTE', () => {
    const s = system({ strategy });
    const x = stepper(s);
    x.step(ACTION.setAffinity, 0, affinityTarget(1, 0x41));
    const events = settled(s);
    expect(events.filter((e) => e.kind === 'vmExit').map((e) => e.args[1])).toEqual([
      EXIT_REASON.eptMisconfig,
    ]);
    const update = events.filter((e) => e.kind === 'irteUpdate');
    expect(update.map((e) => e.args.slice(1, 4))).toEqual([[1, 0x41, 1]]);
    x.raise();
    const after = settled(s);
    expect(after.filter((e) => e.kind === 'guestIrq').map((e) => e.args.slice(0, 2))).toEqual([
      [1, 0x41],
    ]);
  });

  it('until the invalidation traps, a raise still goes where the host IRTE says (the old target)', () => {
    const s = system({ strategy });
    const x = stepper(s);
    const old = s.topology.vectors[0].guestVector;
    x.step(ACTION.setAffinity, 0, affinityTarget(1, 0x41));
    const thread = irqThread(s.topology, 0);
    x.step(ACTION.threadStep, thread); // apic_set_affinity
    x.step(ACTION.threadStep, thread); // modify_irte: the guest's IRTE only
    expect(threadProgram(s, thread)).not.toBe(0); // qi_flush_iec not yet
    x.raise();
    const posted = x.step(ACTION.deliver, 0);
    expect(posted[0].args.slice(0, 2)).toEqual([0, old]); // vCPU 0, the old vector
    // Linux keeps the old vector until the first interrupt on the new target: delivered there.
    const events = settled(s);
    expect(events.filter((e) => e.kind === 'guestIrq').map((e) => e.args.slice(0, 2))).toEqual([
      [0, old],
    ]);
  });
});
