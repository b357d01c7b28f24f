// VM-exit accounting by reason, as the hypervisor sees them: which of a guest kernel's hardware
// accesses trap under each strategy, and what each exit costs from the cost model.
//
// Control-plane exits follow from the guest kernel's own access log (`k.accessLog`): a config
// access always traps (VFIO's config space is emulated by the VMM: QEMU vfio-pci), a table/PBA
// access traps unless the strategy maps the table straight into the guest, an IMS access traps
// unless the guest's IMS slice is mapped, a VT-d IEC invalidation of a virtual IOMMU traps (the
// queued-invalidation doorbell), a hypercall is a VMCALL exit. A virtual IRTE write lands in
// guest memory: no exit. Data-plane exits (external interrupt, EOI, posted-interrupt wake-up,
// HLT) come from the simulator's run of the delivery path.
// Invariants: one access => at most one exit; exits QEMU completes in userspace pay the
// userspace-VMM extra and its handler; every exit pays the nested multiplier through the prices (`ExitPrices`).
// Not modelled: MMIO coalescing, ioeventfd, the exit of a TLB miss on the mapped table page.

import { assert } from '../hw/errors.js';
import type { HwAccess } from '../kernel/platform.js';
import type { TRAP_KIND } from '../machine/system-state.js';

export const EXIT_KINDS = [
  'configAccess',
  'msixTableAccess',
  'imsAccess',
  'hypercall',
  'iecInvalidation',
  'externalInterrupt',
  'eoi',
  'piWakeup',
  'hlt',
] as const;
export type ExitKind = (typeof EXIT_KINDS)[number];
export type ExitCounts = Record<ExitKind, number>;

export const emptyExits = (): ExitCounts =>
  Object.fromEntries(EXIT_KINDS.map((k) => [k, 0])) as ExitCounts;

export function addExits(into: ExitCounts, from: Readonly<ExitCounts>): ExitCounts {
  for (const k of EXIT_KINDS) into[k] += from[k];
  return into;
}

export const totalExits = (e: Readonly<ExitCounts>): number =>
  EXIT_KINDS.reduce((n, k) => n + e[k], 0);

/** What the hypervisor traps for one assigned function under a strategy. */
export interface TrapPolicy {
  /** The MSI-X table and PBA page are trapped (emulated), not mapped into the guest. */
  readonly msixTableTrapped: boolean;
  /** The IMS slice is trapped (emulated by the VMM's virtual device), not mapped. */
  readonly imsTrapped: boolean;
  /** The guest's IEC invalidations reach a virtual IOMMU (queued-invalidation doorbell). */
  readonly iecTrapped: boolean;
  /** What the guest writes into a trapped MSI-X entry: a compatibility-format pair the VMM turns
   *  into KVM's route (emulate), or a remappable handle its vIOMMU translates (vir). */
  readonly trappedEntryFormat: 'compat' | 'remappable';
}

/** The exit one guest access causes, or null when it completes without leaving the guest. */
export function exitOfAccess(a: HwAccess, trap: TrapPolicy): ExitKind | null {
  switch (a.kind) {
    case 'cfg-read':
    case 'cfg-write':
      return 'configAccess';
    case 'mmio-read':
    case 'mmio-write':
      if (a.region === 'ims') return trap.imsTrapped ? 'imsAccess' : null;
      return trap.msixTableTrapped ? 'msixTableAccess' : null;
    case 'iec-invalidate':
      return trap.iecTrapped ? 'iecInvalidation' : null;
    case 'hypercall':
      return 'hypercall';
    case 'irte-write':
      return null; // a virtual IRTE is guest memory
    case 'ioapic-rte-write':
      return 'configAccess'; // not reached by assigned functions; an emulated device register
    case 'ipi':
      return null; // x2APIC ICR writes are handled by APICv's IPI virtualization or fastpath
  }
}

/** The exit a trap the machine leaves in a vCPU's TRAP words stands for (`machine/vcpu-trap.ts`:
 *  a guest access to an emulated MSI-X or IMS entry, a hypercall, a trapped invalidation). */
export const EXIT_KIND_OF_TRAP: Readonly<
  Record<Exclude<keyof typeof TRAP_KIND, 'none'>, ExitKind>
> = {
  msixRead: 'msixTableAccess',
  msixWrite: 'msixTableAccess',
  imsRead: 'imsAccess',
  imsWrite: 'imsAccess',
  hypercall: 'hypercall',
  invalidation: 'iecInvalidation',
  cfgAccess: 'configAccess',
};

/** The exits, by kind, of traps counted by trap kind name. */
export function exitsOfTraps(byTrap: Readonly<Partial<Record<keyof typeof TRAP_KIND, number>>>) {
  const e = emptyExits();
  for (const [trap, n] of Object.entries(byTrap)) {
    assert(trap !== 'none' && Object.hasOwn(EXIT_KIND_OF_TRAP, trap), `exit of trap ${trap}`);
    e[EXIT_KIND_OF_TRAP[trap as keyof typeof EXIT_KIND_OF_TRAP]] += n ?? 0;
  }
  return e;
}

/** The prices the hypervisor's accounting needs, in nanoseconds: a subset of the simulator's
 *  resolved cost model (`src/sim/cost-model.ts` `Costs`, which satisfies this structurally; the
 *  hv layer sits below sim and does not import it). */
export interface ExitPrices {
  readonly exitNs: number;
  readonly userspaceExitExtraNs: number;
  readonly vmmHandlerNs: number;
  readonly hypercallNs: number;
  readonly hostIrqNs: number;
  readonly wakeupNs: number;
  readonly vfioSetIrqsNs: number;
  readonly kvmRouteEntryNs: number;
  readonly irteUpdateNs: number;
}

/** Nanoseconds one exit of `kind` costs: the round trip, plus the userspace VMM when QEMU is the
 *  one that completes it (config space, MSI-X table, emulated IMS, vIOMMU invalidation). */
export function exitCostNs(kind: ExitKind, c: ExitPrices): number {
  const userspace = c.exitNs + c.userspaceExitExtraNs + c.vmmHandlerNs;
  switch (kind) {
    case 'configAccess':
    case 'msixTableAccess':
    case 'imsAccess':
    case 'iecInvalidation':
      return userspace;
    case 'hypercall':
      return c.hypercallNs;
    case 'externalInterrupt':
      return c.exitNs + c.hostIrqNs;
    case 'eoi':
    case 'hlt':
      return c.exitNs;
    case 'piWakeup':
      return c.wakeupNs;
  }
}

/** Total cost of a set of exits. */
export const exitsCostNs = (e: Readonly<ExitCounts>, c: ExitPrices): number =>
  EXIT_KINDS.reduce((ns, k) => ns + e[k] * exitCostNs(k, c), 0);

/** The simulator's exits by KVM reason name (kvm_exit), mapped to the kinds above; `wakeups` are
 *  the posted-interrupt wake-up handler runs the simulator counted. */
export function dataPlaneExits(byName: Readonly<Record<string, number>>, wakeups: number) {
  const e = emptyExits();
  for (const [name, n] of Object.entries(byName)) {
    if (name === 'EXTERNAL_INTERRUPT') e.externalInterrupt += n;
    else if (name === 'HLT') e.hlt += n;
    else if (name === 'EOI_INDUCED' || name === 'APIC_WRITE' || name === 'MSR_WRITE') e.eoi += n;
  }
  e.piWakeup = wakeups;
  return e;
}
