// Capacity: how many subdevices (or VFs) of one assignment shape fit on the host before an
// interrupt resource runs out, and which one (issue 6 items 6 and 8; DESIGN.md §1 fact 2: "The
// only difference [between MSI-X and IMS] is capacity: how many subdevices fit").
//
// The shape: each subdevice brings `vectorsPerSubdevice` guest vectors with one host backing, and
// the subdevices are dealt round robin to a fixed set of `vms` guests (the scenario's). What one
// more subdevice costs, per resource (named once below, with where the limit comes from):
//  - parent MSI-X entries (a subdevice backed by its parent's table; idxd keeps entry 0 for
//    itself) or, for a VF, its own table, which must hold the VF's vectors;
//  - IMS entries of the parent (GENCAP max_ims_mult * 256);
//  - MSI vectors: one MSI capability per function, one power-of-two block (PCIe MMC/MME);
//  - host IRTEs (65,536; a multi-MSI block is a power-of-two, aligned: Linux alloc_irte). Under
//    `vir-direct` the device sends the guest's handles as-is, so each guest gets a window of the
//    host table the size of its virtual table (a power of two, IRTA.S: 2^(S+1) >= 2 entries)
//    holding all its vectors: windows, not vectors, are what runs out;
//  - host vectors: one per guest vector (Linux: FIRST_EXTERNAL_VECTOR..FIRST_SYSTEM_VECTOR minus
//    the system vectors there, ~203 per CPU), posted or not: VFIO request_irq()s a host irq for
//    every vector it backs, and irq bypass only turns that irq's IRTE into posted format
//    (intel_ir_set_vcpu_affinity); the host vector stays allocated for when posting is turned off
//    (the flows in vfio.ts do the same). An INTx backing is one host line (its vector and IRTE)
//    shared by every subdevice of the parent, never posted;
//  - KVM GSI routes: one per guest vector, at most KVM_MAX_IRQ_ROUTES (4096) per VM
//    (reference/systems.md §3 pain point 3), wherever KVM injects from a route: under `emulate`
//    and `vir` always (the posted IRTE itself is derived from the irqfd's route, irq bypass), under
//    the direct strategies only for remapped delivery (the hypervisor programs posted IRTEs from
//    the guest's IRTE or the hypercall), and for INTx always;
//  - requester IDs: VF n has routing ID PF + First VF Offset + n * Stride, at most 0xffff.
// Invariant (the property test): `subdevices` fit, and one more exceeds `limitedBy`.
// Not modelled: the model's own no-overcommit rule (one vCPU per pCPU) and VM count, resources the
// rest of the scenario already uses, the boot CPU's 16 legacy ISA vectors, vCPU counts.

import { InputError } from '../hw/errors.js';
import { parseBdf, requesterIdOf } from '../hw/pci/bdf.js';
import { IRTE_ENTRIES_MAX } from '../hw/vtd/remapping-table.js';
import {
  FIRST_EXTERNAL_VECTOR,
  FIRST_SYSTEM_VECTOR,
  IA32_SYSCALL_VECTOR,
} from '../kernel/x86-vector.js';
import { PARENT_MSIX_ENTRIES } from './flows.js';
import type { IsolationStrategy } from './isolation.js';
import { STRATEGY_TABLE } from './strategy-platform.js';

/** Device vectors per CPU: the vector matrix's allocation range (FIRST_EXTERNAL_VECTOR 0x20 up
 *  to FIRST_SYSTEM_VECTOR 0xec) minus the system vector inside it (IA32_SYSCALL_VECTOR 0x80;
 *  Linux >= 6.6 has no cleanup vector there): 204 - 1 = 203. */
export const HOST_VECTORS_PER_CPU =
  FIRST_SYSTEM_VECTOR -
  FIRST_EXTERNAL_VECTOR -
  (IA32_SYSCALL_VECTOR >= FIRST_EXTERNAL_VECTOR && IA32_SYSCALL_VECTOR < FIRST_SYSTEM_VECTOR
    ? 1
    : 0);
/** KVM_MAX_IRQ_ROUTES (include/linux/kvm_host.h on x86): GSI routing entries per VM. */
export const KVM_MAX_IRQ_ROUTES = 4096;
/** Largest PCI routing ID (bus 0xff, device 0x1f, function 7). */
export const ROUTING_ID_MAX = 0xffff;
/** Smallest interrupt-remapping table a guest can have: IRTA.S = 0 gives 2 entries. */
export const GUEST_IRT_ENTRIES_MIN = 2;
/** Upper bound of the search: far above any resource (2^31); reaching it is an irqlab bug. */
const SEARCH_MAX = 2 ** 31;

