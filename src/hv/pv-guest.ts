// The guest's side of the `pv` hypercall ABI (`pv-abi.ts`, docs/pv-abi.md): discovery from
// CPUID, negotiation with the fallbacks a guest kernel would take, and one wrapper per call that
// puts the arguments in registers, issues the VMCALL (`vmcall`, supplied by whoever runs the
// guest: in irqlab the hypervisor's `pvHostHypercall`), and decodes the result registers.
// Fallbacks: capability absent, no `allByHypercall`, or negotiation refused -> `emulate` (the
// guest keeps composing compatibility pairs into the emulated table, as today); batch refused
// (`featureUnsupported`) -> retry once without it -> `pv`.
// Invariants: the guest never proposes a version above the host's advertised maximum, nor a
// feature the host does not advertise; at most two NEGOTIATE calls.
// Not modelled: the guest kernel's irqdomain wiring (`kernel/pv-ir.ts` calls the platform hook;
// the platform calls these wrappers).

import { decode, encode, type MutableDwords } from '../hw/bits.js';
import { assert } from '../hw/errors.js';
import {
  decodeCpuid,
  encodeBatchRequest,
  encodeEntryArgs,
  encodeFeatures,
  PAGE_SIZE,
  PV_ARG_BATCH_COUNT,
  PV_ARG_BATCH_PAGE,
  PV_ARG_ENTRY,
  PV_ARG_FEATURES,
  PV_ARG_VERSION,
  PV_BATCH_ENTRIES_MAX,
  PV_BATCH_ENTRY_BYTES,
  PV_BATCH_RESPONSE,
  PV_CALL,
  PV_IRQ_TYPE,
  PV_MSI_VERSION,
  PV_OUT_ADDRESS,
  PV_OUT_BATCH_DONE,
  PV_OUT_DATA,
  PV_OUT_REFUSAL,
  PV_RAX_CALL,
  PV_RAX_STATUS,
  type PvCpuid,
  type PvEntryRef,
  type PvErrorName,
  type PvFeatures,
  type PvGetMsgArgs,
  type PvPair,
  type PvRefusalName,
  type PvRegs,
  type PvResult,
  pvRefusalName,
  pvStatusName,
  zeroRegs,
} from './pv-abi.js';

/** One VMCALL: registers in, registers out. */
export type PvVmcall = (regs: PvRegs) => PvRegs;

export type PvGuestStrategy = 'pv' | 'pv-batch' | 'emulate';

export interface PvGuestChoice {
  readonly strategy: PvGuestStrategy;
  readonly version: number;
  readonly features: PvFeatures;
  /** Why this strategy: 'negotiated', or what made the guest fall back. */
  readonly reason: 'negotiated' | 'absent' | 'no-all-by-hypercall' | PvRefusalName | 'invalidCall';
  /** NEGOTIATE calls made (0, 1 or 2): each is a hypercall exit. */
  readonly calls: number;
}

const NONE: PvFeatures = { allByHypercall: false, batch: false };

const emulate = (reason: PvGuestChoice['reason'], calls: number): PvGuestChoice => ({
  strategy: 'emulate',
  version: 0,
  features: NONE,
  reason,
  calls,
});

/** Discover and negotiate; the result says which strategy the guest kernel runs. */
export function pvGuestNegotiate(opts: {
  cpuid: PvCpuid;
  /** The guest kernel's own highest version and whether it wants to batch. */
  want: { version?: number; batch: boolean };
  vmcall: PvVmcall;
}): PvGuestChoice {
  const host = decodeCpuid(opts.cpuid);
  if (!host.present) return emulate('absent', 0);
  if (!host.features.allByHypercall) return emulate('no-all-by-hypercall', 0);
  const version = Math.min(opts.want.version ?? PV_MSI_VERSION, host.maxVersion);
  if (version < 1) return emulate('versionUnsupported', 0);
  const batch = opts.want.batch && host.features.batch;
  const first = negotiateCall(opts.vmcall, version, { allByHypercall: true, batch });
  if (first.ok) return chosen(first.features, first.version, 1);
  if (batch && first.reason === 'featureUnsupported') {
    const second = negotiateCall(opts.vmcall, version, { allByHypercall: true, batch: false });
    if (second.ok) return chosen(second.features, second.version, 2);
    return emulate(second.reason, 2);
  }
  return emulate(first.reason, 1);
}

const chosen = (features: PvFeatures, version: number, calls: number): PvGuestChoice => ({
  strategy: features.batch ? 'pv-batch' : 'pv',
  version,
  features,
  reason: 'negotiated',
  calls,
});

type NegotiateOutcome =
  | { ok: true; version: number; features: PvFeatures }
  | { ok: false; reason: PvRefusalName | 'invalidCall' };

