// A kernel instance described as data: what a scenario says about the host kernel or a guest
// kernel (version, platform, CPUs, APIC mode, the PCI functions it sees and their drivers, and
// the boot sequence: which interrupts exist and are requested, and in which order the drivers
// probe). The order is what the vector allocator's choices follow from (`vm-virtio-pci`: irq
// numbers are allocation order), so it is part of the description, not an afterthought.
// The zod schema is here so the scenario schema can embed it (`host.kernel`, `vms[].kernel`)
// and report errors at their YAML line; `bootKernel` runs it.
// Invariants: every `probe`/`pci-enable` names a declared function; every driver kind has the
// capability it needs (checked when it probes, a typed failure otherwise). What the schema alone
// cannot say (a boot step that names a CPU the kernel lacks or one already online, an APIC mode
// that cannot address the CPUs) is KERNEL_SPEC_RULES, which the scenario's rules run on each
// kernel block so that a boot never meets it.

import { z } from 'zod';
import { apicModeProblem } from './apic.js';
import type { GenericDriverSpec } from './drivers/generic.js';
import type { IdxdDriverSpec } from './drivers/idxd.js';
import type { Mlx5DriverSpec } from './drivers/mlx5.js';
import type { NvmeDriverSpec } from './drivers/nvme.js';
import type { AhciDriverSpec, E1000eDriverSpec } from './drivers/simple.js';
import type { VirtioDriverSpec } from './drivers/virtio-pci.js';
import { PLATFORM_KINDS, type PlatformKind } from './kernel-state.js';

const bdfText = z.string().regex(/^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-1][0-9a-fA-F]\.[0-7]$/, {
  error: 'expected a PCI address dddd:bb:dd.f in hex, e.g. 0000:00:03.0',
});

const count = (min: number, max: number) => z.number().int().min(min).max(max);

const virtioDevice = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('net'),
    queuePairs: count(1, 256).default(1),
    ctrlVq: z.boolean().default(true),
  }),
  z.strictObject({ type: z.literal('blk'), queues: count(1, 256).default(1) }),
  z.strictObject({
    type: z.literal('balloon'),
    statsVq: z.boolean().default(true),
    freePageVq: z.boolean().default(false),
    reportingVq: z.boolean().default(false),
  }),
  z.strictObject({ type: z.literal('rng') }),
  z.strictObject({ type: z.literal('vsock') }),
  z.strictObject({ type: z.literal('console'), multiport: z.boolean().default(false) }),
  z.strictObject({
    type: z.literal('custom'),
    vqs: z.array(z.strictObject({ name: z.string(), callback: z.boolean().default(true) })),
    managed: z.boolean().default(false),
  }),
]);

const driver = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('virtio'),
    index: count(0, 1023).meta({ description: 'N of virtio<N>, the registration order' }),
    device: virtioDevice,
  }),
  z.strictObject({
    kind: z.literal('nvme'),
    instance: count(0, 1023).default(0),
    ioQueues: count(1, 65535).meta({ description: 'I/O queues the controller grants' }),
  }),
  z.strictObject({ kind: z.literal('ahci'), ports: count(1, 32).default(1) }),
  z.strictObject({
    kind: z.literal('e1000e'),
    ifname: z.string().default('eth0'),
    open: z.boolean().default(false),
  }),
  z.strictObject({
    kind: z.literal('idxd'),
    kernelWqs: count(0, 64).default(1),
    imsSubdevices: count(0, 4096).default(0),
    imsVectorsPerSubdevice: count(1, 2048).default(1),
    imsVectors: z
      .array(count(1, 2048))
      .optional()
      .meta({ description: 'vectors per subdevice, when they differ (overrides the two above)' }),
  }),
  z.strictObject({
    kind: z.literal('generic'),
    name: z.string(),
    vectors: count(1, 2048),
    ims: z.boolean().default(false),
  }),
  z.strictObject({
    kind: z.literal('mlx5'),
    instance: count(0, 1023).default(0),
    channels: count(1, 2047).optional(),
  }),
]);

const device = z.strictObject({
  bdf: bdfText,
  msix: count(0, 2048).default(0).meta({ description: 'MSI-X Table Size (0: no MSI-X)' }),
  msi: z
    .strictObject({
      vectors: z
        .union([
          z.literal(1),
          z.literal(2),
          z.literal(4),
          z.literal(8),
          z.literal(16),
          z.literal(32),
        ])
        .default(1),
      is64: z.boolean().default(true),
      perVectorMask: z.boolean().default(false),
    })
    .optional(),
  ims: count(0, 63 * 256).default(0),
  intx: z
    .strictObject({ gsi: count(0, 1023) })
    .optional()
    .meta({ description: 'INTx pin routed to this GSI' }),
  driver: driver.optional(),
});

