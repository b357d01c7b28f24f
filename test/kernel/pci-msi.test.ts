// The PCI/MSI layer: the exact device accesses of MSI-X enable and request_irq (current Linux:
// mask-all at enable, three dword writes and a read-back per entry, an unmask at request_irq;
// reference/perf-anchors.md M1, M3, M5), dynamic MSI-X, MSI descriptors, IMS and its rule.
import { describe, expect, test } from 'vitest';
import { RuleError } from '../../src/hw/errors.js';
import { checkKernel } from '../../src/kernel/check.js';
import {
  IMS_RULE,
  pciCreateImsDomain,
  pciImsAllocIrq,
  pciImsFreeIrq,
} from '../../src/kernel/ims.js';
import { requestIrq } from '../../src/kernel/manage.js';
import { msiForEachDesc } from '../../src/kernel/msi.js';
import {
  MSI_ANY_INDEX,
  pciAllocIrqVectors,
  pciFreeIrqVectors,
  pciIrqVector,
  pciMsixAllocIrqAt,
  pciMsixFreeIrq,
} from '../../src/kernel/pci-msi-api.js';
import { accessesOf, boot } from './helpers.js';

const DEV = '0000:00:05.0';
const TABLE = 8;

describe('MSI-X enable and request_irq accesses', () => {
  test('enable of 3 vectors on an 8-entry table, then request_irq of one', () => {
    const r = boot({ platform: 'guest-emulated-msi', devices: [{ bdf: DEV, msix: TABLE }] });
    pciAllocIrqVectors(r.kernel, r.platform, DEV, { min: 3, max: 3, flags: { msix: true } });
    const enable = accessesOf(r, 'pci_alloc_irq_vectors').map((a) => a.kind);
    const perEntry = ['mmio-write', 'mmio-write', 'mmio-write', 'mmio-read'];
    expect(enable).toEqual([
      'cfg-read', // Table Size (pci_msix_vec_count)
      'cfg-read', // Message Control: MSI-X Enable + Function Mask
      'cfg-write',
      'cfg-read', // Table Size again (msix_capability_init)
      'mmio-read', // Vector Control of each entry (descriptor setup)
      'mmio-read',
      'mmio-read',
      ...perEntry, // shutdown-vector message per entry (reservation mode)
      ...perEntry,
      ...perEntry,
      'cfg-read', // Command: INTx Disable
      'cfg-write',
      ...Array(TABLE).fill('mmio-write'), // msix_mask_all: every table entry
      'cfg-read', // Message Control: Function Mask cleared
      'cfg-write',
    ]);
    const virq = (pciIrqVector(r.kernel, DEV, 1) as { virq: number }).virq;
    requestIrq(r.kernel, r.platform, virq, 'v1');
    // Activation writes the message with the real vector; startup's irq_setup_affinity goes
    // through x86 msi_set_affinity, which writes it once more (apic_set_affinity returns
    // IRQ_SET_MASK_OK, not _DONE); then the unmask.
    expect(accessesOf(r, 'request_irq').map((a) => a.kind)).toEqual([
      ...perEntry,
      ...perEntry,
      'mmio-write',
    ]);
    const unmask = accessesOf(r, 'request_irq').at(-1);
    expect(unmask).toMatchObject({ kind: 'mmio-write', offset: 16 + 12, value: 0 });
  });

  test('teardown masks every entry, clears MSI-X Enable and frees every irq and descriptor', () => {
    const r = boot({ platform: 'host-ir', devices: [{ bdf: DEV, msix: TABLE }] });
    const before = structuredClone(r.kernel.matrix);
    pciAllocIrqVectors(r.kernel, r.platform, DEV, { min: 4, max: 4, flags: { msix: true } });
    expect(pciFreeIrqVectors(r.kernel, r.platform, DEV).ok).toBe(true);
    expect(r.kernel.devices[DEV].msixEnabled).toBe(false);
    expect(msiForEachDesc(r.kernel.devices[DEV], 'msix', 'all')).toEqual([]);
    expect(r.kernel.matrix).toEqual(before);
    checkKernel(r.kernel);
  });

  test('pci_free_irq_vectors refuses while an irq is still requested', () => {
    const r = boot({ devices: [{ bdf: DEV, msix: TABLE }] });
    pciAllocIrqVectors(r.kernel, r.platform, DEV, { min: 2, max: 2, flags: { msix: true } });
    requestIrq(
      r.kernel,
      r.platform,
      (pciIrqVector(r.kernel, DEV, 0) as { virq: number }).virq,
      'x',
    );
    expect(pciFreeIrqVectors(r.kernel, r.platform, DEV)).toMatchObject({
      ok: false,
      errno: 'EBUSY',
    });
  });

  test('MSI-X falls back to MSI, MSI to INTx, as pci_alloc_irq_vectors does', () => {
    const r = boot({
      devices: [{ bdf: DEV, msi: { vectors: 1 }, intx: { gsi: 16 } }],
      ioapic: { pins: 24 },
    });
    const res = pciAllocIrqVectors(r.kernel, r.platform, DEV, {
      min: 1,
      max: 4,
      flags: { msix: true, msi: true },
    });
    expect(res).toMatchObject({ ok: true, mode: 'msi', count: 1 });
  });
});

