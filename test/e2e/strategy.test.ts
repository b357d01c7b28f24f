// End to end per strategy, through the flows (no seam): the guest driver probes its assigned
// function on the strategy's platform, VFIO + the host kernel + KVM program the system state, the
// device raises each vector through the system model, and the guest kernel's handler runs on the
// vCPU and vector the GUEST KERNEL chose (read from the guest kernel, not from the topology),
// counted in the guest's /proc/interrupts. Teardown gives back every host vector, IRTE and entry.
// Expected values come from the kernels' own state and from the specs: VT-d 9.10 (IRTE Present,
// posted-format PDA/VV), PCIe 7.7.2 (Mask Bit, MSI-X Enable), SDM posted-interrupt processing
// (no VM exit for a running vCPU).

import { describe, expect, it } from 'vitest';
import { irqOfVector } from '../../src/hv/guest-run.js';
import { systemEnabled, systemStep } from '../../src/hv/system.js';
import { ACTION } from '../../src/hv/system-actions.js';
import { createEventLog, eventsOf, type SystemEvent } from '../../src/hv/system-events.js';
import { pidAddress, type SystemState } from '../../src/hv/system-state.js';
import { vcpuId } from '../../src/hv/system-topology.js';
import { irChipOf } from '../../src/hv/vfio.js';
import { decode } from '../../src/hw/bits.js';
import { MSIX_MESSAGE_CONTROL } from '../../src/hw/pci/msix-capability.js';
import { MSIX_TABLE_ENTRY } from '../../src/hw/pci/msix-table.js';
import {
  IRTE_DWORDS,
  IRTE_POSTED,
  IRTE_REMAPPED,
  postedDescriptorAddress,
} from '../../src/hw/vtd/irte.js';
import { decodeMsiMessage } from '../../src/hw/x86/msi-message.js';
import { irqTarget } from '../../src/kernel/manage.js';
import { renderProcInterrupts } from '../../src/report/proc-interrupts.js';
import { buildScenario, guestHandleEvents, teardownBuilt } from '../../src/scenario/build.js';
import { loadScenario } from '../../src/scenario/load.js';

const STRATEGIES = ['emulate', 'vir', 'vir-direct', 'pv', 'pv-batch'] as const;

const scenario = (strategy: string, posted: boolean, type: 'msix' | 'msi' = 'msix') => `
host:
  cpus: 4
  x2apic: true
  apicv: true
  iommu: { ir: true, posted: ${posted} }
devices:
  - { name: nic0, kind: generic, bdf: "0000:01:00.0", msix: 4, msi: 4 }
vms:
  - name: vm0
    vcpus: 2
    viommu: on
    strategy: ${strategy}
    assign: [{ device: nic0, guest: ${type}, backing: ${type}, vectors: 2 }]
run: { duration: 1ms }
`;

const build = (strategy: string, posted = true, type: 'msix' | 'msi' = 'msix') =>
  buildScenario(loadScenario(scenario(strategy, posted, type), 'e2e.yaml'));

/** Steps the system's own actions (not new raises, not HLT) until none is left. */
function drain(s: SystemState): SystemEvent[] {
  const log = createEventLog();
  for (let n = 0; n < 100; n++) {
    const next = systemEnabled(s).find(
      (a) => a.kind !== ACTION.raise && a.kind !== ACTION.vcpuHalt,
    );
    if (!next) break;
    systemStep(s, next, log);
  }
  return eventsOf(log);
}

function raise(s: SystemState, vector: number): SystemEvent[] {
  const v = s.topology.vectors[vector];
  const log = createEventLog();
  systemStep(s, { kind: ACTION.raise, a: v.store, b: v.entry }, log);
  return [...eventsOf(log), ...drain(s)];
}

