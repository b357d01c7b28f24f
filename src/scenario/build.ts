// From a validated scenario to the whole-system model and the simulator's input: requester ports
// and interrupt stores for the functions used, one assigned vector per guest vector (the plan),
// handed to the hypervisor as its spec (`hv/flows.ts FlowsSpec`), whose flows program the system
// through the host kernel, the guest kernels, VFIO and KVM (`buildSystem`: nothing is invented
// here, every number comes from a kernel); then the workload as timed actions and rate-driven
// sources (`runWorkload`).

import {
  type BuildFlows,
  buildSystem,
  type FlowsSpec,
  type HostFunctionPlan,
  IOAPIC_REQUESTER_ID,
  teardownSystem,
  type VectorSlot,
} from '../hv/flows.js';
import {
  type ControlAction,
  type GuestTarget,
  guestInterrupt,
  runGuestActions,
} from '../hv/guest-run.js';
import type { StrategyName } from '../hv/strategy-platform.js';
import { assert } from '../hw/errors.js';
import { bdfOfRequesterId, formatBdf, parseBdf, requesterIdOf } from '../hw/pci/bdf.js';
import type { KernelDeviceSpec } from '../kernel/kernel-spec.js';
import { ACTION, affinityTarget } from '../machine/system-actions.js';
import type { SystemEvent } from '../machine/system-events.js';
import { cloneSystemState, type SystemState } from '../machine/system-state.js';
import type { SystemSpec } from '../machine/system-topology.js';
import type { RateSource, SimInput, TimedInput } from '../sim/system-sim.js';
import { functionRoutingIds } from './rules.js';
import type { Scenario, ScenarioAssignment, ScenarioDevice, WorkloadAction } from './schema.js';

type StoreSpec = SystemSpec['stores'][number];

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
  const system = buildSystem(flowsSpecOf(scenario, plan, strategies));
  return {
    scenario,
    ...system,
    strategies,
    assignmentVectors: plan.vectorsOf,
    assignmentStores: plan.storeOf,
  };
}

/** The hypervisor's spec of the planned system: each VM's strategy and assignments, placed. */
function flowsSpecOf(s: Scenario, plan: Plan, strategies: readonly StrategyName[]): FlowsSpec {
  return {
    system: plan.spec,
    dynamicMsix: hostHasDynamicMsix(s),
    hostFunctions: plan.hostFunctions,
    vms: s.vms.map((vm, v) => ({
      name: vm.name,
      vcpus: vm.vcpus,
      strategy: strategies[v],
      assign: vm.assign.map((a, i) => ({
        guest: a.guest,
        backing: a.backing,
        vectors: a.vectors,
        subdevice: a.subdevice !== undefined,
        hostFunction: plan.hostFunctionOf[v][i],
        store: plan.storeOf[v][i],
        slots: plan.vectorsOf[v][i],
      })),
    })),
    slots: plan.slots,
    intxPins: plan.intxPins,
    irteBound: plan.irteBound,
  };
}

/** VFIO resizes MSI-X without a disable/re-enable from Linux 6.5 (dynamic MSI-X), unless the
 *  scenario says (`host.dynamicMsix`); the host kernel's version is the scenario's, else ours. */
