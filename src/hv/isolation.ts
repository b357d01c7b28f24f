// Adversarial guests: what a hostile guest can write straight into its device, and where each
// message it can make the device send ends up (DESIGN.md §2, "The direct strategies change who
// chooses the bits the device sends"; issue 6 item 5).
//
// Reach. Under `emulate` and `vir` every guest write to the MSI/MSI-X capability and table traps
// and the VMM writes the host entry itself: nothing the guest chooses reaches the device
// unfiltered, and the report says so instead of probing. Under `vir-direct` the MSI-X table and the
// IMS slice are mapped into the guest (the MSI capability lives in config space, which VFIO always
// virtualizes); under `pv`/`pv-batch` the hypervisor stops emulating MSI/MSI-X altogether, so the
// MSI capability registers are the guest's too. An INTx backing is never the guest's to write (the
// host line fans out through a status register). Mappings are 4 KiB pages (EPT granularity): a
// page also holding another guest's entries (16-byte MSI-X or IMS entries, 256 to a page) lets the
// hostile guest rewrite those entries: a finding of its own.
//
// Probes. For every directly writable store, a representative and adversarial set of
// (address, data) pairs (`adversarialMessages`): every host IRTE in use (own and other guests'),
// each also reached through SHV + subhandle, handles past the table and not-present entries, a
// remappable request with reserved data bits, compatibility-format messages to every APIC ID with
// every host vector in use there and the posted-interrupt notification vector, and writes that are
// not interrupts at all. Each is written into the guest's entry, the device raises it, and it goes
// through the REAL delivery path (system-delivery.ts: requester FIFO, VT-d remapping with the IEC,
// reserved-bit and source-id checks, posting, LAPICs, KVM, the guest handler) on a scratch copy of
// the state, run to quiescence. The outcome is read from the events: blocked by source-id
// validation (fault 26h), another fault (its reason), not an interrupt, not sent, or delivered to
// the hostile VM itself, another VM (which vCPU and vector, and whose interrupt it impersonates),
// or the host.
// Invariants: the caller's state is never written; every probe ends in exactly one outcome.
// Not modelled: DMA writes to the posted-interrupt descriptors themselves, interrupt storms
// (rates), PASID-tagged requests, the host's own entries on a shared page (e.g. idxd's MSI-X
// entry 0, not an assigned vector here).

import { assert } from '../hw/errors.js';
import { IMS_ENTRY, IMS_ENTRY_DWORDS } from '../hw/ims/ims-store.js';
import { MSIX_ENTRY_DWORDS, MSIX_TABLE_ENTRY } from '../hw/pci/msix-table.js';
import { IR_FAULT_REASON, IR_FAULT_REASON_TEXT } from '../hw/vtd/interrupt-remapping.js';
import type { MsiMessage } from '../hw/x86/msi-message.js';
import { systemEnabled, systemStep } from '../machine/system.js';
import { ACTION } from '../machine/system-actions.js';
import {
  NO_SUCH_DESTINATION,
  NOT_AN_INTERRUPT,
  POSTED_TO_UNKNOWN_MEMORY,
  storeRaise,
} from '../machine/system-delivery.js';
import {
  clearEvents,
  createEventLog,
  EVENT,
  EVENT_ARGS,
  type EventLog,
} from '../machine/system-events.js';
import { clearBit } from '../machine/system-fields.js';
import { cloneSystemState, type SystemState } from '../machine/system-state.js';
import { MSI_STORE_DWORDS, NO_VECTOR, type StoreTopology } from '../machine/system-topology.js';
import { adversarialMessages, type ProbeMessage } from './isolation-probes.js';
import { STRATEGY_TABLE } from './strategy-platform.js';

export { adversarialMessages, type ProbeMessage } from './isolation-probes.js';

export type IsolationStrategy = 'emulate' | 'vir' | 'vir-direct' | 'pv' | 'pv-batch';

/** A mapping's granularity (EPT 4 KiB pages) and the entries one page holds (16-byte entries). */
export const PAGE_BYTES = 4096;
export const ENTRIES_PER_PAGE = PAGE_BYTES / (MSIX_ENTRY_DWORDS * 4);
/** Steps a probe may take to quiescence: far above the few dozen a delivery needs; more is an
 *  irqlab bug (a loop in the model). */
const DRAIN_STEPS_MAX = 10_000;

export type SurfaceKind = 'msix-table' | 'ims' | 'msi-capability';

