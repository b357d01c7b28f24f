// Same scenario + same seed = byte-identical trace (both formats); another seed gives another
// trace. The engine's only randomness is its seeded PRNG and its only clock is simulated time.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ftraceWriter } from '../../src/report/trace-ftrace.js';
import { perfettoTraceWriter } from '../../src/report/trace-perfetto.js';
import { buildScenario, runWorkload } from '../../src/scenario/build.js';
import { loadScenario } from '../../src/scenario/load.js';
import { resolveCosts } from '../../src/sim/cost-model.js';
import { simulateSystem } from '../../src/sim/system-sim.js';
import { streamingTraceRecorder } from '../../src/sim/trace-recorder.js';

const SCENARIOS = fileURLToPath(new URL('../../scenarios/', import.meta.url));
const SHIPPED = ['idxd-siov.yaml', 'mlx5-vf.yaml', 'mixed.yaml'];

function traces(file: string, seed: number, durationNs?: number) {
  const scenario = loadScenario(readFileSync(SCENARIOS + file, 'utf8'), file, { seed });
  const built = buildScenario(scenario);
  const t = built.initial.topology;
  let perfetto = '';
  let ftrace = '';
  const p = perfettoTraceWriter(t, (c) => {
    perfetto += c;
  });
  const f = ftraceWriter(t, (c) => {
    ftrace += c;
  });
  const result = simulateSystem(runWorkload(built), {
    durationNs: durationNs ?? scenario.run.duration,
    seed: scenario.run.seed,
    costs: resolveCosts(scenario.run.costs, { nested: scenario.host.nested }),
    trace: streamingTraceRecorder(
      (r) => {
        p.write(r);
        f.write(r);
      },
      () => {
        p.end();
        f.end();
      },
    ),
  });
  return { perfetto, ftrace, result };
}

describe('determinism', () => {
  for (const file of SHIPPED) {
    it(`${file}: two runs with the same seed give identical traces; another seed differs`, () => {
      const a = traces(file, 1);
      const b = traces(file, 1);
      expect(a.perfetto.length).toBeGreaterThan(1000);
      expect(b.perfetto).toBe(a.perfetto);
      expect(b.ftrace).toBe(a.ftrace);
      const c = traces(file, 2);
      expect(c.perfetto).not.toBe(a.perfetto);
      expect(c.ftrace).not.toBe(a.ftrace);
    });
  }
  it('holds for any seed', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (seed) => {
        const a = traces('mlx5-vf.yaml', seed, 500_000);
        const b = traces('mlx5-vf.yaml', seed, 500_000);
        expect(b.ftrace).toBe(a.ftrace);
        expect(b.result.interrupts).toEqual(a.result.interrupts);
      }),
      { numRuns: 10 },
    );
  });
  it('accounts for every raise: delivered + coalesced + lost + in flight = raised', () => {
    for (const file of SHIPPED) {
      const { result } = traces(file, 3);
      const i = result.interrupts;
      expect(i.delivered + i.coalesced + i.lost + i.inFlight).toBe(i.raised);
      expect(i.inFlight).toBeGreaterThanOrEqual(0);
      expect(i.lost).toBe(0);
      for (const v of result.vectors) {
        expect(v.delivered + v.coalesced + v.lost).toBeLessThanOrEqual(v.raised);
      }
    }
  });
});
