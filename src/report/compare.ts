// `irqlab compare`: one scenario run under each strategy, side by side. Per strategy:
//   control plane  each VM's guest kernel on the strategy's platform (`hv/guest-run.ts`): exits
//                  per vector set up, per mask/unmask, per affinity change, counted from the
//                  guest's access log; setup latency; host resources from the hypervisor's ledger.
//   data plane     the simulator on the whole-system model (`sim/system-sim.ts`): exits per
//                  interrupt delivered, delivery latency, lost/duplicated/misdirected.
//   migration      exits of one vCPU migration, from the delivery model's own step.
//   isolation      the hostile VMs' reach (`hv/isolation.ts`): findings, never a crash.
// A strategy the scenario's rules reject carries `{ error: { rule, message } }` and nothing else.
// Not here: rendering (`compare-text.ts`).

import { addExits, dataPlaneExits, EXIT_KINDS, type ExitCounts, emptyExits } from '../hv/exits.js';
import { type ControlAction, type ControlPlaneResult, runControlPlane } from '../hv/guest-run.js';
import { analyzeIsolation, type IsolationSummary } from '../hv/isolation.js';
import {
  HOST_IRTES,
  KVM_MAX_IRQ_ROUTES,
  type StrategyName,
  VIR_DIRECT_WINDOW,
} from '../hv/strategy-platform.js';
import { systemStep } from '../hv/system.js';
import { ACTION } from '../hv/system-actions.js';
import { createEventLog, EVENT } from '../hv/system-events.js';
import {
  cloneSystemState,
  FIRST_DEVICE_VECTOR,
  FIRST_SYSTEM_VECTOR,
  vcpuPcpu,
} from '../hv/system-state.js';
import { RuleError } from '../hw/errors.js';
import { buildScenario } from '../scenario/build.js';
import { loadScenario } from '../scenario/load.js';
import { type Scenario, STRATEGIES, type Strategy } from '../scenario/schema.js';
import { resolveCosts } from '../sim/cost-model.js';
import { simulateSystem } from '../sim/system-sim.js';

export interface StrategyColumn {
  readonly exits: {
    readonly perVectorSetup: number;
    readonly perDelivery: number;
    readonly perMaskUnmask: number;
    readonly perAffinityChange: number;
    readonly perMigration: number;
    readonly byReason: ExitCounts;
  };
  readonly latencyNs: {
    readonly setup: { readonly p50: number; readonly p99: number };
    readonly delivery: { readonly p50: number; readonly p99: number };
  };
  readonly resources: {
    readonly hostVectors: number;
    readonly irtes: number;
    readonly msixEntries: number;
    readonly imsEntries: number;
    readonly kvmRoutes: number;
    readonly irteWindow: number;
    readonly intxLines: number;
  };
  readonly capacity: { readonly subdevices: number; readonly limitedBy: string };
  readonly interrupts: {
    readonly raised: number;
    readonly delivered: number;
    readonly lost: number;
    readonly duplicated: number;
    readonly misdirected: number;
  };
  readonly hostWork: {
    readonly vfioSetIrqs: number;
    readonly vfioReenabledVectors: number;
    readonly routesResubmitted: number;
    readonly routesRetranslated: number;
  };
  readonly isolation: IsolationSummary | null;
  readonly notes: readonly string[];
}

export type CompareEntry = StrategyColumn | { readonly error: { rule: string; message: string } };

export interface CompareResult {
  readonly scenario: string;
  readonly strategies: Record<string, CompareEntry>;
}

