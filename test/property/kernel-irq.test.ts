// Property: any sequence of pci_alloc_irq_vectors / request_irq / free_irq / irq_set_affinity /
// interrupts / cleanups / dynamic MSI-X alloc and free / pci_free_irq_vectors, on a host with
// and without IR and with vectors nearly exhausted, keeps every kernel invariant (checkKernel:
// no leaked or double-assigned vector or IRTE, each CPU's counts equal its bitmap), and an
// operation that fails leaves the kernel exactly as it was.
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { bitmapCount } from '../../src/hw/bitmap.js';
import { checkKernel } from '../../src/kernel/check.js';
import type { KernelState } from '../../src/kernel/kernel-state.js';
import {
  freeIrq,
  handleVector,
  irqSetAffinity,
  irqTarget,
  requestIrq,
} from '../../src/kernel/manage.js';
import {
  MSI_ANY_INDEX,
  pciAllocIrqVectors,
  pciFreeIrqVectors,
  pciIrqVector,
  pciMsixAllocIrqAt,
  pciMsixFreeIrq,
} from '../../src/kernel/pci-msi-api.js';
import type { KernelPlatform } from '../../src/kernel/platform.js';
import { type CpuId, cpuMask } from '../../src/kernel/types.js';
import { vectorCleanup } from '../../src/kernel/x86-vector.js';
import { boot } from '../kernel/helpers.js';

const CPUS = 2;
const DEVS = ['0000:00:02.0', '0000:00:03.0'];
const FILLER = '0000:00:10.0';
/** Vectors left per CPU after the filler device takes the rest. */
const LEFT = 4;

type Op =
  | { op: 'alloc'; dev: number; n: number; managed: boolean }
  | { op: 'free-vectors'; dev: number }
  | { op: 'request'; dev: number; nr: number }
  | { op: 'free'; dev: number; nr: number }
  | { op: 'affinity'; dev: number; nr: number; cpus: number[] }
  | { op: 'interrupt'; dev: number; nr: number }
  | { op: 'cleanup'; cpu: number }
  | { op: 'dyn-alloc'; dev: number; index: number }
  | { op: 'dyn-free'; dev: number; index: number };

const dev = fc.integer({ min: 0, max: DEVS.length - 1 });
const nr = fc.integer({ min: 0, max: 5 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    op: fc.constant('alloc' as const),
    dev,
    n: fc.integer({ min: 1, max: 6 }),
    managed: fc.boolean(),
  }),
  fc.record({ op: fc.constant('free-vectors' as const), dev }),
  fc.record({ op: fc.constant('request' as const), dev, nr }),
  fc.record({ op: fc.constant('request' as const), dev, nr }),
  fc.record({ op: fc.constant('free' as const), dev, nr }),
  fc.record({
    op: fc.constant('affinity' as const),
    dev,
    nr,
    cpus: fc.uniqueArray(fc.integer({ min: 0, max: CPUS - 1 }), { minLength: 1, maxLength: CPUS }),
  }),
  fc.record({ op: fc.constant('interrupt' as const), dev, nr }),
  fc.record({ op: fc.constant('cleanup' as const), cpu: fc.integer({ min: 0, max: CPUS - 1 }) }),
  fc.record({ op: fc.constant('dyn-alloc' as const), dev, index: fc.integer({ min: -1, max: 7 }) }),
  fc.record({ op: fc.constant('dyn-free' as const), dev, index: fc.integer({ min: 0, max: 7 }) }),
);

/** A kernel whose CPUs have only LEFT free vectors each, held by a requested filler device. */
function prepared(platform: 'host-ir' | 'host-noir') {
  const r = boot({
    platform,
    cpus: CPUS,
    devices: [...DEVS.map((bdf) => ({ bdf, msix: 8 })), { bdf: FILLER, msix: 2048 }],
  });
  const fill = 2 * (r.kernel.matrix.maps[0].available - LEFT);
  pciAllocIrqVectors(r.kernel, r.platform, FILLER, { min: fill, max: fill, flags: { msix: true } });
  for (let i = 0; i < fill; i++) {
    const v = pciIrqVector(r.kernel, FILLER, i);
    if (v.ok) requestIrq(r.kernel, r.platform, v.virq, `fill${i}`);
  }
  checkKernel(r.kernel);
  return r;
}

/** Everything a failed operation must leave as it was. Two things may differ, as in Linux: a
 *  per-device MSI-X domain made on the first try stays (it holds nothing), and undoing a managed
 *  reservation gives back the lowest unallocated managed bit, not necessarily the one just
 *  taken (`irq_matrix_remove_managed`: "It does not matter which one"), so the managed maps
 *  are compared by count. */
const snapshot = (k: KernelState) =>
  structuredClone({
    m: {
      ...k.matrix,
      maps: k.matrix.maps.map((c) => ({ ...c, managedMap: bitmapCount(c.managedMap) })),
    },
    d: k.descs,
    dev: Object.values(k.devices).map((x) => ({ ...x, domains: {} })),
    v: k.vectorIrq,
    ir: k.roots.remap === null ? null : k.domains[k.roots.remap].ir,
    mapped: k.domains.reduce((n, d) => n + d.mapped, 0),
  });

function apply(k: KernelState, p: KernelPlatform, o: Op): { ok: boolean } {
  const bdf = DEVS[o.op === 'cleanup' ? 0 : o.dev];
  const irq = (n: number) => {
    const v = pciIrqVector(k, bdf, n);
    return v.ok ? v.virq : -1;
  };
  switch (o.op) {
    case 'alloc':
      return pciAllocIrqVectors(k, p, bdf, {
        min: o.n,
        max: o.n,
        flags: { msix: true },
        ...(o.managed ? { affd: { preVectors: 1, postVectors: 0, setSizes: [o.n - 1] } } : {}),
      });
    case 'free-vectors':
      return pciFreeIrqVectors(k, p, bdf);
    case 'request':
      return irq(o.nr) < 0 ? { ok: false } : requestIrq(k, p, irq(o.nr), `d${o.dev}q${o.nr}`);
    case 'free':
      return irq(o.nr) < 0 ? { ok: false } : freeIrq(k, p, irq(o.nr), `d${o.dev}q${o.nr}`);
    case 'affinity':
      return irq(o.nr) < 0 ? { ok: false } : irqSetAffinity(k, p, irq(o.nr), cpuMask(o.cpus));
    case 'interrupt': {
      const t = irq(o.nr) < 0 ? null : irqTarget(k, irq(o.nr));
      if (t) handleVector(k, p, t.cpu, t.vector);
      return { ok: true };
    }
    case 'cleanup':
      vectorCleanup(k, p, o.cpu as CpuId);
      return { ok: true };
    case 'dyn-alloc':
      return pciMsixAllocIrqAt(k, p, bdf, o.index < 0 ? MSI_ANY_INDEX : o.index, null);
    case 'dyn-free':
      return pciMsixFreeIrq(k, p, bdf, o.index);
  }
}

for (const platform of ['host-noir', 'host-ir'] as const) {
  test(`kernel on ${platform}: invariants hold after every step, failures change nothing`, () => {
    const base = prepared(platform);
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 30 }), (ops) => {
        const k = structuredClone(base.kernel);
        const p = base.platform;
        for (const o of ops) {
          const before = snapshot(k);
          const r = apply(k, p, o);
          if (!r.ok) expect(snapshot(k)).toEqual(before);
          checkKernel(k);
        }
      }),
      { numRuns: 40 },
    );
  });
}
