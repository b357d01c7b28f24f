// From a validated scenario to the whole-system model and the simulator's input: requester ports
// and interrupt stores for the functions used, one assigned vector per guest vector, and the
// workload as timed actions and rate-driven sources.
//
// The flows program the system (no seam): the staging state is built first (ports, stores, the
// remapping table; no vector bound yet), then
//   1. the HOST kernel boots (host-ir / host-noir) on `host-platform.ts`, whose config/MMIO/IRTE/
//      IEC/IOAPIC accesses write the staging words; a subdevice parent's own driver enables MSI-X
//      and takes entry 0 for itself (idxd's misc interrupt, drivers/dma/idxd/irq.c);
//   2. each VM's GUEST kernel boots on its strategy platform (`guest-run.ts setupGuests`) and its
//      driver probes every assigned function; at the moment the strategy makes a vector live (the
//      trapped unmask under emulate/vir, MSI Enable, the pv hypercall) the platform's backend runs
//      VFIO_DEVICE_SET_IRQS on the host kernel (`vfio.ts`): the host allocates the backing entry,
//      its irq, vector and IRTE, and request_irq writes them into the state;
//   3. KVM's irq bypass turns each host IRTE into posted format for the guest's target vCPU and
//      vector (when the host posts), and each KVM route is the guest's (vCPU, vector).
// The topology is then created with the bindings the flows made (entry, IRTE, host CPU/vector/irq
// from the host kernel; vCPU, vector, irq from the guest kernel) over the same layout, and the
// staging words are its state. Nothing is invented here: every number comes from a kernel.
// vir-direct (MSI-X / IMS): each such VM gets a window of VIR_DIRECT_WINDOW host IRTE indices
// above every index the host kernel can use (`irWindows`), carved out of the host kernel's own
// allocator (`vtdIrReserve`) and reported by the VM's vIOMMU to its IR allocator, so the handle
// the guest composes and writes into its mapped table is the host index: the device sends it
// as-is. On each trapped IEC invalidation the hv shadows the guest IRTE into the host IRTE at that
// index (posted to the guest IRTE's vCPU/vector, or remapped to the VFIO irq's host vector),
// SID = the function's requester ID; the guest's teardown clears them the same way. KVM's irq
// bypass is not used for these vectors (the host kernel's own IRTE for the VFIO irq stays
// remapped and unreferenced by the device).
// Not modelled: vir-direct over an MSI backing (its capability is in config space, which VFIO
// always virtualizes: it keeps the host kernel's handle, as under emulate).

import {
  type ControlPlaneVm,
  guestInterrupt,
  irqOfVector,
  setupGuests,
  teardownGuests,
} from '../hv/guest-run.js';
import { createHostPlatform, type HostPlatform } from '../hv/host-platform.js';
import {
  type IrWindow,
  type ShadowedIrte,
  type StrategyName,
  VIR_DIRECT_WINDOW,
} from '../hv/strategy-platform.js';
import { systemStep } from '../hv/system.js';
import { ACTION } from '../hv/system-actions.js';
import { createEventLog, type SystemEvent } from '../hv/system-events.js';
import {
  pidAddress,
  resetSystemState,
  type SystemState,
  setIntxSourceMask,
  setRoute,
} from '../hv/system-state.js';
import {
  createSystemTopology,
  MSI_STORE_DWORDS,
  type StoreKind,
  type SystemSpec,
  type VectorSpec,
} from '../hv/system-topology.js';
import {
  type HostBinding,
  kvmPiUpdateIrte,
  type VfioHost,
  vfioDisableVector,
  vfioEnableVector,
} from '../hv/vfio.js';
import { assert } from '../hw/errors.js';
import { bdfOfRequesterId, formatBdf, parseBdf, requesterIdOf } from '../hw/pci/bdf.js';
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
import type { RateSource, SimInput, TimedInput } from '../sim/system-sim.js';
import { functionRoutingIds } from './rules.js';
import type { Scenario, ScenarioAssignment, ScenarioDevice, WorkloadAction } from './schema.js';

/** Source-id of the IOAPIC that turns an INTx line into an interrupt request: a typical Intel DMAR
 *  device scope (bus f0, device 1f, function 0). */
