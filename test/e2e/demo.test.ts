// `npm run demo` is the main job on the default input: the recorded fixtures decoded, the default
// scenario run and compared, and the comparison where all five strategies run. Checked through
// the CLI's entry point: every section is there, exit code 0.
import { expect, it } from 'vitest';
import { ALL_STRATEGIES_SCENARIO, DEFAULT_SCENARIO } from '../../src/cli/demo.js';
import { memoryIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';

it('irqlab demo: fixture tour, run and compare of the default scenario, all five compared', async () => {
  const m = memoryIo();
  expect(await main(['demo'], m.io)).toBe(0);
  const out = m.stdout();
  const sections = [
    `== irqlab run scenarios/${DEFAULT_SCENARIO}`,
    `== irqlab compare scenarios/${DEFAULT_SCENARIO}`,
    `== irqlab compare scenarios/${ALL_STRATEGIES_SCENARIO}`,
  ];
  for (const s of sections) expect(out).toContain(s);
  // the recorded trace's nvme0q0 through VT-d (qemu-q35-ir: vtd_ir_remap_msi, IRTE 32)
  expect(out).toContain('0xfee00418 data 0x0  remappable: handle 32');
  // the last comparison has a number, not a rule, in every strategy's column
  const last = out.slice(out.indexOf(sections[2]));
  const setupRow = last.split('\n').find((l) => l.startsWith('exits / vector set up')) ?? '';
  expect(
    setupRow
      .trim()
      .split(/\s{2,}/)
      .slice(1),
  ).toHaveLength(5);
  expect(setupRow).not.toContain('(');
  expect(m.stderr()).toBe('');
});
