// `irqlab schema`: the JSON Schema editors use. It describes every section, forbids unknown keys,
// and accepts the top-level keys of the shipped scenarios.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { memoryIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { RULES } from '../../src/scenario/rules.js';
import { bin, ensureBuilt, ROOT, SHIPPED } from './cli-run-helpers.js';

beforeAll(ensureBuilt, 180_000);

describe('irqlab schema (binary)', () => {
  it('prints a JSON Schema of the scenario file', () => {
    const r = bin('schema');
    expect(r.status).toBe(0);
    const schema = JSON.parse(r.stdout);
    expect(schema.$schema).toMatch(/json-schema\.org/);
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining(['host', 'devices', 'vms', 'workload', 'run']),
    );
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toEqual(expect.arrayContaining(['host', 'run']));
    const assign = schema.properties.vms.items.properties.assign.items.properties;
    expect(assign.backing.enum).toEqual(['intx', 'msi', 'msix', 'ims']);
    expect(assign.guest.enum).toEqual(['msi', 'msix', 'ims']);
  });
  it('knows every key the shipped scenarios use', () => {
    const schema = JSON.parse(bin('schema').stdout);
    for (const file of SHIPPED) {
      const doc = parse(readFileSync(ROOT + file, 'utf8'));
      for (const key of Object.keys(doc)) expect(schema.properties).toHaveProperty(key);
      for (const key of Object.keys(doc.host))
        expect(schema.properties.host.properties).toHaveProperty(key);
    }
  });
});

describe('irqlab schema --rules', () => {
  it('lists every cross-field rule by the name its errors carry, with why', async () => {
    const m = memoryIo();
    expect(await main(['schema', '--rules', '--json'], m.io)).toBe(0);
    const rules = JSON.parse(m.stdout()) as { name: string; why: string }[];
    expect(rules.map((r) => r.name)).toEqual(RULES.map((r) => r.name));
    expect(rules.every((r) => r.why.length > 10)).toBe(true);
    const text = memoryIo();
    expect(await main(['schema', '--rules'], text.io)).toBe(0);
    expect(text.stdout()).toContain('one-interrupt-mode\n    a PCI function signals');
  });
});
