// One strategy run on a scenario, what `irqlab compare` puts side by side (and what the explorer
// and the web page run): build, workload, simulate, isolation, teardown. Per strategy ONE build
// (`scenario/build.ts`: the host kernel, each VM's guest kernel on the strategy's platform, VFIO
// and KVM behind it) and one workload run on it (`runWorkload`), and from them:
//   control plane  setup, the workload's control actions and the teardown on the same guest
//                  kernels with the same host behind them (`hv/guest-run.ts`): exits per vector
//                  set up and at teardown, counted from the guests' access logs; the guest
//                  kernels' decisions (which vector, which CPU) for the workload's moves; setup
//                  latency; host resources from the hypervisor's ledger (peak over the run; a
//                  teardown that leaves any held is reported as a failure).
//   data plane     the simulator from the state after setup (`sim/system-sim.ts`), the workload's
//                  actions at their times carrying the guest kernels' decisions: exits per
//                  interrupt delivered, delivery latency, lost/duplicated/misdirected; and exits
//                  per mask/unmask and per affinity change, from the steps the operations' step
//                  programs executed in the run (`sim/operation-tally.ts`), over the operations
//                  the run applied (an operation after the run's end is not one). A workload's
//                  free_irq and request_irq run only their mask and unmask as steps so far: their
//                  exits are the control plane's (its setup and teardown phases log their whole
//                  access sequences).
//   migration      exits per vCPU migration the workload made, from the data plane's steps (a
//                  running vCPU is kicked out: one exit; a halted one is only re-pointed).
//   capacity       `hv/capacity.ts` on the scenario's shape: subdevices that fit, and the
//                  resource one more would exceed (KVM routes included).
//   interrupts     the data plane's per-vector ghost counters (raised, delivered, coalesced,
//                  lost): lost = dropped or faulted; duplicated = outcomes beyond the raises of
//                  that vector (a raise delivered twice: the `never-duplicated` property broken);
//                  misdirected = a guest handler ran for a vIRR vector that no assigned vector
//                  of that vCPU was, or is being moved, routed to (the delivery model counts it
//                  as a guest spurious interrupt). Coalesced raises (merged into a pending bit,
//                  PIR or vIRR) are neither: the interrupt model allows them.
//   table page     a device whose MSI-X table shares its 4-KiB page with registers: where the
//                  strategy traps the table (emulate, vir) the registers on that page trap too,
//                  unless the table is relocated (QEMU x-msix-relocation); counted from the
//                  device's `tablePageRegisterRate` over the run, each an msixTableAccess exit.
//   isolation      the hostile VMs' reach (`hv/isolation.ts`): findings, never a crash.
// A strategy the scenario's rules reject carries `{ error: { rule, message } }` and nothing else;
// a file that is no valid scenario under any strategy (YAML, schema, or a rule every strategy
// breaks) is a ScenarioError, thrown, as every command does.
// Not here: rendering (`report/compare-text.ts`: the reports format this result, never run it).

import { capacityShapeOf, subdevicesThatFit } from '../hv/capacity.js';
import {
  addExits,
  dataPlaneExits,
  EXIT_KINDS,
  type ExitCounts,
  emptyExits,
  exitCostNs,
  exitsOfTraps,
} from '../hv/exits.js';
import { heldByHost, ledgerPeak, setupLatencyNs } from '../hv/guest-run.js';
import { analyzeIsolation, type IsolationSummary } from '../hv/isolation.js';
import {
  type HostLedger,
  type StrategyName,
  trapPolicy,
  VIR_DIRECT_WINDOW,
} from '../hv/strategy-platform.js';
import { RuleError } from '../hw/errors.js';
import { type Costs, resolveCosts } from '../sim/cost-model.js';
import { type SimResult, simulateSystem } from '../sim/system-sim.js';
import { buildScenario, runWorkload, teardownBuilt } from './build.js';
import { ScenarioError, type ScenarioIssue } from './errors.js';
import { type ParsedScenario, parseScenario, ruleIssues } from './load.js';
import { type Scenario, STRATEGIES, type Strategy } from './schema.js';

