// Conformance with ../shared/fixtures/vm-virtio-pci (a Linux 6.18 microVM guest, 2 vCPUs,
// x2APIC, no IR, five virtio-pci functions): the model guest described by
// scenarios/conformance/vm-virtio-pci.yaml, booted on the functions' real config spaces, must
// allocate the same vectors per device, give them the same irq numbers and pick the same
// effective CPU for every vector as the real kernel did (irq-affinity.txt, devices.txt), and
// print /proc/interrupts in the kernel's own format (proc-interrupts.txt, counts aside).
// The fixture folder has every file its README names.
import { describe, expect, test } from 'vitest';
import { CAP_ID } from '../../src/hw/pci/capability-ids.js';
import { findCapability } from '../../src/hw/pci/capability-list.js';
import { configSpaceFromBytes } from '../../src/hw/pci/config-space.js';
import { decodeMsixCapability } from '../../src/hw/pci/msix-capability.js';
import { checkKernel } from '../../src/kernel/check.js';
import { renderIrqAffinity } from '../../src/report/irq-affinity.js';
import { renderProcInterrupts } from '../../src/report/proc-interrupts.js';
import { readFixture, readFixtureBytes } from '../fixtures.js';
import { bootConformance, conformanceKernel, zeroCounts } from './kernel-scenarios.js';

const DIR = 'vm-virtio-pci/';
const FUNCTIONS = ['0000:00:01.0', '0000:00:02.0', '0000:00:03.0', '0000:00:04.0', '0000:00:05.0'];
const configSpaces = Object.fromEntries(
  FUNCTIONS.map((bdf) => [bdf, readFixtureBytes(`${DIR}${bdf}.config.bin`)]),
);

describe('vm-virtio-pci guest', () => {
  const boot = bootConformance('vm-virtio-pci.yaml', configSpaces);
  const k = boot.kernel;

  test('every boot step succeeds and the kernel invariants hold', () => {
    expect(boot.failures).toEqual([]);
    checkKernel(k);
  });

  test('the scenario declares each function with its real MSI-X Table Size', () => {
    const { spec } = conformanceKernel('vm-virtio-pci.yaml');
    for (const bdf of FUNCTIONS) {
      const space = configSpaceFromBytes(configSpaces[bdf], bdf);
      const cap = findCapability(space, CAP_ID.msix, { extended: false }, bdf);
      expect(cap, bdf).toBeDefined();
      const size = decodeMsixCapability(space, cap?.offset ?? 0).tableSize;
      expect(spec.devices.find((d) => d.bdf === bdf)?.msix, bdf).toBe(size);
    }
  });

  test('vectors per device and their irq numbers are those of devices.txt', () => {
    for (const line of readFixture(`${DIR}devices.txt`).trim().split('\n')) {
      const m = /^(\S+) .*msi_irqs=(.*)$/.exec(line);
      if (!m) continue;
      const expected = m[2].trim() === '' ? [] : m[2].trim().split(/\s+/).map(Number);
      const dev = k.devices[m[1]];
      const irqs = dev
        ? Object.values(dev.descs.msix)
            .map((d) => d.irq as number)
            .sort((a, b) => a - b)
        : [];
      expect(irqs, m[1]).toEqual(expected);
    }
  });

  test('irq-affinity.txt: the same effective CPU for every vector, line for line', () => {
    expect(renderIrqAffinity(k, 'list')).toBe(readFixture(`${DIR}irq-affinity.txt`));
  });

  test('proc-interrupts.txt: the same lines in the kernel format, counts aside', () => {
    const expected = zeroCounts(readFixture(`${DIR}proc-interrupts.txt`), 2);
    expect(zeroCounts(renderProcInterrupts(k), 2)).toBe(expected);
  });

  test('sys-kernel-irq.txt: chip, hwirq and type of every irq', () => {
    for (const line of readFixture(`${DIR}sys-kernel-irq.txt`).trim().split('\n')) {
      const m = /^(\d+) chip=(\S+) hwirq=(\d+) type=(\S+) name=(\S+) actions=(\S*)/.exec(line);
      expect(m, line).not.toBeNull();
      if (!m) continue;
      const d = k.descs[Number(m[1])];
      expect(d, line).toBeDefined();
      expect(k.domains[d.data[0].domain].chipName).toBe(m[2]);
      expect(d.data[0].hwirq).toBe(Number(m[3]));
      expect(d.trigger).toBe(m[4]);
      expect(d.handler).toBe(m[5]);
      expect(d.actions.map((a) => a.name).join(',')).toBe(m[6]);
    }
  });
});
