// The hypervisor's side of a whole system, built through the flows a real host runs (no seam),
// from an hv-level spec (`FlowsSpec`: what the scenario layer planned: ports, stores, host
// functions, each VM's strategy and assignments, one slot per guest vector). The staging state is
// built first (ports, stores, the remapping table; no vector bound yet), then
//   1. the HOST kernel boots (host-ir / host-noir) on `host-platform.ts`, whose config/MMIO/IRTE/
//      IEC/IOAPIC accesses write the staging words; a subdevice parent's own driver enables MSI-X
//      and takes entry 0 for itself (idxd's misc interrupt, drivers/dma/idxd/irq.c);
//   2. each VM's GUEST kernel boots on its strategy platform (`guest-run.ts bootGuests`) and its
//      driver probes every assigned function; at the moment the strategy makes a vector live (the
//      trapped unmask under emulate/vir, MSI Enable, the pv hypercall) the platform's backend runs
//      VFIO_DEVICE_SET_IRQS on the host kernel (`vfio.ts`): the host allocates the backing entry,
//      its irq, vector and IRTE, and request_irq writes them into the state;
//   3. KVM's irq bypass turns each host IRTE into posted format for the guest's target vCPU and
//      vector (when the host posts), and each KVM route is the guest's (vCPU, vector).
// `buildSystem` then creates the topology with the bindings the flows made (entry, IRTE, host
// CPU/vector/irq from the host kernel; vCPU, vector, irq from the guest kernel) over the same
// layout, and the staging words become its state. Every number comes from a kernel.
// vir-direct (MSI-X / IMS): each such VM gets a window of VIR_DIRECT_WINDOW host IRTE indices
// above every index the host kernel can use (`irWindows`), carved out of the host kernel's own
// allocator (`vtdIrReserve`) and reported by the VM's vIOMMU to its IR allocator, so the handle
// the guest composes and writes into its mapped table is the host index: the device sends it
// as-is. On each trapped IEC invalidation the hv shadows the guest IRTE into the host IRTE at that
// index (posted to the guest IRTE's vCPU/vector, or remapped to the VFIO irq's host vector),
// SID = the function's requester ID; the guest's teardown clears them the same way. KVM's irq
// bypass is not used for these vectors; the host kernel's own IRTE and vector for the VFIO irq
// stay allocated (VFIO requests the host irq as it does today) though the device never sends
// that handle: `compare` counts them, so vir-direct's host IRTE row is today's VFIO's.
// Not modelled: vir-direct over an MSI backing (its capability is in config space, which VFIO
// always virtualizes: it keeps the host kernel's handle, as under emulate).

import { assert } from '../hw/errors.js';
import { MSIX_ENTRY_SIZE } from '../hw/pci/msix-capability.js';
import { MSIX_ENTRY_DWORD } from '../hw/pci/msix-table.js';
import {
  encodeIrtePosted,
  encodeIrteRemapped,
  irteDestinationId,
  pdaFields,
  SOURCE_VALIDATION_TYPE,
} from '../hw/vtd/irte.js';
import { composeCompatMsiPhysical, decodeMsiMessage } from '../hw/x86/msi-message.js';
import { configSpaceFor, pciFunctionInfo } from '../kernel/boot.js';
import { createKernel, onlineCpus } from '../kernel/kernel.js';
import type { KernelDeviceSpec } from '../kernel/kernel-spec.js';
import type { KernelState, PciFunctionInfo } from '../kernel/kernel-state.js';
import { irqTarget, requestIrq } from '../kernel/manage.js';
import { pciAllocIrqVectors } from '../kernel/pci-msi-api.js';
import { vtdIrReserve } from '../kernel/vtd-ir.js';
import { systemStep } from '../machine/system.js';
import { ACTION } from '../machine/system-actions.js';
import { createEventLog } from '../machine/system-events.js';
import {
  pidAddress,
  resetSystemState,
  type SystemState,
  setGuestApic,
  setIntxSourceMask,
  setRoute,
  setVirtualMsixEntry,
} from '../machine/system-state.js';
import {
  createSystemTopology,
  MSI_STORE_DWORDS,
  type SystemSpec,
  type VectorSpec,
} from '../machine/system-topology.js';
import { writeGuestIrte } from '../machine/viommu-ir.js';
import {
  bootGuests,
  type ControlPlaneVm,
  type GuestRun,
  irqOfVector,
  teardownGuests,
} from './guest-run.js';
import { createHostPlatform, type HostPlatform } from './host-platform.js';
import {
  type GuestRep,
  guestEntryOf,
  guestMoveOf,
  type HostBacking,
  type IrWindow,
  type ShadowedIrte,
  STRATEGY_TABLE,
  type StrategyName,
  VIR_DIRECT_WINDOW,
  virtualMsixOf,
} from './strategy-platform.js';
import {
  type HostBinding,
  kvmPiUpdateIrte,
  type VfioHost,
  vfioDisableVector,
  vfioEnableVector,
} from './vfio.js';

