// The simulator of the whole-system model: integer-nanosecond time, one event queue, a seeded
// PRNG, the cost model. It advances the model only through `systemStep` (the contract of
// model.ts) and decides WHEN actions happen: rate-driven sources schedule raises, workload inputs
// fire at their times, and each event a step reports schedules the action it leads to after the
// cost the cost model gives it (a message write before it reaches the remapping unit, an exit
// before the re-entry, ...). It prices, counts and, if asked, records a trace.
//
// Replay (`replaySystem`): instead of choosing, apply a given schedule of actions in order, with
// the same pricing, counting and trace; `onStep` hands out the actions a run applied, so a run
// recorded and replayed ends in the same state words, ghost counters and trace.
//
// Invariants: same input, seed and costs => same sequence of steps, same result, same trace
// (ties in time are broken by scheduling order, the only randomness is the PRNG); an action that
// is no longer enabled when it comes due is skipped and counted (`staleActions`); a replayed step
// that is not enabled is bad input (`schedule-step-enabled`), never applied.
// Not here: strategies' setup flows (later issues), contention between vCPUs for pCPUs.

import { RuleError } from '../hw/errors.js';
import { runner } from '../machine/guest-work.js';
import { PROGRAMS, threadEnabled } from '../machine/programs.js';
import { threadIdle, threadProgram, WAIT } from '../machine/step-program.js';
import {
  describeSystemAction,
  systemIsEnabled,
  systemStep,
  vectorOutcomes,
} from '../machine/system.js';
import {
  ACTION,
  type ActionKind,
  FIRST_INPUT_ACTION,
  type SystemAction,
} from '../machine/system-actions.js';
import { MISDIRECTED } from '../machine/system-delivery.js';
import {
  COALESCE_NAMES,
  clearEvents,
  createEventLog,
  EVENT,
  EVENT_ARGS,
  type EventLog,
  EXIT_REASON,
  EXIT_REASON_NAMES,
} from '../machine/system-events.js';
import {
  cloneSystemState,
  guestOnPcpu,
  POSTED_INTR_VECTOR,
  POSTED_INTR_WAKEUP_VECTOR,
  type SystemState,
} from '../machine/system-state.js';
import { NO_VECTOR } from '../machine/system-topology.js';
import { pcpuIrrPending, vcpuInService, vcpuVirrPending } from '../machine/system-vcpu.js';
import type { Costs } from './cost-model.js';
import {
  createEventQueue,
  type EventQueue,
  emptyQueueEntry,
  type QueueEntry,
  queuePop,
  queuePush,
  queueRemove,
} from './event-queue.js';
import { createHistogram, type Histogram, histogramAdd, histogramPercentile } from './histogram.js';
import {
  createOperationTally,
  type OperationTally,
  tallyExit,
  tallyInput,
} from './operation-tally.js';
import { type PrngState, prngExponentialNs, prngFromSeed } from './prng.js';
import type { TraceRecorder } from './trace-recorder.js';

/** A workload input at a time: one model action. */
export interface TimedInput {
  readonly atNs: number;
  readonly kind: ActionKind;
  readonly a: number;
  readonly b: number;
}

/** A rate-driven interrupt source: raises one assigned vector. */
export interface RateSource {
  readonly vector: number;
  readonly ratePerSecond: number;
  readonly distribution: 'poisson' | 'fixed';
}

export interface SimInput {
  readonly initial: SystemState;
  readonly inputs: readonly TimedInput[];
  readonly sources: readonly RateSource[];
}

export interface SimOptions {
  readonly durationNs: number;
  readonly seed: number;
  readonly costs: Costs;
  readonly trace: TraceRecorder | null;
  /** Called now and then with the simulated time reached. */
  readonly progress?: (nowNs: number) => void;
  /** Called with every action the engine applies, in order, and its time (`a` is reused: copy
   *  what you keep): the schedule that replays the run. */
  readonly onStep?: (a: SystemAction, atNs: number) => void;
  /** Stop after this many steps (`irqlab run --max-events`): the result covers the time reached. */
  readonly maxSteps?: number;
}

/** One step of a schedule to replay: an action, its time (null: the engine gives it one, see
 *  `replaySystem`) and where it was written, for errors. */
