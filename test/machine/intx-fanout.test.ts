// INTx backing: one host line (an IOAPIC pin, through IR) fans out to a subdevice's guest vectors
// through the device's interrupt status register, as a subdevice driver does: the sources latch
// their status bits, the line asserts once while any unmasked bit is set, the host handler reads
// the register, clears what it read (write 1 to clear) and injects each source's guest vector.
// Built through the flows (host kernel: mp_map_gsi_to_irq + request_irq on the IR-IO-APIC).
// The fan-out of several sources is built from a validated one-vector scenario given more sources
// (rule vector-counts allows up to the status register's 32 bits).

import { describe, expect, it } from 'vitest';
import { IOAPIC_REQUESTER_ID } from '../../src/hv/flows.js';
import { IRTE_DWORDS, IRTE_REMAPPED } from '../../src/hw/vtd/irte.js';
import { decodeMsiMessage } from '../../src/hw/x86/msi-message.js';
import { systemEnabled, systemStep } from '../../src/machine/system.js';
import { ACTION } from '../../src/machine/system-actions.js';
import { createEventLog, eventsOf, type SystemEvent } from '../../src/machine/system-events.js';
import type { SystemState } from '../../src/machine/system-state.js';
import { vcpuId } from '../../src/machine/system-topology.js';
import { buildScenario } from '../../src/scenario/build.js';
import { loadScenario } from '../../src/scenario/load.js';
import { subdeviceScenario } from './system-helpers.js';

const TEXT = subdeviceScenario();

function build(sources: number) {
  const s = structuredClone(loadScenario(TEXT, 'intx.yaml'));
  const vm = s.vms[0];
  s.vms[0] = { ...vm, assign: [{ ...vm.assign[0], vectors: sources }] };
  return buildScenario(s);
}

function step(s: SystemState, kind: number, a: number, b = 0): SystemEvent[] {
  const log = createEventLog();
  systemStep(s, { kind: kind as 0, a, b }, log);
  return eventsOf(log);
}

function drain(s: SystemState): SystemEvent[] {
  const out: SystemEvent[] = [];
  for (let n = 0; n < 100; n++) {
    const next = systemEnabled(s).find(
      (a) => a.kind !== ACTION.raise && a.kind !== ACTION.vcpuHalt,
    );
    if (!next) break;
    out.push(...step(s, next.kind, next.a, next.b));
  }
  return out;
}

const of = (events: SystemEvent[], kind: string) => events.filter((e) => e.kind === kind);

