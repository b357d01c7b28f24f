// Affinity changes through /proc/irq/N/smp_affinity_list as Linux 6.1 makes them. Expected
// values come from the 6.1 sources:
//  - kernel/irq/proc.c write_irq_affinity: `if (!irq_can_set_affinity_usr(irq) || no_irq_affinity)
//    return -EIO;` (irq_can_set_affinity_usr, kernel/irq/manage.c: a chip with set_affinity, a
//    balanceable irq, not IRQD_AFFINITY_MANAGED); a mask with no online CPU is -EINVAL on x86;
//  - kernel/irq/proc.c show_irq_affinity: with CONFIG_GENERIC_PENDING_IRQ and
//    irqd_is_setaffinity_pending() it shows desc->pending_mask;
//  - drivers/iommu/intel/irq_remapping.c intel_ir_set_affinity: after modify_irte it calls
//    send_cleanup_vector(cfg), which (arch/x86/kernel/apic/vector.c __send_cleanup_vector) queues
//    the old vector on the old CPU and sends it IRQ_MOVE_CLEANUP_VECTOR (0x20 in 6.1); its
//    handler frees the vector unless it is pending in the IRR (then it sends the IPI to itself
//    again). assign_vector_locked returns -EBUSY only while move_in_progress or queued.
import { describe, expect, test } from 'vitest';
import { checkKernel } from '../../src/kernel/check.js';
import { showIrqAffinity, writeIrqAffinity } from '../../src/kernel/irq-proc.js';
import { apicData } from '../../src/kernel/kernel-state.js';
import { handleVector, irqTarget, requestIrq } from '../../src/kernel/manage.js';
import { pciAllocIrqVectors, pciIrqVector } from '../../src/kernel/pci-msi-api.js';
import type { KernelPlatform } from '../../src/kernel/platform.js';
import { type CpuId, cpuMask, formatCpuList } from '../../src/kernel/types.js';
import { renderIrqAffinity } from '../../src/report/irq-affinity.js';
import { boot } from './helpers.js';

const DEV = '0000:00:04.0';

function msixIrq(platform: 'host-noir' | 'host-ir', opts: { managed?: boolean } = {}) {
  const r = boot({
    version: '6.1',
    platform,
    apic: 'xapic-logical-flat',
    devices: [{ bdf: DEV, msix: 8 }],
  });
  pciAllocIrqVectors(r.kernel, r.platform, DEV, {
    min: 3,
    max: 3,
    flags: { msix: true },
    ...(opts.managed ? { affd: { preVectors: 1, postVectors: 0 } } : {}),
  });
  const virq = (pciIrqVector(r.kernel, DEV, 1) as { virq: number }).virq;
  expect(requestIrq(r.kernel, r.platform, virq, 'q1').ok).toBe(true);
  return { ...r, virq };
}

describe('write_irq_affinity: what user space may not move', () => {
  test('a managed irq: EIO, and nothing changes', () => {
    const r = msixIrq('host-noir', { managed: true });
    const before = structuredClone(r.kernel.descs[r.virq]);
    expect(writeIrqAffinity(r.kernel, r.platform, r.virq, cpuMask([0]))).toMatchObject({
      ok: false,
      errno: 'EIO',
    });
    expect(r.kernel.descs[r.virq]).toEqual(before);
  });

  test('an IRQF_NOBALANCING irq (the timer): EIO', () => {
    const r = boot({
      version: '6.1',
      platform: 'host-noir',
      apic: 'xapic-logical-flat',
      legacyPic: true,
      ioapic: { pins: 24 },
      boot: [{ do: 'setup-ioapic-legacy', timer: true }, { do: 'online-cpus' }],
    });
    expect(r.kernel.descs[0].actions.map((a) => a.name)).toEqual(['timer']);
    expect(writeIrqAffinity(r.kernel, r.platform, 0, cpuMask([1]))).toMatchObject({
      errno: 'EIO',
    });
  });

  test('a mask without an online CPU: EINVAL', () => {
    const r = boot({
      version: '6.1',
      platform: 'host-noir',
      apic: 'xapic-logical-flat',
      devices: [{ bdf: DEV, msix: 8, driver: { kind: 'generic', name: 'g', vectors: 2 } }],
      boot: [
        { do: 'online-cpus', cpus: [1] },
        { do: 'probe', bdf: DEV },
      ],
    });
    const virq = (pciIrqVector(r.kernel, DEV, 1) as { virq: number }).virq;
    expect(writeIrqAffinity(r.kernel, r.platform, virq, cpuMask([3]))).toMatchObject({
      errno: 'EINVAL',
    });
  });
});

