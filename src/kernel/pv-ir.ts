// A paravirtual remapping domain for the `guest-hypercall` platform: the guest gets each
// irq's address/data pair from the hypervisor by hypercall instead of composing it, the way
// Hyper-V's vPCI (`hv_compose_msi_msg`, a create-interrupt request per vector) and PowerPC
// pseries (RTAS) do, and the design's `pv` strategy proposes for KVM (DESIGN §1.8). The pair is
// host-valid, so the domain isolates MSI (the host validates it): IMS may sit on it.
// Like Hyper-V's parent the pair is cached per descriptor: it names the host's entry for
// (device, index), not the target, so it is composed ONCE, at the first activation, and kept
// until the irq is freed. The host's entry is aimed at a (vCPU, vector); only a real change of
// that target is a retarget hypercall (Hyper-V HVCALL_RETARGET_INTERRUPT): the device's message
// does not change, so nothing is written to the device. And like Hyper-V's MSI domain (no
// MSI_FLAG_MUST_REACTIVATE) the irqs under this domain are not in reservation mode
// (`pvIrUnder`, used by `msi.ts`): the real vector is assigned at allocation, so request_irq
// does not reactivate and compose again.
// Batching (`pv-batch`): when the platform offers `hypercallBatch`, the PCI/MSI alloc path runs
// inside `pvIrBatched`: each activation only queues its irq (nothing is written to the device
// yet), and the window closes with one batch hypercall per `max` irqs, then writes each pair.
// Invariants: an activated irq has a pair (or is pending in the open window); a pair, once
// composed, is the same for the irq's whole life; `target` is what the host was last told.
// Freeing an irq that holds a pair issues RELEASE (`hypercallRelease`, once per entry: the irqs
// of one MSI block share entry 0's pair), so the host's IRTE and entry go back at once, not only
// when the function is disabled or unplugged; the device entry is already masked (the MSI layer
// deactivated it before the domain frees).

import { assert } from '../hw/errors.js';
import {
  descOf,
  type IrqDomainOps,
  irqChipSetAffinityParent,
  irqChipWriteMsiMsg,
  irqDomainAllocIrqsParent,
  irqDomainFreeIrqsParent,
  levelOf,
} from './irqdomain.js';
import { apicData, type IrqDesc, type KernelState, type PvIrChipData } from './kernel-state.js';
import type { KernelPlatform, MsiHypercall, MsiPair } from './platform.js';
import { fail, type Hwirq, type IrqResult, OK } from './types.js';
import { vectorCleanupIpi, vectorScheduleCleanup } from './x86-vector.js';

function pvData(d: IrqDesc, level: number): PvIrChipData {
  const chip = d.data[level].chip;
  assert(chip.kind === 'pv-ir', `irq ${d.irq}: level ${level} is not a PV-IR level`);
  return chip.pv;
}

/** The PV-IR level of `d`, or -1 when its hierarchy has none. */
const pvLevelOf = (k: KernelState, d: IrqDesc): number =>
  d.data.findIndex((l) => k.domains[l.domain].kind === 'pv-ir');

/** Does `d` sit on a PV-IR domain? (Its MSI domain then has no reservation mode.) */
export const pvIrUnder = (k: KernelState, d: IrqDesc): boolean => pvLevelOf(k, d) >= 0;

/** Is `d` waiting for the open batch window's call? (Its message is not written yet.) */
export function pvIrPending(k: KernelState, d: IrqDesc): boolean {
  const level = pvLevelOf(k, d);
  return level >= 0 && pvData(d, level).pending;
}

function requestOf(d: IrqDesc): MsiHypercall {
  const cfg = apicData(d).hwIrqCfg;
  return {
    bdf: d.msi?.dev ?? '',
    index: d.msi?.index ?? 0,
    vector: cfg.vector,
    destApicId: cfg.destApicId,
  };
}

const sameTarget = (pv: PvIrChipData, req: MsiHypercall) =>
  pv.target !== null && pv.target.vector === req.vector && pv.target.destApicId === req.destApicId;

function hypercall(
  k: KernelState,
  p: KernelPlatform,
  d: IrqDesc,
  pv: PvIrChipData,
  call: 'compose' | 'retarget',
) {
  const req = requestOf(d);
  assert(p.hypercallComposeMsi !== undefined, 'guest-hypercall platform without the hypercall');
  const msg = p.hypercallComposeMsi(req);
  k.accessLog.push({
    kind: 'hypercall',
    op: k.currentOp,
    call: call === 'compose' ? 'msi-compose' : 'msi-retarget',
    bdf: req.bdf,
    args: [req.index, req.vector, req.destApicId],
    result: [msg.addrLo, msg.addrHi, msg.data],
  });
  pv.msg = msg;
  pv.target = { vector: req.vector, destApicId: req.destApicId };
  return msg;
}

/** RELEASE of the host entry behind (`bdf`, `index`), recorded like the other hypercalls. */
function releaseCall(k: KernelState, p: KernelPlatform, req: MsiHypercall): void {
  if (p.hypercallRelease === undefined) return;
  p.hypercallRelease({ bdf: req.bdf, index: req.index });
  k.accessLog.push({
    kind: 'hypercall',
    op: k.currentOp,
    call: 'msi-release',
    bdf: req.bdf,
    args: [req.index],
    result: [],
  });
}

