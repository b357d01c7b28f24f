// DESIGN.md §3: each layer depends only on the layers below it. Every relative import in src/ is
// checked against that order (machine: the whole-system state words and the steps over them,
// between the kernel and the hypervisor that programs them; sim and check are the two engines,
// side by side; report renders for the surfaces, below cli).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));
const RANK: Record<string, number> = {
  hw: 0,
  kernel: 1,
  machine: 2,
  hv: 3,
  sim: 4,
  check: 4,
  scenario: 5,
  report: 6,
  cli: 7,
};

function* sourceFiles(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* sourceFiles(p);
    else if (e.name.endsWith('.ts')) yield p;
  }
}

const layerOf = (file: string) => relative(SRC, file).split('/')[0];

test('every import in src/ goes to the same layer or one below it', () => {
  const upward: string[] = [];
  let imports = 0;
  for (const file of sourceFiles(SRC)) {
    const from = layerOf(file);
    expect(RANK[from], `${from}: a layer DESIGN.md does not name`).toBeDefined();
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/from '(\.{1,2}\/[^']+)'/g)) {
      imports++;
      const to = layerOf(resolve(dirname(file), m[1]));
      if (RANK[to] > RANK[from]) upward.push(`${relative(SRC, file)} -> ${m[1]}`);
    }
  }
  expect(imports).toBeGreaterThan(100);
  expect(upward).toEqual([]);
});

// DESIGN.md §3 / issue 10: report/ renders what the layers below ran (`scenario/run-strategy.ts`
// runs a strategy; the reports format its result), so no report calls what builds or runs a model.
const RUNNERS = ['buildScenario', 'runWorkload', 'teardownBuilt', 'simulateSystem', 'systemStep'];

test('report/ only renders: no file in it builds, runs or simulates a scenario', () => {
  const calls: string[] = [];
  for (const file of sourceFiles(join(SRC, 'report'))) {
    const text = readFileSync(file, 'utf8');
    for (const name of RUNNERS) {
      if (new RegExp(`\\b${name}\\b`).test(text)) calls.push(`${relative(SRC, file)}: ${name}`);
    }
  }
  expect(calls).toEqual([]);
});
