// The register views (`irqlab show --what msix|msi|irte|invalidations`) of the QEMU q35 guests
// (scenarios/conformance/qemu-q35-{ir,noir}.yaml) against what the real Linux 6.1 guest wrote,
// as recorded in ../shared/fixtures/qemu-q35-*:
//  - msix-tables.txt: every "BDF entry N ..." and "BDF PBA dword0 ..." line is printed byte for
//    byte; every MSI line from "msgctl=" on (irqlab lays out its own capability offsets);
//  - qemu-trace.log: the last `vtd_ir_irte_get index I low L high H` per index is printed as
//    "index I low L high H"; the IEC invalidate descriptors (`vtd_inv_desc invalidate desc type
//    iec high H low L`, `vtd_inv_desc_iec granularity G index I mask M`) the guest queued during
//    boot come out in the order QEMU saw them, each followed by Linux's wait descriptor.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { type KernelView, renderKernelView } from '../../src/report/hierarchy-show.js';
import { loadScenario } from '../../src/scenario/load.js';
import { readFixture } from '../fixtures.js';
import { SCENARIOS } from './kernel-scenarios.js';

function show(variant: string, view: KernelView, json = false): string {
  const file = `${SCENARIOS}qemu-q35-${variant}.yaml`;
  const r = renderKernelView(loadScenario(readFileSync(file, 'utf8'), file), view, {
    kernel: 'guest',
    json,
  });
  expect(r.warnings).toEqual([]);
  return r.out;
}

for (const variant of ['ir', 'noir'] as const) {
  describe(`qemu-q35-${variant}: show --what msix / msi`, () => {
    const recorded = readFixture(`qemu-q35-${variant}/msix-tables.txt`).trim().split('\n');

    test('every MSI-X entry and PBA line of msix-tables.txt, byte for byte', () => {
      const ours = new Set(show(variant, 'msix').split('\n'));
      const lines = recorded.filter((l) => / entry \d+ | PBA dword\d+ /.test(l));
      expect(lines).toHaveLength(4 + 5 + 5 + 65 + 4);
      for (const line of lines) expect(ours.has(line), line).toBe(true);
    });

    test('every MSI capability line from msgctl= on', () => {
      const ours = show(variant, 'msi').split('\n');
      const lines = recorded.filter((l) => / MSI cap@/.test(l));
      expect(lines).toHaveLength(2);
      for (const line of lines) {
        const [bdf] = line.split(' ');
        const mine = ours.find((l) => l.startsWith(`${bdf} MSI cap@`));
        expect(mine?.slice(mine.indexOf('msgctl=')), line).toBe(
          line.slice(line.indexOf('msgctl=')),
        );
      }
    });

    test('--json gives the same dwords', () => {
      const json = JSON.parse(show(variant, 'msix', true)) as {
        bdf: string;
        entries: { entry: number; dwords: string[] }[];
      }[];
      const nvme = json.find((t) => t.bdf === '0000:00:05.0');
      const line = recorded.find((l) => l.startsWith('0000:00:05.0 entry 0 '));
      expect(nvme?.entries[0].dwords.map((d) => d.toUpperCase().replace('0X', '0x'))).toEqual(
        line?.split(' ').slice(3),
      );
    });
  });
}

describe('qemu-q35-ir: show --what irte', () => {
  const trace = readFixture('qemu-q35-ir/qemu-trace.log');
  test('the last IRTE QEMU read at each index, as QEMU printed it', () => {
    const last = new Map<string, string>();
    for (const m of trace.matchAll(
      /vtd_ir_irte_get (index (\d+) low 0x[0-9a-f]+ high 0x[0-9a-f]+)/g,
    )) {
      last.set(m[2], m[1]);
    }
    expect(last.size).toBe(8);
    const ours = new Set(show('ir', 'irte').split('\n'));
    for (const line of last.values()) expect(ours.has(line), line).toBe(true);
  });

  test('every present IRTE passes the source-id check of the irq that owns it', () => {
    const json = JSON.parse(show('ir', 'irte', true)) as {
      present: { index: number; irq: number | null; sourceIdCheck: string | null }[];
    }[];
    expect(json).toHaveLength(1);
    expect(json[0].present.length).toBeGreaterThan(8);
    for (const e of json[0].present) {
      expect([e.index, e.sourceIdCheck]).toEqual([e.index, 'ok']);
    }
  });
});

describe('qemu-q35-ir: show --what invalidations', () => {
  const traced = [
    ...readFixture('qemu-q35-ir/qemu-trace.log').matchAll(
      /vtd_inv_desc invalidate desc type iec (high \S+ low \S+)\nvtd_inv_desc_iec (.*)/g,
    ),
  ].map((m) => `type iec ${m[1]} / ${m[2]}`);
  const out = show('ir', 'invalidations').split('\n');
  const ours: string[] = [];
  out.forEach((l, i) => {
    const m = /^ {2}\d+ (type iec .*)$/.exec(l);
    if (m) ours.push(`${m[1]} / ${out[i + 1].trim()}`);
  });

  test('the IEC descriptors come in the order QEMU fetched them; the gaps are named', () => {
    // Walk the trace; each of ours must come next, or later after trace-only descriptors.
    const skipped: string[] = [];
    let t = 0;
    for (const mine of ours) {
      while (t < traced.length && traced[t] !== mine) skipped.push(traced[t++]);
      expect(t < traced.length, mine).toBe(true);
      t++;
    }
    expect(ours.length).toBeGreaterThan(60);
    // Not modelled: the global IEC flush when IR is enabled (iommu_set_irq_remapping), and two
    // writes Linux makes again (the timer's IRTE 1 at IOAPIC setup, IRTE 32 at nvme's re-enable).
    expect(skipped).toEqual([
      'type iec high 0x0 low 0x4 / granularity 0x0 index 0x0 mask 0x0',
      'type iec high 0x0 low 0x100000014 / granularity 0x1 index 0x1 mask 0x0',
      'type iec high 0x0 low 0x2000000014 / granularity 0x1 index 0x20 mask 0x0',
    ]);
  });

  test("every IEC descriptor is followed by qi_submit_sync's wait descriptor (QI_DONE status write)", () => {
    const waits = out.filter((l) => /^ {2}\d+ type wait /.test(l));
    expect(waits).toHaveLength(ours.length);
    const tracedWait = /vtd_inv_desc invalidate desc type wait high \S+ (low \S+)/.exec(
      readFixture('qemu-q35-ir/qemu-trace.log'),
    );
    for (const w of waits) expect(w.endsWith(`type wait ${tracedWait?.[1]}`), w).toBe(true);
  });
});