/** A store the hostile guest writes directly, and which of its entries it owns. */
export interface DirectSurface {
  readonly store: number;
  readonly storeName: string;
  readonly kind: SurfaceKind;
  readonly requesterId: number;
  readonly entries: readonly number[];
  /** Entries of other VMs on the same mapped pages. */
  readonly foreignEntries: readonly {
    readonly entry: number;
    readonly vm: string;
    readonly owner: string;
  }[];
}

export interface VmReach {
  readonly vm: string;
  readonly strategy: IsolationStrategy;
  readonly direct: readonly DirectSurface[];
  /** Why nothing is written directly (trapping strategies), or null. */
  readonly trapped: string | null;
}

export type IsolationOutcome =
  | { readonly kind: 'blocked-source-id'; readonly reason: number; readonly irte: number }
  | {
      readonly kind: 'faulted';
      readonly reason: number;
      readonly reasonText: string;
      readonly irte: number;
    }
  | { readonly kind: 'not-an-interrupt' }
  | { readonly kind: 'not-sent' }
  | { readonly kind: 'delivered'; readonly to: 'own-vm' | 'other-vm' | 'host' }
  | { readonly kind: 'foreign-entry-writable'; readonly entry: number };

export type IsolationVictim =
  | {
      readonly kind: 'vm';
      readonly vm: string;
      readonly vcpu: number;
      readonly vector: number;
      /** The assigned vector whose handler ran (whose interrupt was forged), or null. */
      readonly impersonates: string | null;
    }
  | { readonly kind: 'host'; readonly cpu: number; readonly vector: number }
  /** The owner of an entry the hostile guest can rewrite: its VM and assigned vector. */
  | { readonly kind: 'entry-owner'; readonly vm: string; readonly owner: string };

export interface IsolationFinding {
  readonly vm: string;
  readonly writtenVia: {
    readonly store: string;
    readonly entry: number;
    readonly requesterId: number;
  };
  /** What the guest wrote; `sent` is what the device put on the wire (MSI blocks replace the low
   *  data bits with the vector number). Null for a reachable foreign entry. */
  readonly message: ProbeMessage | null;
  readonly sent: MsiMessage | null;
  readonly outcome: IsolationOutcome;
  readonly victim?: IsolationVictim;
  /** The message reached another VM or the host, or the guest can rewrite another VM's entry. */
  readonly breach: boolean;
}

export interface IsolationSummary {
  readonly strategy: string;
  readonly hostile: readonly string[];
  readonly isolated: boolean;
  readonly directSurfaces: number;
  readonly probes: number;
  readonly counts: {
    readonly blockedSourceId: number;
    readonly faulted: number;
    readonly notAnInterrupt: number;
    readonly notSent: number;
    readonly deliveredOwnVm: number;
    readonly deliveredOtherVm: number;
    readonly deliveredHost: number;
    readonly foreignEntriesWritable: number;
  };
  /** Faults by VT-d reason code (hex, e.g. "0x26") or irqlab reason name. */
  readonly faultReasons: Readonly<Record<string, number>>;
}

export interface IsolationReport {
  readonly reach: readonly VmReach[];
  readonly findings: readonly IsolationFinding[];
  readonly summary: IsolationSummary;
}

/**
 * Every hostile VM's reach under `strategy` (one for all VMs, or one per VM), and where each
 * adversarial message it can make its device send goes. `state` is not modified.
 */
export function analyzeIsolation(
  state: SystemState,
  opts: { strategy: IsolationStrategy | readonly IsolationStrategy[]; hostile: readonly number[] },
): IsolationReport {
  const t = state.topology;
  const strategyOf = (vm: number) =>
    typeof opts.strategy === 'string' ? opts.strategy : opts.strategy[vm];
  for (const vm of opts.hostile) assert(vm >= 0 && vm < t.vms.length, `no VM ${vm}`);
  const base = quiescent(state);
  const scratch = cloneSystemState(base);
  const log = createEventLog();
  const reach = opts.hostile.map((vm) => vmReach(base, vm, strategyOf(vm)));
  const findings: IsolationFinding[] = [];
  reach.forEach((r, i) => {
    const vm = opts.hostile[i];
    const messages = adversarialMessages(base, vm);
    for (const surface of r.direct) {
      const via = (entry: number) => ({
        store: surface.storeName,
        entry,
        requesterId: surface.requesterId,
      });
      for (const f of surface.foreignEntries) {
        findings.push({
          vm: r.vm,
          writtenVia: via(f.entry),
          message: null,
          sent: null,
          outcome: { kind: 'foreign-entry-writable', entry: f.entry },
          victim: { kind: 'entry-owner', vm: f.vm, owner: f.owner },
          breach: true,
        });
      }
      for (const message of messages) {
        findings.push(probeFinding(base, scratch, log, vm, surface, message));
      }
    }
  });
  const strategies = [...new Set(opts.hostile.map(strategyOf))];
  return {
    reach,
    findings,
    summary: summarize(
      strategies.join(','),
      opts.hostile.map((v) => t.vms[v].name),
      reach,
      findings,
    ),
  };
}

