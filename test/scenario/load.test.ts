// Loading scenario files: YAML syntax, the schema and the table of cross-field rules. Every problem
// names file:line:column of the offending node and the rule; nothing is returned (so nothing is
// built) from an invalid file. Positions are checked against the text itself (the line holding
// the offending key), and every rule of RULES has a case here that breaks it.
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { RuleError } from '../../src/hw/errors.js';
import { buildScenario } from '../../src/scenario/build.js';
import { ScenarioError } from '../../src/scenario/errors.js';
import { loadScenario, withScenario } from '../../src/scenario/load.js';
import { RULES } from '../../src/scenario/rules.js';

const FILE = 'bad.yaml';

function errorOf(text: string, overrides = {}): ScenarioError {
  try {
    loadScenario(text, FILE, overrides);
  } catch (e) {
    if (e instanceof ScenarioError) return e;
    throw e;
  }
  throw new Error('expected a ScenarioError');
}

/** 1-based line and column of the first `needle` at or after the line containing `after`. */
function position(text: string, needle: string, after = ''): { line: number; column: number } {
  const lines = text.split('\n');
  const start = after ? lines.findIndex((l) => l.includes(after)) : 0;
  for (let i = Math.max(0, start); i < lines.length; i++) {
    const col = lines[i].indexOf(needle);
    if (col >= 0) return { line: i + 1, column: col + 1 };
  }
  throw new Error(`${needle} not in text`);
}

const DESIGN_EXAMPLE = `host:
  cpus: 4
  iommu:
    ir: false
    posted: false
devices:
  - { name: dsa0, kind: idxd, bdf: "6a:01.0", msix: 9, ims: 2048, subdevices: 2 }
vms:
  - name: vm0
    vcpus: 1
    viommu: on
  - name: vm1
    vcpus: 1
    viommu: on
    assign:
      - device: dsa0
        subdevice: 0
        guest: msix
        backing: ims
        vectors: 1
run:
  duration: 1ms
`;

