// Driver-facing irq management and the flow handlers (kernel/irq/manage.c, chip.c, migration.c,
// resend.c): request_irq/free_irq, enable_irq/disable_irq, irq_set_affinity and its hint, and
// the handling of an interrupt that arrives on a CPU's vector.
//  - request_irq activates the irq (in reservation mode that assigns its real vector), then
//    starts it up: the affinity is applied first (IRQCHIP_AFFINITY_PRE_STARTUP, which both the
//    x86 MSI and IOAPIC chips set), then the irq is unmasked. A failure leaves nothing behind.
//  - disable_irq is lazy: only the state changes; the device is masked when an interrupt comes
//    in while disabled (handle_edge_irq marks it pending), and enable_irq unmasks and resends.
//  - an affinity change applies at once for remapped irqs (IRQ_MOVE_PCNTXT) and otherwise is
//    deferred to the next interrupt, handled on the old target CPU (GENERIC_PENDING_IRQ), which
//    is where x86's two-step MSI update must run.
// Invariants: a requested irq is activated and started unless managed-shutdown; `depth` counts
// disables; kstat counts only interrupts that ran their actions.
// Not modelled: threaded handlers, IRQF_ONESHOT, spurious detection (note_interrupt), wakeup.

import { assert } from '../hw/errors.js';
import {
  type AffinityResult,
  descOf,
  irqDomainActivateIrq,
  irqDomainDeactivateIrq,
  opsAt,
} from './irqdomain.js';
import type { IrqDesc, KernelState } from './kernel-state.js';
import { apicData } from './kernel-state.js';
import { type KernelPlatform, withOp } from './platform.js';
import {
  type CpuId,
  type CpuMask,
  cpumaskAnd,
  fail,
  formatCpuList,
  type IrqResult,
  OK,
  type Vector,
} from './types.js';
import {
  apicRetriggerIrq,
  irqCompleteMove,
  VECTOR_RETRIGGERED,
  VECTOR_SHUTDOWN,
  VECTOR_UNUSED,
  vectorCleanupIpi,
} from './x86-vector.js';

function maskIrq(k: KernelState, p: KernelPlatform, d: IrqDesc): void {
  if (d.state.masked) return;
  opsAt(k, d, 0).mask?.(k, p, d, 0);
  d.state.masked = true;
}

function unmaskIrq(k: KernelState, p: KernelPlatform, d: IrqDesc): void {
  if (!d.state.masked) return;
  opsAt(k, d, 0).unmask?.(k, p, d, 0);
  d.state.masked = false;
}

/** `irq_do_set_affinity`: the top chip's set_affinity; the mask is kept on success. */
export function irqDoSetAffinity(
  k: KernelState,
  p: KernelPlatform,
  d: IrqDesc,
  mask: CpuMask,
  force: boolean,
): AffinityResult {
  const set = opsAt(k, d, 0).setAffinity;
  if (!set) return fail('EINVAL', `irq ${d.irq}: its chip cannot set affinity`);
  const r = set(k, p, d, 0, mask, force);
  if (r.ok) d.affinity = mask;
  return r;
}

/** `irq_setup_affinity`: a managed or user-set affinity if it has an online CPU, else the
 *  default affinity, restricted to the online CPUs. */
function irqSetupAffinity(k: KernelState, p: KernelPlatform, d: IrqDesc): AffinityResult {
  let set = k.defaultAffinity;
  if (d.state.managed || d.state.affinitySet) {
    if (cpumaskAnd(d.affinity, k.online).length > 0) set = d.affinity;
    else d.state.affinitySet = false;
  }
  let mask = cpumaskAnd(k.online, set);
  if (mask.length === 0) mask = k.online;
  return irqDoSetAffinity(k, p, d, mask, false);
}

/** `irq_enable`. */
function irqEnable(k: KernelState, p: KernelPlatform, d: IrqDesc): void {
  d.state.disabled = false;
  unmaskIrq(k, p, d);
}

/** `__irq_startup`. */
function irqStartupInner(k: KernelState, p: KernelPlatform, d: IrqDesc): void {
  assert(d.state.activated, `irq ${d.irq} started up without being activated`);
  irqEnable(k, p, d);
  d.state.started = true;
}

/** `check_irq_resend`: an interrupt that came in while disabled is sent again. */
function checkIrqResend(k: KernelState, p: KernelPlatform, d: IrqDesc): void {
  if (!d.state.pending) return;
  d.state.pending = false;
  apicRetriggerIrq(k, p, d);
}

