// The guest kernel's `KernelPlatform` as the hypervisor implements it under each strategy: the
// guest's accesses land on a virtual function (config space + MSI-X table/PBA + IMS slice as plain
// memory), each one that traps is an exit (`exits.ts`), and on the trapped writes that make a
// vector live the hypervisor programs the host: a host entry through VFIO (VFIO_DEVICE_SET_IRQS:
// the host kernel allocates an MSI-X/MSI/IMS entry, a host irq and vector, and a host IRTE), a KVM
// GSI route, and the IRTE in posted format when the host posts interrupts.
//   emulate     table trapped; a write that unmasks an entry with a message => VFIO + route;
//               rewriting a live entry (affinity) => route update (the whole table re-submitted).
//   vir         the guest composes remappable handles into its vIOMMU's IRTEs (guest memory); the
//               table is still trapped; each IEC invalidation traps (QI doorbell) and the VMM
//               re-translates EVERY MSI route (QEMU vtd_iec_notify_all -> kvm_update_msi_routes_all).
//   vir-direct  table mapped; only the invalidation traps; the hv shadows the guest IRTE into the
//               host IRTE at the SAME index (the guest's handle is valid on the host), inside a
//               per-VM window of the host's table. Handle validity without translation: the
//               vIOMMU reports a window [base, base + VIR_DIRECT_WINDOW) its IR allocator must
//               stay in (irqlab's capability, `StrategyHost.irWindow`), disjoint per VM and
//               reserved in the host kernel's own IRTE allocator, so the guest-composed handle the
//               device sends as-is names the host IRTE the hv wrote. On each trapped invalidation
//               the hv reads the guest IRTE from guest memory and hands the backend its target
//               (destination APIC ID -> vCPU, vector) and the assigned function its source-id
//               names; an index outside the window or a source-id of no assigned function is not
//               shadowed (the guest cannot pick another's IRTE or another requester ID).
//   pv          table mapped; one hypercall per vector returns a host-valid pair: the guest kernel's
//               compose goes through the pv ABI's registers (pv-guest.ts GET_MSG / RETARGET ->
//               pv-host.ts), whose backend here is the ledger plus the host side (`backend`).
//   pv-batch    as pv; the guest kernel's batch window (kernel/pv-ir.ts) asks for the pairs of one
//               driver call with one GET_MSG_BATCH (one exit for up to PV_BATCH_ENTRIES_MAX).
// `backend` (optional): the real host behind the ledger (`build.ts`: VFIO on the host kernel,
// programming the system state); without it the pairs are stand-in handles (control plane only).
// Invariants: every host allocation has one owner key (function#index) and is returned exactly
// once (by a mask-all at disable, a free or a hot-unplug); the ledger counts never go negative.
// Not modelled: the VMM's own bookkeeping latency beyond the cost model. (An INTx backing's status
// register read is host-side work on the data plane: no guest exit, priced there as `mmioReadNs`.)

import { decode } from '../hw/bits.js';
import { assert } from '../hw/errors.js';
import { parseBdf, requesterIdOf } from '../hw/pci/bdf.js';
import { MSIX_ENTRY_SIZE } from '../hw/pci/msix-capability.js';
import { MSIX_ENTRY_DWORD, MSIX_TABLE_ENTRY } from '../hw/pci/msix-table.js';
import { IRTE_REMAPPED, irteApicId } from '../hw/vtd/irte.js';
import { composeRemappableMsi } from '../hw/x86/msi-message.js';
import type { PlatformKind } from '../kernel/kernel-state.js';
import type { HwAccess, KernelPlatform, MemoryPlatform, MsiHypercall } from '../kernel/platform.js';
import { memoryPlatform } from '../kernel/platform.js';
import type { GuestEntry, GuestMove, VirtualMsix } from '../machine/system-topology.js';
import { type ExitCounts, emptyExits, exitOfAccess, type TrapPolicy } from './exits.js';
import { PAGE_SIZE, PV_MSI_VERSION, type PvPair, pvDeviceHandle } from './pv-abi.js';
import type { PvGuestChoice, PvVmcall } from './pv-guest.js';
import {
  type PvHostBackend,
  type PvHostCaps,
  type PvVmState,
  pvHostHypercall,
  pvVmCreate,
} from './pv-host.js';
import { type PvKernelHooks, pvKernelHooks } from './pv-kernel-hooks.js';