describe('scenario errors name file:line:column and the rule', () => {
  it('reports the issue example: IMS backing on a host without IR', () => {
    const e = errorOf(DESIGN_EXAMPLE);
    const at = position(DESIGN_EXAMPLE, 'ims', 'backing:');
    expect(e.issues).toHaveLength(1);
    expect(e.message).toBe(
      `${FILE}:${at.line}:${at.column}: vms[1].assign[0].backing: "ims" needs interrupt remapping on the host (iommu.ir: true) [rule: ims-needs-host-ir]`,
    );
  });
  it('reports a YAML syntax error with its position', () => {
    const e = errorOf('host:\n  cpus: [1, 2\nrun: {}\n');
    expect(e.issues[0].rule).toBe('yaml-syntax');
    expect(e.issues[0].line).toBeGreaterThanOrEqual(2);
    expect(e.message).toMatch(/^bad\.yaml:\d+:\d+: .* \[rule: yaml-syntax\]/);
  });
  it('reports a duplicate key as a YAML error', () => {
    const e = errorOf('host:\n  cpus: 1\n  cpus: 2\nrun: { duration: 1ms }\n');
    expect(e.issues[0].rule).toBe('yaml-syntax');
    expect(e.issues[0].line).toBe(3);
  });
  it('reports an unknown key on the key', () => {
    const text = 'host:\n  cpus: 2\n  cpu_count: 3\nrun: { duration: 1ms }\n';
    const e = errorOf(text);
    expect(e.issues[0]).toMatchObject({ rule: 'schema/unrecognized_keys', path: 'host.cpu_count' });
    expect(e.issues[0].line).toBe(3);
  });
  it('reports a wrong enum value at the value, with the schema rule', () => {
    const text = `${DESIGN_EXAMPLE.replace('backing: ims', 'backing: imx')}`;
    const e = errorOf(text);
    const at = position(text, 'imx');
    expect(e.issues[0]).toMatchObject({ rule: 'schema/invalid_value', ...at });
    expect(e.issues[0].path).toBe('vms[1].assign[0].backing');
  });
  it('reports a missing required field at its parent', () => {
    const e = errorOf('host: { cpus: 1 }\n');
    expect(e.issues[0]).toMatchObject({ path: 'run', rule: 'schema/invalid_type', line: 1 });
  });
  it('reports a malformed duration', () => {
    const text = 'host: { cpus: 1 }\nrun:\n  duration: 10 parsecs\n';
    const e = errorOf(text);
    expect(e.issues[0]).toMatchObject({ path: 'run.duration', line: 3, column: 13 });
  });
  it('reports every problem of the file, not only the first', () => {
    const text = DESIGN_EXAMPLE.replace('vcpus: 1', 'vcpus: 0').replace('cpus: 4', 'cpus: -1');
    expect(errorOf(text).issues.length).toBeGreaterThanOrEqual(2);
  });
  it('reports an alias with no anchor before it at the alias', () => {
    const text = 'host:\n  cpus: *n\nrun: { duration: 1ms }\n';
    const e = errorOf(text);
    expect(e.issues[0]).toMatchObject({ rule: 'yaml-alias', ...position(text, '*n') });
  });
  it('reports an alias inside the node it names', () => {
    const text = 'host: &h\n  cpus: 1\n  iommu: *h\nrun: { duration: 1ms }\n';
    expect(errorOf(text).issues[0]).toMatchObject({ rule: 'yaml-alias', ...position(text, '*h') });
  });
  it('stops an alias bomb at the alias that passes the bound, before expanding it', () => {
    // nine levels of nine aliases: 9^9 (387 million) nodes once expanded
    const levels = ['a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1]'];
    for (let i = 1; i <= 9; i++) {
      levels.push(
        `a${i}: &a${i} [${Array(9)
          .fill(`*a${i - 1}`)
          .join(', ')}]`,
      );
    }
    const text = `description:\n  ${levels.join('\n  ')}\nhost: { cpus: 1 }\nrun: { duration: 1ms }\n`;
    const e = errorOf(text);
    expect(e.issues).toHaveLength(1);
    expect(e.issues[0].rule).toBe('yaml-alias');
    expect(e.message).toMatch(/past 100000 nodes/);
    // a level is 1 + 9 x the one below: a0..a4 hold 10 + 91 + 820 + 7,381 + 66,430 = 74,732
    // nodes, and the first *a4 (in a5's list) adds 66,430 more: past 100,000 there
    expect(e.issues[0]).toMatchObject(position(text, '*a4'));
  });
  it('bounds a rate by what any device raises, the reason in the message', () => {
    const text = stringify({
      ...base(),
      workload: { sources: [{ vm: 'vm0', assign: 0, rate: '20M/s' }] },
    });
    const e = errorOf(text);
    expect(e.issues[0]).toMatchObject({ rule: 'schema/custom', path: 'workload.sources[0].rate' });
    expect(e.message).toContain('at most 10M/s');
  });
  it('bounds the VMs and the timed actions a scenario holds', () => {
    const vms = Array.from({ length: 65 }, (_, i) => ({ name: `vm${i}`, vcpus: 1 }));
    const big = { host: { cpus: 128 }, vms, run: { duration: '1ms' } };
    expect(errorOf(stringify(big)).issues[0]).toMatchObject({
      rule: 'schema/too_big',
      path: 'vms',
    });
    const probe = { at: '0ms', do: 'probe', vm: 'vm0', assign: 0 };
    const acts = { ...big, vms: [], workload: { actions: Array(4097).fill(probe) } };
    expect(errorOf(stringify(acts)).issues[0]).toMatchObject({
      rule: 'schema/too_big',
      path: 'workload.actions',
    });
  });
  it('reports a second YAML document as an error', () => {
    const e = errorOf('host: { cpus: 1 }\nrun: { duration: 1ms }\n---\nhost: {}\n');
    expect(e.issues[0]).toMatchObject({ rule: 'yaml-syntax', line: 3 });
  });
  it('reports a refusal of the model on a valid file located at what sizes the resource', () => {
    // what hv/vfio.ts throws when the host has no vector left for a guest vector
    const refuse = () => {
      throw new RuleError('host-resources', 'VFIO request_irq 430', 'no vector available');
    };
    let error: unknown;
    try {
      withScenario(stringify(base()), FILE, {}, refuse);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ScenarioError);
    const e = error as ScenarioError;
    expect(e.message).toBe(
      `${FILE}:2:9: host.cpus: VFIO request_irq 430: no vector available [rule: host-resources]`,
    );
  });
  it('judges a --strategy override with the rules', () => {
    const text = DESIGN_EXAMPLE.replace('ir: false', 'ir: true');
    const e = errorOf(text, { strategy: 'pv' });
    expect(e.issues.map((i) => i.rule)).toContain('direct-needs-same-type');
    expect(e.message).toContain('(with --strategy pv)');
  });
});