/** MSI-X entries a subdevice parent's own host driver keeps for itself: idxd takes entry 0 for
 *  its misc/error interrupt (drivers/dma/idxd/irq.c); irqlab assumes the same of any parent whose
 *  MSI-X backs subdevices. */
export const PARENT_MSIX_ENTRIES = 1;

/** Source-id of the IOAPIC that turns an INTx line into an interrupt request: a typical Intel DMAR
 *  device scope (bus f0, device 1f, function 0). */
export const IOAPIC_REQUESTER_ID = 0xf0f8;

/** A host PCI function the assignments use: its config-space spec, its stores. */
export interface HostFunctionPlan {
  readonly device: KernelDeviceSpec;
  /** Store index of its MSI-X table / MSI capability / IMS (-1: none used). */
  readonly msix: number;
  readonly msi: number;
  readonly ims: number;
  /** Its subdevices are backed by its MSI-X: the host driver that owns it (and keeps entry 0 for
   *  its own misc interrupt, `PARENT_MSIX_ENTRIES`); null when none is. */
  readonly parentDriver: string | null;
}

/** One guest vector before the flows bind it: where it lives and whose it is. */
export interface VectorSlot {
  readonly name: string;
  readonly vm: number;
  readonly assign: number;
  readonly index: number;
  readonly store: number;
}

/** One assignment: the guest-facing representation, the host backing, where it lives. */
export interface FlowsAssignment {
  readonly guest: GuestRep;
  readonly backing: HostBacking;
  readonly vectors: number;
  /** A slice of a parent function (Scalable IOV), not a whole function. */
  readonly subdevice: boolean;
  /** Index in `FlowsSpec.hostFunctions`. */
  readonly hostFunction: number;
  readonly store: number;
  /** Its vectors' slots (indices in `FlowsSpec.slots`), in order. */
  readonly slots: readonly number[];
}

export interface FlowsVm {
  readonly name: string;
  readonly vcpus: number;
  readonly strategy: StrategyName;
  readonly assign: readonly FlowsAssignment[];
}

/** What the hypervisor builds: the system without its vectors, and who gets what. */
export interface FlowsSpec {
  readonly system: Omit<SystemSpec, 'vectors'>;
  /** VFIO grows MSI-X without disabling it (Linux 6.5+). */
  readonly dynamicMsix: boolean;
  readonly hostFunctions: readonly HostFunctionPlan[];
  readonly vms: readonly FlowsVm[];
  readonly slots: readonly VectorSlot[];
  /** IOAPIC pin -> INTx stores its line feeds. */
  readonly intxPins: ReadonlyMap<number, readonly number[]>;
  /** Upper bound on the host IRTEs the flows can use (sizes the remapping table). */
  readonly irteBound: number;
}

/** Bytes per guest MSI-X / IMS entry (PCIe 7.7.2: 16; the IMS entry layout alike). */
const GUEST_ENTRY_BYTES = 16;

const IOAPIC_PINS = 24;
/** The host kernel, VFIO and KVM under each VM's strategy, on the staging system state. */
export interface BuildFlows {
  readonly host: { kernel: KernelState; platform: HostPlatform; vfio: VfioHost };
  /** The guest kernels on their strategy platforms, set up (the control plane's run). */
  readonly guests: GuestRun;
  /** Host binding of each assigned vector (same order as `spec.vectors`). */
  readonly bindings: readonly HostBinding[];
  /** Vectors whose binding VFIO already gave back (a pv RELEASE), by index in `bindings`. */
  readonly released: Set<number>;
}

/** The host IRT window of each `vir-direct` VM (undefined for the others): VIR_DIRECT_WINDOW
 *  indices each, disjoint, from the first window boundary above `irteBound` (every index the host
 *  kernel itself can use), in VM order. */
