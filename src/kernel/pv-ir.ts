// A paravirtual remapping domain for the `guest-hypercall` platform: the guest gets each
// irq's address/data pair from the hypervisor by hypercall instead of composing it, the way
// Hyper-V's vPCI (`hv_compose_msi_msg`, a create-interrupt request per vector) and PowerPC
// pseries (RTAS) do, and the design's `pv` strategy proposes for KVM (DESIGN §1.8). The pair is
// host-valid, so the domain isolates MSI (the host validates it): IMS may sit on it.
// An affinity change is a retarget hypercall (Hyper-V HVCALL_RETARGET_INTERRUPT): the device's
// message does not change, so nothing is written to the device.
// Invariants: an activated irq has the pair the last hypercall returned; a deactivated one none.
// Not modelled: batching (`pv-batch` is the hypervisor's accounting of the same calls).

import { assert } from '../hw/errors.js';
import {
  descOf,
  type IrqDomainOps,
  irqChipSetAffinityParent,
  irqDomainAllocIrqsParent,
  irqDomainFreeIrqsParent,
  levelOf,
} from './irqdomain.js';
import { apicData, type IrqDesc, type KernelState, type PvIrChipData } from './kernel-state.js';
import type { KernelPlatform } from './platform.js';
import { fail, type Hwirq, OK } from './types.js';
import { vectorScheduleCleanup } from './x86-vector.js';

function pvData(d: IrqDesc, level: number): PvIrChipData {
  const chip = d.data[level].chip;
  assert(chip.kind === 'pv-ir', `irq ${d.irq}: level ${level} is not a PV-IR level`);
  return chip.pv;
}

function hypercall(k: KernelState, p: KernelPlatform, d: IrqDesc, call: 'compose' | 'retarget') {
  const cfg = apicData(d).hwIrqCfg;
  const bdf = d.msi?.dev ?? '';
  const index = d.msi?.index ?? 0;
  assert(p.hypercallComposeMsi !== undefined, 'guest-hypercall platform without the hypercall');
  const msg = p.hypercallComposeMsi({ bdf, index, vector: cfg.vector, destApicId: cfg.destApicId });
  k.accessLog.push({
    kind: 'hypercall',
    op: k.currentOp,
    call: call === 'compose' ? 'msi-compose' : 'msi-retarget',
    bdf,
    args: [index, cfg.vector, cfg.destApicId],
    result: [msg.addrLo, msg.addrHi, msg.data],
  });
  return msg;
}

export const pvIrOps: IrqDomainOps = {
  alloc(k, p, dom, virq, nrIrqs, info) {
    const parent = irqDomainAllocIrqsParent(k, p, dom, virq, nrIrqs, info);
    if (!parent.ok) return parent;
    for (let i = 0; i < nrIrqs; i++) {
      const d = descOf(k, virq + i);
      const level = levelOf(d, dom.id);
      d.data[level].chip = { kind: 'pv-ir', pv: { msg: null } };
      d.data[level].hwirq = (virq + i) as Hwirq;
      d.state.movePcntxt = true;
    }
    return OK;
  },
  free(k, p, dom, virq, nrIrqs) {
    for (let i = 0; i < nrIrqs; i++) {
      const d = descOf(k, virq + i);
      d.data[levelOf(d, dom.id)].chip = { kind: 'msi' };
    }
    irqDomainFreeIrqsParent(k, p, dom, virq, nrIrqs);
  },
  activate(k, p, d, level) {
    if (p.hypercallComposeMsi === undefined) {
      return fail('ENODEV', 'guest-hypercall platform: the hypervisor offers no MSI hypercall');
    }
    pvData(d, level).msg = hypercall(k, p, d, 'compose');
    return OK;
  },
  deactivate(_k, _p, d, level) {
    pvData(d, level).msg = null;
  },
  composeMsiMsg(k, p, d, level) {
    const pv = pvData(d, level);
    pv.msg ??= hypercall(k, p, d, 'compose');
    return pv.msg;
  },
  setAffinity(k, p, d, level, mask, force) {
    const r = irqChipSetAffinityParent(k, p, d, level, mask, force);
    if (!r.ok || r.done) return r;
    const pv = pvData(d, level);
    if (pv.msg !== null) hypercall(k, p, d, 'retarget');
    vectorScheduleCleanup(k, d);
    return { ok: true, done: true };
  },
};
