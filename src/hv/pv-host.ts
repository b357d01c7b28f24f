// The hypervisor's side of the `pv` hypercall ABI (`pv-abi.ts`, docs/pv-abi.md): per-VM
// negotiation state, the table of (device, type, index) -> host-valid pair the VM holds, and the
// call handlers. Host-specific work (allocating the host IRTE, posted format when the host has
// posted interrupts, choosing its index, programming it) is not done here: it is delegated to a
// `PvHostBackend` the caller supplies, so this module knows no system state. It validates,
// tracks, and calls the backend; it never writes a device.
// Invariants: at most one allocation per (device, type, index); every allocation was returned by
// `backend.allocate` and is handed back to `backend.release` exactly once (release, revoke,
// unplug or teardown); RETARGET never changes the pair (only the target behind it); a VM whose
// negotiated features include `allByHypercall` has `msiEmulation` false, and GET_MSG for an MSI or
// MSI-X entry is refused (`notSupported`) while emulation is on: emulated entries get
// emulation-compatible pairs, hypercall pairs are for IMS only (DESIGN §1 fact 9, MSI != IMS).
// Not modelled: concurrent calls from several vCPUs (the model serialises steps; `busy` is what a
// real host returns to a call racing a reset, and what the backend may return).

import {
  type Dwords,
  decode,
  encode,
  type Layout,
  type MutableDwords,
  reservedBitsSet,
} from '../hw/bits.js';
import { InputError } from '../hw/errors.js';
import {
  encodeFeatures,
  PAGE_SIZE,
  PV_ARG_BATCH_COUNT,
  PV_ARG_BATCH_PAGE,
  PV_ARG_DEVICE,
  PV_ARG_ENTRY,
  PV_ARG_FEATURES,
  PV_ARG_TARGET,
  PV_ARG_VERSION,
  PV_BATCH_ENTRIES_MAX,
  PV_BATCH_ENTRY_BYTES,
  PV_BATCH_REQUEST,
  PV_BATCH_RESPONSE,
  PV_CALL,
  PV_OUT_ADDRESS,
  PV_OUT_BATCH_DONE,
  PV_OUT_DATA,
  PV_OUT_REFUSAL,
  PV_RAX_CALL,
  PV_RAX_STATUS,
  PV_REFUSAL,
  PV_STATUS,
  PV_VECTOR_MAX,
  PV_VECTOR_MIN,
  type PvCallName,
  type PvEntryRef,
  type PvErrorName,
  type PvFeatures,
  type PvGetMsgArgs,
  type PvIrqType,
  type PvPair,
  type PvRefusalName,
  type PvRegs,
  type PvResult,
  type PvStatusName,
  pvTypeName,
  zeroRegs,
} from './pv-abi.js';

/** What this host offers (the CPUID leaf) and whether its policy lets this VM use it. */
export interface PvHostCaps {
  readonly present: boolean;
  readonly maxVersion: number;
  readonly features: PvFeatures;
  /** The VMM's policy for this VM (e.g. disabled by the operator, or by live-migration rules). */
  readonly allow: boolean;
}

/** An assigned function as the VM sees it: its handle and how many entries each store has. */
export interface PvDevice {
  readonly handle: number;
  readonly name: string;
  readonly entries: Readonly<Record<PvIrqType, number>>;
  /** `revoked` between a reset / unplug starting and finishing: calls on it return `busy`. */
  state: 'live' | 'revoked';
}

export interface PvAllocation extends PvEntryRef, PvPair {
  vcpu: number;
  vector: number;
}

export interface PvNegotiated {
  readonly version: number;
  readonly features: PvFeatures;
}

export interface PvVmState {
  readonly vm: number;
  /** Destinations are APIC IDs 0..vcpuCount-1 (KVM's default flat topology). */
  readonly vcpuCount: number;
  devices: PvDevice[];
  negotiated: PvNegotiated | null;
  /** Does the hypervisor still trap and emulate MSI/MSI-X for this VM's assigned functions? */
  msiEmulation: boolean;
  /** Vectors the VM enabled through emulation (e.g. firmware, an early driver): while any is live
   *  the host cannot drop emulation, and refuses `allByHypercall`. Kept by the caller. */
  emulatedVectorsLive: number;
  allocations: PvAllocation[];
  /** Calls handled, by name: each one is one hypercall exit. */
  calls: Record<PvCallName, number>;
}

