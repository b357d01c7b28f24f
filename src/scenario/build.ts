// From a validated scenario to the whole-system model and the simulator's input: requester ports
// and interrupt stores for the functions used, one assigned vector per guest vector, and the
// workload as timed actions and rate-driven sources.
//
// The flows (`build-flows.ts`) program the system (no seam): the staging state is built first
// (ports, stores, the remapping table; no vector bound yet), then
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
  type ControlAction,
  type GuestTarget,
  guestInterrupt,
  runGuestActions,
  teardownGuests,
} from '../hv/guest-run.js';
import type { StrategyName } from '../hv/strategy-platform.js';
import { ACTION, affinityTarget } from '../hv/system-actions.js';
import type { SystemEvent } from '../hv/system-events.js';
import {
  cloneSystemState,
  resetSystemState,
  type SystemState,
  setIntxSourceMask,
  setRoute,
} from '../hv/system-state.js';
import { createSystemTopology, type StoreKind, type SystemSpec } from '../hv/system-topology.js';
import { vfioDisableVector } from '../hv/vfio.js';
import { assert } from '../hw/errors.js';
import { bdfOfRequesterId, formatBdf, parseBdf, requesterIdOf } from '../hw/pci/bdf.js';
import type { KernelDeviceSpec } from '../kernel/kernel-spec.js';
import type { RateSource, SimInput, TimedInput } from '../sim/system-sim.js';
import {
  type BuildFlows,
  enterAllVcpus,
  guestMsi,
  IOAPIC_REQUESTER_ID,
  runFlows,
} from './build-flows.js';
import { functionRoutingIds } from './rules.js';
import type { Scenario, ScenarioAssignment, ScenarioDevice, WorkloadAction } from './schema.js';

export { type BuildFlows, HOST_KERNEL_VERSION, IOAPIC_REQUESTER_ID } from './build-flows.js';

export interface BuiltScenario {
  readonly scenario: Scenario;
  readonly spec: SystemSpec;
  /** The system state the host writes: as the setup left it, then whatever runs on the built
   *  kernels (`runWorkload`'s control actions, `teardownBuilt`). */
  readonly initial: SystemState;
  /** Strategy of each VM (the run's when the VM names none). */
  readonly strategies: readonly string[];
  /** Per VM, per assignment: the indices of its vectors in `spec.vectors`. */
  readonly assignmentVectors: readonly (readonly (readonly number[])[])[];
  /** Per VM, per assignment: the store its vectors live in. */
  readonly assignmentStores: readonly (readonly number[])[];
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
  return {
    scenario,
    spec: flows.spec,
    initial: state,
    strategies,
    assignmentVectors: plan.vectorsOf,
    assignmentStores: plan.storeOf,
    flows: {
      host: flows.host,
      guests: flows.guests,
      bindings: flows.bindings,
      released: flows.released,
    },
  };
}

/** The scenario's workload on a built scenario (call once): its control actions run on the guest
 *  kernels in time order (`guest-run.ts runGuestActions`: the exits, the host's work, the guest
 *  kernels' decisions), the host writing `built.initial` as it goes; and the data plane's input,
 *  starting from the state before them: the same actions at their times, each carrying what its
 *  guest kernel decided (a set-affinity's new vCPU and vector), and the rate sources. */
export function runWorkload(built: BuiltScenario): SimInput {
  const s = built.scenario;
  const start = cloneSystemState(built.initial);
  const timed = [...s.workload.actions].sort((x, y) => x.at - y.at);
  const decisions = runWorkloadControl(s, built.flows, timed);
  const placement = { vectorsOf: built.assignmentVectors, storeOf: built.assignmentStores };
  return {
    initial: start,
    inputs: timed.flatMap((w, i) => inputsOf(w, decisions[i], placement, s)),
    sources: rateSources(s, placement),
  };
}

/** Device teardown (hot-unplug / VM shutdown) through the same flows: every guest driver frees
 *  its irqs and disables its functions, then VFIO releases every vector on the host kernel (free_irq,
 *  the entry back, MSI-X/MSI disabled with the last one), writing `built.initial`. */
export function teardownBuilt(built: BuiltScenario): void {
  teardownGuests(built.flows.guests);
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
export interface VectorSlot {
  readonly name: string;
  readonly vm: number;
  readonly assign: number;
  readonly index: number;
  readonly store: number;
}

export interface Plan {
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

/** GSI of the first PCI INTx line (ACPI _PRT: PIRQ A..H on IOAPIC pins 16..23). */
const FIRST_PCI_GSI = 16;

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

/** The workload's actions (in time order) on the guest kernels, as `guest-run.ts` runs them;
 *  per action, the guest kernel's decision (null for what needs none, and for a migration, which
 *  no guest sees). */
function runWorkloadControl(
  s: Scenario,
  flows: BuildFlows,
  timed: readonly WorkloadAction[],
): (GuestTarget | null)[] {
  const vmIndex = new Map(s.vms.map((vm, i) => [vm.name, i]));
  const control = timed.flatMap((w, i) => {
    const a = controlActionOf(w, vmIndex.get(w.vm) ?? 0);
    return a ? [{ i, a }] : [];
  });
  const out = runGuestActions(
    flows.guests,
    control.map((c) => c.a),
  );
  const decisions: (GuestTarget | null)[] = timed.map(() => null);
  control.forEach((c, j) => {
    decisions[c.i] = out[j];
  });
  return decisions;
}

function controlActionOf(w: WorkloadAction, vm: number): ControlAction | null {
  switch (w.do) {
    case 'migrate-vcpu':
      return null;
    case 'probe':
    case 'hot-unplug':
      return { do: w.do, vm, assign: w.assign };
    case 'set-affinity':
      return { do: w.do, vm, assign: w.assign, vector: w.vector, vcpu: w.vcpu };
    default:
      return { do: w.do, vm, assign: w.assign, vector: w.vector };
  }
}

function inputsOf(
  w: WorkloadAction,
  decision: GuestTarget | null,
  plan: Placement,
  s: Scenario,
): TimedInput[] {
  const at = w.at;
  const vm = s.vms.findIndex((x) => x.name === w.vm);
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
      // The guest kernel refused the move (no vector free on the target): nothing changes.
      if (decision === null) return [];
      return [
        {
          atNs: at,
          kind: ACTION.setAffinity,
          a: vectorsOf(w.assign)[w.vector],
          b: affinityTarget(decision.vcpu, decision.vector),
        },
      ];
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
