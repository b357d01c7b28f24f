// `irqlab show <scenario> --what hierarchy|interrupts|affinity [--kernel host|guest|<vm>]`:
// boots the kernels of a loaded scenario (`scenario/load.ts`, which validated and cross-checked
// its kernel blocks like the rest of the file) and renders them. A kernel comes from the scenario's
// `host.kernel` / `vms[].kernel` block when there is one (`src/kernel/kernel-spec.ts`: the
// conformance scenarios describe their guest that way, boot order included); otherwise it is
// derived from the scenario's topology:
//  - host: its CPUs and IOMMU (host-ir / host-noir), each device with its driver (idxd: IMS
//    for the subdevices the VMs get backed by IMS; mlx5: the PF driver), and for every PF or VF
//    given to a VM the vectors VFIO allocates for it;
//  - each VM: guest-hypercall under the pv strategies, guest-vir with a vIOMMU, else
//    guest-emulated-msi; each assignment as a PCI function showing the guest representation
//    (MSI-X, MSI, or IMS beside one MSI-X vector) with a driver that requests every vector, at
//    the guest PCI address the hypervisor gives it (`hv/guest-run.ts guestBdf`).
// Derived kernels are Linux 6.6 (per-device MSI domains and IMS, which 6.2-6.9 had).
// `guest` is the first VM. Output for one kernel has no header, so it can be diffed against a
// recorded /proc/interrupts or irq-affinity file.

import { guestBdf } from '../hv/guest-run.js';
import { STRATEGY_TABLE } from '../hv/strategy-platform.js';
import { InputError } from '../hw/errors.js';
import { bdfOfRequesterId, formatBdf, parseBdf } from '../hw/pci/bdf.js';
import { type BootResult, bootKernel } from '../kernel/boot.js';
import { showIrqAffinity } from '../kernel/irq-proc.js';
import { type KernelSpec, type KernelSpecInput, kernelSpecSchema } from '../kernel/kernel-spec.js';
import type { KernelState } from '../kernel/kernel-state.js';
import { functionRoutingIds } from '../scenario/rules.js';
import type { Scenario } from '../scenario/schema.js';
import { deviceRegistersJson, renderDeviceRegisters } from './device-registers.js';
import { renderHierarchyDot, renderHierarchyText } from './hierarchy.js';
import { invalidationQueueJson, renderInvalidationQueue } from './invalidation-queue.js';
import { type AffinityStyle, renderIrqAffinity } from './irq-affinity.js';
import { irteTableJson, renderIrteTable } from './irte-table.js';
import { renderProcInterrupts } from './proc-interrupts.js';

export const KERNEL_VIEWS = [
  'hierarchy',
  'interrupts',
  'affinity',
  'msix',
  'msi',
  'ims',
  'irte',
  'invalidations',
] as const;
export type KernelView = (typeof KERNEL_VIEWS)[number];

export interface KernelViewOptions {
  /** host, guest (the first VM) or a VM's name; all kernels when absent. */
  readonly kernel?: string;
  /** hierarchy: text | dot; affinity: list | sysfs. */
  readonly format?: string;
  readonly json?: boolean;
}

export interface NamedKernel {
  readonly name: string;
  readonly spec: KernelSpec;
}

/** Linux version of derived kernels: IMS and per-device MSI domains (6.2-6.9). */
const DERIVED_VERSION = '6.6';

const withSegment = (bdf: string) => formatBdf(parseBdf(bdf), { withSegment: true });

