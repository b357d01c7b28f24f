// `irqlab show --what msix|msi|ims`: a kernel's devices' interrupt registers as software reads
// them, then decoded.
//  - msix: per function with an MSI-X capability, Message Control and the table's place, every
//    table entry as the four dwords at its offset and the PBA dwords, in the form of the
//    recording script's `msix-tables.txt` (`qemu-q35-*`, `recording/record-qemu-guest-init.sh`:
//    "BDF entry N 0xADDRLO 0xADDRHI 0xDATA 0xVECCTL", "BDF PBA dwordN 0x..."), so the two can be
//    diffed; then per entry its irq, mask state and the decoded message (hw/x86/msi-message.ts);
//  - msi: per function with an MSI capability, "BDF MSI cap@0xNN msgctl=... enable= 64bit=
//    addr_lo= addr_hi= data=" as the recording has it (mask and pending bits after, with
//    per-vector masking), then the decoded message;
//  - ims: per device IMS, the entries the kernel allocated or wrote, the same four dwords.
// Everything is read from the registers (`DeviceRegisters`: the platform the kernel ran on, or
// the system's words at a time), the irq from the kernel's MSI descriptors; nothing is
// recomputed. Not shown: the BAR addresses the recording prints (irqlab places no BARs).

import { decode } from '../hw/bits.js';
import { IMS_ENTRY, IMS_ENTRY_BYTES, IMS_ENTRY_DWORDS } from '../hw/ims/ims-store.js';
import { configSpaceFromBytes } from '../hw/pci/config-space.js';
import { decodeMsiCapability } from '../hw/pci/msi-capability.js';
import { decodeMsixCapability, MSIX_ENTRY_SIZE } from '../hw/pci/msix-capability.js';
import { MSIX_ENTRY_DWORDS, MSIX_TABLE_ENTRY } from '../hw/pci/msix-table.js';
import { type DecodedMsi, decodeMsiMessage } from '../hw/x86/msi-message.js';
import type { KernelState, MsiDomainSlot } from '../kernel/kernel-state.js';
import type { CfgSize, MmioRegion } from '../kernel/platform.js';
import { hex32 } from './field-table-text.js';
import { msiSummary } from './msi-text.js';

/** Where the registers are read from. */
export interface DeviceRegisters {
  cfgRead(bdf: string, offset: number, size: CfgSize): number;
  mmioRead(bdf: string, region: MmioRegion, offset: number): number;
}

export type DeviceRegisterView = 'msix' | 'msi' | 'ims';

/** The config space a function shows now, read byte by byte (the capability decoders take one). */
function configSpaceNow(regs: DeviceRegisters, bdf: string) {
  const bytes = new Uint8Array(256);
  for (let i = 0; i < bytes.length; i++) bytes[i] = regs.cfgRead(bdf, i, 1);
  return configSpaceFromBytes(bytes, bdf);
}

const HEX = (v: number) => `0x${(v >>> 0).toString(16).toUpperCase().padStart(8, '0')}`;
const hexLower = (v: number, digits: number) => `0x${v.toString(16).padStart(digits, '0')}`;

/** The irq behind entry `index` of a device's `slot` domain, or null. */
function irqOf(k: KernelState, bdf: string, slot: MsiDomainSlot, index: number): number | null {
  const descs = k.devices[bdf].descs[slot];
  for (const d of Object.values(descs)) {
    if (d.irq !== 0 && index >= d.index && index < d.index + d.nvecUsed) {
      return d.irq + (index - d.index);
    }
  }
  return null;
}

interface EntryJson {
  entry: number;
  dwords: number[];
  masked: boolean;
  irq: number | null;
  decoded: DecodedMsi;
}

function entryJson(index: number, words: number[], masked: boolean, irq: number | null): EntryJson {
  return {
    entry: index,
    dwords: words,
    masked,
    irq,
    decoded: decodeMsiMessage(words[0], words[1], words[2]),
  };
}