export interface ScheduleStep extends SystemAction {
  readonly atNs: number | null;
  readonly where: string;
}

export interface LatencySummary {
  readonly count: number;
  readonly meanNs: number;
  readonly p50Ns: number;
  readonly p90Ns: number;
  readonly p99Ns: number;
  readonly p999Ns: number;
  readonly maxNs: number;
}

export interface SimResult {
  /** The run's duration, or the simulated time reached when `maxSteps` stopped it. */
  readonly durationNs: number;
  /** Whether `maxSteps` stopped the run before its duration. */
  readonly stoppedEarly: boolean;
  readonly seed: number;
  readonly steps: number;
  readonly interrupts: {
    readonly raised: number;
    readonly delivered: number;
    readonly coalesced: number;
    readonly lost: number;
    /** Raised and not yet delivered, coalesced or lost when the run ended. */
    readonly inFlight: number;
  };
  readonly coalescedAt: Readonly<Record<string, number>>;
  readonly lostBy: Readonly<Record<string, number>>;
  readonly exits: Readonly<Record<string, number>>;
  readonly exitsTotal: number;
  /** The workload's guest operations the run applied, and the exits their steps made. */
  readonly operations: OperationTally;
  readonly counts: {
    readonly posted: number;
    readonly notifications: number;
    readonly postedInGuest: number;
    readonly hostIrqs: number;
    readonly wakeups: number;
    readonly ipis: number;
    readonly spurious: number;
    readonly guestSpurious: number;
    readonly staleActions: number;
    /** vCPU migrations the workload made, and the VM exits they caused (a running vCPU is
     *  kicked out; a halted one is only re-pointed). */
    readonly migrations: number;
    readonly migrationExits: number;
  };
  readonly latency: LatencySummary;
  readonly vectors: readonly {
    readonly name: string;
    readonly raised: number;
    readonly delivered: number;
    readonly coalesced: number;
    readonly lost: number;
  }[];
  readonly finalState: SystemState;
}

/** Queue kinds beyond the model's actions. */
const SOURCE_TICK = 200;
const PROGRESS_EVERY_STEPS = 1 << 16;

interface Run {
  readonly s: SystemState;
  readonly q: EventQueue;
  readonly log: EventLog;
  readonly prng: PrngState;
  readonly costs: Costs;
  readonly trace: TraceRecorder | null;
  readonly onStep: ((a: SystemAction, atNs: number) => void) | null;
  readonly sources: readonly RateSource[];
  readonly firstRaiseNs: Float64Array;
  readonly flowOf: Float64Array;
  readonly handleScheduled: Uint8Array;
  /** Threads whose next step was due but not enabled (its guard: e.g. the vCPU it runs on is
   *  handling an exit); each is scheduled again as soon as a step makes it enabled. */
  readonly waiting: Uint8Array;
  waitingCount: number;
  readonly busyUntilNs: Float64Array;
  /** When the exit a vCPU is handling is done (it re-enters no earlier). */
  readonly enterAfterNs: Float64Array;
  readonly latency: Histogram;
  readonly exits: Map<number, number>;
  readonly operations: OperationTally;
  readonly coalescedAt: number[];
  readonly lostBy: Map<number, number>;
  readonly counts: {
    posted: number;
    notifications: number;
    postedInGuest: number;
    hostIrqs: number;
    wakeups: number;
    ipis: number;
    spurious: number;
    guestSpurious: number;
    staleActions: number;
    migrations: number;
    migrationExits: number;
  };
  nowNs: number;
  nextFlow: number;
  raised: number;
  delivered: number;
}

export function simulateSystem(input: SimInput, opts: SimOptions): SimResult {
  const run = createRun(input, opts);
  for (const input1 of input.inputs) queuePush(run.q, input1.atNs, input1.kind, input1.a, input1.b);
  run.sources.forEach((src, i) => {
    queuePush(run.q, interArrivalNs(run, src), SOURCE_TICK, i, 0);
  });
  run.s.topology.vcpus.forEach((_, v) => {
    scheduleIdle(run, v, 0);
  });
  const { steps, stoppedEarly } = loop(run, opts);
  run.trace?.close();
  return summarise(run, opts, steps, stoppedEarly);
}

