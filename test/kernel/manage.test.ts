// request/free/enable/disable/set-affinity and interrupt handling, against the behaviour of
// kernel/irq/{manage,chip,migration}.c and arch/x86/kernel/apic/{vector,msi}.c.
import { describe, expect, test } from 'vitest';
import { decodeMsiMessage } from '../../src/hw/x86/msi-message.js';
import { checkKernel } from '../../src/kernel/check.js';
import { apicData } from '../../src/kernel/kernel-state.js';
import {
  disableIrq,
  enableIrq,
  handleVector,
  irqSetAffinity,
  irqTarget,
  requestIrq,
} from '../../src/kernel/manage.js';
import { pciAllocIrqVectors, pciIrqVector } from '../../src/kernel/pci-msi-api.js';
import type { KernelPlatform } from '../../src/kernel/platform.js';
import { type CpuId, cpuMask } from '../../src/kernel/types.js';
import { matrixAlloc } from '../../src/kernel/vector-matrix.js';
import { boot } from './helpers.js';

const DEV = '0000:00:04.0';

function msixIrq(platform: 'host-noir' | 'host-ir', n = 2) {
  const r = boot({ platform, devices: [{ bdf: DEV, msix: 8 }] });
  pciAllocIrqVectors(r.kernel, r.platform, DEV, { min: n, max: n, flags: { msix: true } });
  const virq = (pciIrqVector(r.kernel, DEV, 1) as { virq: number }).virq;
  expect(requestIrq(r.kernel, r.platform, virq, 'q1').ok).toBe(true);
  return { ...r, virq };
}

const since = (r: { kernel: { accessLog: unknown[] } }) => {
  const start = r.kernel.accessLog.length;
  return () => r.kernel.accessLog.slice(start) as { kind: string; op: string }[];
};

describe('set affinity', () => {
  test('remapped: at once, by rewriting the IRTE; the device is not touched', () => {
    const r = msixIrq('host-ir');
    const newAccesses = since(r);
    expect(irqSetAffinity(r.kernel, r.platform, r.virq, cpuMask([3])).ok).toBe(true);
    expect(irqTarget(r.kernel, r.virq)?.cpu).toBe(3);
    // 6.6+: the cleanup is a timer on the old CPU, not an IPI.
    expect(newAccesses().map((a) => a.kind)).toEqual(['irte-write', 'iec-invalidate']);
    // The old vector is freed by the cleanup the IRTE switch scheduled.
    expect(apicData(r.kernel.descs[r.virq])).toMatchObject({
      prevVector: 0,
      cleanupPending: false,
      moveInProgress: false,
    });
    checkKernel(r.kernel);
  });

  test('not remapped: deferred to the next interrupt on the old CPU, then the entry is rewritten masked', () => {
    const r = msixIrq('host-noir');
    const { cpu, vector } = irqTarget(r.kernel, r.virq) ?? { cpu: -1, vector: -1 };
    const newAccesses = since(r);
    const target = ((cpu + 1) % 4) as CpuId;
    irqSetAffinity(r.kernel, r.platform, r.virq, cpuMask([target]));
    expect(newAccesses()).toEqual([]);
    expect(r.kernel.descs[r.virq].state.movePending).toBe(true);
    expect(handleVector(r.kernel, r.platform, cpu as CpuId, vector as never)).toMatchObject({
      kind: 'handled',
    });
    expect(irqTarget(r.kernel, r.virq)?.cpu).toBe(target);
    // mask (write + flush read), message (3 writes + read-back), unmask (write)
    expect(newAccesses().map((a) => a.kind)).toEqual([
      'mmio-write',
      'mmio-read',
      'mmio-write',
      'mmio-write',
      'mmio-write',
      'mmio-read',
      'mmio-write',
    ]);
    // The first interrupt on the new vector completes the move; the cleanup frees the old one.
    const now = irqTarget(r.kernel, r.virq);
    if (now) handleVector(r.kernel, r.platform, now.cpu, now.vector);
    expect(apicData(r.kernel.descs[r.virq]).prevVector).toBe(0);
    checkKernel(r.kernel);
  });

  test('MSI without per-vector masking moves in two steps through the old CPU and resends a lost interrupt', () => {
    const r = boot({
      platform: 'host-noir',
      cpus: 4,
      devices: [{ bdf: DEV, msi: { vectors: 1, perVectorMask: false } }],
    });
    const k = r.kernel;
    let irrChecked = 0;
    const ipis: number[][] = [];
    const p: KernelPlatform = {
      ...r.platform,
      lapicIrrTest: () => {
        irrChecked++;
        return true;
      },
      sendIpi: (cpu, vector) => ipis.push([cpu, vector]),
    };
    pciAllocIrqVectors(k, p, DEV, { min: 1, max: 1, flags: { msi: true } });
    const virq = (pciIrqVector(k, DEV, 0) as { virq: number }).virq;
    requestIrq(k, p, virq, 'msi0');
    const old = irqTarget(k, virq);
    expect(old).not.toBeNull();
    if (!old) return;
    // Another user takes CPU 3's lowest free vector, so the new vector differs from the old.
    const target = 3 as CpuId;
    expect(matrixAlloc(k.matrix, [target], { reserved: false }).ok).toBe(true);
    irqSetAffinity(k, p, virq, cpuMask([target]));
    const from = k.accessLog.length;
    handleVector(k, p, old.cpu, old.vector);
    // Message Address at cap + 4, Message Data at cap + 12 (64-bit MSI structure).
    const cap = k.devices[DEV].info.msi?.capOffset ?? 0;
    const writes = k.accessLog
      .slice(from)
      .filter((a) => a.kind === 'cfg-write' && (a.offset === cap + 4 || a.offset === cap + 12));
    const pairs = [];
    for (let i = 0; i + 1 < writes.length; i += 2) {
      const a = writes[i];
      const d = writes[i + 1];
      if (a.kind === 'cfg-write' && d.kind === 'cfg-write')
        pairs.push(decodeMsiMessage(a.value, 0, d.value));
    }
    const now = irqTarget(k, virq);
    expect(now?.cpu).toBe(target);
    expect(now?.vector).not.toBe(old.vector);
    // Step 1: new vector, old destination; step 2: new vector, new destination.
    expect(pairs).toMatchObject([
      { vector: now?.vector, destinationId: k.apicIds[old.cpu] },
      { vector: now?.vector, destinationId: k.apicIds[target] },
    ]);
    expect(irrChecked).toBe(1);
    expect(ipis).toEqual([[target, now?.vector]]);
  });

  test('a managed irq keeps its affinity (the model refuses what no driver does)', () => {
    const r = boot({ platform: 'host-noir', devices: [{ bdf: DEV, msix: 8 }] });
    pciAllocIrqVectors(r.kernel, r.platform, DEV, {
      min: 5,
      max: 5,
      flags: { msix: true },
      affd: { preVectors: 1, postVectors: 0 },
    });
    const virq = (pciIrqVector(r.kernel, DEV, 2) as { virq: number }).virq;
    expect(r.kernel.descs[virq].affinity).toEqual([1]);
    expect(irqSetAffinity(r.kernel, r.platform, virq, cpuMask([0]))).toMatchObject({
      ok: false,
      errno: 'EINVAL',
    });
  });
});

