// The whole-system machine (`machine/system.ts`) as a bounded model for the explorer: every
// interleaving of the system's own actions, device raises within a budget and the workload's
// inputs (each carrying the guest kernel's decision, as `scenario/build.ts runWorkload` made it)
// a bounded number of times, in the workload's order per subject (a vector's mask, move and
// unmask keep their order; different vectors and vCPUs interleave freely).
//
// State: the machine's words followed by the check's own words, in one Uint32Array:
//   raise budget   one word (raises left in total) or one per raisable vector;
//   inputs         per workload input, how many more times it may be offered;
//   ghost          verdict bits the properties read that the machine's words cannot show once
//                  the step is over (a guest handler that found no owner, a posted notification
//                  sent to a pCPU its vCPU is not on), set from the step's events.
// The topology (CPUs, stores, vectors, threads) stays outside the state, shared by every state.
// What the explorer stores is the state without the words a run cannot change: the host IRTEs,
// their IEC copies and IEC valid/flush bits at indices no assigned vector owns (vir-direct sets a
// window of thousands aside for the guests' handles; the data plane writes host IRTEs only at the
// assigned vectors' indices, `kvm-irq-bypass.ts`). A step that cached or flushed such an index
// would change them: asserted after every step, so the projection never hides a state.
// Invariants: the machine part is exactly `SystemState.words` (systemStep runs on a view of it);
// the action order is fixed by the state (the system's own, then raises, then inputs, as
// `systemEnabled` orders them), so a counterexample is a list of indices any engine replays.
// A hostile guest (the `hostile` actor) writes, at any time and up to a budget, any message of
// `hv/isolation-probes.ts`'s adversarial set into the entries it reaches directly; the device's
// raises then send it through the real delivery path, interleaved with everything else.
// Not here: the properties (`machine-properties.ts`), POR (the machine declares no action
// independent, so the search is full).

import { type ProbeMessage, writeEntry } from '../hv/isolation.js';
import { assert } from '../hw/errors.js';
import { IRTE_DWORDS } from '../hw/vtd/irte.js';
import {
  currentTarget,
  previousHeld,
  previousTarget,
  retriggerMark,
} from '../machine/guest-vector.js';
import {
  describeSystemAction,
  systemEnabled,
  systemIsEnabled,
  systemStep,
} from '../machine/system.js';
import {
  ACTION,
  ACTION_NAMES,
  ACTION_OPERANDS,
  type ActionKind,
  type SystemAction,
} from '../machine/system-actions.js';
import {
  clearEvents,
  createEventLog,
  EVENT,
  EVENT_ARGS,
  type EventLog,
} from '../machine/system-events.js';
import {
  POSTED_INTR_VECTOR,
  RETRIGGER_MARK,
  type SystemState,
  VCPU_STATE,
  vcpuPcpu,
  vcpuState,
} from '../machine/system-state.js';
import { NO_VECTOR, type SystemTopology } from '../machine/system-topology.js';
import type { Model, PackedModel, Property } from '../sim/model.js';
import { packModel } from './model-adapter.js';

/** A workload input the check may offer: the action (with the guest kernel's decision in `b`)
 *  and how many times it may happen. */
export interface CheckInput {
  readonly kind: ActionKind;
  readonly a: number;
  readonly b: number;
  readonly times: number;
}

export interface MachineCheckSpec {
  /** Raises left in total, or per raisable vector. */
  readonly raises: { readonly total: number } | { readonly perVector: number };
  /** Assigned vectors a device may raise (indices into the topology's vectors). */
  readonly raisable: readonly number[];
  readonly inputs: readonly CheckInput[];
  /** Whether the IEC may drop a cached IRTE on its own (`iecEvict`). */
  readonly iecEviction: boolean;
  /** A hostile guest's writes into the entries it reaches directly (`hv/isolation.ts vmReach`),
   *  any of them at any time, at most `budget` in all. */
  readonly hostile?: { readonly writes: readonly HostileWrite[]; readonly budget: number };
}

/** One message a hostile guest may write into an entry of a store it writes directly. */
export interface HostileWrite {
  readonly store: number;
  readonly entry: number;
  readonly message: ProbeMessage;
}

/** Ghost bits of the check's state (GHOST word). */
export const GHOST = { misdirected: 1, notificationMisdirected: 2, crossedVm: 4 } as const;

/** Where the check's own words sit after the machine's. */
export interface MachineCheckLayout {
  readonly machineWords: number;
  readonly budget: number;
  readonly budgetWords: number;
  readonly inputs: number;
  /** Hostile writes left (one word, present only with a hostile actor). */
  readonly hostile: number;
  readonly ghost: number;
  readonly words: number;
}