export type StrategyName = 'emulate' | 'vir' | 'vir-direct' | 'pv' | 'pv-batch';

/** KVM's routing table: KVM_MAX_IRQ_ROUTES (include/linux/kvm_host.h). */
export const KVM_MAX_IRQ_ROUTES = 4096;
/** VT-d interrupt remapping table entries (IRTA_REG.S = 0xf: 2^16). */
export const HOST_IRTES = 65536;
/** Per-VM window of the host IRT that `vir-direct` carves out for one guest's handle space. */
export const VIR_DIRECT_WINDOW = 2048;

export type GuestRep = 'msi' | 'msix' | 'ims';
export type HostBacking = 'intx' | 'msi' | 'msix' | 'ims';

/** One guest-visible function the hypervisor presents for one assignment. */
export interface VirtualFunction {
  readonly bdf: string;
  readonly guest: GuestRep;
  readonly backing: HostBacking;
  readonly vectors: number;
}

/** What the host has given out, live, per resource; and the work it did. */
export interface HostLedger {
  hostVectors: number;
  irtes: number;
  msixEntries: number;
  imsEntries: number;
  intxLines: number;
  kvmRoutes: number;
  /** Peak of each, over the run (what must have been available). */
  readonly peak: {
    hostVectors: number;
    irtes: number;
    kvmRoutes: number;
    irteWindow: number;
    msixEntries: number;
    imsEntries: number;
    intxLines: number;
  };
  /** VFIO_DEVICE_SET_IRQS calls, and vectors disabled/re-enabled by the noresize path. */
  vfioSetIrqs: number;
  vfioReenabledVectors: number;
  /** Routes re-submitted by KVM_SET_GSI_ROUTING (each update sends the whole table). */
  routesResubmitted: number;
  /** Routes the VMM re-translated on a vIOMMU IEC invalidation (`vir`). */
  routesRetranslated: number;
  irteUpdates: number;
}

export interface StrategyHost {
  readonly strategy: StrategyName;
  /** Host has VT-d IR / posted interrupts / dynamic MSI-X in VFIO (Linux 6.5+). */
  readonly hostIr: boolean;
  readonly hostPosted: boolean;
  readonly dynamicMsix: boolean;
  /** vCPUs of the VM (the pv ABI checks a GET_MSG's destination against them). */
  readonly vcpus: number;
  /** vir-direct: the VM's window of the host IRT (what its vIOMMU reports to the guest's IR
   *  allocator). Absent under vir-direct: a window at 0 (a control-plane run, no host behind). */
  readonly irWindow?: IrWindow;
}

/** A range of host IRTE indices given to one `vir-direct` VM. */
export interface IrWindow {
  readonly base: number;
  readonly size: number;
}

/** vir-direct: the guest IRTE the hv read on a trapped invalidation, as the host needs it: the
 *  assigned function whose requester ID the host IRTE must validate, the target vCPU (the
 *  guest's destination APIC ID: vCPU n has APIC ID n) and the guest vector. */
export interface ShadowedIrte {
  readonly bdf: string;
  readonly vcpu: number;
  readonly vector: number;
}