function hostKernel(s: Scenario): KernelSpecInput {
  const devices: NonNullable<KernelSpecInput['devices']> = [];
  const boot: NonNullable<KernelSpecInput['boot']> = [];
  for (const d of s.devices) {
    const bdf = withSegment(d.bdf);
    const assigned = s.vms.flatMap((vm) => vm.assign.filter((a) => a.device === d.name));
    const imsVectors = assigned
      .filter((a) => a.subdevice !== undefined && a.backing === 'ims')
      .map((a) => a.vectors);
    const driver =
      d.kind === 'idxd'
        ? { kind: 'idxd' as const, kernelWqs: 0, imsSubdevices: 0, imsVectors }
        : d.kind === 'mlx5' &&
            !assigned.some((a) => a.vf === undefined && a.subdevice === undefined)
          ? { kind: 'mlx5' as const, instance: 0 }
          : undefined;
    devices.push({
      bdf,
      msix: d.msix,
      ...(d.msi ? { msi: { vectors: d.msi as 1 } } : {}),
      ims: d.ims,
      ...(driver ? { driver } : {}),
    });
    if (driver && (driver.kind !== 'idxd' || d.msix > 0)) boot.push({ do: 'probe', bdf });
    // VFIO: every assigned PF or VF gets host vectors for what its guest uses.
    const rids = functionRoutingIds(d);
    for (const a of assigned) {
      if (a.subdevice !== undefined || a.backing === 'ims' || a.backing === 'intx') continue;
      const fn = withSegment(
        formatBdf(bdfOfRequesterId(rids[a.vf === undefined ? 0 : a.vf + 1]), {
          withSegment: false,
        }),
      );
      if (fn !== bdf && !devices.some((x) => x.bdf === fn))
        devices.push({ bdf: fn, msix: d.vfMsix });
      const target = devices.find((x) => x.bdf === fn);
      if (target && !target.driver) {
        target.driver = { kind: 'generic', name: `vfio-msix(${fn})`, vectors: a.vectors };
        boot.push({ do: 'probe', bdf: fn });
      }
    }
  }
  // A PC host: the legacy irqs move to the IOAPIC, the DMAR fault irq is set up before SMP,
  // the ACPI SCI is requested after it, then the drivers probe.
  const early: NonNullable<KernelSpecInput['boot']> = [
    { do: 'setup-ioapic-legacy', level: [9] },
    ...(s.host.iommu.ir ? [{ do: 'dmar-fault-irq' as const }] : []),
    { do: 'online-cpus' },
    { do: 'request', irq: 9, name: 'acpi' },
  ];
  return {
    version: DERIVED_VERSION,
    platform: s.host.iommu.ir ? 'host-ir' : 'host-noir',
    cpus: s.host.cpus,
    apic: s.host.x2apic ? 'x2apic-phys' : s.host.cpus <= 8 ? 'xapic-logical-flat' : 'xapic-phys',
    legacyPic: true,
    mce: true,
    ioapic: { pins: 24, mapping: 'legacy' },
    devices,
    boot: [...early, ...boot],
  };
}

function guestKernel(s: Scenario, v: number): KernelSpecInput {
  const vm = s.vms[v];
  const strategy = vm.strategy ?? s.run.strategies[0];
  // The guest kernel the run boots on this strategy's platform (the strategy table's).
  const platform = STRATEGY_TABLE[strategy].platform;
  const devices: NonNullable<KernelSpecInput['devices']> = vm.assign.map((a, i) => {
    const bdf = guestBdf(i);
    const what =
      a.subdevice !== undefined ? `sub${a.subdevice}` : a.vf !== undefined ? `vf${a.vf}` : 'pf';
    const name = `${a.device}-${what}`;
    const driver = { kind: 'generic' as const, name, vectors: a.vectors, ims: a.guest === 'ims' };
    if (a.guest === 'msi') {
      const vectors = 2 ** Math.min(5, Math.ceil(Math.log2(a.vectors)));
      return { bdf, msi: { vectors: vectors as 1 }, driver };
    }
    return a.guest === 'ims'
      ? { bdf, msix: 1, ims: a.vectors, driver }
      : { bdf, msix: a.vectors, driver };
  });
  // A microVM-like guest: IOAPIC GSIs numbered from 24, no legacy PIC.
  return {
    version: DERIVED_VERSION,
    platform,
    cpus: vm.vcpus,
    apic: 'x2apic-phys',
    hypervisorCallback: true,
    ioapic: { pins: 24, mapping: 'dynamic' },
    devices,
    boot: devices.map((d) => ({ do: 'probe' as const, bdf: d.bdf })),
  };
}

/** Every kernel of a loaded scenario: host first, then each VM; the scenario's own kernel
 *  block where it has one, else the one derived from its topology. */
