// `irqlab show --what irte`: every present entry of a kernel's interrupt remapping table, raw as
// QEMU's `vtd_ir_irte_get` trace prints it ("index I low <bits 127:64> high <bits 63:0>", hex
// without padding: `qemu-q35-ir/qemu-trace.log`), then decoded (irte-text.ts: remapped or posted
// fields) with the irq that owns it and the source-id check for that irq's requester (the
// device's requester ID, or the IOAPIC's source-id from the DMAR device scope).
// Read from the kernel's own copy of what it wrote (`IrDomainData.irtes`, Linux's irq_2_iommu and
// the entry modify_irte wrote), the table the remapping unit reads.
// The header carries the lines Linux printed when it chose the IR mode.
// Not shown: entries that are not present (all zero after free_irte or never written).

import { bigIntFromDwords } from '../hw/bits.js';
import type { RequesterId } from '../hw/pci/bdf.js';
import { bdfOfRequesterId, formatBdf } from '../hw/pci/bdf.js';
import { decodeIrte, IRTE_REMAPPED, type SourceIdCheck, verifySourceId } from '../hw/vtd/irte.js';
import { activeIrqs } from '../kernel/irq-desc.js';
import type { IrDomainData, KernelState } from '../kernel/kernel-state.js';
import { irteJson, irteSummary } from './irte-text.js';

interface Owner {
  irq: number;
  requester: RequesterId;
}

/** IRTE index -> the irq whose remapping level holds it, and the requester its messages carry. */
function owners(k: KernelState): Map<number, Owner> {
  const out = new Map<number, Owner>();
  for (const irq of activeIrqs(k)) {
    const d = k.descs[irq];
    for (const level of d.data) {
      if (level.chip.kind !== 'ir') continue;
      const dev = d.msi ? k.devices[d.msi.dev] : undefined;
      const ioapic = k.roots.ioapic === null ? undefined : k.domains[k.roots.ioapic].ioapic;
      const requester = (dev?.info.requesterId ?? ioapic?.sourceId ?? 0) as RequesterId;
      out.set(level.chip.ir.irteIndex + level.chip.ir.subHandle, { irq, requester });
    }
  }
  return out;
}

const hex = (v: bigint) => `0x${v.toString(16)}`;
const bdfText = (rid: number) => formatBdf(bdfOfRequesterId(rid), { withSegment: false });

interface IrteRow {
  index: number;
  words: number[];
  owner: Owner | undefined;
  check: SourceIdCheck | null;
}

function rows(ir: IrDomainData, k: KernelState): IrteRow[] {
  const own = owners(k);
  return Object.keys(ir.irtes)
    .map(Number)
    .sort((a, b) => a - b)
    .filter((index) => IRTE_REMAPPED.accessors.present.get(ir.irtes[index]) === 1)
    .map((index) => {
      const words = ir.irtes[index];
      const owner = own.get(index);
      const check = owner
        ? verifySourceId(decodeIrte(words, { eime: ir.eime }).fields, owner.requester)
        : null;
      return { index, words, owner, check };
    });
}

const remapDomains = (k: KernelState) =>
  k.domains.filter((d) => d.ir !== undefined) as { name: string; ir: IrDomainData }[];

/** What Linux printed when it chose the remapping mode (kernel/irq-remapping.ts). */
const irModeLines = (k: KernelState) =>
  k.events.filter((e) => e.op === 'enable_IR_x2apic').map((e) => e.text);

export function irteTableJson(k: KernelState): unknown {
  return remapDomains(k).map((dom) => ({
    unit: dom.ir.unit,
    entries: dom.ir.entries,
    eime: dom.ir.eime,
    dmesg: irModeLines(k),
    present: rows(dom.ir, k).map((r) => ({
      index: r.index,
      low: hex(bigIntFromDwords(r.words.slice(2))),
      high: hex(bigIntFromDwords(r.words.slice(0, 2))),
      ...irteJson(decodeIrte(r.words, { eime: dom.ir.eime }), { eime: dom.ir.eime }, r.words),
      irq: r.owner?.irq ?? null,
      requester: r.owner ? bdfText(r.owner.requester) : null,
      sourceIdCheck: r.check,
    })),
  }));
}

export function renderIrteTable(k: KernelState): string {
  const doms = remapDomains(k);
  if (doms.length === 0) return `no interrupt remapping on ${k.name}\n`;
  const lines: string[] = [];
  for (const dom of doms) {
    const mode = { eime: dom.ir.eime };
    const present = rows(dom.ir, k);
    lines.push(
      `${dom.ir.unit}: ${dom.ir.entries} entries, ${dom.ir.eime ? 'x2APIC' : 'xAPIC'} mode ` +
        `(EIME ${dom.ir.eime ? 1 : 0}), ${present.length} present`,
      ...irModeLines(k).map((line) => `  dmesg: ${line}`),
    );
    for (const r of present) {
      const low = hex(bigIntFromDwords(r.words.slice(2)));
      const high = hex(bigIntFromDwords(r.words.slice(0, 2)));
      lines.push(`index ${r.index} low ${low} high ${high}`);
      lines.push(`  ${irteSummary(decodeIrte(r.words, mode), mode)}`);
      lines.push(
        r.owner
          ? `  irq ${r.owner.irq}, requester ${bdfText(r.owner.requester)}: source-id check ${r.check}`
          : '  no irq owns it',
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
