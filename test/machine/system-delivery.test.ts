// The delivery hot path (system-delivery.ts) works on the state's words directly, calling the hw
// word functions (the pending-bit rule, the remapping unit's vtdIrRequestIndex and vtdIrteLookup,
// posting, the LAPIC IRR; each tested against the PCIe, VT-d and SDM facts in test/hw). Here what
// the machine makes of the remapping decision (the fault it reports, the descriptor it posts to,
// the LAPIC it sends to) is held on random inputs to the outcome the unit's view `vtdIrRemap`
// returns for the same request and table, and source-id validation to `verifySourceId`.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { reservedMasks } from '../../src/hw/field-pos.js';
import { createVtdIrUnit, vtdIrRemap } from '../../src/hw/vtd/interrupt-remapping.js';
import { IRTE_POSTED, IRTE_REMAPPED, verifySourceId } from '../../src/hw/vtd/irte.js';
import { composeRemappableMsi } from '../../src/hw/x86/msi-message.js';
import { ACTION } from '../../src/machine/system-actions.js';
import {
  IR_FAULT,
  NO_SUCH_DESTINATION,
  POSTED_TO_UNKNOWN_MEMORY,
} from '../../src/machine/system-delivery.js';
import { pidAddress, setVcpuRun, VCPU_STATE } from '../../src/machine/system-state.js';
import { stepper, system } from './system-helpers.js';

const u32 = fc.integer({ min: 0, max: 0xffffffff });

describe('source-id validation: the hot path decides as verifySourceId (VT-d 9.10)', () => {
  it('faults 26h exactly when verifySourceId rejects the requester', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 3 }),
        (sid, sq, svt) => {
          const s = system({});
          const x = stepper(s);
          const v = s.topology.vectors[0];
          const port = s.topology.ports[s.topology.stores[v.store].port];
          const at = s.topology.layout.irt + v.irte * 4;
          const a = IRTE_REMAPPED.accessors;
          a.sourceId.set(s.words, sid, at);
          a.sourceIdQualifier.set(s.words, sq, at);
          a.sourceValidationType.set(s.words, svt, at);
          const verdict = verifySourceId(
            { sourceId: sid, sourceIdQualifier: sq, sourceValidationType: svt },
            port.requesterId,
          );
          x.raise();
          const fault = x.step(ACTION.deliver, 0).find((e) => e.kind === 'irFault');
          expect(fault?.args[1] === IR_FAULT.sourceIdInvalid).toBe(verdict !== 'ok');
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('a halted vCPU keeps its posts', () => {
  it('never loses a posted interrupt while blocked, however many arrive', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), (n) => {
        const s = system({ idle: 'halt' });
        const x = stepper(s);
        x.step(ACTION.vcpuHalt, 0);
        for (let i = 0; i < n; i++) {
          x.raise();
          x.step(ACTION.deliver, 0);
          x.step(ACTION.apicDeliver);
        }
        setVcpuRun(s, 0, VCPU_STATE.inHost, s.topology.initialPcpu[0]);
        x.step(ACTION.vcpuEnter, 0);
        x.step(ACTION.guestHandle, 0);
        const w = s.topology.layout.vectorCounters;
        expect(s.words[w] /* raised */).toBe(n);
        expect(s.words[w + 1] + s.words[w + 2] /* delivered + coalesced */).toBe(n);
      }),
    );
  });
});