/** Applies `steps` in order from `input.initial` (the workload's inputs and sources are not
 *  run: the schedule holds every action). A step without a time gets one from the engine's own
 *  pricing, so the trace reads like a run's: a step the engine scheduled itself (a message
 *  reaching the remapping unit `msiWriteNs` after its raise, the re-entry `exitNs` after an
 *  exit, a handler after the one before it) runs when the engine would have run it; any other
 *  (a raise, a workload input, an action taken out of the engine's order) runs once everything
 *  the steps before it set in motion has come due, so its slices start after theirs end instead
 *  of overlapping them on a track. Time never goes back: a step due earlier runs at the time
 *  reached. Throws `schedule-step-enabled` at the first step not enabled in the state it meets,
 *  before applying it (`checkSchedule` finds it before any output is opened). */
export function replaySystem(
  input: SimInput,
  steps: readonly ScheduleStep[],
  opts: SimOptions,
): SimResult {
  const run = createRun(input, opts);
  run.s.topology.vcpus.forEach((_, v) => {
    scheduleIdle(run, v, 0);
  });
  const entry = emptyQueueEntry();
  steps.forEach((st, i) => {
    const due = takeScheduled(run.q, st, entry);
    run.nowNs = st.atNs ?? Math.max(run.nowNs, due);
    requireEnabled(run.s, st);
    if (st.kind === ACTION.guestHandle) run.handleScheduled[st.a] = 0;
    step(run, st);
    if (opts.progress && ((i + 1) & (PROGRESS_EVERY_STEPS - 1)) === 0) opts.progress(run.nowNs);
  });
  run.trace?.close();
  const durationNs = Math.max(opts.durationNs, run.nowNs);
  return summarise(run, { ...opts, durationNs }, steps.length, false);
}

/** Throws `schedule-step-enabled` at the first of `steps` not enabled when it comes: the model
 *  alone, no pricing or trace, so a command can refuse a schedule before it writes anything. */
export function checkSchedule(initial: SystemState, steps: readonly ScheduleStep[]): void {
  const s = cloneSystemState(initial);
  const log = createEventLog();
  for (const st of steps) {
    requireEnabled(s, st);
    clearEvents(log);
    systemStep(s, st, log);
  }
}

function requireEnabled(s: SystemState, st: ScheduleStep): void {
  if (systemIsEnabled(s, st)) return;
  throw new RuleError(
    'schedule-step-enabled',
    st.where,
    `${describeSystemAction(s, st)} is not enabled`,
  );
}

/** The time the engine scheduled `a` for (taking that entry off the queue), else the latest time
 *  of anything it has scheduled: when what is in motion has come due. */
function takeScheduled(q: EventQueue, a: SystemAction, out: QueueEntry): number {
  let match = -1;
  let horizonNs = 0;
  for (let i = 0; i < q.size; i++) {
    horizonNs = Math.max(horizonNs, q.timeNs[i]);
    if (q.kind[i] !== a.kind || q.a[i] !== a.a || q.b[i] !== a.b) continue;
    if (
      match < 0 ||
      q.timeNs[i] < q.timeNs[match] ||
      (q.timeNs[i] === q.timeNs[match] && q.seq[i] < q.seq[match])
    ) {
      match = i;
    }
  }
  if (match < 0) return horizonNs;
  const dueNs = q.timeNs[match];
  queueRemove(q, match, out);
  return dueNs;
}

function createRun(input: SimInput, opts: SimOptions): Run {
  const s = cloneSystemState(input.initial);
  const t = s.topology;
  return {
    s,
    q: createEventQueue(),
    log: createEventLog(),
    prng: prngFromSeed(opts.seed),
    costs: opts.costs,
    trace: opts.trace,
    onStep: opts.onStep ?? null,
    sources: input.sources,
    firstRaiseNs: new Float64Array(t.vectors.length).fill(-1),
    flowOf: new Float64Array(t.vectors.length),
    handleScheduled: new Uint8Array(t.vcpus.length),
    waiting: new Uint8Array(t.threads.length),
    waitingCount: 0,
    busyUntilNs: new Float64Array(t.vcpus.length),
    enterAfterNs: new Float64Array(t.vcpus.length),
    latency: createHistogram(),
    exits: new Map(),
    operations: createOperationTally(),
    coalescedAt: COALESCE_NAMES.map(() => 0),
    lostBy: new Map(),
    counts: {
      posted: 0,
      notifications: 0,
      postedInGuest: 0,
      hostIrqs: 0,
      wakeups: 0,
      ipis: 0,
      spurious: 0,
      guestSpurious: 0,
      staleActions: 0,
      migrations: 0,
      migrationExits: 0,
    },
    nowNs: 0,
    nextFlow: 1,
    raised: 0,
    delivered: 0,
  };
}