// ---- every rule of the table, broken once ----

interface Device {
  name: string;
  kind: string;
  bdf: string;
  msix?: number;
  msi?: number;
  ims?: number;
  subdevices?: number;
  vfs?: number;
  vfMsix?: number;
  vfOffset?: number;
}
interface Assignment {
  device: string;
  vf?: number;
  subdevice?: number;
  guest: string;
  backing: string;
  vectors: number;
}
interface Base {
  host: {
    cpus: number;
    x2apic?: boolean;
    apicv?: boolean;
    iommu: { ir: boolean; posted: boolean };
  };
  devices: Device[];
  vms: {
    name: string;
    vcpus: number;
    viommu: string;
    strategy?: string;
    pin?: number[];
    assign: Assignment[];
    kernel?: Record<string, unknown>;
  }[];
  workload: {
    actions: { at: string; do: string; vm: string; assign: number; vector: number; vcpu: number }[];
    sources: { vm: string; assign: number; rate: string }[];
  };
  run: { duration: string };
}

const base = (): Base => ({
  host: { cpus: 8, iommu: { ir: true, posted: true } },
  devices: [
    { name: 'dsa0', kind: 'idxd', bdf: '6a:01.0', msix: 9, ims: 64, subdevices: 4 },
    { name: 'cx0', kind: 'mlx5', bdf: '3b:00.0', msix: 8, msi: 4, vfs: 2, vfMsix: 4, vfOffset: 2 },
  ],
  vms: [
    {
      name: 'vm0',
      vcpus: 2,
      viommu: 'on',
      assign: [
        { device: 'dsa0', subdevice: 0, guest: 'msix', backing: 'ims', vectors: 2 },
        { device: 'cx0', vf: 0, guest: 'msix', backing: 'msix', vectors: 2 },
      ],
    },
  ],
  workload: {
    actions: [{ at: '1ms', do: 'set-affinity', vm: 'vm0', assign: 0, vector: 1, vcpu: 0 }],
    sources: [{ vm: 'vm0', assign: 0, rate: '10k/s' }],
  },
  run: { duration: '2ms' },
});

/** vm0's guest kernel spelled out (kernel/kernel-spec.ts), as the conformance scenarios do. */
const vm0Kernel = (more: Record<string, unknown>) => ({
  version: '6.6',
  platform: 'guest-vir',
  cpus: 2,
  apic: 'x2apic-phys',
  devices: [{ bdf: '0000:00:04.0', msix: 2 }],
  ...more,
});

