// The whole-system model, action by action, against what the specs and KVM say must happen:
// VT-d 5.2.3 posting (PIR, ON, notification only on ON 0 -> 1, SN suppresses), SDM posted-
// interrupt processing (no VM exit in guest mode), KVM's wake-up vector for a blocked vCPU, the
// remapped path's EXTERNAL_INTERRUPT exit, PCIe MSI-X per-vector masking (pending bit, sent once
// on unmask), VT-d fault reasons 21h/22h/25h/26h, the interrupt entry cache (VT-d 6.2: a changed
// IRTE is not seen until invalidated), and the model contract (in place, canonical encoding).
import { describe, expect, it } from 'vitest';
import { IRTE_REMAPPED } from '../../src/hw/vtd/irte.js';
import { composeCompatMsi } from '../../src/hw/x86/msi-message.js';
import { kvmRetarget } from '../../src/machine/kvm-irq-bypass.js';
import {
  systemEnabled,
  systemModel,
  systemProperties,
  vectorOutcomes,
} from '../../src/machine/system.js';
import { ACTION, affinityTarget, type SystemAction } from '../../src/machine/system-actions.js';
import { IR_FAULT, vectorCounter } from '../../src/machine/system-delivery.js';
import type { EventLog } from '../../src/machine/system-events.js';
import { createEventLog, EXIT_REASON, eventsOf } from '../../src/machine/system-events.js';
import {
  cloneSystemState,
  POSTED_INTR_VECTOR,
  POSTED_INTR_WAKEUP_VECTOR,
  type SystemState,
  VCPU_STATE,
  vcpuState,
} from '../../src/machine/system-state.js';
import { VECTOR_COUNTERS } from '../../src/machine/system-topology.js';
import type { Model } from '../../src/sim/model.js';
import { kinds, stepper, system } from './system-helpers.js';

const irteAt = (s: ReturnType<typeof system>, index: number) => s.topology.layout.irt + index * 4;

describe('posted delivery (VT-d 5.2.3, SDM posted-interrupt processing)', () => {
  it('reaches a running vCPU with no VM exit', () => {
    const s = system({});
    const x = stepper(s);
    const v = s.topology.vectors[0];
    expect(kinds(x.raise())).toEqual(['raise', 'msiSent']);
    const post = x.step(ACTION.deliver, 0);
    expect(kinds(post)).toEqual(['posted', 'piNotify', 'upstream']);
    expect(kinds(x.step(ACTION.apicDeliver))).toEqual(['hostIrrSet']);
    expect(post[1].args.slice(0, 2)).toEqual([s.topology.initialPcpu[0], POSTED_INTR_VECTOR]);
    const notify = x.step(ACTION.pcpuInterrupt, s.topology.initialPcpu[0]);
    expect(kinds(notify)).toEqual(['piProcessed']);
    const handled = x.step(ACTION.guestHandle, 0);
    expect(handled[0].args.slice(0, 3)).toEqual([0, v.guestVector, 0]);
    expect(vectorOutcomes(s, 0)).toMatchObject({ raised: 1, delivered: 1, coalesced: 0, lost: 0 });
  });
  it('notifies only when ON goes from 0 to 1; a second post merges in PIR when pending', () => {
    const s = system({});
    const x = stepper(s);
    x.raise();
    x.raise();
    expect(kinds(x.step(ACTION.deliver, 0))).toEqual(['posted', 'piNotify', 'upstream']);
    x.step(ACTION.apicDeliver); // in flight to the LAPIC, now accepted
    const second = x.step(ACTION.deliver, 0);
    x.step(ACTION.apicDeliver);
    expect(kinds(second)).toEqual(['coalesced']);
    expect(vectorOutcomes(s, 0).coalesced).toBe(1);
  });
  it('sends no notification while SN is set (a preempted vCPU) and syncs at entry', () => {
    const s = system({});
    const x = stepper(s);
    // The reschedule IPI exits the vCPU; KVM's preemption: vmx_vcpu_pi_put (SN := 1), then
    // vmx_vcpu_pi_load on the new pCPU.
    expect(kinds(x.step(ACTION.vcpuMigrate, 0, 3))).toEqual([
      'vcpuMigrate',
      'vmExit',
      'threadReady',
    ]);
    x.step(ACTION.threadStep, 0);
    x.raise();
    expect(kinds(x.step(ACTION.deliver, 0))).toEqual(['posted']);
    expect(kinds(x.step(ACTION.threadStep, 0))).toEqual(['vcpuLoad', 'programStep']);
    const entry = x.step(ACTION.vcpuEnter, 0);
    expect(kinds(entry)).toEqual(['vmEntry', 'pirSynced']);
    expect(entry[0].args[1]).toBe(3);
    expect(kinds(x.step(ACTION.guestHandle, 0))).toEqual(['guestIrq']);
  });
  it('wakes a halted vCPU through the wake-up vector', () => {
    const s = system({ idle: 'halt' });
    const x = stepper(s);
    const halt = x.step(ACTION.vcpuHalt, 0);
    expect(kinds(halt)).toEqual(['vmExit', 'threadReady']);
    expect(halt[0].args[1]).toBe(EXIT_REASON.hlt);
    expect(kinds(x.step(ACTION.threadStep, 0))).toEqual(['programStep', 'threadReady']);
    expect(kinds(x.step(ACTION.threadStep, 0))).toEqual(['vcpuBlock', 'programStep']);
    x.raise();
    const post = x.step(ACTION.deliver, 0);
    x.step(ACTION.apicDeliver);
    expect(post[1].args[1]).toBe(POSTED_INTR_WAKEUP_VECTOR);
    const wake = x.step(ACTION.pcpuInterrupt, s.topology.initialPcpu[0]);
    expect(kinds(wake)).toEqual(['hostIrq', 'vcpuWake', 'threadReady']);
    expect(vcpuState(s, 0)).toBe(VCPU_STATE.runnable);
    expect(kinds(x.step(ACTION.threadStep, 0))).toEqual(['vcpuLoad', 'programStep']);
    expect(vcpuState(s, 0)).toBe(VCPU_STATE.inHost);
    x.step(ACTION.vcpuEnter, 0);
    expect(kinds(x.step(ACTION.guestHandle, 0))).toEqual(['guestIrq']);
  });
});