/** `irq_startup`. Returns false if a managed irq stays shut down (no online CPU in its mask). */
function irqStartup(k: KernelState, p: KernelPlatform, d: IrqDesc, resend: boolean): IrqResult {
  d.depth = 0;
  if (d.state.started) {
    irqEnable(k, p, d);
  } else if (d.state.managed) {
    d.state.managedShutdown = false;
    if (cpumaskAnd(d.affinity, k.online).length === 0) {
      d.state.managedShutdown = true;
      return OK;
    }
    const a = irqDomainActivateIrq(k, p, d, false);
    if (!a.ok) return a;
    const r = irqDoSetAffinity(k, p, d, d.affinity, false);
    if (!r.ok) return r;
    irqStartupInner(k, p, d);
  } else {
    if (!d.state.noBalancing) {
      const r = irqSetupAffinity(k, p, d);
      if (!r.ok) return r;
    }
    irqStartupInner(k, p, d);
  }
  if (resend) checkIrqResend(k, p, d);
  return OK;
}

/** `irq_shutdown` + `irq_domain_deactivate_irq` (the last action went away). */
function irqShutdownAndDeactivate(k: KernelState, p: KernelPlatform, d: IrqDesc): void {
  if (d.state.started) {
    d.depth = 1;
    d.state.disabled = true;
    maskIrq(k, p, d);
    d.state.started = false;
  }
  d.state.pending = false;
  irqDomainDeactivateIrq(k, p, d);
}

export interface RequestIrqOptions {
  /** dev_id: free_irq finds the action by it (defaults to the name). */
  readonly devId?: string;
  /** IRQF_SHARED. */
  readonly shared?: boolean;
  /** IRQF_NO_AUTOEN: requested disabled; enable_irq starts it. */
  readonly noAutoEnable?: boolean;
  /** IRQF_NOBALANCING (the timer): the affinity is left as it is at startup. */
  readonly noBalancing?: boolean;
}

/** `request_irq`: installs the action; the first one activates and starts the irq up. */
export function requestIrq(
  k: KernelState,
  p: KernelPlatform,
  irq: number,
  name: string,
  opts: RequestIrqOptions = {},
): IrqResult {
  return withOp(k, `request_irq(${irq}, "${name}")`, () => {
    const d = k.descs[irq];
    if (d === undefined) return fail('EINVAL', `request_irq: irq ${irq} does not exist`);
    const action = { name, devId: opts.devId ?? name, shared: opts.shared ?? false };
    if (d.actions.length > 0) {
      if (!action.shared || !d.actions.every((a) => a.shared)) {
        return fail('EBUSY', `irq ${irq} is already requested by ${d.actions[0].name}`);
      }
      d.actions.push(action);
      return OK;
    }
    d.state.noBalancing = opts.noBalancing ?? false;
    const activated = irqDomainActivateIrq(k, p, d, false);
    if (!activated.ok) return activated;
    if (opts.noAutoEnable) {
      d.depth = 1;
    } else {
      const started = irqStartup(k, p, d, true);
      if (!started.ok) {
        irqShutdownAndDeactivate(k, p, d);
        return started;
      }
    }
    d.actions.push(action);
    d.procDir = true;
    return OK;
  });
}

/** `free_irq`: removes the action; the last one shuts the irq down and deactivates it (in
 *  reservation mode its vector goes back to a reservation). */
export function freeIrq(k: KernelState, p: KernelPlatform, irq: number, devId: string): IrqResult {
  return withOp(k, `free_irq(${irq})`, () => {
    const d = k.descs[irq];
    if (d === undefined) return fail('EINVAL', `free_irq: irq ${irq} does not exist`);
    const i = d.actions.findIndex((a) => a.devId === devId);
    if (i < 0) return fail('ENOENT', `free_irq: irq ${irq} has no action for ${devId}`);
    d.actions.splice(i, 1);
    if (d.actions.length === 0) irqShutdownAndDeactivate(k, p, d);
    return OK;
  });
}

/** `disable_irq` (lazy: the device is not touched now). */
export function disableIrq(k: KernelState, _p: KernelPlatform, irq: number): IrqResult {
  const d = k.descs[irq];
  if (d === undefined) return fail('EINVAL', `disable_irq: irq ${irq} does not exist`);
  if (d.depth++ === 0) d.state.disabled = true;
  return OK;
}

/** `enable_irq`: the last enable unmasks and resends what came in while disabled. */
export function enableIrq(k: KernelState, p: KernelPlatform, irq: number): IrqResult {
  return withOp(k, `enable_irq(${irq})`, () => {
    const d = k.descs[irq];
    if (d === undefined) return fail('EINVAL', `enable_irq: irq ${irq} does not exist`);
    if (d.depth === 0) return fail('EINVAL', `Unbalanced enable for IRQ ${irq}`);
    if (d.depth > 1) {
      d.depth--;
      return OK;
    }
    return irqStartup(k, p, d, true);
  });
}

/** `irq_set_affinity` (the kernel's API; a /proc write goes through `writeIrqAffinity`, which
 *  refuses managed irqs first, with EIO): deferred to the next interrupt when the irq cannot
 *  move in process context or a deferred move is already waiting (`irq_set_affinity_locked`).
 *  A managed irq is refused here too, where Linux would go on: its managed vector reservations
 *  are made on its mask and given back on it, which no driver changes and the model keeps so. */
