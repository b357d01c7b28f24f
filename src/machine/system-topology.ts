// The fixed part of the whole-system model: what a scenario decides once and no action changes
// (CPUs, requesters, interrupt stores, VMs and vCPUs, assigned vectors), and where each piece of
// changing state lives in the state's one Uint32Array (`SystemLayout`). Every state of a run
// shares one topology object; only the words are per state (DESIGN.md §3).
//
// Invariants: regions do not overlap and cover `layout.words` exactly; every store belongs to one
// requester port; every assigned vector names an existing store entry, VM and vCPU; host vectors
// are unique per pCPU. Checked by `createSystemTopology` (a violation is an irqlab bug: the
// scenario layer validated its input).
// Not here: behaviour (system-delivery.ts, system-vcpu.ts), the initial contents (system-state.ts).

import { bitmapDwords } from '../hw/bitmap.js';
import { assert } from '../hw/errors.js';
import { IMS_ENTRY_DWORDS } from '../hw/ims/ims-store.js';
import { bdfOfRequesterId, type RequesterId, requesterIdOf } from '../hw/pci/bdf.js';
import { msixPbaDwords } from '../hw/pci/msix-pba.js';
import { MSIX_ENTRY_DWORDS } from '../hw/pci/msix-table.js';
import type { VtdIrMode } from '../hw/vtd/interrupt-remapping.js';
import { IRTE_DWORDS } from '../hw/vtd/irte.js';
import { entriesForSize, IRTA_SIZE_MAX } from '../hw/vtd/remapping-table.js';
import { APIC_REG_DWORDS } from '../hw/x86/lapic.js';
import { PID_DWORDS } from '../hw/x86/posted-descriptor.js';

/** Messages a requester can have in flight to the root complex before it stalls (posted-write
 *  flow-control credits; irqlab's bound, not a spec number). A raise that finds its port full
 *  coalesces with the messages already queued and is counted as such. */
export const PORT_FIFO_DEPTH = 16;
/** A queued message: Message Address, Upper Address, Data, and irqlab's tag (below). */
export const MESSAGE_DWORDS = 4;
/** Interrupts the remapping unit has remapped (or posted a notification for) that are on their way
 *  to the LAPICs (irqlab's bound, not a spec number: a full one stalls the unit). */
export const UPSTREAM_DEPTH = 16;
/** An interrupt in flight to a LAPIC (`system-state.ts UPSTREAM_MESSAGE`). */
export const UPSTREAM_DWORDS = 4;
/** Tag of a message that no assigned vector sent (e.g. an entry a guest wrote at will). Small
 *  enough to stay a V8 small integer (the hot path compares against it); vectors are fewer. */
export const NO_VECTOR = 0xffff;
/** Guest MSI route as KVM keeps it (struct kvm_irq_routing_msi: address_lo, address_hi, data). */
export const ROUTE_DWORDS = 3;
/** The guest kernel's vector of an assigned vector (apic_chip_data): current target, previous
 *  target during a move (`system-state.ts GUEST_APIC_CURRENT`, `GUEST_APIC_PREVIOUS`). */
export const GUEST_APIC_DWORDS = 2;
/** Per assigned vector, the guest's MSI-X entry as the VMM emulates it (4 dwords, as the guest
 *  reads them) and the VMM's state of it (`system-state.ts VMSIX_STATE`). */
export const VMSIX_DWORDS = 5;
/** Per vCPU, the trapped access it exited on (`system-state.ts TRAP`) and its value. */
export const TRAP_DWORDS = 2;
/** Descriptor slots of the host's invalidation queue (`host-qi.ts`). Linux's ring has QI_LENGTH
 *  256; modify_irte holds irq_2_ir_lock across qi_flush_iec, so at most one batch (an IEC
 *  descriptor and its wait) is outstanding, which 4 slots hold with the slot kept free. */
export const HOST_QI_LENGTH = 4;
/** IQH, IQT, the drain count, the wait's status word and its waiter, then the ring. */
export const HOST_QI_DWORDS = 5 + HOST_QI_LENGTH * 4;
/** Per thread: THREAD (program, step) and two locals of the program. */
export const THREAD_DWORDS = 3;
/** Per assigned vector: raised, delivered, coalesced, lost (ghost counters for the properties). */
export const VECTOR_COUNTERS = { raised: 0, delivered: 1, coalesced: 2, lost: 3 } as const;
export const VECTOR_COUNTER_DWORDS = 4;
/** The MSI capability registers a store of kind 'msi' keeps: Message Control, Address, Upper
 *  Address, Data, Mask Bits, Pending Bits (PCIe 7.7.1, 64-bit with per-vector masking). */