describe('remapped delivery (no posted interrupts)', () => {
  it('exits the vCPU on its pCPU (EXTERNAL_INTERRUPT), injects through KVM, delivers at entry', () => {
    const s = system({ posted: false });
    const x = stepper(s);
    const v = s.topology.vectors[0];
    x.raise();
    expect(kinds(x.step(ACTION.deliver, 0))).toEqual(['upstream']);
    x.step(ACTION.apicDeliver); // in flight to the LAPIC, now accepted
    const irq = x.step(ACTION.pcpuInterrupt, v.hostCpu);
    expect(kinds(irq).slice(0, 4)).toEqual(['vmExit', 'hostIrq', 'kvmMsiSetIrq', 'posted']);
    expect(irq[0].args.slice(1, 4)).toEqual([
      EXIT_REASON.externalInterrupt,
      v.hostCpu,
      v.hostVector,
    ]);
    expect(kinds(x.step(ACTION.vcpuEnter, 0))).toEqual(['vmEntry', 'pirSynced']);
    expect(kinds(x.step(ACTION.guestHandle, 0))).toEqual(['guestIrq']);
  });
  it('without APICv, the guest EOI exits too (two exits per interrupt, perf-anchors D3)', () => {
    const s = system({ posted: false, apicv: false });
    const x = stepper(s);
    x.raise();
    x.step(ACTION.deliver, 0);
    x.step(ACTION.apicDeliver);
    x.step(ACTION.pcpuInterrupt, s.topology.vectors[0].hostCpu);
    x.step(ACTION.vcpuEnter, 0);
    expect(kinds(x.step(ACTION.guestHandle, 0))).toEqual(['guestIrq']);
    const eoi = x.step(ACTION.guestEoi, 0);
    expect(kinds(eoi)).toEqual(['vmExit']);
    expect(eoi[0].args[1]).toBe(EXIT_REASON.msrWrite);
  });
  it('without IR, the device sends a compatibility-format pair straight to the APIC', () => {
    const s = system({ ir: false });
    const x = stepper(s);
    x.raise();
    expect(kinds(x.step(ACTION.deliver, 0))).toEqual(['upstream']);
    x.step(ACTION.apicDeliver); // in flight to the LAPIC, now accepted
  });
});

