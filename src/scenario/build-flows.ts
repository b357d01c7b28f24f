// The flows a build runs (issue 6): the host kernel booted on a platform that writes the system
// state, each VM's guest kernel on its strategy's platform, and the hypervisor's side of each
// strategy (VFIO backing, KVM's posted IRTEs, vir-direct's shadowed IRTEs in per-VM windows), so
// that every number in the built topology comes from a kernel. `build.ts` plans the system and
// calls `runFlows`; this file is that call's body.

import { bootGuests, type ControlPlaneVm, type GuestRun, irqOfVector } from '../hv/guest-run.js';
import { createHostPlatform, type HostPlatform } from '../hv/host-platform.js';
import {
  type IrWindow,
  type ShadowedIrte,
  type StrategyName,
  VIR_DIRECT_WINDOW,
} from '../hv/strategy-platform.js';
import { systemStep } from '../hv/system.js';
import { ACTION } from '../hv/system-actions.js';
import { createEventLog } from '../hv/system-events.js';
import { pidAddress, resetSystemState, type SystemState } from '../hv/system-state.js';
import {
  createSystemTopology,
  MSI_STORE_DWORDS,
  type SystemSpec,
  type VectorSpec,
} from '../hv/system-topology.js';
import {
  type HostBinding,
  kvmPiUpdateIrte,
  type VfioHost,
  vfioDisableVector,
  vfioEnableVector,
} from '../hv/vfio.js';
import { assert } from '../hw/errors.js';
import {
  encodeIrtePosted,
  encodeIrteRemapped,
  irteDestinationId,
  pdaFields,
  SOURCE_VALIDATION_TYPE,
} from '../hw/vtd/irte.js';
import { composeCompatMsiPhysical, decodeMsiMessage } from '../hw/x86/msi-message.js';
import { configSpaceFor, pciFunctionInfo } from '../kernel/boot.js';
import { createKernel, onlineCpus } from '../kernel/kernel.js';
import type { KernelState, PciFunctionInfo } from '../kernel/kernel-state.js';
import { irqTarget, requestIrq } from '../kernel/manage.js';
import { pciAllocIrqVectors } from '../kernel/pci-msi-api.js';
import { vtdIrReserve } from '../kernel/vtd-ir.js';
import type { Plan } from './build.js';
import type { Scenario } from './schema.js';

/** Source-id of the IOAPIC that turns an INTx line into an interrupt request: a typical Intel DMAR
 *  device scope (bus f0, device 1f, function 0). */
export const IOAPIC_REQUESTER_ID = 0xf0f8;

/** Bytes per guest MSI-X / IMS entry (PCIe 7.7.2: 16; the IMS entry layout alike). */
const GUEST_ENTRY_BYTES = 16;

const IOAPIC_PINS = 24;
/** The host kernel, VFIO and KVM under each VM's strategy, on the staging system state. */
export interface BuildFlows {
  readonly host: { kernel: KernelState; platform: HostPlatform; vfio: VfioHost };
  /** The guest kernels on their strategy platforms, set up (the control plane's run). */
  readonly guests: GuestRun;
  /** Host binding of each assigned vector (same order as `spec.vectors`). */
  readonly bindings: readonly HostBinding[];
  /** Vectors whose binding VFIO already gave back (a pv RELEASE), by index in `bindings`. */
  readonly released: Set<number>;
}

/** The host IRT window of each `vir-direct` VM (undefined for the others): VIR_DIRECT_WINDOW
 *  indices each, disjoint, from the first window boundary above `irteBound` (every index the host
 *  kernel itself can use), in VM order. */
function irWindows(plan: Plan, strategies: readonly StrategyName[]): (IrWindow | undefined)[] {
  let next = Math.ceil(plan.irteBound / VIR_DIRECT_WINDOW) * VIR_DIRECT_WINDOW;
  return strategies.map((st) => {
    if (st !== 'vir-direct') return undefined;
    const w = { base: next, size: VIR_DIRECT_WINDOW };
    next += VIR_DIRECT_WINDOW;
    return w;
  });
}

