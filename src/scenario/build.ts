// From a validated scenario to the whole-system model and the simulator's input: requester ports
// and interrupt stores for the functions used, one assigned vector per guest vector, and the
// workload as timed actions and rate-driven sources.
//
// THE SEAM (for now): `programDirectly` writes what the host kernel, VFIO and KVM would have
// written by the time the guest's driver has probed and requested its interrupts: each store
// enabled, each host IRTE (posted format when the host has posted interrupts, else remapped to a
// host vector on the pCPU of the target vCPU), each device entry pointing at its IRTE (or, without
// IR, a compatibility-format pair), each KVM route. The kernel and hypervisor issues replace it
// with the real flows (irqdomain allocation, VFIO_DEVICE_SET_IRQS, trapped table writes per
// strategy); everything downstream of the programmed state stays as it is.
// Allocation policy of the seam: IRTEs first-fit from 0 (multi-MSI blocks aligned, as Linux's
// alloc_irte); guest and host vectors per CPU from FIRST_DEVICE_VECTOR upwards; guest vector i of
// an assignment on vCPU i mod vcpus; host IRQ and guest IRQ numbers from FIRST_DYNAMIC_IRQ.

import { systemStep } from '../hv/system.js';
import { ACTION } from '../hv/system-actions.js';
import { createEventLog } from '../hv/system-events.js';
import {
  FIRST_DEVICE_VECTOR,
  FIRST_SYSTEM_VECTOR,
  pidAddress,
  programStoreEntry,
  resetSystemState,
  type SystemState,
  setRoute,
  setStoreEnabled,
  writeHostIrte,
} from '../hv/system-state.js';
import {
  createSystemTopology,
  type StoreKind,
  type SystemSpec,
  type VectorSpec,
  vcpuId,
} from '../hv/system-topology.js';
import { assert } from '../hw/errors.js';
import {
  encodeIrtePosted,
  encodeIrteRemapped,
  irteDestinationId,
  pdaFields,
  SOURCE_VALIDATION_TYPE,
} from '../hw/vtd/irte.js';
import { DELIVERY_MODE, DEST_MODE } from '../hw/x86/lapic.js';
import { composeCompatMsi, composeRemappableMsi } from '../hw/x86/msi-message.js';
import type { RateSource, SimInput, TimedInput } from '../sim/system-sim.js';
import { functionRoutingIds } from './rules.js';
import type { Scenario, ScenarioAssignment, ScenarioDevice, WorkloadAction } from './schema.js';

/** IRQ numbers after the 24 IOAPIC GSIs (`proc-interrupts.txt`: MSI irqs start at 24). */
export const FIRST_DYNAMIC_IRQ = 24;
/** Source-id of the IOAPIC that turns an INTx line into an interrupt request: a typical Intel DMAR
 *  device scope (bus f0, device 1f, function 0). */
export const IOAPIC_REQUESTER_ID = 0xf0f8;
/** idxd keeps MSI-X entry 0 for its own error/misc interrupt (drivers/dma/idxd/irq.c). */
const IDXD_HOST_MSIX_ENTRIES = 1;

export interface BuiltScenario {
  readonly scenario: Scenario;
  readonly spec: SystemSpec;
  readonly initial: SystemState;
  readonly sim: SimInput;
  /** Strategy of each VM (the run's when the VM names none). */
  readonly strategies: readonly string[];
  /** Per VM, per assignment: the indices of its vectors in `spec.vectors`. */
  readonly assignmentVectors: readonly (readonly (readonly number[])[])[];
}

export function buildScenario(scenario: Scenario, opts: { strategy?: string } = {}): BuiltScenario {
  const plan = planSystem(scenario);
  const topology = createSystemTopology(plan.spec);
  const state = resetSystemState(topology);
  programDirectly(state, plan);
  enterAllVcpus(state);
  return {
    scenario,
    spec: plan.spec,
    initial: state,
    sim: {
      initial: state,
      inputs: workloadInputs(scenario, plan),
      sources: rateSources(scenario, plan),
    },
    strategies: scenario.vms.map(
      (vm) => opts.strategy ?? vm.strategy ?? scenario.run.strategies[0],
    ),
    assignmentVectors: plan.vectorsOf,
  };
}

