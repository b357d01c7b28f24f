// `irqlab show --what msix|msi|ims|irte --at <time>`: the same register views as
// device-registers.ts / irte-table.ts, read from the whole-system model's words at a time of a
// run (the simulator's state when it reached that time): the physical devices' interrupt stores
// (MSI-X table and PBA, MSI capability registers, IMS entries) and the host's interrupt
// remapping table. Each entry is named by the assigned vector that owns it (topology
// `entryOwner`, `irteOwner`), the source-id check is made for that vector's requester.
// Not here: the guests' own tables (their virtual MSI-X tables and IRTEs are the hypervisor's
// emulation; the system words keep what reaches the hardware) and the kernels' invalidation
// logs (the words hold the unit's state, not the queue's history).

import { bigIntFromDwords, decode } from '../hw/bits.js';
import { IMS_ENTRY, IMS_ENTRY_DWORDS } from '../hw/ims/ims-store.js';
import { bdfOfRequesterId, formatBdf, type RequesterId } from '../hw/pci/bdf.js';
import { MSI_MESSAGE_CONTROL } from '../hw/pci/msi-capability.js';
import { MSIX_MESSAGE_CONTROL } from '../hw/pci/msix-capability.js';
import { msixPbaDwords } from '../hw/pci/msix-pba.js';
import { MSIX_ENTRY_DWORDS, MSIX_TABLE_ENTRY } from '../hw/pci/msix-table.js';
import { decodeIrte, IRTE_DWORDS, IRTE_REMAPPED, verifySourceId } from '../hw/vtd/irte.js';
import { decodeMsiMessage } from '../hw/x86/msi-message.js';
import type { SystemState } from '../machine/system-state.js';
import { MSI_STORE_DWORDS, type StoreTopology } from '../machine/system-topology.js';
import {
  type DecodedEntryRow,
  decodedLines,
  entryLine,
  pbaLine,
  pbaSummary,
} from './device-registers.js';
import { hex32 } from './field-table-text.js';
import { irteSummary } from './irte-text.js';

export type SystemRegisterView = 'msix' | 'msi' | 'ims' | 'irte';

const bdfOf = (s: SystemState, st: StoreTopology) =>
  formatBdf(bdfOfRequesterId(s.topology.ports[st.port].requesterId), { withSegment: true });
const ownerName = (s: SystemState, owner: number) =>
  owner < 0 ? '-' : s.topology.vectors[owner].name;
const slice = (s: SystemState, at: number, n: number) => Array.from(s.words.subarray(at, at + n));

/** Every MSI-X entry; of an IMS (thousands of entries), those a vector owns or software wrote. */
function storeEntries(s: SystemState, st: StoreTopology, dwords: number) {
  const ims = st.kind === 'ims';
  const mask = ims ? IMS_ENTRY.accessors.mask : MSIX_TABLE_ENTRY.accessors.mask;
  const rows = [];
  for (let e = 0; e < st.entries; e++) {
    const words = slice(s, st.entriesAt + e * dwords, dwords);
    const masked = mask.get(words) === 1;
    const atReset = masked && words.every((w, i) => i === dwords - 1 || w === 0);
    if (ims && st.entryOwner[e] < 0 && atReset) continue;
    rows.push({
      entry: e,
      words,
      masked,
      who: ownerName(s, st.entryOwner[e]),
      decoded: decodeMsiMessage(words[0], words[1], words[2]),
    });
  }
  return rows;
}

function msiStore(s: SystemState, st: StoreTopology) {
  const at = st.entriesAt;
  const addrLo = s.words[at + MSI_STORE_DWORDS.addrLo];
  const addrHi = s.words[at + MSI_STORE_DWORDS.addrHi];
  const data = s.words[at + MSI_STORE_DWORDS.data];
  const mask = s.words[at + MSI_STORE_DWORDS.mask];
  return {
    store: st.name,
    bdf: bdfOf(s, st),
    messageControl: s.words[st.controlAt],
    msiEnable: decode(MSI_MESSAGE_CONTROL.layout, [s.words[st.controlAt]]).msiEnable,
    addrLo,
    addrHi,
    data,
    mask,
    pending: s.words[at + MSI_STORE_DWORDS.pending],
    row: {
      entry: 0,
      who: ownerName(s, st.entryOwner[0]),
      masked: (mask & 1) === 1,
      decoded: decodeMsiMessage(addrLo, addrHi, data),
    } satisfies DecodedEntryRow,
  };
}

/** An MSI-X table or IMS: its entries, its pending bits (the PBA; IMS: device state), and for
 *  MSI-X the Message Control bits. */