function loop(run: Run, opts: SimOptions): { steps: number; stoppedEarly: boolean } {
  const entry = emptyQueueEntry();
  const scratch: SystemAction = { kind: ACTION.raise, a: 0, b: 0 };
  let steps = 0;
  const maxSteps = opts.maxSteps ?? Number.POSITIVE_INFINITY;
  while (queuePop(run.q, entry)) {
    if (entry.timeNs > opts.durationNs) break;
    if (steps >= maxSteps) return { steps, stoppedEarly: true };
    run.nowNs = entry.timeNs;
    if (entry.kind === SOURCE_TICK) {
      sourceTick(run, entry.a, scratch);
    } else {
      scratch.kind = entry.kind as ActionKind;
      scratch.a = entry.a;
      scratch.b = entry.b;
      if (entry.kind === ACTION.guestHandle) run.handleScheduled[entry.a] = 0;
      if (!systemIsEnabled(run.s, scratch)) {
        // A workload operation on an irq whose previous operation is still running waits for it
        // (the guest serializes them under the irq descriptor's lock): look again a bit later.
        if (entry.kind >= FIRST_INPUT_ACTION) {
          queuePush(run.q, run.nowNs + run.costs.exitNs, entry.kind, entry.a, entry.b);
        } else if (entry.kind === ACTION.threadStep && !threadIdle(run.s, entry.a)) {
          waitFor(run, entry.a);
        } else run.counts.staleActions++;
        continue;
      }
      step(run, scratch);
    }
    steps++;
    if (opts.progress && (steps & (PROGRESS_EVERY_STEPS - 1)) === 0) opts.progress(run.nowNs);
  }
  return { steps, stoppedEarly: false };
}

function sourceTick(run: Run, index: number, scratch: SystemAction): void {
  const src = run.sources[index];
  const v = run.s.topology.vectors[src.vector];
  scratch.kind = ACTION.raise;
  scratch.a = v.store;
  scratch.b = v.entry;
  if (systemIsEnabled(run.s, scratch)) step(run, scratch);
  else return; // an unplugged store raises no more
  queuePush(run.q, run.nowNs + interArrivalNs(run, src), SOURCE_TICK, index, 0);
}

function interArrivalNs(run: Run, src: RateSource): number {
  const meanNs = 1e9 / src.ratePerSecond;
  return src.distribution === 'fixed'
    ? Math.max(1, Math.round(meanNs))
    : Math.max(1, prngExponentialNs(run.prng, meanNs));
}

function step(run: Run, a: SystemAction): void {
  clearEvents(run.log);
  const program = a.kind === ACTION.threadStep ? threadProgram(run.s, a.a) : 0;
  // A vCPU that ran a guest operation with interrupts off takes what came meanwhile once it ends.
  const irqsOffOn = PROGRAMS[program]?.irqsOff === true ? runner(run.s, a.a) : -1;
  tallyInput(run.operations, a.kind);
  systemStep(run.s, a, run.log);
  run.onStep?.(a, run.nowNs);
  if (a.kind === ACTION.guestEoi) afterEoi(run, a.a);
  afterStep(run, a.kind, program);
  if (a.kind === ACTION.pcpuInterrupt) afterHostInterrupt(run, a.a);
  if (irqsOffOn >= 0 && threadIdle(run.s, a.a) && vcpuVirrPending(run.s, irqsOffOn)) {
    scheduleHandle(run, irqsOffOn, run.nowNs);
  }
  if (run.waitingCount > 0) wakeWaiting(run);
}

function waitFor(run: Run, thread: number): void {
  if (run.waiting[thread] === 1) return;
  run.waiting[thread] = 1;
  run.waitingCount++;
}

