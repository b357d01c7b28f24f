// The guest kernel's hypercall hooks (`KernelPlatform.hypercallComposeMsi` / `hypercallBatch`,
// used by the guest's "hypercall" irqdomain `kernel/pv-ir.ts`) implemented over the register-level
// `pv` ABI (`pv-guest.ts` wrappers, `pv-abi.ts` encodings): a compose for an entry that holds no
// pair is GET_MSG; a compose for one that does is RETARGET (the kernel composes again only when
// the target changed, and the ABI keeps the pair); a batch of new entries is one GET_MSG_BATCH.
// The hooks keep which entries hold a pair (`held`) as plain data, so a caller can RELEASE them.
// Invariants: an entry is in `held` iff the host answered GET_MSG (or a batch entry) with a pair
// and no RELEASE followed; a failed call changes `held` not at all.
// A host error has no channel in the kernel's hook (it returns a pair), so it is thrown as a
// RuleError naming the ABI status: the guest asked for something the host refused.

import { RuleError } from '../hw/errors.js';
import { PV_BATCH_ENTRIES_MAX, type PvGetMsgArgs, type PvIrqType, type PvPair } from './pv-abi.js';
import {
  type PvGuestChoice,
  type PvVmcall,
  pvGuestGetMsg,
  pvGuestGetMsgBatch,
  pvGuestRelease,
  pvGuestRetarget,
} from './pv-guest.js';

/** The kernel's request (structurally `MsiHypercall` of `kernel/platform.ts`). */
export interface PvKernelRequest {
  readonly bdf: string;
  readonly index: number;
  readonly vector: number;
  readonly destApicId: number;
}

export interface PvKernelHooks {
  /** `bdf#type#index` of every entry holding a pair. */
  readonly held: string[];
  hypercallComposeMsi(req: PvKernelRequest): PvPair;
  readonly hypercallBatch?: {
    readonly max: number;
    composeMsi(reqs: readonly PvKernelRequest[]): PvPair[];
  };
  /** RELEASE (the guest masks the entry first). */
  release(bdf: string, index: number): void;
}

export interface PvKernelHooksOptions {
  readonly vmcall: PvVmcall;
  /** What `pvGuestNegotiate` chose: the hooks exist only for `pv` / `pv-batch`. */
  readonly choice: PvGuestChoice;
  /** The guest function behind `bdf`: its pv device handle and which store its entries are in. */
  deviceOf(bdf: string): { readonly handle: number; readonly type: PvIrqType };
  /** The guest page GET_MSG_BATCH uses (`pv-batch` only). */
  readonly batchPage?: { readonly gpa: number; readonly dwords: number[] };
}

export function pvKernelHooks(o: PvKernelHooksOptions): PvKernelHooks {
  if (o.choice.strategy === 'emulate') {
    throw new RuleError(
      'pv-not-negotiated',
      'pv hooks',
      `negotiation fell back: ${o.choice.reason}`,
    );
  }
  const held: string[] = [];
  const argsOf = (r: PvKernelRequest): PvGetMsgArgs => {
    const dev = o.deviceOf(r.bdf);
    return {
      device: dev.handle,
      type: dev.type,
      index: r.index,
      vcpu: r.destApicId,
      vector: r.vector,
    };
  };
  const keyOf = (a: PvGetMsgArgs, bdf: string) => `${bdf}#${a.type}#${a.index}`;
  const refused = (call: string, bdf: string, index: number, status: string) =>
    new RuleError(
      `pv-${status}`,
      `${bdf} entry ${index}`,
      `${call} refused by the host: ${status}`,
    );

  const composeOne = (r: PvKernelRequest): PvPair => {
    const a = argsOf(r);
    const key = keyOf(a, r.bdf);
    const isHeld = held.includes(key);
    const res = isHeld ? pvGuestRetarget(o.vmcall, a) : pvGuestGetMsg(o.vmcall, a);
    if (!res.ok) throw refused(isHeld ? 'RETARGET' : 'GET_MSG', r.bdf, r.index, res.status);
    if (!isHeld) held.push(key);
    return { addrLo: res.addrLo, addrHi: res.addrHi, data: res.data };
  };

  const hooks: PvKernelHooks = {
    held,
    hypercallComposeMsi: composeOne,
    release(bdf, index) {
      const dev = o.deviceOf(bdf);
      const key = `${bdf}#${dev.type}#${index}`;
      const res = pvGuestRelease(o.vmcall, { device: dev.handle, type: dev.type, index });
      if (!res.ok) throw refused('RELEASE', bdf, index, res.status);
      held.splice(held.indexOf(key), 1);
    },
  };
  if (!o.choice.features.batch) return hooks; // GET_MSG_BATCH was not negotiated
  const page = o.batchPage;
  if (page === undefined) {
    throw new RuleError('pv-batch-page', 'pv hooks', 'pv-batch negotiated without a batch page');
  }
  return {
    ...hooks,
    hypercallBatch: {
      max: PV_BATCH_ENTRIES_MAX,
      composeMsi(reqs) {
        const fresh = reqs.filter((r) => !held.includes(keyOf(argsOf(r), r.bdf)));
        const out = new Map<PvKernelRequest, PvPair>();
        if (fresh.length > 0) {
          const res = pvGuestGetMsgBatch(o.vmcall, page, fresh.map(argsOf));
          // Entries before a failure hold pairs: keep them held so they can be released.
          fresh.slice(0, res.completed).forEach((r, i) => {
            const e = res.entries[i];
            if (e?.ok) {
              held.push(keyOf(argsOf(r), r.bdf));
              out.set(r, { addrLo: e.addrLo, addrHi: e.addrHi, data: e.data });
            }
          });
          if (res.status !== 'success') {
            const r = fresh[res.completed] ?? fresh[0];
            throw refused('GET_MSG_BATCH', r.bdf, r.index, res.status);
          }
        }
        return reqs.map((r) => out.get(r) ?? composeOne(r));
      },
    },
  };
}