/** The report for each strategy, the same hostile VMs (what `compare` prints per column). */
export function isolationByStrategy(
  state: SystemState,
  hostile: readonly number[],
  strategies: readonly IsolationStrategy[],
): Record<string, IsolationReport> {
  return Object.fromEntries(
    strategies.map((s) => [s, analyzeIsolation(state, { strategy: s, hostile })]),
  );
}

/**
 * One message of the hostile guest of VM `vm`, written through each store it reaches directly
 * under `strategy` (none under emulate and vir). For property tests and single what-ifs.
 */
export function probeMessage(
  state: SystemState,
  opts: { vm: number; strategy: IsolationStrategy; message: ProbeMessage },
): IsolationFinding[] {
  assert(opts.vm >= 0 && opts.vm < state.topology.vms.length, `no VM ${opts.vm}`);
  const base = quiescent(state);
  const scratch = cloneSystemState(base);
  const log = createEventLog();
  return vmReach(base, opts.vm, opts.strategy).direct.map((surface) =>
    probeFinding(base, scratch, log, opts.vm, surface, opts.message),
  );
}

function probeFinding(
  base: SystemState,
  scratch: SystemState,
  log: EventLog,
  vm: number,
  surface: DirectSurface,
  message: ProbeMessage,
): IsolationFinding {
  const entry = surface.entries[0];
  scratch.words.set(base.words);
  clearEvents(log);
  const { outcome, victim, sent } = probe(scratch, log, vm, surface, entry, message);
  return {
    vm: base.topology.vms[vm].name,
    writtenVia: { store: surface.storeName, entry, requesterId: surface.requesterId },
    message,
    sent,
    outcome,
    ...(victim ? { victim } : {}),
    breach: outcome.kind === 'delivered' && outcome.to !== 'own-vm',
  };
}

// ---- reach ----

/** Why a strategy that traps the table (STRATEGY_TABLE msixTableTrapped) keeps the guest out. */
const TRAPPED_WHY: Readonly<Partial<Record<IsolationStrategy, string>>> = {
  emulate:
    'every guest write to the MSI/MSI-X capability, table and PBA traps; the VMM programs the host entry and IRTE itself, so no guest-chosen address/data reaches the device',
  vir: 'the table stays trapped: the guest writes virtual IRTEs and handles, which the VMM translates into host IRTEs it owns on each trapped write and IEC invalidation; no guest-chosen pair reaches the device',
};

function surfaceKind(store: StoreTopology, strategy: IsolationStrategy): SurfaceKind | null {
  switch (store.kind) {
    case 'msix':
      return 'msix-table';
    case 'ims':
      return 'ims';
    case 'msi':
      // Config space stays virtualized by VFIO unless the hypervisor dropped MSI emulation (pv).
      return STRATEGY_TABLE[strategy].msiCapabilityEmulated ? null : 'msi-capability';
    case 'intx':
      return null;
  }
}

export function vmReach(s: SystemState, vm: number, strategy: IsolationStrategy): VmReach {
  const t = s.topology;
  const name = t.vms[vm].name;
  const trapped = TRAPPED_WHY[strategy];
  if (STRATEGY_TABLE[strategy].msixTableTrapped) {
    assert(trapped !== undefined, `${strategy} traps the table: why it keeps the guest out`);
    return { vm: name, strategy, direct: [], trapped };
  }
  const byStore = new Map<number, number[]>();
  for (const v of t.vms[vm].vectors) {
    const spec = t.vectors[v];
    byStore.set(spec.store, [...(byStore.get(spec.store) ?? []), spec.entry]);
  }
  const direct: DirectSurface[] = [];
  for (const [store, entries] of byStore) {
    const st = t.stores[store];
    const kind = surfaceKind(st, strategy);
    if (kind === null) continue;
    direct.push({
      store,
      storeName: st.name,
      kind,
      requesterId: t.ports[st.port].requesterId,
      entries: [...entries].sort((a, b) => a - b),
      foreignEntries: kind === 'msi-capability' ? [] : foreignOnPages(s, st, vm, entries),
    });
  }
  return { vm: name, strategy, direct, trapped: null };
}