function negotiateCall(vmcall: PvVmcall, version: number, features: PvFeatures) {
  const regs = zeroRegs();
  regs.rax = encode(PV_RAX_CALL, { nr: PV_CALL.negotiate });
  regs.rbx = encode(PV_ARG_VERSION, { version });
  regs.rcx = encodeFeatures(features);
  const out = vmcall(regs);
  const status = statusOf(out);
  if (status === 'success') {
    const f = decode(PV_ARG_FEATURES, out.rbx);
    return {
      ok: true,
      version: decode(PV_ARG_VERSION, out.rcx).version,
      features: { allByHypercall: f.allByHypercall === 1, batch: f.batch === 1 },
    } satisfies NegotiateOutcome;
  }
  const reason =
    status === 'refused' ? pvRefusalName(decode(PV_OUT_REFUSAL, out.rbx).reason) : undefined;
  return { ok: false, reason: reason ?? 'invalidCall' } satisfies NegotiateOutcome;
}

const statusOf = (out: PvRegs) => pvStatusName(decode(PV_RAX_STATUS, out.rax).status);

function pairResult(out: PvRegs): PvResult<PvPair> {
  const status = statusOf(out);
  if (status !== 'success') return { ok: false, status };
  const a = decode(PV_OUT_ADDRESS, out.rbx);
  return { ok: true, addrLo: a.addrLo, addrHi: a.addrHi, data: decode(PV_OUT_DATA, out.rcx).data };
}

/** GET_MSG: the pair to write into the device's entry (MSI capability, MSI-X table or IMS). */
export function pvGuestGetMsg(vmcall: PvVmcall, args: PvGetMsgArgs): PvResult<PvPair> {
  return pairResult(vmcall(encodeEntryArgs(PV_CALL.getMsg, args)));
}

/** RETARGET: the same pair, now aimed at the new (vcpu, vector); the device is not touched. */
export function pvGuestRetarget(vmcall: PvVmcall, args: PvGetMsgArgs): PvResult<PvPair> {
  return pairResult(vmcall(encodeEntryArgs(PV_CALL.retarget, args)));
}

/** RELEASE: call after masking the entry; the pair is invalid once this returns. */
export function pvGuestRelease(vmcall: PvVmcall, ref: PvEntryRef): PvResult {
  const regs = zeroRegs();
  regs.rax = encode(PV_RAX_CALL, { nr: PV_CALL.release });
  regs.rbx = [ref.device >>> 0, 0];
  regs.rcx = encode(PV_ARG_ENTRY, { index: ref.index, type: PV_IRQ_TYPE[ref.type] });
  const status = statusOf(vmcall(regs));
  return status === 'success' ? { ok: true } : { ok: false, status };
}

export interface PvGuestBatchResult {
  readonly completed: number;
  readonly status: PvErrorName | 'success';
  /** Per entry: its pair, its error, or null if the host stopped before it. */
  readonly entries: readonly (PvResult<PvPair> | null)[];
}

/** GET_MSG_BATCH: fills the guest page at `gpa` with the requests, one VMCALL, reads the page. */
export function pvGuestGetMsgBatch(
  vmcall: PvVmcall,
  page: { gpa: number; dwords: MutableDwords },
  requests: readonly PvGetMsgArgs[],
): PvGuestBatchResult {
  assert(
    requests.length >= 1 && requests.length <= PV_BATCH_ENTRIES_MAX,
    `pv batch of ${requests.length} entries: 1..${PV_BATCH_ENTRIES_MAX}`,
  );
  assert(page.dwords.length >= PAGE_SIZE / 4, 'pv batch page is not 4 KiB');
  const per = PV_BATCH_ENTRY_BYTES / 4;
  requests.forEach((r, i) => {
    encodeBatchRequest(r).forEach((w, k) => {
      page.dwords[i * per + k] = w;
    });
  });
  const frame = Math.floor(page.gpa / PAGE_SIZE);
  const regs = zeroRegs();
  regs.rax = encode(PV_RAX_CALL, { nr: PV_CALL.getMsgBatch });
  regs.rbx = encode(PV_ARG_BATCH_PAGE, {
    reservedOffset: page.gpa % PAGE_SIZE,
    frameLow: frame % 2 ** 20,
    frameHigh: Math.floor(frame / 2 ** 20),
  });
  regs.rcx = encode(PV_ARG_BATCH_COUNT, { count: requests.length });
  const out = vmcall(regs);
  const status = statusOf(out);
  const done = decode(PV_OUT_BATCH_DONE, out.rbx);
  const completed = done.completed;
  const entries = requests.map((_, i): PvResult<PvPair> | null => {
    if (i > completed || (i === completed && done.entryFailed === 0)) return null;
    const e = decode(PV_BATCH_RESPONSE, page.dwords, i * per);
    const s = pvStatusName(e.status);
    if (s !== 'success') return { ok: false, status: s };
    return { ok: true, addrLo: e.addrLo, addrHi: e.addrHi, data: e.data };
  });
  return { completed, status, entries };
}