/** Runs `text` (a scenario file's contents) under each of `strategies`. */
export function compareScenario(
  text: string,
  file: string,
  strategies: readonly Strategy[] = STRATEGIES,
): CompareResult {
  const out: Record<string, CompareEntry> = {};
  let name = file.replace(/^.*\//, '').replace(/\.ya?ml$/, '');
  for (const strategy of strategies) {
    let scenario: Scenario;
    try {
      scenario = loadScenario(text, file, { strategy });
    } catch (e) {
      if (e instanceof RuleError) {
        out[strategy] = { error: { rule: e.rule, message: e.message.split('\n')[0] } };
        continue;
      }
      throw e;
    }
    name = scenario.name ?? name;
    out[strategy] = runStrategy(scenario, strategy);
  }
  return { scenario: name, strategies: out };
}

const percentile = (xs: readonly number[], p: number): number => {
  if (xs.length === 0) return 0;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};

const per = (n: number, d: number) => (d === 0 ? 0 : Math.round((n / d) * 100) / 100);

function controlActions(s: Scenario): ControlAction[] {
  const vmIndex = new Map(s.vms.map((vm, i) => [vm.name, i]));
  const out: ControlAction[] = [];
  for (const w of [...s.workload.actions].sort((a, b) => a.at - b.at)) {
    const vm = vmIndex.get(w.vm) ?? 0;
    if (w.do === 'migrate-vcpu') continue;
    if (w.do === 'probe' || w.do === 'hot-unplug') out.push({ do: w.do, vm, assign: w.assign });
    else if (w.do === 'set-affinity') out.push({ ...w, vm });
    else out.push({ do: w.do, vm, assign: w.assign, vector: w.vector });
  }
  return out;
}

function runStrategy(s: Scenario, strategy: StrategyName): StrategyColumn {
  const costs = resolveCosts(s.run.costs, { nested: s.host.nested });
  const host = {
    ir: s.host.iommu.ir,
    posted: s.host.iommu.posted,
    dynamicMsix: hostHasDynamicMsix(s),
  };
  const cp = runControlPlane(
    s.vms.map((vm) => ({
      name: vm.name,
      vcpus: vm.vcpus,
      strategy,
      assign: vm.assign.map((a) => ({ guest: a.guest, backing: a.backing, vectors: a.vectors })),
    })),
    host,
    controlActions(s),
    costs,
  );
  const built = buildScenario(s, { strategy });
  const sim = simulateSystem(built.sim, {
    durationNs: s.run.duration,
    seed: s.run.seed,
    costs,
    trace: null,
  });
  const data = dataPlaneExits(sim.exits, sim.counts.wakeups);
  const delivery = data.externalInterrupt + data.eoi + data.piWakeup;
  const migration = migrationExits(built.initial);
  const byReason = addExits(emptyExits(), data);
  for (const phase of Object.values(cp.phases)) addExits(byReason, phase.exits);
  const sumExits = (e: ExitCounts) => EXIT_KINDS.reduce((n, k) => n + e[k], 0);
  const hostile = s.vms.flatMap((vm, i) => (vm.hostile ? [i] : []));
  const isolation =
    hostile.length > 0 ? analyzeIsolation(built.initial, { strategy, hostile }).summary : null;
  const duplicated = 0; // the ghost counters: delivered never exceeds raised (never-duplicated)
  return {
    exits: {
      perVectorSetup: per(sumExits(cp.phases.setup.exits), cp.phases.setup.operations),
      perDelivery: per(delivery, sim.interrupts.delivered),
      perMaskUnmask: per(sumExits(cp.phases.maskUnmask.exits), cp.phases.maskUnmask.operations),
      perAffinityChange: per(sumExits(cp.phases.affinity.exits), cp.phases.affinity.operations),
      perMigration: migration,
      byReason,
    },
    latencyNs: {
      setup: { p50: percentile(cp.setupLatencyNs, 50), p99: percentile(cp.setupLatencyNs, 99) },
      delivery: { p50: sim.latency.p50Ns, p99: sim.latency.p99Ns },
    },
    resources: {
      hostVectors: cp.peak.hostVectors,
      irtes: cp.peak.irtes,
      msixEntries: cp.peak.msixEntries,
      imsEntries: cp.peak.imsEntries,
      kvmRoutes: cp.peak.kvmRoutes,
      irteWindow: strategy === 'vir-direct' ? s.vms.length * VIR_DIRECT_WINDOW : 0,
      intxLines: cp.peak.intxLines,
    },
    capacity: capacityOf(s, strategy, cp),
    interrupts: {
      raised: sim.interrupts.raised,
      delivered: sim.interrupts.delivered,
      lost: sim.interrupts.lost,
      duplicated,
      misdirected: sim.counts.guestSpurious,
    },
    hostWork: {
      vfioSetIrqs: sum(cp, (l) => l.vfioSetIrqs),
      vfioReenabledVectors: sum(cp, (l) => l.vfioReenabledVectors),
      routesResubmitted: sum(cp, (l) => l.routesResubmitted),
      routesRetranslated: sum(cp, (l) => l.routesRetranslated),
    },
    isolation,
    notes: [...cp.notes, ...cp.failures],
  };
}

const sum = (
  cp: ControlPlaneResult,
  f: (l: ControlPlaneResult['vms'][number]['sp']['ledger']) => number,
) => cp.vms.reduce((n, vm) => n + f(vm.sp.ledger), 0);

/** VFIO resizes MSI-X without a disable/re-enable from Linux 6.5 (dynamic MSI-X). */
function hostHasDynamicMsix(s: Scenario): boolean {
  const v = s.host.kernel?.version;
  if (v === undefined) return true;
  const [major, minor] = v.split('.').map(Number);
  return major > 6 || (major === 6 && minor >= 5);
}

/** Exits one vCPU migration costs in the delivery model (KVM: the vCPU is kicked out, its PID's
 *  NDST follows it). */
function migrationExits(initial: Parameters<typeof cloneSystemState>[0]): number {
  const t = initial.topology;
  if (t.vcpus.length === 0) return 0;
  const s = cloneSystemState(initial);
  const log = createEventLog();
  const target = (vcpuPcpu(s, 0) + 1) % t.host.cpus;
  systemStep(s, { kind: ACTION.vcpuMigrate, a: 0, b: target }, log);
  let n = 0;
  for (let i = 0; i < log.length; i++) if (log.kind[i] === EVENT.vmExit) n++;
  return n;
}

/** How many more subdevices of the scenario's first assignment's shape fit, and the resource that
 *  runs out first: KVM routes (per VM), host IRTEs, host vectors, the device's MSI-X or IMS
 *  entries, the vir-direct windows of the host IRT. */
function capacityOf(
  s: Scenario,
  strategy: StrategyName,
  cp: ControlPlaneResult,
): { subdevices: number; limitedBy: string } {
  const a = s.vms[0]?.assign[0];
  if (a === undefined) return { subdevices: 0, limitedBy: 'no assignment' };
  const device = s.devices.find((d) => d.name === a.device);
  const n = a.vectors;
  const hostVectors = (FIRST_SYSTEM_VECTOR - FIRST_DEVICE_VECTOR) * s.host.cpus;
  const usesRoutes = strategy === 'emulate' || strategy === 'vir' || !s.host.iommu.posted;
  const limits: [string, number][] = [
    ['hostVectors', Math.floor((hostVectors - cp.peak.hostVectors) / n)],
  ];
  if (s.host.iommu.ir) {
    limits.push(
      strategy === 'vir-direct'
        ? ['irteWindows', Math.floor(HOST_IRTES / VIR_DIRECT_WINDOW) - s.vms.length]
        : ['irtes', Math.floor((HOST_IRTES - cp.peak.irtes) / n)],
    );
  }
  if (usesRoutes) limits.push(['kvmRoutes', Math.floor(KVM_MAX_IRQ_ROUTES / n)]);
  if (device && a.backing === 'ims') {
    limits.push(['imsEntries', Math.floor((device.ims - cp.peak.imsEntries) / n)]);
  }
  if (device && a.backing === 'msix' && a.subdevice !== undefined) {
    limits.push(['msixEntries', Math.floor((device.msix - cp.peak.msixEntries) / n)]);
  }
  if (device && a.vf !== undefined) limits.push(['vfs', device.vfs - s.vms.length]);
  limits.sort((x, y) => x[1] - y[1]);
  const [limitedBy, fit] = limits[0];
  return { subdevices: Math.max(0, fit), limitedBy };
}