export const MSI_STORE_DWORDS = { control: 0, addrLo: 1, addrHi: 2, data: 3, mask: 4, pending: 5 };
const MSI_STORE_SIZE = 6;
/** Synthetic physical address of vCPU i's posted-interrupt descriptor: 4 GiB + 64 * i. KVM
 *  allocates them anywhere in host memory; one fixed region lets the model map PDA back. */
export const PID_REGION_HIGH = 0x1;

export type StoreKind = 'msix' | 'ims' | 'msi' | 'intx';

export interface SystemSpec {
  readonly host: {
    readonly cpus: number;
    readonly x2apic: boolean;
    readonly ir: boolean;
    readonly posted: boolean;
    readonly apicv: boolean;
  };
  readonly ports: readonly { readonly name: string; readonly requesterId: number }[];
  readonly stores: readonly {
    readonly name: string;
    readonly kind: StoreKind;
    readonly port: number;
    readonly entries: number;
    /** INTx: the line (IOAPIC pin) the store's sources assert; stores on one line share it. */
    readonly line?: number;
    /** MSI: the capability has Per-Vector Masking (Message Control bit 8). Default: true. */
    readonly perVectorMask?: boolean;
  }[];
  readonly vms: readonly {
    readonly name: string;
    readonly idle: 'poll' | 'halt';
    /** pCPU each vCPU starts on. */
    readonly pcpus: readonly number[];
  }[];
  readonly vectors: readonly VectorSpec[];
  /** Size the remapping table for at least this many entries (the build's staging state is made
   *  before the host kernel has allocated any IRTE, and must keep the final layout). */
  readonly irtEntriesMin?: number;
}

/** How the guest sees an assigned vector's MSI-X entry (or IMS entry: the same four dwords) when
 *  the VMM emulates the table (the table page, or the IMS slice, traps): the entry holds a compatibility-format pair, which the VMM turns into KVM's
 *  route (emulate), or a remappable handle, translated through the vIOMMU's IRTE (vir, whose
 *  IRTEs the machine does not hold yet: the route is kept). `none`: the guest reaches the entry
 *  directly (a mapped table), or sees no MSI-X entry for it. */
export type VirtualMsix = 'none' | 'compat' | 'remappable';

/** How the guest kernel moves an assigned vector to another vCPU, which decides what the machine
 *  runs for a set-affinity: the accesses to its emulated MSI-X entry (emulate, `guest-entry.ts`),
 *  the config writes of its emulated MSI capability (emulate, `guest-msi.ts`),
 *  the pv ABI's RETARGET hypercall (pv, `pv-retarget.ts`), its IR domain's IRTE write and the
 *  trapped invalidation (vir, vir-direct, `viommu-ir.ts`), or (`none`) one action. */
export type GuestMove = 'none' | 'msix-entry' | 'msi-write' | 'pv-retarget' | 'viommu-irte';

/** The entry the guest driver masks and unmasks a vector in: its MSI-X entry or its IMS entry,
 *  emulated by the VMM (`virtualMsix`) or the device's own (a mapped table), as the guest's
 *  accesses step by step (`guest-entry.ts`); `none` (an MSI capability, INTx): one action. */
export type GuestEntry = 'none' | 'msix' | 'ims';

export interface VectorSpec {
  readonly name: string;
  /** Default: none. */
  readonly guestMove?: GuestMove;
  /** The guest's MSI-X (or IMS) entry for the vector, if the VMM emulates it. Default: none. */
  readonly virtualMsix?: VirtualMsix;
  /** Default: none. */
  readonly guestEntry?: GuestEntry;
  readonly store: number;
  readonly entry: number;
  readonly vm: number;
  /** vCPU index within the VM and guest vector the guest asked for. */
  readonly vcpu: number;
  readonly guestVector: number;
  /** Host IRTE index, or -1 without interrupt remapping. */
  readonly irte: number;
  /** Host CPU and vector of the remapped (non-posted) path. */
  readonly hostCpu: number;
  readonly hostVector: number;
  readonly hostIrq: number;
  readonly guestIrq: number;
}