/** Schedules every waiting thread whose next step the last step made enabled. */
function wakeWaiting(run: Run): void {
  for (let th = 0; th < run.waiting.length; th++) {
    if (run.waiting[th] === 0 || !threadEnabled(run.s, th)) continue;
    run.waiting[th] = 0;
    run.waitingCount--;
    queuePush(run.q, run.nowNs, ACTION.threadStep, th, 0);
  }
}

/** Prices and follows up what the step reported (`program`: the one whose step it was, or 0). */
function afterStep(run: Run, actionKind: number, program: number): void {
  const { log, costs } = run;
  const now = run.nowNs;
  const hardwarePath = actionKind === ACTION.deliver;
  let exitVcpu = -1;
  let exitReason = 0;
  let hostHandlerNs = 0;
  let nextIrrDelayNs = 0;
  let handlerPcpu = 0;
  for (let i = 0; i < log.length; i++) {
    const at = i * EVENT_ARGS;
    const a = log.args[at];
    const b = log.args[at + 1];
    const c = log.args[at + 2];
    const d = log.args[at + 3];
    switch (log.kind[i]) {
      case EVENT.raise:
        onRaise(run, a, b, c);
        break;
      case EVENT.pendingSet:
        run.trace?.record({ kind: 'pending-set', tsNs: now, store: a, entry: b, vector: c });
        break;
      case EVENT.coalesced:
        run.coalescedAt[b]++;
        run.trace?.record({ kind: 'coalesced', tsNs: now, vector: a, where: b });
        break;
      case EVENT.dropped:
        bump(run.lostBy, -1);
        run.trace?.record({ kind: 'dropped', tsNs: now, store: a, entry: b, vector: c });
        break;
      case EVENT.msiSent:
        queuePush(run.q, now + costs.msiWriteNs, ACTION.deliver, a, 0);
        run.trace?.record({
          kind: 'msi-write',
          tsNs: now,
          port: a,
          vector: b,
          addrLo: c,
          data: d,
          durNs: costs.msiWriteNs,
        });
        break;
      case EVENT.irFault:
        bump(run.lostBy, b);
        run.trace?.record({ kind: 'ir-fault', tsNs: now, port: a, reason: b, index: c, vector: d });
        break;
      case EVENT.posted:
        run.counts.posted++;
        run.trace?.record({
          kind: 'posted',
          tsNs: now,
          vcpu: a,
          vector: b,
          tag: c,
          notified: d === 1,
        });
        break;
      case EVENT.piNotify:
        run.counts.notifications++;
        // A software post (KVM's kvm_set_msi from VFIO's handler) is sent once the host handler
        // has run; the hardware's (VT-d posting) right away.
        nextIrrDelayNs = hardwarePath ? costs.postedDeliveryNs : hostHandlerNs + costs.ipiNs;
        run.trace?.record({ kind: 'pi-notify', tsNs: now, pcpu: a, vector: b, vcpu: c });
        break;
      case EVENT.ipi:
        run.counts.ipis++;
        nextIrrDelayNs = hostHandlerNs + costs.ipiNs;
        run.trace?.record({ kind: 'ipi', tsNs: now, from: a, to: b, vector: c });
        break;
      case EVENT.hostIrrSet:
        queuePush(run.q, now + nextIrrDelayNs, ACTION.pcpuInterrupt, a, 0);
        nextIrrDelayNs = 0;
        break;
      case EVENT.upstream:
        // The interrupt the remapping unit sent reaches its LAPIC after the notification's
        // delivery time (posted) or at once (remapped): the LAPIC then takes it at once.
        queuePush(run.q, now + nextIrrDelayNs, ACTION.apicDeliver, 0, 0);
        nextIrrDelayNs = 0;
        break;
      case EVENT.piProcessed:
        run.counts.postedInGuest++;
        run.trace?.record({ kind: 'pi-processed', tsNs: now, pcpu: a, vcpu: b, moved: c });
        scheduleHandle(run, b, now);
        break;
      case EVENT.pirSynced:
        break;
      case EVENT.vmExit:
        exitVcpu = a;
        exitReason = b;
        bump(run.exits, b);
        tallyExit(run.operations, run.s, program, a);
        if (actionKind === ACTION.vcpuMigrate) run.counts.migrationExits++;
        run.trace?.record({
          kind: 'kvm-exit',
          tsNs: now,
          vcpu: a,
          pcpu: c,
          reason: b,
          info: d,
          durNs: costs.exitNs,
        });
        break;
      case EVENT.vmEntry:
        run.trace?.record({ kind: 'kvm-entry', tsNs: now, vcpu: a, pcpu: b });
        scheduleIdle(run, a, now);
        break;
      case EVENT.hostIrq:
        run.counts.hostIrqs++;
        handlerPcpu = a;
        if (d !== NO_VECTOR) hostHandlerNs = costs.hostIrqNs;
        run.trace?.record({
          kind: 'host-irq',
          tsNs: now,
          pcpu: a,
          vector: b,
          irq: c,
          tag: d,
          durNs: d !== NO_VECTOR ? costs.hostIrqNs : 0,
        });
        if (b === POSTED_INTR_WAKEUP_VECTOR) hostHandlerNs = 0;
        break;
      case EVENT.intxStatusRead:
        // VFIO's INTx handler reads the subdevice's status register (and clears what it read)
        // before it can inject: the handler, and a vCPU it interrupted, wait for the read.
        hostHandlerNs += costs.mmioReadNs;
        break;
      case EVENT.kvmMsiSetIrq:
        run.trace?.record({
          kind: 'kvm-msi-set-irq',
          tsNs: now,
          pcpu: handlerPcpu,
          vcpu: a,
          address: b,
          data: c,
        });
        break;
      case EVENT.vcpuWake:
        run.counts.wakeups++;
        run.trace?.record({ kind: 'vcpu-wake', tsNs: now, vcpu: a, pcpu: b });
        break;
      case EVENT.vcpuBlock:
        run.trace?.record({ kind: 'vcpu-block', tsNs: now, vcpu: a, pcpu: b });
        break;
      case EVENT.threadReady:
        // Woken by a host handler's injection: after that handler; by the PI wake-up vector: now.
        queuePush(run.q, now + waitNs(run, b, hostHandlerNs), ACTION.threadStep, a, 0);
        break;
      case EVENT.vcpuLoad:
      case EVENT.vcpuResume:
        // Back in KVM's run loop: it enters once the exit it was handling is done.
        queuePush(run.q, Math.max(now, run.enterAfterNs[a]), ACTION.vcpuEnter, a, 0);
        break;
      case EVENT.misdirected:
        bump(run.lostBy, MISDIRECTED);
        break;
      case EVENT.vmmSignalled:
        // VFIO's handler signalled the VMM's eventfd: its event loop runs the handler.
        queuePush(run.q, now + hostHandlerNs + costs.vmmHandlerNs, ACTION.vmmInterrupt, a, 0);
        break;
      case EVENT.guestIrq:
        onGuestIrq(run, a, b, c, d);
        break;
      case EVENT.retriggerMarkHit:
        // common_interrupt on a VECTOR_RETRIGGERED slot: acked (EOI), no handler.
        queuePush(run.q, now, ACTION.guestEoi, a, 0);
        break;
      case EVENT.irteUpdate:
        // modify_irte's qi_flush_iec: the unit takes the IEC descriptor once the write and the
        // invalidation are done, then the wait (`iecInvalidate`, `qiDrained` below).
        queuePush(
          run.q,
          now + costs.irteUpdateNs + costs.iecInvalidationNs,
          ACTION.qiProcess,
          0,
          0,
        );
        run.trace?.record({
          kind: 'kvm-pi-irte-update',
          tsNs: now,
          irte: a,
          vcpu: b,
          gvec: c,
          set: d === 1,
          hostIrq: hostIrqOfIrte(run, a),
          gsi: a,
        });
        break;
      case EVENT.iecInvalidate:
        run.trace?.record({ kind: 'iec-invalidate', tsNs: now, irte: a });
        queuePush(run.q, now, ACTION.qiProcess, 0, 0);
        break;
      case EVENT.qiDrained:
        // What the wait had to drain has landed: the unit completes it (a stale entry if the
        // wait was not blocked, or has completed).
        queuePush(run.q, now, ACTION.qiProcess, 0, 0);
        break;
      case EVENT.vcpuMigrate:
        run.counts.migrations++;
        run.trace?.record({ kind: 'vcpu-migrate', tsNs: now, vcpu: a, from: b, to: c });
        break;
      case EVENT.maskChanged:
        run.trace?.record({
          kind: 'mask',
          tsNs: now,
          store: a,
          entry: b,
          masked: c === 1,
          vector: d,
        });
        break;
      case EVENT.unplugged:
        run.trace?.record({ kind: 'unplug', tsNs: now, store: a });
        break;
      case EVENT.spurious:
        run.counts.spurious++;
        run.trace?.record({ kind: 'spurious', tsNs: now, pcpu: a, vector: b });
        break;
    }
  }
  if (exitVcpu >= 0) {
    // A trapped MMIO access (EPT_MISCONFIG) is completed by the VMM in userspace.
    const userspace =
      exitReason === EXIT_REASON.eptMisconfig ? costs.userspaceExitExtraNs + costs.vmmHandlerNs : 0;
    const reentry = exitReason === EXIT_REASON.externalInterrupt ? hostHandlerNs : 0;
    // A hypercall's exit is priced as the published VMCALL round trip.
    const exit = exitReason === EXIT_REASON.vmcall ? costs.hypercallNs : costs.exitNs;
    run.enterAfterNs[exitVcpu] = now + exit + userspace + reentry;
    // A vCPU whose exit started a KVM step program (kvm_vcpu_block, a preemption) re-enters
    // when the program brings it back (vcpuResume, vcpuLoad), not here.
    if (threadIdle(run.s, exitVcpu)) {
      queuePush(run.q, run.enterAfterNs[exitVcpu], ACTION.vcpuEnter, exitVcpu, 0);
    }
  }
}