function foreignOnPages(s: SystemState, st: StoreTopology, vm: number, entries: number[]) {
  const t = s.topology;
  const pages = new Set(entries.map((e) => Math.floor(e / ENTRIES_PER_PAGE)));
  const out: { entry: number; vm: string; owner: string }[] = [];
  for (const page of [...pages].sort((a, b) => a - b)) {
    const end = Math.min(st.entries, (page + 1) * ENTRIES_PER_PAGE);
    for (let e = page * ENTRIES_PER_PAGE; e < end; e++) {
      const owner = st.entryOwner[e];
      if (owner >= 0 && t.vectors[owner].vm !== vm) {
        out.push({ entry: e, vm: t.vms[t.vectors[owner].vm].name, owner: t.vectors[owner].name });
      }
    }
  }
  return out;
}

// ---- one probe through the real path ----

/** Runs the system's own actions (no raises, no HLT) until none is enabled. */
function drain(s: SystemState, log: EventLog): void {
  for (let i = 0; i < DRAIN_STEPS_MAX; i++) {
    const next = systemEnabled(s).find(
      (a) => a.kind !== ACTION.raise && a.kind !== ACTION.vcpuHalt,
    );
    if (!next) return;
    systemStep(s, next, log);
  }
  assert(false, `isolation: the system did not quiesce in ${DRAIN_STEPS_MAX} steps`);
}

function quiescent(s: SystemState): SystemState {
  const copy = cloneSystemState(s);
  drain(copy, createEventLog());
  return copy;
}

/** The guest writes `m` into `entry` of the surface (and clears its mask), the device raises it. */
function probe(
  s: SystemState,
  log: EventLog,
  vm: number,
  surface: DirectSurface,
  entry: number,
  m: ProbeMessage,
): { outcome: IsolationOutcome; victim?: IsolationVictim; sent: MsiMessage | null } {
  const st = s.topology.stores[surface.store];
  writeEntry(s, st, entry, m);
  storeRaise(s, log, surface.store, entry);
  drain(s, log);
  return classify(s, log, vm, st.port);
}

/** The guest writes `m` into `entry` of the store and clears the entry's mask. */
export function writeEntry(s: SystemState, st: StoreTopology, entry: number, m: MsiMessage): void {
  const w = s.words;
  switch (st.kind) {
    case 'msix':
    case 'intx': {
      const at = st.entriesAt + entry * MSIX_ENTRY_DWORDS;
      const a = MSIX_TABLE_ENTRY.accessors;
      a.messageAddress.set(w, m.addrLo, at);
      a.messageUpperAddress.set(w, m.addrHi, at);
      a.messageData.set(w, m.data, at);
      a.mask.set(w, 0, at);
      return;
    }
    case 'ims': {
      const at = st.entriesAt + entry * IMS_ENTRY_DWORDS;
      const a = IMS_ENTRY.accessors;
      a.messageAddress.set(w, m.addrLo, at);
      a.messageUpperAddress.set(w, m.addrHi, at);
      a.messageData.set(w, m.data, at);
      a.mask.set(w, 0, at);
      return;
    }
    case 'msi':
      w[st.entriesAt + MSI_STORE_DWORDS.addrLo] = m.addrLo;
      w[st.entriesAt + MSI_STORE_DWORDS.addrHi] = m.addrHi;
      w[st.entriesAt + MSI_STORE_DWORDS.data] = m.data;
      clearBit(w, (st.entriesAt + MSI_STORE_DWORDS.mask) * 32 + entry);
      return;
  }
}

function faultName(reason: number): string {
  switch (reason) {
    case NO_SUCH_DESTINATION:
      return 'no-such-destination';
    case POSTED_TO_UNKNOWN_MEMORY:
      return 'posted-to-unknown-memory';
    default:
      return `0x${reason.toString(16)}`;
  }
}

function faultText(reason: number): string {
  if (reason === NO_SUCH_DESTINATION)
    return 'no CPU has the destination APIC ID, or illegal vector';
  if (reason === POSTED_TO_UNKNOWN_MEMORY) return "posted IRTE's descriptor is no vCPU's";
  return IR_FAULT_REASON_TEXT[reason as keyof typeof IR_FAULT_REASON_TEXT] ?? 'unknown';
}