describe('disable/enable (lazy masking)', () => {
  test('disable_irq touches nothing; an interrupt while disabled masks and is resent at enable_irq', () => {
    const r = msixIrq('host-noir');
    const ipis: number[][] = [];
    const p: KernelPlatform = { ...r.platform, sendIpi: (c, v) => ipis.push([c, v]) };
    const newAccesses = since(r);
    disableIrq(r.kernel, p, r.virq);
    expect(newAccesses()).toEqual([]);
    const t = irqTarget(r.kernel, r.virq);
    if (!t) throw new Error('no target');
    expect(handleVector(r.kernel, p, t.cpu, t.vector)).toEqual({
      kind: 'masked-pending',
      irq: r.virq,
    });
    expect(newAccesses().map((a) => a.kind)).toEqual(['mmio-write', 'mmio-read']);
    expect(r.kernel.descs[r.virq].kstat[t.cpu]).toBe(0);
    enableIrq(r.kernel, p, r.virq);
    expect(newAccesses().map((a) => a.kind)).toEqual([
      'mmio-write',
      'mmio-read',
      'mmio-write',
      'ipi',
    ]);
    expect(ipis).toEqual([[t.cpu, t.vector]]);
    expect(handleVector(r.kernel, p, t.cpu, t.vector)).toMatchObject({
      kind: 'handled',
      actions: ['q1'],
    });
    expect(r.kernel.descs[r.virq].kstat[t.cpu]).toBe(1);
  });

  test('nested disables need as many enables; an extra enable is refused', () => {
    const r = msixIrq('host-noir');
    disableIrq(r.kernel, r.platform, r.virq);
    disableIrq(r.kernel, r.platform, r.virq);
    enableIrq(r.kernel, r.platform, r.virq);
    expect(r.kernel.descs[r.virq].state.disabled).toBe(true);
    enableIrq(r.kernel, r.platform, r.virq);
    expect(r.kernel.descs[r.virq].state.disabled).toBe(false);
    expect(enableIrq(r.kernel, r.platform, r.virq)).toMatchObject({ ok: false, errno: 'EINVAL' });
  });

  test('an interrupt on a vector no irq owns is spurious', () => {
    const r = msixIrq('host-noir');
    expect(handleVector(r.kernel, r.platform, 0 as CpuId, 0x90 as never)).toEqual({
      kind: 'spurious',
      vector: 0x90,
      reason: 'unused',
    });
  });
});
