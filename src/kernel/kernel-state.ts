// One Linux kernel instance's interrupt state, host or guest: the same code runs as both and only
// the platform under the PCI/MSI domains differs (DESIGN §1.6, §3):
//   host-ir             PCI/MSI -> INTEL-IR (real IRTEs) -> VECTOR
//   host-noir           PCI/MSI -> VECTOR (compatibility-format messages)
//   guest-emulated-msi  PCI/MSI -> VECTOR; the hypervisor traps the writes and translates them
//   guest-vir           PCI/MSI -> INTEL-IR on a virtual IOMMU (virtual IRTEs, trapped)
//   guest-hypercall     PCI/MSI -> PV-IR: the pair is obtained by hypercall (isolates MSI)
// Plain data only (serialisable with structuredClone / JSON): irq descriptors with their
// per-domain `irq_data`, the domains, the vector matrix, per-device MSI descriptors, the access
// log. Behaviour lives in the files named after the Linux objects (`irqdomain.ts`,
// `x86-vector.ts`, `manage.ts`, ...). Invariants: every desc's `data[last]` is in the vector
// domain; every allocated vector appears in exactly one desc's apic data (current or previous)
// and in the matrix (checked by `checkKernel`).
// Not modelled: NUMA, IRQ threads, spurious-interrupt accounting, CPU hot-unplug migration.

import { assert } from '../hw/errors.js';
import type { HwAccess } from './platform.js';
import type { CpuId, CpuMask, DomainId, Hwirq, Vector, Virq } from './types.js';
import type { VectorMatrix } from './vector-matrix.js';

export type PlatformKind =
  | 'host-ir'
  | 'host-noir'
  | 'guest-emulated-msi'
  | 'guest-vir'
  | 'guest-hypercall';

export const PLATFORM_KINDS: readonly PlatformKind[] = [
  'host-ir',
  'host-noir',
  'guest-emulated-msi',
  'guest-vir',
  'guest-hypercall',
];

/** How the APIC driver turns a CPU into a destination (`apic->calc_dest_apicid`). */
export type ApicMode = 'xapic-logical-flat' | 'xapic-phys' | 'x2apic-phys' | 'x2apic-cluster';

export interface KernelVersion {
  readonly major: number;
  readonly minor: number;
}

/** Which irq numbers the IOAPIC's GSIs get (`ioapics[].irqdomain_cfg.type`). */
export type IoapicIrqMapping = 'legacy' | 'dynamic';

export type DomainKind =
  | 'x86-vector'
  | 'vtd-ir'
  | 'pv-ir'
  | 'pci-msi-global'
  | 'pci-msi'
  | 'pci-msix'
  | 'ims'
  | 'ioapic'
  | 'dmar-msi';

export interface IrqDomain {
  readonly id: DomainId;
  /** debugfs name: VECTOR, INTEL-IR-0, PCI-MSIX-0000:00:03.0, IO-APIC-0, ... */
  readonly name: string;
  readonly kind: DomainKind;
  readonly parent: DomainId | null;
  /** The irq_chip name /proc/interrupts shows for irqs whose top level is this domain. */
  readonly chipName: string;
  /** IRQ_DOMAIN_FLAG_ISOLATED_MSI: the domain validates which device may trigger which irq. */
  readonly isolatedMsi: boolean;
  /** The device of a per-device MSI/MSI-X/IMS domain. */
  readonly device?: string;
  /** Irqs currently allocated in this domain (`domain->mapcount`). */
  mapped: number;
  readonly ir?: IrDomainData;
  readonly ioapic?: IoapicDomainData;
}

export interface IrDomainData {
  /** The remapping unit's name, as the platform knows it ("dmar0"). */
  readonly unit: string;
  /** Entries in the table the kernel set up (IRTA size). */
  readonly entries: number;
  /** IRTA_REG.EIME: x2APIC destinations in the IRTE. */
  readonly eime: boolean;
  /** Allocation bitmap of IRTE indices (`ir_table->bitmap`), in dwords. */
  readonly bitmap: number[];
  /** The indices the allocator may hand out, when the (virtual) remapping unit restricts them:
   *  irqlab's vIOMMU capability for `vir-direct` (a per-VM window of the host's table, so the
   *  guest's handles are host-valid as written). Absent: the whole table. */
  readonly window?: { readonly base: number; readonly size: number };
  /** Linux's copy of what it wrote, per index (`irq_2_iommu` + the IRTE it modified). */
  readonly irtes: Record<number, number[]>;
}

export interface IoapicDomainData {
  readonly pins: number;
  readonly gsiBase: number;
  readonly mapping: IoapicIrqMapping;
  /** The source-id VT-d checks for this IOAPIC (from the DMAR table's device scope). */
  readonly sourceId: number;
  /** GSI -> irq, once mapped (`mp_map_gsi_to_irq`). */
  readonly gsiIrq: Record<number, Virq>;
}