export interface PvBackendRequest extends PvGetMsgArgs {
  readonly vm: number;
  readonly dev: PvDevice;
}
export type PvBackendError = { readonly error: 'noResources' | 'busy' };

/** The host side the caller supplies: the host IRTE allocator and programmer. */
export interface PvHostBackend {
  /** Allocate a host IRTE for the target (posted format where the host has PI) and return the
   *  remappable-format pair the device must send. */
  allocate(req: PvBackendRequest): PvPair | PvBackendError;
  /** Free the IRTE behind `pair` (the device entry is the guest's to mask; the host may also). */
  release(req: PvBackendRequest & { readonly pair: PvPair }): void;
  /** Rewrite the IRTE behind `pair` for the new target; the pair itself stays valid as is. */
  retarget(req: PvBackendRequest & { readonly pair: PvPair }): PvBackendError | null;
}

export type PvNegotiateResult =
  | ({ readonly ok: true } & PvNegotiated)
  | {
      readonly ok: false;
      readonly status: 'refused' | 'invalidCall';
      readonly reason: PvRefusalName | null;
      readonly maxVersion: number;
      readonly supported: PvFeatures;
    };

export interface PvBatchResult {
  /** Entries handled before the first failure (the Hyper-V "rep" convention). */
  readonly completed: number;
  readonly status: PvStatusName;
  /** One per handled entry, then the failing one if any; later entries are untouched. */
  readonly results: readonly (PvPair | { readonly status: PvErrorName })[];
}

const fail = (status: PvErrorName) => ({ ok: false, status }) as const;

export function pvVmCreate(opts: {
  vm: number;
  vcpuCount: number;
  devices: readonly Omit<PvDevice, 'state'>[];
}): PvVmState {
  if (!Number.isInteger(opts.vcpuCount) || opts.vcpuCount < 1) {
    throw new InputError(`vm ${opts.vm}`, `vcpuCount ${opts.vcpuCount} is not a positive integer`);
  }
  const handles = new Set<number>();
  for (const d of opts.devices) {
    if (handles.has(d.handle)) {
      throw new InputError(
        `vm ${opts.vm}`,
        `${d.name}: device handle 0x${d.handle.toString(16)} twice`,
      );
    }
    handles.add(d.handle);
  }
  return {
    vm: opts.vm,
    vcpuCount: opts.vcpuCount,
    devices: opts.devices.map((d) => ({ ...d, entries: { ...d.entries }, state: 'live' })),
    negotiated: null,
    msiEmulation: true,
    emulatedVectorsLive: 0,
    allocations: [],
    calls: { negotiate: 0, getMsg: 0, getMsgBatch: 0, release: 0, retarget: 0 },
  };
}

// --- NEGOTIATE ---------------------------------------------------------------------------------

export function pvNegotiate(
  caps: PvHostCaps,
  vm: PvVmState,
  proposal: PvNegotiated,
): PvNegotiateResult {
  vm.calls.negotiate++;
  const refuse = (reason: PvRefusalName | null, status: 'refused' | 'invalidCall' = 'refused') =>
    ({
      ok: false,
      status,
      reason,
      maxVersion: caps.present ? caps.maxVersion : 0,
      supported: caps.features,
    }) as const;
  if (!caps.present) return refuse(null, 'invalidCall');
  if (!caps.allow) return refuse('policy');
  if (proposal.version < 1 || proposal.version > caps.maxVersion) {
    return refuse('versionUnsupported');
  }
  if (
    (proposal.features.batch && !caps.features.batch) ||
    (proposal.features.allByHypercall && !caps.features.allByHypercall)
  ) {
    return refuse('featureUnsupported');
  }
  if (vm.allocations.length > 0) return refuse('allocationsLive');
  if (proposal.features.allByHypercall && vm.emulatedVectorsLive > 0) {
    return refuse('emulatedVectorsLive');
  }
  vm.negotiated = { version: proposal.version, features: { ...proposal.features } };
  vm.msiEmulation = !proposal.features.allByHypercall;
  return { ok: true, ...vm.negotiated };
}

