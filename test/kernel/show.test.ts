// `irqlab show --what hierarchy|interrupts|affinity`: the guest of the vm-virtio-pci conformance
// scenario printed in the formats of the recorded files, and the hierarchies of idxd-siov.yaml
// (host and guests, the IMS domain under the remapping domain).
import { describe, expect, test } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { zeroCounts } from '../conformance/kernel-scenarios.js';
import { readFixture } from '../fixtures.js';

async function show(...args: string[]) {
  const m = memoryIo();
  const code = await main(['show', ...args], m.io);
  return { code, out: m.stdout(), err: m.stderr() };
}

const VM = 'scenarios/conformance/vm-virtio-pci.yaml';

describe('irqlab show, kernel views', () => {
  test('--what affinity --kernel guest prints irq-affinity.txt', async () => {
    const r = await show(VM, '--what', 'affinity', '--kernel', 'guest');
    expect(r.code).toBe(0);
    expect(r.out).toBe(readFixture('vm-virtio-pci/irq-affinity.txt'));
  });

  test('--what interrupts --kernel guest prints proc-interrupts.txt (counts aside)', async () => {
    const r = await show(VM, '--what', 'interrupts', '--kernel', 'vm');
    expect(r.code).toBe(0);
    expect(zeroCounts(r.out, 2)).toBe(
      zeroCounts(readFixture('vm-virtio-pci/proc-interrupts.txt'), 2),
    );
  });

  test('idxd-siov.yaml: host and guest hierarchies, the IMS domain under the remapping domain', async () => {
    const r = await show('scenarios/idxd-siov.yaml', '--what', 'hierarchy');
    expect(r.code).toBe(0);
    expect(r.out).toContain('== host ==');
    expect(r.out).toContain('== vm0 ==');
    expect(r.out).toMatch(
      /\|-- INTEL-IR-0 \(vtd-ir[^\n]*\n(\| {3}[^\n]*\n)*\| {3}[|`]-- IR-IDXD-IMS-0000:6a:01\.0 \(ims/,
    );
    const dot = await show(
      'scenarios/idxd-siov.yaml',
      '--what',
      'hierarchy',
      '--kernel',
      'host',
      '--format',
      'dot',
    );
    expect(dot.out).toContain('"host/IR-IDXD-IMS-0000:6a:01.0" -> "host/INTEL-IR-0";');
  });

  test('a bad --kernel or --format is bad input (exit 2, one line)', async () => {
    const r = await show(VM, '--what', 'affinity', '--kernel', 'nope');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^irqlab: --kernel: "nope" is not host, guest or one of host, vm\n$/);
    const f = await show(VM, '--what', 'hierarchy', '--format', 'svg');
    expect(f.code).toBe(2);
  });
});
