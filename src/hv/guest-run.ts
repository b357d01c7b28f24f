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
// VMCALL into pv-host.ts); `setupGuests` is the same boot + probe with a host backend behind each
// platform (what `scenario/build.ts` runs to program the system state).
// Invariants: after teardown the host ledger is back to zero; a `pv` VM whose negotiation the
// hypervisor refuses runs `emulate` and says so in `notes`.
// Not modelled: the guest's boot-time accesses outside the assigned functions.

import { InputError } from '../hw/errors.js';
import { configSpaceFor, pciFunctionInfo } from '../kernel/boot.js';
import { genericProbe } from '../kernel/drivers/generic.js';
import { opsAt } from '../kernel/irqdomain.js';
import { createKernel, onlineCpus } from '../kernel/kernel.js';
import type { KernelDeviceSpec } from '../kernel/kernel-spec.js';
import type { KernelState, PlatformKind } from '../kernel/kernel-state.js';
import { freeIrq, handleVector, irqSetAffinity, irqTarget } from '../kernel/manage.js';
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
  type StrategyBackend,
  type StrategyName,
  type StrategyPlatform,
  type VirtualFunction,
} from './strategy-platform.js';

export const PHASES = ['setup', 'maskUnmask', 'affinity', 'teardown'] as const;
export type Phase = (typeof PHASES)[number];

/** Linux version the guests run (per-device MSI domains, dynamic MSI-X: 6.2+). */
export const GUEST_KERNEL_VERSION = { major: 6, minor: 12 } as const;
/** QEMU's IOAPIC: 24 pins, source-id ff:00.0 as the vIOMMU's DMAR device scope names it
 *  (include/hw/i386/pc.h / q35.h: Q35_PSEUDO_BUS_PLATFORM 0xff, Q35_PSEUDO_DEVFN_IOAPIC 0). */
const GUEST_IOAPIC_PINS = 24;
const GUEST_IOAPIC_SOURCE_ID = 0xff00;
/** First guest PCI slot for assigned functions (QEMU q35: 00:01 is VGA, 00:02.. are free). */
const FIRST_GUEST_SLOT = 4;

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
  costNs: number;
}

export interface ControlPlaneResult {
  readonly requested: StrategyName;
  readonly vms: readonly ControlPlaneVm[];
  readonly phases: Record<Phase, PhaseCount>;
  /** Setup latency of each vector set up (ns): its function's setup work / its vectors. */
  readonly setupLatencyNs: number[];
  /** Ledger peaks summed over the VMs, and what is still held after teardown. */
  readonly peak: HostLedger['peak'] & {
    msixEntries: number;
    imsEntries: number;
    intxLines: number;
  };
  readonly heldAfterTeardown: number;
  readonly notes: string[];
  readonly failures: string[];
}