const irqRef = {
  irq: count(0, 65535).optional(),
  gsi: count(0, 1023).optional(),
};

const step = z.discriminatedUnion('do', [
  z.strictObject({
    do: z.literal('setup-ioapic-legacy'),
    level: z.array(count(0, 15)).default([]).meta({ description: 'ISA irqs that are level' }),
    timer: z.boolean().default(true).meta({ description: 'irq 0 already runs on ISA vector 0x30' }),
  }),
  z.strictObject({ do: z.literal('dmar-fault-irq') }),
  z.strictObject({ do: z.literal('online-cpus'), cpus: z.array(count(0, 1023)).optional() }),
  z.strictObject({
    do: z.literal('map-gsi'),
    gsi: count(0, 1023),
    trigger: z.enum(['edge', 'level']).default('edge'),
  }),
  z.strictObject({
    do: z.literal('request'),
    ...irqRef,
    trigger: z.enum(['edge', 'level']).default('edge'),
    name: z.string(),
  }),
  z.strictObject({
    do: z.literal('request-free'),
    ...irqRef,
    trigger: z.enum(['edge', 'level']).default('edge'),
    name: z.string(),
  }),
  z.strictObject({ do: z.literal('free'), ...irqRef, name: z.string() }),
  z.strictObject({ do: z.literal('pci-enable'), bdf: bdfText }),
  z.strictObject({ do: z.literal('probe'), bdf: bdfText }),
  z
    .strictObject({
      do: z.literal('set-affinity'),
      irq: count(0, 65535),
      cpus: z.array(count(0, 1023)).min(1),
    })
    .meta({ description: 'echo CPUS > /proc/irq/N/smp_affinity_list (write_irq_affinity)' }),
  z.strictObject({ do: z.literal('interrupt'), irq: count(0, 65535) }).meta({
    description:
      'the irq fires once on its current target (a deferred move completes; an interrupt on a moved vector lets the old one be cleaned up)',
  }),
]);

export const kernelSpecSchema = z
  .strictObject({
    version: z
      .string()
      .regex(/^\d+\.\d+$/, { error: 'expected a kernel version such as 6.1 or 6.18' })
      .meta({ description: 'Linux version: 6.1 has the global PCI-MSI domain, 6.2+ per-device' }),
    platform: z.enum(PLATFORM_KINDS as [PlatformKind, ...PlatformKind[]]),
    cpus: count(1, 1024),
    apic: z.enum(['xapic-logical-flat', 'xapic-phys', 'x2apic-phys', 'x2apic-cluster']),
    apicIds: z.array(count(0, 0xffffffff)).optional(),
    cpu: z
      .strictObject({
        x2apic: z.boolean().meta({ description: 'CPUID.01H:ECX[21]: the CPU supports x2APIC' }),
      })
      .optional()
      .meta({ description: 'CPU features Linux decides from; absent: what `apic` needs' }),
    iommu: z
      .strictObject({
        ecap: z
          .union([
            z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
            z.string().regex(/^0x[0-9a-fA-F]{1,16}$/, { error: 'expected a hex value, 0x...' }),
          ])
          .meta({ description: 'ECAP_REG of the remapping unit (QI bit 1, IR bit 3, EIM bit 4)' }),
      })
      .optional()
      .meta({
        description:
          'the remapping unit, read when IR is on (host-ir, guest-vir); absent: QEMU intel-iommu with EIM as `apic` needs',
      }),
    legacyPic: z.boolean().default(false),
    ia32Emulation: z.boolean().default(true),
    hypervisorCallback: z
      .boolean()
      .default(false)
      .meta({ description: 'a hypervisor callback vector (KVM guests): HYP in /proc/interrupts' }),
    mce: z
      .boolean()
      .default(false)
      .meta({ description: 'CONFIG_X86_MCE: THR, DFR, MCE, MCP lines' }),
    ioapic: z
      .strictObject({
        pins: count(1, 240).default(24),
        mapping: z.enum(['legacy', 'dynamic']).default('legacy'),
        sourceId: count(0, 0xffff).default(0xf0f8),
      })
      .nullable()
      .default(null),
    devices: z.array(device).default([]),
    boot: z.array(step).default([]),
  })
  .meta({ description: 'a Linux kernel instance: host or guest' });

export type KernelSpec = z.output<typeof kernelSpecSchema>;
export type KernelSpecInput = z.input<typeof kernelSpecSchema>;
export type KernelDeviceSpec = KernelSpec['devices'][number];
export type BootStep = KernelSpec['boot'][number];
export type DriverSpec =
  | VirtioDriverSpec
  | NvmeDriverSpec
  | AhciDriverSpec
  | E1000eDriverSpec
  | IdxdDriverSpec
  | Mlx5DriverSpec
  | GenericDriverSpec;

