// docs/limits.md quotes a rejected file and what `irqlab run` prints for it, and the line
// --max-events prints: both must be what the command prints now (in process).
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';

const doc = readFileSync(new URL('../../docs/limits.md', import.meta.url), 'utf8');
const blockAfter = (marker: string, lang: string) => {
  const at = doc.indexOf(marker);
  expect(at, marker).toBeGreaterThanOrEqual(0);
  const m = new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``).exec(doc.slice(at));
  if (!m) throw new Error(`no ${lang} block after ${marker}`);
  return m[1];
};

it('the rejected example: exit 2 and exactly the quoted lines', async () => {
  const m = memoryIo({ 'bad.yaml': blockAfter('For this file (`bad.yaml`)', 'yaml') });
  expect(await main(['run', 'bad.yaml'], m.io)).toBe(2);
  expect(m.stderr()).toBe(blockAfter('`irqlab run bad.yaml` prints:', 'text'));
  expect(m.stdout()).toBe('');
});

it('--max-events: the quoted line, and the summary covers the time reached', async () => {
  const m = memoryIo();
  const code = await main(['run', 'scenarios/idxd-siov.yaml', '--max-events', '1000'], m.io);
  expect(code).toBe(0);
  expect(m.stderr()).toBe(blockAfter('--max-events <n>', 'text'));
  expect(m.stdout()).toMatch(/196\.355us simulated, 1000 steps/);
});

it('--max-events that is not a positive integer is bad usage', async () => {
  const m = memoryIo();
  expect(await main(['run', 'scenarios/idxd-siov.yaml', '--max-events', '0'], m.io)).toBe(2);
  expect(m.stderr()).toBe('irqlab: --max-events: "0" is not a positive integer\n');
});
