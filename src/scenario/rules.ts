// Cross-field rules of a scenario: combinations the schema alone cannot reject, each named, each
// reported on the node it is about. DESIGN.md §1–2 gives the facts behind them (IMS needs
// interrupt remapping on host and guest; the direct strategies need the same type on both sides;
// IDXD needs a vIOMMU). Adding a rule is one entry in RULES.
//
// A rule sees a scenario that already passed the schema, so fields have their types and
// defaults; rules that follow a reference (a device name, an assignment index) report a broken
// reference themselves and the others skip what they cannot resolve.

import { PARENT_MSIX_ENTRIES } from '../hv/flows.js';
import {
  GUEST_ASSIGNMENTS_MAX,
  GUEST_KERNEL_VERSION,
  GUEST_VECTOR_DOMAIN,
} from '../hv/guest-run.js';
import { DIRECT_STRATEGIES } from '../hv/strategy-platform.js';
import { parseBdf, requesterIdOf } from '../hw/pci/bdf.js';
import { KERNEL_SPEC_RULES, type KernelSpec } from '../kernel/kernel-spec.js';
import { allocatableVectorsPerCpu } from '../kernel/x86-vector.js';
import {
  ASSIGNED_VECTORS_MAX,
  RAISED_INTERRUPTS_MAX,
  type Scenario,
  type ScenarioAssignment,
  type ScenarioDevice,
  type ScenarioVm,
  XAPIC_DEST_VCPUS,
} from './schema.js';
import { formatNs } from './units.js';

export interface RuleViolation {
  readonly rule: string;
  readonly path: readonly (string | number)[];
  readonly problem: string;
}

type Report = (path: readonly (string | number)[], problem: string) => void;

export interface ScenarioRule {
  readonly name: string;
  /** One line: what the rule requires and why. */
  readonly why: string;
  check(s: Scenario, ctx: RuleContext, report: Report): void;
}

export interface RuleContext {
  readonly deviceByName: ReadonlyMap<string, ScenarioDevice>;
  readonly vmByName: ReadonlyMap<string, ScenarioVm>;
}

/** Every assignment with its VM, path and device (undefined when the name does not resolve). */
function* assignments(s: Scenario, ctx: RuleContext) {
  for (const [v, vm] of s.vms.entries()) {
    for (const [a, assign] of vm.assign.entries()) {
      const device = ctx.deviceByName.get(assign.device);
      yield { vm, assign, device, path: ['vms', v, 'assign', a] as (string | number)[] };
    }
  }
}

const strategyOf = (s: Scenario, vm: ScenarioVm) => vm.strategy ?? s.run.strategies[0];
const usesStrategy = (s: Scenario, vm: ScenarioVm, names: readonly string[]) =>
  vm.strategy ? names.includes(vm.strategy) : s.run.strategies.some((x) => names.includes(x));
const isPowerOfTwo = (n: number) => n > 0 && (n & (n - 1)) === 0;
const HYPERCALL_STRATEGIES = ['pv', 'pv-batch'];
const VIR_STRATEGIES = ['vir', 'vir-direct'];
/** A subdevice's interrupt status register (one bit per source) is a 32-bit device register: the
 *  host's INTx handler reads it to fan the one line out to the guest vectors. */
const INTX_STATUS_SOURCES_MAX = 32;

function duplicates(names: readonly string[]): number[] {
  const seen = new Set<string>();
  const dup: number[] = [];
  names.forEach((n, i) => {
    if (seen.has(n)) dup.push(i);
    seen.add(n);
  });
  return dup;
}

/** Routing IDs (bus << 8 | devfn) of a device's PF and VFs: SR-IOV First VF Offset and Stride. */
export function functionRoutingIds(d: ScenarioDevice): number[] {
  const pf: number = requesterIdOf(parseBdf(d.bdf));
  const ids = [pf];
  for (let i = 0; i < d.vfs; i++) ids.push(pf + d.vfOffset + i * d.vfStride);
  return ids;
}