function irWindows(spec: FlowsSpec): (IrWindow | undefined)[] {
  let next = Math.ceil(spec.irteBound / VIR_DIRECT_WINDOW) * VIR_DIRECT_WINDOW;
  return spec.vms.map((vm) => {
    if (!STRATEGY_TABLE[vm.strategy].irteWindow) return undefined;
    const w = { base: next, size: VIR_DIRECT_WINDOW };
    next += VIR_DIRECT_WINDOW;
    return w;
  });
}

function runFlows(spec: FlowsSpec) {
  const windows = irWindows(spec);
  const windowsEnd = Math.max(0, ...windows.map((w) => (w ? w.base + w.size : 0)));
  const baseSpec = {
    ...spec.system,
    irtEntriesMin: Math.max(spec.system.irtEntriesMin ?? 0, windowsEnd),
  };
  const staging = resetSystemState(createSystemTopology({ ...baseSpec, vectors: [] }));
  const spaces = spec.hostFunctions.map((f) => configSpaceFor(f.device));
  const infos = spec.hostFunctions.map((f, i) => pciFunctionInfo(f.device, spaces[i]));
  const platform = createHostPlatform(
    staging,
    spec.hostFunctions.map((f, i) => ({ info: infos[i], msix: f.msix, msi: f.msi, ims: f.ims })),
    Object.fromEntries(infos.map((info, i) => [info.bdf, spaces[i].bytes])),
    spec.intxPins,
  );
  const kernel = bootHostKernel(spec.system.host, infos);
  // The hv takes each vir-direct window out of the host kernel's IRTE allocator.
  const remap = kernel.roots.remap;
  for (const w of windows) {
    if (w && remap !== null) vtdIrReserve(kernel.domains[remap], w.base, w.size);
  }
  spec.hostFunctions.forEach((f, i) => {
    if (f.parentDriver !== null) hostParentProbe(kernel, platform, infos[i].bdf, f.parentDriver);
  });
  const vfio: VfioHost = { k: kernel, p: platform, posted: spec.system.host.posted };
  const bindings: (HostBinding | undefined)[] = spec.slots.map(() => undefined);
  const released = new Set<number>();
  const bind = (vm: number, assign: number, index: number): HostBinding => {
    const slot = spec.vms[vm].assign[assign].slots[index];
    const existing = bindings[slot];
    if (existing && !released.has(slot)) return existing;
    released.delete(slot);
    const a = spec.vms[vm].assign[assign];
    const f = spec.hostFunctions[spec.vms[vm].assign[assign].hostFunction];
    const b = vfioEnableVector(vfio, {
      bdf: f.device.bdf,
      backing: a.backing,
      index,
      count: a.vectors,
      subdevice: a.subdevice,
    });
    bindings[slot] = b;
    return b;
  };
  const firstVcpuOf = (vm: number) => spec.vms.slice(0, vm).reduce((n, x) => n + x.vcpus, 0);
  const hostRid = (vm: number, assign: number) =>
    spec.system.ports[spec.system.stores[spec.vms[vm].assign[assign].store].port].requesterId;
  /** vir-direct, per VM: the guest IRTEs the hv shadowed, and the VFIO binding behind each
   *  handle the device entries hold (a remapped host IRTE needs the VFIO irq's host vector). */
  const shadows = spec.vms.map(() => new Map<number, ShadowedIrte>());
  const handleBinding = spec.vms.map(() => new Map<number, HostBinding>());
  const hostEime = spec.system.host.x2apic;
  /** Host IRTE `index` from the guest's shadowed IRTE: posted to its vCPU/vector, or remapped to
   *  the host vector of the VFIO irq behind the handle; not present when the guest cleared it,
   *  names a vCPU the VM does not have, or (remapped) no device entry holds the handle yet. */
  const writeShadow = (vm: number, functions: readonly { bdf: string }[], index: number) => {
    const sh = shadows[vm].get(index);
    const assign = sh ? functions.findIndex((f) => f.bdf === sh.bdf) : -1;
    const b = handleBinding[vm].get(index);
    const common = {
      present: 1,
      sourceId: assign < 0 ? 0 : hostRid(vm, assign),
      sourceIdQualifier: 0,
      sourceValidationType: SOURCE_VALIDATION_TYPE.requesterId,
    };
    let irte = [0, 0, 0, 0];
    if (sh && assign >= 0 && sh.vcpu < spec.vms[vm].vcpus && spec.system.host.posted) {
      const pid = pidAddress(firstVcpuOf(vm) + sh.vcpu);
      irte = encodeIrtePosted({ ...common, virtualVector: sh.vector, ...pdaFields(pid) });
    } else if (sh && assign >= 0 && sh.vcpu < spec.vms[vm].vcpus && b) {
      irte = encodeIrteRemapped({
        ...common,
        vector: b.vector,
        destinationId: irteDestinationId(b.cpu, { eime: hostEime }),
      });
    }
    platform.irteWrite?.('dmar0', index, irte);
    platform.iecInvalidate?.('dmar0', index, 1);
  };
  const guests = bootGuests(
    spec.vms.map((vm, v) => ({
      name: vm.name,
      vcpus: vm.vcpus,
      strategy: spec.vms[v].strategy,
      ...(windows[v] ? { irWindow: windows[v] } : {}),
      assign: vm.assign.map((a) => ({ guest: a.guest, backing: a.backing, vectors: a.vectors })),
    })),
    { ir: spec.system.host.ir, posted: spec.system.host.posted, dynamicMsix: spec.dynamicMsix },
    (vm, functions) => ({
      vectorLive(bdf, index) {
        const assign = functions.findIndex((f) => f.bdf === bdf);
        const b = bind(vm, assign, index);
        return hostPair(staging, spec.slots[spec.vms[vm].assign[assign].slots[index]].store, b);
      },
      directWrite(bdf, _region, offset, value) {
        // The guest's entry i is the device entry behind it: the function's own entry i for a
        // whole function, the host-chosen entry once bound for a slice; a write to a slice entry
        // the host has not backed reaches nothing of the VM's.
        const assign = functions.findIndex((f) => f.bdf === bdf);
        const index = Math.floor(offset / GUEST_ENTRY_BYTES);
        const slot = spec.vms[vm].assign[assign].slots[index];
        const a = spec.vms[vm].assign[assign];
        // Only an MSI-X table or IMS slice of the device can be mapped (rule
        // direct-needs-same-type); a run forcing a direct strategy elsewhere maps nothing.
        if ((a.backing !== 'msix' && a.backing !== 'ims') || a.guest !== a.backing) return;
        const whole = a.subdevice === undefined && a.backing === 'msix';
        const entry = slot === undefined ? -1 : (bindings[slot]?.entry ?? (whole ? index : -1));
        if (entry < 0) return;
        const store = spec.vms[vm].assign[assign].store;
        platform.deviceWrite(store, entry, (offset % GUEST_ENTRY_BYTES) / 4, value);
        const b = slot === undefined ? undefined : bindings[slot];
        if (STRATEGY_TABLE[spec.vms[vm].strategy].irteWindow && b) {
          // The hv learns which VFIO irq backs the handle the device entry now holds.
          const hostBdf = spec.hostFunctions[spec.vms[vm].assign[assign].hostFunction].device.bdf;
          const region = b.backing === 'ims' ? 'ims' : 'msix-table';
          const [lo, hi, data] = [0, 4, 8].map((o) =>
            platform.mmioRead(hostBdf, region, entry * GUEST_ENTRY_BYTES + o),
          );
          const index = remappableIndex(lo, hi, data);
          if (index >= 0 && handleBinding[vm].get(index) !== b) {
            handleBinding[vm].set(index, b);
            if (!spec.system.host.posted) writeShadow(vm, functions, index);
          }
        }
      },
      vectorReleased(bdf, index) {
        const assign = functions.findIndex((f) => f.bdf === bdf);
        const slot = spec.vms[vm].assign[assign].slots?.[index];
        const b = slot === undefined ? undefined : bindings[slot];
        if (slot === undefined || b === undefined || released.has(slot)) return;
        vfioDisableVector(vfio, b);
        released.add(slot);
      },
      shadowIrte(index, irte) {
        if (irte) shadows[vm].set(index, irte);
        else shadows[vm].delete(index);
        writeShadow(vm, functions, index);
      },
    }),
  );
  const lineOwned = new Set<number>();
  const vectors = spec.slots.map((slot, i): VectorSpec => {
    // A vector the guest never made live (its probe failed) is still backed, so the system has
    // every vector the scenario names; the failure is in `guests.failures`.
    const b = bindings[i] ?? bind(slot.vm, slot.assign, slot.index);
    const g = guestTarget(guests.vms[slot.vm], slot.assign, slot.index);
    const firstVcpu = firstVcpuOf(slot.vm);
    // vir-direct: the device sends the guest's handle, whose host IRTE the hv shadowed.
    const a = spec.vms[slot.vm].assign[slot.assign];
    const mapped = (a.backing === 'msix' || a.backing === 'ims') && a.guest === a.backing;
    const shadowed = STRATEGY_TABLE[spec.vms[slot.vm].strategy].irteWindow && mapped;
    const irte = shadowed ? entryHandle(staging, slot.store, b.entry) : b.irte;
    assert(!shadowed || irte >= 0, `${slot.name}: vir-direct entry holds no remappable handle`);
    if (!shadowed) kvmPiUpdateIrte(vfio, b, firstVcpu + g.vcpu, g.vector);
    // An INTx line is one host irq, vector and IRTE for all the sources it fans out to, of every
    // store on it: the first source owns them; each source is its bit in its device's status
    // register (the host handler reads every sharer's, `system-vcpu.ts hostHandler`).
    const sharedLine = b.backing === 'intx' && lineOwned.has(b.irq);
    if (b.backing === 'intx') lineOwned.add(b.irq);
    return {
      name: slot.name,
      virtualMsix: virtualMsixOf(spec.vms[slot.vm].strategy, a.guest),
      guestEntry: guestEntryOf(a.guest),
      guestMove: guestMoveOf(spec.vms[slot.vm].strategy, a.guest),
      store: slot.store,
      entry: b.backing === 'intx' ? slot.index : b.entry,
      vm: slot.vm,
      vcpu: g.vcpu,
      guestVector: g.vector,
      irte: sharedLine ? -1 : irte,
      hostCpu: b.cpu,
      hostVector: sharedLine ? -1 : b.vector,
      hostIrq: b.irq,
      guestIrq: g.irq,
    };
  });
  return {
    spec: { ...baseSpec, vectors } as SystemSpec,
    staging,
    host: { kernel, platform, vfio },
    guests,
    bindings: bindings as HostBinding[],
    released,
  };
}

