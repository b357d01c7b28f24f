// The cost model: every simulated cost is a named parameter with its default, its unit and the
// published source of the default (`../shared/reference/perf-anchors.md`, whose row ids X1..X12,
// D1..D8, M1..M9 are quoted). Where no published figure was found the source says so and the
// value is an assumption a scenario should override (`run.costs`).
//
// Invariants: costs are priced in integer nanoseconds; a cycle count becomes nanoseconds at
// `cpuMhz` (one rounding, at resolution time, never per event); nested virtualization multiplies
// every exit-related cost by `nestedExitMultiplier` only when the host says it is nested.
// Not here: contention, caches, frequency scaling (the published figures already include what
// their benchmarks saw of them).

export type CostUnit = 'cycles' | 'ns' | 'MHz' | 'factor';

export interface CostParameter {
  readonly name: string;
  readonly defaultValue: number;
  readonly unit: CostUnit;
  readonly meaning: string;
  readonly source: string;
}

const param = (
  name: string,
  defaultValue: number,
  unit: CostUnit,
  meaning: string,
  source: string,
): CostParameter => ({ name, defaultValue, unit, meaning, source });

export const COST_PARAMETERS = [
  param(
    'cpuMhz',
    3000,
    'MHz',
    'core clock used to turn cycle counts into nanoseconds',
    'assumption; perf-anchors §1.1 converts at 3 GHz ("≈0.35–0.7 µs at 3 GHz")',
  ),
  param(
    'exitRoundTripCycles',
    2008,
    'cycles',
    'VM exit handled in the kernel (KVM) and re-entry, handler included',
    'X10: vmexit.flat outl_to_kernel, 2,008 cycles (S. Jitindar Singh, KVM list, Oct 2022); X1 ≈2,000 (SplitX, WIOV 2011)',
  ),
  param(
    'userspaceExitExtraCycles',
    1200,
    'cycles',
    'extra for an exit completed in the userspace VMM: KVM_RUN return and re-entry',
    'X2: KVM_RUN entry→exit 2,528–2,576 vs VMRUN round trip 1,344–1,376 cycles (LKML, Dec 2020)',
  ),
  param(
    'vmmHandlerCycles',
    5000,
    'cycles',
    "the userspace VMM's own handler for a trapped access (e.g. QEMU's MSI-X table write)",
    'assumption: no published figure (perf-anchors X5 [gap]); override per scenario',
  ),
  param(
    'hypercallCycles',
    1529,
    'cycles',
    'VMCALL exit round trip handled in the kernel, before the handler proper',
    'X9: vmexit.flat vmcall, 1,559 → 1,529 cycles (W. Li, KVM list, Mar 2020)',
  ),
  param(
    'postedDeliveryCycles',
    500,
    'cycles',
    'VT-d posts into the PID and the notification is processed in guest mode (no exit)',
    'assumption: no measured figure (perf-anchors D8 [gap]); bounded above by X12 APICv 2,468 cycles, which includes a WRMSR exit',
  ),
  param(
    'ipiCycles',
    3293,
    'cycles',
    'an IPI from send to acknowledgement (kick of a vCPU running on another pCPU)',
    'X11: vmexit.flat ipi, 3,293 cycles with the single-target fastpath (W. Li, KVM list, Apr 2020)',
  ),
  param(
    'hostIrqCycles',
    2000,
    'cycles',
    "host interrupt entry + VFIO's handler + eventfd signal + irqfd injection (kvm_set_msi)",
    'assumption: no published figure (perf-anchors D4 µs values [gap]); override per scenario',
  ),
  param(
    'wakeupCycles',
    5000,
    'cycles',
    'posted-interrupt wake-up handler + scheduling the blocked vCPU back in',
    'assumption: no non-nested figure (perf-anchors X3 has only nested self-IPI+HLT ≈28–32k)',
  ),
  param(
    'irteUpdateCycles',
    300,
    'cycles',
    'writing one 128-bit IRTE (two 64-bit stores, cmpxchg16b for a posted one)',
    'assumption: no published figure; override per scenario',
  ),
  param(
    'iecInvalidationCycles',
    2000,
    'cycles',
    'interrupt entry cache invalidation through the invalidation queue, waited for',
    'assumption: no published wall time (perf-anchors V2 [gap]); override per scenario',
  ),
  param(
    'vfioSetIrqsNs',
    123000,
    'ns',
    'one VFIO_DEVICE_SET_IRQS per vector, KVM route commit included',
    'M9: QEMU vfio_msix_enable, 8 ms for 65 vectors of the first VF ⇒ ≈123 µs/vector [d] (Longpeng, Mar 2022)',
  ),
  param(
    'kvmRouteEntryCycles',
    150,
    'cycles',
    'one GSI route copied and set up by KVM_SET_GSI_ROUTING (each update re-submits the whole table) or re-translated by the VMM on a vIOMMU IEC invalidation',
    'assumption: systems.md §3 gives the linear growth, no per-route figure; override per scenario',
  ),
  param(
    'mmioReadNs',
    1000,
    'ns',
    "an uncached read of a device register by a CPU (a non-posted PCIe read: the CPU waits for the completion), e.g. the host's INTx handler reading a subdevice's interrupt status register",
    'assumption: no figure in perf-anchors; a PCIe read round trip is commonly quoted at 0.5–1 µs; override per scenario',
  ),
  param(
    'msiWriteNs',
    250,
    'ns',
    "device's MSI memory write to the root complex and the remapping unit",
    'assumption: no published figure; override per scenario',
  ),
  param(
    'guestHandlerNs',
    1000,
    'ns',
    "guest driver's interrupt handler, entry to EOI",
    'assumption: workload-dependent; override per scenario',
  ),
  param(
    'guestTimerTickNs',
    1_000_000,
    'ns',
    "one guest jiffy: the guest's vector cleanup runs on a timer armed at jiffies + 1, and re-arms while the old vector is still pending",
    'Linux 6.6+ arch/x86/kernel/apic/vector.c __vector_schedule_cleanup / __vector_cleanup (mod_timer(jiffies + 1)); HZ=1000 is an assumption (distributions build 250 or 1000)',
  ),
  param(
    'nestedExitMultiplier',
    8.6,
    'factor',
    'exit costs multiply by this when the host itself runs nested (host.nested: true)',
    'X3 vs X9: L2 vmcall 13,189 cycles vs L1 1,529 ⇒ 8.6× (P. Bonzini, May 2019; W. Li, Mar 2020) [d]; anchors say ≈7–10×',
  ),
] as const satisfies readonly CostParameter[];