/** `struct apic_chip_data` (arch/x86/kernel/apic/vector.c). */
export interface ApicChipData {
  /** `hw_irq_cfg`: what the hardware is programmed with (may be the shutdown vector). */
  hwIrqCfg: { vector: Vector; destApicId: number };
  /** The allocated vector, or 0 if none (reserved or managed-shutdown). */
  vector: Vector | 0;
  prevVector: Vector | 0;
  cpu: CpuId;
  prevCpu: CpuId;
  moveInProgress: boolean;
  /** The old vector waits for the cleanup on `prevCpu` (`!hlist_unhashed(&apicd->clist)`). */
  cleanupPending: boolean;
  isManaged: boolean;
  canReserve: boolean;
  hasReserved: boolean;
}

/** `struct irq_2_iommu` plus the entry Linux keeps for the irq (intel irq_remapping.c). */
export interface IrChipData {
  irteIndex: number;
  subHandle: number;
  /** Source-id to validate (PCI requester ID, or the IOAPIC's). */
  sourceId: number;
  /** Entry as last written; [] before activation. */
  irte: number[];
}

export interface PvIrChipData {
  /** The pair the host gave for this (device, index); kept until the irq is freed. */
  msg: { addrLo: number; addrHi: number; data: number } | null;
  /** The (vector, destination) the host last aimed the pair at; null before the first call. */
  target: { vector: number; destApicId: number } | null;
  /** Activated inside an open batch window: the pair comes with the window's batch call. */
  pending: boolean;
}

export interface IoapicChipData {
  pin: number;
  trigger: 'edge' | 'level';
  /** Entry as last written (masked at setup). */
  rte: { vector: number; destination: number; masked: boolean; irteIndex?: number } | null;
}

export type ChipData =
  | { kind: 'apic'; apicd: ApicChipData }
  | { kind: 'ir'; ir: IrChipData }
  | { kind: 'pv-ir'; pv: PvIrChipData }
  | { kind: 'ioapic'; ioapic: IoapicChipData }
  | { kind: 'msi' }
  | { kind: 'dmar' };

/** `struct irq_data`, one per domain level of an irq. */
export interface IrqData {
  readonly domain: DomainId;
  hwirq: Hwirq;
  chip: ChipData;
}

/** `struct irqaction`. */
export interface IrqAction {
  readonly name: string;
  /** Token of the requester (dev_id): free_irq finds the action by it. */
  readonly devId: string;
  readonly shared: boolean;
}

/** The `IRQD_*` / `IRQS_*` state bits of an irq the model needs. */
export interface IrqState {
  activated: boolean;
  started: boolean;
  disabled: boolean;
  masked: boolean;
  /** IRQD_AFFINITY_MANAGED. */
  managed: boolean;
  /** IRQD_AFFINITY_SET: a user or driver set the affinity. */
  affinitySet: boolean;
  /** IRQD_MANAGED_SHUTDOWN. */
  managedShutdown: boolean;
  /** IRQD_CAN_RESERVE: activation may use reservation mode. */
  canReserve: boolean;
  /** IRQS_PENDING: raised while disabled (lazy masking), to be resent at enable. */
  pending: boolean;
  /** IRQD_SETAFFINITY_PENDING: moved at the next interrupt (`pendingMask`). */
  movePending: boolean;
  /** IRQD_MOVE_PCNTXT: the affinity may change in process context (remapped irqs). */
  movePcntxt: boolean;
  /** IRQ_NO_BALANCING: startup does not apply the default affinity. */
  noBalancing: boolean;
}

/** `struct irq_desc`. */
export interface IrqDesc {
  readonly irq: Virq;
  /** `irq_data` of each level, top domain first, the vector domain last. */
  readonly data: IrqData[];
  /** Flow handler, also the name /proc/interrupts shows after the hwirq ("edge", "fasteoi"). */
  handler: 'edge' | 'fasteoi';
  trigger: 'edge' | 'level';
  actions: IrqAction[];
  /** Disable depth (`desc->depth`): 1 until the first request starts the irq up. */
  depth: number;
  affinity: CpuMask;
  effectiveAffinity: CpuMask;
  pendingMask: CpuMask;
  affinityHint: CpuMask | null;
  state: IrqState;
  /** Interrupts handled per CPU (`desc->kstat_irqs`). */
  kstat: number[];
  /** The MSI descriptor behind the irq: device and index in its domain. */
  msi: { dev: string; domain: MsiDomainSlot; index: number } | null;
  /** /proc/irq/N/ exists once the irq has been requested (`register_irq_proc`). */
  procDir: boolean;
}

export type MsiDomainSlot = 'msi' | 'msix' | 'ims';

