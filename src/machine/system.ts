// The whole-system model: host CPUs with LAPICs, the VT-d remapping unit (IR and posted
// interrupts on or off), devices (MSI-X tables, IMS stores, MSI, INTx pins) with their requester
// FIFOs, VMs whose vCPUs each have a posted-interrupt descriptor and a virtual APIC, and KVM's
// MSI routes. It satisfies `Model<SystemState, SystemAction, EventLog>` of `sim/model.ts`
// structurally (hv sits below sim and does not import it).
//
// One step = one action (system-actions.ts), applied in place; what happened is appended to the
// event log. `systemEnabled` lists the system's own actions in an order fixed by the state
// (kind, then index); workload inputs are injected by the engines.
// Invariants (checked by `systemProperties`): for every assigned vector, delivered + coalesced +
// lost never exceeds raised (nothing is delivered twice); at quiescence they are equal.
// Not here: how the state is first programmed (`flows.ts`: the kernels, VFIO and KVM), timing
// and cost (the engines).

import { assert } from '../hw/errors.js';
import { guestOpCanStart } from './guest-op.js';
import { guestDeliverableVector, guestEoi, guestHandle } from './guest-vector.js';
import { guestBusyOn } from './guest-work.js';
import { pcpuInterrupt } from './host-irq.js';
import { describeQiHead, irLockFree, qiProcess, qiProcessEnabled } from './host-qi.js';
import { vcpuEnter, vcpuHalt, vcpuMigratable, vcpuMigrate } from './kvm-posted-intr.js';
import { describeThreadStep, guestIrqsOffOn, threadEnabled, threadStep } from './programs.js';
import { vmmInterrupt } from './qemu-vfio-msix.js';
import { threadIdle } from './step-program.js';
import {
  ACTION,
  ACTION_NAMES,
  affinityVcpu,
  affinityVector,
  type SystemAction,
} from './system-actions.js';
import {
  apicDeliver,
  iecCached,
  iecEvict,
  portDeliver,
  portPending,
  storeRaise,
  upstreamCount,
  vectorCounter,
} from './system-delivery.js';
import { clearEvents, createEventLog, type EventLog } from './system-events.js';
import { testBit } from './system-fields.js';
import {
  cloneSystemState,
  type SystemState,
  VCPU_STATE,
  vcpuState,
  vcpuTarget,
  vmsixFlag,
} from './system-state.js';
import { UPSTREAM_DEPTH, VECTOR_COUNTERS } from './system-topology.js';
import { guestExecuting, pcpuIrrPending, vcpuInService, vcpuVirrPending } from './system-vcpu.js';
import { hotUnplug, setAffinity, setVectorMask } from './workload-inputs.js';

/** Applies one action in place (the simulator's and the explorer's only way forward). */
export function systemStep(s: SystemState, a: SystemAction, log: EventLog): void {
  switch (a.kind) {
    case ACTION.raise:
      storeRaise(s, log, a.a, a.b);
      return;
    case ACTION.deliver:
      portDeliver(s, log, a.a);
      return;
    case ACTION.pcpuInterrupt:
      pcpuInterrupt(s, log, a.a);
      return;
    case ACTION.vcpuEnter:
      vcpuEnter(s, log, a.a);
      return;
    case ACTION.guestHandle:
      guestHandle(s, log, a.a);
      return;
    case ACTION.vcpuHalt:
      vcpuHalt(s, log, a.a);
      return;
    case ACTION.qiProcess:
      qiProcess(s, log);
      return;
    case ACTION.threadStep:
      threadStep(s, log, a.a);
      return;
    case ACTION.vmmInterrupt:
      vmmInterrupt(s, log, a.a);
      return;
    case ACTION.iecEvict:
      iecEvict(s, log, a.a);
      return;
    case ACTION.apicDeliver:
      apicDeliver(s, log);
      return;
    case ACTION.guestEoi:
      guestEoi(s, log, a.a);
      return;
    case ACTION.mask:
      setVectorMask(s, log, a.a, 'mask');
      return;
    case ACTION.unmask:
      setVectorMask(s, log, a.a, 'unmask');
      return;
    case ACTION.freeIrq:
      setVectorMask(s, log, a.a, 'free');
      return;
    case ACTION.requestIrq:
      setVectorMask(s, log, a.a, 'request');
      return;
    case ACTION.setAffinity:
      setAffinity(s, log, a.a, affinityVcpu(a.b), affinityVector(a.b));
      return;
    case ACTION.vcpuMigrate:
      vcpuMigrate(s, log, a.a, a.b);
      return;
    case ACTION.hotUnplug:
      hotUnplug(s, log, a.a);
      return;
  }
}

