// INTx through the IOAPIC: a GSI becomes an irq (and, under IR, takes an IRTE) when mapped; its
// redirection entry is programmed at activation, in remappable format under IR with the pin in
// the vector field (qemu-q35-ir: COM1 is handle 3 with vector field 4).
import { describe, expect, test } from 'vitest';
import { checkKernel } from '../../src/kernel/check.js';
import { mpMapGsiToIrq } from '../../src/kernel/ioapic.js';
import { handleVector, irqSetAffinity, irqTarget, requestIrq } from '../../src/kernel/manage.js';
import { cpuMask } from '../../src/kernel/types.js';
import { boot } from './helpers.js';

describe('IOAPIC', () => {
  test('without IR: the entry carries the vector and the destination; level pins use fasteoi', () => {
    const r = boot({ platform: 'host-noir', ioapic: { pins: 24, mapping: 'legacy' } });
    const m = mpMapGsiToIrq(r.kernel, r.platform, { gsi: 9, trigger: 'level' });
    expect(m).toMatchObject({ ok: true, virq: 9 });
    const d = r.kernel.descs[9];
    expect([d.handler, d.trigger, r.kernel.domains[d.data[0].domain].chipName]).toEqual([
      'fasteoi',
      'level',
      'IO-APIC',
    ]);
    expect(requestIrq(r.kernel, r.platform, 9, 'acpi').ok).toBe(true);
    const t = irqTarget(r.kernel, 9);
    expect(r.mem.rtes[9]).toMatchObject({
      vector: t?.vector,
      destination: r.kernel.apicIds[t?.cpu ?? 0],
      masked: false,
      trigger: 'level',
    });
    checkKernel(r.kernel);
  });

  test('with IR: an IRTE per pin at mapping, the entry in remappable format with the pin as vector', () => {
    const r = boot({
      platform: 'host-ir',
      ioapic: { pins: 24, mapping: 'legacy', sourceId: 0xff00 },
    });
    mpMapGsiToIrq(r.kernel, r.platform, { gsi: 1, trigger: 'edge' });
    mpMapGsiToIrq(r.kernel, r.platform, { gsi: 4, trigger: 'edge' });
    requestIrq(r.kernel, r.platform, 4, 'ttyS0');
    expect(r.mem.rtes[4]).toMatchObject({ irteIndex: 1, vector: 4, masked: false });
    expect(r.kernel.domains[r.kernel.descs[4].data[0].domain].chipName).toBe('IR-IO-APIC');
  });

  test('a dynamic IOAPIC numbers its GSIs from gsi_top, in mapping order (vm-virtio-pci: GSI 5 is irq 24)', () => {
    const r = boot({ ioapic: { pins: 24, mapping: 'dynamic' } });
    expect(mpMapGsiToIrq(r.kernel, r.platform, { gsi: 5, trigger: 'edge' })).toMatchObject({
      virq: 24,
    });
    expect(mpMapGsiToIrq(r.kernel, r.platform, { gsi: 4, trigger: 'edge' })).toMatchObject({
      virq: 25,
    });
    expect(mpMapGsiToIrq(r.kernel, r.platform, { gsi: 5, trigger: 'edge' })).toMatchObject({
      virq: 24,
    });
    expect(mpMapGsiToIrq(r.kernel, r.platform, { gsi: 30, trigger: 'edge' })).toMatchObject({
      ok: false,
      errno: 'EINVAL',
    });
  });

  test('without IR an affinity change waits for the next interrupt, then rewrites the entry', () => {
    const r = boot({ platform: 'host-noir', ioapic: { pins: 24, mapping: 'legacy' } });
    mpMapGsiToIrq(r.kernel, r.platform, { gsi: 4, trigger: 'edge' });
    requestIrq(r.kernel, r.platform, 4, 'ttyS0');
    const old = irqTarget(r.kernel, 4);
    if (!old) throw new Error('no target');
    const to = (old.cpu + 1) % 4;
    irqSetAffinity(r.kernel, r.platform, 4, cpuMask([to]));
    expect(r.mem.rtes[4].destination).toBe(r.kernel.apicIds[old.cpu]);
    handleVector(r.kernel, r.platform, old.cpu, old.vector);
    expect(r.mem.rtes[4].destination).toBe(r.kernel.apicIds[to]);
  });
});
