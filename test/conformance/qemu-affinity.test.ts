// Conformance with the QEMU q35 guests of ../shared/fixtures/QEMU-Q35.md (Debian 6.1, 4 vCPUs,
// xAPIC logical flat), with VT-d IR (qemu-q35-ir) and without (qemu-q35-noir): the model guests
// of scenarios/conformance/qemu-q35-{ir,noir}.yaml must reproduce, from the recorded files,
//  - every irq's chip, hwirq, type, handler, actions and effective CPU (irq-affinity.txt; irq 2,
//    the 8259 cascade, is not modelled) and the devices' msi_irqs/ lists;
//  - /proc/interrupts (first dump, counts aside);
//  - what the guest wrote into every MSI-X table entry and MSI capability (msix-tables.txt):
//    handles with IR, destination/vector without, the shutdown vector 0xEF on e1000e's never
//    requested entries;
//  - with IR, the content of every IRTE QEMU read (qemu-trace.log `vtd_ir_irte_get`, last read
//    per index), and IRTE 32 reprogrammed from vector 0x24 to 0x25 when nvme re-enables MSI-X.
import { describe, expect, test } from 'vitest';
import { IRTE_REMAPPED } from '../../src/hw/vtd/irte.js';
import { checkKernel } from '../../src/kernel/check.js';
import type { MemoryPlatform } from '../../src/kernel/platform.js';
import { renderIrqAffinity } from '../../src/report/irq-affinity.js';
import { renderProcInterrupts } from '../../src/report/proc-interrupts.js';
import { readFixture } from '../fixtures.js';
import { bootConformance, zeroCounts } from './kernel-scenarios.js';

const hex8 = (n: number) => `0x${(n >>> 0).toString(16).toUpperCase().padStart(8, '0')}`;

for (const variant of ['ir', 'noir'] as const) {
  describe(`qemu-q35-${variant} guest`, () => {
    const dir = `qemu-q35-${variant}/`;
    const boot = bootConformance(`qemu-q35-${variant}.yaml`);
    const k = boot.kernel;
    const mem = boot.platform as MemoryPlatform;

    test('every boot step succeeds and the kernel invariants hold', () => {
      expect(boot.failures).toEqual([]);
      checkKernel(k);
    });

    test('irq-affinity.txt: chip, hwirq, type, actions and effective CPU of every irq', () => {
      const ours = new Map(
        renderIrqAffinity(k, 'sysfs')
          .split('\n')
          .map((l) => [l.replace(/ per_cpu_count=\S*/, ''), true]),
      );
      const lines = readFixture(`${dir}irq-affinity.txt`).trim().split('\n');
      let compared = 0;
      for (const line of lines) {
        if (line.startsWith('irq 2 ')) continue; // XT-PIC cascade: not modelled
        if (!line.startsWith('irq ') && !line.includes(' msi_irq ') && !line.startsWith('default'))
          continue;
        expect(ours.has(line.replace(/ per_cpu_count=\S*/, '')), line).toBe(true);
        compared++;
      }
      expect(compared).toBeGreaterThan(40);
    });

    test('proc-interrupts.txt: the kernel format, counts aside', () => {
      const first = readFixture(`${dir}proc-interrupts.txt`).split('(at end of run)')[0];
      expect(zeroCounts(renderProcInterrupts(k), 4)).toBe(zeroCounts(first, 4));
    });

    test('msix-tables.txt: every MSI-X entry and MSI register the guest wrote', () => {
      let entries = 0;
      for (const line of readFixture(`${dir}msix-tables.txt`).trim().split('\n')) {
        const e = /^(\S+) entry (\d+) (\S+) (\S+) (\S+) (\S+)$/.exec(line);
        if (e) {
          const table = mem.regions[e[1]]?.['msix-table'] ?? {};
          const at = Number(e[2]) * 16;
          const got = [0, 4, 8, 12].map((o) => hex8(table[at + o] ?? (o === 12 ? 1 : 0)));
          expect(got.join(' '), line).toBe([e[3], e[4], e[5], e[6]].join(' '));
          entries++;
          continue;
        }
        const msi =
          /^(\S+) MSI cap@(0x[0-9a-f]+) msgctl=\S+ enable=(\d) 64bit=1 addr_lo=(\S+) addr_hi=(\S+) data=(\S+)$/.exec(
            line,
          );
        if (msi) {
          const bdf = msi[1];
          const cap = k.devices[bdf]?.info.msi;
          if (cap === undefined) continue; // e1000e's MSI capability: never used
          const read = (off: number, size: 1 | 2 | 4) =>
            mem.cfgRead(bdf, cap.capOffset + off, size);
          expect(k.devices[bdf].msiEnabled ? 1 : 0).toBe(Number(msi[3]));
          expect(read(4, 4)).toBe(Number(msi[4]));
          expect(read(8, 4)).toBe(Number(msi[5]));
          expect(read(12, 2)).toBe(Number(msi[6]));
        }
      }
      expect(entries).toBe(4 + 5 + 5 + 65);
    });

    if (variant === 'ir') {
      test('qemu-trace.log: every IRTE QEMU read holds what the guest wrote last', () => {
        const last = new Map<number, [string, string]>();
        for (const m of readFixture(`${dir}qemu-trace.log`).matchAll(
          /vtd_ir_irte_get index (\d+) low (0x[0-9a-f]+) high (0x[0-9a-f]+)/g,
        )) {
          last.set(Number(m[1]), [m[2], m[3]]);
        }
        expect(last.size).toBe(8);
        const irtes = mem.irtes.dmar0;
        for (const [index, [low, high]] of last) {
          const w = irtes[index];
          expect(w, `IRTE ${index}`).toBeDefined();
          // QEMU prints entry->data[1] (bits 127:64) as "low" and data[0] (63:0) as "high".
          const hi = BigInt(high);
          const lo = BigInt(low);
          const ours = [
            Number(hi & 0xffffffffn),
            Number(hi >> 32n),
            Number(lo & 0xffffffffn),
            Number(lo >> 32n),
          ];
          expect(w, `IRTE ${index}`).toEqual(ours);
        }
      });

      test('nvme re-enables MSI-X: IRTE 32 goes from vector 0x24 to 0x25 (QEMU-Q35.md fact 6)', () => {
        const vectors = k.accessLog
          .filter((a) => a.kind === 'irte-write' && a.index === 32)
          .map((a) => (a.kind === 'irte-write' ? IRTE_REMAPPED.accessors.vector.get(a.dwords) : -1))
          // 0: cleared; 0xEF: MANAGED_IRQ_SHUTDOWN_VECTOR while in reservation mode.
          .filter((v) => v !== 0 && v !== 0xef);
        expect(vectors[0]).toBe(0x24);
        expect(vectors.at(-1)).toBe(0x25);
      });
    }
  });
}