export function runFlows(s: Scenario, plan: Plan, strategies: readonly StrategyName[]) {
  const windows = irWindows(plan, strategies);
  const windowsEnd = Math.max(0, ...windows.map((w) => (w ? w.base + w.size : 0)));
  const baseSpec = {
    ...plan.spec,
    irtEntriesMin: Math.max(plan.spec.irtEntriesMin ?? 0, windowsEnd),
  };
  const staging = resetSystemState(createSystemTopology({ ...baseSpec, vectors: [] }));
  const spaces = plan.hostFunctions.map((f) => configSpaceFor(f.device));
  const infos = plan.hostFunctions.map((f, i) => pciFunctionInfo(f.device, spaces[i]));
  const platform = createHostPlatform(
    staging,
    plan.hostFunctions.map((f, i) => ({ info: infos[i], msix: f.msix, msi: f.msi, ims: f.ims })),
    Object.fromEntries(infos.map((info, i) => [info.bdf, spaces[i].bytes])),
    plan.intxPins,
  );
  const kernel = bootHostKernel(s, infos);
  // The hv takes each vir-direct window out of the host kernel's IRTE allocator.
  const remap = kernel.roots.remap;
  for (const w of windows) {
    if (w && remap !== null) vtdIrReserve(kernel.domains[remap], w.base, w.size);
  }
  plan.hostFunctions.forEach((f, i) => {
    if (f.subdeviceMsix) hostParentProbe(kernel, platform, infos[i].bdf);
  });
  const vfio: VfioHost = { k: kernel, p: platform, posted: s.host.iommu.posted };
  const bindings: (HostBinding | undefined)[] = plan.slots.map(() => undefined);
  const released = new Set<number>();
  const bind = (vm: number, assign: number, index: number): HostBinding => {
    const slot = plan.vectorsOf[vm][assign][index];
    const existing = bindings[slot];
    if (existing && !released.has(slot)) return existing;
    released.delete(slot);
    const a = s.vms[vm].assign[assign];
    const f = plan.hostFunctions[plan.hostFunctionOf[vm][assign]];
    const b = vfioEnableVector(vfio, {
      bdf: f.device.bdf,
      backing: a.backing,
      index,
      count: a.vectors,
      subdevice: a.subdevice !== undefined,
    });
    bindings[slot] = b;
    return b;
  };
  const firstVcpuOf = (vm: number) => s.vms.slice(0, vm).reduce((n, x) => n + x.vcpus, 0);
  const hostRid = (vm: number, assign: number) =>
    plan.spec.ports[plan.spec.stores[plan.storeOf[vm][assign]].port].requesterId;
  /** vir-direct, per VM: the guest IRTEs the hv shadowed, and the VFIO binding behind each
   *  handle the device entries hold (a remapped host IRTE needs the VFIO irq's host vector). */
  const shadows = s.vms.map(() => new Map<number, ShadowedIrte>());
  const handleBinding = s.vms.map(() => new Map<number, HostBinding>());
  const hostEime = s.host.x2apic;
  /** Host IRTE `index` from the guest's shadowed IRTE: posted to its vCPU/vector, or remapped to
   *  the host vector of the VFIO irq behind the handle; not present when the guest cleared it,
   *  names a vCPU the VM does not have, or (remapped) no device entry holds the handle yet. */
  const writeShadow = (vm: number, functions: readonly { bdf: string }[], index: number) => {
    const sh = shadows[vm].get(index);
    const assign = sh ? functions.findIndex((f) => f.bdf === sh.bdf) : -1;
    const b = handleBinding[vm].get(index);
    const common = {
      present: 1,
      sourceId: assign < 0 ? 0 : hostRid(vm, assign),
      sourceIdQualifier: 0,
      sourceValidationType: SOURCE_VALIDATION_TYPE.requesterId,
    };
    let irte = [0, 0, 0, 0];
    if (sh && assign >= 0 && sh.vcpu < s.vms[vm].vcpus && s.host.iommu.posted) {
      const pid = pidAddress(firstVcpuOf(vm) + sh.vcpu);
      irte = encodeIrtePosted({ ...common, virtualVector: sh.vector, ...pdaFields(pid) });
    } else if (sh && assign >= 0 && sh.vcpu < s.vms[vm].vcpus && b) {
      irte = encodeIrteRemapped({
        ...common,
        vector: b.vector,
        destinationId: irteDestinationId(b.cpu, { eime: hostEime }),
      });
    }
    platform.irteWrite?.('dmar0', index, irte);
    platform.iecInvalidate?.('dmar0', index, 1);
  };
  const guests = bootGuests(
    s.vms.map((vm, v) => ({
      name: vm.name,
      vcpus: vm.vcpus,
      strategy: strategies[v],
      ...(windows[v] ? { irWindow: windows[v] } : {}),
      assign: vm.assign.map((a) => ({ guest: a.guest, backing: a.backing, vectors: a.vectors })),
    })),
    { ir: s.host.iommu.ir, posted: s.host.iommu.posted, dynamicMsix: hostHasDynamicMsix(s) },
    (vm, functions) => ({
      vectorLive(bdf, index) {
        const assign = functions.findIndex((f) => f.bdf === bdf);
        const b = bind(vm, assign, index);
        return hostPair(staging, plan.slots[plan.vectorsOf[vm][assign][index]].store, b);
      },
      directWrite(bdf, _region, offset, value) {
        // The guest's entry i is the device entry behind it: the function's own entry i for a
        // whole function, the host-chosen entry once bound for a slice; a write to a slice entry
        // the host has not backed reaches nothing of the VM's.
        const assign = functions.findIndex((f) => f.bdf === bdf);
        const index = Math.floor(offset / GUEST_ENTRY_BYTES);
        const slot = plan.vectorsOf[vm][assign][index];
        const a = s.vms[vm].assign[assign];
        // Only an MSI-X table or IMS slice of the device can be mapped (rule
        // direct-needs-same-type); a run forcing a direct strategy elsewhere maps nothing.
        if ((a.backing !== 'msix' && a.backing !== 'ims') || a.guest !== a.backing) return;
        const whole = a.subdevice === undefined && a.backing === 'msix';
        const entry = slot === undefined ? -1 : (bindings[slot]?.entry ?? (whole ? index : -1));
        if (entry < 0) return;
        const store = plan.storeOf[vm][assign];
        platform.deviceWrite(store, entry, (offset % GUEST_ENTRY_BYTES) / 4, value);
        const b = slot === undefined ? undefined : bindings[slot];
        if (strategies[vm] === 'vir-direct' && b) {
          // The hv learns which VFIO irq backs the handle the device entry now holds.
          const hostBdf = plan.hostFunctions[plan.hostFunctionOf[vm][assign]].device.bdf;
          const region = b.backing === 'ims' ? 'ims' : 'msix-table';
          const [lo, hi, data] = [0, 4, 8].map((o) =>
            platform.mmioRead(hostBdf, region, entry * GUEST_ENTRY_BYTES + o),
          );
          const index = remappableIndex(lo, hi, data);
          if (index >= 0 && handleBinding[vm].get(index) !== b) {
            handleBinding[vm].set(index, b);
            if (!s.host.iommu.posted) writeShadow(vm, functions, index);
          }
        }
      },
      vectorReleased(bdf, index) {
        const assign = functions.findIndex((f) => f.bdf === bdf);
        const slot = plan.vectorsOf[vm][assign]?.[index];
        const b = slot === undefined ? undefined : bindings[slot];
        if (slot === undefined || b === undefined || released.has(slot)) return;
        vfioDisableVector(vfio, b);
        released.add(slot);
      },
      shadowIrte(index, irte) {
        if (irte) shadows[vm].set(index, irte);
        else shadows[vm].delete(index);
        writeShadow(vm, functions, index);
      },
    }),
  );
  const vectors = plan.slots.map((slot, i): VectorSpec => {
    // A vector the guest never made live (its probe failed) is still backed, so the system has
    // every vector the scenario names; the failure is in `guests.failures`.
    const b = bindings[i] ?? bind(slot.vm, slot.assign, slot.index);
    const g = guestTarget(guests.vms[slot.vm], slot.assign, slot.index);
    const firstVcpu = firstVcpuOf(slot.vm);
    // vir-direct: the device sends the guest's handle, whose host IRTE the hv shadowed.
    const a = s.vms[slot.vm].assign[slot.assign];
    const mapped = (a.backing === 'msix' || a.backing === 'ims') && a.guest === a.backing;
    const shadowed = strategies[slot.vm] === 'vir-direct' && mapped;
    const irte = shadowed ? entryHandle(staging, slot.store, b.entry) : b.irte;
    assert(!shadowed || irte >= 0, `${slot.name}: vir-direct entry holds no remappable handle`);
    if (!shadowed) kvmPiUpdateIrte(vfio, b, firstVcpu + g.vcpu, g.vector);
    // An INTx line is one host irq, vector and IRTE for all the sources it fans out to: the
    // first source owns them; each source is its bit in the device's status register.
    const sharedLine = b.backing === 'intx' && slot.index > 0;
    return {
      name: slot.name,
      store: slot.store,
      entry: b.backing === 'intx' ? slot.index : b.entry,
      vm: slot.vm,
      vcpu: g.vcpu,
      guestVector: g.vector,
      irte: sharedLine ? -1 : irte,
      hostCpu: b.cpu,
      hostVector: sharedLine ? -1 : b.vector,
      hostIrq: b.irq,
      guestIrq: g.irq,
    };
  });
  return {
    spec: { ...baseSpec, vectors } as SystemSpec,
    staging,
    host: { kernel, platform, vfio },
    guests,
    bindings: bindings as HostBinding[],
    released,
  };
}

