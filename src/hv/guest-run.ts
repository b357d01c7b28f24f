// The control plane of a scenario under one strategy: each VM's guest kernel (the kernel issue's
// Linux, one instance per VM) booted on the hypervisor's strategy platform, its driver probing
// every assigned function, then the workload's actions (request/free irq, set affinity, mask,
// unmask, migrate, hot-unplug) driven through the kernel's own API. Every exit is counted from
// the guest kernel's access log (`account` per logged access), never from a constant; what the
// host gave out is the strategy platform's ledger.
// Phases: `setup` (probe + request of every vector), `maskUnmask`, `affinity` (the set-affinity
// call, plus the next interrupt when the kernel defers the move to it, as x86 MSI without IR
// does), `teardown` (free, disable, release). A migration has no guest access: its exits are the
// delivery model's (`system-vcpu.ts vcpuMigrate`), counted by the caller.
// `pv`/`pv-batch` negotiate through the pv ABI (pv-guest.ts pvGuestNegotiate -> the platform's
// VMCALL into pv-host.ts).
// One run for both planes: `flows.ts` boots the guests with the host (VFIO, KVM) behind each
// platform, `scenario/build.ts runWorkload` drives the workload's actions on those same guests
// (`runGuestActions`, whose decisions the data plane replays) and the teardown follows
// (`teardownGuests`); `runControlPlane` is the same run with no host behind the platforms.
// Invariants: after teardown the host ledger is back to zero; a `pv` VM whose negotiation the
// hypervisor refuses runs `emulate` and says so in `notes`.
// Not modelled: the guest's boot-time accesses outside the assigned functions.

import { InputError } from '../hw/errors.js';
import { configSpaceFor, pciFunctionInfo } from '../kernel/boot.js';
import { genericProbe } from '../kernel/drivers/generic.js';
import { writeIrqAffinity } from '../kernel/irq-proc.js';
import { opsAt } from '../kernel/irqdomain.js';
import { createKernel, onlineCpus } from '../kernel/kernel.js';
import type { KernelDeviceSpec } from '../kernel/kernel-spec.js';
import type { KernelState } from '../kernel/kernel-state.js';
import { freeIrq, handleVector, irqTarget, requestIrq } from '../kernel/manage.js';
import { pciFreeIrqVectors } from '../kernel/pci-msi-api.js';
import { withOp } from '../kernel/platform.js';
import { type CpuId, cpuMask, type Vector } from '../kernel/types.js';
import { type ExitCounts, type ExitPrices, emptyExits, exitsCostNs } from './exits.js';
import { encodeCpuid } from './pv-abi.js';
import { pvGuestNegotiate } from './pv-guest.js';
import {
  createStrategyPlatform,
  type HostLedger,
  type IrWindow,
  irWindowOf,
  STRATEGY_TABLE,
  type StrategyBackend,
  type StrategyName,
  type StrategyPlatform,
  type VirtualFunction,
} from './strategy-platform.js';

export const PHASES = ['setup', 'maskUnmask', 'affinity', 'teardown'] as const;
export type Phase = (typeof PHASES)[number];

/** Linux version the guests run (per-device MSI domains, dynamic MSI-X: 6.2+). */
export const GUEST_KERNEL_VERSION = { major: 6, minor: 12 } as const;
/** The guest's vector domain: no 8259 PIC, IA32 emulation (0x80 reserved), KVM's callback. */
export const GUEST_VECTOR_DOMAIN = {
  legacyPic: false,
  ia32Emulation: true,
  hypervisorCallback: true,
} as const;
/** QEMU's IOAPIC: 24 pins, source-id ff:00.0 as the vIOMMU's DMAR device scope names it
 *  (include/hw/i386/pc.h / q35.h: Q35_PSEUDO_BUS_PLATFORM 0xff, Q35_PSEUDO_DEVFN_IOAPIC 0). */
const GUEST_IOAPIC_PINS = 24;
const GUEST_IOAPIC_SOURCE_ID = 0xff00;
/** First guest PCI slot for assigned functions (QEMU q35: 00:01 is VGA, 00:02.. are free). */
const FIRST_GUEST_SLOT = 4;
/** PCI device numbers are 5 bits: bus 0 of the guest holds this many assigned functions. */
export const GUEST_ASSIGNMENTS_MAX = 0x1f - FIRST_GUEST_SLOT + 1;

export interface ControlPlaneVm {
  readonly name: string;
  readonly strategy: StrategyName;
  readonly kernel: KernelState;
  readonly sp: StrategyPlatform;
  readonly functions: readonly VirtualFunction[];
}

