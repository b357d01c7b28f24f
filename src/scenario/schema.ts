// The scenario file's schema (zod v4): its shape, defaults and per-field limits, and, through
// `z.toJSONSchema`, what `irqlab schema` prints for editors. Cross-field rules (IMS backing needs
// host IR, ...) are not here: they are a table in `rules.ts`, checked after this schema passes.
//
// Sections: `host` (CPUs, IOMMU with IR and posted interrupts, x2APIC), `devices` (kind, BDF,
// MSI/MSI-X/IMS sizes, VFs, subdevices), `vms` (vCPUs, vIOMMU, strategy, assignments with a
// guest-facing representation and a host backing), `workload` (timed actions and rate-driven
// interrupt sources), `run` (duration, seed, strategies, cost overrides).
// Limits quoted from the specs are named once (MSI-X 2048 entries, MSI 32 vectors, ...).

import { z } from 'zod';
import { MACHINE_PROPERTY_NAMES } from '../check/machine-properties.js';
import { kernelSpecSchema } from '../kernel/kernel-spec.js';
import { COST_NAMES, type CostName } from '../sim/cost-model.js';
import { DURATION_PATTERN, durationNs, RATE_PATTERN, ratePerSecond } from './units.js';

/** MSI-X Table Size is 11 bits, N-1 encoded (PCIe Base Spec, MSI-X Message Control). */
export const MSIX_ENTRIES_MAX = 2048;
/** MSI Multiple Message Capable: up to 32 vectors, a power of two. */
export const MSI_VECTORS_MAX = 32;
/** IDXD GENCAP max_ims_mult is 6 bits, times 256 entries (perf-anchors L5). */
export const IMS_ENTRIES_MAX = 63 * 256;
/** SR-IOV TotalVFs is a 16-bit field. */
export const VFS_MAX = 0xffff;
/** x2APIC IDs are 32 bits; irqlab bounds the host it will simulate. */
export const HOST_CPUS_MAX = 1024;
/** vCPUs of one VM: bounded by the host the model simulates (one vCPU per pCPU). Above
 *  `XAPIC_DEST_VCPUS` the guest needs x2APIC IR or the extended destination ID (rules.ts). */
export const VCPUS_MAX = HOST_CPUS_MAX;
/** A compatibility-format MSI names its destination by an 8-bit APIC ID (0xff is broadcast). */
export const XAPIC_DEST_VCPUS = 255;
/** The seed feeds a 32-bit SplitMix32 state. */
export const SEED_MAX = 0xffffffff;
/** Interrupts per second one source may raise: 10M/s, one message every 100 ns. The highest real
 *  rate found is a whole host's 3.7M/s (five NVMe drives, perf-anchors R4); NIC queues stay
 *  under 1M/s with moderation (R1-R3). Faster, a vector only coalesces. */
export const RATE_MAX = 10_000_000;
/** Interrupts a run may raise in all (run.duration x the sources' rates, per vector): each is a
 *  few model steps, 1-3 microseconds of wall time, so the budget keeps one strategy's run under
 *  a second and `compare` (one run per strategy, five strategies) within a few seconds. */
export const RAISED_INTERRUPTS_MAX = 250_000;
/** Vectors a scenario may assign in all (every VM's assignments): building programs each one
 *  through the host kernel, VFIO, KVM and a guest kernel, about half a millisecond apiece, so
 *  one MSI-X table's worth keeps a build near a second and `compare`'s five within seconds. */
export const ASSIGNED_VECTORS_MAX = MSIX_ENTRIES_MAX;
/** VMs of a scenario: each boots its own guest kernel when the scenario is built (about 10 ms
 *  apiece), and `compare` builds once per strategy. */
export const VMS_MAX = 64;
/** Timed workload actions: each runs through a guest kernel and the hypervisor before the
 *  simulator replays it (about 0.3 ms apiece). */
export const ACTIONS_MAX = 4096;