describe('MSI-X per-vector masking (PCIe "Per-vector Masking and Function Masking")', () => {
  it('a raise on a masked entry sets its pending bit and sends nothing; unmask sends it once', () => {
    const s = system({ strategy: 'pv' }); // the guest writes the device's own entry
    const x = stepper(s);
    const driverOp = (kind: typeof ACTION.mask | typeof ACTION.unmask) =>
      kinds(x.guestOp(kind, 0)).filter((k) => k !== 'threadReady' && k !== 'programStep');
    expect(driverOp(ACTION.mask)).toEqual(['maskChanged']); // the write, then the flush read
    expect(kinds(x.raise())).toEqual(['raise', 'pendingSet']);
    expect(kinds(x.raise())).toEqual(['raise', 'coalesced']);
    expect(driverOp(ACTION.unmask)).toEqual(['maskChanged', 'msiSent']);
    expect(driverOp(ACTION.unmask)).toEqual(['maskChanged']);
  });
  it('IMS entries behave the same (IMS store, pending bit in device state)', () => {
    const s = system({ backing: 'ims', strategy: 'pv' });
    const x = stepper(s);
    x.guestOp(ACTION.mask, 0);
    expect(kinds(x.raise())).toEqual(['raise', 'pendingSet']);
    const unmask = kinds(x.guestOp(ACTION.unmask, 0));
    expect(unmask.filter((k) => k === 'maskChanged' || k === 'msiSent')).toEqual([
      'maskChanged',
      'msiSent',
    ]);
  });
});

describe('VT-d faults', () => {
  const faultOf = (events: { kind: string; args: readonly number[] }[]) =>
    events.find((e) => e.kind === 'irFault')?.args[1];
  it('22h: the IRTE is not present', () => {
    const s = system({});
    const x = stepper(s);
    IRTE_REMAPPED.accessors.present.set(s.words, 0, irteAt(s, s.topology.vectors[0].irte));
    x.raise();
    expect(faultOf(x.step(ACTION.deliver, 0))).toBe(IR_FAULT.entryNotPresent);
    expect(vectorCounter(s, 0, VECTOR_COUNTERS.lost)).toBe(1);
    expect(systemProperties.find((p) => p.name === 'never-lost')?.holds(s)).toBe(false);
  });
  it('25h: a compatibility-format message is blocked once remapping is on', () => {
    const s = system({});
    const x = stepper(s);
    const st = s.topology.stores[s.topology.vectors[0].store];
    const msg = composeCompatMsi({
      destinationId: 0,
      extendedDestinationId: 0,
      destinationMode: 0,
      redirectionHint: 0,
      dontCare: 0,
      vector: 0x30,
      deliveryMode: 0,
      level: 0,
      triggerMode: 0,
    });
    s.words[st.entriesAt] = msg.addrLo;
    s.words[st.entriesAt + 2] = msg.data;
    x.raise();
    expect(faultOf(x.step(ACTION.deliver, 0))).toBe(IR_FAULT.compatBlocked);
  });
  it('26h: an IRTE whose SID names another requester', () => {
    const s = system({});
    const x = stepper(s);
    IRTE_REMAPPED.accessors.sourceId.set(s.words, 0x0200, irteAt(s, s.topology.vectors[0].irte));
    x.raise();
    expect(faultOf(x.step(ACTION.deliver, 0))).toBe(IR_FAULT.sourceIdInvalid);
  });
  it('21h: a handle beyond the table', () => {
    const s = system({});
    const x = stepper(s);
    const st = s.topology.stores[s.topology.vectors[0].store];
    s.words[st.entriesAt + 2] = 0x1000; // subhandle: SHV is set, index = handle + 0x1000
    x.raise();
    expect(faultOf(x.step(ACTION.deliver, 0))).toBe(IR_FAULT.indexOverflow);
  });
});