/** Whether the system's own action `a` can happen in `s` (inputs: always). */
export function systemIsEnabled(s: SystemState, a: SystemAction): boolean {
  const t = s.topology;
  switch (a.kind) {
    case ACTION.raise:
      return s.words[t.stores[a.a].unpluggedAt] === 0;
    case ACTION.deliver:
      // A full path to the LAPICs stalls the remapping unit.
      return portPending(s, a.a) > 0 && upstreamCount(s) < UPSTREAM_DEPTH;
    case ACTION.pcpuInterrupt:
      return pcpuIrrPending(s, a.a);
    case ACTION.vcpuEnter:
      return vcpuState(s, a.a) === VCPU_STATE.inHost && threadIdle(s, a.a);
    case ACTION.guestHandle:
      return (
        guestExecuting(s, a.a) && guestDeliverableVector(s, a.a) >= 0 && !guestIrqsOffOn(s, a.a)
      );
    case ACTION.vcpuHalt:
      return (
        t.vms[t.vcpus[a.a].vm].idle === 'halt' &&
        guestExecuting(s, a.a) &&
        !vcpuVirrPending(s, a.a) &&
        !vcpuInService(s, a.a) &&
        !guestBusyOn(s, a.a)
      );
    case ACTION.qiProcess:
      return qiProcessEnabled(s);
    case ACTION.threadStep:
      return threadEnabled(s, a.a);
    case ACTION.vmmInterrupt:
      return vmsixFlag(s, a.a, 'signalled');
    case ACTION.iecEvict:
      return iecCached(s, a.a);
    case ACTION.apicDeliver:
      return upstreamCount(s) > 0;
    case ACTION.guestEoi:
      return guestExecuting(s, a.a) && vcpuInService(s, a.a);
    case ACTION.mask:
    case ACTION.unmask:
    case ACTION.freeIrq:
    case ACTION.requestIrq:
      // A driver operation that is a step program waits for the previous one: guestOpCanStart.
      return (t.vectors[a.a].guestEntry ?? 'none') === 'none' || guestOpCanStart(s, a.a);
    case ACTION.setAffinity:
      // One action that may call modify_irte: it waits for irq_2_ir_lock (`host-qi.ts`).
      return (t.vectors[a.a].guestMove ?? 'none') === 'none'
        ? irLockFree(s)
        : guestOpCanStart(s, a.a);
    case ACTION.vcpuMigrate:
      return vcpuMigratable(s, a.a) && !pcpuTakenByOther(s, a.a, a.b);
    default:
      return true;
  }
}

function pcpuTakenByOther(s: SystemState, v: number, p: number): boolean {
  const t = s.topology;
  for (let other = 0; other < t.vcpus.length; other++) {
    if (other !== v && vcpuTarget(s, other) === p) return true;
  }
  return false;
}

/** Every enabled system action, in a fixed order: kind, then index. */
export function systemEnabled(s: SystemState): SystemAction[] {
  const t = s.topology;
  const out: SystemAction[] = [];
  // One candidate object asked about every action; only an enabled one is copied out (the
  // explorer lists the actions of every state it stores).
  const candidate: SystemAction = { kind: ACTION.raise, a: 0, b: 0 };
  const add = (kind: SystemAction['kind'], a: number, b = 0) => {
    candidate.kind = kind;
    candidate.a = a;
    candidate.b = b;
    if (systemIsEnabled(s, candidate)) out.push({ kind, a, b });
  };
  t.vectors.forEach((v) => {
    add(ACTION.raise, v.store, v.entry);
  });
  t.ports.forEach((_, p) => {
    add(ACTION.deliver, p);
  });
  for (let p = 0; p < t.host.cpus; p++) add(ACTION.pcpuInterrupt, p);
  t.vcpus.forEach((_, v) => {
    add(ACTION.vcpuEnter, v);
  });
  t.vcpus.forEach((_, v) => {
    add(ACTION.guestHandle, v);
  });
  t.vcpus.forEach((_, v) => {
    add(ACTION.vcpuHalt, v);
  });
  add(ACTION.qiProcess, 0);
  t.threads.forEach((_, i) => {
    add(ACTION.threadStep, i);
  });
  t.vectors.forEach((_, v) => {
    add(ACTION.vmmInterrupt, v);
  });
  // Only a cached index can be evicted: a zero word of the valid bitmap skips its 32 indices
  // (vir-direct's window holds thousands, a few of them cached).
  for (let i = 0; i < t.irtEntries; i++) {
    if ((i & 31) === 0 && s.words[t.layout.iecValid + (i >>> 5)] === 0) i += 31;
    else add(ACTION.iecEvict, i);
  }
  add(ACTION.apicDeliver, 0);
  t.vcpus.forEach((_, v) => {
    add(ACTION.guestEoi, v);
  });
  return out;
}

