// `irqlab check`: the JSON shape issue 11 item 4 gives, exit codes (0 all hold, 1 violated or
// incomplete naming the bound, 2 bad input with file:line:col), a holding and a violated check
// scenario, and --trace replaying a counterexample into a Perfetto trace.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { checkScenario } from '../../src/scenario/run-check.js';

const scenario = (f: string) =>
  readFileSync(new URL(`../../scenarios/check/${f}`, import.meta.url), 'utf8');

async function check(text: string, ...args: string[]) {
  const m = memoryIo({ 's.yaml': text });
  const code = await main(['check', 's.yaml', ...args], m.io);
  return { code, out: m.stdout(), err: m.stderr() };
}

test('a scenario whose properties all hold exits 0 and every cell has the JSON shape', async () => {
  const r = await check(scenario('pi-migration.yaml'), '--json', '--strategies', 'emulate,pv');
  expect(r.code).toBe(0);
  const json = JSON.parse(r.out);
  expect(json.verdict).toBe('holds');
  expect(Object.keys(json.strategies)).toEqual(['emulate', 'pv']);
  for (const entry of Object.values(json.strategies) as { properties: object }[]) {
    expect(Object.keys(entry.properties)).toEqual([
      'exactly-once',
      'right-target',
      'notification-target',
      'isolation',
    ]);
    for (const p of Object.values(entry.properties)) {
      expect(p.verdict).toBe('holds');
      expect(p.states).toBeGreaterThan(1);
      expect(p.transitions).toBeGreaterThanOrEqual(p.states);
      expect(p.depth).toBeGreaterThan(0);
      expect(p.counterexample).toBeNull();
    }
  }
});

test('a violated property exits 1 with numbered steps; the text table names it', async () => {
  const text = scenario('msi-affinity-onestep.yaml');
  const args = ['--strategies', 'emulate', '--property', 'exactly-once', '--bfs'];
  const r = await check(text, ...args);
  expect(r.code).toBe(1);
  expect(r.out).toMatch(/^check msi-affinity-onestep: violated$/m);
  expect(r.out).toMatch(/^emulate\s+exactly-once\s+violated\s+[\d,]+\s+[\d,]+\s+\d+/m);
  expect(r.out).toMatch(/counterexample: exactly-once under emulate \(\d+ steps, shortest\)/);
  expect(r.out).toMatch(/^\s+1\. raise dev0\/msi entry 0$/m);
  const json = JSON.parse((await check(text, ...args, '--json')).out);
  expect(json.verdict).toBe('violated');
  const steps = json.strategies.emulate.properties['exactly-once'].counterexample;
  expect(steps[0]).toMatchObject({ step: 1, action: 'raise dev0/msi entry 0' });
  // the old vector reached the new vCPU, where another device's irq owns it
  expect(steps.at(-1).events.some((e: string) => e.startsWith('guestIrq(1, 32, 1,'))).toBe(true);
});

test('a search stopped by --max-states is incomplete, names the bound and exits 1', async () => {
  const r = await check(scenario('pi-migration.yaml'), '--strategies', 'pv', '--max-states', '50');
  expect(r.code).toBe(1);
  expect(r.out).toMatch(/^check pi-migration: incomplete$/m);
  expect(r.out).toMatch(/incomplete \(max-states\)/);
});

test('a search that would pass its memory bound ends incomplete (memory), in bounded memory', () => {
  const { result } = checkScenario(scenario('msix-rewrite-masked.yaml'), 'm.yaml', {
    strategies: ['emulate'],
    property: 'exactly-once',
    search: 'bfs',
    maxBytes: 8 * 1024 * 1024,
  });
  expect(result.verdict).toBe('incomplete');
  const entry = result.strategies.emulate;
  if (!('properties' in entry)) throw new Error('emulate rejected');
  expect(entry.properties['exactly-once']).toMatchObject({
    verdict: 'incomplete',
    bound: 'memory',
  });
});