/** The kernel blocks a scenario spells out, with their paths. */
function* kernelBlocks(s: Scenario) {
  if (s.host.kernel) {
    yield { spec: s.host.kernel, path: ['host', 'kernel'] as (string | number)[], host: true };
  }
  for (const [v, vm] of s.vms.entries()) {
    if (vm.kernel) yield { spec: vm.kernel, path: ['vms', v, 'kernel'], host: false };
  }
}

/** A kernel block's own rule (`kernel/kernel-spec.ts`), run on every block of the scenario. */
const kernelRule = (rule: (typeof KERNEL_SPEC_RULES)[number]): ScenarioRule => ({
  name: rule.name,
  why: `${rule.why} (host.kernel, vms[].kernel)`,
  check(s, _ctx, report) {
    for (const { spec, path } of kernelBlocks(s)) {
      rule.check(spec, (p, problem) => report([...path, ...p], problem));
    }
  },
});

const isHostPlatform = (spec: KernelSpec) => spec.platform.startsWith('host-');

export const RULES: readonly ScenarioRule[] = [
  ...KERNEL_SPEC_RULES.map(kernelRule),
  {
    name: 'kernel-matches-machine',
    why: "a kernel block describes the machine it runs on: the host's CPUs and IOMMU, or the VM's vCPUs",
    check(s, _ctx, report) {
      for (const { spec, path, host } of kernelBlocks(s)) {
        const cpus = host ? s.host.cpus : s.vms[path[1] as number].vcpus;
        if (spec.cpus !== cpus) {
          report(
            [...path, 'cpus'],
            `${spec.cpus} CPUs, but the ${host ? 'host has' : 'VM has'} ${cpus} (${host ? 'host.cpus' : 'vcpus'})`,
          );
        }
        if (isHostPlatform(spec) !== host) {
          report(
            [...path, 'platform'],
            `${spec.platform} is a ${host ? 'guest' : 'host'} platform; ${host ? 'host.kernel needs host-ir or host-noir' : 'a VM kernel needs a guest-* platform'}`,
          );
        } else if (host && (spec.platform === 'host-ir') !== s.host.iommu.ir) {
          report(
            [...path, 'platform'],
            `${spec.platform}, but host.iommu.ir is ${s.host.iommu.ir}`,
          );
        }
      }
    },
  },
  {
    name: 'guest-vectors-fit',
    why: `each guest vector takes a CPU vector of one of the VM's vCPUs: at most ${allocatableVectorsPerCpu(GUEST_KERNEL_VERSION, GUEST_VECTOR_DOMAIN)} per vCPU in the guest kernel (0x20-0xeb less IA32_SYSCALL_VECTOR)`,
    check(s, _ctx, report) {
      const perCpu = allocatableVectorsPerCpu(GUEST_KERNEL_VERSION, GUEST_VECTOR_DOMAIN);
      s.vms.forEach((vm, v) => {
        let used = 0;
        vm.assign.forEach((a, i) => {
          used += a.vectors;
          if (used > vm.vcpus * perCpu && used - a.vectors <= vm.vcpus * perCpu) {
            report(
              ['vms', v, 'assign', i, 'vectors'],
              `${used} guest vectors by here; ${vm.name} holds ${vm.vcpus * perCpu} (${perCpu} per vCPU, ${vm.vcpus} vCPU${vm.vcpus === 1 ? '' : 's'})`,
            );
          }
        });
      });
    },
  },
  {
    name: 'guest-pci-slots',
    why: `each assigned function takes a device number on the guest's bus 0 (5 bits, up to 0x1f): at most ${GUEST_ASSIGNMENTS_MAX} per VM`,
    check(s, _ctx, report) {
      s.vms.forEach((vm, v) => {
        if (vm.assign.length > GUEST_ASSIGNMENTS_MAX) {
          report(
            ['vms', v, 'assign', GUEST_ASSIGNMENTS_MAX],
            `${vm.assign.length} assignments: the guest's bus 0 has slots for ${GUEST_ASSIGNMENTS_MAX}`,
          );
        }
      });
    },
  },
  {
    name: 'unique-names',
    why: 'devices and VMs are referred to by name',
    check(s, _ctx, report) {
      for (const i of duplicates(s.devices.map((d) => d.name))) {
        report(['devices', i, 'name'], `device name "${s.devices[i].name}" is used twice`);
      }
      for (const i of duplicates(s.vms.map((v) => v.name))) {
        report(['vms', i, 'name'], `VM name "${s.vms[i].name}" is used twice`);
      }
    },
  },
  {
    name: 'unique-routing-ids',
    why: "two functions (PFs or VFs) cannot share a requester ID: VT-d's source-id would be ambiguous",
    check(s, _ctx, report) {
      const owner = new Map<number, string>();
      s.devices.forEach((d, i) => {
        for (const [f, rid] of functionRoutingIds(d).entries()) {
          const what = f === 0 ? `${d.name}` : `${d.name} VF ${f - 1}`;
          const other = owner.get(rid);
          if (rid > 0xffff) report(['devices', i, 'vfs'], `${what} falls beyond bus ff`);
          else if (other)
            report(['devices', i, 'bdf'], `${what} has the same routing ID as ${other}`);
          owner.set(rid, what);
        }
      });
    },
  },
  {
    name: 'vfs-need-vf-msix',
    why: 'a VF signals with its own MSI-X table',
    check(s, _ctx, report) {
      s.devices.forEach((d, i) => {
        if (d.vfs > 0 && d.vfMsix === 0) {
          report(['devices', i, 'vfMsix'], `${d.name} has ${d.vfs} VFs but vfMsix is 0`);
        }
      });
    },
  },
  {
    name: 'subdevices-need-siov-device',
    why: 'only idxd (work queues as ADIs) and generic devices model Scalable-IOV subdevices',
    check(s, _ctx, report) {
      s.devices.forEach((d, i) => {
        if (d.subdevices > 0 && d.kind !== 'idxd' && d.kind !== 'generic') {
          report(['devices', i, 'subdevices'], `a ${d.kind} device has no modelled subdevices`);
        }
      });
    },
  },
  {
    name: 'posted-needs-ir',
    why: 'VT-d posted interrupts are a format of interrupt-remapping table entry',
    check(s, _ctx, report) {
      if (s.host.iommu.posted && !s.host.iommu.ir) {
        report(
          ['host', 'iommu', 'posted'],
          'posted interrupts need interrupt remapping (iommu.ir: true)',
        );
      }
    },
  },
  {
    name: 'posted-needs-apicv',
    why: 'KVM uses VT-d posted interrupts only with APICv (vmx_can_use_vtd_pi)',
    check(s, _ctx, report) {
      if (s.host.iommu.posted && !s.host.apicv) {
        report(['host', 'apicv'], 'posted interrupts need APICv (host.apicv: true)');
      }
    },
  },
  {
    name: 'one-vcpu-per-pcpu',
    why: 'the model does not overcommit: each vCPU runs on a pCPU of its own',
    check(s, _ctx, report) {
      const total = s.vms.reduce((n, vm) => n + vm.vcpus, 0);
      if (total > s.host.cpus) {
        report(
          ['host', 'cpus'],
          `${total} vCPUs need as many host CPUs; the host has ${s.host.cpus}`,
        );
      }
      const owner = new Map<number, string>();
      s.vms.forEach((vm, v) => {
        vm.pin?.forEach((p, i) => {
          const other = owner.get(p);
          if (other) report(['vms', v, 'pin', i], `pCPU ${p} already runs ${other}`);
          owner.set(p, `${vm.name} vCPU ${i}`);
        });
      });
    },
  },
  {
    name: 'x2apic-above-255-cpus',
    why: 'xAPIC IDs are 8 bits; APIC IDs above 255 need x2APIC, and x2APIC IDs above 255 need IR',
    check(s, _ctx, report) {
      if (s.host.cpus > 255 && !s.host.x2apic) {
        report(['host', 'cpus'], `${s.host.cpus} CPUs need x2APIC (host.x2apic: true)`);
      } else if (s.host.cpus > 255 && !s.host.iommu.ir) {
        report(
          ['host', 'cpus'],
          `${s.host.cpus} CPUs: a compatibility-format MSI carries an 8-bit destination, so CPUs above 255 need interrupt remapping (iommu.ir: true)`,
        );
      }
    },
  },
  {
    name: 'device-ref',
    why: 'an assignment names a device of `devices`',
    check(s, ctx, report) {
      for (const { assign, device, path } of assignments(s, ctx)) {
        if (!device) report([...path, 'device'], `no device named "${assign.device}"`);
      }
    },
  },
  {
    name: 'one-function',
    why: 'an assignment is the PF, one VF or one subdevice',
    check(s, ctx, report) {
      for (const { assign, path } of assignments(s, ctx)) {
        if (assign.vf !== undefined && assign.subdevice !== undefined) {
          report([...path, 'subdevice'], 'give either vf or subdevice, not both');
        }
      }
    },
  },
  {
    name: 'function-exists',
    why: 'a VF or subdevice index is below the count the device has',
    check(s, ctx, report) {
      for (const { assign, device, path } of assignments(s, ctx)) {
        if (!device) continue;
        if (assign.vf !== undefined && assign.vf >= device.vfs) {
          report([...path, 'vf'], `${device.name} has ${device.vfs} VFs (0..${device.vfs - 1})`);
        }
        if (assign.subdevice !== undefined && assign.subdevice >= device.subdevices) {
          report(
            [...path, 'subdevice'],
            `${device.name} has ${device.subdevices} subdevices (0..${device.subdevices - 1})`,
          );
        }
      }
    },
  },
  {
    name: 'assigned-once',
    why: 'a function or subdevice belongs to one guest at a time; a physical function given whole (VFIO owns it) has no subdevices left to give, and its subdevices need the parent driver on the host',
    check(s, ctx, report) {
      const owner = new Map<string, string>();
      const whole = new Map<string, string>();
      const sliced = new Map<string, string>();
      for (const { vm, assign, path } of assignments(s, ctx)) {
        const key = `${assign.device}/${assign.vf ?? '-'}/${assign.subdevice ?? '-'}`;
        const other = owner.get(key);
        if (other) report(path, `already assigned to ${other}`);
        owner.set(key, vm.name);
        if (assign.vf !== undefined) continue;
        const mine = assign.subdevice === undefined ? whole : sliced;
        const theirs = assign.subdevice === undefined ? sliced : whole;
        const clash = theirs.get(assign.device);
        if (clash) {
          report(
            path,
            assign.subdevice === undefined
              ? `${assign.device} is assigned whole while ${clash} has one of its subdevices`
              : `${assign.device} is assigned whole to ${clash}: it has no subdevices to give`,
          );
        }
        mine.set(assign.device, vm.name);
      }
    },
  },
  {
    name: 'ims-needs-host-ir',
    why: 'IMS is supported only with interrupt remapping (DESIGN §1 fact 4)',
    check(s, ctx, report) {
      for (const { assign, path } of assignments(s, ctx)) {
        if (assign.backing === 'ims' && !s.host.iommu.ir) {
          report(
            [...path, 'backing'],
            '"ims" needs interrupt remapping on the host (iommu.ir: true)',
          );
        }
      }
    },
  },
  {
    name: 'ims-needs-guest-ir',
    why: 'a guest driving IMS needs IR in the guest (a vIOMMU with IR: vir, vir-direct) or the pv hypercall (DESIGN §1 fact 4, §2)',
    check(s, ctx, report) {
      for (const { vm, assign, path } of assignments(s, ctx)) {
        if (assign.guest !== 'ims') continue;
        const strategy = strategyOf(s, vm);
        // Under emulate the guest's vIOMMU (if any) remaps DMA only: the guest kernel sits on
        // emulated MSI, which does not isolate, so it refuses an IMS domain.
        const guestIr = VIR_STRATEGIES.includes(strategy) && vm.viommu === 'on';
        if (!guestIr && !HYPERCALL_STRATEGIES.includes(strategy)) {
          report(
            [...path, 'guest'],
            `"ims" in the guest needs interrupt remapping in the guest (strategy vir or vir-direct with viommu: on) or the pv strategy; ${vm.name} runs ${strategy} with viommu: ${vm.viommu}`,
          );
        }
      }
    },
  },
  {
    name: 'ims-backing-needs-ims-store',
    why: "IMS backs a subdevice out of its parent device's IMS store",
    check(s, ctx, report) {
      for (const { assign, device, path } of assignments(s, ctx)) {
        if (!device || assign.backing !== 'ims') continue;
        if (device.ims === 0) report([...path, 'backing'], `${device.name} has no IMS (ims: 0)`);
        else if (assign.subdevice === undefined) {
          report([...path, 'backing'], 'IMS backs subdevices; give a subdevice index');
        }
      }
    },
  },
  {
    name: 'backing-capability',
    why: 'the host backing must be a capability the assigned function has',
    check(s, ctx, report) {
      for (const { assign, device, path } of assignments(s, ctx)) {
        if (!device) continue;
        const isVf = assign.vf !== undefined;
        if (assign.backing === 'msix' && (isVf ? device.vfMsix : device.msix) === 0) {
          report([...path, 'backing'], `${device.name}${isVf ? ' VFs have' : ' has'} no MSI-X`);
        }
        if (assign.backing === 'msi' && (isVf || device.msi === 0)) {
          report([...path, 'backing'], `${device.name}${isVf ? ' VFs have' : ' has'} no MSI`);
        }
        if (assign.backing === 'intx' && isVf) {
          // SR-IOV: a VF does not implement INTx (its Interrupt Pin register reads 0).
          report([...path, 'backing'], `${device.name} VFs have no INTx`);
        }
      }
    },
  },
  {
    name: 'vector-counts',
    why: 'MSI allocates a power of two up to 32 vectors; an INTx backing fans one line out to at most the sources its status register has bits for',
    check(s, ctx, report) {
      for (const { assign, path } of assignments(s, ctx)) {
        const msi = assign.guest === 'msi' || assign.backing === 'msi';
        if (msi && (assign.vectors > 32 || !isPowerOfTwo(assign.vectors))) {
          report(
            [...path, 'vectors'],
            `MSI needs a power of two up to 32 vectors, not ${assign.vectors}`,
          );
        }
        if (assign.backing === 'intx' && assign.vectors > INTX_STATUS_SOURCES_MAX) {
          report(
            [...path, 'vectors'],
            `an INTx backing fans one line out through a ${INTX_STATUS_SOURCES_MAX}-bit status register; at most ${INTX_STATUS_SOURCES_MAX} vectors, not ${assign.vectors}`,
          );
        }
      }
    },
  },
  {
    name: 'multi-msi-needs-ir',
    why: 'x86 Linux allocates more than one MSI vector per function only through an interrupt-remapping domain (the native vector domain lacks MSI_FLAG_MULTI_PCI_MSI); the pv domain hands out host pairs per vector',
    check(s, ctx, report) {
      for (const { vm, assign, path } of assignments(s, ctx)) {
        if (assign.vectors <= 1) continue;
        const strategy = strategyOf(s, vm);
        const guestIr = VIR_STRATEGIES.includes(strategy) && vm.viommu === 'on';
        if (assign.guest === 'msi' && !guestIr && !HYPERCALL_STRATEGIES.includes(strategy)) {
          report(
            [...path, 'vectors'],
            `a guest MSI with ${assign.vectors} vectors needs interrupt remapping in the guest (vir or vir-direct with viommu: on) or the pv strategy; ${vm.name} runs ${strategy} with viommu: ${vm.viommu}, where Linux gets one vector`,
          );
        }
        if (assign.backing === 'msi' && !s.host.iommu.ir) {
          report(
            [...path, 'vectors'],
            `an MSI backing with ${assign.vectors} vectors needs interrupt remapping on the host (iommu.ir: true); without it Linux gets one vector`,
          );
        }
      }
    },
  },
  {
    name: 'msix-capacity',
    why: "the vectors backed by a function's MSI-X table fit in its Table Size",
    check(s, ctx, report) {
      const used = new Map<string, number>();
      for (const { assign, device, path } of assignments(s, ctx)) {
        if (!device || assign.backing !== 'msix') continue;
        const isVf = assign.vf !== undefined;
        const key = isVf ? `${device.name}/vf${assign.vf}` : device.name;
        // The parent's own driver keeps its entries when it hands out subdevices (idxd: entry 0).
        const reserved = assign.subdevice !== undefined ? PARENT_MSIX_ENTRIES : 0;
        const total = (used.get(key) ?? reserved) + assign.vectors;
        used.set(key, total);
        const size = isVf ? device.vfMsix : device.msix;
        if (total > size) {
          report(
            [...path, 'vectors'],
            `${key} MSI-X table has ${size} entries${reserved ? ` (${reserved} kept by the host driver)` : ''}; ${total} needed`,
          );
        }
      }
    },
  },
  {
    name: 'one-interrupt-mode',
    why: "a PCI function signals with INTx, MSI or MSI-X, one at a time (PCIe 6.1.4: MSI and MSI-X are never both enabled, and either one disables INTx); IMS is the device's own and may sit beside MSI-X",
    check(s, ctx, report) {
      const mode = new Map<string, { backing: string; vm: string }>();
      for (const { vm, assign, device, path } of assignments(s, ctx)) {
        if (!device || assign.backing === 'ims') continue;
        const key = assign.vf === undefined ? device.name : `${device.name}/vf${assign.vf}`;
        const other = mode.get(key);
        if (other && other.backing !== assign.backing) {
          report(
            [...path, 'backing'],
            `${key} already signals with ${other.backing} for ${other.vm}; it cannot use ${assign.backing} at the same time`,
          );
        }
        if (!other) mode.set(key, { backing: assign.backing, vm: vm.name });
      }
    },
  },
  {
    name: 'msi-capacity',
    why: "an MSI backing is the function's one MSI block: enabled once with its size (Multiple Message Enable cannot grow while enabled), at most the vectors the function is capable of",
    check(s, ctx, report) {
      const taken = new Map<string, string>();
      for (const { vm, assign, device, path } of assignments(s, ctx)) {
        if (!device || assign.backing !== 'msi' || assign.vf !== undefined) continue;
        const other = taken.get(device.name);
        if (other) {
          report(
            [...path, 'backing'],
            `${device.name}'s MSI block already backs ${other}'s vectors`,
          );
        }
        taken.set(device.name, vm.name);
        if (device.msi > 0 && assign.vectors > device.msi) {
          report(
            [...path, 'vectors'],
            `${device.name} is capable of ${device.msi} MSI vectors; ${assign.vectors} needed`,
          );
        }
      }
    },
  },
  {
    name: 'ims-capacity',
    why: 'IMS-backed vectors of a device fit in its IMS store',
    check(s, ctx, report) {
      const used = new Map<string, number>();
      for (const { assign, device, path } of assignments(s, ctx)) {
        if (!device || assign.backing !== 'ims') continue;
        const total = (used.get(device.name) ?? 0) + assign.vectors;
        used.set(device.name, total);
        if (total > device.ims) {
          report(
            [...path, 'vectors'],
            `${device.name} has ${device.ims} IMS entries; ${total} needed`,
          );
        }
      }
    },
  },
  {
    name: 'direct-needs-same-type',
    why: 'vir-direct, pv and pv-batch hand the guest the real entry: the guest type is the host type (DESIGN §2)',
    check(s, ctx, report) {
      for (const { vm, assign, path } of assignments(s, ctx)) {
        if (usesStrategy(s, vm, DIRECT_STRATEGIES) && assign.guest !== assign.backing) {
          report(
            [...path, 'backing'],
            `the direct strategies (${DIRECT_STRATEGIES.join(', ')}) need the same type on both sides; guest "${assign.guest}" on host "${assign.backing}" works only under emulate or vir`,
          );
        }
      }
    },
  },
  {
    name: 'same-type-passthrough-needs-hypercall',
    why: 'a guest that writes the real entry needs a host-valid pair, which only a hypercall path hands out: the host IRTE it names (DESIGN §1 fact 3)',
    check(s, _ctx, report) {
      s.vms.forEach((vm, v) => {
        if (!usesStrategy(s, vm, DIRECT_STRATEGIES) || s.host.iommu.ir) return;
        report(
          ['host', 'iommu', 'ir'],
          `${vm.name} drives its entries directly (${DIRECT_STRATEGIES.join(', ')}): the pair it writes must name a host IRTE, obtained by hypercall (pv) or by the shadowed vIOMMU invalidation (vir-direct); a host without interrupt remapping has none to give (vms[${v}]: use emulate or vir, or iommu.ir: true)`,
        );
      });
    },
  },
  {
    name: 'vcpus-above-255-need-eim-or-ext-dest-id',
    why: 'an 8-bit MSI destination names at most 255 vCPUs; more need x2APIC interrupt remapping (a vIOMMU with EIM) or the extended destination ID (reference/systems.md §3)',
    check(s, _ctx, report) {
      s.vms.forEach((vm, v) => {
        if (vm.vcpus <= XAPIC_DEST_VCPUS) return;
        const eim = vm.viommu === 'on' && vm.eim;
        if (!eim && !vm.extDestId) {
          report(
            ['vms', v, 'vcpus'],
            `${vm.vcpus} vCPUs: a compatibility-format MSI reaches APIC IDs up to ${XAPIC_DEST_VCPUS - 1}; give ${vm.name} a vIOMMU with x2APIC interrupt remapping (viommu: on, eim: true) or the extended destination ID (extDestId: true)`,
          );
        }
      });
    },
  },
  {
    name: 'vir-needs-viommu',
    why: 'the vir strategies program the guest IRTEs of a vIOMMU with interrupt remapping',
    check(s, _ctx, report) {
      s.vms.forEach((vm, v) => {
        if (usesStrategy(s, vm, ['vir', 'vir-direct']) && vm.viommu !== 'on') {
          report(
            ['vms', v, 'viommu'],
            `strategy vir/vir-direct needs viommu: on, ${vm.name} has ${vm.viommu}`,
          );
        }
      });
    },
  },
  {
    name: 'idxd-needs-viommu',
    why: 'IDXD needs a vIOMMU in the guest anyway: PASID and user I/O page tables (DESIGN §1 fact 5)',
    check(s, ctx, report) {
      for (const { vm, device, path } of assignments(s, ctx)) {
        if (device?.kind === 'idxd' && vm.viommu !== 'on') {
          report(
            [...path, 'device'],
            `${device.name} is an idxd device; ${vm.name} needs viommu: on`,
          );
        }
      }
    },
  },
  {
    name: 'vcpu-pinning',
    why: 'each vCPU is pinned to an existing host CPU',
    check(s, _ctx, report) {
      s.vms.forEach((vm, v) => {
        if (!vm.pin) return;
        if (vm.pin.length !== vm.vcpus) {
          report(['vms', v, 'pin'], `${vm.pin.length} pCPUs for ${vm.vcpus} vCPUs`);
        }
        vm.pin.forEach((p, i) => {
          if (p >= s.host.cpus)
            report(['vms', v, 'pin', i], `pCPU ${p}: the host has ${s.host.cpus}`);
        });
      });
    },
  },
  {
    name: 'workload-refs',
    why: 'timed actions and sources name an existing VM, assignment, vector, vCPU and pCPU',
    check(s, ctx, report) {
      const items = [
        ...s.workload.actions.map((a, i) => ({ item: a, path: ['workload', 'actions', i] })),
        ...s.workload.sources.map((a, i) => ({ item: a, path: ['workload', 'sources', i] })),
      ];
      for (const { item, path } of items) {
        const vm = ctx.vmByName.get(item.vm);
        if (!vm) {
          report([...path, 'vm'], `no VM named "${item.vm}"`);
          continue;
        }
        const assign: ScenarioAssignment | undefined =
          'assign' in item ? vm.assign[item.assign] : undefined;
        if ('assign' in item && !assign) {
          report([...path, 'assign'], `${vm.name} has ${vm.assign.length} assignments`);
        }
        const vector = 'vector' in item ? item.vector : 'queue' in item ? item.queue : undefined;
        if (assign && typeof vector === 'number' && vector >= assign.vectors) {
          report(
            [...path, 'vector' in item ? 'vector' : 'queue'],
            `this assignment of ${vm.name} has ${assign.vectors} vectors`,
          );
        }
        if ('vcpu' in item && item.vcpu >= vm.vcpus) {
          report([...path, 'vcpu'], `${vm.name} has ${vm.vcpus} vCPUs`);
        }
        if ('pcpu' in item && item.pcpu >= s.host.cpus) {
          report([...path, 'pcpu'], `the host has ${s.host.cpus} CPUs`);
        }
        if ('at' in item && item.at > s.run.duration) {
          report([...path, 'at'], `after the end of the run (run.duration)`);
        }
      }
    },
  },
  {
    name: 'assigned-vectors-budget',
    why: `the VMs assign at most ${ASSIGNED_VECTORS_MAX} vectors in all: each is programmed through the host kernel, VFIO, KVM and a guest kernel when the scenario is built, so a build stays near a second`,
    check(s, ctx, report) {
      let total = 0;
      for (const { assign, path } of assignments(s, ctx)) {
        const before = total;
        total += assign.vectors;
        if (before <= ASSIGNED_VECTORS_MAX && total > ASSIGNED_VECTORS_MAX) {
          report(
            [...path, 'vectors'],
            `${total} vectors assigned by here, above the budget of ${ASSIGNED_VECTORS_MAX} for a scenario`,
          );
        }
      }
    },
  },
  {
    name: 'run-interrupt-budget',
    why: `run.duration times the sources' rates (each vector of a queue: all source) raises at most ${RAISED_INTERRUPTS_MAX} interrupts, so a run ends in under a second of wall time`,
    check(s, ctx, report) {
      let perSecond = 0;
      for (const src of s.workload.sources) {
        const assign = ctx.vmByName.get(src.vm)?.assign[src.assign];
        perSecond += src.rate * (src.queue === 'all' ? (assign?.vectors ?? 1) : 1);
      }
      const raised = (perSecond * s.run.duration) / 1e9;
      if (raised > RAISED_INTERRUPTS_MAX) {
        report(
          ['run', 'duration'],
          `${formatNs(s.run.duration)} at ${Math.round(perSecond)} interrupts/s raises ${Math.round(raised)}, above the budget of ${RAISED_INTERRUPTS_MAX}: shorten the run or lower the rates`,
        );
      }
    },
  },
];

export function checkRules(s: Scenario): RuleViolation[] {
  const ctx: RuleContext = {
    deviceByName: new Map(s.devices.map((d) => [d.name, d])),
    vmByName: new Map(s.vms.map((v) => [v.name, v])),
  };
  const out: RuleViolation[] = [];
  for (const rule of RULES) {
    rule.check(s, ctx, (path, problem) => out.push({ rule: rule.name, path, problem }));
  }
  return out;
}
