// The explorer over the machine (src/check/machine-model.ts, machine-properties.ts): its state
// space cross-checked against an independent enumeration (a plain JS breadth-first search over
// systemEnabled/systemStep with the check's bounds, states as strings in a Set), verdicts the same
// with POR on and off, DFS and BFS, full states and fingerprints; the raise budget and the
// workload order respected on every path; and a counterexample replayed through the simulator
// (replaySystem) reaches the same violating state, word for word.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { explore } from '../../src/check/explore.js';
import { type CheckState, machineCheckModel } from '../../src/check/machine-model.js';
import { MACHINE_PROPERTIES } from '../../src/check/machine-properties.js';
import { adversarialMessages, probeMessage } from '../../src/hv/isolation.js';
import {
  systemEnabled,
  systemIsEnabled,
  systemStep,
  vectorOutcomes,
} from '../../src/machine/system.js';
import { ACTION, type SystemAction } from '../../src/machine/system-actions.js';
import { clearEvents, createEventLog } from '../../src/machine/system-events.js';
import { cloneSystemState } from '../../src/machine/system-state.js';
import { buildScenario, runWorkload } from '../../src/scenario/build.js';
import { loadScenario } from '../../src/scenario/load.js';
import { checkScenario } from '../../src/scenario/run-check.js';
import type { Strategy } from '../../src/scenario/schema.js';
import { resolveCosts } from '../../src/sim/cost-model.js';
import { replaySystem } from '../../src/sim/system-sim.js';

const text = (f: string) =>
  readFileSync(new URL(`../../scenarios/check/${f}`, import.meta.url), 'utf8');

function inputOf(file: string, strategy: Strategy) {
  const scenario = loadScenario(text(file), file, { strategy });
  return runWorkload(buildScenario(scenario, { strategy }));
}

/** The check's bounds over pi-migration: two raises of its one vector, the migration once. */
function piMigration(strategy: Strategy, raises: number) {
  const input = inputOf('pi-migration.yaml', strategy);
  const spec = {
    raises: { total: raises },
    raisable: [0],
    inputs: input.inputs.map((i) => ({ kind: i.kind, a: i.a, b: i.b, times: 1 })),
    iecEviction: false,
  };
  return { input, spec, model: machineCheckModel('pi', input.initial, spec, MACHINE_PROPERTIES) };
}

/** Reachable states counted with no code of src/check: breadth-first over the machine's own
 *  functions, raises and the workload's inputs bounded as the check section says. */
function naiveCount(input: ReturnType<typeof inputOf>, raises: number): number {
  const log = createEventLog();
  type Node = { s: ReturnType<typeof cloneSystemState>; raises: number; next: number };
  const key = (n: Node) => `${n.raises}/${n.next}/${n.s.words.join(',')}`;
  const start: Node = { s: cloneSystemState(input.initial), raises, next: 0 };
  const seen = new Set([key(start)]);
  const queue = [start];
  while (queue.length > 0) {
    const n = queue.shift() as Node;
    const moves: { a: SystemAction; raises: number; next: number }[] = [];
    for (const a of systemEnabled(n.s)) {
      if (a.kind === ACTION.iecEvict) continue;
      if (a.kind === ACTION.raise) {
        if (n.raises > 0) moves.push({ a, raises: n.raises - 1, next: n.next });
        continue;
      }
      moves.push({ a, raises: n.raises, next: n.next });
    }
    const offered = input.inputs[n.next];
    if (offered) {
      const a = { kind: offered.kind, a: offered.a, b: offered.b } as SystemAction;
      if (systemIsEnabled(n.s, a)) moves.push({ a, raises: n.raises, next: n.next + 1 });
    }
    for (const m of moves) {
      const s = cloneSystemState(n.s);
      systemStep(s, m.a, log);
      clearEvents(log);
      const child = { s, raises: m.raises, next: m.next };
      const k = key(child);
      if (!seen.has(k)) {
        seen.add(k);
        queue.push(child);
      }
    }
  }
  return seen.size;
}