export const IOAPIC_REQUESTER_ID = 0xf0f8;

export interface BuiltScenario {
  readonly scenario: Scenario;
  readonly spec: SystemSpec;
  readonly initial: SystemState;
  readonly sim: SimInput;
  /** Strategy of each VM (the run's when the VM names none). */
  readonly strategies: readonly string[];
  /** Per VM, per assignment: the indices of its vectors in `spec.vectors`. */
  readonly assignmentVectors: readonly (readonly (readonly number[])[])[];
  /** The kernels and bindings the flows left (tests read the host kernel and guests here). */
  readonly flows: BuildFlows;
}

export function buildScenario(scenario: Scenario, opts: { strategy?: string } = {}): BuiltScenario {
  const strategies = scenario.vms.map(
    (vm) => (opts.strategy ?? vm.strategy ?? scenario.run.strategies[0]) as StrategyName,
  );
  const plan = planSystem(scenario);
  const flows = runFlows(scenario, plan, strategies);
  const topology = createSystemTopology(flows.spec);
  const state = resetSystemState(topology);
  state.words.set(flows.staging.words);
  flows.host.platform.retarget(state);
  flows.spec.vectors.forEach((v, i) => {
    setRoute(state, i, guestMsi(v.vcpu, v.guestVector));
    // The subdevice driver enables a source of a shared INTx line when VFIO sets it up.
    if (topology.stores[v.store].kind === 'intx') setIntxSourceMask(state, v.store, v.entry, false);
  });
  enterAllVcpus(state);
  const built = { spec: flows.spec, vectorsOf: plan.vectorsOf, storeOf: plan.storeOf };
  return {
    scenario,
    spec: flows.spec,
    initial: state,
    sim: {
      initial: state,
      inputs: workloadInputs(scenario, built),
      sources: rateSources(scenario, built),
    },
    strategies,
    assignmentVectors: plan.vectorsOf,
    flows: {
      host: flows.host,
      guests: flows.guests,
      bindings: flows.bindings,
      released: flows.released,
    },
  };
}

/** Device teardown (hot-unplug / VM shutdown) through the same flows: every guest driver frees
 *  its irqs and disables its functions, then VFIO releases every vector on the host kernel (free_irq,
 *  the entry back, MSI-X/MSI disabled with the last one), writing `built.initial`. */
export function teardownBuilt(built: BuiltScenario): void {
  teardownGuests(built.flows.guests.vms);
  built.flows.bindings.forEach((b, i) => {
    if (!built.flows.released.has(i)) vfioDisableVector(built.flows.host.vfio, b);
  });
}

/** The guest side of the data plane's `guestIrq` events: each handled vector runs the guest
 *  kernel's flow handler on that vCPU (so the guest's /proc/interrupts counts it). Returns the
 *  guest irqs, in event order (-1: the guest kernel found no irq on that vector). */
export function guestHandleEvents(built: BuiltScenario, events: readonly SystemEvent[]): number[] {
  const t = built.initial.topology;
  const out: number[] = [];
  for (const e of events) {
    if (e.kind !== 'guestIrq') continue;
    const vcpu = t.vcpus[e.args[0]];
    out.push(guestInterrupt(built.flows.guests.vms[vcpu.vm], vcpu.index, e.args[1]));
  }
  return out;
}

/** One guest vector before the flows bind it: where it lives and whose it is. */
interface VectorSlot {
  readonly name: string;
  readonly vm: number;
  readonly assign: number;
  readonly index: number;
  readonly store: number;
}

interface Plan {
  readonly spec: Omit<SystemSpec, 'vectors'>;
  readonly slots: readonly VectorSlot[];
  /** Per VM, per assignment: the global indices of its vectors, in order. */
  readonly vectorsOf: number[][][];
  /** Per VM, per assignment: the store its vectors live in. */
  readonly storeOf: number[][];
  /** Host PCI functions: their config-space spec and stores. */
  readonly hostFunctions: readonly {
    device: KernelDeviceSpec;
    msix: number;
    msi: number;
    ims: number;
    /** Some subdevice is backed by this function's MSI-X (its parent driver owns entry 0). */
    subdeviceMsix: boolean;
  }[];
  /** Per VM, per assignment: the host function (index in hostFunctions). */
  readonly hostFunctionOf: number[][];
  /** IOAPIC pin -> INTx stores it feeds. */
  readonly intxPins: Map<number, number[]>;
  /** Upper bound on the host IRTEs the flows can use (sizes the remapping table). */
  readonly irteBound: number;
}

