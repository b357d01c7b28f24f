// The compare rows issue 6 adds to the table, each checked against a number that follows from
// the spec or the systems it cites, not from irqlab's own output: capacity (KVM's 4096 routes per
// VM, the device's IMS entries), duplicated/misdirected (the model's never-duplicated property),
// the MSI-X table page shared with registers (QEMU x-msix-relocation), a host without dynamic
// MSI-X (every growth disables and re-enables the vectors already live).
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { parse, stringify } from 'yaml';
import { CAPACITY_RESOURCES } from '../../src/hv/capacity.js';
import {
  type CompareEntry,
  compareScenario,
  type StrategyColumn,
} from '../../src/scenario/run-strategy.js';

const shipped = (f: string) =>
  readFileSync(new URL(`../../scenarios/${f}`, import.meta.url), 'utf8');
// biome-ignore lint/suspicious/noExplicitAny: a parsed YAML document, edited per test
const mlx5 = (): any => parse(shipped('mlx5-vf.yaml'));

function column(e: CompareEntry | undefined): StrategyColumn {
  if (e === undefined || 'error' in e) throw new Error(`no column: ${JSON.stringify(e)}`);
  return e;
}

describe('capacity comes from the resources, KVM routes included', () => {
  // One guest, subdevices of a generic device backed by IMS, 4 vectors each: under vir KVM
  // has a route per guest vector, 4096 per VM (KVM_MAX_IRQ_ROUTES) -> 1024 subdevices; under pv
  // with posted interrupts there are no routes and the 16,128 IMS entries run out at 4032. The
  // host has 128 CPUs: 128 x 203 = 25,984 host vectors / 4 = 6,496, so vectors do not bind.
  const text = stringify({
    host: { cpus: 128, iommu: { ir: true, posted: true } },
    devices: [
      {
        name: 'g0',
        kind: 'generic',
        bdf: '5e:00.0',
        msix: 8,
        ims: 16128,
        subdevices: 8,
      },
    ],
    vms: [
      {
        name: 'vm0',
        vcpus: 2,
        viommu: 'on',
        assign: [{ device: 'g0', subdevice: 0, guest: 'ims', backing: 'ims', vectors: 4 }],
      },
    ],
    workload: { sources: [{ vm: 'vm0', assign: 0, rate: '10k/s' }] },
    run: { duration: '1ms' },
  });
  const r = compareScenario(text, 'cap.yaml', ['vir', 'pv']);
  test('vir: limited by KVM routes, 4096 / 4', () => {
    expect(column(r.strategies.vir).capacity).toEqual({
      subdevices: 1024,
      limitedBy: 'kvm-routes',
    });
  });
  test('pv (posted, no routes): limited by the IMS store, 16128 / 4', () => {
    expect(column(r.strategies.pv).capacity).toEqual({
      subdevices: 4032,
      limitedBy: 'ims-entries',
    });
  });
});

describe.each(['mlx5-vf.yaml', 'idxd-siov.yaml', 'mixed.yaml'])('%s', (file) => {
  const r = compareScenario(shipped(file), file);
  test('no interrupt duplicated or misdirected; limitedBy names a resource', () => {
    for (const [name, e] of Object.entries(r.strategies)) {
      if ('error' in e) continue;
      expect(e.interrupts.duplicated, name).toBe(0);
      expect(e.interrupts.misdirected, name).toBe(0);
      expect(CAPACITY_RESOURCES as readonly string[], name).toContain(e.capacity.limitedBy);
    }
  });
});

describe('an MSI-X table sharing its page with device registers', () => {
  // 200k register accesses/s on that page for 10 ms = 2,000 per assigned VF; three VFs.
  const withSharedPage = (relocate: boolean) => {
    const s = mlx5();
    Object.assign(s.devices[0], {
      msixTableSharesPage: true,
      relocateMsix: relocate,
      tablePageRegisterRate: '200k/s',
    });
    return compareScenario(stringify(s), 'mlx5-vf.yaml');
  };
  const plain = compareScenario(shipped('mlx5-vf.yaml'), 'mlx5-vf.yaml');
  const shared = withSharedPage(false);
  const relocated = withSharedPage(true);
  test.each(['emulate', 'vir'])('%s traps the table page: every register access exits', (st) => {
    if ('error' in (shared.strategies[st] ?? {})) return; // vir needs a vIOMMU mlx5-vf lacks
    const c = column(shared.strategies[st]);
    expect(c.exits.tablePageRegisterAccesses).toBe(3 * 2000);
    expect(c.exits.byReason.msixTableAccess).toBe(
      column(plain.strategies[st]).exits.byReason.msixTableAccess + 3 * 2000,
    );
    expect(c.notes.join('\n')).toMatch(/shares its page/);
  });
  test('relocated (x-msix-relocation): no register access traps', () => {
    expect(column(relocated.strategies.emulate).exits.tablePageRegisterAccesses).toBe(0);
  });
  test.each(['pv', 'pv-batch'])('%s maps the table: the registers stay with the guest', (st) => {
    expect(column(shared.strategies[st]).exits.tablePageRegisterAccesses).toBe(0);
  });
});

describe('a host without dynamic MSI-X (VFIO before Linux 6.5, NORESIZE)', () => {
  // A one-VF guest: under emulate the guest's unmasks make the vectors live one at a time; each
  // growth from m live vectors disables MSI-X and enables m + 1, re-enabling the m already live.
  const oneVf = (dynamicMsix: boolean) => {
    const s = mlx5();
    s.host.dynamicMsix = dynamicMsix;
    s.vms = [s.vms[0]];
    s.workload.actions = s.workload.actions.filter((a: { vm: string }) => a.vm === 'vm0');
    s.workload.sources = s.workload.sources.filter((a: { vm: string }) => a.vm === 'vm0');
    return column(compareScenario(stringify(s), 'mlx5-vf.yaml', ['emulate']).strategies.emulate);
  };
  test('4 vectors grown one by one: 0 + 1 + 2 + 3 = 6 vectors re-enabled', () => {
    expect(oneVf(false).hostWork.vfioReenabledVectors).toBe(6);
  });
  test('with dynamic MSI-X: none', () => {
    expect(oneVf(true).hostWork.vfioReenabledVectors).toBe(0);
  });
});