describe('pi-migration: a vCPU halting, waking and migrating while posted interrupts land', () => {
  it.each(['emulate', 'pv'] as const)(
    'under %s the explorer stores exactly the states an independent enumeration reaches',
    (strategy) => {
      const { input, model } = piMigration(strategy, 2);
      const r = explore(model.packed, { properties: ['exactly-once'] });
      expect(r.verdict).toBe('holds');
      expect(r.states).toBe(naiveCount(input, 2));
    },
  );

  it('every property holds, in DFS and BFS, with POR on and off, full states and fingerprints', () => {
    const { model } = piMigration('emulate', 2);
    const runs = (['dfs', 'bfs'] as const).flatMap((search) =>
      [true, false].flatMap((por) =>
        (['full', 'fingerprint'] as const).map((store) =>
          explore(model.packed, { search, por, store }),
        ),
      ),
    );
    expect(new Set(runs.map((r) => r.verdict))).toEqual(new Set(['holds']));
    expect(new Set(runs.map((r) => r.states)).size).toBe(1);
    expect(runs[0].properties).toEqual([
      'exactly-once',
      'right-target',
      'notification-target',
      'isolation',
      'exactly-once',
      'takes-effect',
    ]);
  });

  it('a budget of 0 raises leaves every vector with nothing raised in every state', () => {
    const zero = piMigration('emulate', 0);
    const never = {
      name: 'nothing-raised',
      expect: 'always' as const,
      holds: (c: CheckState) => vectorOutcomes(c.system, 0).raised === 0,
    };
    const m = machineCheckModel('pi0', zero.input.initial, zero.spec, [never]);
    expect(explore(m.packed).verdict).toBe('holds');
    const some = { ...never, name: 'two-raised', expect: 'sometimes' as const };
    const two = piMigration('emulate', 2);
    const m2 = machineCheckModel('pi2', two.input.initial, two.spec, [
      { ...some, holds: (c: CheckState) => vectorOutcomes(c.system, 0).raised === 2 },
      {
        ...some,
        name: 'three',
        holds: (c: CheckState) => vectorOutcomes(c.system, 0).raised === 3,
      },
    ]);
    expect(explore(m2.packed, { properties: ['two-raised'] }).verdict).toBe('holds');
    expect(explore(m2.packed, { properties: ['three'] }).verdict).toBe('violated');
  });
});

describe('the check section bounds the search', () => {
  const states = (yaml: string, strategy: Strategy = 'pv') => {
    const { result } = checkScenario(yaml, 'pi.yaml', {
      strategies: [strategy],
      property: 'exactly-once',
    });
    const entry = result.strategies[strategy];
    if (!('properties' in entry)) throw new Error(`${strategy} rejected`);
    return entry.properties['exactly-once'].states;
  };
  const pi = text('pi-migration.yaml');

  it('migrate-vcpu: 0 offers no migration: the states an enumeration without inputs reaches', () => {
    const input = inputOf('pi-migration.yaml', 'pv');
    const without = naiveCount({ ...input, inputs: [] }, 2);
    const zero = pi.replace('  raises: 2\n', '  raises: 2\n  operations: { migrate-vcpu: 0 }\n');
    expect(states(zero)).toBe(without);
    expect(states(pi)).toBe(naiveCount(input, 2));
    expect(states(pi)).toBeGreaterThan(without);
  });

  it('raises { perVector: 2 } of the one raisable vector is raises: 2', () => {
    expect(states(pi.replace('  raises: 2\n', '  raises: { perVector: 2 }\n'))).toBe(states(pi));
  });

  it('without the migration actor the input is not offered either', () => {
    const noMigration = pi.replace('actors: [device, migration]', 'actors: [device]');
    const input = inputOf('pi-migration.yaml', 'pv');
    expect(states(noMigration)).toBe(naiveCount({ ...input, inputs: [] }, 2));
  });
});

describe('msix-rewrite-masked: the workload order of one vector is kept on every path', () => {
  it('unmask is never offered before mask and set-affinity have been', () => {
    const input = inputOf('msix-rewrite-masked.yaml', 'vir');
    const kinds = input.inputs.map((i) => i.kind);
    expect(kinds).toEqual([ACTION.mask, ACTION.setAffinity, ACTION.unmask]);
    const spec = {
      raises: { total: 1 },
      raisable: [0],
      inputs: input.inputs.map((i) => ({ kind: i.kind, a: i.a, b: i.b, times: 1 })),
      iecEviction: false,
    };
    const probe = machineCheckModel('order', input.initial, spec, []);
    const at = probe.layout.inputs;
    const ordered = {
      name: 'in-order',
      expect: 'always' as const,
      holds: (c: CheckState) =>
        (c.words[at + 2] === 1 || c.words[at + 1] === 0) &&
        (c.words[at + 1] === 1 || c.words[at] === 0),
    };
    const m = machineCheckModel('order', input.initial, spec, [ordered]);
    const r = explore(m.packed);
    expect(r.verdict).toBe('holds');
    expect(r.states).toBeGreaterThan(100);
  });
});