export const STRATEGIES = ['emulate', 'vir', 'vir-direct', 'pv', 'pv-batch'] as const;
export const DEVICE_KINDS = [
  'idxd',
  'mlx5',
  'virtio-net',
  'virtio-blk',
  'virtio-scsi',
  'virtio-console',
  'generic',
] as const;
export const GUEST_REPRESENTATIONS = ['msi', 'msix', 'ims'] as const;
export const HOST_BACKINGS = ['intx', 'msi', 'msix', 'ims'] as const;

const duration = z
  .union([
    z.number().int().min(0),
    z.string().regex(DURATION_PATTERN, {
      error: 'expected a duration such as 10ms, 250us, 2s, 100ns, or an integer number of ns',
    }),
  ])
  .transform(durationNs)
  .meta({ description: 'a duration: "10ms", "250us", "2s", "100ns" or integer nanoseconds' });

const rate = z
  .union([
    z.number().positive().max(RATE_MAX),
    z.string().regex(RATE_PATTERN, { error: 'expected a rate such as 200k/s, 1.5M/s or 5000/s' }),
  ])
  .transform(ratePerSecond)
  .refine((r) => r > 0 && r <= RATE_MAX, {
    error: `a rate is above 0 and at most ${RATE_MAX / 1e6}M/s (one message per 100 ns)`,
  })
  .meta({
    description: `interrupts per second: "200k/s", "1.5M/s" or a number; at most ${RATE_MAX / 1e6}M/s, past the highest real host rate (3.7M/s over five NVMe drives): a faster vector only coalesces`,
  });

const count = (max: number, description: string) =>
  z.number().int().min(0).max(max).meta({ description });