export interface PhaseCount {
  readonly exits: ExitCounts;
  /** Operations in the phase (vectors set up, mask+unmask pairs, affinity changes, ...). */
  operations: number;
}

/** What a VM's strategy platform needs to know of the scenario. */
export interface ControlPlaneVmSpec {
  readonly name: string;
  readonly vcpus: number;
  readonly strategy: StrategyName;
  /** vir-direct: the window of host IRTE indices the hypervisor gives this VM (`build.ts`);
   *  its vIOMMU reports it and the guest's IR allocator stays in it. Default: at 0. */
  readonly irWindow?: IrWindow;
  readonly assign: readonly {
    readonly guest: 'msi' | 'msix' | 'ims';
    readonly backing: 'intx' | 'msi' | 'msix' | 'ims';
    readonly vectors: number;
  }[];
}

export type ControlAction =
  | { do: 'mask' | 'unmask'; vm: number; assign: number; vector: number }
  | { do: 'set-affinity'; vm: number; assign: number; vector: number; vcpu: number }
  | { do: 'request-irq' | 'free-irq'; vm: number; assign: number; vector: number }
  | { do: 'hot-unplug'; vm: number; assign: number }
  | { do: 'probe'; vm: number; assign: number };

export interface ControlPlaneHost {
  readonly ir: boolean;
  readonly posted: boolean;
  readonly dynamicMsix: boolean;
}

/** The guest's PCI address of assignment `a`: one device per slot of bus 0, up to 0x1f. */
export const guestBdf = (a: number) =>
  `0000:00:${(FIRST_GUEST_SLOT + a).toString(16).padStart(2, '0')}.0`;

/** The virtual function the guest sees: its representation with `vectors` entries. */
function guestDevice(a: ControlPlaneVmSpec['assign'][number], i: number): KernelDeviceSpec {
  const msiVectors = 2 ** Math.ceil(Math.log2(a.vectors));
  return {
    bdf: guestBdf(i),
    msix: a.guest === 'msix' ? a.vectors : 0,
    ...(a.guest === 'msi'
      ? { msi: { vectors: msiVectors as 1, is64: true, perVectorMask: true } }
      : {}),
    ims: a.guest === 'ims' ? a.vectors : 0,
  } as KernelDeviceSpec;
}

function bootVm(
  spec: ControlPlaneVmSpec,
  host: ControlPlaneHost,
  notes: string[],
  backend?: StrategyBackend,
) {
  const devices = spec.assign.map(guestDevice);
  const spaces = Object.fromEntries(devices.map((d) => [d.bdf, configSpaceFor(d)]));
  const functions = spec.assign.map((a, i) => ({ bdf: guestBdf(i), ...a }));
  const platformFor = (strategy: StrategyName) =>
    createStrategyPlatform(
      {
        strategy,
        hostIr: host.ir,
        hostPosted: host.posted,
        dynamicMsix: host.dynamicMsix,
        vcpus: spec.vcpus,
        ...(spec.irWindow ? { irWindow: spec.irWindow } : {}),
      },
      functions,
      Object.fromEntries(Object.entries(spaces).map(([bdf, s]) => [bdf, s.bytes])),
      backend,
    );
  let strategy = spec.strategy;
  let sp = platformFor(strategy);
  // The strategies whose guest kernel runs on the hypercall platform negotiate the pv ABI.
  if (STRATEGY_TABLE[strategy].platform === 'guest-hypercall') {
    // Discovery (CPUID) and NEGOTIATE through the pv ABI (pv-guest.ts -> pv-host.ts); a refusal
    // or an absent capability leaves the guest on emulate, and a refused batch on plain pv.
    const choice = pvGuestNegotiate({
      cpuid: encodeCpuid(sp.pvCaps),
      want: { batch: STRATEGY_TABLE[strategy].pvBatch },
      vmcall: sp.vmcall,
    });
    if (choice.strategy !== 'emulate') sp.usePv(choice);
    if (choice.strategy !== strategy) {
      notes.push(
        `${spec.name}: pv negotiation refused (${choice.reason}, ${choice.calls} NEGOTIATE call(s)); falling back to ${choice.strategy}`,
      );
      strategy = choice.strategy;
      if (strategy === 'emulate') sp = platformFor(strategy);
    }
  }
  const k = createKernel({
    name: spec.name,
    version: GUEST_KERNEL_VERSION,
    platform: STRATEGY_TABLE[strategy].platform,
    cpus: spec.vcpus,
    apicMode: 'x2apic-phys',
    ...GUEST_VECTOR_DOMAIN,
    mce: false,
    // QEMU q35's IOAPIC (24 pins): its GSIs keep irqs 0..23, so MSI irqs start at 24 as in the
    // recorded guests (`qemu-q35-noir/proc-interrupts.txt`).
    ioapic: { pins: GUEST_IOAPIC_PINS, mapping: 'legacy', sourceId: GUEST_IOAPIC_SOURCE_ID },
    // vir-direct: the vIOMMU's capability confines the guest's IRTE allocator to its window.
    ...(STRATEGY_TABLE[strategy].irteWindow
      ? { remapUnit: { name: 'dmar0', window: irWindowOf(spec) } }
      : {}),
    devices: devices.map((d) => pciFunctionInfo(d, spaces[d.bdf])),
  });
  onlineCpus(k);
  return { name: spec.name, strategy, kernel: k, sp, functions };
}

