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