interface Plan {
  readonly spec: SystemSpec;
  /** Per VM, per assignment: the global indices of its vectors, in order. */
  readonly vectorsOf: number[][][];
  /** Per VM, per assignment: the store its vectors live in. */
  readonly storeOf: number[][];
  readonly requesterOfStore: number[];
}

function planSystem(s: Scenario): Plan {
  const ports: { name: string; requesterId: number }[] = [];
  const stores: { name: string; kind: StoreKind; port: number; entries: number }[] = [];
  const portFor = new Map<number, number>();
  const storeFor = new Map<string, number>();
  const nextEntry = new Map<number, number>();
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
  const vectors: VectorSpec[] = [];
  const vectorsOf: number[][][] = [];
  const storeOf: number[][] = [];
  const alloc = allocators(s);
  s.vms.forEach((vm, v) => {
    vectorsOf.push([]);
    storeOf.push([]);
    vm.assign.forEach((a) => {
      const device = deviceOf.get(a.device);
      assert(device, `build: ${a.device} passed the rules`);
      const where = storeForAssignment(device, a, port, store);
      storeOf[v].push(where);
      const first =
        nextEntry.get(where) ??
        (stores[where].kind === 'msix' && device.kind === 'idxd' && a.vf === undefined
          ? IDXD_HOST_MSIX_ENTRIES
          : 0);
      const block = a.backing === 'msi' ? alloc.irteBlock(a.vectors) : -1;
      const mine: number[] = [];
      for (let i = 0; i < a.vectors; i++) {
        const vcpu = i % vm.vcpus;
        const hostCpu = pcpus[v][vcpu];
        mine.push(vectors.length);
        vectors.push({
          name: `${vm.name}/${assignmentName(a)}/${i}`,
          store: where,
          entry: first + i,
          vm: v,
          vcpu,
          guestVector: alloc.guestVector(v, vcpu),
          irte: s.host.iommu.ir ? (block >= 0 ? block + i : alloc.irte()) : -1,
          hostCpu,
          hostVector: alloc.hostVector(hostCpu),
          hostIrq: alloc.hostIrq(),
          guestIrq: alloc.guestIrq(v),
        });
      }
      nextEntry.set(where, first + a.vectors);
      vectorsOf[v].push(mine);
    });
  });
  const spec: SystemSpec = {
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
    vectors,
  };
  return {
    spec,
    vectorsOf,
    storeOf,
    requesterOfStore: stores.map((st) => ports[st.port].requesterId),
  };
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
      return store(key, () => ({ name: key, kind: 'intx', port: p, entries: 1 }));
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

function allocators(s: Scenario) {
  const perCpu = new Map<string, number>();
  const nextVector = (key: string) => {
    const v = perCpu.get(key) ?? FIRST_DEVICE_VECTOR;
    assert(v < FIRST_SYSTEM_VECTOR, `build: ${key} ran out of device vectors`);
    perCpu.set(key, v + 1);
    return v;
  };
  let irte = 0;
  let hostIrq = FIRST_DYNAMIC_IRQ;
  const guestIrq = s.vms.map(() => FIRST_DYNAMIC_IRQ);
  return {
    guestVector: (vm: number, vcpu: number) => nextVector(`vm${vm}/${vcpu}`),
    hostVector: (cpu: number) => nextVector(`cpu${cpu}`),
    irte: () => irte++,
    /** An aligned block of IRTEs for multi-MSI (alloc_irte: power-of-two count, aligned). */
    irteBlock: (n: number) => {
      const size = 2 ** Math.ceil(Math.log2(n));
      irte = Math.ceil(irte / size) * size;
      const first = irte;
      irte += size;
      return first;
    },
    hostIrq: () => hostIrq++,
    guestIrq: (vm: number) => guestIrq[vm]++,
  };
}

/** The seam: what the host kernel, VFIO and KVM would have programmed by now. */
function programDirectly(s: SystemState, plan: Plan): void {
  const t = s.topology;
  const host = t.host;
  t.stores.forEach((_, i) => {
    setStoreEnabled(s, i, true);
  });
  t.vectors.forEach((v, i) => {
    const vcpu = vcpuId(t, v.vm, v.vcpu);
    const requesterId = plan.requesterOfStore[v.store];
    const storeKind = t.stores[v.store].kind;
    if (v.irte >= 0) {
      const sid = {
        sourceId: requesterId,
        sourceIdQualifier: 0,
        sourceValidationType: SOURCE_VALIDATION_TYPE.requesterId,
      };
      const irte = host.posted
        ? encodeIrtePosted({
            present: 1,
            virtualVector: v.guestVector,
            ...pdaFields(pidAddress(vcpu)),
            ...sid,
          })
        : encodeIrteRemapped({
            present: 1,
            destinationMode: DEST_MODE.physical,
            deliveryMode: DELIVERY_MODE.fixed,
            vector: v.hostVector,
            destinationId: irteDestinationId(v.hostCpu, { eime: host.x2apic }),
            ...sid,
          });
      writeHostIrte(s, v.irte, irte);
    }
    const isMsiBlock = storeKind === 'msi';
    if (!isMsiBlock || v.entry === 0) {
      const handle = isMsiBlock ? v.irte - v.entry : v.irte;
      const msg =
        v.irte >= 0
          ? composeRemappableMsi({ handle, shv: 1, subhandle: 0, dontCare: 0 })
          : composeCompatMsi({
              destinationId: v.hostCpu,
              extendedDestinationId: 0,
              destinationMode: DEST_MODE.physical,
              redirectionHint: 0,
              dontCare: 0,
              vector: v.hostVector,
              deliveryMode: DELIVERY_MODE.fixed,
              level: 0,
              triggerMode: 0,
            });
      programStoreEntry(s, v.store, v.entry, msg);
    }
    setRoute(s, i, guestMsi(v.vcpu, v.guestVector));
    const log = createEventLog();
    systemStep(s, { kind: ACTION.unmask, a: i, b: 0 }, log);
  });
}

/** The pair the guest programs (compatibility format: its vCPU's APIC ID, its vector), which is
 *  what KVM's route holds once the VMM has handled the guest's write. */
function guestMsi(vcpu: number, vector: number) {
  return composeCompatMsi({
    destinationId: vcpu,
    extendedDestinationId: 0,
    destinationMode: DEST_MODE.physical,
    redirectionHint: 0,
    dontCare: 0,
    vector,
    deliveryMode: DELIVERY_MODE.fixed,
    level: 0,
    triggerMode: 0,
  });
}

/** The VMs are running when the scenario starts: every vCPU enters the guest. */
function enterAllVcpus(s: SystemState): void {
  const log = createEventLog();
  s.topology.vcpus.forEach((_, v) => {
    systemStep(s, { kind: ACTION.vcpuEnter, a: v, b: 0 }, log);
  });
}

function workloadInputs(s: Scenario, plan: Plan): TimedInput[] {
  const out: TimedInput[] = [];
  const vmIndex = new Map(s.vms.map((vm, i) => [vm.name, i]));
  for (const w of s.workload.actions) out.push(...inputsOf(w, vmIndex.get(w.vm) ?? -1, plan, s));
  return out.sort((x, y) => x.atNs - y.atNs);
}

function inputsOf(w: WorkloadAction, vm: number, plan: Plan, s: Scenario): TimedInput[] {
  const at = w.at;
  const vectorsOf = (assign: number) => plan.vectorsOf[vm][assign];
  switch (w.do) {
    case 'probe':
      return []; // the seam above has already probed every assigned function
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

function rateSources(s: Scenario, plan: Plan): RateSource[] {
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