/** The guest kernel takes `vector` on its CPU `vcpu` (the data plane's guest-handle step): its
 *  flow handler runs and counts the irq in its /proc/interrupts. Returns the irq, or -1. */
export function guestInterrupt(vm: ControlPlaneVm, vcpu: number, vector: number): number {
  const r = handleVector(vm.kernel, vm.sp.platform, vcpu as CpuId, vector as Vector);
  return r.kind === 'spurious' ? -1 : r.irq;
}

/** Runs `body`, accounting every access it logged to `phase`. */
function inPhase(vm: ControlPlaneVm, phase: PhaseCount, body: () => void): ExitCounts {
  const from = vm.kernel.accessLog.length;
  const before = { ...vm.sp.exits };
  body();
  for (const a of vm.kernel.accessLog.slice(from)) vm.sp.account(a);
  const delta = emptyExits();
  for (const key of Object.keys(delta) as (keyof ExitCounts)[]) {
    delta[key] = vm.sp.exits[key] - before[key];
    phase.exits[key] += delta[key];
  }
  return delta;
}

/** The irq of vector `i` of a function (MSI-X/MSI index or IMS index). */
export function irqOfVector(k: KernelState, bdf: string, i: number): number {
  for (const d of Object.values(k.descs)) {
    if (d.msi?.dev === bdf && d.msi.index === i) return d.irq;
  }
  const msi = Object.values(k.descs).find((d) => d.msi?.dev === bdf && d.msi.domain === 'msi');
  if (msi) return msi.irq + i;
  throw new InputError(`${k.name}: ${bdf}`, `no irq for vector ${i}`);
}

/** `mask_irq`/`unmask_irq`: the top chip's mask, as the core calls it. */
function chipMask(vm: ControlPlaneVm, irq: number, masked: boolean): void {
  const k = vm.kernel;
  const d = k.descs[irq];
  withOp(k, `${masked ? 'mask' : 'unmask'}_irq(${irq})`, () => {
    const ops = opsAt(k, d, 0);
    if (masked) ops.mask?.(k, vm.sp.platform, d, 0);
    else ops.unmask?.(k, vm.sp.platform, d, 0);
    d.state.masked = masked;
  });
}

function probeFunction(vm: ControlPlaneVm, i: number, failures: string[]): void {
  const fn = vm.functions[i];
  const r = genericProbe(vm.kernel, vm.sp.platform, fn.bdf, {
    kind: 'generic',
    name: `${vm.name}-a${i}`,
    vectors: fn.vectors,
    ims: fn.guest === 'ims',
  });
  if (!r.ok) failures.push(`${vm.name}: probe of ${fn.bdf}: ${r.notes.join('; ')}`);
}

function teardownFunction(vm: ControlPlaneVm, i: number): void {
  const fn = vm.functions[i];
  const k = vm.kernel;
  for (const d of Object.values(k.descs)) {
    if (d.msi?.dev !== fn.bdf) continue;
    for (const a of [...d.actions]) freeIrq(k, vm.sp.platform, d.irq, a.devId);
  }
  if (fn.guest !== 'ims') pciFreeIrqVectors(k, vm.sp.platform, fn.bdf);
  vm.sp.release(fn.bdf);
}

/** A control-plane run in progress: the VMs, what each phase cost, and what is gone. */
export interface GuestRun {
  readonly vms: readonly ControlPlaneVm[];
  readonly phases: Record<Phase, PhaseCount>;
  /** Per function set up, in order: its vectors, the exits and the host work of its setup. */
  readonly setups: readonly { vectors: number; exits: ExitCounts; work: HostWork }[];
  /** Functions already torn down ("vm/assign"), by a hot-unplug or the teardown. */
  readonly gone: Set<string>;
  readonly notes: string[];
  readonly failures: string[];
}