function msixJson(k: KernelState, regs: DeviceRegisters) {
  const out = [];
  for (const bdf of Object.keys(k.devices).sort()) {
    const info = k.devices[bdf].info.msix;
    if (info === undefined) continue;
    const space = configSpaceNow(regs, bdf);
    const cap = decodeMsixCapability(space, info.capOffset);
    const messageControl = regs.cfgRead(bdf, info.capOffset + 2, 2);
    const entries = [];
    for (let e = 0; e < cap.tableSize; e++) {
      const words = Array.from({ length: MSIX_ENTRY_DWORDS }, (_, i) =>
        regs.mmioRead(bdf, 'msix-table', e * MSIX_ENTRY_SIZE + i * 4),
      );
      const masked = decode(MSIX_TABLE_ENTRY, words).mask === 1;
      entries.push(entryJson(e, words, masked, irqOf(k, bdf, 'msix', e)));
    }
    const pba = Array.from({ length: Math.ceil(cap.tableSize / 32) }, (_, i) =>
      regs.mmioRead(bdf, 'msix-pba', i * 4),
    );
    out.push({
      bdf,
      capOffset: info.capOffset,
      messageControl,
      msixEnable: cap.msixEnable,
      functionMask: cap.functionMask,
      tableSize: cap.tableSize,
      tableBir: cap.tableBir,
      tableOffset: cap.tableOffset,
      pbaBir: cap.pbaBir,
      pbaOffset: cap.pbaOffset,
      entries,
      pba,
    });
  }
  return out;
}

function msiJson(k: KernelState, regs: DeviceRegisters) {
  const out = [];
  for (const bdf of Object.keys(k.devices).sort()) {
    const info = k.devices[bdf].info.msi;
    if (info === undefined) continue;
    const cap = decodeMsiCapability(configSpaceNow(regs, bdf), info.capOffset);
    out.push({
      bdf,
      capOffset: info.capOffset,
      messageControl: regs.cfgRead(bdf, info.capOffset + 2, 2),
      ...cap,
      irq: irqOf(k, bdf, 'msi', 0),
      decoded: decodeMsiMessage(cap.messageAddress, cap.messageUpperAddress, cap.messageData),
    });
  }
  return out;
}

function imsJson(k: KernelState, regs: DeviceRegisters) {
  const out = [];
  for (const bdf of Object.keys(k.devices).sort()) {
    const ims = k.devices[bdf].info.ims;
    if (ims === undefined) continue;
    const entries = [];
    for (let e = 0; e < ims.entries; e++) {
      const irq = irqOf(k, bdf, 'ims', e);
      const words = Array.from({ length: IMS_ENTRY_DWORDS }, (_, i) =>
        regs.mmioRead(bdf, 'ims', e * IMS_ENTRY_BYTES + i * 4),
      );
      const f = decode(IMS_ENTRY, words);
      const atReset = f.mask === 1 && words.every((w, i) => i === 3 || w === 0);
      if (irq === null && atReset) continue;
      entries.push({
        ...entryJson(e, words, f.mask === 1, irq),
        pasidEnable: f.pasidEnable,
        pasid: f.pasid,
      });
    }
    out.push({ bdf, size: ims.entries, entries });
  }
  return out;
}

const JSON_OF = { msix: msixJson, msi: msiJson, ims: imsJson } as const;

/** `--json`: the same data, register dwords in hex as they are printed. */
export function deviceRegistersJson(
  view: DeviceRegisterView,
  k: KernelState,
  regs: DeviceRegisters,
): unknown {
  return JSON.parse(
    JSON.stringify(JSON_OF[view](k, regs), (key, v) =>
      (key === 'dwords' || key === 'pba') && Array.isArray(v) ? v.map(hex32) : v,
    ),
  );
}

const maskText = (masked: boolean) => (masked ? 'masked  ' : 'unmasked');
const irqText = (irq: number | null) => (irq === null ? '-' : `irq ${irq}`);

/** One decoded entry: its index, who uses it (an irq, a vector's name), its mask and message. */
export interface DecodedEntryRow {
  readonly entry: number;
  readonly who: string;
  readonly masked: boolean;
  readonly decoded: DecodedMsi;
}

/** "BDF entry N 0xADDRLO 0xADDRHI 0xDATA 0xCTRL", as msix-tables.txt has it. */
export const entryLine = (bdf: string, entry: number, dwords: readonly number[]): string =>
  `${bdf} entry ${entry} ${dwords.map(HEX).join(' ')}`;

/** "BDF PBA dwordN 0x...". */
export const pbaLine = (bdf: string, i: number, dword: number): string =>
  `${bdf} PBA dword${i} ${HEX(dword)}`;