export interface StoreTopology {
  readonly name: string;
  readonly kind: StoreKind;
  readonly port: number;
  readonly entries: number;
  /** Word offset of entry 0 (4 dwords per entry; MSI: the capability registers; INTx: the
   *  line's one message, whatever the number of sources). */
  readonly entriesAt: number;
  /** Word offset of the pending bitmap (MSI-X PBA, IMS pending, INTx: the status register). */
  readonly pendingAt: number;
  /** Word offset of Message Control (MSI-X, MSI), of the per-source mask register (INTx), or
   *  -1 (IMS). */
  readonly controlAt: number;
  /** Word offset of the store's unplugged flag. */
  readonly unpluggedAt: number;
  /** `entryOwner[entry]` = the assigned vector using the entry, or -1. */
  readonly entryOwner: Int32Array;
  /** INTx: every INTx store on the same line, this one included (the line is asserted while any
   *  of them has an unmasked status bit; the host's handler runs every sharer's fan-out, as
   *  IRQF_SHARED handlers do). Empty for the other kinds. */
  readonly lineStores: readonly number[];
  /** MSI: Per-Vector Masking Capable (false for the other kinds). */
  readonly perVectorMask: boolean;
}

export interface PortTopology {
  readonly name: string;
  readonly requesterId: RequesterId;
  /** Word offset of the FIFO: count, then PORT_FIFO_DEPTH messages. */
  readonly fifoAt: number;
}

export interface VcpuTopology {
  readonly vm: number;
  /** Index within its VM (its APIC ID in the guest). */
  readonly index: number;
  readonly name: string;
}

export interface VmTopology {
  readonly name: string;
  readonly idle: 'poll' | 'halt';
  readonly firstVcpu: number;
  readonly vcpus: number;
  /** Assigned vectors of this VM (global indices). */
  readonly vectors: readonly number[];
}

/** A thread that runs step programs (`step-program.ts`): a vCPU's task in the host (KVM's
 *  vcpu_run, its scheduling in and out), a guest irq (the guest driver's operations on one
 *  assigned vector, run on one of its vCPUs) or a guest irq's cleanup (the vector cleanup timer).
 *  Threads `0 .. vcpus-1` are the vCPUs', then one irq thread per assigned vector, then one
 *  cleanup thread per assigned vector. */
export interface ThreadTopology {
  readonly name: string;
  readonly kind: 'vcpu' | 'irq' | 'cleanup';
  /** vCPU index (global) or assigned vector index. */
  readonly index: number;
}

export interface SystemLayout {
  readonly words: number;
  readonly threads: number;
  readonly upstream: number;
  readonly vmsix: number;
  /** Per assigned vector, the guest's IRTE for it in its vIOMMU's table (guest memory). */
  readonly guestIrte: number;
  readonly vcpuTrap: number;
  readonly irt: number;
  readonly iecValid: number;
  readonly iecCopy: number;
  /** The host remapping unit's invalidation queue (`host-qi.ts`). */
  readonly hostQi: number;
  readonly pcpuIrr: number;
  readonly pcpuMode: number;
  readonly vcpuPid: number;
  readonly vcpuVirr: number;
  readonly vcpuRun: number;
  readonly vectorRoute: number;
  readonly guestApic: number;
  readonly vectorCounters: number;
  /** Per vCPU, its virtual ISR (the vectors the guest took and has not EOI'd yet). */
  readonly vcpuVisr: number;
}

export interface SystemTopology {
  readonly host: SystemSpec['host'];
  /** The remapping unit's modes (`hw/vtd/interrupt-remapping.ts VtdIrMode`): GSTS.IRES is the
   *  host's IR, CFIS clear (Linux clears GCMD.CFI when it enables remapping), IRTA.EIME follows
   *  the host's x2APIC mode, CAP.PI its posted interrupts. */
  readonly remapUnit: VtdIrMode;
  /** IRTA_REG.S: the table has 2^(S+1) entries, just enough for the scenario's IRTEs. */
  readonly irtaSize: number;
  readonly irtEntries: number;
  readonly ports: readonly PortTopology[];
  readonly stores: readonly StoreTopology[];
  readonly vms: readonly VmTopology[];
  readonly vcpus: readonly VcpuTopology[];
  /** pCPU each vCPU starts on. */
  readonly initialPcpu: readonly number[];
  readonly vectors: readonly VectorSpec[];
  readonly threads: readonly ThreadTopology[];
  /** Steps of step programs left out (a check's `mutate:`), as `stepKey(program, pc)`;
   *  absent: none. */
  readonly droppedSteps?: ReadonlySet<number>;
  /** Steps run in each other's place (a check's `mutate: swap`): `stepKey(program, pc)` -> the
   *  index of the step that runs at that position; absent: none. */
  readonly swappedSteps?: ReadonlyMap<number, number>;
  /** `hostVectorOwner[cpu * 256 + vector]` = assigned vector index, or -1. */
  readonly hostVectorOwner: Int32Array;
  /** `irteOwner[index]` = assigned vector index, or -1. */
  readonly irteOwner: Int32Array;
  readonly layout: SystemLayout;
}

