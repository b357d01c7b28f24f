// The pv ABI's RETARGET (docs/pv-abi.md §9) as the machine runs a guest's move under `pv`: the
// guest's vector domain first, then one VMCALL; KVM's handler re-points the route and the posted
// IRTE; the device's entry is not touched.
import { describe, expect, it } from 'vitest';
import { irtePosted } from '../../src/machine/kvm-irq-bypass.js';
import { ACTION, affinityTarget } from '../../src/machine/system-actions.js';
import { createEventLog, EXIT_REASON, eventsOf } from '../../src/machine/system-events.js';
import { quiesce, stepper, system } from './system-helpers.js';

function settled(s: ReturnType<typeof system>) {
  const log = createEventLog();
  quiesce(s, log);
  return eventsOf(log);
}

describe('a move under pv', () => {
  it('is one VMCALL exit; the IRTE is posted to the new vCPU and vector; the entry is unchanged', () => {
    const s = system({ strategy: 'pv' });
    const x = stepper(s);
    const st = s.topology.stores[s.topology.vectors[0].store];
    const entry = s.words.slice(st.entriesAt, st.entriesAt + 4);
    x.step(ACTION.setAffinity, 0, affinityTarget(1, 0x41));
    const events = settled(s);
    const exits = events.filter((e) => e.kind === 'vmExit');
    expect(exits.map((e) => e.args[1])).toEqual([EXIT_REASON.vmcall]);
    const update = events.filter((e) => e.kind === 'irteUpdate');
    expect(update.map((e) => e.args.slice(1, 4))).toEqual([[1, 0x41, 1]]);
    expect(irtePosted(s, 0)).toBe(true);
    expect(s.words.slice(st.entriesAt, st.entriesAt + 4)).toEqual(entry);
    x.raise();
    const after = settled(s);
    expect(after.filter((e) => e.kind === 'guestIrq').map((e) => e.args.slice(0, 2))).toEqual([
      [1, 0x41],
    ]);
  });

  it('makes no hypercall when the vector domain refuses the move (-EBUSY while one is held)', () => {
    const s = system({ strategy: 'pv' });
    const x = stepper(s);
    x.step(ACTION.setAffinity, 0, affinityTarget(1, 0x41));
    settled(s); // moved; the old target is held until the first interrupt on the new one
    x.step(ACTION.setAffinity, 0, affinityTarget(0, 0x42));
    const events = settled(s);
    expect(events.filter((e) => e.kind === 'affinityRefused')).toHaveLength(1);
    expect(events.filter((e) => e.kind === 'vmExit' && e.args[1] === EXIT_REASON.vmcall)).toEqual(
      [],
    );
  });
});