export const CAPACITY_RESOURCES = [
  'msix-entries',
  'ims-entries',
  'msi-vectors',
  'irtes',
  'host-vectors',
  'kvm-routes',
  'requester-ids',
] as const;
export type CapacityResource = (typeof CAPACITY_RESOURCES)[number];

export type CapacityBacking = 'intx' | 'msi' | 'msix' | 'ims';

export interface CapacityShape {
  readonly strategy: IsolationStrategy;
  /** A Scalable-IOV subdevice (backed by its parent's stores) or an SR-IOV VF (its own table). */
  readonly kind: 'subdevice' | 'vf';
  readonly backing: CapacityBacking;
  readonly vectorsPerSubdevice: number;
  /** Guests the subdevices are dealt to, round robin. */
  readonly vms: number;
  readonly host: { readonly cpus: number; readonly ir: boolean; readonly posted: boolean };
  readonly parent: {
    /** Table Size of the parent's MSI-X (subdevices) or of each VF's (VFs). */
    readonly msixEntries: number;
    /** Parent MSI-X entries the host driver keeps. */
    readonly msixReserved: number;
    readonly msiVectors: number;
    readonly imsEntries: number;
    /** VFs the routing-ID space leaves room for (VFs only). */
    readonly routingIdsLeft: number;
  };
}

export interface ResourceCapacity {
  readonly available: number;
  /** Used by `subdevices` subdevices (KVM routes: by the fullest VM). */
  readonly used: number;
  /** Used by one subdevice more. */
  readonly usedOneMore: number;
}

export interface CapacityResult {
  readonly subdevices: number;
  readonly limitedBy: CapacityResource;
  readonly perResource: Readonly<Record<CapacityResource, ResourceCapacity>>;
}

const nextPowerOfTwo = (n: number) => (n <= 1 ? 1 : 2 ** Math.ceil(Math.log2(n)));

/** Subdevices of VM i when `n` are dealt round robin to `vms`. */
const perVm = (n: number, vms: number, i: number) => Math.floor(n / vms) + (i < n % vms ? 1 : 0);

const isDirect = (s: IsolationStrategy) => s === 'vir-direct' || s === 'pv' || s === 'pv-batch';

/** What each resource offers the shape. */
export function capacityAvailable(shape: CapacityShape): Record<CapacityResource, number> {
  const p = shape.parent;
  return {
    'msix-entries': p.msixEntries,
    'ims-entries': p.imsEntries,
    'msi-vectors': p.msiVectors,
    irtes: IRTE_ENTRIES_MAX,
    'host-vectors': shape.host.cpus * HOST_VECTORS_PER_CPU,
    'kvm-routes': KVM_MAX_IRQ_ROUTES,
    'requester-ids': shape.kind === 'vf' ? p.routingIdsLeft : 0,
  };
}

/** What `n` subdevices of the shape use of each resource (monotone in `n`). */
export function capacityUsage(shape: CapacityShape, n: number): Record<CapacityResource, number> {
  const v = shape.vectorsPerSubdevice;
  const b = shape.backing;
  const vf = shape.kind === 'vf';
  const any = n > 0 ? 1 : 0;
  const remapped = !shape.host.ir || !shape.host.posted;
  const fullestVm = perVm(n, shape.vms, 0);
  return {
    'msix-entries': b !== 'msix' ? 0 : vf ? any * v : any * shape.parent.msixReserved + n * v,
    'ims-entries': b === 'ims' ? n * v : 0,
    // One MSI capability per function: a VF's own block, or one block the subdevices share.
    'msi-vectors': b !== 'msi' ? 0 : vf ? any * nextPowerOfTwo(v) : any * nextPowerOfTwo(n * v),
    irtes: irtesUsed(shape, n),
    'host-vectors': b === 'intx' ? any : n * v,
    'kvm-routes': b === 'intx' || !isDirect(shape.strategy) || remapped ? fullestVm * v : 0,
    'requester-ids': vf ? n : 0,
  };
}

function irtesUsed(shape: CapacityShape, n: number): number {
  if (!shape.host.ir) return 0;
  const v = shape.vectorsPerSubdevice;
  if (shape.backing === 'intx') return n > 0 ? 1 : 0;
  const perSubdevice = shape.backing === 'msi' ? nextPowerOfTwo(v) : v;
  if (!STRATEGY_TABLE[shape.strategy].irteWindow) return n * perSubdevice;
  let windows = 0;
  for (let i = 0; i < Math.min(n, shape.vms); i++) {
    const k = perVm(n, shape.vms, i);
    windows += Math.max(GUEST_IRT_ENTRIES_MIN, nextPowerOfTwo(k * perSubdevice));
  }
  return windows;
}

