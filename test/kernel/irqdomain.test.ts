// Domain operations over the hierarchy: alloc walks down to the vector domain and undoes itself
// on failure, activate programs the hardware bottom-up, compose gives the message each platform
// must give (compared with the fixtures' bytes), free and deactivate mirror them.
import { describe, expect, test } from 'vitest';
import { decodeMsiMessage } from '../../src/hw/x86/msi-message.js';
import { checkKernel } from '../../src/kernel/check.js';
import { domainChain, irqChipComposeMsiMsg } from '../../src/kernel/irqdomain.js';
import { apicData } from '../../src/kernel/kernel-state.js';
import { freeIrq, requestIrq } from '../../src/kernel/manage.js';
import {
  pciAllocIrqVectors,
  pciFreeIrqVectors,
  pciIrqVector,
} from '../../src/kernel/pci-msi-api.js';
import { boot } from './helpers.js';

const DEV = '0000:00:03.0';
const device = { bdf: DEV, msix: 8 };

describe('irqdomain hierarchy', () => {
  test('the chain of a PCI/MSI-X irq on each platform, top first', () => {
    const names = (platform: string, version = '6.18') => {
      const r = boot({ platform: platform as never, version, devices: [device] });
      pciAllocIrqVectors(r.kernel, r.platform, DEV, { min: 1, max: 1, flags: { msix: true } });
      const v = pciIrqVector(r.kernel, DEV, 0);
      if (!v.ok) throw new Error(v.reason);
      const d = r.kernel.descs[v.virq];
      return domainChain(r.kernel, d.data[0].domain).map((id) => r.kernel.domains[id].name);
    };
    expect(names('host-noir')).toEqual([`PCI-MSIX-${DEV}`, 'VECTOR']);
    expect(names('host-ir')).toEqual([`IR-PCI-MSIX-${DEV}`, 'INTEL-IR-0', 'VECTOR']);
    expect(names('guest-vir')).toEqual([`IR-PCI-MSIX-${DEV}`, 'INTEL-IR-0', 'VECTOR']);
    expect(names('guest-hypercall')).toEqual([`PV-PCI-MSIX-${DEV}`, 'PV-IR', 'VECTOR']);
    expect(names('guest-emulated-msi')).toEqual([`PCI-MSIX-${DEV}`, 'VECTOR']);
    // Linux 6.1: one global domain per parent.
    expect(names('host-noir', '6.1')).toEqual(['PCI-MSI', 'VECTOR']);
  });

  test('a failed allocation leaves nothing: no irq numbers, descriptors, vectors or IRTEs', () => {
    const r = boot({ platform: 'host-ir', cpus: 1, devices: [{ bdf: DEV, msix: 256 }] });
    const k = r.kernel;
    const irBitmap = () => k.domains[k.roots.remap ?? 0].ir?.bitmap;
    const before = structuredClone({ m: k.matrix, d: k.descs, ir: irBitmap() });
    // 256 managed vectors on one CPU cannot be reserved (204 usable).
    const res = pciAllocIrqVectors(k, r.platform, DEV, {
      min: 256,
      max: 256,
      flags: { msix: true },
      affd: { preVectors: 0, postVectors: 0, setSizes: [256] },
    });
    expect(res.ok).toBe(false);
    if (!res.ok) {
      expect(res.errno).toBe('ENOSPC');
      expect(res.reason).toMatch(/CPU mask 0: CPU0 avl 0 man 20\d/);
    }
    // The per-device domain may stay (it holds nothing); nothing else may.
    expect({ m: k.matrix, d: k.descs, ir: irBitmap() }).toEqual(before);
    expect(k.domains.every((d) => d.mapped === 0)).toBe(true);
    expect(k.devices[DEV].msixEnabled).toBe(false);
    expect(Object.keys(k.devices[DEV].descs.msix)).toEqual([]);
    checkKernel(k);
  });

  test('compose without IR: compatibility format, as qemu-q35-noir shows (0xFEE08004 / 0x22 = CPU3 vector 0x22)', () => {
    const r = boot({
      platform: 'guest-emulated-msi',
      version: '6.1',
      cpus: 4,
      apic: 'xapic-logical-flat',
      devices: [device],
    });
    const k = r.kernel;
    pciAllocIrqVectors(k, r.platform, DEV, { min: 1, max: 1, flags: { msix: true } });
    const virq = (pciIrqVector(k, DEV, 0) as { virq: number }).virq;
    // Reservation mode: before request_irq the entry points at the shutdown vector on CPU 0.
    expect(
      decodeMsiMessage(
        r.mem.mmioRead(DEV, 'msix-table', 0),
        0,
        r.mem.mmioRead(DEV, 'msix-table', 8),
      ),
    ).toMatchObject({
      format: 'compatibility',
      vector: 0xef,
      destinationId: 0x01,
      destinationMode: 1,
    });
    requestIrq(k, r.platform, virq, 'x');
    const d = k.descs[virq];
    const msg = irqChipComposeMsiMsg(k, r.platform, d);
    const apicd = apicData(d);
    expect(decodeMsiMessage(msg.addrLo, msg.addrHi, msg.data)).toMatchObject({
      format: 'compatibility',
      vector: apicd.vector,
      destinationId: 2 ** apicd.cpu,
      destinationMode: 1,
      redirectionHint: 0,
    });
  });

  test('compose with IR: remappable format, handle = IRTE index, SHV 1, subhandle 0 (qemu-q35-ir: 0xFEE00418 = handle 32)', () => {
    const r = boot({ platform: 'host-ir', devices: [device] });
    pciAllocIrqVectors(r.kernel, r.platform, DEV, { min: 2, max: 2, flags: { msix: true } });
    const lo = r.mem.mmioRead(DEV, 'msix-table', 16);
    const data = r.mem.mmioRead(DEV, 'msix-table', 24);
    expect(decodeMsiMessage(lo, 0, data)).toMatchObject({
      format: 'remappable',
      handle: 1,
      shv: 1,
      subhandle: 0,
    });
  });

  test('activate programs bottom-up; free_irq deactivates back to a reservation; teardown frees all', () => {
    const r = boot({ platform: 'host-ir', devices: [device] });
    const k = r.kernel;
    const before = structuredClone(k.matrix);
    pciAllocIrqVectors(k, r.platform, DEV, { min: 4, max: 4, flags: { msix: true } });
    const virq = (pciIrqVector(k, DEV, 2) as { virq: number }).virq;
    expect(k.matrix.globalReserved).toBe(4);
    expect(requestIrq(k, r.platform, virq, 'q2').ok).toBe(true);
    const kinds = k.accessLog.filter((a) => a.op.startsWith('request_irq')).map((a) => a.kind);
    // Activation: the IRTE with the real vector (+ IEC flush), the message (3 writes, read-back);
    // startup: irq_setup_affinity -> intel_ir_set_affinity rewrites the IRTE (modify_irte is
    // unconditional); then the unmask.
    expect(kinds).toEqual([
      'irte-write',
      'iec-invalidate',
      'mmio-write',
      'mmio-write',
      'mmio-write',
      'mmio-read',
      'irte-write',
      'iec-invalidate',
      'mmio-write',
    ]);
    expect(k.matrix.globalReserved).toBe(3);
    checkKernel(k);
    freeIrq(k, r.platform, virq, 'q2');
    expect(k.matrix.globalReserved).toBe(4);
    expect(apicData(k.descs[virq]).vector).toBe(0);
    checkKernel(k);
    pciFreeIrqVectors(k, r.platform, DEV);
    expect(k.matrix).toEqual(before);
    expect(Object.keys(k.descs)).toEqual([]);
    expect(k.domains[k.roots.remap ?? 0].ir?.bitmap.every((w) => w === 0)).toBe(true);
    checkKernel(k);
  });
});