/** The simulated gap before a thread's next step (step-program.ts WAIT). */
function waitNs(run: Run, wait: number, hostHandlerNs: number): number {
  switch (wait) {
    case WAIT.timerTick:
      return run.costs.guestTimerTickNs;
    case WAIT.wakeup:
      return hostHandlerNs + run.costs.wakeupNs;
    default:
      return 0;
  }
}

function bump(m: Map<number, number>, key: number): void {
  m.set(key, (m.get(key) ?? 0) + 1);
}

function hostIrqOfIrte(run: Run, irte: number): number {
  const owner = run.s.topology.irteOwner[irte];
  return owner < 0 ? -1 : run.s.topology.vectors[owner].hostIrq;
}

function onRaise(run: Run, store: number, entry: number, vector: number): void {
  run.raised++;
  let flow = 0;
  if (vector !== NO_VECTOR && run.firstRaiseNs[vector] < 0) {
    run.firstRaiseNs[vector] = run.nowNs;
    flow = run.nextFlow++;
    run.flowOf[vector] = flow;
  }
  run.trace?.record({ kind: 'raise', tsNs: run.nowNs, store, entry, vector, flow });
}

function onGuestIrq(run: Run, vcpu: number, vector: number, tag: number, irq: number): void {
  const now = run.nowNs;
  const handlerNs = run.costs.guestHandlerNs;
  let flow = 0;
  if (tag === NO_VECTOR) run.counts.guestSpurious++;
  else {
    run.delivered++;
    if (run.firstRaiseNs[tag] >= 0) {
      histogramAdd(run.latency, now - run.firstRaiseNs[tag]);
      run.firstRaiseNs[tag] = -1;
      flow = run.flowOf[tag];
    }
  }
  run.busyUntilNs[vcpu] = now + handlerNs;
  run.trace?.record({
    kind: 'guest-irq',
    tsNs: now,
    vcpu,
    vector,
    tag,
    irq,
    durNs: handlerNs,
    flow,
  });
  // The flow handler acks (EOI) before the driver's handler runs (handle_edge_irq): at once. The
  // cost model has no figure for a virtualized EOI (a gap: it is inside guestHandlerNs); without
  // APICv its MSR-write exit is priced as every exit is.
  queuePush(run.q, now, ACTION.guestEoi, vcpu, 0);
}