const BREAKS: Record<string, (s: Base) => void> = {
  'kernel-apic-mode': (s) => {
    // flat logical: one destination bit per CPU, 8 bits
    s.host.cpus = 16;
    s.vms[0].vcpus = 10;
    s.vms[0].kernel = vm0Kernel({ cpus: 10, apic: 'xapic-logical-flat' });
  },
  'kernel-size': (s) => {
    // 1024 CPUs x two full MSI-X tables (kernel-matches-machine breaks too)
    const msix = (slot: number) => ({ bdf: `0000:00:0${slot}.0`, msix: 2048 });
    s.vms[0].kernel = vm0Kernel({ cpus: 1024, devices: [msix(4), msix(5)] });
  },
  'kernel-devices': (s) => {
    s.vms[0].kernel = vm0Kernel({ boot: [{ do: 'probe', bdf: '0000:00:09.0' }] });
  },
  'kernel-boot-cpus': (s) => {
    // the boot CPU is online before any step: Linux would never online it again
    s.vms[0].kernel = vm0Kernel({ boot: [{ do: 'online-cpus', cpus: [0] }] });
  },
  'kernel-matches-machine': (s) => {
    s.vms[0].kernel = vm0Kernel({ cpus: 4 });
  },
  'assigned-vectors-budget': (s) => {
    // 2048 IMS vectors on subdevice 0 and 2 more on the VF: 2050
    s.devices[0].ims = 4096;
    s.vms[0].assign[0].vectors = 2048;
  },
  'run-interrupt-budget': (s) => {
    // 10k/s on each of the assignment's two vectors for 20 s: 400,000 raises
    s.run.duration = '20s';
  },
  'guest-vectors-fit': (s) => {
    // Linux 6.12 x86-64: vectors 0x20-0xeb less 0x80 (IA32 syscall) = 203 per CPU; 2 vCPUs
    s.devices[0].ims = 1024;
    s.vms[0].assign[0].vectors = 405;
    s.vms[0].assign[1].vectors = 2;
  },
  'guest-pci-slots': (s) => {
    const one = { device: 'dsa0', guest: 'msix', backing: 'msix', vectors: 1 };
    // bus 0 device numbers 0x04..0x1f: 28 slots
    for (let i = 0; i < 27; i++) s.vms[0].assign.push({ ...one, subdevice: i % 4 });
  },
  'unique-names': (s) => {
    s.devices[1].name = 'dsa0';
  },
  'unique-routing-ids': (s) => {
    s.devices[1].bdf = '6a:01.0';
  },
  'vfs-need-vf-msix': (s) => {
    s.devices[1].vfMsix = 0;
  },
  'subdevices-need-siov-device': (s) => {
    s.devices[1].subdevices = 2;
  },
  'posted-needs-ir': (s) => {
    s.host.iommu.ir = false;
  },
  'posted-needs-apicv': (s) => {
    s.host.apicv = false;
  },
  'one-vcpu-per-pcpu': (s) => {
    s.vms[0].vcpus = 9;
  },
  'x2apic-above-255-cpus': (s) => {
    s.host.cpus = 300;
    s.host.x2apic = false;
  },
  'device-ref': (s) => {
    s.vms[0].assign[1].device = 'nope';
  },
  'one-function': (s) => {
    s.vms[0].assign[1].subdevice = 1;
  },
  'function-exists': (s) => {
    s.vms[0].assign[1].vf = 5;
  },
  'assigned-once': (s) => {
    s.vms[0].assign.push({ ...s.vms[0].assign[1] });
  },
  'ims-needs-host-ir': (s) => {
    s.host.iommu = { ir: false, posted: false };
  },
  'ims-needs-guest-ir': (s) => {
    s.vms[0].assign[0].guest = 'ims';
    s.vms[0].viommu = 'bypass';
  },
  'ims-backing-needs-ims-store': (s) => {
    s.vms[0].assign[1].backing = 'ims';
  },
  'backing-capability': (s) => {
    s.vms[0].assign[1].backing = 'msi';
  },
  'vector-counts': (s) => {
    s.vms[0].assign[0].guest = 'msi';
    s.vms[0].assign[0].vectors = 3;
  },
  'multi-msi-needs-ir': (s) => {
    // emulate (the default strategy): no IR in the guest, one MSI vector per function
    s.vms[0].assign[0].guest = 'msi';
  },
  'msix-capacity': (s) => {
    s.vms[0].assign[1].vectors = 5;
  },
  'one-interrupt-mode': (s) => {
    // dsa0's subdevice 0 is backed by IMS (allowed beside anything); subdevice 1 by MSI-X, 2 by MSI
    s.vms[0].assign.push(
      { device: 'dsa0', subdevice: 1, guest: 'msix', backing: 'msix', vectors: 1 },
      { device: 'dsa0', subdevice: 2, guest: 'msix', backing: 'intx', vectors: 1 },
    );
  },
  'msi-capacity': (s) => {
    // cx0 is capable of 4 MSI vectors; its whole function backs 8 with MSI
    s.vms[0].assign[1] = { device: 'cx0', guest: 'msix', backing: 'msi', vectors: 8 };
  },
  'ims-capacity': (s) => {
    s.vms[0].assign[0].vectors = 65;
  },
  'direct-needs-same-type': (s) => {
    s.vms[0].strategy = 'vir-direct';
  },
  'same-type-passthrough-needs-hypercall': (s) => {
    s.host.iommu = { ir: false, posted: false };
    s.vms[0].assign.splice(0, 1); // the IMS one would also break ims-needs-host-ir
    s.workload.sources[0].assign = 0;
    s.workload.actions[0].assign = 0;
    s.vms[0].strategy = 'pv';
  },
  'vcpus-above-255-need-eim-or-ext-dest-id': (s) => {
    s.host.cpus = 300;
    s.vms[0].vcpus = 256;
    s.vms[0].viommu = 'bypass';
    s.vms[0].assign.splice(0, 1); // idxd needs a vIOMMU
    s.workload.sources[0].assign = 0;
    s.workload.actions[0].assign = 0;
  },
  'vir-needs-viommu': (s) => {
    s.vms[0].strategy = 'vir';
    s.vms[0].viommu = 'bypass';
  },
  'idxd-needs-viommu': (s) => {
    s.vms[0].viommu = 'off';
  },
  'vcpu-pinning': (s) => {
    s.vms[0].pin = [0, 8];
  },
  'workload-refs': (s) => {
    s.workload.actions[0].vcpu = 7;
  },
};

