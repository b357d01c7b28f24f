// `irqlab compare` on scenarios drawn at random (device kind, what is assigned, guest
// representation and host backing, strategy, host IR/posted, vIOMMU, a second and maybe hostile
// guest, the workload's actions): every combination either runs or is refused naming a rule,
// never a crash; and whatever runs keeps the interrupt model's promises end to end: nothing
// delivered twice or to a vector nobody routed there, never more delivered than raised, nothing
// lost unless a device went away or a hostile guest shares the requester ID, and the teardown
// returns every host resource.
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ScenarioError } from '../../src/scenario/errors.js';
import { compareScenario } from '../../src/scenario/run-strategy.js';

const DEVICES = {
  generic: { name: 'd0', kind: 'generic', bdf: '01:00.0', msix: 8, msi: 4, ims: 32, subdevices: 4 },
  mlx5: {
    name: 'd0',
    kind: 'mlx5',
    bdf: '3b:00.0',
    msix: 16,
    msi: 4,
    vfs: 2,
    vfMsix: 8,
    vfOffset: 2,
  },
  idxd: { name: 'd0', kind: 'idxd', bdf: '6a:01.0', msix: 9, ims: 64, subdevices: 4 },
} as const;
type Kind = keyof typeof DEVICES;

const scenario = fc
  .record({
    kind: fc.constantFrom<Kind>('generic', 'mlx5', 'idxd'),
    slice: fc.boolean(),
    guest: fc.constantFrom('msi', 'msix', 'ims'),
    backing: fc.constantFrom('intx', 'msi', 'msix', 'ims'),
    sameType: fc.boolean(),
    vectors: fc.constantFrom(1, 2, 4),
    vcpus: fc.constantFrom(1, 2),
    ir: fc.boolean(),
    posted: fc.boolean(),
    viommu: fc.constantFrom('on', 'off', 'bypass'),
    idle: fc.constantFrom('halt', 'poll'),
    second: fc.constantFrom('none', 'peer', 'hostile'),
    freeAndRequest: fc.boolean(),
    unplug: fc.boolean(),
  })
  .map((p) => {
    const backing = p.sameType ? p.guest : p.backing;
    const where = (n: number) =>
      p.kind === 'mlx5' ? (p.slice ? { vf: n } : {}) : p.slice ? { subdevice: n } : {};
    const assign = (n: number) => [
      { device: 'd0', ...where(n), guest: p.guest, backing, vectors: p.vectors },
    ];
    const vm0 = { name: 'vm0', vcpus: p.vcpus, viommu: p.viommu, idle: p.idle, assign: assign(0) };
    const vm1 = {
      name: 'vm1',
      vcpus: 1,
      viommu: 'on',
      hostile: p.second === 'hostile',
      assign: assign(1),
    };
    const at = (ms: number) => `${ms}ms`;
    const actions = [
      { at: at(1), do: 'mask', vm: 'vm0', assign: 0, vector: 0 },
      { at: at(1.5), do: 'unmask', vm: 'vm0', assign: 0, vector: 0 },
      {
        at: at(2),
        do: 'set-affinity',
        vm: 'vm0',
        assign: 0,
        vector: p.vectors - 1,
        vcpu: p.vcpus - 1,
      },
      { at: at(2.5), do: 'migrate-vcpu', vm: 'vm0', vcpu: 0, pcpu: 3 },
      ...(p.freeAndRequest
        ? [
            { at: at(3), do: 'free-irq', vm: 'vm0', assign: 0, vector: 0 },
            { at: at(3.5), do: 'request-irq', vm: 'vm0', assign: 0, vector: 0 },
          ]
        : []),
      ...(p.unplug ? [{ at: at(4), do: 'hot-unplug', vm: 'vm0', assign: 0 }] : []),
    ];
    const text = stringify({
      host: { cpus: 4, x2apic: true, iommu: { ir: p.ir, posted: p.ir && p.posted } },
      devices: [DEVICES[p.kind]],
      vms: p.second === 'none' ? [vm0] : [vm0, vm1],
      workload: { actions, sources: [{ vm: 'vm0', assign: 0, rate: '50k/s' }] },
      run: { duration: '5ms' },
    });
    return { text, mayLose: p.unplug || p.second === 'hostile' };
  });

it('every scenario runs or is refused naming a rule; what runs keeps its promises', () => {
  let ran = 0;
  fc.assert(
    fc.property(scenario, ({ text, mayLose }) => {
      let r: ReturnType<typeof compareScenario>;
      try {
        r = compareScenario(text, 'drawn.yaml');
      } catch (e) {
        // A load-time problem is a scenario error naming its rules, never anything else.
        expect(e).toBeInstanceOf(ScenarioError);
        if (e instanceof ScenarioError) expect(e.issues.every((i) => i.rule !== '')).toBe(true);
        return;
      }
      for (const c of Object.values(r.strategies)) {
        if ('error' in c) {
          expect(c.error.rule).toMatch(/^[a-z0-9-]+$/);
          continue;
        }
        ran++;
        expect(c.interrupts.duplicated).toBe(0);
        expect(c.interrupts.misdirected).toBe(0);
        expect(c.interrupts.delivered).toBeLessThanOrEqual(c.interrupts.raised);
        if (!mayLose) expect(c.interrupts.lost).toBe(0);
        expect(c.notes.filter((n) => n.startsWith('teardown left'))).toEqual([]);
      }
    }),
    { numRuns: 100, seed: 20261125 },
  );
  expect(ran).toBeGreaterThan(10);
});