/** The guest on pCPU `p` was held while a host interrupt was pending there (`guestExecuting`):
 *  with none left, it goes on with what it had to do (an EOI, a handler, HLT). */
function afterHostInterrupt(run: Run, p: number): void {
  const v = guestOnPcpu(run.s, p);
  if (v >= 0 && !pcpuIrrPending(run.s, p)) scheduleIdle(run, v, run.nowNs);
}

/** After the EOI the vCPU takes what waits in its virtual IRR, or idles, once the handler's
 *  time is over. */
function afterEoi(run: Run, vcpu: number): void {
  if (vcpuVirrPending(run.s, vcpu)) scheduleHandle(run, vcpu, run.nowNs);
  else scheduleIdle(run, vcpu, run.busyUntilNs[vcpu]);
}

/** The guest runs its next handler when the current one is done. */
function scheduleHandle(run: Run, vcpu: number, now: number): void {
  if (run.handleScheduled[vcpu]) return;
  run.handleScheduled[vcpu] = 1;
  queuePush(run.q, Math.max(now, run.busyUntilNs[vcpu]), ACTION.guestHandle, vcpu, 0);
}

/** A vCPU that enters (or finishes a handler) with work pending handles it (first the EOI of a
 *  vector still in service: an exit came between its dispatch and its EOI); an idle vCPU of a
 *  VM with `idle: halt` executes HLT. */