describe('interrupt entry cache (VT-d 6.2)', () => {
  it('keeps routing through the cached IRTE until the invalidation completes', () => {
    const s = system({ backing: 'msi' });
    const x = stepper(s);
    x.raise();
    x.step(ACTION.deliver, 0); // fills the cache for the vector's IRTE
    x.step(ACTION.apicDeliver);
    x.step(ACTION.pcpuInterrupt, s.topology.initialPcpu[0]);
    x.step(ACTION.guestHandle, 0);
    // the guest kernel moved it to vcpu1, vector 0x41: the IRTE is rewritten for them
    // (KVM's irq bypass: modify_irte, then qi_flush_iec queues the invalidation)
    const log = createEventLog();
    kvmRetarget(s, log, 0, 1, 0x41);
    expect(eventsOf(log, 0).map((e) => e.kind)).toEqual(['irteUpdate', 'qiSubmit']);
    x.raise();
    expect(x.step(ACTION.deliver, 0)[0].args[0]).toBe(0); // stale: still posted to vcpu0
    x.step(ACTION.apicDeliver);
    expect(systemEnabled(s).some((a) => a.kind === ACTION.qiProcess)).toBe(true);
    // the unit takes the IEC descriptor, then the wait (nothing in flight to drain)
    expect(kinds(x.step(ACTION.qiProcess))).toEqual(['iecInvalidate']);
    expect(kinds(x.step(ACTION.qiProcess))).toEqual(['qiWaitDone']);
    x.raise();
    expect(x.step(ACTION.deliver, 0)[0].args[0]).toBe(1); // now vcpu1
  });
  it('may evict a cached IRTE at any time; the next lookup reads the table (the new IRTE)', () => {
    // VT-d leaves replacement to the implementation: an eviction is an action of its own, which
    // ends a stale entry's life early, never late.
    const s = system({ backing: 'msi' });
    const x = stepper(s);
    const irte = s.topology.vectors[0].irte;
    const evictable = () =>
      systemEnabled(s).some((a) => a.kind === ACTION.iecEvict && a.a === irte);
    expect(evictable()).toBe(false);
    x.raise();
    x.step(ACTION.deliver, 0);
    x.step(ACTION.apicDeliver);
    expect(evictable()).toBe(true);
    kvmRetarget(s, createEventLog(), 0, 1, 0x41); // the IRTE rewritten, its invalidation queued
    expect(kinds(x.step(ACTION.iecEvict, irte))).toEqual(['iecEvict']);
    expect(evictable()).toBe(false);
    x.raise();
    expect(x.step(ACTION.deliver, 0)[0].args[0]).toBe(1); // the table's entry: vcpu1
  });
  it('delivers the interrupt that raced the move to the old vector (irq_complete_move)', () => {
    const s = system({});
    const x = stepper(s);
    x.raise();
    x.step(ACTION.deliver, 0);
    x.step(ACTION.apicDeliver);
    // the notification is taken before the guest's next instruction: in vCPU 0's vIRR
    x.step(ACTION.pcpuInterrupt, s.topology.initialPcpu[0]);
    x.guestOp(ACTION.setAffinity, 0, affinityTarget(1, 0x41));
    const handled = x.step(ACTION.guestHandle, 0);
    expect(handled[0].args[2]).toBe(0); // found its owner on the old vCPU
    expect(vectorOutcomes(s, 0).delivered).toBe(1);
  });
});

describe('the model contract', () => {
  it('lists enabled actions in a fixed order, and the same for equal states', () => {
    const s = system({ vectors: 2 });
    const x = stepper(s);
    x.raise(0);
    x.raise(1);
    const a = systemEnabled(s);
    const b = systemEnabled(cloneSystemState(s));
    expect(b).toEqual(a);
    const order = a.map((e) => e.kind);
    expect([...order].sort((p, q) => p - q)).toEqual(order);
  });
  it('steps in place; a clone is independent; the encoding round-trips', () => {
    const s = system({});
    const model = systemModel(s);
    const saved = model.clone(s);
    const x = stepper(s);
    x.raise();
    expect(model.encode(s)).not.toEqual(model.encode(saved));
    const restored = model.decode(s, model.encode(saved));
    expect(restored.words).toEqual(saved.words);
    expect(restored.topology).toBe(s.topology);
  });
  it('satisfies the Model interface of sim/model.ts (checked by the compiler)', () => {
    const s = system({});
    const model: Model<SystemState, SystemAction, EventLog> = systemModel(s);
    expect(model.enabled(model.init()).length).toBeGreaterThan(0);
    expect(model.describeAction(s, { kind: ACTION.raise, a: 0, b: 0 })).toMatch(/^raise /);
  });
  it('init gives a fresh copy of the programmed state', () => {
    const s = system({});
    const model = systemModel(s);
    const a = model.init();
    stepper(a).raise();
    expect(model.init().words).toEqual(s.words);
  });
});
