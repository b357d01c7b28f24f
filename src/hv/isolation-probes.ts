// The hostile guest's message set for the isolation analysis (`isolation.ts`): every IRTE index
// the host has in use (other guests' included), handles beyond the table, SHV/subhandle sums
// that land on a neighbour's entry, compatibility-format messages to every APIC ID and vector in
// use, illegal vectors, and writes that are not interrupts at all. Each message is labelled with
// what it aims at; `isolation.ts` sends it through the real delivery path and classifies it.

import { encode } from '../hw/bits.js';
import { IRTE_ENTRIES_MAX } from '../hw/vtd/remapping-table.js';
import { APIC_FIRST_LEGAL_VECTOR } from '../hw/x86/lapic.js';
import {
  composeCompatMsiPhysical,
  composeRemappableMsi,
  MSI_DATA_REMAPPABLE,
  MSI_HANDLE_MAX,
  MSI_SUBHANDLE_MAX,
  type MsiMessage,
} from '../hw/x86/msi-message.js';
import {
  FIRST_DEVICE_VECTOR,
  FIRST_SYSTEM_VECTOR,
  POSTED_INTR_VECTOR,
  type SystemState,
} from '../machine/system-state.js';

/** Compatibility-format destination IDs are 8 bits (SDM 11.11.1). */
const COMPAT_APIC_IDS = 256;
/** A vector below the first legal one (SDM: vectors 0-15 are illegal for fixed interrupts). */
const ILLEGAL_VECTOR = APIC_FIRST_LEGAL_VECTOR - 1;
/** Guest-physical writes that are not interrupts: RAM, the HPET page, and 0xFEE with an upper
 *  address (a 64-bit write above 4 GiB). */
const NON_INTERRUPT_WRITES = [
  { label: 'memory write to RAM 0x1000', addrLo: 0x1000, addrHi: 0 },
  { label: 'memory write to the HPET page 0xfed00000', addrLo: 0xfed00000, addrHi: 0 },
  { label: 'write to 0x1_fee00000 (upper address set)', addrLo: 0xfee00000, addrHi: 1 },
] as const;

export interface ProbeMessage extends MsiMessage {
  readonly label: string;
}

const remappable = (handle: number, shv: number, subhandle: number) =>
  composeRemappableMsi({ handle, shv, subhandle, dontCare: 0 });

const compat = composeCompatMsiPhysical;

/** The messages a hostile guest of VM `vm` tries, each labelled with what it aims at. */
export function adversarialMessages(s: SystemState, vm: number): ProbeMessage[] {
  const t = s.topology;
  const out: ProbeMessage[] = [];
  const add = (label: string, m: MsiMessage) => {
    out.push({ label, ...m });
  };
  const ownerName = (v: number) => `${t.vectors[v].name}${t.vectors[v].vm === vm ? ', own' : ''}`;
  let unused = -1;
  for (let i = 0; i < t.irtEntries; i++) {
    const owner = t.irteOwner[i];
    if (owner < 0) {
      if (unused < 0) unused = i;
      continue;
    }
    add(`IRTE ${i} (${ownerName(owner)}) by handle`, remappable(i, 0, 0));
    add(`IRTE ${i} (${ownerName(owner)}) by handle 0 + subhandle ${i}`, remappable(0, 1, i));
  }
  if (unused >= 0) add(`IRTE ${unused} (in the table, not present)`, remappable(unused, 0, 0));
  if (t.irtEntries <= MSI_HANDLE_MAX) {
    add(`handle ${t.irtEntries} (first past the table)`, remappable(t.irtEntries, 0, 0));
  }
  add(`handle 0x${MSI_HANDLE_MAX.toString(16)} (largest)`, remappable(MSI_HANDLE_MAX, 0, 0));
  add(
    `handle 0xffff + subhandle 0xffff (index ${MSI_HANDLE_MAX + MSI_SUBHANDLE_MAX}, past ${IRTE_ENTRIES_MAX})`,
    remappable(MSI_HANDLE_MAX, 1, MSI_SUBHANDLE_MAX),
  );
  const [reservedData] = encode(MSI_DATA_REMAPPABLE, { subhandle: 0, reserved: 1 });
  add('remappable request with reserved data bits 31:16 set', {
    ...remappable(0, 0, 0),
    data: reservedData,
  });
  const apicIds = Math.min(t.host.cpus, COMPAT_APIC_IDS);
  for (let apic = 0; apic < apicIds; apic++) {
    for (const vector of compatVectors(s, apic)) {
      add(
        `compatibility format to APIC ${apic}, vector 0x${vector.toString(16)}`,
        compat(apic, vector),
      );
    }
  }
  if (t.host.cpus < COMPAT_APIC_IDS) {
    add(
      `compatibility format to APIC ${t.host.cpus} (no such CPU)`,
      compat(t.host.cpus, FIRST_DEVICE_VECTOR),
    );
  }
  add(
    `compatibility format, illegal vector 0x${ILLEGAL_VECTOR.toString(16)}`,
    compat(0, ILLEGAL_VECTOR),
  );
  for (const w of NON_INTERRUPT_WRITES)
    add(w.label, { addrLo: w.addrLo, addrHi: w.addrHi, data: 0 });
  return out;
}

/** Every host vector in use on `cpu`, the posted-interrupt notification vector, and one free
 *  device vector. */
function compatVectors(s: SystemState, cpu: number): number[] {
  const t = s.topology;
  const out: number[] = [];
  let free = -1;
  for (let v = FIRST_DEVICE_VECTOR; v < FIRST_SYSTEM_VECTOR; v++) {
    if (t.hostVectorOwner[cpu * 256 + v] >= 0) out.push(v);
    else if (free < 0) free = v;
  }
  if (free >= 0) out.push(free);
  out.push(POSTED_INTR_VECTOR);
  return out;
}