/** The host Linux: IR per the scenario, every CPU online, an IOAPIC behind IR for INTx lines. */
function bootHostKernel(s: Scenario, devices: readonly PciFunctionInfo[]): KernelState {
  const k = createKernel({
    name: 'host',
    version: HOST_KERNEL_VERSION,
    platform: s.host.iommu.ir ? 'host-ir' : 'host-noir',
    cpus: s.host.cpus,
    apicMode: s.host.x2apic ? 'x2apic-phys' : 'xapic-phys',
    legacyPic: false,
    ia32Emulation: true,
    hypervisorCallback: false,
    mce: false,
    ioapic: { pins: IOAPIC_PINS, mapping: 'dynamic', sourceId: IOAPIC_REQUESTER_ID },
    devices,
  });
  onlineCpus(k);
  return k;
}

/** The parent's own driver (idxd) at probe: MSI-X enabled with entry 0 for its misc interrupt. */
function hostParentProbe(k: KernelState, p: HostPlatform, bdf: string): void {
  const a = pciAllocIrqVectors(k, p, bdf, { min: 1, max: 1, flags: { msix: true } });
  assert(a.ok, `host: ${bdf} MSI-X enable at probe`);
  const irq = k.devices[bdf].descs.msix[0].irq;
  const r = requestIrq(k, p, irq, `idxd-misc(${bdf})`);
  assert(r.ok, `host: ${bdf} misc irq`);
}