describe('remapping: the hot path decides as vtdIrRemap (VT-d 5.1.4)', () => {
  // the test system has a 2-entry table (IRTA.S = 0): small handles reach it, a few overflow
  const small = fc.integer({ min: 0, max: 2 });
  it('same fault, or same posted vector and descriptor, or same destination and vector', () => {
    fc.assert(
      fc.property(
        fc.tuple(u32, u32, u32, u32),
        fc.boolean(),
        small,
        fc.boolean(),
        small,
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        (irte, present, handle, shv, subhandle, dataReserved, x2apic, clean) => {
          const s = system({ x2apic });
          const x = stepper(s);
          const v = s.topology.vectors[0];
          const st = s.topology.stores[v.store];
          const port = s.topology.ports[st.port];
          // the entry: a remappable message for `handle`; the IRTE there: random bits
          const msg = composeRemappableMsi({ handle, shv: shv ? 1 : 0, subhandle, dontCare: 0 });
          const data = dataReserved ? (msg.data | 0x10000) >>> 0 : msg.data;
          s.words[st.entriesAt + v.entry * 4] = msg.addrLo;
          s.words[st.entriesAt + v.entry * 4 + 2] = data;
          const words = [...irte];
          IRTE_REMAPPED.accessors.present.set(words, present ? 1 : 0);
          if (clean) {
            // most random IRTEs fault on reserved bits: half the runs clear them (and SVT), so
            // the posted and remapped outcomes are compared too
            const posted = IRTE_REMAPPED.accessors.irteMode.get(words) === 1;
            const masks = posted ? reservedMasks(IRTE_POSTED) : reservedMasks(IRTE_REMAPPED);
            for (let i = 0; i < 4; i++) words[i] = (words[i] & ~masks[i]) >>> 0;
            IRTE_REMAPPED.accessors.sourceValidationType.set(words, 0);
            if (!posted && !x2apic)
              IRTE_REMAPPED.accessors.destinationId.set(words, (words[1] & 0x300) >>> 0);
            if (posted) {
              IRTE_POSTED.accessors.pdaHigh.set(words, 1);
              IRTE_POSTED.accessors.pdaLow.set(words, words[1] & 1 ? 1 : 0);
            }
          }
          const index = shv ? handle + subhandle : handle;
          const t = s.topology;
          if (index < t.irtEntries) {
            s.words.set(words, t.layout.irt + index * 4);
            s.words.fill(0, t.layout.iecValid, t.layout.iecValid + 1); // cold cache
          }
          const unit = createVtdIrUnit({
            tableSize: t.irtaSize,
            eime: x2apic,
            ire: true,
            cfi: false,
            postedInterrupts: true,
          });
          unit.table.dwords.set(s.words.subarray(t.layout.irt, t.layout.irt + t.irtEntries * 4));
          const want = vtdIrRemap(unit, {
            addrLo: msg.addrLo,
            addrHi: 0,
            data,
            requesterId: port.requesterId,
          });
          x.raise();
          const got = x.step(ACTION.deliver, 0);
          // A destination no CPU has is found where the interrupt arrives (no LAPIC accepts it).
          const arrived = x.step(ACTION.apicDeliver);
          const fault = [...got, ...arrived].find((e) => e.kind === 'irFault');
          if (want.kind === 'fault') {
            expect(fault?.args[1]).toBe(want.reason);
            return;
          }
          if (want.kind === 'posted') {
            const owner = s.topology.vcpus.findIndex((_, i) => {
              const a = pidAddress(i);
              return a.lo === want.pda.lo && a.hi === want.pda.hi;
            });
            if (owner < 0) expect(fault?.args[1]).toBe(POSTED_TO_UNKNOWN_MEMORY);
            else {
              const post = got.find((e) => e.kind === 'posted' || e.kind === 'coalesced');
              expect(post?.kind).toBe('posted');
              expect(post?.args.slice(0, 2)).toEqual([owner, want.vector]);
            }
            return;
          }
          if (want.kind !== 'remapped') throw new Error(`unexpected outcome ${want.kind}`);
          const deliverable =
            (want.deliveryMode === 0 || want.deliveryMode === 1) &&
            want.destination < s.topology.host.cpus &&
            want.vector >= 16;
          if (!deliverable) expect(fault?.args[1]).toBe(NO_SUCH_DESTINATION);
          else expect(got[0].args.slice(0, 2)).toEqual([want.destination, want.vector]);
        },
      ),
      { numRuns: 600 },
    );
  });
});
