// Parsers for the QEMU q35 fixtures' guest dumps (msix-tables.txt, irq-affinity.txt), shared by
// the conformance tests. Formats: QEMU-Q35.md "Files in each recorded folder".
import { readFixture } from '../fixtures.js';

export interface TableLine {
  bdf: string;
  /** MSI-X entry number, or 'msi' for the MSI capability's message. */
  entry: number | 'msi';
  addrLo: number;
  addrHi: number;
  data: number;
  masked: boolean;
}

const ENTRY = /^(\S+) entry (\d+) (0x[0-9A-F]+) (0x[0-9A-F]+) (0x[0-9A-F]+) (0x[0-9A-F]+)$/i;
const MSI =
  /^(\S+) MSI cap@\S+ msgctl=\S+ enable=1 64bit=\d addr_lo=(0x[0-9a-f]+) addr_hi=(0x[0-9a-f]+) data=(0x[0-9a-f]+)$/i;

export function tableLines(folder: string): TableLine[] {
  const lines: TableLine[] = [];
  for (const text of readFixture(`${folder}/msix-tables.txt`).split('\n')) {
    const e = ENTRY.exec(text);
    if (e) {
      const [, bdf, n, lo, hi, data, ctrl] = e;
      const masked = Number(ctrl) % 2 === 1;
      lines.push({
        bdf,
        entry: Number(n),
        addrLo: Number(lo),
        addrHi: Number(hi),
        data: Number(data),
        masked,
      });
    }
    const m = MSI.exec(text);
    if (m) {
      const [, bdf, lo, hi, data] = m;
      lines.push({
        bdf,
        entry: 'msi',
        addrLo: Number(lo),
        addrHi: Number(hi),
        data: Number(data),
        masked: false,
      });
    }
  }
  return lines;
}

export interface IrqInfo {
  irq: number;
  effectiveCpu: number | null;
  chip: string;
  hwirq: number;
}

export function irqs(folder: string): IrqInfo[] {
  const out: IrqInfo[] = [];
  for (const text of readFixture(`${folder}/irq-affinity.txt`).split('\n')) {
    const m = /^irq (\d+) .*effective_affinity_list=(\S*) chip_name=(\S+) hwirq=(\d*) /.exec(text);
    if (!m) continue;
    out.push({
      irq: Number(m[1]),
      effectiveCpu: m[2] === '' ? null : Number(m[2]),
      chip: m[3],
      hwirq: Number(m[4]),
    });
  }
  return out;
}

/** "0000:00:05.0" -> PCI device id bus << 8 | dev << 3 | fn, as Linux's pci_dev_id. */
export function devId(bdf: string): number {
  const [, bus, dev, fn] = /^[0-9a-f]{4}:([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/.exec(bdf)!;
  return Number.parseInt(bus, 16) * 256 + Number.parseInt(dev, 16) * 8 + Number(fn);
}

/** The irq of a table line: hwirq = dev id << 11 | entry (an MSI capability is entry 0). */
export function irqOf(all: IrqInfo[], line: TableLine, chip: string): IrqInfo | undefined {
  const hwirq = devId(line.bdf) * 2048 + (line.entry === 'msi' ? 0 : line.entry);
  return all.find((i) => i.chip === chip && i.hwirq === hwirq);
}
