// One check of a scenario, what `irqlab check` prints (and what the web page can call): per
// strategy ONE build and workload run (`build.ts`, as `run-strategy.ts` does), then the
// explorer over the machine from the state after setup (`check/machine-model.ts`), bounded by
// the file's `check:` section, once per property (`check/machine-properties.ts`), so each
// property gets its own verdict and figures and a violation of one does not cut the search for
// another short.
//   bounds   raises (in total or per vector) of the vectors the workload's sources drive (all
//            assigned vectors when it has none); each workload input as often as
//            `check.operations` allows, kept in the workload's order per vector, vCPU or store;
//   actors   device (raises), driver (mask, unmask, set-affinity, hot-unplug), migration (the
//            host scheduler's vCPU moves), iec-eviction (the IEC dropping a cached entry),
// A counterexample is the list of actions from the state after setup (the model's own words),
// each with the state words it changed, named by the machine's regions; `replays` keeps the
// actions so a caller can run them through the simulator (`sim/system-sim.ts replaySystem`).
// A strategy the scenario's rules reject carries `{ error }`, as in compare.
//   hostile  the hostile VMs (vms[].hostile) write messages of their adversarial set into the
//            entries they reach directly (`hv/isolation.ts`); a counterexample with such a
//            write is not replayed (no simulator makes them).
// Not here: rendering (`report/check-text.ts`), the `mutate:` section.

import { type Bound, type ExploreOptions, explore, type Verdict } from '../check/explore.js';
import { type CheckInput, type HostileWrite, machineCheckModel } from '../check/machine-model.js';
import { MACHINE_PROPERTIES, type MachinePropertyName } from '../check/machine-properties.js';
import type { StoreKind } from '../check/visited-set.js';
import { adversarialMessages, vmReach } from '../hv/isolation.js';
import { RuleError } from '../hw/errors.js';
import { IRTE_DWORDS } from '../hw/vtd/irte.js';
import { APIC_REG_DWORDS } from '../hw/x86/lapic.js';
import { PID_DWORDS } from '../hw/x86/posted-descriptor.js';
import { programStepNames } from '../machine/programs.js';
import { ACTION, type ActionKind, type SystemAction } from '../machine/system-actions.js';
import { createEventLog, eventsOf } from '../machine/system-events.js';
import {
  GUEST_APIC_DWORDS,
  ROUTE_DWORDS,
  type SystemLayout,
  type SystemTopology,
  THREAD_DWORDS,
  TRAP_DWORDS,
  VECTOR_COUNTER_DWORDS,
  VECTOR_COUNTERS,
  VMSIX_DWORDS,
} from '../machine/system-topology.js';
import type { SimInput } from '../sim/system-sim.js';
import { buildScenario, runWorkload } from './build.js';
import { ScenarioError, type ScenarioIssue } from './errors.js';
import { type ParsedScenario, parseScenario, ruleIssues } from './load.js';
import {
  type CHECK_OPERATIONS,
  type CheckSection,
  type Scenario,
  STRATEGIES,
  type Strategy,
} from './schema.js';

export interface CheckOptions {
  readonly strategies?: readonly Strategy[];
  /** Only this property (default: the section's). */
  readonly property?: MachinePropertyName;
  readonly search?: ExploreOptions['search'];
  readonly por?: boolean;
  /** Overrides `check.maxStates`. */
  readonly maxStates?: number;
  readonly store?: StoreKind;
  /** Bytes one search's arrays may hold (default CHECK_BYTES_MAX). */
  readonly maxBytes?: number;
  readonly onProgress?: ExploreOptions['onProgress'];
}

/** Bytes one search may hold (visited set, stacks, queue): a machine state is a kilobyte or so,
 *  so a million of them with the BFS queue would pass what a laptop has; past this the search
 *  ends incomplete (memory) instead. */
export const CHECK_BYTES_MAX = 2 ** 30;

/** One word a step changed: the machine region (or check word) and the offset in it. */
export interface WordChange {
  readonly word: string;
  readonly from: number;
  readonly to: number;
}

export interface CounterexampleStep {
  readonly step: number;
  readonly action: string;
  /** The events the step produced, by name and arguments. */
  readonly events: readonly string[];
  readonly changed: readonly WordChange[];
}

export interface PropertyCheck {
  readonly verdict: Verdict;
  readonly states: number;
  readonly transitions: number;
  readonly depth: number;
  readonly seconds: number;
  readonly store: StoreKind;
  readonly search: 'dfs' | 'bfs';
  readonly por: boolean;
  /** What stopped the search (incomplete): max-states, max-depth or memory. */
  readonly bound: Bound | null;
  readonly bytesPerState: number;
  readonly counterexample: readonly CounterexampleStep[] | null;
}

export type CheckEntry =
  | { readonly properties: Record<string, PropertyCheck> }
  | { readonly error: { readonly rule: string; readonly message: string } };