function planSystem(s: Scenario): Plan {
  const ports: { name: string; requesterId: number }[] = [];
  const stores: { name: string; kind: StoreKind; port: number; entries: number }[] = [];
  const portFor = new Map<number, number>();
  const storeFor = new Map<string, number>();
  const port = (name: string, rid: number) => {
    if (!portFor.has(rid)) portFor.set(rid, ports.push({ name, requesterId: rid }) - 1);
    return portFor.get(rid) as number;
  };
  const store = (
    key: string,
    make: () => { name: string; kind: StoreKind; port: number; entries: number },
  ) => {
    if (!storeFor.has(key)) storeFor.set(key, stores.push(make()) - 1);
    return storeFor.get(key) as number;
  };
  const deviceOf = new Map(s.devices.map((d) => [d.name, d]));
  const pcpus = pinVcpus(s);
  const slots: VectorSlot[] = [];
  const vectorsOf: number[][][] = [];
  const storeOf: number[][] = [];
  const fnIndex = new Map<string, number>();
  const hostFunctions: Plan['hostFunctions'][number][] = [];
  const hostFunctionOf: number[][] = [];
  const intxPins = new Map<number, number[]>();
  let irteBound = 1;
  s.vms.forEach((vm, v) => {
    vectorsOf.push([]);
    storeOf.push([]);
    hostFunctionOf.push([]);
    vm.assign.forEach((a, ai) => {
      const device = deviceOf.get(a.device);
      assert(device, `build: ${a.device} passed the rules`);
      const where = storeForAssignment(device, a, port, store);
      storeOf[v].push(where);
      const rid = functionRoutingIds(device)[a.vf === undefined ? 0 : a.vf + 1];
      const bdf = formatBdf(bdfOfRequesterId(rid), { withSegment: true });
      if (!fnIndex.has(bdf)) {
        fnIndex.set(bdf, hostFunctions.length);
        hostFunctions.push({
          device: hostDeviceSpec(bdf, device, a.vf !== undefined),
          msix: -1,
          msi: -1,
          ims: -1,
          subdeviceMsix: false,
        });
      }
      const f = fnIndex.get(bdf) as number;
      hostFunctionOf[v].push(f);
      const kind = stores[where].kind;
      if (kind === 'intx') {
        const gsi = hostFunctions[f].device.intx?.gsi ?? 0;
        intxPins.set(gsi, [...(intxPins.get(gsi) ?? []), where]);
      } else {
        hostFunctions[f] = {
          ...hostFunctions[f],
          [kind]: where,
          subdeviceMsix:
            hostFunctions[f].subdeviceMsix || (kind === 'msix' && a.subdevice !== undefined),
        };
      }
      irteBound += a.backing === 'msi' ? 2 * 2 ** Math.ceil(Math.log2(a.vectors)) : a.vectors;
      const mine: number[] = [];
      for (let i = 0; i < a.vectors; i++) {
        mine.push(slots.length);
        slots.push({
          name: `${vm.name}/${assignmentName(a)}/${i}`,
          vm: v,
          assign: ai,
          index: i,
          store: where,
        });
      }
      vectorsOf[v].push(mine);
    });
  });
  return {
    spec: {
      host: {
        cpus: s.host.cpus,
        x2apic: s.host.x2apic,
        ir: s.host.iommu.ir,
        posted: s.host.iommu.posted,
        apicv: s.host.apicv,
      },
      ports,
      stores,
      vms: s.vms.map((vm, v) => ({ name: vm.name, idle: vm.idle, pcpus: pcpus[v] })),
      irtEntriesMin: irteBound + intxPins.size,
    },
    slots,
    vectorsOf,
    storeOf,
    hostFunctions,
    hostFunctionOf,
    intxPins,
    irteBound: irteBound + intxPins.size,
  };
}

/** Bytes per guest MSI-X / IMS entry (PCIe 7.7.2: 16; the IMS entry layout alike). */
const GUEST_ENTRY_BYTES = 16;