describe('with IR: the move is done at once and its cleanup runs at once', () => {
  test('a second move right after the first is accepted; the cleanup IPI freed the old vector', () => {
    const r = msixIrq('host-ir');
    const k = r.kernel;
    const first = irqTarget(k, r.virq);
    const cpus = [0, 1, 2, 3].filter((c) => c !== first?.cpu);
    const from = k.accessLog.length;
    expect(writeIrqAffinity(k, r.platform, r.virq, cpuMask([cpus[0]]))).toEqual({ ok: true });
    expect(k.accessLog.slice(from).map((a) => a.kind)).toEqual([
      'irte-write',
      'iec-invalidate',
      'ipi',
    ]);
    expect(k.accessLog.at(-1)).toMatchObject({ kind: 'ipi', cpu: first?.cpu, vector: 0x20 });
    expect(k.vectorIrq[first?.cpu ?? 0][first?.vector ?? 0]).toBe(-1);
    expect(writeIrqAffinity(k, r.platform, r.virq, cpuMask([cpus[1]]))).toEqual({ ok: true });
    expect(irqTarget(k, r.virq)?.cpu).toBe(cpus[1]);
    expect(formatCpuList(showIrqAffinity(k.descs[r.virq]))).toBe(String(cpus[1]));
    checkKernel(k);
  });

  test('an old vector still pending in the IRR keeps the cleanup waiting, and the move refused, until it is serviced', () => {
    const r = msixIrq('host-ir');
    const k = r.kernel;
    const old = irqTarget(k, r.virq);
    if (old === null) throw new Error('no target');
    let oldPending = true;
    const p: KernelPlatform = {
      ...r.platform,
      lapicIrrTest: (cpu, vector) => oldPending && cpu === old.cpu && vector === old.vector,
    };
    const next = ((old.cpu + 1) % 4) as CpuId;
    expect(writeIrqAffinity(k, p, r.virq, cpuMask([next]))).toEqual({ ok: true });
    expect(apicData(k.descs[r.virq])).toMatchObject({ cleanupPending: true });
    expect(writeIrqAffinity(k, p, r.virq, cpuMask([(next + 1) % 4]))).toMatchObject({
      errno: 'EBUSY',
    });
    // The pending interrupt is serviced on the old vector; the re-sent cleanup then runs.
    oldPending = false;
    expect(handleVector(k, p, old.cpu, old.vector)).toMatchObject({ kind: 'handled' });
    expect(apicData(k.descs[r.virq])).toMatchObject({ cleanupPending: false, prevVector: 0 });
    expect(writeIrqAffinity(k, p, r.virq, cpuMask([(next + 1) % 4]))).toEqual({ ok: true });
    checkKernel(k);
  });
});

describe('without IR: while the move waits for the next interrupt', () => {
  test('smp_affinity_list and smp_affinity show the pending mask, effective_affinity the old CPU', () => {
    const r = msixIrq('host-noir');
    const k = r.kernel;
    const old = irqTarget(k, r.virq);
    if (old === null) throw new Error('no target');
    const next = ((old.cpu + 2) % 4) as CpuId;
    expect(writeIrqAffinity(k, r.platform, r.virq, cpuMask([next]))).toEqual({ ok: true });
    expect(k.descs[r.virq].state.movePending).toBe(true);
    const line = renderIrqAffinity(k, 'sysfs')
      .split('\n')
      .find((l) => l.startsWith(`irq ${r.virq} `));
    expect(line).toContain(
      `smp_affinity_list=${next} smp_affinity=${(1 << next).toString(16)} effective_affinity_list=${old.cpu} `,
    );
    // The next interrupt, on the old CPU, makes the move: affinity and effective agree again.
    handleVector(k, r.platform, old.cpu, old.vector);
    expect(k.descs[r.virq].state.movePending).toBe(false);
    expect(renderIrqAffinity(k, 'list')).toContain(
      `${r.virq} smp_affinity_list=${next} effective=${next}`,
    );
  });
});