describe('INTx backing fans one host line out to the guest vectors', () => {
  it('one host irq, vector and remapped IRTE (never posted) for the line, sourced by the IOAPIC', () => {
    const b = build(3);
    const t = b.initial.topology;
    const st = t.stores[t.vectors[0].store];
    expect(st.kind).toBe('intx');
    expect(new Set(b.flows.bindings.map((x) => x.irq)).size).toBe(1);
    // The pin's message: remappable format naming the line's IRTE (VT-d 5.1.5.1).
    const w = b.initial.words;
    const msg = decodeMsiMessage(w[st.entriesAt], w[st.entriesAt + 1], w[st.entriesAt + 2]);
    expect(msg.format).toBe('remappable');
    const irte = t.vectors[0].irte;
    if (msg.format === 'remappable') expect(msg.handle).toBe(irte);
    const at = t.layout.irt + irte * IRTE_DWORDS;
    // INTx goes through VFIO's handler and the irqfd: remapped format, SID = the IOAPIC.
    expect(IRTE_REMAPPED.accessors.irteMode.get(w, at)).toBe(0);
    expect(IRTE_REMAPPED.accessors.sourceId.get(w, at)).toBe(IOAPIC_REQUESTER_ID);
    expect(t.vectors.slice(1).every((v) => v.irte === -1 && v.hostVector === -1)).toBe(true);
  });

  it('two sources raised before the host runs: one line assertion, one status read, both injected', () => {
    const b = build(3);
    const s = b.initial;
    const t = s.topology;
    const store = t.vectors[0].store;
    const first = step(s, ACTION.raise, store, 0);
    const second = step(s, ACTION.raise, store, 2);
    expect(of(first, 'msiSent')).toHaveLength(1);
    expect(of(second, 'msiSent')).toHaveLength(0); // the line is already asserted
    const rest = drain(s);
    expect(of(rest, 'hostIrq').filter((e) => e.args[3] === 0)).toHaveLength(1);
    const reads = of(rest, 'intxStatusRead');
    expect(reads).toHaveLength(1);
    expect(reads[0].args.slice(2)).toEqual([2, 2]);
    const handled = of(rest, 'guestIrq').map((e) => [e.args[0], e.args[1]]);
    const expected = [0, 2].map((i) => [vcpuId(t, 0, t.vectors[i].vcpu), t.vectors[i].guestVector]);
    expect(handled.sort()).toEqual(expected.sort());
    // Write 1 to clear: the status register is empty again.
    expect(s.words[t.stores[store].pendingAt]).toBe(0);
    expect(b.flows.guests.vms[0].kernel.descs[t.vectors[0].guestIrq]).toBeDefined();
  });

  it("the guest masking its (emulated) entry leaves the line live: QEMU's virtual PBA carries the raise, unmasking delivers it once", () => {
    // QEMU (hw/vfio/pci.c vfio_msix_vector_release): VFIO signals QEMU's eventfd instead of
    // KVM's irqfd; the host source stays enabled; msix_notify sets the virtual pending bit.
    const b = build(2);
    const s = b.initial;
    const t = s.topology;
    const store = t.vectors[0].store;
    step(s, ACTION.mask, 1);
    drain(s);
    const raised = step(s, ACTION.raise, store, 1);
    expect(of(raised, 'msiSent')).toHaveLength(1);
    const masked = drain(s);
    expect(of(masked, 'guestIrq')).toHaveLength(0);
    expect(of(masked, 'vmmPendingSet')).toHaveLength(1);
    step(s, ACTION.unmask, 1);
    const handled = of(drain(s), 'guestIrq');
    expect(handled).toHaveLength(1);
    expect(handled[0].args[1]).toBe(t.vectors[1].guestVector);
  });
});

describe('one line shared by two subdevices of one parent, in two VMs', () => {
  // Each subdevice has its own status register; the parent's INTx pin is one line, one host irq
  // and one IRTE; the host runs every sharer's handler (IRQF_SHARED), each reading its own
  // register, so a raise of either reaches its own VM, once.
  const shared = () => {
    const s = structuredClone(loadScenario(TEXT, 'intx.yaml'));
    const a = s.vms[0].assign[0];
    s.vms = [s.vms[0], { ...s.vms[0], name: 'vm1', assign: [{ ...a, subdevice: 0 }] }];
    s.host = { ...s.host, cpus: 4 };
    return buildScenario(s);
  };

  it('one host irq and IRTE for both stores; the second store owns neither', () => {
    const b = shared();
    const t = b.initial.topology;
    const [v0, v1] = t.vectors;
    expect(v0.store).not.toBe(v1.store);
    expect(b.flows.bindings[0].irq).toBe(b.flows.bindings[1].irq);
    expect([v0.irte >= 0, v1.irte, v1.hostVector]).toEqual([true, -1, -1]);
    expect(t.stores[v0.store].lineStores).toEqual([v0.store, v1.store]);
  });

  it('a raise on the second store asserts the line; the handler reads both registers', () => {
    const b = shared();
    const s = b.initial;
    const t = s.topology;
    const [v0, v1] = t.vectors;
    expect(of(step(s, ACTION.raise, v1.store, 0), 'msiSent')).toHaveLength(1);
    // the line is already asserted by vm1's source: vm0's raise latches without a new message
    expect(of(step(s, ACTION.raise, v0.store, 0), 'msiSent')).toHaveLength(0);
    const rest = drain(s);
    expect(of(rest, 'intxStatusRead')).toHaveLength(2);
    const handled = of(rest, 'guestIrq').map((e) => [e.args[0], e.args[1]]);
    expect(handled.sort()).toEqual(
      [
        [vcpuId(t, 0, v0.vcpu), v0.guestVector],
        [vcpuId(t, 1, v1.vcpu), v1.guestVector],
      ].sort(),
    );
  });
});