/** `struct msi_desc` (include/linux/msi.h) with its PCI part. */
export interface MsiDesc {
  readonly index: number;
  /** The irq, or 0 while not associated. */
  irq: Virq | 0;
  readonly nvecUsed: number;
  readonly affinity: { mask: CpuMask; managed: boolean } | null;
  readonly pci: {
    readonly isMsix: boolean;
    readonly isVirtual: boolean;
    readonly canMask: boolean;
    readonly is64: boolean;
    /** MSI: log2 of the vectors enabled (Multiple Message Enable). */
    readonly multiple: number;
    /** MSI-X: Vector Control as Linux caches it; MSI: the Mask Bits it wrote. */
    ctrl: number;
  };
  /** The last message written (`desc->msg`). */
  msg: { addrLo: number; addrHi: number; data: number };
}

/** What the kernel knows of a PCI function's interrupt hardware (found at enumeration). */
export interface PciFunctionInfo {
  readonly bdf: string;
  readonly requesterId: number;
  readonly msi?: {
    readonly capOffset: number;
    readonly vectors: number;
    readonly is64: boolean;
    readonly perVectorMask: boolean;
  };
  readonly msix?: { readonly capOffset: number; readonly tableSize: number };
  readonly ims?: { readonly entries: number };
  readonly intx?: { readonly gsi: number };
}

/** `struct pci_dev`'s interrupt state plus its `msi_device_data`. */
export interface PciDev {
  readonly info: PciFunctionInfo;
  enableCount: number;
  msiEnabled: boolean;
  msixEnabled: boolean;
  /** The INTx irq, once `pci_enable_device` routed the pin (`dev->irq`). */
  intxIrq: Virq | 0;
  /** Per-device domains (6.2+) by slot; on 6.1 the global PCI-MSI domain is used. */
  domains: Partial<Record<MsiDomainSlot, DomainId>>;
  /** MSI descriptors per domain slot, by index (sparse, an xarray). */
  descs: Record<MsiDomainSlot, Record<number, MsiDesc>>;
}

export interface KernelEvent {
  readonly op: string;
  readonly text: string;
}

export interface KernelState {
  /** "host" or the VM's name. */
  readonly name: string;
  readonly version: KernelVersion;
  readonly platform: PlatformKind;
  readonly apicMode: ApicMode;
  readonly nrCpus: number;
  /** APIC ID of each CPU. */
  readonly apicIds: readonly number[];
  online: CpuMask;
  defaultAffinity: CpuMask;
  matrix: VectorMatrix;
  domains: IrqDomain[];
  /** The roots the platform set up. */
  readonly roots: {
    vector: DomainId;
    remap: DomainId | null;
    pciMsiGlobal: DomainId | null;
    ioapic: DomainId | null;
    dmar: DomainId | null;
  };
  descs: Record<number, IrqDesc>;
  /** Lowest irq number handed out dynamically (`arch_dynirq_lower_bound`: gsi_top). */
  readonly dynirqStart: number;
  /** `nr_irqs`: irq numbers in use are below it; it grows when an allocation needs more
   *  (`irq_expand_nr_irqs`); it sets the width of /proc/interrupts' first column. */
  nrIrqs: number;
  readonly nrLegacyIrqs: number;
  /** Config options that change what /proc/interrupts lists (CONFIG_X86_MCE, a hypervisor
   *  callback vector). */
  readonly features: { readonly mce: boolean; readonly hypervisorCallback: boolean };
  /** Per CPU, vector -> irq (`vector_irq`), 0 when unused. */
  vectorIrq: number[][];
  devices: Record<string, PciDev>;
  accessLog: HwAccess[];
  /** Warnings Linux would print (reservation exceeded, affinity broken, ...). */
  events: KernelEvent[];
  /** Label of the API call in progress (tags accesses). */
  currentOp: string;
  /** PV-IR: irqs activated while a batch window is open (`pvIrBatched`); absent when closed. */
  pvBatch?: number[];
}

export const desc = (k: KernelState, irq: number): IrqDesc | undefined => k.descs[irq];

/** The vector-domain level of an irq (its `apic_chip_data`). */
export function apicData(d: IrqDesc): ApicChipData {
  const bottom = d.data[d.data.length - 1];
  assert(bottom.chip.kind === 'apic', `irq ${d.irq}: its last level is not the vector domain`);
  return bottom.chip.apicd;
}

export const versionIsAtLeast = (v: KernelVersion, major: number, minor: number): boolean =>
  v.major > major || (v.major === major && v.minor >= minor);

export const versionAtLeast = (k: KernelState, major: number, minor: number): boolean =>
  versionIsAtLeast(k.version, major, minor);

export const hasRemap = (k: KernelState): boolean => k.roots.remap !== null;