/** Boots every VM's guest kernel on its strategy platform and probes every assigned function:
 *  the setup phase. `backendOf(vm)` is the host side behind each platform (`flows.ts`: the
 *  host kernel, VFIO, KVM on the system state); without it the platforms hand out stand-ins and
 *  only the ledger counts (a control plane with no host behind it). */
export function bootGuests(
  specs: readonly ControlPlaneVmSpec[],
  host: ControlPlaneHost,
  backendOf?: (vm: number, functions: readonly VirtualFunction[]) => StrategyBackend,
): GuestRun {
  const run: GuestRun = {
    vms: [],
    phases: Object.fromEntries(
      PHASES.map((p) => [p, { exits: emptyExits(), operations: 0 }]),
    ) as Record<Phase, PhaseCount>,
    setups: [],
    gone: new Set(),
    notes: [],
    failures: [],
  };
  const vms = specs.map((s, v) => {
    const functions = s.assign.map((a, i) => ({ bdf: guestBdf(i), ...a }));
    return bootVm(s, host, run.notes, backendOf?.(v, functions));
  });
  (run.vms as ControlPlaneVm[]).push(...vms);
  const setups = run.setups as GuestRun['setups'][number][];
  for (const vm of vms) {
    vm.functions.forEach((fn, i) => {
      const before = snapshotWork(vm.sp.ledger);
      const exits = inPhase(vm, run.phases.setup, () => probeFunction(vm, i, run.failures));
      run.phases.setup.operations += fn.vectors;
      setups.push({ vectors: fn.vectors, exits, work: diffWork(vm.sp.ledger, before) });
    });
  }
  return run;
}

/** Setup latency of each vector set up (ns): its function's setup exits and host work, priced,
 *  shared by the function's vectors. */
export function setupLatencyNs(run: GuestRun, costs: ExitPrices): number[] {
  return run.setups.flatMap((f) => {
    const ns = exitsCostNs(f.exits, costs) + workNs(f.work, costs);
    return Array.from({ length: f.vectors }, () => Math.round(ns / f.vectors));
  });
}

/** Where a guest kernel sent a vector after a set-affinity: its CPU (vCPU index) and vector. */
export interface GuestTarget {
  readonly vcpu: number;
  readonly vector: number;
}

/** The workload's control actions, in order, through each guest kernel's own API; every access
 *  accounted to its phase. A function gone (hot-unplugged) ignores what follows. Returns, per
 *  action, the guest kernel's decision the data plane needs: for a set-affinity the vector's new
 *  target (null when the kernel refused the move, e.g. -ENOSPC), else null. */
export function runGuestActions(
  run: GuestRun,
  actions: readonly ControlAction[],
): (GuestTarget | null)[] {
  return actions.map((a) => runGuestAction(run, a));
}

function runGuestAction(run: GuestRun, a: ControlAction): GuestTarget | null {
  const { phases } = run;
  const vm = run.vms[a.vm];
  const fn = vm.functions[a.assign];
  if (run.gone.has(`${a.vm}/${a.assign}`)) return null;
  const k = vm.kernel;
  switch (a.do) {
    case 'probe':
      return null; // every function was probed in setup
    case 'request-irq': {
      // Requested in setup; again only after a free-irq (the driver re-requests its vector).
      const irq = irqOfVector(k, fn.bdf, a.vector);
      if (k.descs[irq].actions.length > 0) return null;
      inPhase(vm, phases.setup, () => {
        const r = requestIrq(k, vm.sp.platform, irq, `${vm.name}-a${a.assign}-${a.vector}`, {
          devId: `${fn.bdf}#${a.vector}`,
        });
        if (!r.ok) run.failures.push(`${vm.name}: request-irq irq ${irq}: ${r.reason}`);
      });
      phases.setup.operations++;
      return null;
    }
    case 'mask':
    case 'unmask': {
      const irq = irqOfVector(k, fn.bdf, a.vector);
      inPhase(vm, phases.maskUnmask, () => chipMask(vm, irq, a.do === 'mask'));
      if (a.do === 'unmask') phases.maskUnmask.operations++;
      return null;
    }
    case 'set-affinity': {
      const irq = irqOfVector(k, fn.bdf, a.vector);
      let moved = false;
      inPhase(vm, phases.affinity, () => {
        const r = writeIrqAffinity(k, vm.sp.platform, irq, cpuMask([a.vcpu]));
        if (!r.ok) run.failures.push(`${vm.name}: set-affinity irq ${irq}: ${r.reason}`);
        moved = r.ok;
        // A move deferred to the next interrupt (IRQ_MOVE_PCNTXT clear) happens there.
        const t = irqTarget(k, irq);
        if (k.descs[irq].state.movePending && t) handleVector(k, vm.sp.platform, t.cpu, t.vector);
      });
      phases.affinity.operations++;
      const t = irqTarget(k, irq);
      return moved && t ? { vcpu: t.cpu, vector: t.vector } : null;
    }
    case 'free-irq': {
      const irq = irqOfVector(k, fn.bdf, a.vector);
      inPhase(vm, phases.teardown, () => {
        for (const act of [...k.descs[irq].actions]) freeIrq(k, vm.sp.platform, irq, act.devId);
      });
      return null;
    }
    case 'hot-unplug':
      tearDown(run, a.vm, a.assign);
      return null;
  }
}

