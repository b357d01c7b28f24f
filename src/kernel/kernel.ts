// Building a kernel instance: the vector matrix and the vector domain with the system vectors
// (`arch_early_irq_init`, `lapic_assign_system_vectors`), the remapping domain the platform
// gives (`intel_setup_irq_remapping` / the hypercall domain), the DMAR fault domain, the global
// PCI-MSI domain of kernels before 6.2 and the IOAPIC domain. The boot CPU is online; the others
// come up with `onlineCpus` (that order matters: what is allocated before SMP lands on CPU 0).
// Invariant: the hierarchy is fixed here; only per-device MSI/MSI-X/IMS domains are added later.
// Not modelled: more than one IOAPIC or remapping unit, HPET MSI.

import { assert, InputError } from '../hw/errors.js';
import { checkApicMode } from './apic.js';
import { dmarCreateDomain } from './dmar.js';
import { ioapicCreateDomain } from './ioapic.js';
import { enableIrX2apic, type IrCapabilities, impliedIrCapabilities } from './irq-remapping.js';
import { createDomain } from './irqdomain.js';
import type {
  ApicMode,
  IoapicIrqMapping,
  KernelState,
  KernelVersion,
  PciFunctionInfo,
  PlatformKind,
} from './kernel-state.js';
import { versionAtLeast } from './kernel-state.js';
import { pciMsiCreateGlobalDomain } from './pci-msi-domain.js';
import { type CpuId, cpuRange, type DomainId } from './types.js';
import { matrixCreate, NR_VECTORS } from './vector-matrix.js';
import { INTR_REMAP_TABLE_ENTRIES } from './vtd-ir.js';
import {
  FIRST_EXTERNAL_VECTOR,
  FIRST_SYSTEM_VECTOR,
  NR_LEGACY_IRQS,
  VECTOR_UNUSED,
  vectorCpuOnline,
  vectorDomainInit,
} from './x86-vector.js';

/** CONFIG_NR_CPUS bound irqlab accepts for one kernel. */
export const KERNEL_CPUS_MAX = 1024;

export interface KernelConfig {
  readonly name: string;
  readonly version: KernelVersion;
  readonly platform: PlatformKind;
  readonly cpus: number;
  readonly apicMode: ApicMode;
  /** APIC ID per CPU; CPU n has APIC ID n unless given. */
  readonly apicIds?: readonly number[];
  readonly legacyPic: boolean;
  readonly ia32Emulation: boolean;
  readonly hypervisorCallback: boolean;
  /** CONFIG_X86_MCE (THR, DFR, MCE, MCP lines in /proc/interrupts). */
  readonly mce: boolean;
  readonly ioapic: {
    readonly pins: number;
    readonly mapping: IoapicIrqMapping;
    readonly sourceId: number;
  } | null;
  /** The remapping unit (host-ir, guest-vir): its name and (a `vir-direct` vIOMMU) the window
   *  of IRTE indices the guest's allocator must stay in. */
  readonly remapUnit?: {
    readonly name: string;
    readonly window?: { readonly base: number; readonly size: number };
  };
  /** What Linux decides the IR mode from (ECAP_REG, the CPU's x2APIC); absent: what the APIC
   *  mode needs (`impliedIrCapabilities`). */
  readonly irCapabilities?: IrCapabilities;
  readonly devices: readonly PciFunctionInfo[];
}

const usesVtdIr = (p: PlatformKind) => p === 'host-ir' || p === 'guest-vir';

/** `arch_probe_nr_irqs`. */
function nrIrqsFor(cfg: KernelConfig): number {
  const gsiTop = cfg.ioapic?.pins ?? 0;
  const legacy = cfg.legacyPic ? NR_LEGACY_IRQS : 0;
  let nr = gsiTop + legacy + 8 * cfg.cpus;
  nr += gsiTop <= NR_LEGACY_IRQS ? 8 * cfg.cpus : gsiTop * 16;
  return nr;
}