/** The count of `irq` on guest CPU `cpu` in /proc/interrupts (columns CPU0, CPU1, ...). */
function procCount(text: string, irq: number, cpu: number): number {
  const line = text.split('\n').find((l) => l.trimStart().startsWith(`${irq}:`));
  expect(line, `irq ${irq} in /proc/interrupts`).toBeDefined();
  const fields = (line ?? '').trim().split(/\s+/);
  return Number(fields[1 + cpu]);
}

describe.each(STRATEGIES)('%s, end to end through the flows', (strategy) => {
  for (const posted of [true, false]) {
    it(`${posted ? 'posted' : 'remapped'} host IRTEs: probe -> raise -> guest handler on the guest kernel's vCPU/vector -> teardown`, () => {
      const built = build(strategy, posted);
      const s = built.initial;
      const t = s.topology;
      const guest = built.flows.guests.vms[0];
      const host = built.flows.host.kernel;
      expect(built.flows.guests.failures).toEqual([]);
      expect(built.flows.guests.notes).toEqual([]);
      expect(guest.strategy).toBe(strategy);
      // pv: negotiated once through the ABI, then GET_MSG(_BATCH), answered by VFIO on the host
      // kernel (pv-kernel-hooks -> pv-guest -> pv-host -> the flows); the others never call it.
      const pv = strategy === 'pv' || strategy === 'pv-batch';
      expect(guest.sp.pv.calls.negotiate).toBe(pv ? 1 : 0);
      // pv: one GET_MSG per vector; pv-batch: the driver's one pci_alloc_irq_vectors is one
      // GET_MSG_BATCH carrying both vectors.
      expect(guest.sp.pv.calls.getMsg).toBe(strategy === 'pv' ? 2 : 0);
      expect(guest.sp.pv.calls.getMsgBatch).toBe(strategy === 'pv-batch' ? 1 : 0);
      expect(guest.sp.pv.allocations).toHaveLength(pv ? 2 : 0);
      const vectors = built.assignmentVectors[0][0];
      expect(vectors).toHaveLength(2);
      vectors.forEach((vector, i) => {
        // Where the guest kernel sends vector i: its own irq and effective target.
        const irq = irqOfVector(guest.kernel, guest.functions[0].bdf, i);
        const target = irqTarget(guest.kernel, irq);
        expect(target).not.toBeNull();
        if (!target) return;
        // The host side: the device entry names the host kernel's IRTE for its host irq.
        const b = built.flows.bindings[vector];
        const ir = irChipOf(host.descs[b.irq]);
        expect(ir).not.toBeNull();
        const st = t.stores[t.vectors[vector].store];
        const at = st.entriesAt + b.entry * 4;
        const msg = decodeMsiMessage(s.words[at], s.words[at + 1], s.words[at + 2]);
        expect(msg.format).toBe('remappable');
        if (msg.format === 'remappable') expect(msg.handle).toBe(ir?.irteIndex);
        if (pv) {
          // MSI == IMS: what the guest wrote into its (mapped) entry is the host entry's pair.
          const mine = [0, 4, 8].map((o) =>
            guest.sp.memory.mmioRead(guest.functions[0].bdf, 'msix-table', i * 16 + o),
          );
          expect(mine).toEqual([s.words[at], s.words[at + 1], s.words[at + 2]]);
        }
        const irteAt = t.layout.irt + b.irte * IRTE_DWORDS;
        const vcpu = vcpuId(t, 0, target.cpu);
        if (posted) {
          // KVM's irq bypass: posted format, the guest's vector, the target vCPU's descriptor.
          const e = decode(IRTE_POSTED, s.words, irteAt);
          expect(e.irteMode).toBe(1);
          expect(e.virtualVector).toBe(target.vector);
          expect(postedDescriptorAddress(e)).toEqual(pidAddress(vcpu));
        } else {
          const e = decode(IRTE_REMAPPED, s.words, irteAt);
          expect(e.irteMode).toBe(0);
          const h = irqTarget(host, b.irq);
          expect(e.vector).toBe(h?.vector);
        }
        const events = raise(s, vector);
        const handled = events.filter((e) => e.kind === 'guestIrq');
        expect(handled).toHaveLength(1);
        expect(handled[0].args[0]).toBe(vcpu);
        expect(handled[0].args[1]).toBe(target.vector);
        // Posted delivery to a running vCPU: no VM exit (SDM posted-interrupt processing).
        const exits = events.filter((e) => e.kind === 'vmExit');
        if (posted) expect(exits).toHaveLength(0);
        else expect(exits.length).toBeGreaterThan(0);
        expect(guestHandleEvents(built, events)).toEqual([irq]);
        expect(procCount(renderProcInterrupts(guest.kernel), irq, target.cpu)).toBe(1);
      });

      teardownBuilt(built);
      for (let i = 0; i < t.irtEntries; i++) {
        expect(IRTE_REMAPPED.accessors.present.get(s.words, t.layout.irt + i * IRTE_DWORDS)).toBe(
          0,
        );
      }
      for (const st of t.stores) {
        for (let e = 0; e < st.entries; e++) {
          expect(MSIX_TABLE_ENTRY.accessors.mask.get(s.words, st.entriesAt + e * 4)).toBe(1);
        }
        if (st.kind === 'msix') {
          const ctrl = decode(MSIX_MESSAGE_CONTROL.layout, [s.words[st.controlAt]]);
          expect(ctrl.msixEnable).toBe(0);
        }
      }
      expect(host.matrix.totalAllocated).toBe(0);
      expect(Object.values(host.descs).filter((d) => d.actions.length > 0)).toEqual([]);
      expect(
        guest.sp.ledger.hostVectors + guest.sp.ledger.irtes + guest.sp.ledger.msixEntries,
      ).toBe(0);
    });
  }
});