export function parseVersion(text: string): { major: number; minor: number } {
  const [major, minor] = text.split('.').map(Number);
  return { major, minor };
}

type KernelReport = (path: readonly (string | number)[], problem: string) => void;

export interface KernelSpecRule {
  readonly name: string;
  /** One line: what the rule requires and why. */
  readonly why: string;
  check(spec: KernelSpec, report: KernelReport): void;
}

/** The CPU Linux boots on (`smp_processor_id()` in `start_kernel`): online before any step. */
const BOOT_CPU = 0;

/** CPUs times the interrupt entries of the functions (MSI-X, MSI, IMS) a kernel may boot with:
 *  an allocation looks at every CPU of its mask, so a boot's work grows with both, about a
 *  second per million; 2^21 admits 1024 CPUs with one full MSI-X table, or 8 CPUs with 256. */
export const KERNEL_WORK_MAX = 2 ** 21;

export const KERNEL_SPEC_RULES: readonly KernelSpecRule[] = [
  {
    name: 'kernel-apic-mode',
    why: 'the APIC mode addresses every CPU (flat logical: one bit each of 8) and each CPU has one APIC ID',
    check(spec, report) {
      const problem = apicModeProblem(spec.apic, spec.cpus);
      if (problem) report(['apic'], problem);
      if (spec.apicIds && spec.apicIds.length !== spec.cpus) {
        report(['apicIds'], `${spec.apicIds.length} APIC IDs for ${spec.cpus} CPUs`);
      }
      const seen = new Set<number>();
      spec.apicIds?.forEach((id, i) => {
        if (seen.has(id)) report(['apicIds', i], `APIC ID ${id} twice`);
        seen.add(id);
      });
    },
  },
  {
    name: 'kernel-devices',
    why: 'each PCI function is declared once; probe and pci-enable name a declared one',
    check(spec, report) {
      const declared = new Set<string>();
      spec.devices.forEach((d, i) => {
        if (declared.has(d.bdf)) report(['devices', i, 'bdf'], `${d.bdf} is declared twice`);
        declared.add(d.bdf);
      });
      spec.boot.forEach((step, i) => {
        if ((step.do === 'probe' || step.do === 'pci-enable') && !declared.has(step.bdf)) {
          report(['boot', i, 'bdf'], `${step.do} of ${step.bdf}, which is not in devices`);
        }
      });
    },
  },
  {
    name: 'kernel-size',
    why: `CPUs times the functions' interrupt entries stay within ${KERNEL_WORK_MAX} (each allocation looks at every CPU), so a boot takes seconds at most`,
    check(spec, report) {
      const entries = spec.devices.reduce((n, d) => n + d.msix + d.ims + (d.msi?.vectors ?? 0), 0);
      if (spec.cpus * entries > KERNEL_WORK_MAX) {
        report(
          ['cpus'],
          `${spec.cpus} CPUs x ${entries} interrupt entries = ${spec.cpus * entries}, above ${KERNEL_WORK_MAX}: fewer CPUs or smaller tables`,
        );
      }
    },
  },
  {
    name: 'kernel-boot-cpus',
    why: 'a boot step names CPUs the kernel has; online-cpus brings up each CPU once (CPU 0, the boot CPU, is up from the start)',
    check(spec, report) {
      const online = new Set([BOOT_CPU]);
      spec.boot.forEach((step, i) => {
        if (step.do !== 'online-cpus' && step.do !== 'set-affinity') return;
        const cpus = step.cpus ?? [];
        cpus.forEach((cpu, j) => {
          if (cpu >= spec.cpus) {
            report(['boot', i, 'cpus', j], `CPU ${cpu}: the kernel has ${spec.cpus} (cpus)`);
          } else if (step.do === 'online-cpus' && online.has(cpu)) {
            report(['boot', i, 'cpus', j], `online-cpus: CPU ${cpu} is already online`);
          }
          if (step.do === 'online-cpus') online.add(cpu);
        });
        if (step.do === 'online-cpus' && step.cpus === undefined) {
          for (let cpu = 0; cpu < spec.cpus; cpu++) online.add(cpu);
        }
      });
    },
  },
];

/** Every KERNEL_SPEC_RULES violation of `spec`, with its path inside the spec. */
export function kernelSpecIssues(
  spec: KernelSpec,
): { rule: string; path: readonly (string | number)[]; problem: string }[] {
  const out: { rule: string; path: readonly (string | number)[]; problem: string }[] = [];
  for (const rule of KERNEL_SPEC_RULES) {
    rule.check(spec, (path, problem) => out.push({ rule: rule.name, path, problem }));
  }
  return out;
}
