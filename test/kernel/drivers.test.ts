// The modelled drivers allocate and request the way the real ones do.
import { describe, expect, test } from 'vitest';
import { RuleError } from '../../src/hw/errors.js';
import { checkKernel } from '../../src/kernel/check.js';
import { msiForEachDesc } from '../../src/kernel/msi.js';
import { boot } from './helpers.js';

const DSA = '0000:6a:01.0';
const NIC = '0000:3b:00.0';
const VF = '0000:3b:00.2';
const names = (r: ReturnType<typeof boot>, bdf: string, slot: 'msix' | 'ims' = 'msix') =>
  msiForEachDesc(r.kernel.devices[bdf], slot, 'associated').map((d) => ({
    index: d.index,
    actions: r.kernel.descs[d.irq].actions.map((a) => a.name),
  }));

describe('idxd', () => {
  const spec = (platform: string) => ({
    platform: platform as never,
    devices: [
      {
        bdf: DSA,
        msix: 9,
        ims: 2048,
        driver: {
          kind: 'idxd' as const,
          kernelWqs: 2,
          imsSubdevices: 2,
          imsVectorsPerSubdevice: 2,
        },
      },
    ],
    boot: [{ do: 'probe' as const, bdf: DSA }],
  });

  test('MSI-X entry 0 for misc/errors, entries 1.. for kernel work queues, IMS for subdevices', () => {
    const r = boot(spec('host-ir'));
    expect(r.failures).toEqual([]);
    expect(names(r, DSA).slice(0, 4)).toEqual([
      { index: 0, actions: ['idxd-misc'] },
      { index: 1, actions: ['idxd-portal'] },
      { index: 2, actions: ['idxd-portal'] },
      { index: 3, actions: [] },
    ]);
    expect(names(r, DSA, 'ims').map((x) => x.actions[0])).toEqual([
      'idxd-ims-sub0-0',
      'idxd-ims-sub0-1',
      'idxd-ims-sub1-0',
      'idxd-ims-sub1-1',
    ]);
    const ims = r.kernel.domains.find((d) => d.kind === 'ims');
    expect(ims?.name).toBe(`IR-IDXD-IMS-${DSA}`);
    expect(ims && r.kernel.domains[ims.parent ?? 0].kind).toBe('vtd-ir');
    checkKernel(r.kernel);
  });

  test('on a host without interrupt remapping the IMS domain is refused with the rule name', () => {
    expect(() => boot(spec('host-noir'))).toThrow(/ims-needs-isolated-msi/);
    expect(() => boot(spec('host-noir'))).toThrow(RuleError);
  });
});

describe('mlx5', () => {
  test('an async vector and one completion vector per channel, each on its own CPU (dynamic MSI-X)', () => {
    const r = boot({
      platform: 'host-ir',
      cpus: 4,
      devices: [
        { bdf: NIC, msix: 64, driver: { kind: 'mlx5', instance: 0 } },
        { bdf: VF, msix: 4, driver: { kind: 'mlx5', instance: 1 } },
      ],
      boot: [
        { do: 'probe', bdf: NIC },
        { do: 'probe', bdf: VF },
      ],
    });
    expect(r.failures).toEqual([]);
    const pf = msiForEachDesc(r.kernel.devices[NIC], 'msix', 'associated');
    expect(pf.map((d) => r.kernel.descs[d.irq].actions[0].name)).toEqual([
      `mlx5_async0@pci:${NIC}`,
      `mlx5_comp0@pci:${NIC}`,
      `mlx5_comp1@pci:${NIC}`,
      `mlx5_comp2@pci:${NIC}`,
      `mlx5_comp3@pci:${NIC}`,
    ]);
    expect(pf.slice(1).map((d) => r.kernel.descs[d.irq].effectiveAffinity[0])).toEqual([
      0, 1, 2, 3,
    ]);
    expect(pf.slice(1).map((d) => r.kernel.descs[d.irq].affinityHint)).toEqual([
      [0],
      [1],
      [2],
      [3],
    ]);
    // The VF has 4 entries: async + 3 channels.
    expect(msiForEachDesc(r.kernel.devices[VF], 'msix', 'associated')).toHaveLength(4);
    checkKernel(r.kernel);
  });
});

describe('virtio-pci fallbacks', () => {
  test('too few MSI-X entries for one per queue: one for config, one shared by the queues', () => {
    const r = boot({
      devices: [
        {
          bdf: '0000:00:06.0',
          msix: 2,
          driver: {
            kind: 'virtio',
            index: 0,
            device: { type: 'custom', vqs: [{ name: 'a' }, { name: 'b' }, { name: 'c' }] },
          },
        },
      ],
      boot: [{ do: 'probe', bdf: '0000:00:06.0' }],
    });
    expect(r.failures).toEqual([]);
    expect(names(r, '0000:00:06.0')).toEqual([
      { index: 0, actions: ['virtio0-config'] },
      { index: 1, actions: ['virtio0-virtqueues'] },
    ]);
  });

  test('virtio-blk spreads its request queues over the CPUs as managed vectors', () => {
    const r = boot({
      cpus: 4,
      devices: [
        {
          bdf: '0000:00:07.0',
          msix: 5,
          driver: { kind: 'virtio', index: 1, device: { type: 'blk', queues: 4 } },
        },
      ],
      boot: [{ do: 'probe', bdf: '0000:00:07.0' }],
    });
    const descs = msiForEachDesc(r.kernel.devices['0000:00:07.0'], 'msix', 'associated');
    expect(descs.map((d) => [d.affinity?.managed ?? false, d.affinity?.mask])).toEqual([
      [false, [0, 1, 2, 3]],
      [true, [0]],
      [true, [1]],
      [true, [2]],
      [true, [3]],
    ]);
  });
});

describe('nvme', () => {
  // nvme_setup_irqs asks for 1 admin + ioQueues vectors; with a smaller table it gets what the
  // table has, and nvme_calc_irq_sets sizes its one I/O set to the vectors left (Linux
  // drivers/nvme/host/pci.c): 4 entries -> q0 (admin, default affinity) + 3 managed I/O queues.
  test('a table smaller than 1 + ioQueues: the I/O set shrinks to the vectors left', () => {
    const r = boot({
      devices: [{ bdf: NIC, msix: 4, driver: { kind: 'nvme', instance: 0, ioQueues: 4 } }],
      boot: [{ do: 'online-cpus' as const }, { do: 'probe' as const, bdf: NIC }],
    } as never);
    expect(r.failures).toEqual([]);
    expect(names(r, NIC).map((x) => x.actions)).toEqual([
      ['nvme0q0'],
      ['nvme0q1'],
      ['nvme0q2'],
      ['nvme0q3'],
    ]);
    const managed = msiForEachDesc(r.kernel.devices[NIC], 'msix', 'associated').map(
      (d) => r.kernel.descs[d.irq].state.managed,
    );
    expect(managed).toEqual([false, true, true, true]);
  });
});
