// `irqlab compare`: the table and the JSON shape issue 6 gives, for every shipped scenario; a
// strategy the rules reject carries its rule.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { compareScenario } from '../../src/report/compare.js';

const scenarios = ['mlx5-vf.yaml', 'idxd-siov.yaml', 'mixed.yaml'];
const path = (f: string) => new URL(`../../scenarios/${f}`, import.meta.url);

describe.each(scenarios)('%s', (file) => {
  const r = compareScenario(readFileSync(path(file), 'utf8'), file);
  test("every strategy has the issue's JSON shape, or an error naming a rule", () => {
    for (const [name, e] of Object.entries(r.strategies)) {
      if ('error' in e) {
        expect(e.error.rule, name).toMatch(/^[a-z0-9-]+$/);
        expect(e.error.message).not.toBe('');
        continue;
      }
      expect(Object.keys(e.exits)).toEqual(
        expect.arrayContaining([
          'perVectorSetup',
          'perDelivery',
          'perMaskUnmask',
          'perAffinityChange',
          'perMigration',
          'byReason',
        ]),
      );
      expect(e.latencyNs.delivery.p50).toBeGreaterThan(0);
      expect(e.interrupts.delivered).toBeGreaterThan(0);
      expect(e.interrupts.delivered).toBeLessThanOrEqual(e.interrupts.raised);
      expect(e.resources.hostVectors).toBeGreaterThan(0);
      expect(typeof e.capacity.limitedBy).toBe('string');
    }
  });
});

test('irqlab compare --json --strategies prints only those columns', async () => {
  const m = memoryIo({ 's.yaml': readFileSync(path('mlx5-vf.yaml')) });
  const code = await main(['compare', 's.yaml', '--strategies', 'emulate,pv', '--json'], m.io);
  expect(code).toBe(0);
  const json = JSON.parse(m.stdout());
  expect(Object.keys(json.strategies)).toEqual(['emulate', 'pv']);
  // emulate traps the table, pv maps it: fewer setup exits per vector under pv
  expect(json.strategies.pv.exits.byReason.msixTableAccess).toBe(0);
  expect(json.strategies.emulate.exits.perVectorSetup).toBeGreaterThan(
    json.strategies.pv.exits.perVectorSetup,
  );
});

test('an unknown strategy name is bad input (exit 2)', async () => {
  const m = memoryIo({ 's.yaml': readFileSync(path('mlx5-vf.yaml')) });
  expect(await main(['compare', 's.yaml', '--strategies', 'nope'], m.io)).toBe(2);
});