describe('shared-rid-hostile: isolation agrees with the isolation analysis (hv/isolation.ts)', () => {
  const { result } = checkScenario(text('shared-rid-hostile.yaml'), 'h.yaml', {
    property: 'isolation',
    search: 'bfs',
  });
  it.each(['vir', 'vir-direct', 'pv', 'pv-batch'] as const)(
    'under %s the explorer breaks isolation iff a probe of the same messages reaches the victim',
    (strategy) => {
      const scenario = loadScenario(text('shared-rid-hostile.yaml'), 'h.yaml', { strategy });
      const input = runWorkload(buildScenario(scenario, { strategy }));
      const probes = adversarialMessages(input.initial, 0).slice(0, 4);
      const breach = probes.some((message) =>
        probeMessage(input.initial, { vm: 0, strategy, message }).some((f) => f.breach),
      );
      const entry = result.strategies[strategy];
      if (!('properties' in entry)) throw new Error(`${strategy} rejected`);
      const p = entry.properties.isolation;
      expect(p.verdict).toBe(breach ? 'violated' : 'holds');
      if (breach) expect(p.counterexample?.[0].action).toMatch(/^hostile write dsa0\/ims entry 0/);
    },
  );
});

describe('msi-affinity-onestep: a counterexample replays in the simulator', () => {
  // msi_set_affinity without its two-step (`mutate:`): the pair is half-written through QEMU
  const { result, replays } = checkScenario(text('msi-affinity-onestep.yaml'), 'one.yaml', {
    strategies: ['emulate'],
    property: 'exactly-once',
    search: 'bfs',
  });

  it("BFS finds exactly-once violated under emulate: dev0's raise runs dev1's handler", () => {
    expect(result.verdict).toBe('violated');
    const entry = result.strategies.emulate;
    if (!('properties' in entry)) throw new Error('emulate rejected');
    const p = entry.properties['exactly-once'];
    expect(p.verdict).toBe('violated');
    const steps = p.counterexample ?? [];
    // the address was written, the data not yet: the OLD vector (0x20) reached the NEW vCPU,
    // where dev1's irq owns it (guestIrq: vCPU 1, vector 0x20, assigned vector 1)
    expect(steps.at(-1)?.action).toMatch(/^guestHandle vm0\/vcpu1/);
    expect(steps.at(-1)?.events.some((e) => e.startsWith('guestIrq(1, 32, 1,'))).toBe(true);
    expect(steps.some((st) => st.action.startsWith('raise dev1'))).toBe(false);
  });

  it('replaySystem of its actions ends in the same words, a delivery dev1 never raised', () => {
    const input = replays[0].input;
    const spec = {
      raises: { total: 2 },
      raisable: [0],
      inputs: input.inputs
        .filter((i) => i.kind === ACTION.setAffinity)
        .map((i) => ({ kind: i.kind, a: i.a, b: i.b, times: 1 })),
      iecEviction: false,
    };
    const model = machineCheckModel('one', input.initial, spec, MACHINE_PROPERTIES);
    const r = explore(model.packed, { properties: ['exactly-once'], search: 'bfs' });
    expect(r.verdict).toBe('violated');
    const { actions, end } = model.replay((r.counterexample ?? []).map((st) => st.action));
    expect(actions).toEqual(replays[0].actions);
    const s = replays[0].scenario;
    const sim = replaySystem(
      input,
      actions.map((a, i) => ({ ...a, atNs: null, where: `step ${i + 1}` })),
      {
        durationNs: s.run.duration,
        seed: s.run.seed,
        costs: resolveCosts(s.run.costs, { nested: s.host.nested }),
        trace: null,
      },
    );
    expect(Array.from(sim.finalState.words)).toEqual(Array.from(end.system.words));
    expect(vectorOutcomes(sim.finalState, 1)).toMatchObject({ raised: 0, delivered: 1 });
    expect(vectorOutcomes(sim.finalState, 0)).toMatchObject({ raised: 1, delivered: 0 });
  });
});