export function hostHasDynamicMsix(s: Scenario): boolean {
  if (s.host.dynamicMsix !== undefined) return s.host.dynamicMsix;
  const v = s.host.kernel?.version;
  if (v === undefined) return true;
  const [major, minor] = v.split('.').map(Number);
  return major > 6 || (major === 6 && minor >= 5);
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

/** Device teardown (hot-unplug / VM shutdown) through the same flows (`hv/flows.ts
 *  teardownSystem`), writing `built.initial`. */
export function teardownBuilt(built: BuiltScenario): void {
  teardownSystem(built.flows);
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

interface Plan {
  readonly spec: Omit<SystemSpec, 'vectors'>;
  readonly slots: readonly VectorSlot[];
  /** Per VM, per assignment: the global indices of its vectors, in order. */
  readonly vectorsOf: number[][][];
  /** Per VM, per assignment: the store its vectors live in. */
  readonly storeOf: number[][];
  /** Host PCI functions: their config-space spec and stores. */
  readonly hostFunctions: readonly HostFunctionPlan[];
  /** Per VM, per assignment: the host function (index in hostFunctions). */
  readonly hostFunctionOf: number[][];
  /** IOAPIC pin -> INTx stores it feeds. */
  readonly intxPins: Map<number, number[]>;
  /** Upper bound on the host IRTEs the flows can use (sizes the remapping table). */
  readonly irteBound: number;
}

function planSystem(s: Scenario): Plan {
  const ports: { name: string; requesterId: number }[] = [];
  const stores: StoreSpec[] = [];
  const portFor = new Map<number, number>();
  const storeFor = new Map<string, number>();
  const port = (name: string, rid: number) => {
    if (!portFor.has(rid)) portFor.set(rid, ports.push({ name, requesterId: rid }) - 1);
    return portFor.get(rid) as number;
  };
  const store = (key: string, make: () => StoreSpec) => {
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
          parentDriver: null,
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
          parentDriver:
            kind === 'msix' && a.subdevice !== undefined
              ? device.kind
              : hostFunctions[f].parentDriver,
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
  // Every IRTE the host kernel can take: the assigned vectors' (above), one per IOAPIC pin in use,
  // and the misc interrupt a subdevice parent's own driver keeps (idxd: MSI-X entry 0).
  const parentIrtes = hostFunctions.filter((f) => f.parentDriver !== null).length;
  const hostIrtes = irteBound + intxPins.size + parentIrtes;
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
      irtEntriesMin: hostIrtes,
    },
    slots,
    vectorsOf,
    storeOf,
    hostFunctions,
    hostFunctionOf,
    intxPins,
    irteBound: hostIrtes,
  };
}

/** GSI of the first PCI INTx line (ACPI _PRT: PIRQ A..H on IOAPIC pins 16..23). */
const FIRST_PCI_GSI = 16;
/** The GSI a function's INTx pin routes to: one of the eight PIRQ lines, by routing ID (so
 *  functions may share a line, as on real boards). */
const intxGsiOf = (rid: number) => FIRST_PCI_GSI + (rid % 8);

/** The host's view of a function: its interrupt capabilities as the scenario sizes them. */
function hostDeviceSpec(bdf: string, d: ScenarioDevice, vf: boolean): KernelDeviceSpec {
  const msix = vf ? d.vfMsix : d.msix;
  const msi = vf ? 0 : d.msi;
  return {
    bdf,
    msix,
    ...(msi > 0
      ? {
          msi: {
            vectors: 2 ** Math.ceil(Math.log2(msi)),
            is64: true,
            perVectorMask: d.msiMask,
          },
        }
      : {}),
    ims: vf ? 0 : d.ims,
    ...(vf ? {} : { intx: { gsi: intxGsiOf(requesterIdOf(parseBdf(bdf))) } }),
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
  store: (key: string, make: () => StoreSpec) => number,
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
        perVectorMask: d.msiMask,
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
      // The function's line; one status bit per source (each guest vector of the subdevice).
      const line = intxGsiOf(rids[fn]);
      return store(key, () => ({ name: key, kind: 'intx', port: p, entries: a.vectors, line }));
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
      return [{ atNs: at, kind: ACTION.requestIrq, a: vectorsOf(w.assign)[w.vector], b: 0 }];
    case 'unmask':
      return [{ atNs: at, kind: ACTION.unmask, a: vectorsOf(w.assign)[w.vector], b: 0 }];
    case 'free-irq':
      return [{ atNs: at, kind: ACTION.freeIrq, a: vectorsOf(w.assign)[w.vector], b: 0 }];
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