// --- GET_MSG / RELEASE / RETARGET --------------------------------------------------------------

export const pvAllocationOf = (vm: PvVmState, ref: PvEntryRef): PvAllocation | undefined =>
  vm.allocations.find(
    (a) => a.device === ref.device && a.type === ref.type && a.index === ref.index,
  );

/** Checks common to every entry call; the device when they pass. */
function checkEntry(vm: PvVmState, ref: PvEntryRef): PvResult<{ dev: PvDevice }> {
  if (vm.negotiated === null) return fail('notNegotiated');
  const dev = vm.devices.find((d) => d.handle === ref.device);
  if (dev === undefined) return fail('badDevice');
  if (dev.state === 'revoked') return fail('busy');
  if (!Number.isInteger(ref.index) || ref.index < 0 || ref.index >= dev.entries[ref.type]) {
    return fail('indexOutOfRange');
  }
  return { ok: true, dev };
}

function checkTarget(vm: PvVmState, t: { vcpu: number; vector: number }): PvErrorName | null {
  if (!Number.isInteger(t.vcpu) || t.vcpu < 0 || t.vcpu >= vm.vcpuCount) return 'vcpuOutOfRange';
  if (!Number.isInteger(t.vector) || t.vector < PV_VECTOR_MIN || t.vector > PV_VECTOR_MAX) {
    return 'illegalVector';
  }
  return null;
}

function getMsgOne(vm: PvVmState, backend: PvHostBackend, a: PvGetMsgArgs): PvResult<PvPair> {
  const entry = checkEntry(vm, a);
  if (!entry.ok) return entry;
  if (vm.msiEmulation && a.type !== 'ims') return fail('notSupported');
  const bad = checkTarget(vm, a);
  if (bad !== null) return fail(bad);
  if (pvAllocationOf(vm, a) !== undefined) return fail('alreadyAllocated');
  const got = backend.allocate({ vm: vm.vm, dev: entry.dev, ...pick(a) });
  if ('error' in got) return fail(got.error);
  const pair = { addrLo: got.addrLo >>> 0, addrHi: got.addrHi >>> 0, data: got.data >>> 0 };
  vm.allocations.push({ ...pick(a), ...pair });
  return { ok: true, ...pair };
}

const pick = (a: PvGetMsgArgs): PvGetMsgArgs => ({
  device: a.device,
  type: a.type,
  index: a.index,
  vcpu: a.vcpu,
  vector: a.vector,
});
const pairOf = (a: PvPair): PvPair => ({ addrLo: a.addrLo, addrHi: a.addrHi, data: a.data });

/** GET_MSG: a host-valid pair for (device, type, index) aimed at (vcpu, vector). */
export function pvGetMsg(
  vm: PvVmState,
  backend: PvHostBackend,
  args: PvGetMsgArgs,
): PvResult<PvPair> {
  vm.calls.getMsg++;
  return getMsgOne(vm, backend, args);
}

/** GET_MSG_BATCH: the entries in order, stopping at the first failure; one call for all. */
export function pvGetMsgBatch(
  vm: PvVmState,
  backend: PvHostBackend,
  entries: readonly PvGetMsgArgs[],
): PvBatchResult {
  vm.calls.getMsgBatch++;
  const early = batchRefusal(vm, entries.length);
  if (early !== null) return { completed: 0, status: early, results: [] };
  const results: (PvPair | { status: PvErrorName })[] = [];
  for (const a of entries) {
    const r = getMsgOne(vm, backend, a);
    if (!r.ok) {
      results.push({ status: r.status });
      return { completed: results.length - 1, status: r.status, results };
    }
    results.push(pairOf(r));
  }
  return { completed: entries.length, status: 'success', results };
}

