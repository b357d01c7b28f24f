// Conformance on the microVM's raw config spaces (../shared/fixtures/vm-virtio-pci/, sysfs
// `config` files): `decode config` finds each function's capabilities, prints the MSI-X lines as
// lspci -vvv does, and the MSI-X Table Size agrees with the number of MSI-X vectors Linux
// allocated (devices.txt `msi_irqs`; every driver here used all of its entries, which
// sys-kernel-irq.txt confirms: hwirq 0..N-1 per PCI-MSIX chip).
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeConfig } from '../../src/cli/decode-config.js';
import { CAP_ID } from '../../src/hw/pci/capability-ids.js';
import { walkCapabilities } from '../../src/hw/pci/capability-list.js';
import { parseConfigDump } from '../../src/hw/pci/config-dump.js';
import { decodeMsixCapability } from '../../src/hw/pci/msix-capability.js';
import { FIXTURES, readFixture, readFixtureBytes } from '../fixtures.js';

const DIR = 'vm-virtio-pci/';
const files = readdirSync(FIXTURES + DIR).filter((f) => f.endsWith('.config.bin'));

/** devices.txt: `0000:00:03.0 vendor=... msi_irqs=37 38 39 ` -> { '0000:00:03.0': 3 }. */
const msiIrqs = new Map(
  readFixture(`${DIR}devices.txt`)
    .trim()
    .split('\n')
    .map((line) => {
      const [bdf] = line.split(' ');
      const irqs = (/msi_irqs=(.*)$/.exec(line)?.[1] ?? '').trim();
      return [bdf, irqs === '' ? 0 : irqs.split(/\s+/).length] as const;
    }),
);

describe('vm-virtio-pci config spaces', () => {
  it('has a config dump for every device in devices.txt', () => {
    expect(files.map((f) => f.replace('.config.bin', '')).sort()).toEqual(
      [...msiIrqs.keys()].sort(),
    );
  });

  it('0000:00:03.0: MSI-X at 0x98, 3 entries, table BAR0+0x8000, PBA BAR0+0x48000, enabled (README)', () => {
    const space = parseConfigDump(readFixtureBytes(`${DIR}0000:00:03.0.config.bin`), 'f')
      .functions[0].space;
    const msix = walkCapabilities(space).find((c) => c.id === CAP_ID.msix);
    expect(msix?.offset).toBe(0x98);
    expect(decodeMsixCapability(space, 0x98)).toEqual({
      offset: 0x98,
      tableSize: 3,
      functionMask: false,
      msixEnable: true,
      tableBir: 0,
      tableOffset: 0x8000,
      pbaBir: 0,
      pbaOffset: 0x48000,
    });
  });

  it('0000:00:03.0 prints the MSI-X lines exactly as lspci -vvv does', () => {
    const file = `${FIXTURES}${DIR}0000:00:03.0.config.bin`;
    const out = decodeConfig(file, readFixtureBytes(`${DIR}0000:00:03.0.config.bin`), {});
    const lines = out.split('\n');
    const at = lines.indexOf('\tCapabilities: [98] MSI-X: Enable+ Count=3 Masked-');
    expect(at).toBeGreaterThan(0);
    expect(lines.slice(at + 1, at + 3)).toEqual([
      '\t\tVector table: BAR=0 offset=00008000',
      '\t\tPBA: BAR=0 offset=00048000',
    ]);
    expect(lines[0].startsWith('00:03.0 ')).toBe(true); // the address comes from the file name
  });

  for (const file of files) {
    const bdf = file.replace('.config.bin', '');
    it(`${bdf}: MSI-X Table Size equals the ${msiIrqs.get(bdf)} vectors Linux allocated`, () => {
      const space = parseConfigDump(readFixtureBytes(DIR + file), file).functions[0].space;
      const msix = walkCapabilities(space, file).find((c) => c.id === CAP_ID.msix);
      const entries = msix ? decodeMsixCapability(space, msix.offset).tableSize : 0;
      expect(entries).toBe(msiIrqs.get(bdf));
      const text = decodeConfig(file, readFixtureBytes(DIR + file), {});
      if (msix) expect(text).toContain(`MSI-X: Enable+ Count=${entries} Masked-`);
    });
  }
});