/** Every function still there: its driver frees its irqs and disables it, the host gives back. */
export function teardownGuests(run: GuestRun): void {
  run.vms.forEach((vm, v) => {
    vm.functions.forEach((_, i) => {
      if (!run.gone.has(`${v}/${i}`)) tearDown(run, v, i);
    });
  });
}

function tearDown(run: GuestRun, v: number, i: number): void {
  const vm = run.vms[v];
  inPhase(vm, run.phases.teardown, () => teardownFunction(vm, i));
  run.gone.add(`${v}/${i}`);
  run.phases.teardown.operations++;
}

export type LedgerPeak = HostLedger['peak'];

/** The ledgers' peaks over the run, summed over the VMs (KVM routes: per VM, so the largest). */
export function ledgerPeak(run: GuestRun): LedgerPeak {
  const peaks = run.vms.map((v) => v.sp.ledger.peak);
  return {
    hostVectors: sum(peaks, (p) => p.hostVectors),
    irtes: sum(peaks, (p) => p.irtes),
    kvmRoutes: Math.max(0, ...peaks.map((p) => p.kvmRoutes)),
    irteWindow: sum(peaks, (p) => p.irteWindow),
    msixEntries: sum(peaks, (p) => p.msixEntries),
    imsEntries: sum(peaks, (p) => p.imsEntries),
    intxLines: sum(peaks, (p) => p.intxLines),
  };
}

/** What the host still holds for the VMs (0 after a complete teardown). */
export const heldByHost = (run: GuestRun): number =>
  sum(
    run.vms,
    (v) =>
      v.sp.ledger.hostVectors +
      v.sp.ledger.irtes +
      v.sp.ledger.msixEntries +
      v.sp.ledger.imsEntries +
      v.sp.ledger.kvmRoutes +
      v.sp.ledger.intxLines,
  );

/** Setup, the actions, teardown, with no host behind the platforms (the ledger counts). */
export function runControlPlane(
  specs: readonly ControlPlaneVmSpec[],
  host: ControlPlaneHost,
  actions: readonly ControlAction[],
): GuestRun {
  const run = bootGuests(specs, host);
  runGuestActions(run, actions);
  teardownGuests(run);
  return run;
}

const sum = <T>(xs: readonly T[], f: (x: T) => number) => xs.reduce((n, x) => n + f(x), 0);

/** The host-side work counters of a ledger (what costs time besides exits). */
const snapshotWork = (l: HostLedger) => ({
  vfioSetIrqs: l.vfioSetIrqs,
  vfioReenabledVectors: l.vfioReenabledVectors,
  routesResubmitted: l.routesResubmitted,
  routesRetranslated: l.routesRetranslated,
  irteUpdates: l.irteUpdates,
});
export type HostWork = ReturnType<typeof snapshotWork>;

function diffWork(l: HostLedger, before: HostWork): HostWork {
  const now = snapshotWork(l);
  return {
    vfioSetIrqs: now.vfioSetIrqs - before.vfioSetIrqs,
    vfioReenabledVectors: now.vfioReenabledVectors - before.vfioReenabledVectors,
    routesResubmitted: now.routesResubmitted - before.routesResubmitted,
    routesRetranslated: now.routesRetranslated - before.routesRetranslated,
    irteUpdates: now.irteUpdates - before.irteUpdates,
  };
}

/** Host work in ns: VFIO set-irqs (and the noresize re-enables), routes re-submitted or
 *  re-translated, IRTE writes. */
const workNs = (w: HostWork, c: ExitPrices): number =>
  (w.vfioSetIrqs + w.vfioReenabledVectors) * c.vfioSetIrqsNs +
  (w.routesResubmitted + w.routesRetranslated) * c.kvmRouteEntryNs +
  w.irteUpdates * c.irteUpdateNs;