function scheduleIdle(run: Run, vcpu: number, atNs: number): void {
  if (vcpuInService(run.s, vcpu)) {
    queuePush(run.q, atNs, ACTION.guestEoi, vcpu, 0);
    return;
  }
  if (vcpuVirrPending(run.s, vcpu)) {
    scheduleHandle(run, vcpu, atNs);
    return;
  }
  const t = run.s.topology;
  if (t.vms[t.vcpus[vcpu].vm].idle === 'halt') queuePush(run.q, atNs, ACTION.vcpuHalt, vcpu, 0);
}

function summarise(run: Run, opts: SimOptions, steps: number, stoppedEarly: boolean): SimResult {
  const t = run.s.topology;
  const vectors = t.vectors.map((v, i) => ({ name: v.name, ...vectorOutcomes(run.s, i) }));
  const sum = (k: 'coalesced' | 'lost') => vectors.reduce((n, v) => n + v[k], 0);
  const coalesced = sum('coalesced');
  const lost = sum('lost');
  const exits: Record<string, number> = {};
  for (const [reason, n] of [...run.exits].sort((x, y) => x[0] - y[0])) {
    exits[EXIT_REASON_NAMES[reason] ?? `reason ${reason}`] = n;
  }
  const lostBy: Record<string, number> = {};
  for (const [reason, n] of [...run.lostBy].sort((x, y) => x[0] - y[0])) {
    lostBy[lossName(reason)] = n;
  }
  const coalescedAt: Record<string, number> = {};
  COALESCE_NAMES.forEach((name, i) => {
    if (run.coalescedAt[i] > 0) coalescedAt[name] = run.coalescedAt[i];
  });
  const h = run.latency;
  return {
    durationNs: stoppedEarly ? run.nowNs : opts.durationNs,
    stoppedEarly,
    seed: opts.seed,
    steps,
    interrupts: {
      raised: run.raised,
      delivered: run.delivered,
      coalesced,
      lost,
      inFlight: run.raised - run.delivered - coalesced - lost,
    },
    coalescedAt,
    lostBy,
    exits,
    exitsTotal: [...run.exits.values()].reduce((a, b) => a + b, 0),
    operations: run.operations,
    counts: { ...run.counts },
    latency: {
      count: h.count,
      meanNs: h.count ? Math.round(h.sum / h.count) : 0,
      p50Ns: histogramPercentile(h, 50),
      p90Ns: histogramPercentile(h, 90),
      p99Ns: histogramPercentile(h, 99),
      p999Ns: histogramPercentile(h, 99.9),
      maxNs: h.count ? h.max : 0,
    },
    vectors,
    finalState: run.s,
  };
}

/** Names of loss reasons: VT-d fault codes in hex as the spec writes them, and irqlab's own. */
export function lossName(reason: number): string {
  switch (reason) {
    case -1:
      return 'dropped by the device';
    case 0:
      return 'not an interrupt address';
    case 0x100:
      return 'posted to unknown memory';
    case 0x101:
      return 'no such destination';
    case MISDIRECTED:
      return 'misdirected: no owner in the guest';
    default:
      return `VT-d fault ${reason.toString(16)}h`;
  }
}

/** The PI notification vectors, for reports. */
export const NOTIFICATION_VECTORS = {
  posted: POSTED_INTR_VECTOR,
  wakeup: POSTED_INTR_WAKEUP_VECTOR,
};