/** GSI of the first PCI INTx line (ACPI _PRT: PIRQ A..H on IOAPIC pins 16..23). */
const FIRST_PCI_GSI = 16;
const IOAPIC_PINS = 24;

/** The host's view of a function: its interrupt capabilities as the scenario sizes them. */
function hostDeviceSpec(bdf: string, d: ScenarioDevice, vf: boolean): KernelDeviceSpec {
  const msix = vf ? d.vfMsix : d.msix;
  const msi = vf ? 0 : d.msi;
  return {
    bdf,
    msix,
    ...(msi > 0
      ? { msi: { vectors: 2 ** Math.ceil(Math.log2(msi)), is64: true, perVectorMask: true } }
      : {}),
    ims: vf ? 0 : d.ims,
    ...(vf ? {} : { intx: { gsi: FIRST_PCI_GSI + (requesterIdOf(parseBdf(bdf)) % 8) } }),
  } as KernelDeviceSpec;
}

const assignmentName = (a: ScenarioAssignment) =>
  a.vf !== undefined
    ? `${a.device}-vf${a.vf}`
    : a.subdevice !== undefined
      ? `${a.device}-sd${a.subdevice}`
      : a.device;

/** Which store backs an assignment, creating its port and store on first use. */
function storeForAssignment(
  d: ScenarioDevice,
  a: ScenarioAssignment,
  port: (name: string, rid: number) => number,
  store: (
    key: string,
    make: () => { name: string; kind: StoreKind; port: number; entries: number },
  ) => number,
): number {
  const rids = functionRoutingIds(d);
  const fn = a.vf === undefined ? 0 : a.vf + 1;
  const fnName = a.vf === undefined ? d.name : `${d.name}-vf${a.vf}`;
  switch (a.backing) {
    case 'msix': {
      const p = port(fnName, rids[fn]);
      return store(`${fnName}/msix`, () => ({
        name: `${fnName}/msix`,
        kind: 'msix',
        port: p,
        entries: a.vf === undefined ? d.msix : d.vfMsix,
      }));
    }
    case 'msi': {
      const p = port(fnName, rids[fn]);
      return store(`${fnName}/msi`, () => ({
        name: `${fnName}/msi`,
        kind: 'msi',
        port: p,
        entries: d.msi,
      }));
    }
    case 'ims': {
      // Subdevices backed by IMS share the parent's requester ID (DESIGN §2: source-id
      // validation cannot tell them apart).
      const p = port(d.name, rids[0]);
      return store(`${d.name}/ims`, () => ({
        name: `${d.name}/ims`,
        kind: 'ims',
        port: p,
        entries: d.ims,
      }));
    }
    case 'intx': {
      const p = port('ioapic', IOAPIC_REQUESTER_ID);
      const key = `${assignmentName(a)}/intx`;
      // One line, one status bit per source (each guest vector of the subdevice).
      return store(key, () => ({ name: key, kind: 'intx', port: p, entries: a.vectors }));
    }
  }
}

/** pCPU of each vCPU: the VM's `pin`, else the lowest pCPUs nobody pinned, in VM order. */
function pinVcpus(s: Scenario): number[][] {
  const taken = new Set(s.vms.flatMap((vm) => vm.pin ?? []));
  let next = 0;
  return s.vms.map((vm) => {
    if (vm.pin) return [...vm.pin];
    return Array.from({ length: vm.vcpus }, () => {
      while (taken.has(next)) next++;
      taken.add(next);
      return next;
    });
  });
}

/** The host kernel, VFIO and KVM under each VM's strategy, on the staging system state. */
export interface BuildFlows {
  readonly host: { kernel: KernelState; platform: HostPlatform; vfio: VfioHost };
  readonly guests: ReturnType<typeof setupGuests>;
  /** Host binding of each assigned vector (same order as `spec.vectors`). */
  readonly bindings: readonly HostBinding[];
  /** Vectors whose binding VFIO already gave back (a pv RELEASE), by index in `bindings`. */
  readonly released: Set<number>;
}

/** The host IRT window of each `vir-direct` VM (undefined for the others): VIR_DIRECT_WINDOW
 *  indices each, disjoint, from the first window boundary above `irteBound` (every index the host
 *  kernel itself can use), in VM order. */