export function describeSystemAction(s: SystemState, a: SystemAction): string {
  const t = s.topology;
  const name = ACTION_NAMES[a.kind];
  switch (a.kind) {
    case ACTION.raise:
      return `${name} ${t.stores[a.a].name} entry ${a.b}`;
    case ACTION.deliver:
      return `${name} ${t.ports[a.a].name}`;
    case ACTION.pcpuInterrupt:
      return `${name} cpu${a.a}`;
    case ACTION.vcpuEnter:
    case ACTION.guestHandle:
    case ACTION.vcpuHalt:
    case ACTION.guestEoi:
      return `${name} ${t.vcpus[a.a].name}`;
    case ACTION.iecEvict:
      return `${name} IRTE ${a.a}`;
    case ACTION.qiProcess:
      return `${name} ${describeQiHead(s)}`;
    case ACTION.threadStep:
      return `${name} ${t.threads[a.a].name}: ${describeThreadStep(s, a.a)}`;
    case ACTION.vmmInterrupt:
      return `${name} ${t.vectors[a.a].name}`;
    case ACTION.mask:
    case ACTION.unmask:
    case ACTION.freeIrq:
    case ACTION.requestIrq:
      return `${name} ${t.vectors[a.a].name}`;
    case ACTION.setAffinity:
      return `${name} ${t.vectors[a.a].name} -> vcpu${affinityVcpu(a.b)} vector 0x${affinityVector(a.b).toString(16)}`;
    case ACTION.vcpuMigrate:
      return `${name} ${t.vcpus[a.a].name} -> cpu${a.b}`;
    case ACTION.hotUnplug:
      return `${name} ${t.stores[a.a].name}`;
    default:
      return name;
  }
}

/** Per assigned vector: raised, delivered, coalesced, lost so far. */
export function vectorOutcomes(s: SystemState, vector: number) {
  return {
    raised: vectorCounter(s, vector, VECTOR_COUNTERS.raised),
    delivered: vectorCounter(s, vector, VECTOR_COUNTERS.delivered),
    coalesced: vectorCounter(s, vector, VECTOR_COUNTERS.coalesced),
    lost: vectorCounter(s, vector, VECTOR_COUNTERS.lost),
  };
}

/** What the environment may do at any time, starting nothing that must finish: a device raising,
 *  the IEC evicting an entry. Quiescence and settling leave them out. */
const environmental = (a: SystemAction): boolean =>
  a.kind === ACTION.raise || a.kind === ACTION.iecEvict;

/** Nothing can happen but the environment's actions: no message in flight, nothing pending in a
 *  host IRR, a PIR or a virtual IRR that a step would take, no step program with a runnable step. */
export const quiescent = (s: SystemState): boolean => systemEnabled(s).every(environmental);

/** Raises of `vector` a pending bit still holds for a masked entry: its device's (PBA, IMS, MSI,
 *  INTx status) and the VMM's virtual PBA bit of the guest's emulated entry. */
export function heldPending(s: SystemState, vector: number): number {
  const v = s.topology.vectors[vector];
  const device = testBit(s.words, s.topology.stores[v.store].pendingAt * 32 + v.entry) ? 1 : 0;
  return device + (vmsixFlag(s, vector, 'pending') ? 1 : 0);
}

/** At quiescence, every raise of every vector is accounted for exactly once: delivered,
 *  coalesced, lost, or still held by a pending bit of its masked entry. A raise counted nowhere (a
 *  handler that ran for nobody, a bit stranded in a PIR) breaks it. */