/** The pair the host entry holds for a binding (what a pv hypercall returns). */
function hostPair(s: SystemState, store: number, b: HostBinding) {
  const st = s.topology.stores[store];
  const at =
    st.kind === 'msi' ? st.entriesAt + MSI_STORE_DWORDS.addrLo : st.entriesAt + b.entry * 4;
  const data = s.words[st.kind === 'msi' ? st.entriesAt + MSI_STORE_DWORDS.data : at + 2];
  return { addrLo: s.words[at], addrHi: s.words[at + 1], data };
}

/** The interrupt index (IRTE) the remappable message of an MSI-X / IMS store entry names, or
 *  -1 when the entry holds no remappable message (VT-d 5.1.2.2). */
function entryHandle(s: SystemState, store: number, entry: number): number {
  const st = s.topology.stores[store];
  if (st.kind !== 'msix' && st.kind !== 'ims') return -1;
  const at = st.entriesAt + entry * 4;
  return remappableIndex(s.words[at], s.words[at + 1], s.words[at + 2]);
}

function remappableIndex(addrLo: number, addrHi: number, data: number): number {
  const m = decodeMsiMessage(addrLo, addrHi, data);
  return m.format === 'remappable' ? m.interruptIndex : -1;
}

/** Where the guest kernel sends vector `index` of assignment `assign`: vCPU, vector, irq. */
function guestTarget(vm: ControlPlaneVm, assign: number, index: number) {
  const irq = irqOfVector(vm.kernel, vm.functions[assign].bdf, index);
  const t = irqTarget(vm.kernel, irq);
  assert(t, `${vm.name}: guest irq ${irq} has no vector`);
  return { vcpu: t.cpu as number, vector: t.vector as number, irq };
}

/** Linux version of the host (dynamic MSI-X in VFIO: 6.5+). */
export const HOST_KERNEL_VERSION = { major: 6, minor: 12 } as const;

/** VFIO resizes MSI-X without a disable/re-enable from Linux 6.5 (dynamic MSI-X), unless the
 *  scenario says (`host.dynamicMsix`); the host kernel's version is the scenario's, else ours. */
export function hostHasDynamicMsix(s: Scenario): boolean {
  if (s.host.dynamicMsix !== undefined) return s.host.dynamicMsix;
  const v = s.host.kernel?.version;
  if (v === undefined) return true;
  const [major, minor] = v.split('.').map(Number);
  return major > 6 || (major === 6 && minor >= 5);
}

/** The pair the guest programs (compatibility format: its vCPU's APIC ID, its vector), which is
 *  what KVM's route holds once the VMM has handled the guest's write. */
export function guestMsi(vcpu: number, vector: number) {
  return composeCompatMsiPhysical(vcpu, vector);
}

/** The VMs are running when the scenario starts: every vCPU enters the guest. */
export function enterAllVcpus(s: SystemState): void {
  const log = createEventLog();
  s.topology.vcpus.forEach((_, v) => {
    systemStep(s, { kind: ACTION.vcpuEnter, a: v, b: 0 }, log);
  });
}
