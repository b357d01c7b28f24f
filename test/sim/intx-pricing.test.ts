// The host-side work on an INTx backing is on the delivery path: VFIO's handler reads the
// subdevice's status register (`mmioReadNs`, a non-posted read) before it injects. Same scenario,
// same seed, two prices of that read: every interrupt goes through the one line, none is
// coalesced at this rate, so each delivery is later by exactly the difference, and the count of
// deliveries does not change. A posted MSI-X path does not read the register: its latency does not
// move.
import { describe, expect, it } from 'vitest';
import { buildScenario, runWorkload } from '../../src/scenario/build.js';
import { loadScenario } from '../../src/scenario/load.js';
import { resolveCosts } from '../../src/sim/cost-model.js';
import { simulateSystem } from '../../src/sim/system-sim.js';
import { subdeviceScenario } from '../machine/system-helpers.js';

const scenario = (backing: 'intx' | 'msix') =>
  subdeviceScenario(
    backing,
    'workload: { sources: [{ vm: vm0, assign: 0, rate: 20k/s, distribution: fixed }] }',
  );

function meanLatency(backing: 'intx' | 'msix', mmioReadNs: number) {
  const s = loadScenario(scenario(backing), `${backing}.yaml`);
  const r = simulateSystem(runWorkload(buildScenario(s)), {
    durationNs: s.run.duration,
    seed: 1,
    costs: resolveCosts({ mmioReadNs }, { nested: false }),
    trace: null,
  });
  return { delivered: r.interrupts.delivered, sum: r.latency.meanNs * r.latency.count };
}

describe('the INTx status-register read is priced on the delivery path', () => {
  it('INTx backing: each delivery is later by exactly the read cost difference', () => {
    const cheap = meanLatency('intx', 0);
    const dear = meanLatency('intx', 5000);
    expect(cheap.delivered).toBeGreaterThan(0);
    expect(dear.delivered).toBe(cheap.delivered);
    expect(Math.round(dear.sum - cheap.sum)).toBe(5000 * cheap.delivered);
  });
  it('posted MSI-X backing: no register read, no change', () => {
    expect(meanLatency('msix', 5000)).toEqual(meanLatency('msix', 0));
  });
});