export function conserved(s: SystemState): boolean {
  for (let v = 0; v < s.topology.vectors.length; v++) {
    const o = vectorOutcomes(s, v);
    if (o.raised !== o.delivered + o.coalesced + o.lost + heldPending(s, v)) return false;
  }
  return true;
}

/** Bound on the steps settling may take: a system that still moves after this many of its own
 *  steps, with no raise and no input, is livelocked, which is an irqlab bug. */
const SETTLE_STEPS_MAX = 1_000_000;

/** Lets everything in flight land: the system's own actions only (no environment action, no
 *  workload input), always the first one enabled, until none is left. Returns the steps taken. */
export function settle(s: SystemState, log: EventLog): number {
  for (let n = 0; n < SETTLE_STEPS_MAX; n++) {
    const next = systemEnabled(s).find((a) => !environmental(a));
    if (next === undefined) return n;
    systemStep(s, next, log);
  }
  assert(false, `settle: still moving after ${SETTLE_STEPS_MAX} steps`);
  return SETTLE_STEPS_MAX;
}

/** The vectors whose raises a settled copy of `s` does not account for (conservation broken),
 *  with their counts; empty when every raise is delivered, coalesced, lost or held pending. */
export function unaccountedRaises(s: SystemState) {
  const settled = cloneSystemState(s);
  settle(settled, createEventLog());
  return s.topology.vectors.flatMap((v, i) => {
    const o = vectorOutcomes(settled, i);
    const accounted = o.delivered + o.coalesced + o.lost + heldPending(settled, i);
    return accounted === o.raised ? [] : [{ vector: v.name, raised: o.raised, accounted }];
  });
}

/** The first of `steps` (applied in order from `initial`) after which the settled system no
 *  longer accounts for every raise, with its index, or null when the last one still does: the
 *  step that broke conservation, found by bisection over the prefixes (each prefix applied to a
 *  copy of `initial` and settled), so it costs O(n log n) steps and only when a run failed. */
export function conservationBreak(
  initial: SystemState,
  steps: readonly SystemAction[],
): { index: number; step: string } | null {
  const brokenAfter = (n: number): boolean => {
    const s = cloneSystemState(initial);
    const log = createEventLog();
    for (let i = 0; i < n; i++) {
      clearEvents(log);
      systemStep(s, steps[i], log);
    }
    return unaccountedRaises(s).length > 0;
  };
  if (!brokenAfter(steps.length)) return null;
  assert(!brokenAfter(0), 'conservation: broken before the first step');
  let ok = 0;
  let bad = steps.length;
  while (bad - ok > 1) {
    const mid = (ok + bad) >>> 1;
    if (brokenAfter(mid)) bad = mid;
    else ok = mid;
  }
  const before = cloneSystemState(initial);
  const log = createEventLog();
  for (let i = 0; i < bad - 1; i++) {
    clearEvents(log);
    systemStep(before, steps[i], log);
  }
  return { index: bad - 1, step: describeSystemAction(before, steps[bad - 1]) };
}

export const systemProperties = [
  {
    name: 'never-duplicated',
    expect: 'always' as const,
    holds(s: SystemState): boolean {
      for (let v = 0; v < s.topology.vectors.length; v++) {
        const o = vectorOutcomes(s, v);
        if (o.delivered + o.coalesced + o.lost > o.raised) return false;
      }
      return true;
    },
  },
  {
    name: 'conservation',
    expect: 'always' as const,
    holds: (s: SystemState): boolean => !quiescent(s) || conserved(s),
  },
  {
    name: 'never-lost',
    expect: 'always' as const,
    holds(s: SystemState): boolean {
      for (let v = 0; v < s.topology.vectors.length; v++) {
        if (vectorCounter(s, v, VECTOR_COUNTERS.lost) > 0) return false;
      }
      return true;
    },
  },
];

/** The whole-system model over a programmed initial state (what scenario/build.ts produces). */
export function systemModel(initial: SystemState) {
  return {
    init: (): SystemState => cloneSystemState(initial),
    enabled: systemEnabled,
    step: systemStep,
    clone: cloneSystemState,
    encode: (s: SystemState): Uint32Array => s.words,
    decode(like: SystemState, words: Uint32Array): SystemState {
      assert(words.length === like.words.length, 'decode: encoding of another topology');
      return { topology: like.topology, words: words.slice() };
    },
    describeAction: describeSystemAction,
    properties: systemProperties,
  };
}
