// Running a `KernelSpec`: the kernel with its domains, each PCI function with a config space
// (its MSI/MSI-X capabilities laid out as `hw/pci/config-space-builder` lays them out, unless the
// caller gives the function's real config space), then the boot steps in order. A step that
// fails (a driver's probe, a request) is recorded with Linux's reason and the boot goes on, as a
// real boot does; `BootResult.failures` lists them.
// Not modelled: anything a step does besides interrupts (BARs, DMA, the virtio rings).

import { RuleError } from '../hw/errors.js';
import { parseBdf, requesterIdOf } from '../hw/pci/bdf.js';
import { CAP_ID } from '../hw/pci/capability-ids.js';
import { findCapability } from '../hw/pci/capability-list.js';
import { type ConfigSpace, configSpaceFromBytes } from '../hw/pci/config-space.js';
import { buildConfigSpace, type CapabilitySpec } from '../hw/pci/config-space-builder.js';
import { decodeMsiCapability } from '../hw/pci/msi-capability.js';
import { decodeMsixCapability } from '../hw/pci/msix-capability.js';
import { dmarAllocHwirq } from './dmar.js';
import { type ProbeResult, probeFailed } from './drivers/driver.js';
import { genericProbe } from './drivers/generic.js';
import { idxdProbe } from './drivers/idxd.js';
import { mlx5Probe } from './drivers/mlx5.js';
import { nvmeProbe } from './drivers/nvme.js';
import { ahciProbe, e1000eProbe } from './drivers/simple.js';
import { virtioProbe } from './drivers/virtio-pci.js';
import { mpMapGsiToIrq } from './ioapic.js';
import { writeIrqAffinity } from './irq-proc.js';
import { type IrCapabilities, impliedIrCapabilities } from './irq-remapping.js';
import { createKernel, onlineCpus } from './kernel.js';
import type { BootStep, KernelDeviceSpec, KernelSpec } from './kernel-spec.js';
import { kernelSpecIssues, parseVersion } from './kernel-spec.js';
import type { KernelState, PciFunctionInfo } from './kernel-state.js';
import { freeIrq, handleVector, irqTarget, requestIrq } from './manage.js';
import { pciEnableDevice } from './pci-msi-api.js';
import { type KernelPlatform, memoryPlatform } from './platform.js';
import { cpuMask, type IrqResult } from './types.js';
import { PIC_CASCADE_IR } from './x86-vector.js';

export interface StepOutcome {
  readonly step: string;
  readonly ok: boolean;
  readonly notes: readonly string[];
}

export interface BootResult {
  readonly kernel: KernelState;
  readonly platform: KernelPlatform;
  readonly steps: readonly StepOutcome[];
  readonly failures: readonly StepOutcome[];
}

/** ISA irq 0 (the PIT) is wired to IOAPIC pin 2 (ACPI INT_SRC_OVR bus_irq 0 global_irq 2). */
const ISA_TIMER_PIN = 2;
const ISA_IRQS = 16;

/** The config space of a function the spec describes only by its interrupt capabilities. */
export function configSpaceFor(d: KernelDeviceSpec): ConfigSpace {
  const caps: CapabilitySpec[] = [];
  if (d.msi)
    caps.push({
      kind: 'msi',
      count: d.msi.vectors,
      is64: d.msi.is64,
      perVectorMasking: d.msi.perVectorMask,
    });
  if (d.msix > 0) {
    const tableBytes = d.msix * 16;
    caps.push({
      kind: 'msix',
      tableSize: d.msix,
      tableBir: 0,
      tableOffset: 0,
      pbaBir: 0,
      pbaOffset: Math.ceil(tableBytes / 4096) * 4096,
    });
  }
  return buildConfigSpace({
    vendorId: 0x1af4,
    deviceId: 0x1000,
    classCode: 0xff0000,
    interruptPin: d.intx ? 1 : 0,
    bars: [{ index: 0, type: 'memory64', address: 0 }],
    capabilities: caps,
  });
}

/** What the kernel learns of a function at enumeration: capability offsets and sizes. */
export function pciFunctionInfo(d: KernelDeviceSpec, space: ConfigSpace): PciFunctionInfo {
  const where = d.bdf;
  const msixCap = findCapability(space, CAP_ID.msix, { extended: false }, where);
  const msiCap = findCapability(space, CAP_ID.msi, { extended: false }, where);
  const msix = msixCap ? decodeMsixCapability(space, msixCap.offset) : undefined;
  const msi = msiCap ? decodeMsiCapability(space, msiCap.offset) : undefined;
  return {
    bdf: d.bdf,
    requesterId: requesterIdOf(parseBdf(d.bdf)),
    ...(msi && msiCap
      ? {
          msi: {
            capOffset: msiCap.offset,
            vectors: msi.multipleMessageCapable,
            is64: msi.is64Bit,
            perVectorMask: msi.perVectorMasking,
          },
        }
      : {}),
    ...(msix && msixCap ? { msix: { capOffset: msixCap.offset, tableSize: msix.tableSize } } : {}),
    ...(d.ims > 0 ? { ims: { entries: d.ims } } : {}),
    ...(d.intx ? { intx: { gsi: d.intx.gsi } } : {}),
  };
}