export interface CheckScenarioResult {
  readonly scenario: string;
  readonly verdict: Verdict;
  readonly strategies: Record<string, CheckEntry>;
}

/** What replays a counterexample: the strategy's state after setup and the actions. */
export interface CheckReplay {
  readonly scenario: Scenario;
  readonly strategy: Strategy;
  readonly property: string;
  readonly input: SimInput;
  readonly actions: readonly SystemAction[];
}

/** Which actor each workload input belongs to and which `check.operations` entry bounds it. */
const INPUT_OPERATION: Readonly<
  Partial<Record<ActionKind, { operation: (typeof CHECK_OPERATIONS)[number]; actor: string }>>
> = {
  [ACTION.mask]: { operation: 'mask', actor: 'driver' },
  [ACTION.unmask]: { operation: 'unmask', actor: 'driver' },
  [ACTION.setAffinity]: { operation: 'set-affinity', actor: 'driver' },
  [ACTION.hotUnplug]: { operation: 'hot-unplug', actor: 'driver' },
  [ACTION.vcpuMigrate]: { operation: 'migrate-vcpu', actor: 'migration' },
};

/** Checks `text` (a scenario file with a `check:` section) under each strategy. */
export function checkScenario(
  text: string,
  file: string,
  opts: CheckOptions = {},
): { result: CheckScenarioResult; replays: CheckReplay[] } {
  const parsed = parseScenario(text, file);
  const section = checkSectionOf(parsed);
  const mutation = mutationOf(parsed, section);
  const strategies: Record<string, CheckEntry> = {};
  const replays: CheckReplay[] = [];
  for (const strategy of opts.strategies ?? STRATEGIES) {
    const { scenario, issues } = ruleIssues(parsed, { strategy });
    if (issues.length > 0) {
      const first = new ScenarioError(issues);
      strategies[strategy] = { error: { rule: first.rule, message: first.message.split('\n')[0] } };
      continue;
    }
    try {
      strategies[strategy] = checkStrategy(scenario, strategy, section, mutation, opts, replays);
    } catch (e) {
      if (!(e instanceof RuleError)) throw e;
      strategies[strategy] = { error: { rule: e.rule, message: e.message.split('\n')[0] } };
    }
  }
  const name = parsed.scenario.name ?? file.replace(/^.*\//, '').replace(/\.ya?ml$/, '');
  return { result: { scenario: name, verdict: overallVerdict(strategies), strategies }, replays };
}

/** What `check.mutate` changes, as the machine keys it: the steps left out, the steps run in
 *  each other's place. A name that is no `program/step`, or a swap across two programs, is the
 *  scenario's error, located. */
interface Mutation {
  readonly dropped: ReadonlySet<number>;
  readonly swapped: ReadonlyMap<number, number>;
}

function mutationOf(parsed: ParsedScenario, section: CheckSection): Mutation {
  const steps = programStepNames();
  const byName = new Map(steps.map((st) => [st.name, st]));
  const issues: ScenarioIssue[] = [];
  const lookup = (name: string, path: (string | number)[]) => {
    const st = byName.get(name);
    if (st === undefined) {
      issues.push({
        ...parsed.at(path),
        rule: 'check-mutate-step',
        problem: `"${name}" is no step of a step program: ${candidatesOf(name, steps)}`,
      });
    }
    return st;
  };
  const dropped = new Set<number>();
  const swapped = new Map<number, number>();
  section.mutate.forEach((m, i) => {
    if ('drop' in m) {
      const st = lookup(m.drop, ['check', 'mutate', i, 'drop']);
      if (st !== undefined) dropped.add(st.key);
      return;
    }
    const [a, b] = m.swap.map((name, j) => lookup(name, ['check', 'mutate', i, 'swap', j]));
    if (a === undefined || b === undefined) return;
    if (a.program !== b.program) {
      issues.push({
        ...parsed.at(['check', 'mutate', i, 'swap']),
        rule: 'check-mutate-step',
        problem: `"${m.swap[0]}" and "${m.swap[1]}" are steps of two programs: a swap is within one`,
      });
      return;
    }
    swapped.set(a.key, b.pc);
    swapped.set(b.key, a.pc);
  });
  if (issues.length > 0) throw new ScenarioError(issues);
  return { dropped, swapped };
}

/** What a misspelt `program/step` may have meant: the steps of the program it names, or the
 *  programs. */
function candidatesOf(name: string, steps: readonly { name: string }[]): string {
  const program = name.slice(0, name.indexOf('/') + 1);
  const same = steps.filter((st) => program !== '' && st.name.startsWith(program));
  if (same.length > 0) return `its steps are ${same.map((st) => st.name).join(', ')}`;
  const programs = [...new Set(steps.map((st) => st.name.slice(0, st.name.indexOf('/'))))];
  return `the programs are ${programs.join(', ')} (write program/step)`;
}

/** The workload's run with the machine mutated: the same words over a topology that says what
 *  is left out and swapped, so the explorer and the simulator's replay both run the mutant. */
function mutated(input: SimInput, m: Mutation): SimInput {
  if (m.dropped.size === 0 && m.swapped.size === 0) return input;
  const topology = { ...input.initial.topology, droppedSteps: m.dropped, swappedSteps: m.swapped };
  return { ...input, initial: { topology, words: input.initial.words.slice() } };
}

function checkSectionOf(parsed: ParsedScenario): CheckSection {
  const section = parsed.scenario.check;
  if (section !== undefined) return section;
  throw new ScenarioError([
    {
      ...parsed.at([]),
      rule: 'check-section',
      problem: 'no `check:` section: irqlab check needs its bounds (raises, operations, actors)',
    },
  ]);
}

/** violated if any property under any strategy is; else incomplete if any search stopped at a
 *  bound (or nothing could be checked); else holds. */
export function overallVerdict(strategies: Record<string, CheckEntry>): Verdict {
  const verdicts = Object.values(strategies).flatMap((e) =>
    'properties' in e ? Object.values(e.properties).map((p) => p.verdict) : [],
  );
  if (verdicts.includes('violated')) return 'violated';
  if (verdicts.length === 0 || verdicts.includes('incomplete')) return 'incomplete';
  return 'holds';
}

function checkStrategy(
  s: Scenario,
  strategy: Strategy,
  section: CheckSection,
  mutation: Mutation,
  opts: CheckOptions,
  replays: CheckReplay[],
): CheckEntry {
  const built = buildScenario(s, { strategy });
  const input = mutated(runWorkload(built), mutation);
  const spec = { ...checkSpecOf(input, section), hostile: hostileOf(s, strategy, input, section) };
  const model = machineCheckModel(`${s.name ?? 'check'}/${strategy}`, input.initial, spec, [
    ...MACHINE_PROPERTIES,
  ]);
  const names = opts.property === undefined ? section.properties : [opts.property];
  const properties: Record<string, PropertyCheck> = {};
  for (const property of names) {
    const r = explore(model.packed, {
      properties: [property],
      search: opts.search,
      por: opts.por,
      store: opts.store,
      maxStates: opts.maxStates ?? section.maxStates,
      maxBytes: opts.maxBytes ?? CHECK_BYTES_MAX,
      onProgress: opts.onProgress,
    });
    let counterexample: CounterexampleStep[] | null = null;
    if (r.counterexample !== null) {
      const indices = r.counterexample.map((st) => st.action);
      const { actions, hostile } = model.replay(indices);
      if (!hostile) replays.push({ scenario: s, strategy, property, input, actions });
      counterexample = describeCounterexample(model, indices, r.counterexample);
    }
    properties[property] = {
      verdict: r.verdict,
      states: r.states,
      transitions: r.transitions,
      depth: r.maxDepth,
      seconds: r.seconds,
      store: r.store,
      search: r.search,
      por: r.por,
      bound: r.bound,
      bytesPerState: r.bytesPerState,
      counterexample,
    };
  }
  return { properties };
}

/** The explorer's bounds from the `check:` section over the workload the guest kernels ran. */
function checkSpecOf(input: SimInput, section: CheckSection) {
  const actors = new Set<string>(section.actors);
  const driven = [...new Set(input.sources.map((src) => src.vector))];
  const all = input.initial.topology.vectors.map((_, i) => i);
  const raisable = actors.has('device') ? (driven.length > 0 ? driven : all) : [];
  const inputs: CheckInput[] = input.inputs.flatMap((i) => {
    const op = INPUT_OPERATION[i.kind];
    if (op === undefined || !actors.has(op.actor)) return [];
    const times = section.operations[op.operation];
    return times === 0 ? [] : [{ kind: i.kind, a: i.a, b: i.b, times }];
  });
  const raises = typeof section.raises === 'number' ? { total: section.raises } : section.raises;
  return { raises, raisable, inputs, iecEviction: actors.has('iec-eviction') };
}

/** The hostile actor's writes: for each hostile VM, the first `check.hostile.messages` of its
 *  adversarial set into the first entry of each store it writes directly (none where the
 *  strategy traps the table: emulate, vir). */
function hostileOf(s: Scenario, strategy: Strategy, input: SimInput, section: CheckSection) {
  if (!section.actors.includes('hostile')) return undefined;
  const writes: HostileWrite[] = s.vms.flatMap((vm, v) => {
    if (!vm.hostile) return [];
    const messages = adversarialMessages(input.initial, v).slice(0, section.hostile.messages);
    return vmReach(input.initial, v, strategy).direct.flatMap((surface) =>
      messages.map((message) => ({ store: surface.store, entry: surface.entries[0], message })),
    );
  });
  return { writes, budget: section.hostile.writes };
}

function describeCounterexample(
  model: ReturnType<typeof machineCheckModel>,
  indices: readonly number[],
  steps: readonly { label: string }[],
): CounterexampleStep[] {
  const names = regionNames(model.model.init().system.topology, model.layout);
  const s = model.model.init();
  const log = createEventLog();
  return indices.map((index, i) => {
    const before = s.words.slice();
    const a = model.model.enabled(s)[index];
    log.length = 0;
    model.model.step(s, a, log);
    const changed: WordChange[] = [];
    for (let w = 0; w < before.length; w++) {
      if (before[w] !== s.words[w])
        changed.push({ word: names(w), from: before[w], to: s.words[w] });
    }
    const events = eventsOf(log).map((e) => `${e.kind}(${e.args.join(', ')})`);
    return { step: i + 1, action: steps[i].label, events, changed };
  });
}

type Namer = (t: SystemTopology, i: number) => string;
const vcpuName: Namer = (t, i) => t.vcpus[i].name;
const vectorName: Namer = (t, i) => t.vectors[i].name;
const irteName: Namer = (_, i) => `IRTE ${i}`;
const cpuName: Namer = (_, i) => `cpu${i}`;

/** The layout's regions made of one item per IRTE, pCPU, vCPU, vector or thread: the item's size
 *  in words, its name and, where the words have names, theirs; so a changed word reads
 *  `vcpuPid[vm0/vcpu0]+8` (the descriptor's ON, SN and NV; +9 is NDST) or
 *  `vectorCounters[vm0/nic0-vf0/0].delivered`. */
const ITEMS: Partial<
  Record<keyof SystemLayout, { dwords: number; name: Namer; words?: readonly string[] }>
> = {
  irt: { dwords: IRTE_DWORDS, name: irteName },
  iecCopy: { dwords: IRTE_DWORDS, name: irteName },
  pcpuIrr: { dwords: APIC_REG_DWORDS, name: cpuName },
  pcpuMode: { dwords: 1, name: cpuName },
  vcpuPid: { dwords: PID_DWORDS, name: vcpuName },
  vcpuVirr: { dwords: APIC_REG_DWORDS, name: vcpuName },
  vcpuRun: { dwords: 1, name: vcpuName },
  vcpuTrap: { dwords: TRAP_DWORDS, name: vcpuName },
  vectorRoute: { dwords: ROUTE_DWORDS, name: vectorName },
  guestApic: { dwords: GUEST_APIC_DWORDS, name: vectorName, words: ['current', 'previous'] },
  vectorCounters: {
    dwords: VECTOR_COUNTER_DWORDS,
    name: vectorName,
    words: Object.keys(VECTOR_COUNTERS),
  },
  vmsix: { dwords: VMSIX_DWORDS, name: vectorName },
  guestIrte: { dwords: IRTE_DWORDS, name: vectorName },
  threads: { dwords: THREAD_DWORDS, name: (t, i) => t.threads[i].name },
};

/** A word's name: the machine region it lies in (the layout's, a store's, a port's FIFO) or the
 *  check's own (budget, inputs, hostile writes, ghost), with the item and the offset into it. */
function regionNames(
  t: SystemTopology,
  layout: ReturnType<typeof machineCheckModel>['layout'],
): (word: number) => string {
  const starts: [number, string][] = [];
  for (const [name, at] of Object.entries(t.layout)) if (name !== 'words') starts.push([at, name]);
  for (const st of t.stores) {
    starts.push([st.entriesAt, `${st.name}.entries`], [st.pendingAt, `${st.name}.pending`]);
    if (st.controlAt >= 0) starts.push([st.controlAt, `${st.name}.control`]);
    starts.push([st.unpluggedAt, `${st.name}.unplugged`]);
  }
  for (const p of t.ports) starts.push([p.fifoAt, `${p.name}.fifo`]);
  starts.push([layout.budget, 'check.raisesLeft'], [layout.inputs, 'check.inputsLeft']);
  if (layout.ghost > layout.hostile) starts.push([layout.hostile, 'check.hostileWritesLeft']);
  starts.push([layout.ghost, 'check.ghost']);
  starts.sort((x, y) => x[0] - y[0]);
  return (word) => {
    let best = starts[0];
    for (const st of starts) if (st[0] <= word) best = st;
    const [at, region] = best;
    const items = ITEMS[region as keyof SystemLayout];
    if (items === undefined) return word === at ? region : `${region}+${word - at}`;
    const item = Math.floor((word - at) / items.dwords);
    const within = (word - at) % items.dwords;
    const base = `${region}[${items.name(t, item)}]`;
    if (items.words !== undefined) return `${base}.${items.words[within]}`;
    return within === 0 ? base : `${base}+${within}`;
  };
}