/** The host Linux: IR per the scenario, every CPU online, an IOAPIC behind IR for INTx lines. */
function bootHostKernel(
  host: FlowsSpec['system']['host'],
  devices: readonly PciFunctionInfo[],
): KernelState {
  const k = createKernel({
    name: 'host',
    version: HOST_KERNEL_VERSION,
    platform: host.ir ? 'host-ir' : 'host-noir',
    cpus: host.cpus,
    apicMode: host.x2apic ? 'x2apic-phys' : 'xapic-phys',
    legacyPic: false,
    ia32Emulation: true,
    hypervisorCallback: false,
    mce: false,
    ioapic: { pins: IOAPIC_PINS, mapping: 'dynamic', sourceId: IOAPIC_REQUESTER_ID },
    devices,
  });
  onlineCpus(k);
  return k;
}

/** The parent's own driver at probe: MSI-X enabled, entry 0 for its misc interrupt (idxd). */
function hostParentProbe(k: KernelState, p: HostPlatform, bdf: string, driver: string): void {
  const n = PARENT_MSIX_ENTRIES;
  const a = pciAllocIrqVectors(k, p, bdf, { min: n, max: n, flags: { msix: true } });
  assert(a.ok, `host: ${bdf} MSI-X enable at probe`);
  const irq = k.devices[bdf].descs.msix[0].irq;
  const r = requestIrq(k, p, irq, `${driver}-misc(${bdf})`);
  assert(r.ok, `host: ${bdf} misc irq`);
}

