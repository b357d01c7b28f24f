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
import { freeIrq, irqTarget } from '../../src/kernel/manage.js';
import { pciMsixFreeIrq } from '../../src/kernel/pci-msi-api.js';
import { systemEnabled, systemStep } from '../../src/machine/system.js';
import { ACTION } from '../../src/machine/system-actions.js';
import { createEventLog, eventsOf, type SystemEvent } from '../../src/machine/system-events.js';
import { pidAddress, type SystemState } from '../../src/machine/system-state.js';
import { vcpuId } from '../../src/machine/system-topology.js';
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
        // The host side: the device entry names the host kernel's IRTE for its host irq, or
        // under vir-direct the guest kernel's own IRTE index (the shadowed host IRTE is there).
        const b = built.flows.bindings[vector];
        const ir = irChipOf(host.descs[b.irq]);
        expect(ir).not.toBeNull();
        const guestIr = irChipOf(guest.kernel.descs[irq]);
        const hostIndex =
          strategy === 'vir-direct'
            ? (guestIr?.irteIndex ?? -1) + (guestIr?.subHandle ?? 0)
            : (ir?.irteIndex ?? -1) + (ir?.subHandle ?? 0);
        const st = t.stores[t.vectors[vector].store];
        const at = st.entriesAt + b.entry * 4;
        const msg = decodeMsiMessage(s.words[at], s.words[at + 1], s.words[at + 2]);
        expect(msg.format).toBe('remappable');
        if (msg.format === 'remappable') expect(msg.interruptIndex).toBe(hostIndex);
        if (pv) {
          // MSI == IMS: what the guest wrote into its (mapped) entry is the host entry's pair.
          const mine = [0, 4, 8].map((o) =>
            guest.sp.memory.mmioRead(guest.functions[0].bdf, 'msix-table', i * 16 + o),
          );
          expect(mine).toEqual([s.words[at], s.words[at + 1], s.words[at + 2]]);
        }
        const irteAt = t.layout.irt + hostIndex * IRTE_DWORDS;
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

it('emulate, MSI on MSI: a two-vector block needs guest IR, refused naming the rule', () => {
  // Under emulate the guest has no IR (its vIOMMU translates DMA only) and x86 Linux's native
  // vector domain allocates one MSI vector per function.
  expect(() => build('emulate', true, 'msi')).toThrow(/multi-msi-needs-ir/);
});

describe.each(STRATEGIES.filter((s) => s !== 'emulate'))(
  '%s, MSI on MSI (multi-message block)',
  (strategy) => {
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
  },
);