describe.each(STRATEGIES)('%s, MSI on MSI (multi-message block)', (strategy) => {
  it('each vector of the block reaches the guest kernel handler of its irq', () => {
    const built = build(strategy, true, 'msi');
    const s = built.initial;
    const guest = built.flows.guests.vms[0];
    expect(built.flows.guests.failures).toEqual([]);
    built.assignmentVectors[0][0].forEach((vector, i) => {
      const irq = irqOfVector(guest.kernel, guest.functions[0].bdf, i);
      const target = irqTarget(guest.kernel, irq);
      const events = raise(s, vector);
      const handled = events.filter((e) => e.kind === 'guestIrq');
      expect(handled.map((e) => [e.args[0], e.args[1]])).toEqual([[target?.cpu, target?.vector]]);
      expect(guestHandleEvents(built, events)).toEqual([irq]);
    });
    teardownBuilt(built);
    expect(built.flows.host.kernel.matrix.totalAllocated).toBe(0);
  });
});

describe("the guest's own writes to its entries", () => {
  // DESIGN §2: under the direct strategies the table is mapped, so what the guest writes reaches
  // the device as written (what isolation.ts probes); under the trapping ones the VMM emulates it.
  for (const [strategy, reaches] of [
    ['emulate', false],
    ['vir', false],
    ['pv', true],
    ['pv-batch', true],
  ] as const) {
    it(`${strategy}: an arbitrary Message Data written by the guest ${reaches ? 'reaches' : 'does not reach'} the device entry`, () => {
      const built = build(strategy);
      const s = built.initial;
      const t = s.topology;
      const guest = built.flows.guests.vms[0];
      const vector = built.assignmentVectors[0][0][1];
      const st = t.stores[t.vectors[vector].store];
      const dataAt = st.entriesAt + t.vectors[vector].entry * 4 + 2;
      const before = s.words[dataAt];
      const forged = (before ^ 0x5a) >>> 0;
      guest.sp.platform.mmioWrite(guest.functions[0].bdf, 'msix-table', 1 * 16 + 8, forged);
      expect(s.words[dataAt]).toBe(reaches ? forged : before);
    });
  }
});
