// Every interleaving a random schedule picks, on every shipped scenario under every strategy its
// rules allow: device raises (a small budget), the machine's own steps (deliveries, CPUs taking
// interrupts, KVM's and the guest's step programs, IEC invalidations) and the workload's inputs
// (each once, in its order, carrying the guest kernel's decisions) in any order fast-check
// draws. Then everything in flight lands, and:
//   never-duplicated  no vector ever has more outcomes than raises (checked after every step);
//   conservation      at quiescence every raise is delivered, coalesced, lost or still held by
//                     its device's pending bit;
//   right target      no interrupt reaches a guest vector that no assigned vector owns there
//                     (no `misdirected`), and none is lost unless the workload unplugs a device.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RuleError } from '../../src/hw/errors.js';
import {
  conserved,
  quiescent,
  systemEnabled,
  systemIsEnabled,
  systemStep,
  vectorOutcomes,
} from '../../src/machine/system.js';
import { ACTION, type SystemAction } from '../../src/machine/system-actions.js';
import { createEventLog, EVENT } from '../../src/machine/system-events.js';
import { cloneSystemState } from '../../src/machine/system-state.js';
import { buildScenario, runWorkload } from '../../src/scenario/build.js';
import { loadScenario } from '../../src/scenario/load.js';
import { STRATEGIES } from '../../src/scenario/schema.js';
import { SHIPPED, shippedText } from '../shipped-scenarios.js';

const MAX_STEPS = 400;

const cases = SHIPPED.flatMap((file) =>
  STRATEGIES.flatMap((strategy) => {
    try {
      return [{ file, strategy, scenario: loadScenario(shippedText(file), file, { strategy }) }];
    } catch (e) {
      if (e instanceof RuleError) return [];
      throw e;
    }
  }),
);

describe('random interleavings of the machine', () => {
  it.each(cases)('$file under $strategy', ({ scenario }) => {
    const built = buildScenario(scenario);
    const input = runWorkload(built);
    // Raises of the vectors the workload drives, by (store, entry).
    const raisable = new Set(
      input.sources.map((src) => {
        const v = built.initial.topology.vectors[src.vector];
        return v.store * 65536 + v.entry;
      }),
    );
    const unplugs = input.inputs.some((i) => i.kind === ACTION.hotUnplug);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.nat(), { maxLength: 120 }),
        (budget, choices) => {
          const s = cloneSystemState(input.initial);
          const log = createEventLog();
          let raises = budget;
          let nextInput = 0;
          for (let n = 0; n < MAX_STEPS; n++) {
            const candidates = systemEnabled(s).filter(
              (a) => a.kind !== ACTION.raise || (raises > 0 && raisable.has(a.a * 65536 + a.b)),
            );
            const next = input.inputs[nextInput];
            const offered: SystemAction | null = next
              ? { kind: next.kind as SystemAction['kind'], a: next.a, b: next.b }
              : null;
            if (offered && systemIsEnabled(s, offered)) candidates.push(offered);
            if (candidates.length === 0) break;
            // Past the drawn choices, the first candidate: everything in flight lands.
            const pick =
              n < choices.length ? candidates[choices[n] % candidates.length] : candidates[0];
            if (pick.kind === ACTION.raise) raises--;
            if (pick === offered) nextInput++;
            systemStep(s, pick, log);
            for (let v = 0; v < s.topology.vectors.length; v++) {
              const o = vectorOutcomes(s, v);
              if (o.delivered + o.coalesced + o.lost > o.raised) return false;
            }
          }
          expect(quiescent(s)).toBe(true);
          expect(conserved(s)).toBe(true);
          const misdirected = Array.from(log.kind.subarray(0, log.length)).filter(
            (k) => k === EVENT.misdirected,
          );
          expect(misdirected).toEqual([]);
          if (!unplugs) {
            for (let v = 0; v < s.topology.vectors.length; v++)
              expect(vectorOutcomes(s, v).lost).toBe(0);
          }
          return true;
        },
      ),
      { numRuns: 60, seed: 0x10 },
    );
  });
});