function irWindows(plan: Plan, strategies: readonly StrategyName[]): (IrWindow | undefined)[] {
  let next = Math.ceil(plan.irteBound / VIR_DIRECT_WINDOW) * VIR_DIRECT_WINDOW;
  return strategies.map((st) => {
    if (st !== 'vir-direct') return undefined;
    const w = { base: next, size: VIR_DIRECT_WINDOW };
    next += VIR_DIRECT_WINDOW;
    return w;
  });
}

function runFlows(s: Scenario, plan: Plan, strategies: readonly StrategyName[]) {
  const windows = irWindows(plan, strategies);
  const windowsEnd = Math.max(0, ...windows.map((w) => (w ? w.base + w.size : 0)));
  const baseSpec = {
    ...plan.spec,
    irtEntriesMin: Math.max(plan.spec.irtEntriesMin ?? 0, windowsEnd),
  };
  const staging = resetSystemState(createSystemTopology({ ...baseSpec, vectors: [] }));
  const spaces = plan.hostFunctions.map((f) => configSpaceFor(f.device));
  const infos = plan.hostFunctions.map((f, i) => pciFunctionInfo(f.device, spaces[i]));
  const platform = createHostPlatform(
    staging,
    plan.hostFunctions.map((f, i) => ({ info: infos[i], msix: f.msix, msi: f.msi, ims: f.ims })),
    Object.fromEntries(infos.map((info, i) => [info.bdf, spaces[i].bytes])),
    plan.intxPins,
  );
  const kernel = bootHostKernel(s, infos);
  // The hv takes each vir-direct window out of the host kernel's IRTE allocator.
  const remap = kernel.roots.remap;
  for (const w of windows) {
    if (w && remap !== null) vtdIrReserve(kernel.domains[remap], w.base, w.size);
  }
  plan.hostFunctions.forEach((f, i) => {
    if (f.subdeviceMsix) hostParentProbe(kernel, platform, infos[i].bdf);
  });
  const vfio: VfioHost = { k: kernel, p: platform, posted: s.host.iommu.posted };
  const bindings: (HostBinding | undefined)[] = plan.slots.map(() => undefined);
  const released = new Set<number>();
  const bind = (vm: number, assign: number, index: number): HostBinding => {
    const slot = plan.vectorsOf[vm][assign][index];
    const existing = bindings[slot];
    if (existing && !released.has(slot)) return existing;
    released.delete(slot);
    const a = s.vms[vm].assign[assign];
    const f = plan.hostFunctions[plan.hostFunctionOf[vm][assign]];
    const b = vfioEnableVector(vfio, {
      bdf: f.device.bdf,
      backing: a.backing,
      index,
      count: a.vectors,
      subdevice: a.subdevice !== undefined,
    });
    bindings[slot] = b;
    return b;
  };
  const firstVcpuOf = (vm: number) => s.vms.slice(0, vm).reduce((n, x) => n + x.vcpus, 0);
  const hostRid = (vm: number, assign: number) =>
    plan.spec.ports[plan.spec.stores[plan.storeOf[vm][assign]].port].requesterId;
  /** vir-direct, per VM: the guest IRTEs the hv shadowed, and the VFIO binding behind each
   *  handle the device entries hold (a remapped host IRTE needs the VFIO irq's host vector). */
  const shadows = s.vms.map(() => new Map<number, ShadowedIrte>());
  const handleBinding = s.vms.map(() => new Map<number, HostBinding>());
  const hostEime = s.host.x2apic;
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
    if (sh && assign >= 0 && sh.vcpu < s.vms[vm].vcpus && s.host.iommu.posted) {
      const pid = pidAddress(firstVcpuOf(vm) + sh.vcpu);
      irte = encodeIrtePosted({ ...common, virtualVector: sh.vector, ...pdaFields(pid) });
    } else if (sh && assign >= 0 && sh.vcpu < s.vms[vm].vcpus && b) {
      irte = encodeIrteRemapped({
        ...common,
        vector: b.vector,
        destinationId: irteDestinationId(b.cpu, { eime: hostEime }),
      });
    }
    platform.irteWrite?.('dmar0', index, irte);
    platform.iecInvalidate?.('dmar0', index, 1);
  };
  const guests = setupGuests(
    s.vms.map((vm, v) => ({
      name: vm.name,
      vcpus: vm.vcpus,
      strategy: strategies[v],
      viommu: vm.viommu === 'on',
      ...(windows[v] ? { irWindow: windows[v] } : {}),
      assign: vm.assign.map((a) => ({ guest: a.guest, backing: a.backing, vectors: a.vectors })),
    })),
    { ir: s.host.iommu.ir, posted: s.host.iommu.posted, dynamicMsix: true },
    (vm, functions) => ({
      vectorLive(bdf, index) {
        const assign = functions.findIndex((f) => f.bdf === bdf);
        const b = bind(vm, assign, index);
        return hostPair(staging, plan.slots[plan.vectorsOf[vm][assign][index]].store, b);
      },
      directWrite(bdf, _region, offset, value) {
        // The guest's entry i is the device entry behind it: the function's own entry i for a
        // whole function, the host-chosen entry once bound for a slice; a write to a slice entry
        // the host has not backed reaches nothing of the VM's.
        const assign = functions.findIndex((f) => f.bdf === bdf);
        const index = Math.floor(offset / GUEST_ENTRY_BYTES);
        const slot = plan.vectorsOf[vm][assign][index];
        const a = s.vms[vm].assign[assign];
        // Only an MSI-X table or IMS slice of the device can be mapped (rule
        // direct-needs-same-type); a run forcing a direct strategy elsewhere maps nothing.
        if ((a.backing !== 'msix' && a.backing !== 'ims') || a.guest !== a.backing) return;
        const whole = a.subdevice === undefined && a.backing === 'msix';
        const entry = slot === undefined ? -1 : (bindings[slot]?.entry ?? (whole ? index : -1));
        if (entry < 0) return;
        const store = plan.storeOf[vm][assign];
        platform.deviceWrite(store, entry, (offset % GUEST_ENTRY_BYTES) / 4, value);
        const b = slot === undefined ? undefined : bindings[slot];
        if (strategies[vm] === 'vir-direct' && b) {
          // The hv learns which VFIO irq backs the handle the device entry now holds.
          const hostBdf = plan.hostFunctions[plan.hostFunctionOf[vm][assign]].device.bdf;
          const region = b.backing === 'ims' ? 'ims' : 'msix-table';
          const [lo, hi, data] = [0, 4, 8].map((o) =>
            platform.mmioRead(hostBdf, region, entry * GUEST_ENTRY_BYTES + o),
          );
          const index = remappableIndex(lo, hi, data);
          if (index >= 0 && handleBinding[vm].get(index) !== b) {
            handleBinding[vm].set(index, b);
            if (!s.host.iommu.posted) writeShadow(vm, functions, index);
          }
        }
      },
      vectorReleased(bdf, index) {
        const assign = functions.findIndex((f) => f.bdf === bdf);
        const slot = plan.vectorsOf[vm][assign]?.[index];
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
  const vectors = plan.slots.map((slot, i): VectorSpec => {
    // A vector the guest never made live (its probe failed) is still backed, so the system has
    // every vector the scenario names; the failure is in `guests.failures`.
    const b = bindings[i] ?? bind(slot.vm, slot.assign, slot.index);
    const g = guestTarget(guests.vms[slot.vm], slot.assign, slot.index);
    const firstVcpu = firstVcpuOf(slot.vm);
    // vir-direct: the device sends the guest's handle, whose host IRTE the hv shadowed.
    const a = s.vms[slot.vm].assign[slot.assign];
    const mapped = (a.backing === 'msix' || a.backing === 'ims') && a.guest === a.backing;
    const shadowed = strategies[slot.vm] === 'vir-direct' && mapped;
    const irte = shadowed ? entryHandle(staging, slot.store, b.entry) : b.irte;
    assert(!shadowed || irte >= 0, `${slot.name}: vir-direct entry holds no remappable handle`);
    if (!shadowed) kvmPiUpdateIrte(vfio, b, firstVcpu + g.vcpu, g.vector);
    // An INTx line is one host irq, vector and IRTE for all the sources it fans out to: the
    // first source owns them; each source is its bit in the device's status register.
    const sharedLine = b.backing === 'intx' && slot.index > 0;
    return {
      name: slot.name,
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
function bootHostKernel(s: Scenario, devices: readonly PciFunctionInfo[]): KernelState {
  const k = createKernel({
    name: 'host',
    version: HOST_KERNEL_VERSION,
    platform: s.host.iommu.ir ? 'host-ir' : 'host-noir',
    cpus: s.host.cpus,
    apicMode: s.host.x2apic ? 'x2apic-phys' : 'xapic-phys',
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

/** The parent's own driver (idxd) at probe: MSI-X enabled with entry 0 for its misc interrupt. */
function hostParentProbe(k: KernelState, p: HostPlatform, bdf: string): void {
  const a = pciAllocIrqVectors(k, p, bdf, { min: 1, max: 1, flags: { msix: true } });
  assert(a.ok, `host: ${bdf} MSI-X enable at probe`);
  const irq = k.devices[bdf].descs.msix[0].irq;
  const r = requestIrq(k, p, irq, `idxd-misc(${bdf})`);
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
export const HOST_KERNEL_VERSION = { major: 6, minor: 12 } as const;

/** The pair the guest programs (compatibility format: its vCPU's APIC ID, its vector), which is
 *  what KVM's route holds once the VMM has handled the guest's write. */
function guestMsi(vcpu: number, vector: number) {
  return composeCompatMsiPhysical(vcpu, vector);
}

/** The VMs are running when the scenario starts: every vCPU enters the guest. */
function enterAllVcpus(s: SystemState): void {
  const log = createEventLog();
  s.topology.vcpus.forEach((_, v) => {
    systemStep(s, { kind: ACTION.vcpuEnter, a: v, b: 0 }, log);
  });
}

function workloadInputs(s: Scenario, plan: Placement): TimedInput[] {
  const out: TimedInput[] = [];
  const vmIndex = new Map(s.vms.map((vm, i) => [vm.name, i]));
  for (const w of s.workload.actions) out.push(...inputsOf(w, vmIndex.get(w.vm) ?? -1, plan, s));
  return out.sort((x, y) => x.atNs - y.atNs);
}

function inputsOf(w: WorkloadAction, vm: number, plan: Placement, s: Scenario): TimedInput[] {
  const at = w.at;
  const vectorsOf = (assign: number) => plan.vectorsOf[vm][assign];
  switch (w.do) {
    case 'probe':
      return []; // the flows have probed every assigned function and requested its vectors
    case 'request-irq':
    case 'unmask':
      return [{ atNs: at, kind: ACTION.unmask, a: vectorsOf(w.assign)[w.vector], b: 0 }];
    case 'free-irq':
    case 'mask':
      return [{ atNs: at, kind: ACTION.mask, a: vectorsOf(w.assign)[w.vector], b: 0 }];
    case 'set-affinity':
      return [{ atNs: at, kind: ACTION.setAffinity, a: vectorsOf(w.assign)[w.vector], b: w.vcpu }];
    case 'migrate-vcpu':
      return [{ atNs: at, kind: ACTION.vcpuMigrate, a: vcpuOf(s, vm, w.vcpu), b: w.pcpu }];
    case 'hot-unplug':
      return [{ atNs: at, kind: ACTION.hotUnplug, a: plan.storeOf[vm][w.assign], b: 0 }];
  }
}

const vcpuOf = (s: Scenario, vm: number, index: number) =>
  s.vms.slice(0, vm).reduce((n, x) => n + x.vcpus, 0) + index;

/** Where each assignment's vectors and store ended up. */
interface Placement {
  readonly vectorsOf: readonly (readonly (readonly number[])[])[];
  readonly storeOf: readonly (readonly number[])[];
}

function rateSources(s: Scenario, plan: Placement): RateSource[] {
  const vmIndex = new Map(s.vms.map((vm, i) => [vm.name, i]));
  return s.workload.sources.flatMap((src) => {
    const vectors = plan.vectorsOf[vmIndex.get(src.vm) ?? -1][src.assign];
    const chosen = src.queue === 'all' ? vectors : [vectors[src.queue]];
    return chosen.map((vector) => ({
      vector,
      ratePerSecond: src.rate,
      distribution: src.distribution,
    }));
  });
}