export type CostName = (typeof COST_PARAMETERS)[number]['name'];
export type CostOverrides = Partial<Record<CostName, number>>;

export const COST_NAMES: readonly CostName[] = COST_PARAMETERS.map((p) => p.name);

/** Every cost resolved to integer nanoseconds (the simulator's hot path reads these fields). */
export interface Costs {
  readonly exitNs: number;
  readonly userspaceExitExtraNs: number;
  readonly vmmHandlerNs: number;
  readonly hypercallNs: number;
  readonly postedDeliveryNs: number;
  readonly ipiNs: number;
  readonly hostIrqNs: number;
  readonly wakeupNs: number;
  readonly irteUpdateNs: number;
  readonly iecInvalidationNs: number;
  readonly vfioSetIrqsNs: number;
  readonly kvmRouteEntryNs: number;
  readonly msiWriteNs: number;
  readonly mmioReadNs: number;
  readonly guestHandlerNs: number;
  readonly guestTimerTickNs: number;
  /** The parameters the costs came from, overrides applied. */
  readonly parameters: Readonly<Record<CostName, number>>;
}

export function costParameters(overrides: CostOverrides = {}): Record<CostName, number> {
  const values = {} as Record<CostName, number>;
  for (const p of COST_PARAMETERS) values[p.name] = overrides[p.name] ?? p.defaultValue;
  return values;
}

/** Resolves the parameters to nanoseconds; `nested` applies the nested-virtualization multiplier
 *  to what an exit costs (exits, hypercalls, wake-ups, kicks). */
export function resolveCosts(overrides: CostOverrides, opts: { nested: boolean }): Costs {
  const p = costParameters(overrides);
  const ns = (cycles: number) => Math.round((cycles * 1000) / p.cpuMhz);
  const exit = opts.nested ? p.nestedExitMultiplier : 1;
  return {
    exitNs: Math.round(ns(p.exitRoundTripCycles) * exit),
    userspaceExitExtraNs: Math.round(ns(p.userspaceExitExtraCycles) * exit),
    vmmHandlerNs: ns(p.vmmHandlerCycles),
    hypercallNs: Math.round(ns(p.hypercallCycles) * exit),
    postedDeliveryNs: ns(p.postedDeliveryCycles),
    ipiNs: Math.round(ns(p.ipiCycles) * exit),
    hostIrqNs: ns(p.hostIrqCycles),
    wakeupNs: Math.round(ns(p.wakeupCycles) * exit),
    irteUpdateNs: ns(p.irteUpdateCycles),
    iecInvalidationNs: ns(p.iecInvalidationCycles),
    vfioSetIrqsNs: Math.round(p.vfioSetIrqsNs),
    kvmRouteEntryNs: ns(p.kvmRouteEntryCycles),
    msiWriteNs: Math.round(p.msiWriteNs),
    mmioReadNs: Math.round(p.mmioReadNs),
    guestHandlerNs: Math.round(p.guestHandlerNs),
    guestTimerTickNs: Math.round(p.guestTimerTickNs),
    parameters: p,
  };
}