export interface StrategyPlatform {
  readonly platform: KernelPlatform;
  readonly memory: MemoryPlatform;
  readonly ledger: HostLedger;
  /** Exits so far, by reason (control plane only). */
  readonly exits: ExitCounts;
  /** Exits per guest access, in access-log order (null: no exit), for tests to cross-check. */
  readonly exitLog: { access: HwAccess; exit: string | null }[];
  trapOf(bdf: string): TrapPolicy;
  /** Record one guest access made through the kernel's log (called by the runner). */
  account(access: HwAccess): void;
  /** The host gives back everything owned by `bdf` (hot-unplug, VFIO release). */
  release(bdf: string): void;
  /** The pv ABI's host side for this VM (`pv-host.ts`), and the VMCALL into it: present on every
   *  platform (a guest may negotiate and be refused); GET_MSG works only once negotiated. */
  readonly pv: PvVmState;
  readonly pvCaps: PvHostCaps;
  readonly vmcall: PvVmcall;
  /** The guest negotiated `choice` (pv / pv-batch): from now on the kernel's hypercall hooks
   *  (compose, and batch under pv-batch) go through `pv-kernel-hooks.ts` over `vmcall`. */
  usePv(choice: PvGuestChoice): void;
}

/** Guest-physical address of the page GET_MSG_BATCH uses (a frame of guest RAM; irqlab's). */
export const PV_BATCH_PAGE_GPA = 0x1000;

/** What this host offers the pv capability: version 1 with batching, for VMs the policy allows.
 *  The pair GET_MSG returns names a host IRTE, so a host without interrupt remapping has none to
 *  give: its policy refuses (`policy`), and the guest falls back to emulate. */
export function pvHostCaps(host: StrategyHost): PvHostCaps {
  return {
    present: true,
    maxVersion: PV_MSI_VERSION,
    features: { allByHypercall: true, batch: true },
    allow: host.hostIr,
  };
}

/** The pv ABI handle of a guest function (its BDF, `pvDeviceHandle`). */
export const pvHandleOf = (bdf: string): number => pvDeviceHandle(parseBdf(bdf));

/** One strategy's record (STYLE §13: read through STRATEGY_TABLE, never by testing the
 *  strategy's name): what traps, the guest kernel's interrupt platform, how its guest moves a
 *  vector, what the hypervisor does on the guest's trapped invalidation. */
export interface StrategyRecord extends TrapPolicy {
  /** The platform under the guest kernel's remapping domain (`kernel/platform.ts`). Under
   *  emulate a vIOMMU, if the VM has one, translates DMA only (QEMU `intel-iommu,intremap=off`):
   *  the guest composes compatibility messages, as rule ims-needs-guest-ir assumes. */
  readonly platform: PlatformKind;
  /** The machine's step program for a set-affinity: the guest's IR domain and the trapped
   *  invalidation, the pv ABI's RETARGET, or, on an emulated table, the guest's own entry
   *  writes (Linux's deferred move; only an MSI-X guest has such an entry). */
  readonly move: 'entry' | 'pv-retarget' | 'viommu-irte';
  /** The VMM keeps a KVM route per vector even where the host posts (it injects through them). */
  readonly routesAlways: boolean;
  /** On each trapped invalidation the VMM re-translates every MSI route (QEMU
   *  vtd_iec_notify_all -> kvm_update_msi_routes_all). */
  readonly retranslatesRoutes: boolean;
  /** The guest's IR allocator works in a window of the host's IRTEs (irqlab's capability): its
   *  handles are valid on the host, the device holds what the guest writes, and the hypervisor
   *  shadows each invalidated guest IRTE into the host IRTE at the same index. */
  readonly irteWindow: boolean;
  /** VFIO's config space keeps the MSI capability virtualized (QEMU emulates it); the pv ABI
   *  drops MSI emulation, so a pv guest's MSI capability writes reach the device. */
  readonly msiCapabilityEmulated: boolean;
  /** The guest asks the pv ABI for GET_MSG_BATCH when it negotiates (pv-batch). */
  readonly pvBatch: boolean;
}