describe('boot steps: set-affinity is the /proc write, interrupt fires the irq once', () => {
  const base = {
    version: '6.1',
    platform: 'host-noir' as const,
    apic: 'xapic-logical-flat' as const,
    devices: [{ bdf: DEV, msix: 4, driver: { kind: 'generic' as const, name: 'g', vectors: 2 } }],
  };
  const probed = boot({ ...base, boot: [{ do: 'probe', bdf: DEV }] });
  const virq = (pciIrqVector(probed.kernel, DEV, 1) as { virq: number }).virq;
  const old = irqTarget(probed.kernel, virq);
  const next = ((old?.cpu ?? 0) + 1) % 4;

  test('without IR: the first interrupt makes the deferred move, the second frees the old vector', () => {
    const steps = (n: number) =>
      boot({
        ...base,
        boot: [
          { do: 'probe', bdf: DEV },
          { do: 'set-affinity', irq: virq, cpus: [next] },
          ...Array.from({ length: n }, () => ({ do: 'interrupt' as const, irq: virq })),
        ],
      });
    const pending = steps(0).kernel.descs[virq];
    expect([pending.state.movePending, pending.effectiveAffinity]).toEqual([true, [old?.cpu]]);
    const moved = steps(1);
    expect(moved.failures).toEqual([]);
    const apicd = apicData(moved.kernel.descs[virq]);
    expect([apicd.cpu, apicd.moveInProgress, apicd.prevVector]).toEqual([next, true, old?.vector]);
    // The first interrupt arrived on the old CPU: it is counted there.
    expect(moved.kernel.descs[virq].kstat[old?.cpu ?? 0]).toBe(1);
    const cleaned = steps(2);
    expect(apicData(cleaned.kernel.descs[virq])).toMatchObject({
      moveInProgress: false,
      cleanupPending: false,
      prevVector: 0,
    });
    expect(cleaned.kernel.vectorIrq[old?.cpu ?? 0][old?.vector ?? 0]).toBe(-1);
    checkKernel(cleaned.kernel);
  });

  test('without IR, a move that finds the last one not cleaned up waits for the next interrupt', () => {
    // kernel/irq/migration.c irq_move_masked_irq: "If there is a cleanup pending in the
    // underlying vector management, reschedule the move for the next interrupt." The ack that
    // completes the first move (irq_complete_move) schedules its cleanup, which runs only when
    // the interrupt is over; the deferred second move in the same ack gets EBUSY.
    const other = (next + 1) % 4;
    const steps = (n: number) =>
      boot({
        ...base,
        boot: [
          { do: 'probe', bdf: DEV },
          { do: 'set-affinity', irq: virq, cpus: [next] },
          { do: 'interrupt', irq: virq },
          { do: 'set-affinity', irq: virq, cpus: [other] },
          ...Array.from({ length: n }, () => ({ do: 'interrupt' as const, irq: virq })),
        ],
      });
    const once = steps(1);
    expect(once.failures).toEqual([]);
    expect(once.kernel.descs[virq].state.movePending).toBe(true);
    expect(once.kernel.descs[virq].pendingMask).toEqual([other]);
    expect(apicData(once.kernel.descs[virq])).toMatchObject({ cpu: next, cleanupPending: false });
    const twice = steps(2);
    expect(twice.kernel.descs[virq].state.movePending).toBe(false);
    expect(apicData(twice.kernel.descs[virq]).cpu).toBe(other);
    checkKernel(twice.kernel);
  });

  test('a managed irq written from /proc: the step fails with EIO', () => {
    const r = boot({
      ...base,
      devices: [{ bdf: DEV, msix: 8, driver: { kind: 'nvme', ioQueues: 4 } }],
      boot: [{ do: 'probe', bdf: DEV }],
    });
    const managed = Object.values(r.kernel.descs).find((d) => d.state.managed);
    if (managed === undefined) throw new Error('nvme has managed queues');
    const again = boot({
      ...base,
      devices: [{ bdf: DEV, msix: 8, driver: { kind: 'nvme', ioQueues: 4 } }],
      boot: [
        { do: 'probe', bdf: DEV },
        { do: 'set-affinity', irq: managed.irq, cpus: [0] },
      ],
    });
    expect(again.failures.map((f) => f.notes[0])).toEqual([expect.stringMatching(/^EIO: /)]);
  });
});