function fits(shape: CapacityShape, n: number, available: Record<CapacityResource, number>) {
  const used = capacityUsage(shape, n);
  return CAPACITY_RESOURCES.every((r) => used[r] <= available[r]);
}

/** How many subdevices of `shape` fit, and the resource one more would exceed. */
export function subdevicesThatFit(shape: CapacityShape): CapacityResult {
  checkShape(shape);
  const available = capacityAvailable(shape);
  // Exponential then binary search over n: usage is monotone in n.
  let low = 0;
  let high = 1;
  while (fits(shape, high, available)) {
    low = high;
    high *= 2;
    if (high > SEARCH_MAX) {
      throw new InputError('capacity', 'no resource ever runs out for this shape (irqlab bug?)');
    }
  }
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    if (fits(shape, mid, available)) low = mid;
    else high = mid;
  }
  const used = capacityUsage(shape, low);
  const more = capacityUsage(shape, low + 1);
  const limitedBy = CAPACITY_RESOURCES.find((r) => more[r] > available[r]) as CapacityResource;
  const perResource = Object.fromEntries(
    CAPACITY_RESOURCES.map((r) => [
      r,
      { available: available[r], used: used[r], usedOneMore: more[r] },
    ]),
  ) as Record<CapacityResource, ResourceCapacity>;
  return { subdevices: low, limitedBy, perResource };
}

function checkShape(shape: CapacityShape): void {
  const count = (what: string, n: number, min: number) => {
    if (!Number.isInteger(n) || n < min) {
      throw new InputError(`capacity shape ${what}`, `${n} is not an integer >= ${min}`);
    }
  };
  count('vectorsPerSubdevice', shape.vectorsPerSubdevice, 1);
  count('vms', shape.vms, 1);
  count('host.cpus', shape.host.cpus, 1);
  for (const [k, n] of Object.entries(shape.parent)) count(`parent.${k}`, n, 0);
}

// ---- the shape of a scenario ----

/** The parts of a scenario the shape is read from (structurally, the scenario layer's type). */
export interface CapacityScenario {
  readonly host: {
    readonly cpus: number;
    readonly iommu: { readonly ir: boolean; readonly posted: boolean };
  };
  readonly devices: readonly {
    readonly name: string;
    readonly kind: string;
    readonly bdf: string;
    readonly msix: number;
    readonly msi: number;
    readonly ims: number;
    readonly vfMsix: number;
    readonly vfOffset: number;
    readonly vfStride: number;
  }[];
  readonly vms: readonly {
    readonly assign: readonly {
      readonly device: string;
      readonly vf?: number;
      readonly subdevice?: number;
      readonly backing: CapacityBacking;
      readonly vectors: number;
    }[];
  }[];
}

/**
 * The scenario's shape: its first VF or subdevice assignment (else its first assignment), with
 * the most vectors any assignment of that device and kind has, dealt to the VMs holding one.
 * Null if the scenario assigns nothing.
 */
export function capacityShapeOf(
  s: CapacityScenario,
  strategy: IsolationStrategy,
): CapacityShape | null {
  const all = s.vms.flatMap((vm, i) => vm.assign.map((a) => ({ vm: i, a })));
  const first = all.find((x) => x.a.vf !== undefined || x.a.subdevice !== undefined) ?? all[0];
  if (!first) return null;
  const vf = first.a.vf !== undefined;
  const same = all.filter(
    (x) =>
      x.a.device === first.a.device &&
      (x.a.vf !== undefined) === vf &&
      x.a.backing === first.a.backing,
  );
  const d = s.devices.find((x) => x.name === first.a.device);
  if (!d) throw new InputError('capacity', `no device named "${first.a.device}"`);
  const vf0 = requesterIdOf(parseBdf(d.bdf)) + d.vfOffset;
  return {
    strategy,
    kind: vf ? 'vf' : 'subdevice',
    backing: first.a.backing,
    vectorsPerSubdevice: Math.max(...same.map((x) => x.a.vectors)),
    vms: new Set(same.map((x) => x.vm)).size,
    host: { cpus: s.host.cpus, ir: s.host.iommu.ir, posted: s.host.iommu.posted },
    parent: {
      msixEntries: vf ? d.vfMsix : d.msix,
      msixReserved: first.a.subdevice !== undefined ? PARENT_MSIX_ENTRIES : 0,
      msiVectors: d.msi,
      imsEntries: d.ims,
      routingIdsLeft:
        vf && vf0 <= ROUTING_ID_MAX ? Math.floor((ROUTING_ID_MAX - vf0) / d.vfStride) + 1 : 0,
    },
  };
}