function tableStore(s: SystemState, st: StoreTopology) {
  const msix = st.kind === 'msix';
  return {
    store: st.name,
    bdf: bdfOf(s, st),
    entries: st.entries,
    ...(msix ? { control: decode(MSIX_MESSAGE_CONTROL.layout, [s.words[st.controlAt]]) } : {}),
    table: storeEntries(s, st, msix ? MSIX_ENTRY_DWORDS : IMS_ENTRY_DWORDS),
    pending: slice(s, st.pendingAt, msixPbaDwords(st.entries)),
  };
}

const storesOf = (s: SystemState, kind: 'msix' | 'msi' | 'ims') =>
  s.topology.stores.filter((st) => st.kind === kind);

function irtJson(s: SystemState) {
  const t = s.topology;
  const mode = { eime: t.remapUnit.eime };
  const present = [];
  for (let index = 0; index < t.irtEntries; index++) {
    const words = slice(s, t.layout.irt + index * IRTE_DWORDS, IRTE_DWORDS);
    if (IRTE_REMAPPED.accessors.present.get(words) !== 1) continue;
    const owner = t.irteOwner[index];
    const requester = owner < 0 ? null : t.ports[t.stores[t.vectors[owner].store].port].requesterId;
    const decoded = decodeIrte(words, mode);
    present.push({
      index,
      low: `0x${bigIntFromDwords(words.slice(2)).toString(16)}`,
      high: `0x${bigIntFromDwords(words.slice(0, 2)).toString(16)}`,
      summary: irteSummary(decoded, mode),
      who: ownerName(s, owner),
      requester:
        requester === null ? null : formatBdf(bdfOfRequesterId(requester), { withSegment: false }),
      sourceIdCheck:
        requester === null ? null : verifySourceId(decoded.fields, requester as RequesterId),
    });
  }
  return { entries: t.irtEntries, eime: t.remapUnit.eime, present };
}

export function systemRegistersJson(view: SystemRegisterView, s: SystemState): unknown {
  const data =
    view === 'irte'
      ? irtJson(s)
      : storesOf(s, view).map((st) => (view === 'msi' ? msiStore(s, st) : tableStore(s, st)));
  return JSON.parse(
    JSON.stringify(data, (key, v) =>
      key === 'words' || key === 'pending' ? (Array.isArray(v) ? v.map(hex32) : hex32(v)) : v,
    ),
  );
}

function irtText(s: SystemState): string[] {
  const irt = irtJson(s);
  const lines = [
    `host IRT: ${irt.entries} entries, EIME ${irt.eime ? 1 : 0}, ${irt.present.length} present`,
  ];
  for (const e of irt.present) {
    lines.push(`index ${e.index} low ${e.low} high ${e.high}`, `  ${e.summary}`);
    lines.push(
      e.requester === null
        ? '  no assigned vector owns it'
        : `  ${e.who}, requester ${e.requester}: source-id check ${e.sourceIdCheck}`,
    );
  }
  return lines;
}

function msiText(s: SystemState, st: StoreTopology): string[] {
  const m = msiStore(s, st);
  return [
    `${m.bdf} MSI (${m.store}) msgctl=0x${m.messageControl.toString(16).padStart(4, '0')} ` +
      `enable=${m.msiEnable} addr_lo=${hex32(m.addrLo)} addr_hi=${hex32(m.addrHi)} ` +
      `data=${hex32(m.data)} mask=${hex32(m.mask)} pending=${hex32(m.pending)}`,
    ...decodedLines([m.row]),
  ];
}

function tableText(s: SystemState, st: StoreTopology): string[] {
  const t = tableStore(s, st);
  const control = t.control
    ? ` enable=${t.control.msixEnable} function_mask=${t.control.functionMask}`
    : '';
  const lines = [
    `${t.bdf} ${t.control ? 'MSI-X' : 'IMS'} (${t.store}) ${t.entries} entries${control}` +
      (t.control ? '' : `, ${t.table.length} owned or written (the rest at reset)`),
    ...t.table.map((r) => entryLine(t.bdf, r.entry, r.words)),
  ];
  if (t.control) lines.push(...t.pending.map((d, i) => pbaLine(t.bdf, i, d)));
  lines.push(`${t.bdf} decoded:`, ...decodedLines(t.table), pbaSummary(t.pending, t.entries));
  return lines;
}

export function renderSystemRegisters(
  view: SystemRegisterView,
  s: SystemState,
  at: string,
): string {
  const lines = [`at ${at}: the system's words (the devices' stores, the host's remapping table)`];
  if (view === 'irte') lines.push(...irtText(s));
  else {
    const stores = storesOf(s, view);
    for (const st of stores) lines.push(...(view === 'msi' ? msiText(s, st) : tableText(s, st)));
    if (stores.length === 0) lines.push(`no ${view.toUpperCase()} store in the system`);
  }
  return `${lines.join('\n')}\n`;
}