/** Aims the host's entry at the irq's current target if that changed (one retarget call). */
function retargetIfMoved(k: KernelState, p: KernelPlatform, d: IrqDesc, pv: PvIrChipData) {
  if (pv.msg !== null && !pv.pending && !sameTarget(pv, requestOf(d))) {
    hypercall(k, p, d, pv, 'retarget');
  }
}

/** One batch hypercall for `irqs` (all pending): records it, keeps each pair, writes it. */
function batchCall(k: KernelState, p: KernelPlatform, irqs: readonly number[]): void {
  const batch = p.hypercallBatch;
  assert(batch !== undefined, 'pv batch window without a batch hypercall');
  const descs = irqs.map((irq) => descOf(k, irq));
  const reqs = descs.map(requestOf);
  const pairs = batch.composeMsi(reqs);
  assert(pairs.length === reqs.length, `pv batch: ${pairs.length} pairs for ${reqs.length}`);
  k.accessLog.push({
    kind: 'hypercall',
    op: k.currentOp,
    call: 'msi-compose-batch',
    bdf: reqs[0].bdf,
    args: reqs.flatMap((r) => [r.index, r.vector, r.destApicId]),
    result: pairs.flatMap((m: MsiPair) => [m.addrLo, m.addrHi, m.data]),
  });
  descs.forEach((d, i) => {
    const pv = pvData(d, pvLevelOf(k, d));
    pv.msg = pairs[i];
    pv.target = { vector: reqs[i].vector, destApicId: reqs[i].destApicId };
    pv.pending = false;
    irqChipWriteMsiMsg(k, p, d, pairs[i]);
  });
}

/** Runs one PCI/MSI allocation (`body`) as a batch window when the platform batches: the
 *  irqs it activates get their pairs from ceil(n / max) batch hypercalls at the end. A failed
 *  body has freed its irqs; nothing is called for them. */
export function pvIrBatched(k: KernelState, p: KernelPlatform, body: () => IrqResult): IrqResult {
  if (p.hypercallBatch === undefined || k.pvBatch !== undefined) return body();
  k.pvBatch = [];
  let r: IrqResult;
  try {
    r = body();
  } finally {
    const queued = k.pvBatch;
    k.pvBatch = undefined;
    const live = queued.filter((irq) => k.descs[irq] !== undefined && pvIrPending(k, k.descs[irq]));
    const { max } = p.hypercallBatch;
    for (let i = 0; i < live.length; i += max) batchCall(k, p, live.slice(i, i + max));
  }
  return r;
}

export const pvIrOps: IrqDomainOps = {
  alloc(k, p, dom, virq, nrIrqs, info) {
    const parent = irqDomainAllocIrqsParent(k, p, dom, virq, nrIrqs, info);
    if (!parent.ok) return parent;
    for (let i = 0; i < nrIrqs; i++) {
      const d = descOf(k, virq + i);
      const level = levelOf(d, dom.id);
      d.data[level].chip = { kind: 'pv-ir', pv: { msg: null, target: null, pending: false } };
      d.data[level].hwirq = (virq + i) as Hwirq;
      d.state.movePcntxt = true;
    }
    return OK;
  },
  free(k, p, dom, virq, nrIrqs) {
    const released = new Set<string>();
    for (let i = 0; i < nrIrqs; i++) {
      const d = descOf(k, virq + i);
      const level = levelOf(d, dom.id);
      const pv = d.data[level].chip.kind === 'pv-ir' ? pvData(d, level) : null;
      const req = requestOf(d);
      const key = `${req.bdf}#${req.index}`;
      if (pv?.msg && !released.has(key)) {
        released.add(key);
        releaseCall(k, p, req);
      }
      d.data[level].chip = { kind: 'msi' };
    }
    irqDomainFreeIrqsParent(k, p, dom, virq, nrIrqs);
  },
  activate(k, p, d, level) {
    if (p.hypercallComposeMsi === undefined && p.hypercallBatch === undefined) {
      return fail('ENODEV', 'guest-hypercall platform: the hypervisor offers no MSI hypercall');
    }
    const pv = pvData(d, level);
    if (pv.msg === null && k.pvBatch !== undefined) {
      pv.pending = true;
      k.pvBatch.push(d.irq);
    } else if (pv.msg === null) {
      hypercall(k, p, d, pv, 'compose');
    } else {
      retargetIfMoved(k, p, d, pv);
    }
    return OK;
  },
  deactivate(_k, _p, d, level) {
    // The pair stays: it names the host's entry for (device, index) until the irq is freed.
    pvData(d, level).pending = false;
  },
  composeMsiMsg(k, p, d, level) {
    const pv = pvData(d, level);
    if (pv.msg === null) return hypercall(k, p, d, pv, 'compose');
    return pv.msg;
  },
  setAffinity(k, p, d, level, mask, force) {
    const r = irqChipSetAffinityParent(k, p, d, level, mask, force);
    if (!r.ok || r.done) return r;
    retargetIfMoved(k, p, d, pvData(d, level));
    vectorScheduleCleanup(k, p, d);
    vectorCleanupIpi(k, p, d);
    return { ok: true, done: true };
  },
};