export interface StrategyColumn {
  readonly exits: {
    readonly perVectorSetup: number;
    readonly perDelivery: number;
    readonly perMaskUnmask: number;
    readonly perAffinityChange: number;
    readonly perMigration: number;
    /** Guest accesses to device registers on a trapped MSI-X table page (in byReason too). */
    readonly tablePageRegisterAccesses: number;
    readonly byReason: ExitCounts;
  };
  /** What the run did, the denominators of the per-operation rows (0: the row would be empty). */
  readonly operations: {
    readonly vectorsSetUp: number;
    readonly maskUnmasks: number;
    readonly affinityChanges: number;
    readonly migrations: number;
    readonly deliveries: number;
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
    /** vir-direct: host IRTE indices set aside for the guests' handles, and the span of them
     *  the guests used (their highest shadowed index + 1, summed over the VMs). */
    readonly irteWindow: number;
    readonly irteWindowUsed: number;
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
  const parsed = parseScenario(text, file);
  rejectUnderEveryStrategy(parsed);
  const out: Record<string, CompareEntry> = {};
  for (const strategy of strategies) {
    const { scenario, issues } = ruleIssues(parsed, { strategy });
    if (issues.length > 0) {
      const first = new ScenarioError(issues);
      out[strategy] = { error: { rule: first.rule, message: first.message.split('\n')[0] } };
      continue;
    }
    try {
      out[strategy] = runStrategy(scenario, strategy);
    } catch (e) {
      // A combination the guest kernel or the hypervisor refuses (a RuleError deeper than the
      // scenario rules) is a finding for this column, not a crash of the command.
      if (!(e instanceof RuleError)) throw e;
      out[strategy] = { error: { rule: e.rule, message: e.message.split('\n')[0] } };
    }
  }
  const name = parsed.scenario.name ?? file.replace(/^.*\//, '').replace(/\.ya?ml$/, '');
  return { scenario: name, strategies: out };
}

/** The rule violations no strategy escapes are the file's, not a column's: thrown, as `run`
 *  would report them. */
function rejectUnderEveryStrategy(parsed: ParsedScenario): void {
  const key = (i: ScenarioIssue) => `${i.rule} ${i.path}`;
  const under = STRATEGIES.map(
    (strategy) => new Set(ruleIssues(parsed, { strategy }).issues.map(key)),
  );
  const own = ruleIssues(parsed).issues.filter((i) => under.every((keys) => keys.has(key(i))));
  if (own.length > 0) throw new ScenarioError(own);
}

const percentile = (xs: readonly number[], p: number): number => {
  if (xs.length === 0) return 0;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};

const per = (n: number, d: number) => (d === 0 ? 0 : Math.round((n / d) * 100) / 100);

/** Runs `s` under `strategy`: one column of `irqlab compare`. */
export function runStrategy(s: Scenario, strategy: StrategyName): StrategyColumn {
  const costs = resolveCosts(s.run.costs, { nested: s.host.nested });
  const built = buildScenario(s, { strategy });
  const input = runWorkload(built);
  const sim = simulateSystem(input, {
    durationNs: s.run.duration,
    seed: s.run.seed,
    costs,
    trace: null,
  });
  const hostile = s.vms.flatMap((vm, i) => (vm.hostile ? [i] : []));
  const isolation =
    hostile.length > 0 ? analyzeIsolation(input.initial, { strategy, hostile }).summary : null;
  const cp = built.flows.guests;
  const peak = ledgerPeak(cp);
  teardownBuilt(built);
  const held = heldByHost(cp);
  const data = dataPlaneExits(sim.exits, sim.counts.wakeups);
  const delivery = data.externalInterrupt + data.eoi + data.piWakeup;
  const ops = sim.operations;
  const maskUnmaskExits = addExits(exitsOfTraps(ops.exits.mask), exitsOfTraps(ops.exits.unmask));
  const affinityExits = exitsOfTraps(ops.exits.affinity);
  const byReason = addExits(emptyExits(), data);
  for (const e of [
    cp.phases.setup.exits,
    maskUnmaskExits,
    affinityExits,
    cp.phases.teardown.exits,
  ]) {
    addExits(byReason, e);
  }
  const tablePage = tablePageRegisterExits(s, strategy, costs);
  byReason.msixTableAccess += tablePage.exits;
  const sumExits = (e: ExitCounts) => EXIT_KINDS.reduce((n, k) => n + e[k], 0);
  const setupNs = setupLatencyNs(cp, costs);
  const work = (f: (l: HostLedger) => number) => cp.vms.reduce((n, vm) => n + f(vm.sp.ledger), 0);
  return {
    exits: {
      perVectorSetup: per(sumExits(cp.phases.setup.exits), cp.phases.setup.operations),
      perDelivery: per(delivery, sim.interrupts.delivered),
      perMaskUnmask: per(sumExits(maskUnmaskExits), ops.applied.unmask),
      perAffinityChange: per(sumExits(affinityExits), ops.applied.affinity),
      perMigration: per(sim.counts.migrationExits, sim.counts.migrations),
      tablePageRegisterAccesses: tablePage.exits,
      byReason,
    },
    operations: {
      vectorsSetUp: cp.phases.setup.operations,
      maskUnmasks: ops.applied.unmask,
      affinityChanges: ops.applied.affinity,
      migrations: sim.counts.migrations,
      deliveries: sim.interrupts.delivered,
    },
    latencyNs: {
      setup: { p50: percentile(setupNs, 50), p99: percentile(setupNs, 99) },
      delivery: { p50: sim.latency.p50Ns, p99: sim.latency.p99Ns },
    },
    resources: {
      hostVectors: peak.hostVectors,
      irtes: peak.irtes,
      msixEntries: peak.msixEntries,
      imsEntries: peak.imsEntries,
      kvmRoutes: peak.kvmRoutes,
      irteWindow: built.strategies.filter((x) => x === 'vir-direct').length * VIR_DIRECT_WINDOW,
      irteWindowUsed: peak.irteWindow,
      intxLines: peak.intxLines,
    },
    capacity: capacityOf(s, strategy),
    interrupts: {
      raised: sim.interrupts.raised,
      delivered: sim.interrupts.delivered,
      lost: sim.interrupts.lost,
      duplicated: duplicatedOf(sim),
      misdirected: sim.counts.guestSpurious,
    },
    hostWork: {
      vfioSetIrqs: work((l) => l.vfioSetIrqs),
      vfioReenabledVectors: work((l) => l.vfioReenabledVectors),
      routesResubmitted: work((l) => l.routesResubmitted),
      routesRetranslated: work((l) => l.routesRetranslated),
    },
    isolation,
    notes: [
      ...cp.notes,
      ...cp.failures,
      ...(held > 0 ? [`teardown left ${held} host resources held`] : []),
      ...tablePage.notes,
    ],
  };
}

/** Subdevices of the scenario's shape that fit before a resource runs out (`hv/capacity.ts`). */
function capacityOf(s: Scenario, strategy: StrategyName) {
  const shape = capacityShapeOf(s, strategy);
  if (shape === null) return { subdevices: 0, limitedBy: 'no assignment' };
  const r = subdevicesThatFit(shape);
  return { subdevices: r.subdevices, limitedBy: r.limitedBy };
}

/** Per vector, outcomes (delivered, coalesced, lost) beyond its raises: each is a raise that
 *  reached the guest twice. 0 while the model keeps `never-duplicated`. */
const duplicatedOf = (sim: SimResult): number =>
  sim.vectors.reduce((n, v) => n + Math.max(0, v.delivered + v.coalesced + v.lost - v.raised), 0);

/** Register accesses on a trapped MSI-X table page: the device shares the page (and the table is
 *  not relocated), the guest sees the device's own MSI-X table (guest and backing `msix`, so the
 *  BAR layout is the device's), and the strategy traps the table. One msixTableAccess exit per
 *  access at the device's `tablePageRegisterRate` over the run, per such assignment. */
function tablePageRegisterExits(s: Scenario, strategy: StrategyName, costs: Costs) {
  const notes: string[] = [];
  let exits = 0;
  if (!trapPolicy(strategy).msixTableTrapped) return { exits, notes };
  const costNs = exitCostNs('msixTableAccess', costs);
  for (const vm of s.vms) {
    for (const a of vm.assign) {
      const d = s.devices.find((x) => x.name === a.device);
      if (!d?.msixTableSharesPage || d.relocateMsix) continue;
      if (a.guest !== 'msix' || a.backing !== 'msix') continue;
      const n = Math.round(((d.tablePageRegisterRate ?? 0) * s.run.duration) / 1e9);
      exits += n;
      notes.push(
        `${vm.name}/${d.name}: the MSI-X table shares its page with registers: each register access on it traps (${Math.round(costNs)} ns), ${n} in this run; relocateMsix: true avoids it`,
      );
    }
  }
  return { exits, notes };
}
