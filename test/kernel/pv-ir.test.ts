// The PV-IR domain's hypercalls, counted from the guest kernel's own access log (issue 6,
// "Checked by": `pv` sets up a vector with exactly one hypercall, `pv-batch` with one per
// batch; an affinity change is one retarget, an unchanged target none). The expected numbers
// are the issue's, not the code's: n vectors -> n calls, ceil(n / max) batch calls.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { checkKernel } from '../../src/kernel/check.js';
import { irqSetAffinity, irqTarget, requestIrq } from '../../src/kernel/manage.js';
import { pciAllocIrqVectors, pciIrqVector } from '../../src/kernel/pci-msi-api.js';
import type { KernelPlatform, MsiHypercall } from '../../src/kernel/platform.js';
import type { CpuId } from '../../src/kernel/types.js';
import { boot } from './helpers.js';

const DEV = '0000:01:00.0';
const TABLE = 256;

/** A guest on the hypercall platform; `batchMax` adds the batch hypercall on top of the
 *  stand-in host's single one (same pairs, one call for many). */
function guest(batchMax?: number) {
  const r = boot({ platform: 'guest-hypercall', devices: [{ bdf: DEV, msix: TABLE }] });
  const single = r.platform.hypercallComposeMsi;
  if (single === undefined) throw new Error('memory platform has no hypercall');
  const platform: KernelPlatform =
    batchMax === undefined
      ? r.platform
      : {
          ...r.platform,
          hypercallBatch: {
            max: batchMax,
            composeMsi: (reqs: readonly MsiHypercall[]) => reqs.map((q) => single(q)),
          },
        };
  return { ...r, platform };
}

/** Driver probe: pci_alloc_irq_vectors(n, n, MSI-X) then request_irq of every vector. */
function probe(g: ReturnType<typeof guest>, n: number): number[] {
  const k = g.kernel;
  const a = pciAllocIrqVectors(k, g.platform, DEV, { min: n, max: n, flags: { msix: true } });
  expect(a).toMatchObject({ ok: true, count: n });
  const irqs: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = pciIrqVector(k, DEV, i);
    if (!v.ok) throw new Error(v.reason);
    expect(requestIrq(k, g.platform, v.virq, `q${i}`)).toEqual({ ok: true });
    irqs.push(v.virq);
  }
  return irqs;
}

const hypercalls = (g: ReturnType<typeof guest>) =>
  g.kernel.accessLog.filter((a) => a.kind === 'hypercall');

/** The pair each entry holds in the device's (mapped) table: dwords 0..2 of the entry. */
const entryPair = (g: ReturnType<typeof guest>, index: number) =>
  [0, 1, 2].map((dw) => g.mem.mmioRead(DEV, 'msix-table', index * 16 + dw * 4));

describe('pv: one hypercall per vector', () => {
  test('probe of 4 vectors: 4 compose calls, one per index, none at request_irq', () => {
    const g = guest();
    probe(g, 4);
    const calls = hypercalls(g);
    expect(calls.map((c) => c.kind === 'hypercall' && c.call)).toEqual(
      Array(4).fill('msi-compose'),
    );
    expect(calls.map((c) => (c.kind === 'hypercall' ? c.args[0] : -1))).toEqual([0, 1, 2, 3]);
    expect(calls.every((c) => c.op.startsWith('pci_alloc_irq_vectors'))).toBe(true);
    checkKernel(g.kernel);
  });

  test('the device holds the pair the hypercall returned, unchanged after request_irq', () => {
    const g = guest();
    probe(g, 2);
    for (const c of hypercalls(g)) {
      if (c.kind !== 'hypercall') continue;
      expect(entryPair(g, c.args[0])).toEqual(c.result);
    }
  });

  test('property: n vectors -> exactly n hypercalls', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 48 }), (n) => {
        const g = guest();
        probe(g, n);
        expect(hypercalls(g).length).toBe(n);
      }),
      { numRuns: 15 },
    );
  });

  test('an affinity change to another CPU: one retarget, the device untouched', () => {
    const g = guest();
    const [irq] = probe(g, 2);
    const before = hypercalls(g).length;
    const writesBefore = g.kernel.accessLog.filter((a) => a.kind === 'mmio-write').length;
    const target = irqTarget(g.kernel, irq);
    const other = ((target?.cpu ?? 0) + 1) % 4;
    expect(irqSetAffinity(g.kernel, g.platform, irq, [other as CpuId])).toEqual({ ok: true });
    const after = hypercalls(g).slice(before);
    expect(after.map((c) => c.kind === 'hypercall' && c.call)).toEqual(['msi-retarget']);
    const moved = irqTarget(g.kernel, irq);
    expect(moved?.cpu).toBe(other);
    // the retarget names the new (vector, destination): x2APIC physical, APIC ID == CPU
    expect(after[0].kind === 'hypercall' && after[0].args.slice(1)).toEqual([moved?.vector, other]);
    expect(g.kernel.accessLog.filter((a) => a.kind === 'mmio-write').length).toBe(writesBefore);
  });

  test('an affinity "change" to the CPU it is already on: no hypercall', () => {
    const g = guest();
    const [irq] = probe(g, 2);
    const before = hypercalls(g).length;
    const cpu = irqTarget(g.kernel, irq)?.cpu ?? (0 as CpuId);
    expect(irqSetAffinity(g.kernel, g.platform, irq, [cpu])).toEqual({ ok: true });
    expect(hypercalls(g).length).toBe(before);
  });
});

describe('pv-batch: one hypercall per batch of one pci_alloc_irq_vectors call', () => {
  test('10 vectors, batches of 4: ceil(10/4) = 3 batch calls, none per vector', () => {
    const g = guest(4);
    probe(g, 10);
    const calls = hypercalls(g);
    expect(calls.map((c) => c.kind === 'hypercall' && c.call)).toEqual(
      Array(3).fill('msi-compose-batch'),
    );
    // every index once, in order, 4 + 4 + 2 (args are (index, vector, dest) triples)
    const indexes = calls.map((c) =>
      c.kind === 'hypercall' ? c.args.filter((_, i) => i % 3 === 0) : [],
    );
    expect(indexes).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
    ]);
    checkKernel(g.kernel);
  });

  test('each entry holds the pair its batch returned', () => {
    const g = guest(4);
    probe(g, 6);
    for (const c of hypercalls(g)) {
      if (c.kind !== 'hypercall') continue;
      for (let e = 0; e * 3 < c.args.length; e++) {
        expect(entryPair(g, c.args[e * 3])).toEqual(c.result.slice(e * 3, e * 3 + 3));
      }
    }
  });

  test('property: n vectors, batch size b -> ceil(n / b) hypercalls', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 64 }), (n, b) => {
        const g = guest(b);
        probe(g, n);
        expect(hypercalls(g).length).toBe(Math.ceil(n / b));
      }),
      { numRuns: 20 },
    );
  });

  test('an affinity change after a batched setup is still one retarget', () => {
    const g = guest(8);
    const [irq] = probe(g, 3);
    const before = hypercalls(g).length;
    const other = ((irqTarget(g.kernel, irq)?.cpu ?? 0) + 1) % 4;
    irqSetAffinity(g.kernel, g.platform, irq, [other as CpuId]);
    const after = hypercalls(g).slice(before);
    expect(after.map((c) => c.kind === 'hypercall' && c.call)).toEqual(['msi-retarget']);
  });
});
