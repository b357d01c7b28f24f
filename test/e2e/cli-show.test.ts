// `irqlab show --what topology` through the real binary: the devices, functions (with the VFs'
// routing IDs from First VF Offset and VF Stride), VMs and assignments of a shipped scenario.
import { beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { bin, ensureBuilt } from './cli-run-helpers.js';

beforeAll(ensureBuilt, 180_000);

describe('irqlab show (binary)', () => {
  it('prints the topology of mlx5-vf.yaml', () => {
    const r = bin('show', 'scenarios/mlx5-vf.yaml');
    expect(r.status, r.stderr).toBe(0);
    // vfOffset 2, stride 1: VF 0 is 3b:00.2, VF 3 is 3b:00.5
    expect(r.stdout).toContain('4 VFs 0000:3b:00.2 .. 0000:3b:00.5');
    expect(r.stdout).toMatch(
      /assign\[0\] cx0 VF 0: guest sees msix, host backs with msix, 4 vectors/,
    );
    // The guest kernel (Linux 6.12) allocates it: the first free vector of CPU 0 from
    // FIRST_EXTERNAL_VECTOR 0x20 (no IRQ_MOVE_CLEANUP_VECTOR since 6.6, no legacy PIC vectors).
    expect(r.stdout).toMatch(/from 0000:3b:00\.2 -> IRTE \d+ \(posted\) -> vcpu0 vector 0x20/);
  });
  it('--json parses; IMS-backed subdevices share the DSA requester ID', () => {
    const r = bin('show', 'scenarios/idxd-siov.yaml', '--what', 'topology', '--json');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    type Vector = { requester: string; store: string };
    type Vm = { assign: { vectorsDetail: Vector[] }[] };
    const vectors: Vector[] = j.vms.flatMap((vm: Vm) => vm.assign.flatMap((a) => a.vectorsDetail));
    expect(vectors).toHaveLength(8); // four subdevices, two vectors each
    expect(new Set(vectors.map((v) => v.requester))).toEqual(new Set(['0000:6a:01.0']));
    expect(new Set(vectors.map((v) => v.store))).toEqual(new Set(['dsa0/ims']));
  });
  it('an unknown view exits 2', () => {
    const r = bin('show', 'scenarios/mixed.yaml', '--what', 'everything');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--what: "everything" is not one of/);
  });
  it('--help lists the views with an example', () => {
    const r = bin('show', '--help');
    expect(r.stdout).toContain('Examples:');
    expect(r.stdout).toContain('topology');
  });
});

// The register views: the MSI-X entry scenarios/mlx5-vf.yaml's workload masks at 3ms and unmasks
// at 3.5ms (vm0, assignment 0, vector 2), read from the system's words at times of the run; and
// two kernel views of one kernel that must agree (IMS entries and the IRTEs their handles name).
describe('irqlab show --what msix|ims|irte (binary)', () => {
  const entry2 = (at: string) => {
    const r = bin('show', 'scenarios/mlx5-vf.yaml', '--what', 'msix', '--at', at, '--json');
    expect(r.status, r.stderr).toBe(0);
    type Store = { bdf: string; table: { entry: number; masked: boolean; who: string }[] };
    const stores: Store[] = JSON.parse(r.stdout);
    return stores.flatMap((st) => st.table).find((e) => e.who === 'vm0/cx0-vf0/2');
  };
  // Under emulate (this scenario's strategy) the guest masks QEMU's copy of its entry, not the
  // device's (hw/vfio/pci.c vfio_msix_vector_release): the host entry stays unmasked and VFIO
  // signals QEMU instead of KVM's irqfd, so the irq bypass producer goes and KVM puts the IRTE
  // back in remapped format until the guest unmasks (vfio_msix_vector_use).
  const irte2 = (at: string) => {
    const r = bin('show', 'scenarios/mlx5-vf.yaml', '--what', 'irte', '--at', at, '--json');
    expect(r.status, r.stderr).toBe(0);
    const irt: { present: { who: string; summary: string }[] } = JSON.parse(r.stdout);
    return irt.present.find((e) => e.who === 'vm0/cx0-vf0/2')?.summary.split(' ')[0];
  };
  it('--at reads the host as the workload left it then: the entry never masked, the IRTE remapped only between 3ms and 3.5ms', () => {
    expect(['2ms', '3.2ms', '4ms'].map((t) => entry2(t)?.masked)).toEqual([false, false, false]);
    expect(['2ms', '3.2ms', '4ms'].map(irte2)).toEqual(['posted', 'remapped', 'posted']);
  });
  it('--at: every present host IRTE is owned by an assigned vector whose requester it accepts', () => {
    const r = bin('show', 'scenarios/mlx5-vf.yaml', '--what', 'irte', '--at', '1ms', '--json');
    expect(r.status, r.stderr).toBe(0);
    const irt: { present: { who: string; sourceIdCheck: string }[] } = JSON.parse(r.stdout);
    expect(irt.present.length).toBeGreaterThan(0);
    for (const e of irt.present) expect([e.who === '-', e.sourceIdCheck]).toEqual([false, 'ok']);
  });
  it.each([
    [['--what', 'invalidations', '--at', '1ms'], /--at: --what invalidations is a kernel's/],
    [['--what', 'msix', '--at', '1ms', '--kernel', 'guest'], /--kernel host/],
    [['--what', 'msix', '--at', 'soon'], /"soon" is not a duration/],
    [['--what', 'msix', '--at', '1s'], /after the run's end/],
  ])('%j exits 2', (args, message) => {
    const r = bin('show', 'scenarios/mlx5-vf.yaml', ...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
  });
  it("the host's IMS entries name, by handle, the IRTE of the irq behind each", () => {
    const show = (what: string) => {
      const r = bin(
        'show',
        'scenarios/idxd-siov.yaml',
        '--what',
        what,
        '--kernel',
        'host',
        '--json',
      );
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout);
    };
    type Ims = { entries: { irq: number | null; decoded: { format: string; handle: number } }[] };
    type Irt = { present: { index: number; irq: number | null }[] };
    const ims: Ims[] = show('ims');
    const [irt]: Irt[] = show('irte');
    const irteOfIrq = new Map(irt.present.map((e) => [e.irq, e.index]));
    const entries = ims.flatMap((s) => s.entries).filter((e) => e.irq !== null);
    expect(entries.length).toBeGreaterThan(0);
    for (const e of entries) {
      expect(e.decoded.format).toBe('remappable');
      expect(e.decoded.handle).toBe(irteOfIrq.get(e.irq));
    }
  });
});

describe('irqlab show --what topology, an INTx fan-out', () => {
  it("prints the line's host vector for every source sharing it (mixed.yaml assign[1])", async () => {
    const m = memoryIo();
    expect(await main(['show', 'scenarios/mixed.yaml', '--json'], m.io)).toBe(0);
    const [first, second] = JSON.parse(m.stdout()).vms[0].assign[1].vectorsDetail;
    // one host irq for the line (the IOAPIC pin the subdevice's INTx asserts), one IRTE, one
    // host vector: the second source is fanned out from the same message
    expect(second.hostIrq).toBe(first.hostIrq);
    expect({ irte: second.irte, cpu: second.hostCpu, vector: second.hostVector }).toEqual({
      irte: first.irte,
      cpu: first.hostCpu,
      vector: first.hostVector,
    });
    expect(first.hostVector).toMatch(/^0x[0-9a-f]+$/);
    expect(second.sharesLineOf).toBe(first.name);
    const text = memoryIo();
    await main(['show', 'scenarios/mixed.yaml'], text.io);
    expect(text.stdout()).not.toContain('0x-1');
  });
});