test('a bad check section is reported at its line and column, exit 2', async () => {
  const text = scenario('pi-migration.yaml').replace('raises: 2', 'raises: -1');
  const line = text.split('\n').findIndex((l) => l.includes('raises: -1')) + 1;
  const r = await check(text);
  expect(r.code).toBe(2);
  expect(r.err).toMatch(new RegExp(`^irqlab: s\\.yaml:${line}:\\d+: check\\.raises: `));
  const unknown = await check(scenario('pi-migration.yaml').replace('actors:', 'actorz:'));
  expect(unknown.code).toBe(2);
  expect(unknown.err).toMatch(/s\.yaml:\d+:\d+: check\.actorz: unknown key/);
  const none = await check(scenario('pi-migration.yaml').replace(/^check:[\s\S]*$/m, ''));
  expect(none.code).toBe(2);
  expect(none.err).toMatch(/s\.yaml:\d+:\d+: no `check:` section.*\[rule: check-section\]/);
});

test('mutate: a step that is no step of a program is bad input at its line, naming the steps', async () => {
  const text = scenario('msi-affinity-onestep.yaml').replace(
    'msi_set_affinity/pci_write_config_word(DATA_64) [temporary]',
    'msi_set_affinity/pci_write_config_word(DATA_65) [temporary]',
  );
  const line = text.split('\n').findIndex((l) => l.includes('DATA_65')) + 1;
  const r = await check(text);
  expect(r.code).toBe(2);
  expect(r.err).toMatch(
    new RegExp(`^irqlab: s\\.yaml:${line}:\\d+: check\\.mutate\\[4\\]\\.drop: `),
  );
  expect(r.err).toMatch(/its steps are msi_set_affinity\/pci_msi_update_mask \[irq_mask\], /);
  expect(r.err).toMatch(/\[rule: check-mutate-step\]/);
});

test('takes-effect: an unmasked in-place rewrite under emulate never reaches KVM', async () => {
  const r = await check(scenario('msix-rewrite-unmasked.yaml'), '--property', 'takes-effect');
  expect(r.code).toBe(1);
  expect(r.out).toMatch(/^emulate\s+takes-effect\s+violated/m);
  // the direct strategies move through the IRTE or RETARGET: nothing to take out
  for (const st of ['vir', 'vir-direct', 'pv', 'pv-batch']) {
    expect(r.out).toMatch(new RegExp(`^${st}\\s+takes-effect\\s+holds`, 'm'));
  }
  const masked = await check(scenario('msix-rewrite-masked.yaml'), '--property', 'takes-effect');
  expect(masked.code).toBe(0);
});

test('mutate: a swap names two steps of one program', async () => {
  const text = `${scenario('msix-rewrite-masked.yaml').trimEnd()}
  mutate:
    - swap: ["__irq_move_irq/writel(data)", "pci_msix_unmask/pci_msix_write_vector_ctrl(unmask)"]
`;
  const r = await check(text);
  expect(r.code).toBe(2);
  expect(r.err).toMatch(/check\.mutate\[0\]\.swap: .* two programs: a swap is within one/);
  expect(r.err).toMatch(/\[rule: check-mutate-step\]/);
});

test('mutate: the same move with and without its two-step (Linux msi_set_affinity)', async () => {
  const linux = await check(scenario('msi-affinity-linux.yaml'), '--strategies', 'emulate');
  expect(linux.code).toBe(0);
  const onestep = await check(scenario('msi-affinity-onestep.yaml'), '--strategies', 'emulate');
  expect(onestep.code).toBe(1);
  expect(onestep.out).toMatch(/^emulate\s+exactly-once\s+violated/m);
  // the half-written pair is posted where the guest expects nothing: right-target, at the post
  expect(onestep.out).toMatch(/^emulate\s+right-target\s+violated/m);
  expect(linux.out).toMatch(/^emulate\s+right-target\s+holds/m);
});

test('bad options exit 2', async () => {
  expect((await check(scenario('pi-migration.yaml'), '--store', 'set')).code).toBe(2);
  expect((await check(scenario('pi-migration.yaml'), '--property', 'nope')).code).toBe(2);
  expect((await check(scenario('pi-migration.yaml'), '--max-states', '0')).code).toBe(2);
});

test('--trace replays the counterexample into a Perfetto trace', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'irqlab-check-'));
  const file = join(dir, 'cx.json');
  const r = await check(
    scenario('msi-affinity-onestep.yaml'),
    '--strategies',
    'emulate',
    '--property',
    'exactly-once',
    '--bfs',
    '--trace',
    file,
  );
  expect(r.code).toBe(1);
  expect(r.err).toMatch(/--trace: exactly-once under emulate replayed into/);
  const trace = JSON.parse(readFileSync(file, 'utf8'));
  const events = Array.isArray(trace) ? trace : trace.traceEvents;
  expect(events.length).toBeGreaterThan(10);
});