const bdf = z
  .string()
  .regex(/^(?:[0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-1][0-9a-fA-F]\.[0-7]$/, {
    error: 'expected a PCI address [dddd:]bb:dd.f in hex (device at most 1f)',
  })
  .meta({ description: 'PCI address of the physical function, [segment:]bus:device.function' });

const host = z
  .strictObject({
    cpus: z.number().int().min(1).max(HOST_CPUS_MAX).meta({ description: 'host pCPUs' }),
    x2apic: z.boolean().default(true).meta({ description: 'x2APIC mode (32-bit APIC IDs)' }),
    apicv: z.boolean().default(true).meta({
      description:
        'APICv: virtual-interrupt delivery, posted-interrupt processing, EOI without exit',
    }),
    nested: z
      .boolean()
      .default(false)
      .meta({ description: 'the host itself is a guest: exits cost nestedExitMultiplier more' }),
    kernel: kernelSpecSchema.optional().meta({
      description: "the host kernel, when the scenario spells it out (irqlab show's kernel views)",
    }),
    iommu: z
      .strictObject({
        ir: z.boolean().default(true).meta({ description: 'VT-d interrupt remapping enabled' }),
        posted: z
          .boolean()
          .default(true)
          .meta({ description: 'VT-d posted interrupts used for assigned devices' }),
      })
      .prefault({}),
    dynamicMsix: z.boolean().optional().meta({
      description:
        'VFIO grows MSI-X without disabling it (Linux 6.5+, no VFIO_IRQ_INFO_NORESIZE); default: from host.kernel.version, else true',
    }),
  })
  .meta({ description: 'the physical host' });

const device = z
  .strictObject({
    name: z.string().regex(/^[a-z][a-z0-9_-]*$/, {
      error: 'expected a lower-case name: letters, digits, - and _',
    }),
    kind: z.enum(DEVICE_KINDS).meta({ description: 'device model' }),
    bdf,
    msix: count(MSIX_ENTRIES_MAX, 'MSI-X Table Size of the PF (0: no MSI-X capability)').default(0),
    msi: count(MSI_VECTORS_MAX, 'MSI Multiple Message Capable vectors (0: no MSI capability)')
      .refine((n) => (n & (n - 1)) === 0, { error: 'MSI vectors must be a power of two' })
      .default(0),
    msiMask: z.boolean().default(true).meta({
      description:
        'the MSI capability has per-vector mask bits (PCIe Message Control bit 8, Per-Vector Masking Capable)',
    }),
    ims: count(
      IMS_ENTRIES_MAX,
      'IMS entries of the device (idxd: GENCAP max_ims_mult * 256)',
    ).default(0),
    vfs: count(VFS_MAX, 'SR-IOV VFs enabled (NumVFs)').default(0),
    vfMsix: count(MSIX_ENTRIES_MAX, 'MSI-X Table Size of each VF').default(0),
    vfOffset: z
      .number()
      .int()
      .min(1)
      .max(0xffff)
      .default(1)
      .meta({ description: 'SR-IOV First VF Offset (routing ID of VF 0 minus the PF)' }),
    vfStride: z
      .number()
      .int()
      .min(1)
      .max(0xffff)
      .default(1)
      .meta({ description: 'SR-IOV VF Stride' }),
    subdevices: count(4096, 'assignable subdevices (Scalable IOV ADIs; idxd: work queues)').default(
      0,
    ),
    msixTableSharesPage: z.boolean().default(false).meta({
      description:
        'the MSI-X table shares its 4-KiB page with device registers: where the table is trapped, so are they',
    }),
    relocateMsix: z.boolean().default(false).meta({
      description:
        'the VMM relocates the MSI-X table to a page of its own (QEMU vfio-pci x-msix-relocation)',
    }),
    tablePageRegisterRate: rate.optional().meta({
      description:
        'guest driver accesses per second to the registers on the MSI-X table page, per assigned function',
    }),
  })
  .meta({ description: 'a PCI device on the host' });

const assignment = z
  .strictObject({
    device: z.string().meta({ description: 'name of a device in `devices`' }),
    vf: z.number().int().min(0).optional().meta({ description: 'assign this VF' }),
    subdevice: z.number().int().min(0).optional().meta({ description: 'assign this subdevice' }),
    guest: z
      .enum(GUEST_REPRESENTATIONS)
      .meta({ description: 'how the interrupts look to the guest (its PCI capability)' }),
    backing: z
      .enum(HOST_BACKINGS)
      .meta({ description: 'what backs them on the host (what the device really signals with)' }),
    vectors: z.number().int().min(1).max(MSIX_ENTRIES_MAX).meta({ description: 'vectors used' }),
  })
  .meta({ description: 'a PF (neither vf nor subdevice), a VF or a subdevice given to the VM' });

const vm = z
  .strictObject({
    name: z.string().regex(/^[a-z][a-z0-9_-]*$/, {
      error: 'expected a lower-case name: letters, digits, - and _',
    }),
    vcpus: z.number().int().min(1).max(VCPUS_MAX),
    viommu: z
      .enum(['off', 'on', 'bypass'])
      .default('off')
      .meta({ description: 'virtual IOMMU: on (with interrupt remapping), bypass, or off' }),
    strategy: z
      .enum(STRATEGIES)
      .optional()
      .meta({ description: "interrupt setup strategy; default: the run's strategy" }),
    idle: z
      .enum(['poll', 'halt'])
      .default('poll')
      .meta({ description: 'what an idle vCPU does: stay in guest mode, or HLT and block' }),
    pin: z
      .array(z.number().int().min(0))
      .optional()
      .meta({ description: 'pCPU of each vCPU; default: spread round robin' }),
    assign: z.array(assignment).default([]),
    eim: z.boolean().default(true).meta({
      description:
        "the vIOMMU's interrupt remapping supports x2APIC (ECAP.EIM; QEMU intel-iommu eim=on)",
    }),
    extDestId: z.boolean().default(false).meta({
      description:
        'the hypervisor offers the extended destination ID (KVM_FEATURE_MSI_EXT_DEST_ID): 15-bit MSI destinations without IR',
    }),
    hostile: z.boolean().default(false).meta({
      description:
        'an adversarial guest: writes arbitrary address/data into whatever it reaches directly',
    }),
    kernel: kernelSpecSchema.optional().meta({
      description: "the guest kernel, when the scenario spells it out (irqlab show's kernel views)",
    }),
  })
  .meta({ description: 'a guest' });

const target = {
  vm: z.string().meta({ description: 'name of a VM' }),
  assign: z.number().int().min(0).meta({ description: "index into the VM's `assign` list" }),
};

const workloadAction = z.discriminatedUnion('do', [
  z.strictObject({ at: duration, do: z.literal('probe'), ...target }),
  z.strictObject({
    at: duration,
    do: z.literal('request-irq'),
    ...target,
    vector: z.number().int().min(0),
  }),
  z.strictObject({
    at: duration,
    do: z.literal('free-irq'),
    ...target,
    vector: z.number().int().min(0),
  }),
  z.strictObject({
    at: duration,
    do: z.literal('set-affinity'),
    ...target,
    vector: z.number().int().min(0),
    vcpu: z.number().int().min(0).meta({ description: 'new target vCPU of the vector' }),
  }),
  z.strictObject({
    at: duration,
    do: z.literal('mask'),
    ...target,
    vector: z.number().int().min(0),
  }),
  z.strictObject({
    at: duration,
    do: z.literal('unmask'),
    ...target,
    vector: z.number().int().min(0),
  }),
  z.strictObject({
    at: duration,
    do: z.literal('migrate-vcpu'),
    vm: target.vm,
    vcpu: z.number().int().min(0),
    pcpu: z.number().int().min(0).meta({ description: 'host CPU the vCPU moves to' }),
  }),
  z.strictObject({ at: duration, do: z.literal('hot-unplug'), ...target }),
]);

const source = z
  .strictObject({
    ...target,
    queue: z
      .union([z.number().int().min(0), z.literal('all')])
      .default('all')
      .meta({ description: 'vector (queue) index within the assignment, or all of them' }),
    rate,
    distribution: z
      .enum(['poisson', 'fixed'])
      .default('poisson')
      .meta({ description: 'inter-arrival times: exponential (Poisson) or constant' }),
  })
  .meta({ description: 'a rate-driven interrupt source per queue' });

const costs = z
  .strictObject(
    Object.fromEntries(
      COST_NAMES.map((name) => [name, z.number().positive().optional()]),
    ) as Record<CostName, z.ZodOptional<z.ZodNumber>>,
  )
  .meta({ description: 'cost model overrides (see `irqlab run --help` for names and sources)' });

const run = z
  .strictObject({
    duration: duration.meta({
      description: `simulated time to run; with the sources' rates it raises at most ${RAISED_INTERRUPTS_MAX} interrupts (rule run-interrupt-budget: under a second of wall time per strategy)`,
    }),
    seed: z.number().int().min(0).max(SEED_MAX).default(1),
    strategies: z.array(z.enum(STRATEGIES)).min(1).default(['emulate']),
    costs: costs.prefault({}),
  })
  .meta({ description: 'how to run the scenario' });

/** Raises a check may make (in total, or per vector): every raise multiplies the interleavings,
 *  so a check that finishes in seconds keeps to a handful. */
export const CHECK_RAISES_MAX = 16;
/** Times one workload operation may be offered to the explorer. */
export const CHECK_TIMES_MAX = 4;
/** States one search may store (the visited set holds every one). */
export const CHECK_STATES_MAX = 50_000_000;
/** Who acts in a check: the device raising, the guest driver's operations (mask, unmask,
 *  set-affinity, hot-unplug), the host scheduler migrating vCPUs, the IEC evicting entries, the
 *  hostile VMs writing into what they reach directly. */
export const CHECK_ACTORS = ['device', 'driver', 'migration', 'iec-eviction', 'hostile'] as const;
/** Messages of the adversarial set (`hv/isolation-probes.ts`) a hostile guest may write. */
export const CHECK_HOSTILE_MESSAGES_MAX = 64;
/** Workload operations a check offers, by the workload's `do` names. */
export const CHECK_OPERATIONS = [
  'mask',
  'unmask',
  'set-affinity',
  'migrate-vcpu',
  'hot-unplug',
] as const;

const checkTimes = z
  .number()
  .int()
  .min(0)
  .max(CHECK_TIMES_MAX)
  .default(1)
  .meta({ description: 'times each workload action of this kind may happen (0: never)' });

const check = z
  .strictObject({
    raises: z
      .union([
        z.number().int().min(0).max(CHECK_RAISES_MAX),
        z.strictObject({ perVector: z.number().int().min(0).max(CHECK_RAISES_MAX) }),
      ])
      .default(1)
      .meta({
        description: `raises the devices may make, in total (a number) or { perVector: n }; at most ${CHECK_RAISES_MAX}`,
      }),
    operations: z
      .strictObject(
        Object.fromEntries(CHECK_OPERATIONS.map((op) => [op, checkTimes])) as Record<
          (typeof CHECK_OPERATIONS)[number],
          typeof checkTimes
        >,
      )
      .prefault({})
      .meta({ description: 'how often each workload operation may happen' }),
    actors: z
      .array(z.enum(CHECK_ACTORS))
      .default(['device', 'driver', 'migration'])
      .meta({ description: `who acts: ${CHECK_ACTORS.join(', ')}` }),
    hostile: z
      .strictObject({
        writes: z.number().int().min(0).max(CHECK_TIMES_MAX).default(1).meta({
          description: 'writes a hostile guest may make in all',
        }),
        messages: z.number().int().min(1).max(CHECK_HOSTILE_MESSAGES_MAX).default(8).meta({
          description:
            'the first n messages of the adversarial set (IRTEs in use first, then handles past the table, compatibility-format messages, non-interrupt writes)',
        }),
      })
      .prefault({})
      .meta({
        description: 'what the hostile actor writes (vms[].hostile, under vir-direct and pv)',
      }),
    properties: z
      .array(z.enum(MACHINE_PROPERTY_NAMES))
      .min(1)
      .default([...MACHINE_PROPERTY_NAMES])
      .meta({ description: 'properties to check' }),
    maxStates: z
      .number()
      .int()
      .min(1)
      .max(CHECK_STATES_MAX)
      .default(1_000_000)
      .meta({ description: 'states one search may store before it ends incomplete' }),
    mutate: z
      .array(
        z.union([
          z.strictObject({
            drop: z.string().meta({
              description: 'a step left out of every run of its program, as `program/step`',
            }),
          }),
          z.strictObject({
            swap: z
              .tuple([z.string(), z.string()])
              .meta({ description: "two steps of one program run in each other's place" }),
          }),
        ]),
      )
      .default([])
      .meta({
        description:
          'what if the real code did not take these steps: the explorer shows which step each property rests on',
      }),
  })
  .meta({
    description: 'what `irqlab check` explores: its bounds, actors, properties and mutations',
  });

export const scenarioSchema = z
  .strictObject({
    name: z.string().optional(),
    description: z.string().optional(),
    host,
    devices: z.array(device).default([]),
    vms: z
      .array(vm)
      .max(VMS_MAX)
      .default([])
      .meta({
        description: `the guests, at most ${VMS_MAX}: each boots its own guest kernel when the scenario is built`,
      }),
    workload: z
      .strictObject({
        actions: z
          .array(workloadAction)
          .max(ACTIONS_MAX)
          .default([])
          .meta({
            description: `timed actions, at most ${ACTIONS_MAX}: each runs through a guest kernel and the hypervisor`,
          }),
        sources: z.array(source).default([]),
      })
      .prefault({}),
    run,
    check: check.optional(),
  })
  .meta({ title: 'irqlab scenario', description: 'an irqlab scenario file (YAML)' });

export type Scenario = z.output<typeof scenarioSchema>;
export type ScenarioDevice = Scenario['devices'][number];
export type ScenarioVm = Scenario['vms'][number];
export type ScenarioAssignment = ScenarioVm['assign'][number];
export type WorkloadAction = Scenario['workload']['actions'][number];
export type WorkloadSource = Scenario['workload']['sources'][number];
export type Strategy = (typeof STRATEGIES)[number];
export type CheckSection = z.output<typeof check>;

/** The JSON Schema editors use to complete and validate scenario files (what is written). */
export function scenarioJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(scenarioSchema, { io: 'input' }) as Record<string, unknown>;
}