describe("the guest's own writes to its entries", () => {
  // DESIGN §2: under the direct strategies the table is mapped, so what the guest writes reaches
  // the device as written (what isolation.ts probes); under the trapping ones the VMM emulates it.
  for (const [strategy, reaches] of [
    ['emulate', false],
    ['vir', false],
    ['vir-direct', true],
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

describe('vir-direct: the guest composes its handles, the hv shadows its IRTEs', () => {
  // DESIGN §2 / docs/strategies.md §3: the table is mapped, the guest's handle is its own vIOMMU
  // IRTE index, inside the per-VM window its vIOMMU reports; the hv shadows the guest IRTE into
  // the host IRTE at the same index on the trapped invalidation (the only exit besides VFIO's
  // virtual config space). VT-d 9.10: posted IRTE (IM=1, VV, PDA), SID with SVT=01b.
  const twoVms = (posted: boolean) => `
host:
  cpus: 4
  x2apic: true
  apicv: true
  iommu: { ir: true, posted: ${posted} }
devices:
  - { name: nic0, kind: generic, bdf: "0000:01:00.0", msix: 4, msi: 0, vfs: 2, vfMsix: 4 }
vms:
  - name: vm0
    vcpus: 2
    viommu: on
    strategy: vir-direct
    assign: [{ device: nic0, vf: 0, guest: msix, backing: msix, vectors: 2 }]
  - name: vm1
    vcpus: 2
    viommu: on
    strategy: vir-direct
    assign: [{ device: nic0, vf: 1, guest: msix, backing: msix, vectors: 2 }]
run: { duration: 1ms }
`;
  for (const posted of [true, false]) {
    it(`${posted ? 'posted' : 'remapped'}: device entry = guest handle, host IRTE at it, raise -> guest handler; teardown clears the shadows`, () => {
      const built = buildScenario(loadScenario(twoVms(posted), 'vir-direct.yaml'));
      const s = built.initial;
      const t = s.topology;
      expect(built.flows.guests.failures).toEqual([]);
      const windows: number[][] = [];
      built.flows.guests.vms.forEach((guest, vm) => {
        const bdf = guest.functions[0].bdf;
        const handles: number[] = [];
        built.assignmentVectors[vm][0].forEach((vector, i) => {
          const irq = irqOfVector(guest.kernel, bdf, i);
          const target = irqTarget(guest.kernel, irq);
          const gir = irChipOf(guest.kernel.descs[irq]);
          expect(target).not.toBeNull();
          expect(gir).not.toBeNull();
          if (!target || !gir) return;
          const handle = gir.irteIndex + gir.subHandle;
          handles.push(handle);
          // The guest wrote its own remappable handle into its mapped table (no exit) ...
          const mine = [0, 4, 8].map((o) =>
            guest.sp.memory.mmioRead(bdf, 'msix-table', i * 16 + o),
          );
          const guestMsg = decodeMsiMessage(mine[0], mine[1], mine[2]);
          expect(guestMsg.format === 'remappable' && guestMsg.interruptIndex).toBe(handle);
          // ... and the device entry holds exactly that (the host did not rewrite it).
          const b = built.flows.bindings[vector];
          const st = t.stores[t.vectors[vector].store];
          const at = st.entriesAt + b.entry * 4;
          expect([s.words[at], s.words[at + 1], s.words[at + 2]]).toEqual(mine);
          // The host IRTE at the guest's index: source-id = the VF's requester ID, SVT=01b.
          const irteAt = t.layout.irt + handle * IRTE_DWORDS;
          const vcpu = vcpuId(t, vm, target.cpu);
          const sid = decode(IRTE_REMAPPED, s.words, irteAt);
          expect(sid.present).toBe(1);
          expect(sid.sourceId).toBe(t.ports[st.port].requesterId);
          expect(sid.sourceValidationType).toBe(1);
          if (posted) {
            const e = decode(IRTE_POSTED, s.words, irteAt);
            expect(e.irteMode).toBe(1);
            expect(e.virtualVector).toBe(target.vector);
            expect(postedDescriptorAddress(e)).toEqual(pidAddress(vcpu));
          } else {
            expect(sid.irteMode).toBe(0);
            expect(sid.vector).toBe(irqTarget(built.flows.host.kernel, b.irq)?.vector);
          }
          const events = raise(s, vector);
          const handled = events.filter((e) => e.kind === 'guestIrq');
          expect(handled.map((e) => [e.args[0], e.args[1]])).toEqual([[vcpu, target.vector]]);
          expect(guestHandleEvents(built, events)).toEqual([irq]);
        });
        windows.push(handles);
        // Only the invalidations (and VFIO's virtual config space) trapped: no table exit, no
        // hypercall; one exit per invalidation the guest kernel logged.
        const logged = guest.kernel.accessLog.filter((a) => a.kind === 'iec-invalidate').length;
        expect(guest.sp.exits.iecInvalidation).toBe(logged);
        expect(logged).toBeGreaterThan(0);
        expect(guest.sp.exits.msixTableAccess).toBe(0);
        expect(guest.sp.exits.imsAccess).toBe(0);
        expect(guest.sp.exits.hypercall).toBe(0);
        const trapped = guest.sp.exitLog.filter((x) => x.exit !== null);
        expect(
          trapped.every(
            (x) => x.access.kind === 'iec-invalidate' || x.access.kind.startsWith('cfg'),
          ),
        ).toBe(true);
      });
      // Disjoint windows: no handle of vm0 is a handle of vm1, and none is a host kernel IRTE.
      expect(windows[0].filter((h) => windows[1].includes(h))).toEqual([]);
      const hostIndices = built.flows.bindings.map((b) => b.irte);
      expect([...windows[0], ...windows[1]].filter((h) => hostIndices.includes(h))).toEqual([]);

      teardownBuilt(built);
      for (const h of [...windows[0], ...windows[1]]) {
        expect(IRTE_REMAPPED.accessors.present.get(s.words, t.layout.irt + h * IRTE_DWORDS)).toBe(
          0,
        );
      }
      for (let i = 0; i < t.irtEntries; i++) {
        expect(IRTE_REMAPPED.accessors.present.get(s.words, t.layout.irt + i * IRTE_DWORDS)).toBe(
          0,
        );
      }
    });
  }
});

describe('pv: freeing a vector releases its host IRTE at once', () => {
  // docs/pv-abi.md RELEASE: the guest's pv-ir domain frees the irq -> RELEASE -> the host frees the
  // IRTE behind the pair (VFIO frees the host irq, whose IRTE goes non-present: VT-d 9.10 P=0),
  // before any teardown or unplug.
  for (const strategy of ['pv', 'pv-batch'] as const) {
    it(`${strategy}: pci_msix_free_irq of vector 1 -> one RELEASE, its host IRTE cleared, vector 0 untouched`, () => {
      const built = build(strategy);
      const s = built.initial;
      const t = s.topology;
      const guest = built.flows.guests.vms[0];
      const host = built.flows.host.kernel;
      const bdf = guest.functions[0].bdf;
      const [v0, v1] = built.assignmentVectors[0][0];
      const present = (irte: number) =>
        IRTE_REMAPPED.accessors.present.get(s.words, t.layout.irt + irte * IRTE_DWORDS);
      const [b0, b1] = [built.flows.bindings[v0], built.flows.bindings[v1]];
      expect([present(b0.irte), present(b1.irte)]).toEqual([1, 1]);
      const irtesBefore = guest.sp.ledger.irtes;

      const irq = irqOfVector(guest.kernel, bdf, 1);
      for (const a of [...guest.kernel.descs[irq].actions]) {
        freeIrq(guest.kernel, guest.sp.platform, irq, a.devId);
      }
      const r = pciMsixFreeIrq(guest.kernel, guest.sp.platform, bdf, 1);
      expect(r.ok).toBe(true);

      expect(guest.sp.pv.calls.release).toBe(1);
      expect(guest.sp.pv.allocations.map((a) => a.index)).toEqual([0]);
      const releases = guest.kernel.accessLog.filter(
        (a) => a.kind === 'hypercall' && a.call === 'msi-release',
      );
      expect(releases).toHaveLength(1);
      expect(guest.sp.ledger.irtes).toBe(irtesBefore - 1);
      expect(present(b1.irte)).toBe(0);
      expect(host.descs[b1.irq]?.actions ?? []).toEqual([]);
      expect(present(b0.irte)).toBe(1);

      // Teardown still gives back everything, the released vector once.
      teardownBuilt(built);
      expect(guest.sp.pv.calls.release).toBe(2);
      for (let i = 0; i < t.irtEntries; i++) expect(present(i)).toBe(0);
      expect(host.matrix.totalAllocated).toBe(0);
    });
  }
});