function batchRefusal(vm: PvVmState, count: number): PvErrorName | null {
  if (vm.negotiated === null) return 'notNegotiated';
  if (!vm.negotiated.features.batch) return 'notSupported';
  if (count < 1 || count > PV_BATCH_ENTRIES_MAX) return 'invalidArgument';
  return null;
}

/** RELEASE: the host frees the IRTE behind the pair; the guest must have masked the entry. */
export function pvRelease(vm: PvVmState, backend: PvHostBackend, ref: PvEntryRef): PvResult {
  vm.calls.release++;
  const entry = checkEntry(vm, ref);
  if (!entry.ok) return entry;
  const held = pvAllocationOf(vm, ref);
  if (held === undefined) return fail('notAllocated');
  backend.release({ vm: vm.vm, dev: entry.dev, ...held, pair: pairOf(held) });
  vm.allocations.splice(vm.allocations.indexOf(held), 1);
  return { ok: true };
}

/** RETARGET: the same pair now reaches (vcpu, vector); nothing is written to the device. */
export function pvRetarget(
  vm: PvVmState,
  backend: PvHostBackend,
  args: PvGetMsgArgs,
): PvResult<PvPair> {
  vm.calls.retarget++;
  const entry = checkEntry(vm, args);
  if (!entry.ok) return entry;
  const bad = checkTarget(vm, args);
  if (bad !== null) return fail(bad);
  const held = pvAllocationOf(vm, args);
  if (held === undefined) return fail('notAllocated');
  const err = backend.retarget({ vm: vm.vm, dev: entry.dev, ...pick(args), pair: pairOf(held) });
  if (err !== null) return fail(err.error);
  held.vcpu = args.vcpu;
  held.vector = args.vector;
  return { ok: true, ...pairOf(held) };
}

// --- host-initiated: reset, hot-unplug, teardown -----------------------------------------------

function releaseWhere(
  vm: PvVmState,
  backend: PvHostBackend,
  match: (a: PvAllocation) => boolean,
): PvAllocation[] {
  const gone = vm.allocations.filter(match);
  for (const a of gone) {
    const dev = vm.devices.find((d) => d.handle === a.device);
    if (dev !== undefined) backend.release({ vm: vm.vm, dev, ...a, pair: pairOf(a) });
  }
  vm.allocations = vm.allocations.filter((a) => !match(a));
  return gone;
}

function deviceOf(vm: PvVmState, handle: number): PvDevice {
  const dev = vm.devices.find((d) => d.handle === handle);
  if (dev === undefined) {
    throw new InputError(`vm ${vm.vm}`, `no assigned device with handle 0x${handle.toString(16)}`);
  }
  return dev;
}

/** A device reset (FLR) begins: every pair of the device is revoked and its IRTEs freed; calls
 *  on it return `busy` until `pvDeviceRestore`. Returns what was revoked. */
export function pvDeviceRevoke(vm: PvVmState, backend: PvHostBackend, handle: number) {
  const dev = deviceOf(vm, handle);
  dev.state = 'revoked';
  return releaseWhere(vm, backend, (a) => a.device === handle);
}

/** The reset finished: the guest's driver asks for its pairs again. */
export function pvDeviceRestore(vm: PvVmState, handle: number): void {
  deviceOf(vm, handle).state = 'live';
}

/** Hot-unplug: revoke, then forget the device (later calls: `badDevice`). */
export function pvDeviceUnplug(vm: PvVmState, backend: PvHostBackend, handle: number) {
  const gone = pvDeviceRevoke(vm, backend, handle);
  vm.devices = vm.devices.filter((d) => d.handle !== handle);
  return gone;
}

/** VM destruction: every pair is released. */
export function pvVmTeardown(vm: PvVmState, backend: PvHostBackend): PvAllocation[] {
  return releaseWhere(vm, backend, () => true);
}

// --- the register-level entry point ------------------------------------------------------------

