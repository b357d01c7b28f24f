// Properties of the isolation analysis over arbitrary (address, data) pairs a hostile guest
// writes: it never throws, every probe has exactly one outcome, and where every function has
// its own requester ID and the host remaps (hostile-vf.yaml), no message reaches another VM or
// the host (VT-d 9.10 source-id validation), whatever the guest writes.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { probeMessage } from '../../src/hv/isolation.js';
import { buildScenario } from '../../src/scenario/build.js';
import { loadScenario } from '../../src/scenario/load.js';

const SCENARIOS = fileURLToPath(new URL('../../scenarios/', import.meta.url));
const built = (file: string) =>
  buildScenario(loadScenario(readFileSync(SCENARIOS + file, 'utf8'), file));

const u32 = fc.nat({ max: 0xffffffff });
/** Mostly interrupt-shaped writes (0xFEExxxxx, small handles), some anything at all. */
const arbMessage = fc.oneof(
  fc.record({
    label: fc.constant('arbitrary'),
    addrLo: u32,
    addrHi: fc.oneof(fc.constant(0), u32),
    data: u32,
  }),
  fc.record({
    label: fc.constant('interrupt-shaped'),
    addrLo: fc.nat({ max: 0xfffff }).map((low) => (0xfee00000 + low) >>> 0),
    addrHi: fc.constant(0),
    data: fc.oneof(fc.nat({ max: 0xff }), fc.nat({ max: 0xffff }), u32),
  }),
);
const KINDS = ['blocked-source-id', 'faulted', 'not-an-interrupt', 'not-sent', 'delivered'];

describe('isolation (property)', () => {
  const siov = built('hostile-siov.yaml');
  const vf = built('hostile-vf.yaml');

  it('never throws, one outcome per probe, on arbitrary messages (shared requester ID)', () => {
    fc.assert(
      fc.property(
        arbMessage,
        fc.constantFrom('vir-direct', 'pv', 'pv-batch'),
        (message, strategy) => {
          const out = probeMessage(siov.initial, { vm: 0, strategy, message });
          expect(out).toHaveLength(1);
          expect(KINDS).toContain(out[0].outcome.kind);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('own requester IDs + IR: no message reaches another VM or the host', () => {
    fc.assert(
      fc.property(arbMessage, fc.constantFrom('pv', 'pv-batch'), (message, strategy) => {
        for (const f of probeMessage(vf.initial, { vm: 0, strategy, message })) {
          expect(f.breach).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });
});