/** Reads where the probe went from the events of its raise and drain. */
function classify(
  s: SystemState,
  log: EventLog,
  vm: number,
  port: number,
): { outcome: IsolationOutcome; victim?: IsolationVictim; sent: MsiMessage | null } {
  const t = s.topology;
  let sent: MsiMessage | null = null;
  let hostHit: IsolationVictim | null = null;
  let vmHit: IsolationVictim | null = null;
  let hitVm = -1;
  for (let i = 0; i < log.length; i++) {
    const at = i * EVENT_ARGS;
    const [a, b, c, d] = [log.args[at], log.args[at + 1], log.args[at + 2], log.args[at + 3]];
    switch (log.kind[i]) {
      case EVENT.msiSent:
        if (a === port && sent === null) sent = { addrLo: c >>> 0, addrHi: 0, data: d >>> 0 };
        break;
      case EVENT.irFault:
        if (a === port) return { outcome: faultOutcome(b, c), sent };
        break;
      case EVENT.guestIrq: {
        const vcpu = t.vcpus[a];
        // A forged interrupt in another VM outranks one in the hostile VM itself.
        if (vmHit === null || (hitVm === vm && vcpu.vm !== vm)) {
          hitVm = vcpu.vm;
          vmHit = {
            kind: 'vm',
            vm: t.vms[vcpu.vm].name,
            vcpu: vcpu.index,
            vector: b,
            impersonates: c === NO_VECTOR ? null : t.vectors[c].name,
          };
        }
        break;
      }
      case EVENT.hostIrrSet:
        if (hostHit === null) hostHit = { kind: 'host', cpu: a, vector: b };
        break;
    }
  }
  if (sent === null) return { outcome: { kind: 'not-sent' }, sent };
  if (vmHit !== null) {
    return {
      outcome: { kind: 'delivered', to: hitVm === vm ? 'own-vm' : 'other-vm' },
      victim: vmHit,
      sent,
    };
  }
  if (hostHit !== null)
    return { outcome: { kind: 'delivered', to: 'host' }, victim: hostHit, sent };
  // Sent, neither faulted nor taken by anyone: an irqlab bug (every message ends somewhere).
  assert(false, 'isolation: a probe vanished without an outcome');
  return { outcome: { kind: 'not-sent' }, sent };
}

function faultOutcome(reason: number, index: number): IsolationOutcome {
  if (reason === NOT_AN_INTERRUPT) return { kind: 'not-an-interrupt' };
  if (reason === IR_FAULT_REASON.sourceIdInvalid) {
    return { kind: 'blocked-source-id', reason, irte: index };
  }
  return { kind: 'faulted', reason, reasonText: faultText(reason), irte: index };
}

function summarize(
  strategy: string,
  hostile: string[],
  reach: readonly VmReach[],
  findings: readonly IsolationFinding[],
): IsolationSummary {
  const counts = {
    blockedSourceId: 0,
    faulted: 0,
    notAnInterrupt: 0,
    notSent: 0,
    deliveredOwnVm: 0,
    deliveredOtherVm: 0,
    deliveredHost: 0,
    foreignEntriesWritable: 0,
  };
  const faultReasons: Record<string, number> = {};
  for (const f of findings) {
    const o = f.outcome;
    switch (o.kind) {
      case 'blocked-source-id':
        counts.blockedSourceId++;
        faultReasons[faultName(o.reason)] = (faultReasons[faultName(o.reason)] ?? 0) + 1;
        break;
      case 'faulted':
        counts.faulted++;
        faultReasons[faultName(o.reason)] = (faultReasons[faultName(o.reason)] ?? 0) + 1;
        break;
      case 'not-an-interrupt':
        counts.notAnInterrupt++;
        break;
      case 'not-sent':
        counts.notSent++;
        break;
      case 'delivered':
        if (o.to === 'own-vm') counts.deliveredOwnVm++;
        else if (o.to === 'other-vm') counts.deliveredOtherVm++;
        else counts.deliveredHost++;
        break;
      case 'foreign-entry-writable':
        counts.foreignEntriesWritable++;
        break;
    }
  }
  return {
    strategy,
    hostile,
    isolated: findings.every((f) => !f.breach),
    directSurfaces: reach.reduce((n, r) => n + r.direct.length, 0),
    probes: findings.filter((f) => f.message !== null).length,
    counts,
    faultReasons,
  };
}