/** One state of the check: the machine's state (its words a view of `words`) and the whole. */
export interface CheckState {
  readonly system: SystemState;
  readonly words: Uint32Array;
}

function layoutOf(machineWords: number, spec: MachineCheckSpec): MachineCheckLayout {
  const budgetWords = 'total' in spec.raises ? 1 : spec.raisable.length;
  const budget = machineWords;
  const inputs = budget + budgetWords;
  const hostile = inputs + spec.inputs.length;
  const ghost = hostile + (spec.hostile === undefined ? 0 : 1);
  return { machineWords, budget, budgetWords, inputs, hostile, ghost, words: ghost + 1 };
}

function checkState(initial: SystemState, layout: MachineCheckLayout): CheckState {
  const words = new Uint32Array(layout.words);
  words.set(initial.words);
  return {
    words,
    system: { topology: initial.topology, words: words.subarray(0, layout.machineWords) },
  };
}

/** What an input's ordering is kept within: its `a` operand (the vector, vCPU or store). */
const subjectOf = (i: CheckInput): string =>
  `${ACTION_OPERANDS[ACTION_NAMES[i.kind] as keyof typeof ACTION_OPERANDS][0]}:${i.a}`;

/** An action of the check: the machine's, and which workload input it is (-1: none), so two
 *  inputs with the same action stay apart; or a hostile write (`hostile` its index, `action`
 *  unused): the guest's store into device memory, which no engine but the explorer makes. */
export interface CheckAction {
  readonly action: SystemAction;
  readonly input: number;
  readonly hostile: number;
}

/** The words the explorer stores (indices into a check state's words): all but the host IRTEs,
 *  their IEC copies and the IEC's valid bits at indices no assigned vector owns; and,
 *  for the guard, those bits as (word, mask) pairs (a bitmap word all of whose indices are
 *  unowned is left out too: the guard holds it at zero). */
function projection(t: SystemTopology, layout: MachineCheckLayout) {
  const constant = new Uint8Array(layout.words);
  const unowned = new Map<number, number>();
  for (let i = 0; i < t.irtEntries; i++) {
    if (t.irteOwner[i] >= 0) continue;
    for (let d = 0; d < IRTE_DWORDS; d++) {
      constant[t.layout.irt + i * IRTE_DWORDS + d] = 1;
      constant[t.layout.iecCopy + i * IRTE_DWORDS + d] = 1;
    }
    const word = t.layout.iecValid + (i >>> 5);
    unowned.set(word, ((unowned.get(word) ?? 0) | (1 << (i & 31))) >>> 0);
  }
  const guard: number[] = [];
  for (const [word, mask] of unowned) {
    guard.push(word, mask);
    if (mask === 0xffffffff) constant[word] = 1;
  }
  const kept: number[] = [];
  constant.forEach((c, i) => {
    if (c === 0) kept.push(i);
  });
  return { kept: Int32Array.from(kept), guard: Int32Array.from(guard) };
}

/** Asserts that no step cached an IRTE index the projection leaves out. */
function checkGuard(words: Uint32Array, guard: Int32Array): void {
  for (let i = 0; i < guard.length; i += 2) {
    assert(
      (words[guard[i]] & guard[i + 1]) === 0,
      'check: a step cached an IRTE index no vector owns',
    );
  }
}

/** The action slot of a hostile write (it is no machine action). */
const NO_ACTION: SystemAction = { kind: ACTION.apicDeliver, a: -1, b: -1 };

export interface MachineCheckModel {
  readonly model: Model<CheckState, CheckAction, EventLog>;
  readonly packed: PackedModel;
  readonly layout: MachineCheckLayout;
  /** The system actions of a counterexample (its indices replayed from the initial state), and
   *  the state it ends in. */
  replay(trace: readonly number[]): {
    actions: SystemAction[];
    /** Whether a hostile write is among them (no simulator replays those). */
    hostile: boolean;
    end: CheckState;
  };
}