/** The pair the host entry holds for a binding (what a pv hypercall returns). */
function hostPair(s: SystemState, store: number, b: HostBinding) {
  const st = s.topology.stores[store];
  const at =
    st.kind === 'msi' ? st.entriesAt + MSI_STORE_DWORDS.addrLo : st.entriesAt + b.entry * 4;
  const data = s.words[st.kind === 'msi' ? st.entriesAt + MSI_STORE_DWORDS.data : at + 2];
  return { addrLo: s.words[at], addrHi: s.words[at + 1], data };
}

/** The interrupt index (IRTE) the remappable message of an MSI-X / IMS store entry names, or
 *  -1 when the entry holds no remappable message (VT-d 5.1.2.2). */
function entryHandle(s: SystemState, store: number, entry: number): number {
  const st = s.topology.stores[store];
  if (st.kind !== 'msix' && st.kind !== 'ims') return -1;
  const at = st.entriesAt + entry * 4;
  return remappableIndex(s.words[at], s.words[at + 1], s.words[at + 2]);
}

function remappableIndex(addrLo: number, addrHi: number, data: number): number {
  const m = decodeMsiMessage(addrLo, addrHi, data);
  return m.format === 'remappable' ? m.interruptIndex : -1;
}

/** Where the guest kernel sends vector `index` of assignment `assign`: vCPU, vector, irq. */
function guestTarget(vm: ControlPlaneVm, assign: number, index: number) {
  const irq = irqOfVector(vm.kernel, vm.functions[assign].bdf, index);
  const t = irqTarget(vm.kernel, irq);
  assert(t, `${vm.name}: guest irq ${irq} has no vector`);
  return { vcpu: t.cpu as number, vector: t.vector as number, irq };
}

