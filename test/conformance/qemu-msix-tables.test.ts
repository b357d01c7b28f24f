// Conformance over every MSI-X entry and MSI capability the real Linux guest wrote under QEMU q35
// (../shared/fixtures/qemu-q35-{ir,noir}/msix-tables.txt), decoded with hw/x86/msi-message.ts.
// Expected values come from QEMU-Q35.md (facts 2 and 3) and from the guest's own view in
// irq-affinity.txt: Linux numbers a PCI MSI hwirq as `pci_dev_id << 11 | msi_index`
// (pci_msi_domain_calc_hwirq), which ties each table entry to its irq and effective CPU. Without
// IR the guest uses xAPIC logical flat mode, where CPU n has logical APIC ID 1 << n.
import { describe, expect, it } from 'vitest';
import { decodeMsiMessage } from '../../src/hw/x86/msi-message.js';
import { irqOf, irqs, type TableLine, tableLines } from './qemu-msix-tables-parse.js';

const isUnused = (l: TableLine) => l.addrLo === 0 && l.addrHi === 0 && l.data === 0;

describe.each(['qemu-q35-ir', 'qemu-q35-noir'])('%s msix-tables.txt', (folder) => {
  const lines = tableLines(folder);
  it('reads every entry of the file (table_size 4, 5, 5, 65) and the enabled MSI (AHCI)', () => {
    expect(lines.filter((l) => l.entry !== 'msi')).toHaveLength(4 + 5 + 5 + 65);
    expect(lines.filter((l) => l.entry === 'msi').map((l) => l.bdf)).toEqual(['0000:00:1f.2']);
  });
  it('leaves the unused entries all zero and masked: not an interrupt message', () => {
    // QEMU-Q35.md fact 2: virtio-net entry 3, e1000e entries 3-4, nvme entries 5-64.
    const unused = lines.filter((l) => l.entry !== 'msi' && isUnused(l));
    expect(unused).toHaveLength(1 + 2 + 60);
    for (const l of unused) {
      expect(l.masked).toBe(true);
      expect(decodeMsiMessage(l.addrLo, l.addrHi, l.data).format).toBe('not-interrupt');
    }
  });
});

describe('qemu-q35-ir: remappable format', () => {
  const lines = tableLines('qemu-q35-ir').filter((l) => !isUnused(l));
  const all = irqs('qemu-q35-ir');
  it('every written entry has SHV set and data 0 (subhandle 0), and handles per QEMU-Q35.md fact 2', () => {
    const handles: Record<string, number[]> = {};
    for (const l of lines) {
      const d = decodeMsiMessage(l.addrLo, l.addrHi, l.data);
      expect(d.format).toBe('remappable');
      if (d.format !== 'remappable') continue;
      expect([d.shv, d.subhandle, d.reservedBitsSet]).toEqual([1, 0, []]);
      expect(d.interruptIndex).toBe(d.handle);
      handles[l.bdf] = [...(handles[l.bdf] ?? []), d.handle];
    }
    expect(handles).toEqual({
      '0000:00:02.0': [19, 20, 21],
      '0000:00:03.0': [22, 23, 24, 25, 26],
      '0000:00:04.0': [28, 29, 30],
      '0000:00:05.0': [32, 33, 34, 35, 36],
      '0000:00:1f.2': [16],
    });
  });
  it('handles are consecutive in entry order per device', () => {
    const byDevice = new Map<string, number[]>();
    for (const l of lines.filter((x) => x.entry !== 'msi')) {
      const d = decodeMsiMessage(l.addrLo, l.addrHi, l.data);
      if (d.format === 'remappable')
        byDevice.set(l.bdf, [...(byDevice.get(l.bdf) ?? []), d.handle]);
    }
    for (const hs of byDevice.values()) {
      expect(hs).toEqual(hs.map((_, i) => hs[0] + i));
    }
  });
  it('every written entry belongs to an IR-PCI-MSI irq of the guest (e1000e ones masked, unrequested)', () => {
    for (const l of lines) {
      const info = irqOf(all, l, 'IR-PCI-MSI');
      expect(info, `${l.bdf} entry ${l.entry}`).toBeDefined();
      if (l.bdf === '0000:00:04.0') expect([l.masked, info?.effectiveCpu]).toEqual([true, null]);
    }
  });
});

describe('qemu-q35-noir: compatibility format', () => {
  const lines = tableLines('qemu-q35-noir').filter((l) => !isUnused(l));
  const all = irqs('qemu-q35-noir');
  it('decodes virtio0-input.0 as QEMU-Q35.md fact 3 states', () => {
    const l = lines.find((x) => x.bdf === '0000:00:02.0' && x.entry === 1)!;
    expect(decodeMsiMessage(l.addrLo, l.addrHi, l.data)).toMatchObject({
      format: 'compatibility',
      destinationId: 0x01,
      destinationMode: 1,
      redirectionHint: 0,
      vector: 0x22,
      deliveryMode: 0,
      triggerMode: 0,
    });
  });
  it('every requested entry targets, logically, exactly the CPU of its effective affinity', () => {
    let checked = 0;
    for (const l of lines) {
      const d = decodeMsiMessage(l.addrLo, l.addrHi, l.data);
      expect(d.format).toBe('compatibility');
      if (d.format !== 'compatibility') continue;
      expect([d.destinationMode, d.extendedDestinationId, d.deliveryMode, d.triggerMode]).toEqual([
        1, 0, 0, 0,
      ]);
      expect(d.reservedBitsSet).toEqual([]);
      const info = irqOf(all, l, 'PCI-MSI');
      expect(info, `${l.bdf} entry ${l.entry}`).toBeDefined();
      if (info?.effectiveCpu === null || info === undefined) continue;
      expect([l.bdf, l.entry, d.destinationId]).toEqual([l.bdf, l.entry, 2 ** info.effectiveCpu]);
      checked++;
    }
    expect(checked).toBe(3 + 5 + 5 + 1); // virtio-net, virtio-blk, nvme, AHCI
  });
  it("e1000e's allocated but unrequested vectors hold vector 0xEF, masked", () => {
    const e1000e = lines.filter((l) => l.bdf === '0000:00:04.0' && l.entry !== 'msi');
    expect(e1000e).toHaveLength(3);
    for (const l of e1000e) {
      expect(l.masked).toBe(true);
      expect(decodeMsiMessage(l.addrLo, l.addrHi, l.data)).toMatchObject({
        vector: 0xef,
        destinationId: 1,
      });
    }
  });
});