/** The bounded model of `initial` (a built scenario's state after setup) under `spec`. */
export function machineCheckModel(
  name: string,
  initial: SystemState,
  spec: MachineCheckSpec,
  properties: readonly Property<CheckState>[],
): MachineCheckModel {
  const t = initial.topology;
  const layout = layoutOf(initial.words.length, spec);
  // A raise action names (store, entry); its budget word is the vector's (or the one total).
  // Keyed by number, not string: it is read for every raise of every state explored.
  const budgetSlot = new Map<number, number>();
  spec.raisable.forEach((v, i) => {
    const vec = t.vectors[v];
    budgetSlot.set(raiseKey(vec.store, vec.entry), 'total' in spec.raises ? 0 : i);
  });
  const { kept, guard } = projection(t, layout);
  const start = checkState(initial, layout);
  const perVector = 'perVector' in spec.raises ? spec.raises.perVector : 0;
  for (let i = 0; i < layout.budgetWords; i++) {
    start.words[layout.budget + i] = 'total' in spec.raises ? spec.raises.total : perVector;
  }
  spec.inputs.forEach((input, i) => {
    start.words[layout.inputs + i] = input.times;
  });
  const hostileWrites = spec.hostile?.writes ?? [];
  if (spec.hostile !== undefined) start.words[layout.hostile] = spec.hostile.budget;
  const subjects = spec.inputs.map(subjectOf);
  const earlierSameSubject = spec.inputs.map((_, i) =>
    subjects.flatMap((s, j) => (j < i && s === subjects[i] ? [j] : [])),
  );
  const inputActions = spec.inputs.map((i) => ({ kind: i.kind, a: i.a, b: i.b }));

  const inputOffered = (s: CheckState, i: number): boolean => {
    const w = s.words;
    if (w[layout.inputs + i] === 0) return false;
    for (const j of earlierSameSubject[i]) {
      if (w[layout.inputs + j] === spec.inputs[j].times) return false;
    }
    return systemIsEnabled(s.system, inputActions[i]);
  };

  const enabled = (s: CheckState): CheckAction[] => {
    const out: CheckAction[] = [];
    for (const a of systemEnabled(s.system)) {
      if (a.kind === ACTION.iecEvict && !spec.iecEviction) continue;
      if (a.kind === ACTION.raise) {
        const slot = budgetSlot.get(raiseKey(a.a, a.b));
        if (slot === undefined || s.words[layout.budget + slot] === 0) continue;
      }
      out.push({ action: a, input: -1, hostile: -1 });
    }
    for (let i = 0; i < inputActions.length; i++) {
      if (inputOffered(s, i)) out.push({ action: inputActions[i], input: i, hostile: -1 });
    }
    if (hostileWrites.length > 0 && s.words[layout.hostile] > 0) {
      hostileWrites.forEach((_, i) => {
        out.push({ action: NO_ACTION, input: -1, hostile: i });
      });
    }
    return out;
  };

  const step = (s: CheckState, { action: a, input, hostile }: CheckAction, log: EventLog) => {
    const from = log.length;
    if (hostile >= 0) {
      const h = hostileWrites[hostile];
      writeEntry(s.system, t.stores[h.store], h.entry, h.message);
      s.words[layout.hostile]--;
      return;
    }
    systemStep(s.system, a, log);
    if (input >= 0) s.words[layout.inputs + input]--;
    else if (a.kind === ACTION.raise) {
      s.words[layout.budget + (budgetSlot.get(raiseKey(a.a, a.b)) as number)]--;
    }
    s.words[layout.ghost] |= ghostBits(s.system, log, from);
    checkGuard(s.words, guard);
  };
  const compact = new Uint32Array(kept.length);

  const model: Model<CheckState, CheckAction, EventLog> = {
    init: () => copy(start),
    enabled,
    step,
    clone: (s) => copy(s),
    encode(s) {
      for (let i = 0; i < kept.length; i++) compact[i] = s.words[kept[i]];
      return compact;
    },
    decode(_like, words) {
      assert(words.length === kept.length, 'decode: encoding of another check');
      const c = copy(start);
      for (let i = 0; i < kept.length; i++) c.words[kept[i]] = words[i];
      return c;
    },
    load(s, words) {
      for (let i = 0; i < kept.length; i++) s.words[kept[i]] = words[i];
    },
    describeAction: (s, a) => {
      if (a.hostile >= 0) {
        const h = hostileWrites[a.hostile];
        return `hostile write ${t.stores[h.store].name} entry ${h.entry}: ${h.message.label} (addr 0x${h.message.addrLo.toString(16)}, data 0x${h.message.data.toString(16)})`;
      }
      const label = describeSystemAction(s.system, a.action);
      return a.input < 0 ? label : `${label} (workload input ${a.input + 1})`;
    },
    properties,
  };
  const sink = { events: createEventLog(), clear: clearEvents };
  const packed = packModel(name, model, sink);
  return {
    model,
    packed,
    layout,
    replay(trace) {
      const s = model.init();
      const log = createEventLog();
      const actions: SystemAction[] = [];
      let hostile = false;
      for (const index of trace) {
        const a = model.enabled(s)[index];
        assert(a !== undefined, `replay: no action ${index}`);
        if (a.hostile >= 0) hostile = true;
        else actions.push(a.action);
        model.step(s, a, log);
        clearEvents(log);
      }
      return { actions, hostile, end: s };
    },
  };
}

/** A raise's (store, entry) as one number: a store has fewer than 2^16 entries (an MSI-X table
 *  at most 2,048, PCIe 7.7.2.2). */