function probe(k: KernelState, p: KernelPlatform, d: KernelDeviceSpec): ProbeResult {
  const driver = d.driver;
  if (driver === undefined) return probeFailed([`${d.bdf}: no driver`]);
  switch (driver.kind) {
    case 'virtio': {
      const enabled = pciEnableDevice(k, p, d.bdf);
      if (!enabled.ok) return probeFailed([enabled.reason]);
      return virtioProbe(k, p, d.bdf, driver);
    }
    case 'nvme':
      return nvmeProbe(k, p, d.bdf, driver);
    case 'ahci':
      return ahciProbe(k, p, d.bdf, driver);
    case 'e1000e':
      return e1000eProbe(k, p, d.bdf, driver);
    case 'idxd':
      return idxdProbe(k, p, d.bdf, driver);
    case 'mlx5':
      return mlx5Probe(k, p, d.bdf, driver);
    case 'generic':
      return genericProbe(k, p, d.bdf, driver);
  }
}

/** The irq a step names: a GSI (mapped on first use) or an irq number. */
function stepIrq(
  k: KernelState,
  p: KernelPlatform,
  s: { irq?: number; gsi?: number; trigger?: 'edge' | 'level' },
): { ok: true; irq: number } | { ok: false; reason: string } {
  if (s.gsi !== undefined) {
    const r = mpMapGsiToIrq(k, p, { gsi: s.gsi, trigger: s.trigger ?? 'edge' });
    return r.ok ? { ok: true, irq: r.virq } : { ok: false, reason: `${r.errno}: ${r.reason}` };
  }
  if (s.irq === undefined) return { ok: false, reason: 'the step names neither irq nor gsi' };
  return { ok: true, irq: s.irq };
}

const asNotes = (r: IrqResult): string[] => (r.ok ? [] : [`${r.errno}: ${r.reason}`]);

function setupIoapicLegacy(
  k: KernelState,
  p: KernelPlatform,
  s: Extract<BootStep, { do: 'setup-ioapic-legacy' }>,
): string[] {
  const notes: string[] = [];
  for (let pin = 1; pin < ISA_IRQS; pin++) {
    const irq = pin === ISA_TIMER_PIN ? 0 : pin;
    if (irq === PIC_CASCADE_IR) continue;
    const active = irq === 0 && s.timer;
    const trigger = s.level.includes(irq) ? 'level' : 'edge';
    const r = mpMapGsiToIrq(k, p, { gsi: pin, irq, trigger, legacy: { active } });
    if (!r.ok) {
      notes.push(`irq ${irq}: ${r.reason}`);
      continue;
    }
    if (active) notes.push(...asNotes(requestIrq(k, p, 0, 'timer', { noBalancing: true })));
  }
  return notes;
}

function runStep(k: KernelState, p: KernelPlatform, spec: KernelSpec, s: BootStep): string[] {
  switch (s.do) {
    case 'setup-ioapic-legacy':
      if (!k.roots.ioapic || k.nrLegacyIrqs === 0) return ['needs an IOAPIC and a legacy PIC'];
      return setupIoapicLegacy(k, p, s);
    case 'dmar-fault-irq': {
      if (k.roots.dmar === null) return ['no DMAR unit on this platform'];
      const r = dmarAllocHwirq(k, p, k.roots.dmar, 0);
      if (!r.ok) return [r.reason];
      return asNotes(requestIrq(k, p, r.virq, 'dmar0'));
    }
    case 'online-cpus':
      onlineCpus(k, s.cpus);
      initIrqProc(k);
      return [];
    case 'map-gsi': {
      const r = mpMapGsiToIrq(k, p, { gsi: s.gsi, trigger: s.trigger });
      return r.ok ? [] : [r.reason];
    }
    case 'request':
    case 'request-free': {
      const irq = stepIrq(k, p, s);
      if (!irq.ok) return [irq.reason];
      const r = requestIrq(k, p, irq.irq, s.name);
      if (!r.ok || s.do === 'request') return asNotes(r);
      return asNotes(freeIrq(k, p, irq.irq, s.name));
    }
    case 'free': {
      const irq = stepIrq(k, p, s);
      return irq.ok ? asNotes(freeIrq(k, p, irq.irq, s.name)) : [irq.reason];
    }
    case 'pci-enable':
      return asNotes(pciEnableDevice(k, p, s.bdf));
    case 'probe': {
      const d = spec.devices.find((x) => x.bdf === s.bdf);
      if (d === undefined) return [`no device ${s.bdf} in the kernel's devices`];
      const r = probe(k, p, d);
      return r.ok ? [] : r.notes.length ? [...r.notes] : ['probe failed'];
    }
    case 'set-affinity':
      return asNotes(writeIrqAffinity(k, p, s.irq, cpuMask(s.cpus)));
    case 'interrupt':
      return interrupt(k, p, s.irq);
  }
}