export function irqSetAffinity(
  k: KernelState,
  p: KernelPlatform,
  irq: number,
  mask: CpuMask,
): IrqResult {
  return withOp(k, `irq_set_affinity(${irq}, ${formatCpuList(mask)})`, () => {
    const d = k.descs[irq];
    if (d === undefined) return fail('EINVAL', `irq ${irq} does not exist`);
    if (d.state.managed) return fail('EINVAL', `irq ${irq} is managed: its affinity is fixed`);
    if (cpumaskAnd(mask, k.online).length === 0) {
      return fail('EINVAL', `irq ${irq}: no online CPU in ${formatCpuList(mask)}`);
    }
    d.state.affinitySet = true;
    if (d.state.movePcntxt && !d.state.movePending) {
      const r = irqDoSetAffinity(k, p, d, mask, false);
      return r.ok ? OK : r;
    }
    d.state.movePending = true;
    d.pendingMask = mask;
    return OK;
  });
}

/** `irq_set_affinity_and_hint` (virtio_pci, mlx5): the hint /proc shows, and the affinity. */
export function irqSetAffinityAndHint(
  k: KernelState,
  p: KernelPlatform,
  irq: number,
  mask: CpuMask | null,
): IrqResult {
  const d = k.descs[irq];
  if (d === undefined) return fail('EINVAL', `irq ${irq} does not exist`);
  d.affinityHint = mask;
  return mask === null ? OK : irqSetAffinity(k, p, irq, mask);
}

/** `irq_move_irq` from the ack: a deferred affinity change, with the irq masked around it
 *  (`irq_move_masked_irq`). EBUSY, a cleanup of the previous move still pending, keeps the move
 *  and its mask for the next interrupt. */
function irqMoveIrq(k: KernelState, p: KernelPlatform, d: IrqDesc): void {
  if (!d.state.movePending || d.state.disabled) return;
  d.state.movePending = false;
  const mask = d.pendingMask;
  const masked = d.state.masked;
  if (cpumaskAnd(mask, k.online).length > 0) {
    if (!masked) opsAt(k, d, 0).mask?.(k, p, d, 0);
    const r = irqDoSetAffinity(k, p, d, mask, false);
    if (!masked) opsAt(k, d, 0).unmask?.(k, p, d, 0);
    if (!r.ok && r.errno === 'EBUSY') {
      d.state.movePending = true;
      return;
    }
    if (!r.ok) {
      k.events.push({ op: k.currentOp, text: `irq ${d.irq}: deferred move failed: ${r.reason}` });
    }
  }
  d.pendingMask = [];
}

export type HandleOutcome =
  | { kind: 'handled'; irq: number; actions: string[] }
  | { kind: 'masked-pending'; irq: number }
  | { kind: 'spurious'; vector: Vector; reason: 'unused' | 'shutdown' | 'retriggered' };

/** An interrupt with `vector` taken on `cpu`: `common_interrupt` -> the irq's flow handler
 *  (handle_edge_irq for MSI, handle_fasteoi_irq for level IOAPIC pins). */
export function handleVector(
  k: KernelState,
  p: KernelPlatform,
  cpu: CpuId,
  vector: Vector,
): HandleOutcome {
  return withOp(k, `irq on CPU${cpu} vector 0x${vector.toString(16)}`, () => {
    const irq = k.vectorIrq[cpu]?.[vector] ?? VECTOR_UNUSED;
    if (irq < 0) {
      if (irq === VECTOR_RETRIGGERED) k.vectorIrq[cpu][vector] = VECTOR_UNUSED;
      const reason =
        irq === VECTOR_RETRIGGERED
          ? 'retriggered'
          : irq === VECTOR_SHUTDOWN
            ? 'shutdown'
            : 'unused';
      if (reason === 'unused') {
        k.events.push({
          op: k.currentOp,
          text: `No irq handler for vector ${vector} on CPU ${cpu}`,
        });
      }
      return { kind: 'spurious', vector, reason };
    }
    const d = descOf(k, irq);
    if (d.state.disabled || d.actions.length === 0) {
      d.state.pending = true;
      maskIrq(k, p, d);
      irqCompleteMove(k, p, d, cpu, vector);
      vectorCleanupIpi(k, p, d);
      return { kind: 'masked-pending', irq };
    }
    d.kstat[cpu]++;
    // The ack: irq_complete_move, then a deferred affinity change, then EOI.
    irqCompleteMove(k, p, d, cpu, vector);
    irqMoveIrq(k, p, d);
    // The interrupt's exit: the cleanup its ack scheduled (or one waiting for this vector to
    // leave the IRR) runs on the old CPU.
    vectorCleanupIpi(k, p, d);
    return { kind: 'handled', irq, actions: d.actions.map((a) => a.name) };
  });
}

/** Where an irq's interrupts go now: the CPU and vector of its vector level. */
export function irqTarget(k: KernelState, irq: number): { cpu: CpuId; vector: Vector } | null {
  const d = descOf(k, irq);
  const apicd = apicData(d);
  return apicd.vector === 0 ? null : { cpu: apicd.cpu, vector: apicd.vector };
}