/** What a VM's strategy platform needs to know of the scenario. */
export interface ControlPlaneVmSpec {
  readonly name: string;
  readonly vcpus: number;
  readonly strategy: StrategyName;
  /** The VM has a vIOMMU with interrupt remapping (scenario `viommu: on`). Under `emulate` its
   *  guest kernel then remaps too (Linux enables IR on any DMAR unit it finds), which is what
   *  lets it drive IMS (rule ims-needs-guest-ir); the table stays trapped. Default: none. */
  readonly viommu?: boolean;
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

const platformKind = (s: StrategyName, viommu: boolean): PlatformKind =>
  s === 'emulate'
    ? viommu
      ? 'guest-vir'
      : 'guest-emulated-msi'
    : s === 'vir' || s === 'vir-direct'
      ? 'guest-vir'
      : 'guest-hypercall';

const guestBdf = (a: number) => `0000:00:${(FIRST_GUEST_SLOT + a).toString(16).padStart(2, '0')}.0`;

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
  if (strategy === 'pv' || strategy === 'pv-batch') {
    // Discovery (CPUID) and NEGOTIATE through the pv ABI (pv-guest.ts -> pv-host.ts); a refusal
    // or an absent capability leaves the guest on emulate, and a refused batch on plain pv.
    const choice = pvGuestNegotiate({
      cpuid: encodeCpuid(sp.pvCaps),
      want: { batch: strategy === 'pv-batch' },
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
    platform: platformKind(strategy, spec.viommu ?? false),
    cpus: spec.vcpus,
    apicMode: 'x2apic-phys',
    legacyPic: false,
    ia32Emulation: true,
    hypervisorCallback: true,
    mce: false,
    // QEMU q35's IOAPIC (24 pins): its GSIs keep irqs 0..23, so MSI irqs start at 24 as in the
    // recorded guests (`qemu-q35-noir/proc-interrupts.txt`).
    ioapic: { pins: GUEST_IOAPIC_PINS, mapping: 'legacy', sourceId: GUEST_IOAPIC_SOURCE_ID },
    // vir-direct: the vIOMMU's capability confines the guest's IRTE allocator to its window.
    ...(strategy === 'vir-direct'
      ? { remapUnit: { name: 'dmar0', eime: true, window: irWindowOf(spec) } }
      : {}),
    devices: devices.map((d) => pciFunctionInfo(d, spaces[d.bdf])),
  });
  onlineCpus(k);
  return { name: spec.name, strategy, kernel: k, sp, functions };
}

/** Boots every VM's guest kernel on its strategy platform and probes every assigned function
 *  (the setup phase alone), with `backendOf(vm)` as the host side behind each platform: what
 *  `build.ts` runs to program the system state. */
export function setupGuests(
  specs: readonly ControlPlaneVmSpec[],
  host: ControlPlaneHost,
  backendOf: (vm: number, functions: readonly VirtualFunction[]) => StrategyBackend,
): { vms: ControlPlaneVm[]; notes: string[]; failures: string[] } {
  const notes: string[] = [];
  const failures: string[] = [];
  const vms = specs.map((s, v) => {
    const functions = s.assign.map((a, i) => ({ bdf: guestBdf(i), ...a }));
    return bootVm(s, host, notes, backendOf(v, functions));
  });
  const setup = { exits: emptyExits(), operations: 0, costNs: 0 };
  for (const vm of vms) {
    vm.functions.forEach((_, i) => {
      inPhase(vm, setup, () => probeFunction(vm, i, failures));
    });
  }
  return { vms, notes, failures };
}

/** The guest kernel takes `vector` on its CPU `vcpu` (the data plane's guest-handle step): its
 *  flow handler runs and counts the irq in its /proc/interrupts. Returns the irq, or -1. */
export function guestInterrupt(vm: ControlPlaneVm, vcpu: number, vector: number): number {
  const r = handleVector(vm.kernel, vm.sp.platform, vcpu as CpuId, vector as Vector);
  return r.kind === 'spurious' ? -1 : r.irq;
}

/** Every VM's driver frees its irqs and disables its functions; the ledger gives back. */
export function teardownGuests(vms: readonly ControlPlaneVm[]): void {
  const phase = { exits: emptyExits(), operations: 0, costNs: 0 };
  for (const vm of vms) {
    vm.functions.forEach((_, i) => {
      inPhase(vm, phase, () => teardownFunction(vm, i));
    });
  }
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

export function runControlPlane(
  specs: readonly ControlPlaneVmSpec[],
  host: ControlPlaneHost,
  actions: readonly ControlAction[],
  costs: ExitPrices,
): ControlPlaneResult {
  const notes: string[] = [];
  const failures: string[] = [];
  const phases = Object.fromEntries(
    PHASES.map((p) => [p, { exits: emptyExits(), operations: 0, costNs: 0 }]),
  ) as Record<Phase, PhaseCount>;
  const vms = specs.map((s) => bootVm(s, host, notes));
  const unplugged = new Set<string>();
  const setupLatencyNs: number[] = [];
  vms.forEach((vm) => {
    vm.functions.forEach((fn, i) => {
      const before = snapshotWork(vm.sp.ledger);
      const exits = inPhase(vm, phases.setup, () => probeFunction(vm, i, failures));
      const ns = exitsCostNs(exits, costs) + workNs(diffWork(vm.sp.ledger, before), costs);
      phases.setup.operations += fn.vectors;
      phases.setup.costNs += ns;
      for (let v = 0; v < fn.vectors; v++) setupLatencyNs.push(Math.round(ns / fn.vectors));
    });
  });
  for (const a of actions) {
    const vm = vms[a.vm];
    const fn = vm.functions[a.assign];
    if (unplugged.has(`${a.vm}/${a.assign}`)) continue;
    const k = vm.kernel;
    switch (a.do) {
      case 'probe':
      case 'request-irq':
        break; // probed and requested in setup
      case 'mask':
      case 'unmask': {
        const irq = irqOfVector(k, fn.bdf, a.vector);
        const e = inPhase(vm, phases.maskUnmask, () => chipMask(vm, irq, a.do === 'mask'));
        phases.maskUnmask.costNs += exitsCostNs(e, costs);
        if (a.do === 'unmask') phases.maskUnmask.operations++;
        break;
      }
      case 'set-affinity': {
        const irq = irqOfVector(k, fn.bdf, a.vector);
        const before = snapshotWork(vm.sp.ledger);
        const e = inPhase(vm, phases.affinity, () => {
          const r = irqSetAffinity(k, vm.sp.platform, irq, cpuMask([a.vcpu]));
          if (!r.ok) failures.push(`${vm.name}: set-affinity irq ${irq}: ${r.reason}`);
          // A move deferred to the next interrupt (IRQ_MOVE_PCNTXT clear) happens there.
          const t = irqTarget(k, irq);
          if (k.descs[irq].state.movePending && t) handleVector(k, vm.sp.platform, t.cpu, t.vector);
        });
        phases.affinity.costNs +=
          exitsCostNs(e, costs) + workNs(diffWork(vm.sp.ledger, before), costs);
        phases.affinity.operations++;
        break;
      }
      case 'free-irq': {
        const irq = irqOfVector(k, fn.bdf, a.vector);
        inPhase(vm, phases.teardown, () => {
          for (const act of [...k.descs[irq].actions]) freeIrq(k, vm.sp.platform, irq, act.devId);
        });
        break;
      }
      case 'hot-unplug':
        inPhase(vm, phases.teardown, () => teardownFunction(vm, a.assign));
        unplugged.add(`${a.vm}/${a.assign}`);
        phases.teardown.operations++;
        break;
    }
  }
  const peak = {
    hostVectors: sum(vms, (v) => v.sp.ledger.peak.hostVectors),
    irtes: sum(vms, (v) => v.sp.ledger.peak.irtes),
    kvmRoutes: Math.max(0, ...vms.map((v) => v.sp.ledger.peak.kvmRoutes)),
    irteWindow: sum(vms, (v) => v.sp.ledger.peak.irteWindow),
    msixEntries: sum(vms, (v) => v.sp.ledger.msixEntries),
    imsEntries: sum(vms, (v) => v.sp.ledger.imsEntries),
    intxLines: sum(vms, (v) => v.sp.ledger.intxLines),
  };
  vms.forEach((vm, v) => {
    vm.functions.forEach((_, i) => {
      if (!unplugged.has(`${v}/${i}`)) {
        inPhase(vm, phases.teardown, () => teardownFunction(vm, i));
        phases.teardown.operations++;
      }
    });
  });
  const heldAfterTeardown = sum(
    vms,
    (v) =>
      v.sp.ledger.hostVectors +
      v.sp.ledger.irtes +
      v.sp.ledger.msixEntries +
      v.sp.ledger.imsEntries +
      v.sp.ledger.kvmRoutes +
      v.sp.ledger.intxLines,
  );
  return {
    requested: specs[0]?.strategy ?? 'emulate',
    vms,
    phases,
    setupLatencyNs,
    peak,
    heldAfterTeardown,
    notes,
    failures,
  };
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
type Work = ReturnType<typeof snapshotWork>;

function diffWork(l: HostLedger, before: Work): Work {
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
const workNs = (w: Work, c: ExitPrices): number =>
  (w.vfioSetIrqs + w.vfioReenabledVectors) * c.vfioSetIrqsNs +
  (w.routesResubmitted + w.routesRetranslated) * c.kvmRouteEntryNs +
  w.irteUpdates * c.irteUpdateNs;