const mapped = { msixTableTrapped: false, imsTrapped: false };
const trapped = { msixTableTrapped: true, imsTrapped: true };
const noIr = { iecTrapped: false, retranslatesRoutes: false, irteWindow: false };
const pvRecord: StrategyRecord = {
  ...mapped,
  ...noIr,
  msiCapabilityEmulated: false,
  pvBatch: false,
  trappedEntryFormat: 'remappable',
  platform: 'guest-hypercall',
  move: 'pv-retarget',
  routesAlways: false,
};

export const STRATEGY_TABLE: Readonly<Record<StrategyName, StrategyRecord>> = {
  emulate: {
    ...trapped,
    ...noIr,
    trappedEntryFormat: 'compat',
    platform: 'guest-emulated-msi',
    move: 'entry',
    routesAlways: true,
    msiCapabilityEmulated: true,
    pvBatch: false,
  },
  vir: {
    ...trapped,
    iecTrapped: true,
    trappedEntryFormat: 'remappable',
    platform: 'guest-vir',
    move: 'viommu-irte',
    routesAlways: true,
    retranslatesRoutes: true,
    irteWindow: false,
    msiCapabilityEmulated: true,
    pvBatch: false,
  },
  'vir-direct': {
    ...mapped,
    iecTrapped: true,
    trappedEntryFormat: 'remappable',
    platform: 'guest-vir',
    move: 'viommu-irte',
    routesAlways: false,
    retranslatesRoutes: false,
    irteWindow: true,
    msiCapabilityEmulated: true,
    pvBatch: false,
  },
  pv: pvRecord,
  'pv-batch': { ...pvRecord, pvBatch: true },
};

/** The strategies under which the guest writes its device's interrupt entries itself (the
 *  table is mapped into it). */
export const DIRECT_STRATEGIES: readonly StrategyName[] = (
  Object.keys(STRATEGY_TABLE) as StrategyName[]
).filter((st) => !STRATEGY_TABLE[st].msixTableTrapped);

export function trapPolicy(strategy: StrategyName): TrapPolicy {
  const r = STRATEGY_TABLE[strategy];
  return {
    msixTableTrapped: r.msixTableTrapped,
    imsTrapped: r.imsTrapped,
    iecTrapped: r.iecTrapped,
    trappedEntryFormat: r.trappedEntryFormat,
  };
}

/** How the guest kernel moves a vector under `strategy`, as the machine runs it (`move` in the
 *  table); an emulated MSI's move is one action still. */
export function guestMoveOf(strategy: StrategyName, guest: GuestRep): GuestMove {
  const move = STRATEGY_TABLE[strategy].move;
  if (move !== 'entry') return move;
  if (guest === 'msi') return 'msi-write';
  return virtualMsixOf(strategy, guest) === 'compat' ? 'msix-entry' : 'none';
}

/** How the machine holds the guest's MSI-X or IMS entry of a vector it sees as `guest` under
 *  `strategy`: emulated by the VMM where the table (the IMS slice) traps
 *  (`machine/qemu-vfio-msix.ts`). */
export function virtualMsixOf(strategy: StrategyName, guest: GuestRep): VirtualMsix {
  const trap = trapPolicy(strategy);
  const trapped =
    (guest === 'msix' && trap.msixTableTrapped) || (guest === 'ims' && trap.imsTrapped);
  return trapped ? trap.trappedEntryFormat : 'none';
}

/** The entry the guest driver masks a vector in (`machine/guest-entry.ts`); an MSI
 *  capability's mask bits are one action still. */
export const guestEntryOf = (guest: GuestRep): GuestEntry => (guest === 'msi' ? 'none' : guest);

const emptyLedger = (): HostLedger => ({
  hostVectors: 0,
  irtes: 0,
  msixEntries: 0,
  imsEntries: 0,
  intxLines: 0,
  kvmRoutes: 0,
  peak: {
    hostVectors: 0,
    irtes: 0,
    kvmRoutes: 0,
    irteWindow: 0,
    msixEntries: 0,
    imsEntries: 0,
    intxLines: 0,
  },
  vfioSetIrqs: 0,
  vfioReenabledVectors: 0,
  routesResubmitted: 0,
  routesRetranslated: 0,
  irteUpdates: 0,
});