/** Smallest IRTA.S whose table holds `entries` (at least 2 entries, S = 0). */
export function irtaSizeFor(entries: number): number {
  for (let s = 0; s <= IRTA_SIZE_MAX; s++) if (entriesForSize(s) >= entries) return s;
  return IRTA_SIZE_MAX;
}

export function createSystemTopology(spec: SystemSpec): SystemTopology {
  let next = 0;
  const take = (n: number) => {
    const at = next;
    next += n;
    return at;
  };
  const ports = spec.ports.map((p): PortTopology => {
    const rid = p.requesterId as RequesterId;
    assert(requesterIdOf(bdfOfRequesterId(rid)) === rid, `port ${p.name}: requester ID round trip`);
    return {
      name: p.name,
      requesterId: rid,
      fifoAt: take(1 + PORT_FIFO_DEPTH * MESSAGE_DWORDS),
    };
  });
  const stores = spec.stores.map((s): StoreTopology => {
    assert(s.port >= 0 && s.port < ports.length, `store ${s.name}: no port ${s.port}`);
    const r = storeRegions(s.kind, s.entries, take);
    // One literal, fields in one order, whatever the kind: every store object has the same
    // hidden class, so the delivery path's store reads stay monomorphic across kinds.
    return {
      name: s.name,
      kind: s.kind,
      port: s.port,
      entries: s.entries,
      entriesAt: r.entriesAt,
      pendingAt: r.pendingAt,
      controlAt: r.controlAt,
      unpluggedAt: r.unpluggedAt,
      entryOwner: new Int32Array(s.entries).fill(-1),
      lineStores: intxLineStores(spec.stores, s),
      perVectorMask: s.kind === 'msi' && (s.perVectorMask ?? true),
    };
  });
  const maxIrte = spec.vectors.reduce((m, v) => Math.max(m, v.irte), -1);
  const irtaSize = irtaSizeFor(Math.max(maxIrte + 1, spec.irtEntriesMin ?? 0));
  const irtEntries = entriesForSize(irtaSize);
  const vcpus: VcpuTopology[] = [];
  const initialPcpu: number[] = [];
  const vms = spec.vms.map((vm, v): VmTopology => {
    const firstVcpu = vcpus.length;
    vm.pcpus.forEach((pcpu, i) => {
      assert(pcpu >= 0 && pcpu < spec.host.cpus, `${vm.name} vCPU ${i}: no pCPU ${pcpu}`);
      vcpus.push({ vm: v, index: i, name: `${vm.name}/vcpu${i}` });
      initialPcpu.push(pcpu);
    });
    const vectors = spec.vectors.flatMap((x, i) => (x.vm === v ? [i] : []));
    return { name: vm.name, idle: vm.idle, firstVcpu, vcpus: vm.pcpus.length, vectors };
  });
  const cpus = spec.host.cpus;
  const vectorCount = spec.vectors.length;
  const layout: SystemLayout = {
    irt: take(irtEntries * IRTE_DWORDS),
    iecValid: take(bitmapDwords(irtEntries)),
    iecCopy: take(irtEntries * IRTE_DWORDS),
    hostQi: take(HOST_QI_DWORDS),
    pcpuIrr: take(cpus * APIC_REG_DWORDS),
    pcpuMode: take(cpus),
    vcpuPid: take(vcpus.length * PID_DWORDS),
    vcpuVirr: take(vcpus.length * APIC_REG_DWORDS),
    vcpuRun: take(vcpus.length),
    vectorRoute: take(vectorCount * ROUTE_DWORDS),
    guestApic: take(vectorCount * GUEST_APIC_DWORDS),
    vectorCounters: take(vectorCount * VECTOR_COUNTER_DWORDS),
    upstream: take(1 + UPSTREAM_DEPTH * UPSTREAM_DWORDS),
    vmsix: take(vectorCount * VMSIX_DWORDS),
    guestIrte: take(vectorCount * IRTE_DWORDS),
    vcpuTrap: take(vcpus.length * TRAP_DWORDS),
    threads: take((vcpus.length + 2 * vectorCount) * THREAD_DWORDS),
    vcpuVisr: take(vcpus.length * APIC_REG_DWORDS),
    words: 0,
  };
  const threads: ThreadTopology[] = [
    ...vcpus.map((v, i) => ({ name: v.name, kind: 'vcpu' as const, index: i })),
    ...spec.vectors.map((v, i) => ({ name: v.name, kind: 'irq' as const, index: i })),
    ...spec.vectors.map((v, i) => ({
      name: `${v.name}/cleanup`,
      kind: 'cleanup' as const,
      index: i,
    })),
  ];
  const topology: SystemTopology = {
    host: spec.host,
    remapUnit: {
      ire: spec.host.ir,
      cfi: false,
      eime: spec.host.x2apic,
      postedInterrupts: spec.host.posted,
    },
    irtaSize,
    irtEntries,
    ports,
    stores,
    vms,
    vcpus,
    initialPcpu,
    vectors: spec.vectors,
    threads,
    hostVectorOwner: new Int32Array(cpus * 256).fill(-1),
    irteOwner: new Int32Array(irtEntries).fill(-1),
    layout: { ...layout, words: next },
  };
  indexVectors(topology);
  return topology;
}