describe('dynamic MSI-X (6.2+)', () => {
  test('one vector at an index, or the first free one, while the others stay live', () => {
    const r = boot({ devices: [{ bdf: DEV, msix: TABLE }] });
    const k = r.kernel;
    pciAllocIrqVectors(k, r.platform, DEV, { min: 1, max: 1, flags: { msix: true } });
    const first = (pciIrqVector(k, DEV, 0) as { virq: number }).virq;
    requestIrq(k, r.platform, first, 'ctrl');
    expect(pciMsixAllocIrqAt(k, r.platform, DEV, 5, null)).toMatchObject({ ok: true, index: 5 });
    expect(pciMsixAllocIrqAt(k, r.platform, DEV, MSI_ANY_INDEX, null)).toMatchObject({
      ok: true,
      index: 1,
    });
    expect(pciMsixAllocIrqAt(k, r.platform, DEV, 5, null)).toMatchObject({
      ok: false,
      errno: 'EEXIST',
    });
    expect(pciMsixAllocIrqAt(k, r.platform, DEV, TABLE, null)).toMatchObject({
      ok: false,
      errno: 'EINVAL',
    });
    expect(msiForEachDesc(k.devices[DEV], 'msix', 'associated').map((d) => d.index)).toEqual([
      0, 1, 5,
    ]);
    expect(pciMsixFreeIrq(k, r.platform, DEV, 5).ok).toBe(true);
    expect(msiForEachDesc(k.devices[DEV], 'msix', 'all').map((d) => d.index)).toEqual([0, 1]);
    expect(k.descs[first].actions.map((a) => a.name)).toEqual(['ctrl']);
    checkKernel(k);
  });

  test('Linux 6.1 has no dynamic MSI-X', () => {
    const r = boot({ version: '6.1', devices: [{ bdf: DEV, msix: TABLE }] });
    pciAllocIrqVectors(r.kernel, r.platform, DEV, { min: 1, max: 1, flags: { msix: true } });
    expect(pciMsixAllocIrqAt(r.kernel, r.platform, DEV, 3, null)).toMatchObject({
      ok: false,
      errno: 'ENOTSUPP',
    });
  });
});

describe('IMS', () => {
  const ims = { bdf: DEV, msix: 9, ims: 64 };

  test.each(['host-noir', 'guest-emulated-msi'] as const)(
    'refused on %s, naming the rule',
    (platform) => {
      const r = boot({ platform, devices: [ims] });
      const dev = r.kernel.devices[DEV];
      expect(() => pciCreateImsDomain(r.kernel, dev, { name: 'IDXD-IMS' })).toThrow(RuleError);
      try {
        pciCreateImsDomain(r.kernel, dev, { name: 'IDXD-IMS' });
      } catch (e) {
        expect((e as RuleError).rule).toBe(IMS_RULE);
        expect((e as RuleError).message).toContain('does not isolate MSI');
      }
    },
  );

  test.each(['host-ir', 'guest-vir', 'guest-hypercall'] as const)(
    'allowed on %s, under the remapping domain, entries written masked then unmasked',
    (platform) => {
      const r = boot({ platform, devices: [ims] });
      const k = r.kernel;
      const dev = k.devices[DEV];
      const id = pciCreateImsDomain(k, dev, { name: 'IDXD-IMS' });
      expect(k.domains[id].parent).toBe(k.roots.remap);
      const a = pciImsAllocIrq(k, r.platform, dev);
      const b = pciImsAllocIrq(k, r.platform, dev);
      expect([a, b]).toMatchObject([
        { ok: true, index: 0 },
        { ok: true, index: 1 },
      ]);
      if (!b.ok) return;
      requestIrq(k, r.platform, b.virq, 'sub0');
      expect(r.mem.mmioRead(DEV, 'ims', 16 + 12)).toBe(0);
      pciImsFreeIrq(k, r.platform, dev, 0);
      expect(msiForEachDesc(dev, 'ims', 'all').map((d) => d.index)).toEqual([1]);
      checkKernel(k);
    },
  );
});