/** Linux version of the host (dynamic MSI-X in VFIO: 6.5+). */
const HOST_KERNEL_VERSION = { major: 6, minor: 12 } as const;

/** The pair the guest programs (compatibility format: its vCPU's APIC ID, its vector), which is
 *  what KVM's route holds once the VMM has handled the guest's write. */
export function guestMsi(vcpu: number, vector: number) {
  return composeCompatMsiPhysical(vcpu, vector);
}

/** The pair the guest kernel wrote into its (emulated) MSI-X entry `index` of assignment
 *  `assign`, as the VMM holds it. */
/** The guest's own entry of a vector as its kernel wrote it: its MSI-X table's, or its IMS
 *  slice's (the same four dwords). */
function guestMsixEntry(vm: ControlPlaneVm, assign: number, index: number) {
  const fn = vm.functions[assign];
  const region = fn.guest === 'ims' ? 'ims' : 'msix-table';
  const at = index * MSIX_ENTRY_SIZE;
  const read = (d: number) => vm.sp.platform.mmioRead(fn.bdf, region, at + d * 4);
  return {
    addrLo: read(MSIX_ENTRY_DWORD.addrLo),
    addrHi: read(MSIX_ENTRY_DWORD.addrHi),
    data: read(MSIX_ENTRY_DWORD.data),
  };
}

/** The VMs are running when the scenario starts: every vCPU enters the guest. */
export function enterAllVcpus(s: SystemState): void {
  const log = createEventLog();
  s.topology.vcpus.forEach((_, v) => {
    systemStep(s, { kind: ACTION.vcpuEnter, a: v, b: 0 }, log);
  });
}

/** The whole system the flows built: its spec (vectors bound), its state after setup (vCPUs in
 *  guest mode, KVM's routes the guests' pairs), and the kernels and bindings behind it. */
export interface BuiltSystem {
  readonly spec: SystemSpec;
  readonly initial: SystemState;
  readonly flows: BuildFlows;
}

export function buildSystem(spec: FlowsSpec): BuiltSystem {
  const flows = runFlows(spec);
  const topology = createSystemTopology(flows.spec);
  const state = resetSystemState(topology);
  state.words.set(flows.staging.words);
  flows.host.platform.retarget(state);
  flows.spec.vectors.forEach((v, i) => {
    setRoute(state, i, guestMsi(v.vcpu, v.guestVector));
    setGuestApic(state, i, v.vcpu, v.guestVector);
    if (v.guestMove === 'viommu-irte') writeGuestIrte(state, i, v.vcpu, v.guestVector);
    // QEMU's copy of the guest's MSI message: the pair KVM's route holds.
    if (v.guestMove === 'msi-write') {
      setVirtualMsixEntry(state, i, guestMsi(v.vcpu, v.guestVector));
    }
    if (v.virtualMsix !== 'none') {
      const slot = spec.slots[i];
      setVirtualMsixEntry(
        state,
        i,
        guestMsixEntry(flows.guests.vms[slot.vm], slot.assign, slot.index),
      );
    }
    // The subdevice driver enables a source of a shared INTx line when VFIO sets it up.
    if (topology.stores[v.store].kind === 'intx') setIntxSourceMask(state, v.store, v.entry, false);
  });
  enterAllVcpus(state);
  return {
    spec: flows.spec,
    initial: state,
    flows: {
      host: flows.host,
      guests: flows.guests,
      bindings: flows.bindings,
      released: flows.released,
    },
  };
}

/** Device teardown (hot-unplug / VM shutdown) through the same flows: every guest driver frees
 *  its irqs and disables its functions, then VFIO releases every vector still bound on the host
 *  kernel (free_irq, the entry back, MSI-X/MSI disabled with the last one). */
export function teardownSystem(flows: BuildFlows): void {
  teardownGuests(flows.guests);
  flows.bindings.forEach((b, i) => {
    if (!flows.released.has(i)) vfioDisableVector(flows.host.vfio, b);
  });
}