/** A host allocation for one guest vector (function#index). */
interface HostEntry {
  readonly bdf: string;
  readonly backing: HostBacking;
}

/** The host side behind the ledger (`build.ts`: host kernel + VFIO on the system state). */
export interface StrategyBackend {
  /** VFIO_DEVICE_SET_IRQS for vector `index` of `bdf` just happened: the host-valid pair the host
   *  entry now holds (what a `pv` hypercall hands back to the guest). */
  vectorLive(bdf: string, index: number): { addrLo: number; addrHi: number; data: number };
  /** A guest write to a table / IMS slice the strategy maps into the guest: it reaches the
   *  device's entry as written, unfiltered (vir-direct, pv, pv-batch). */
  directWrite?(bdf: string, region: 'msix-table' | 'ims', offset: number, value: number): void;
  /** Vector `index` of `bdf` is given back (a pv RELEASE, or the function's release at
   *  hot-unplug or teardown): VFIO gives the host entry, irq and IRTE back now. */
  vectorReleased?(bdf: string, index: number): void;
  /** vir-direct: write host IRTE `index` from the guest's (null: the guest cleared it). `index`
   *  is inside the VM's window. */
  shadowIrte?(index: number, irte: ShadowedIrte | null): void;
}

/** The window a vir-direct VM's handles live in (the default one without a host behind). */
export const irWindowOf = (host: { readonly irWindow?: IrWindow }): IrWindow =>
  host.irWindow ?? { base: 0, size: VIR_DIRECT_WINDOW };