export function createKernel(cfg: KernelConfig): KernelState {
  const where = `${cfg.name} kernel`;
  if (!Number.isInteger(cfg.cpus) || cfg.cpus < 1 || cfg.cpus > KERNEL_CPUS_MAX) {
    throw new InputError(where, `${cfg.cpus} CPUs: expected 1..${KERNEL_CPUS_MAX}`);
  }
  checkApicMode(cfg.apicMode, cfg.cpus, where);
  if (cfg.irCapabilities?.cpuX2apic === false && cfg.apicMode.startsWith('x2apic')) {
    throw new InputError(where, `APIC mode ${cfg.apicMode} on a CPU without x2APIC`);
  }
  const apicIds = cfg.apicIds ?? cpuRange(cfg.cpus);
  if (apicIds.length !== cfg.cpus) {
    throw new InputError(where, `${apicIds.length} APIC IDs for ${cfg.cpus} CPUs`);
  }
  const gsiTop = cfg.ioapic?.pins ?? 0;
  const k: KernelState = {
    name: cfg.name,
    version: cfg.version,
    platform: cfg.platform,
    apicMode: cfg.apicMode,
    nrCpus: cfg.cpus,
    apicIds,
    online: [],
    defaultAffinity: cpuRange(cfg.cpus),
    matrix: matrixCreate({
      nrCpus: cfg.cpus,
      allocStart: FIRST_EXTERNAL_VECTOR,
      allocEnd: FIRST_SYSTEM_VECTOR,
    }),
    domains: [],
    roots: { vector: 0 as DomainId, remap: null, pciMsiGlobal: null, ioapic: null, dmar: null },
    descs: {},
    // irq 0 is never handed out dynamically (`irq_domain_alloc_descs` starts at 1).
    dynirqStart: Math.max(1, gsiTop, cfg.legacyPic ? NR_LEGACY_IRQS : 0),
    nrIrqs: nrIrqsFor(cfg),
    nrLegacyIrqs: cfg.legacyPic ? NR_LEGACY_IRQS : 0,
    features: { mce: cfg.mce, hypervisorCallback: cfg.hypervisorCallback },
    vectorIrq: Array.from({ length: cfg.cpus }, () =>
      new Array<number>(NR_VECTORS).fill(VECTOR_UNUSED),
    ),
    devices: {},
    accessLog: [],
    events: [],
    currentOp: '',
  };
  const roots = k.roots as { -readonly [K in keyof KernelState['roots']]: KernelState['roots'][K] };
  roots.vector = createDomain(k, {
    name: 'VECTOR',
    kind: 'x86-vector',
    parent: null,
    chipName: 'APIC',
    isolatedMsi: false,
  }).id;
  vectorDomainInit(k, cfg);
  if (usesVtdIr(cfg.platform)) {
    const unit = cfg.remapUnit ?? { name: 'dmar0' };
    const caps = cfg.irCapabilities ?? impliedIrCapabilities(cfg.apicMode);
    const { eim } = enableIrX2apic(k, unit.name, caps, where);
    roots.remap = createDomain(k, {
      name: `INTEL-IR-${unit.name.replace(/\D+/g, '') || '0'}`,
      kind: 'vtd-ir',
      parent: roots.vector,
      chipName: 'INTEL-IR',
      isolatedMsi: true,
      ir: {
        unit: unit.name,
        entries: INTR_REMAP_TABLE_ENTRIES,
        eime: eim,
        bitmap: new Array<number>(INTR_REMAP_TABLE_ENTRIES / 32).fill(0),
        irtes: {},
        ...(unit.window ? { window: unit.window } : {}),
      },
    }).id;
    roots.dmar = dmarCreateDomain(k);
  } else if (cfg.platform === 'guest-hypercall') {
    roots.remap = createDomain(k, {
      name: 'PV-IR',
      kind: 'pv-ir',
      parent: roots.vector,
      chipName: 'PV-IR',
      isolatedMsi: true,
    }).id;
  }
  if (!versionAtLeast(k, 6, 2)) {
    roots.pciMsiGlobal = pciMsiCreateGlobalDomain(k, roots.remap ?? roots.vector);
  }
  if (cfg.ioapic) roots.ioapic = ioapicCreateDomain(k, { ...cfg.ioapic, gsiBase: 0 });
  for (const info of cfg.devices) {
    if (k.devices[info.bdf] !== undefined) throw new InputError(where, `device ${info.bdf} twice`);
    k.devices[info.bdf] = {
      info,
      enableCount: 0,
      msiEnabled: false,
      msixEnabled: false,
      intxIrq: 0,
      domains: {},
      descs: { msi: {}, msix: {}, ims: {} },
    };
  }
  return k;
}

/** Brings secondary CPUs online (`smp_init` -> `lapic_online`). */
export function onlineCpus(k: KernelState, cpus?: readonly number[]): void {
  const todo = cpus ?? cpuRange(k.nrCpus).filter((c) => !k.online.includes(c));
  for (const cpu of todo) {
    if (cpu < 0 || cpu >= k.nrCpus) throw new InputError(`${k.name} kernel`, `no CPU ${cpu}`);
    assert(!k.online.includes(cpu as CpuId), `CPU ${cpu} is already online`);
    vectorCpuOnline(k, cpu as CpuId);
  }
}