/** The irq's device raises it once: the message reaches the CPU and vector the irq is
 *  programmed with now, and that CPU handles it (`handleVector`). */
function interrupt(k: KernelState, p: KernelPlatform, irq: number): string[] {
  if (k.descs[irq] === undefined) return [`irq ${irq} does not exist`];
  const t = irqTarget(k, irq);
  if (t === null) return [`irq ${irq} has no vector: nothing to fire on`];
  const outcome = handleVector(k, p, t.cpu, t.vector);
  return outcome.kind === 'handled' ? [] : [`irq ${irq}: ${outcome.kind}`];
}

/** `init_irq_proc` (do_basic_setup, after SMP): /proc/irq/N for every irq that exists by then;
 *  later irqs get theirs at their first request_irq. */
function initIrqProc(k: KernelState): void {
  for (const d of Object.values(k.descs)) d.procDir = true;
}

function describe(s: BootStep): string {
  const args = Object.entries(s)
    .filter(([key, v]) => key !== 'do' && v !== undefined)
    .map(([key, v]) => `${key}=${Array.isArray(v) ? v.join(',') : String(v)}`);
  return [s.do, ...args].join(' ');
}

/** The IR mode inputs the spec gives; a part it leaves out is what its APIC mode needs. */
function irCapabilitiesOf(spec: KernelSpec): { irCapabilities?: IrCapabilities } {
  if (spec.cpu === undefined && spec.iommu === undefined) return {};
  const implied = impliedIrCapabilities(spec.apic);
  return {
    irCapabilities: {
      ecap: spec.iommu === undefined ? implied.ecap : BigInt(spec.iommu.ecap),
      cpuX2apic: spec.cpu?.x2apic ?? implied.cpuX2apic,
    },
  };
}

/** Builds the kernel the spec describes and runs its boot steps. */
export function bootKernel(
  spec: KernelSpec,
  opts: {
    name: string;
    platform?: KernelPlatform;
    configSpaces?: Record<string, Uint8Array>;
  },
): BootResult {
  const spaces: Record<string, ConfigSpace> = {};
  for (const d of spec.devices) {
    const given = opts.configSpaces?.[d.bdf];
    spaces[d.bdf] = given ? configSpaceFromBytes(given, d.bdf) : configSpaceFor(d);
  }
  // A scenario's loader has run these rules already (located); a spec from elsewhere meets them here.
  const [issue] = kernelSpecIssues(spec);
  if (issue) {
    throw new RuleError(issue.rule, `${opts.name} kernel ${issue.path.join('.')}`, issue.problem);
  }
  const platform =
    opts.platform ??
    memoryPlatform(Object.fromEntries(Object.entries(spaces).map(([bdf, s]) => [bdf, s.bytes])));
  const k = createKernel({
    name: opts.name,
    version: parseVersion(spec.version),
    platform: spec.platform,
    cpus: spec.cpus,
    apicMode: spec.apic,
    ...(spec.apicIds ? { apicIds: spec.apicIds } : {}),
    ...irCapabilitiesOf(spec),
    legacyPic: spec.legacyPic,
    ia32Emulation: spec.ia32Emulation,
    hypervisorCallback: spec.hypervisorCallback,
    mce: spec.mce,
    ioapic: spec.ioapic,
    devices: spec.devices.map((d) => pciFunctionInfo(d, spaces[d.bdf])),
  });
  // Without an `online-cpus` step the boot starts after SMP bring-up: every CPU is online.
  if (!spec.boot.some((s) => s.do === 'online-cpus')) onlineCpus(k);
  const steps: StepOutcome[] = [];
  for (const s of spec.boot) {
    const notes = runStep(k, platform, spec, s);
    steps.push({ step: describe(s), ok: notes.length === 0, notes });
  }
  return { kernel: k, platform, steps, failures: steps.filter((s) => !s.ok) };
}