export function createStrategyPlatform(
  host: StrategyHost,
  functions: readonly VirtualFunction[],
  configSpaces: Record<string, ArrayLike<number>>,
  backend?: StrategyBackend,
): StrategyPlatform {
  const memory = memoryPlatform(configSpaces);
  const ledger = emptyLedger();
  const exits = emptyExits();
  const exitLog: StrategyPlatform['exitLog'] = [];
  const fnOf = new Map(functions.map((f) => [f.bdf, f]));
  const live = new Map<string, HostEntry>();
  const intxUsers = new Map<string, number>();
  const trap = trapPolicy(host.strategy);
  const handles = new Map<string, number>();
  const hostPairs = new Map<string, { addrLo: number; addrHi: number; data: number }>();

  const bump = () => {
    ledger.peak.hostVectors = Math.max(ledger.peak.hostVectors, ledger.hostVectors);
    ledger.peak.irtes = Math.max(ledger.peak.irtes, ledger.irtes);
    ledger.peak.kvmRoutes = Math.max(ledger.peak.kvmRoutes, ledger.kvmRoutes);
    ledger.peak.msixEntries = Math.max(ledger.peak.msixEntries, ledger.msixEntries);
    ledger.peak.imsEntries = Math.max(ledger.peak.imsEntries, ledger.imsEntries);
    ledger.peak.intxLines = Math.max(ledger.peak.intxLines, ledger.intxLines);
  };
  const record = STRATEGY_TABLE[host.strategy];
  const usesRoute = record.routesAlways || !host.hostPosted;

  /** VFIO_DEVICE_SET_IRQS for one more vector, then the KVM route and the host IRTE. */
  const allocate = (bdf: string, index: number) => {
    const key = `${bdf}#${index}`;
    if (live.has(key)) return;
    const fn = fnOf.get(bdf);
    assert(fn, `strategy platform: ${bdf} is not an assigned function`);
    const mine = [...live.values()].filter((e) => e.bdf === bdf).length;
    ledger.vfioSetIrqs++;
    // Without dynamic MSI-X, growing the count disables MSI-X and re-enables every vector.
    if (!host.dynamicMsix && fn.backing === 'msix' && mine > 0) ledger.vfioReenabledVectors += mine;
    live.set(key, { bdf, backing: fn.backing });
    if (backend) hostPairs.set(key, backend.vectorLive(bdf, index));
    if (fn.backing === 'intx') {
      const n = intxUsers.get(bdf) ?? 0;
      intxUsers.set(bdf, n + 1);
      if (n === 0) {
        ledger.intxLines++;
        ledger.hostVectors++;
        if (host.hostIr) ledger.irtes++;
      }
    } else {
      ledger.hostVectors++;
      if (host.hostIr) ledger.irtes++;
      if (fn.backing === 'msix') ledger.msixEntries++;
      if (fn.backing === 'ims') ledger.imsEntries++;
    }
    if (usesRoute) {
      ledger.kvmRoutes++;
      ledger.routesResubmitted += ledger.kvmRoutes;
    }
    bump();
  };

  const free = (key: string) => {
    const e = live.get(key);
    if (e === undefined) return;
    live.delete(key);
    if (e.backing === 'intx') {
      const n = (intxUsers.get(e.bdf) ?? 1) - 1;
      intxUsers.set(e.bdf, n);
      if (n === 0) {
        ledger.intxLines--;
        ledger.hostVectors--;
        if (host.hostIr) ledger.irtes--;
      }
    } else {
      ledger.hostVectors--;
      if (host.hostIr) ledger.irtes--;
      if (e.backing === 'msix') ledger.msixEntries--;
      if (e.backing === 'ims') ledger.imsEntries--;
    }
    if (usesRoute) {
      ledger.kvmRoutes--;
      ledger.routesResubmitted += ledger.kvmRoutes;
    }
  };

  /** A trapped write to an entry's Vector Control (or its message while live). */
  const onEntryWrite = (bdf: string, region: 'msix-table' | 'ims', offset: number) => {
    const index = Math.floor(offset / MSIX_ENTRY_SIZE);
    const dword = (offset % MSIX_ENTRY_SIZE) / 4;
    const key = `${bdf}#${index}`;
    const words = [0, 1, 2, 3].map((d) =>
      memory.mmioRead(bdf, region, index * MSIX_ENTRY_SIZE + d * 4),
    );
    const entry = decode(MSIX_TABLE_ENTRY, words);
    if (dword === MSIX_ENTRY_DWORD.vectorControl) {
      // QEMU vfio_msix_vector_use on unmask of an entry with a message; kept while masked.
      if (entry.mask === 0 && entry.messageAddress !== 0) allocate(bdf, index);
      return;
    }
    if (live.has(key) && dword === MSIX_ENTRY_DWORD.data) {
      // A live entry's message changed (affinity): KVM route update, host IRTE re-pointed.
      if (usesRoute) ledger.routesResubmitted += ledger.kvmRoutes;
      ledger.irteUpdates++;
    }
  };

  const fnOfHandle = new Map(functions.map((f) => [pvHandleOf(f.bdf), f]));
  const pvCaps = pvHostCaps(host);
  const pv = pvVmCreate({
    vm: 0,
    vcpuCount: host.vcpus,
    devices: functions.map((f) => ({
      handle: pvHandleOf(f.bdf),
      name: f.bdf,
      entries: {
        msi: f.guest === 'msi' ? f.vectors : 0,
        msix: f.guest === 'msix' ? f.vectors : 0,
        ims: f.guest === 'ims' ? f.vectors : 0,
      },
    })),
  });
  /** pv-host.ts delegates the host work here: VFIO + host IRTE (the ledger and the backend). */
  const pvBackend: PvHostBackend = {
    allocate(req) {
      const fn = fnOfHandle.get(req.dev.handle);
      assert(fn, `pv: device handle ${req.dev.handle} is not an assigned function`);
      allocate(fn.bdf, req.index);
      return pairOf(fn.bdf, req.index);
    },
    release(req) {
      const fn = fnOfHandle.get(req.dev.handle);
      if (fn === undefined) return;
      free(`${fn.bdf}#${req.index}`);
      hostPairs.delete(`${fn.bdf}#${req.index}`);
      backend?.vectorReleased?.(fn.bdf, req.index);
    },
    retarget() {
      ledger.irteUpdates++;
      return null;
    },
  };
  /** The guest page GET_MSG_BATCH requests and responses go through (any guest frame will do). */
  const batchPage = { gpa: PV_BATCH_PAGE_GPA, dwords: new Array<number>(PAGE_SIZE / 4).fill(0) };
  const guestMemory = {
    page: (gpa: number) => (gpa === batchPage.gpa ? batchPage.dwords : null),
  };
  const vmcall: PvVmcall = (regs) => pvHostHypercall(pvCaps, pv, pvBackend, regs, guestMemory);
  let pvHooks: PvKernelHooks | null = null;
  /** The host-valid pair of a live vector: the backend's (the host entry's), else a stand-in
   *  handle per (function, index) for a platform run without a host behind it. */
  const pairOf = (bdf: string, index: number): PvPair => {
    const key = `${bdf}#${index}`;
    const pair = hostPairs.get(key);
    if (pair) return pair;
    if (!handles.has(key)) handles.set(key, handles.size);
    const handle = handles.get(key) as number;
    return composeRemappableMsi({ handle, shv: 1, subhandle: 0, dontCare: 0 });
  };

  const fnOfSid = new Map<number, VirtualFunction>(
    functions.map((f) => [requesterIdOf(parseBdf(f.bdf)), f]),
  );
  /** vir-direct, on the trapped invalidation of guest IRTE `index`: read it from guest memory
   *  and have the host write its shadow at the same index. Outside the window, or naming no
   *  assigned function: nothing the hv may write (the host entry there is not the VM's). */
  const shadow = (unit: string, index: number) => {
    const w = irWindowOf(host);
    if (index < w.base || index >= w.base + w.size || !backend?.shadowIrte) return;
    const words = memory.irtes[unit]?.[index] ?? [0, 0, 0, 0];
    const e = decode(IRTE_REMAPPED, words);
    const fn = fnOfSid.get(e.sourceId);
    if (e.present === 0 || fn === undefined || fn.guest === 'msi') {
      backend.shadowIrte(index, null);
      return;
    }
    // The guest's vIOMMU runs x2APIC mode (EIME): DST is the APIC ID.
    const vcpu = irteApicId(e.destinationId, { eime: true });
    backend.shadowIrte(index, { bdf: fn.bdf, vcpu, vector: e.vector });
  };

  const onMsiCapWrite = (bdf: string) => {
    // MSI (not -X): QEMU's vfio_msi_enable sets up every enabled vector at once on Enable.
    const fn = fnOf.get(bdf);
    if (fn === undefined || fn.guest !== 'msi') return;
    for (let i = 0; i < fn.vectors; i++) allocate(bdf, i);
  };

  const account = (a: HwAccess) => {
    // Every hypercall is one VMCALL, one exit: a GET_MSG_BATCH carrying many vectors included.
    const kind = exitOfAccess(a, trap);
    if (kind !== null) exits[kind]++;
    exitLog.push({ access: a, exit: kind });
    if (a.kind === 'iec-invalidate') {
      if (record.retranslatesRoutes) ledger.routesRetranslated += ledger.kvmRoutes;
      if (record.iecTrapped) ledger.irteUpdates++;
    }
    if (a.kind === 'hypercall' && a.call === 'msi-retarget') ledger.irteUpdates++;
  };

  const platform: KernelPlatform = {
    cfgRead: (bdf, offset, size) => memory.cfgRead(bdf, offset, size),
    cfgWrite(bdf, offset, size, value) {
      memory.cfgWrite(bdf, offset, size, value);
      onMsiCapWrite(bdf);
    },
    mmioRead: (bdf, region, offset) => memory.mmioRead(bdf, region, offset),
    mmioWrite(bdf, region, offset, value) {
      memory.mmioWrite(bdf, region, offset, value);
      if (region === 'msix-pba') return;
      const liveBefore = live.size;
      onEntryWrite(bdf, region, offset);
      const mapped = region === 'ims' ? !trap.imsTrapped : !trap.msixTableTrapped;
      if (!mapped || backend?.directWrite === undefined) return;
      if (record.irteWindow && live.size > liveBefore) {
        // VFIO just backed the entry and the host kernel wrote its own handle there; the table is
        // the guest's: the device holds what the guest wrote (its handle, valid on the host).
        const at = Math.floor(offset / MSIX_ENTRY_SIZE) * MSIX_ENTRY_SIZE;
        for (let d = 0; d < 4; d++) {
          backend.directWrite(bdf, region, at + d * 4, memory.mmioRead(bdf, region, at + d * 4));
        }
        return;
      }
      backend.directWrite(bdf, region, offset, value);
    },
    irteWrite: (unit, index, dwords) => {
      memory.irteWrite?.(unit, index, dwords);
      if (record.irteWindow) {
        const w = irWindowOf(host);
        ledger.peak.irteWindow = Math.max(ledger.peak.irteWindow, index - w.base + 1);
      }
    },
    iecInvalidate(unit, index, count) {
      if (!record.irteWindow) return;
      for (let i = index; i < index + count; i++) shadow(unit, i);
    },
    hypercallComposeMsi(req) {
      // The guest kernel's pv-ir domain asks for the pair of (function, index, vCPU, vector):
      // GET_MSG the first time, RETARGET once the entry holds a pair, through the pv ABI's
      // registers (pv-kernel-hooks -> pv-guest -> VMCALL -> pv-host -> pvBackend).
      assert(pvHooks !== null, `strategy platform: ${req.bdf} composes before pv was negotiated`);
      return pvHooks.hypercallComposeMsi(req);
    },
    hypercallRelease(req) {
      // The guest kernel's pv-ir domain freed the irq: RELEASE through the pv ABI's registers;
      // the host side (pvBackend.release) gives the host vector, IRTE and entry back at once.
      const fn = fnOf.get(req.bdf);
      if (pvHooks === null || fn === undefined) return;
      if (!pvHooks.held.includes(`${req.bdf}#${fn.guest}#${req.index}`)) return;
      pvHooks.release(req.bdf, req.index);
    },
    get hypercallBatch() {
      const batch = pvHooks?.hypercallBatch;
      if (batch === undefined) return undefined;
      // The irqs of one MSI block share their entry (index 0): one request per entry, each irq
      // of the block gets the entry's pair (pv-kernel-hooks would ask twice and be refused).
      return {
        max: batch.max,
        composeMsi(reqs: readonly MsiHypercall[]) {
          const key = (r: MsiHypercall) => `${r.bdf}#${r.index}`;
          const unique = [...new Map(reqs.map((r) => [key(r), r])).values()];
          const pairs = batch.composeMsi(unique);
          const byKey = new Map(unique.map((r, i) => [key(r), pairs[i]]));
          return reqs.map((r) => byKey.get(key(r)) as PvPair);
        },
      };
    },
  };

  return {
    platform,
    memory,
    ledger,
    exits,
    exitLog,
    trapOf: () => trap,
    account,
    pv,
    pvCaps,
    vmcall,
    usePv(choice) {
      pvHooks = pvKernelHooks({
        vmcall,
        choice,
        deviceOf(bdf) {
          const fn = fnOf.get(bdf);
          assert(fn, `pv: ${bdf} is not an assigned function`);
          return { handle: pvHandleOf(bdf), type: fn.guest };
        },
        batchPage,
      });
    },
    release(bdf) {
      for (const key of [...live.keys()]) {
        if (!key.startsWith(`${bdf}#`)) continue;
        free(key);
        hostPairs.delete(key);
        backend?.vectorReleased?.(bdf, Number(key.slice(bdf.length + 1)));
      }
    },
  };
}
