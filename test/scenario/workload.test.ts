// One run feeds both planes: the workload's control actions run on the built guest kernels, and
// the data plane replays them carrying what each guest kernel decided. Checked against the guest
// kernels themselves: after the simulation, every vector the workload moved is routed (KVM's
// route in the state) to exactly the vCPU and vector its guest kernel's irq now targets; the
// teardown then gives every host resource back.
import { describe, expect, it } from 'vitest';
import { heldByHost } from '../../src/hv/guest-run.js';
import { RuleError } from '../../src/hw/errors.js';
import { decodeMsiMessage } from '../../src/hw/x86/msi-message.js';
import { irqTarget } from '../../src/kernel/manage.js';
import { ROUTE_DWORDS } from '../../src/machine/system-topology.js';
import { buildScenario, runWorkload, teardownBuilt } from '../../src/scenario/build.js';
import { loadScenario } from '../../src/scenario/load.js';
import { STRATEGIES } from '../../src/scenario/schema.js';
import { resolveCosts } from '../../src/sim/cost-model.js';
import { simulateSystem } from '../../src/sim/system-sim.js';
import { SHIPPED, shippedText } from '../shipped-scenarios.js';

function loadable(file: string) {
  return STRATEGIES.flatMap((strategy) => {
    try {
      return [{ strategy, scenario: loadScenario(shippedText(file), file, { strategy }) }];
    } catch (e) {
      if (e instanceof RuleError) return []; // a rule refuses this strategy here
      throw e;
    }
  });
}

describe.each(SHIPPED)('%s', (file) => {
  it.each(loadable(file))(
    '$strategy: moved vectors end where their guest kernel sent them',
    ({ scenario }) => {
      const built = buildScenario(scenario);
      const input = runWorkload(built);
      const moves = scenario.workload.actions.filter((a) => a.do === 'set-affinity');
      expect(moves.length).toBeGreaterThan(0);
      const sim = simulateSystem(input, {
        durationNs: scenario.run.duration,
        seed: scenario.run.seed,
        costs: resolveCosts(scenario.run.costs, { nested: scenario.host.nested }),
        trace: null,
      });
      const s = sim.finalState;
      let checked = 0;
      for (const m of moves) {
        const vm = scenario.vms.findIndex((v) => v.name === m.vm);
        const vector = built.assignmentVectors[vm][m.assign][m.vector];
        const guest = built.flows.guests.vms[vm];
        const irq = built.spec.vectors[vector].guestIrq;
        if (guest.kernel.descs[irq] === undefined) continue; // freed or unplugged later
        const target = irqTarget(guest.kernel, irq);
        if (target === null) continue;
        const at = s.topology.layout.vectorRoute + vector * ROUTE_DWORDS;
        const msg = decodeMsiMessage(s.words[at], s.words[at + 1], s.words[at + 2]);
        expect(msg.format).toBe('compatibility');
        if (msg.format !== 'compatibility') continue;
        expect({ vcpu: msg.destinationId, vector: msg.vector }).toEqual({
          vcpu: target.cpu,
          vector: target.vector,
        });
        checked++;
      }
      expect(checked).toBeGreaterThan(0);
      teardownBuilt(built);
      expect(heldByHost(built.flows.guests)).toBe(0);
    },
  );
});