function storeRegions(kind: StoreKind, entries: number, take: (n: number) => number) {
  switch (kind) {
    case 'msix':
      return {
        controlAt: take(1),
        entriesAt: take(entries * MSIX_ENTRY_DWORDS),
        pendingAt: take(msixPbaDwords(entries)),
        unpluggedAt: take(1),
      };
    case 'ims':
      return {
        controlAt: -1,
        entriesAt: take(entries * IMS_ENTRY_DWORDS),
        pendingAt: take(bitmapDwords(entries)),
        unpluggedAt: take(1),
      };
    case 'msi': {
      const at = take(MSI_STORE_SIZE);
      return {
        controlAt: at + MSI_STORE_DWORDS.control,
        entriesAt: at,
        pendingAt: at + MSI_STORE_DWORDS.pending,
        unpluggedAt: take(1),
      };
    }
    case 'intx':
      // One line shared by `entries` interrupt sources of a subdevice: the message the IOAPIC
      // sends for the pin (with the RTE's mask as its Mask Bit), the device's interrupt status
      // register (one bit per source: the pending bitmap), and its per-source mask register.
      return {
        entriesAt: take(MSIX_ENTRY_DWORDS),
        pendingAt: take(bitmapDwords(entries)),
        controlAt: take(bitmapDwords(entries)),
        unpluggedAt: take(1),
      };
  }
}

function intxLineStores(all: SystemSpec['stores'], s: SystemSpec['stores'][number]): number[] {
  if (s.kind !== 'intx') return [];
  assert(s.line !== undefined, `${s.name}: an INTx store names its line`);
  return all.flatMap((x, i) => (x.kind === 'intx' && x.line === s.line ? [i] : []));
}

function indexVectors(t: SystemTopology): void {
  assert(t.vectors.length < NO_VECTOR, `${t.vectors.length} vectors: at most ${NO_VECTOR - 1}`);
  t.vectors.forEach((v, i) => {
    const store = t.stores[v.store];
    assert(store !== undefined, `${v.name}: no store ${v.store}`);
    assert(v.entry >= 0 && v.entry < store.entries, `${v.name}: entry ${v.entry} outside store`);
    assert(store.entryOwner[v.entry] === -1, `${v.name}: entry ${v.entry} used twice`);
    store.entryOwner[v.entry] = i;
    assert(v.vm >= 0 && v.vm < t.vms.length, `${v.name}: no VM ${v.vm}`);
    assert(v.vcpu >= 0 && v.vcpu < t.vms[v.vm].vcpus, `${v.name}: no vCPU ${v.vcpu}`);
    if (v.irte >= 0) {
      assert(t.irteOwner[v.irte] === -1, `${v.name}: IRTE ${v.irte} used twice`);
      t.irteOwner[v.irte] = i;
    }
    if (v.hostVector >= 0) {
      const slot = v.hostCpu * 256 + v.hostVector;
      assert(t.hostVectorOwner[slot] === -1, `${v.name}: host vector used twice`);
      t.hostVectorOwner[slot] = i;
    }
  });
}

/** The thread of the guest irq of assigned vector `vector`. */
export const irqThread = (t: SystemTopology, vector: number): number => t.vcpus.length + vector;
/** The thread of the guest's cleanup of assigned vector `vector`'s previous target. */
export const cleanupThread = (t: SystemTopology, vector: number): number =>
  t.vcpus.length + t.vectors.length + vector;

/** Global vCPU index of vCPU `index` of VM `vm`. */
export const vcpuId = (t: SystemTopology, vm: number, index: number): number =>
  t.vms[vm].firstVcpu + index;

/** The key of step `pc` of program `program` in `droppedSteps` and `swappedSteps`. */
export const stepKey = (program: number, pc: number): number => program * 256 + pc;