export function scenarioKernels(s: Scenario): NamedKernel[] {
  return [
    { name: 'host', spec: s.host.kernel ?? kernelSpecSchema.parse(hostKernel(s)) },
    ...s.vms.map((vm, v) => ({
      name: vm.name,
      spec: vm.kernel ?? kernelSpecSchema.parse(guestKernel(s, v)),
    })),
  ];
}

function select(kernels: NamedKernel[], which: string | undefined): NamedKernel[] {
  if (which === undefined) return kernels;
  if (which === 'host') return [kernels[0]];
  if (which === 'guest') {
    if (kernels.length < 2) throw new InputError('--kernel guest', 'the scenario has no VM');
    return [kernels[1]];
  }
  const found = kernels.find((k) => k.name === which);
  if (!found) {
    throw new InputError(
      '--kernel',
      `"${which}" is not host, guest or one of ${kernels.map((k) => k.name).join(', ')}`,
    );
  }
  return [found];
}

const asJson = (data: unknown) => `${JSON.stringify(data, null, 2)}\n`;

function hierarchyJson(k: KernelState) {
  return k.domains.map((d) => ({
    name: d.name,
    kind: d.kind,
    parent: d.parent === null ? null : k.domains[d.parent].name,
    chip: d.chipName,
    isolatedMsi: d.isolatedMsi,
    irqs: d.mapped,
  }));
}

function irqsJson(k: KernelState) {
  return Object.values(k.descs).map((d) => ({
    irq: d.irq,
    chip: k.domains[d.data[0].domain].chipName,
    hwirq: d.data[0].hwirq,
    actions: d.actions.map((a) => a.name),
    affinity: d.affinity,
    /** What /proc/irq/N/smp_affinity_list shows: the pending mask while a move waits. */
    smpAffinity: showIrqAffinity(d),
    effectiveAffinity: d.effectiveAffinity,
    perCpu: d.kstat,
  }));
}

function render(view: KernelView, b: BootResult, opts: KernelViewOptions): string {
  const k = b.kernel;
  switch (view) {
    case 'hierarchy':
      if (opts.json) return asJson(hierarchyJson(k));
      if (opts.format === 'dot') return renderHierarchyDot(k);
      if (opts.format !== undefined && opts.format !== 'text') {
        throw new InputError('--format', `"${opts.format}": hierarchy is text or dot`);
      }
      return renderHierarchyText(k);
    case 'interrupts':
      return opts.json ? asJson(irqsJson(k)) : renderProcInterrupts(k);
    case 'affinity': {
      if (opts.json) return asJson(irqsJson(k));
      const style = (opts.format ?? 'list') as AffinityStyle;
      if (style !== 'list' && style !== 'sysfs') {
        throw new InputError('--format', `"${opts.format}": affinity is list or sysfs`);
      }
      return renderIrqAffinity(k, style);
    }
    // The register views: what the kernel wrote, read back from where it wrote it.
    case 'msix':
    case 'msi':
    case 'ims':
      return opts.json
        ? asJson(deviceRegistersJson(view, k, b.platform))
        : renderDeviceRegisters(view, k, b.platform);
    case 'irte':
      return opts.json ? asJson(irteTableJson(k)) : renderIrteTable(k);
    case 'invalidations':
      return opts.json ? asJson(invalidationQueueJson(k)) : renderInvalidationQueue(k);
  }
}

/** The view of the selected kernels; boot steps that failed are returned for stderr. */
export function renderKernelView(
  s: Scenario,
  view: KernelView,
  opts: KernelViewOptions,
): { out: string; warnings: string[] } {
  const chosen = select(scenarioKernels(s), opts.kernel);
  const warnings: string[] = [];
  const parts = chosen.map((nk) => {
    const b = bootKernel(nk.spec, { name: nk.name });
    for (const f of b.failures) warnings.push(`${nk.name}: ${f.step}: ${f.notes.join('; ')}`);
    const body = render(view, b, opts);
    return chosen.length === 1 || opts.format === 'dot' ? body : `== ${nk.name} ==\n${body}`;
  });
  return { out: parts.join(chosen.length > 1 && opts.format !== 'dot' ? '\n' : ''), warnings };
}