/** Guest memory as the host reads it for GET_MSG_BATCH: the page at a guest physical address as
 *  1,024 dwords the host may write back, or null if the address is not guest RAM. */
export interface PvGuestMemory {
  page(gpa: number): MutableDwords | null;
}

const hasReserved = (layout: Layout, words: Dwords, offset = 0) =>
  reservedBitsSet(layout, words, offset).length > 0;

const statusRegs = (status: PvStatusName): PvRegs => {
  const regs = zeroRegs();
  regs.rax = encode(PV_RAX_STATUS, { status: PV_STATUS[status] });
  return regs;
};

/** A VMCALL from the guest: decode the registers, handle, encode the result registers. An absent
 *  capability answers every number with `invalidCall`, as KVM answers an unknown one (ENOSYS). */
export function pvHostHypercall(
  caps: PvHostCaps,
  vm: PvVmState,
  backend: PvHostBackend,
  regs: PvRegs,
  memory?: PvGuestMemory,
): PvRegs {
  const call = decode(PV_RAX_CALL, regs.rax);
  if (!caps.present || call.reserved !== 0) return statusRegs('invalidCall');
  switch (call.nr) {
    case PV_CALL.negotiate:
      return negotiateRegs(caps, vm, regs);
    case PV_CALL.getMsg:
    case PV_CALL.retarget:
      return entryCallRegs(vm, backend, regs, call.nr === PV_CALL.getMsg ? 'getMsg' : 'retarget');
    case PV_CALL.release:
      return releaseRegs(vm, backend, regs);
    case PV_CALL.getMsgBatch:
      return batchRegs(vm, backend, regs, memory);
    default:
      return statusRegs('invalidCall');
  }
}

function negotiateRegs(caps: PvHostCaps, vm: PvVmState, regs: PvRegs): PvRegs {
  const version = decode(PV_ARG_VERSION, regs.rbx);
  const features = decode(PV_ARG_FEATURES, regs.rcx);
  if (hasReserved(PV_ARG_VERSION, regs.rbx) || hasReserved(PV_ARG_FEATURES, regs.rcx)) {
    vm.calls.negotiate++;
    const out = statusRegs('refused');
    out.rbx = encode(PV_OUT_REFUSAL, {
      reason: PV_REFUSAL.featureUnsupported,
      maxVersion: caps.maxVersion,
    });
    out.rcx = encodeFeatures(caps.features);
    return out;
  }
  const r = pvNegotiate(caps, vm, {
    version: version.version,
    features: { allByHypercall: features.allByHypercall === 1, batch: features.batch === 1 },
  });
  if (r.ok) {
    const out = statusRegs('success');
    out.rbx = encodeFeatures(r.features);
    out.rcx = encode(PV_ARG_VERSION, { version: r.version });
    return out;
  }
  const out = statusRegs(r.status);
  out.rbx = encode(PV_OUT_REFUSAL, {
    reason: r.reason === null ? 0 : PV_REFUSAL[r.reason],
    maxVersion: r.maxVersion,
  });
  out.rcx = encodeFeatures(r.supported);
  return out;
}

/** RBX/RCX(/RDX) decoded, or the argument error. */
function decodeEntryRegs(regs: PvRegs, withTarget: boolean): PvGetMsgArgs | null {
  const entry = decode(PV_ARG_ENTRY, regs.rcx);
  const target = decode(PV_ARG_TARGET, regs.rdx);
  const type = pvTypeName(entry.type);
  const reserved =
    hasReserved(PV_ARG_DEVICE, regs.rbx) ||
    hasReserved(PV_ARG_ENTRY, regs.rcx) ||
    (withTarget && hasReserved(PV_ARG_TARGET, regs.rdx));
  if (reserved || type === undefined) return null;
  return {
    device: regs.rbx[0] >>> 0,
    type,
    index: entry.index,
    vcpu: withTarget ? target.destination : 0,
    vector: withTarget ? target.vector : 0,
  };
}

