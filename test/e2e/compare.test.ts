// `irqlab compare`: the table and the JSON shape issue 6 gives, for every shipped scenario; a
// strategy the rules reject carries its rule.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { compareScenario } from '../../src/scenario/run-strategy.js';

const scenarios = readdirSync(new URL('../../scenarios/', import.meta.url)).filter((f) =>
  f.endsWith('.yaml'),
);
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
  test('the workload exercises every row: no per-operation row divides by zero', () => {
    const columns = Object.values(r.strategies).filter((e) => !('error' in e));
    expect(columns.length).toBeGreaterThan(0);
    for (const e of columns) {
      if ('error' in e) continue;
      expect(e.operations.vectorsSetUp).toBeGreaterThan(0);
      expect(e.operations.maskUnmasks).toBeGreaterThan(0);
      expect(e.operations.affinityChanges).toBeGreaterThan(0);
      expect(e.operations.migrations).toBeGreaterThan(0);
      expect(e.operations.deliveries).toBeGreaterThan(0);
      expect(e.notes.filter((n) => n.startsWith('teardown left'))).toEqual([]);
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

test('a file that is no scenario under any strategy exits 2, its problems located', async () => {
  // a schema error (vcpus: 0) and a rule no strategy escapes (a source naming no VM)
  const text = readFileSync(path('mlx5-vf.yaml'), 'utf8').replace(/vcpus: \d+/, 'vcpus: 0');
  const m = memoryIo({ 's.yaml': text });
  expect(await main(['compare', 's.yaml'], m.io)).toBe(2);
  expect(m.stdout()).toBe('');
  expect(m.stderr()).toMatch(
    /^irqlab: s\.yaml:\d+:\d+: vms\[0\]\.vcpus: .* \[rule: schema\/too_small\]\n$/,
  );
  const unknownVm = readFileSync(path('mixed.yaml'), 'utf8').replace(
    '- { vm: vm1,',
    '- { vm: vm9,',
  );
  const u = memoryIo({ 's.yaml': unknownVm });
  expect(await main(['compare', 's.yaml'], u.io)).toBe(2);
  expect(u.stderr()).toMatch(
    /workload\.sources\[2\]\.vm: no VM named "vm9" \[rule: workload-refs\]/,
  );
});

test('a strategy the rules refuse is still a column', async () => {
  // mixed.yaml backs a guest MSI-X vector with INTx: the direct strategies need the same type
  const m = memoryIo({ 's.yaml': readFileSync(path('mixed.yaml')) });
  expect(await main(['compare', 's.yaml', '--json'], m.io)).toBe(0);
  const json = JSON.parse(m.stdout());
  expect(json.strategies.pv.error.rule).toBe('direct-needs-same-type');
  expect(json.strategies.emulate.error).toBeUndefined();
});