export function decodedLines(rows: readonly DecodedEntryRow[]): string[] {
  const width = Math.max(1, ...rows.map((r) => r.who.length));
  return rows.map(
    (r) =>
      `  entry ${String(r.entry).padEnd(4)} ${r.who.padEnd(width)}  ${maskText(r.masked)}  ${msiSummary(r.decoded)}`,
  );
}

/** "PBA: pending 3, 7" over the PBA dwords of a `tableSize`-entry table. */
export function pbaSummary(pba: readonly number[], tableSize: number): string {
  const pending: number[] = [];
  for (let e = 0; e < tableSize; e++) if ((pba[e >>> 5] >>> (e % 32)) & 1) pending.push(e);
  return `  PBA: ${pending.length ? `pending ${pending.join(', ')}` : 'nothing pending'}`;
}

const rowsOf = (entries: readonly EntryJson[]): DecodedEntryRow[] =>
  entries.map((e) => ({ ...e, who: irqText(e.irq) }));

function msixText(k: KernelState, regs: DeviceRegisters): string[] {
  const lines: string[] = [];
  for (const t of msixJson(k, regs)) {
    lines.push(
      `${t.bdf} MSI-X cap@${hexLower(t.capOffset, 2)} msgctl=${hexLower(t.messageControl, 4)} ` +
        `enable=${t.msixEnable ? 1 : 0} function_mask=${t.functionMask ? 1 : 0} table_size=${t.tableSize} ` +
        `table_bir=${t.tableBir} table_offset=${hexLower(t.tableOffset, 1)} pba_bir=${t.pbaBir} ` +
        `pba_offset=${hexLower(t.pbaOffset, 1)}`,
      `${t.bdf} columns: entry msg_addr_lo msg_addr_hi msg_data vector_ctrl`,
    );
    for (const e of t.entries) lines.push(entryLine(t.bdf, e.entry, e.dwords));
    t.pba.forEach((d, i) => {
      lines.push(pbaLine(t.bdf, i, d));
    });
    lines.push(
      `${t.bdf} decoded:`,
      ...decodedLines(rowsOf(t.entries)),
      pbaSummary(t.pba, t.tableSize),
    );
  }
  return lines;
}

function msiText(k: KernelState, regs: DeviceRegisters): string[] {
  const lines: string[] = [];
  for (const m of msiJson(k, regs)) {
    const addr = m.is64Bit
      ? `addr_lo=${hex32(m.messageAddress)} addr_hi=${hex32(m.messageUpperAddress)}`
      : `addr=${hex32(m.messageAddress)}`;
    const masks =
      m.maskBits === undefined
        ? ''
        : ` mask=${hex32(m.maskBits)} pending=${hex32(m.pendingBits ?? 0)}`;
    lines.push(
      `${m.bdf} MSI cap@${hexLower(m.capOffset, 2)} msgctl=${hexLower(m.messageControl, 4)} ` +
        `enable=${m.msiEnable ? 1 : 0} 64bit=${m.is64Bit ? 1 : 0} ${addr} data=${hexLower(m.messageData, 4)}${masks}`,
      `  ${irqText(m.irq)}, vectors ${m.multipleMessageEnable} of ${m.multipleMessageCapable}: ${msiSummary(m.decoded)}`,
    );
  }
  return lines;
}

function imsText(k: KernelState, regs: DeviceRegisters): string[] {
  const lines: string[] = [];
  for (const s of imsJson(k, regs)) {
    const shown = s.entries.length;
    lines.push(`${s.bdf} IMS ${s.size} entries, ${shown} allocated or written (the rest at reset)`);
    lines.push(`${s.bdf} columns: entry msg_addr_lo msg_addr_hi msg_data control`);
    for (const e of s.entries) lines.push(entryLine(s.bdf, e.entry, e.dwords));
    lines.push(`${s.bdf} decoded:`, ...decodedLines(rowsOf(s.entries)));
  }
  return lines;
}

const TEXT_OF = { msix: msixText, msi: msiText, ims: imsText } as const;

export function renderDeviceRegisters(
  view: DeviceRegisterView,
  k: KernelState,
  regs: DeviceRegisters,
): string {
  const lines = TEXT_OF[view](k, regs);
  return lines.length ? `${lines.join('\n')}\n` : `no ${view.toUpperCase()} on ${k.name}\n`;
}