function pairRegs(r: PvResult<PvPair>): PvRegs {
  if (!r.ok) return statusRegs(r.status);
  const out = statusRegs('success');
  out.rbx = encode(PV_OUT_ADDRESS, { addrLo: r.addrLo, addrHi: r.addrHi });
  out.rcx = encode(PV_OUT_DATA, { data: r.data });
  return out;
}

function entryCallRegs(
  vm: PvVmState,
  backend: PvHostBackend,
  regs: PvRegs,
  name: 'getMsg' | 'retarget',
): PvRegs {
  const args = decodeEntryRegs(regs, true);
  if (args === null) {
    vm.calls[name]++;
    return statusRegs('invalidArgument');
  }
  return pairRegs(name === 'getMsg' ? pvGetMsg(vm, backend, args) : pvRetarget(vm, backend, args));
}

function releaseRegs(vm: PvVmState, backend: PvHostBackend, regs: PvRegs): PvRegs {
  const args = decodeEntryRegs(regs, false);
  if (args === null) {
    vm.calls.release++;
    return statusRegs('invalidArgument');
  }
  const r = pvRelease(vm, backend, args);
  return statusRegs(r.ok ? 'success' : r.status);
}

function batchRegs(
  vm: PvVmState,
  backend: PvHostBackend,
  regs: PvRegs,
  memory: PvGuestMemory | undefined,
): PvRegs {
  const where = decode(PV_ARG_BATCH_PAGE, regs.rbx);
  const count = decode(PV_ARG_BATCH_COUNT, regs.rcx);
  const gpa = (where.frameLow + where.frameHigh * 2 ** 20) * PAGE_SIZE;
  const page = memory?.page(gpa) ?? null;
  const malformed =
    hasReserved(PV_ARG_BATCH_PAGE, regs.rbx) || hasReserved(PV_ARG_BATCH_COUNT, regs.rcx);
  if (malformed || page === null || page.length < PAGE_SIZE / 4) {
    vm.calls.getMsgBatch++;
    return statusRegs('invalidArgument');
  }
  const early = batchRefusal(vm, count.count);
  if (early !== null) {
    vm.calls.getMsgBatch++;
    return doneRegs(early, 0);
  }
  const entries: PvGetMsgArgs[] = [];
  for (let i = 0; i < count.count; i++) {
    const args = decodeBatchRequest(page, i);
    if (args === null) {
      vm.calls.getMsgBatch++;
      return doneRegs('invalidArgument', 0);
    }
    entries.push(args);
  }
  const r = pvGetMsgBatch(vm, backend, entries);
  r.results.forEach((res, i) => {
    writeBatchResponse(page, i, res);
  });
  return doneRegs(r.status, r.completed, r.results.length > r.completed);
}

const ENTRY_DWORDS = PV_BATCH_ENTRY_BYTES / 4;

function decodeBatchRequest(page: MutableDwords, i: number): PvGetMsgArgs | null {
  const e = decode(PV_BATCH_REQUEST, page, i * ENTRY_DWORDS);
  const type = pvTypeName(e.type);
  if (hasReserved(PV_BATCH_REQUEST, page, i * ENTRY_DWORDS) || type === undefined) return null;
  const device = encode(PV_ARG_DEVICE, {
    segment: e.segment,
    bus: e.bus,
    device: e.device,
    function: e.function,
  })[0];
  return { device, type, index: e.index, vcpu: e.destination, vector: e.vector };
}

function writeBatchResponse(
  page: MutableDwords,
  i: number,
  res: PvPair | { status: PvErrorName },
): void {
  const words =
    'status' in res
      ? encode(PV_BATCH_RESPONSE, { status: PV_STATUS[res.status] })
      : encode(PV_BATCH_RESPONSE, { ...res, status: PV_STATUS.success });
  for (let w = 0; w < ENTRY_DWORDS; w++) page[i * ENTRY_DWORDS + w] = words[w];
}

function doneRegs(status: PvStatusName, completed: number, entryFailed = false): PvRegs {
  const out = statusRegs(status);
  out.rbx = encode(PV_OUT_BATCH_DONE, { completed, entryFailed: entryFailed ? 1 : 0 });
  return out;
}