describe('cross-field rules', () => {
  it('the base scenario is valid', () => {
    expect(() => loadScenario(stringify(base()), FILE)).not.toThrow();
  });
  it('guest-vectors-fit: 203 vectors on one vCPU load and build; the guest kernel holds them', () => {
    const s = base();
    s.vms[0].vcpus = 1;
    s.devices[0].ims = 1024;
    s.vms[0].assign = [
      { device: 'dsa0', subdevice: 0, guest: 'msix', backing: 'ims', vectors: 203 },
    ];
    s.workload = { actions: [], sources: [] };
    expect(() => buildScenario(loadScenario(stringify(s), FILE))).not.toThrow();
    s.vms[0].assign[0].vectors = 204;
    expect(errorOf(stringify(s)).issues.map((i) => i.rule)).toEqual(['guest-vectors-fit']);
  });
  it('has a breaking case here for every rule of the table', () => {
    expect(Object.keys(BREAKS).sort()).toEqual(RULES.map((r) => r.name).sort());
  });
  for (const [rule, breakIt] of Object.entries(BREAKS)) {
    it(`${rule}: rejected, at a line that holds the offending key`, () => {
      const s = base();
      breakIt(s);
      const text = stringify(s);
      const e = errorOf(text);
      const issue = e.issues.find((i) => i.rule === rule);
      expect(issue, e.message).toBeDefined();
      if (!issue) return;
      expect(issue.file).toBe(FILE);
      expect(e.message).toContain(`[rule: ${rule}]`);
      const lastKey =
        issue.path
          .split('.')
          .pop()
          ?.replace(/\[\d+\]$/, '') ?? '';
      const lineText = text.split('\n')[issue.line - 1];
      // an index path (`pin[1]`, `assign[2]`) points at a list item, a named one at its key
      if (!/\]$/.test(issue.path)) expect(lineText).toContain(`${lastKey}:`);
      expect(issue.column).toBeGreaterThanOrEqual(1);
    });
  }
});