const raiseKey = (store: number, entry: number): number => store * 0x10000 + entry;

function copy(s: CheckState): CheckState {
  const words = s.words.slice();
  const machineWords = s.system.words.length;
  return { words, system: { topology: s.system.topology, words: words.subarray(0, machineWords) } };
}

/** The ghost bits the events of one step set: a guest handler that found no owner for its
 *  vector or an interrupt posted where the guest does not expect it (`offTarget`), or a posted
 *  notification sent to a pCPU its vCPU is not on (not loaded there, or
 *  switched out runnable: the IPI finds nothing to do, a wasted interrupt). */
function ghostBits(s: SystemState, log: EventLog, from: number): number {
  let bits = 0;
  for (let i = from; i < log.length; i++) {
    const at = i * EVENT_ARGS;
    if (log.kind[i] === EVENT.misdirected || offTarget(s, log.kind[i], log.args, at)) {
      bits |= GHOST.misdirected;
    }
    if (crossesVm(s, log.kind[i], log.args, at)) bits |= GHOST.crossedVm;
    if (log.kind[i] === EVENT.piNotify) {
      const pcpu = log.args[at];
      const nv = log.args[at + 1];
      const v = log.args[at + 2];
      if (!notificationOnTarget(s, v, pcpu, nv)) bits |= GHOST.notificationMisdirected;
    }
  }
  return bits;
}

/** An interrupt raised by one VM's device (the message's tag, its assigned vector) posted to a
 *  vCPU of another VM, injected into one, or accepted by a host LAPIC on a host vector that is not
 *  its own (another VM's VFIO irq, or the host's): what `isolation` forbids. */
function crossesVm(s: SystemState, kind: number, args: Float64Array, at: number): boolean {
  const t = s.topology;
  const tagAt = CROSSING_TAG[kind];
  if (tagAt === undefined) return false;
  const tag = args[at + tagAt];
  if (tag === NO_VECTOR) return false;
  if (kind === EVENT.hostIrrSet) return t.hostVectorOwner[args[at] * 256 + args[at + 1]] !== tag;
  return t.vcpus[args[at]].vm !== t.vectors[tag].vm;
}

/** An interrupt posted or injected (the message's tag: its assigned vector) into a vCPU and
 *  guest vector of its own VM that the guest does not expect it on at this moment: neither the
 *  vector's current target, nor its previous one while the guest still holds it (a move in
 *  progress), nor the slot msi_set_affinity marked VECTOR_RETRIGGERED for it (the two-step's
 *  intermediate). A half-written pair, or a stale one after the old vector was freed. */
function offTarget(s: SystemState, kind: number, args: Float64Array, at: number): boolean {
  if (kind !== EVENT.posted && kind !== EVENT.kvmMsiSetIrq) return false;
  const t = s.topology;
  const tag = args[at + CROSSING_TAG[kind]];
  if (tag === NO_VECTOR || t.vcpus[args[at]].vm !== t.vectors[tag].vm) return false;
  const vcpu = t.vcpus[args[at]].index;
  // posted: (vCPU, guest vector, ...); kvmMsiSetIrq: (vCPU, address, data): the vector in data
  const vector = kind === EVENT.posted ? args[at + 1] : args[at + 2] % 256;
  const now = currentTarget(s, tag);
  if (now.vcpu === vcpu && now.vector === vector) return false;
  const old = previousTarget(s, tag);
  if (previousHeld(s, tag) && old.vcpu === vcpu && old.vector === vector) return false;
  return !(
    retriggerMark(s, tag) !== RETRIGGER_MARK.none &&
    old.vcpu === vcpu &&
    now.vector === vector
  );
}

/** Per event kind that delivers somewhere, the argument holding the sender's vector (the rest:
 *  posted and kvmMsiSetIrq name the vCPU in their first argument, hostIrrSet the CPU and vector). */
const CROSSING_TAG: Readonly<Record<number, number>> = {
  [EVENT.posted]: 2,
  [EVENT.kvmMsiSetIrq]: 3,
  [EVENT.hostIrrSet]: 2,
};

/** A notification on POSTED_INTR_VECTOR must reach the pCPU the vCPU is loaded on; one on the
 *  wake-up vector the pCPU whose wake-up list the blocked vCPU is on (vcpu->cpu). */
function notificationOnTarget(s: SystemState, v: number, pcpu: number, nv: number): boolean {
  if (vcpuPcpu(s, v) !== pcpu) return false;
  const state = vcpuState(s, v);
  if (nv === POSTED_INTR_VECTOR) return state === VCPU_STATE.inGuest || state === VCPU_STATE.inHost;
  return state === VCPU_STATE.blocked;
}
