// Local APIC acceptance, priority and EOI. Expected values come from the SDM's rules (chapter
// "Advanced Programmable Interrupt Controller": vectors 0-15 illegal and ESR bit 6; IRR collapse;
// PPR = TPR or ISRV class; delivery only for class > PPR class; x2APIC LDR derivation) and from
// the recorded QEMU q35 guest (xAPIC logical flat destinations 0x01/0x02/0x04/0x08 = CPUs 0-3).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode, encode, type Layout } from '../../../src/hw/bits.js';
import { InputError } from '../../../src/hw/errors.js';
import {
  apicDeliverableVector,
  apicDispatch,
  apicEoi,
  apicHighestVector,
  apicIrrSet,
  apicPpr,
  DELIVERY_MODE,
  DEST_MODE,
  ESR,
  type Lapic,
  lapicAccept,
  lapicAck,
  lapicEoi,
  lapicIrrTest,
  lapicIsrTest,
  lapicMatchesDestination,
  lapicPpr,
  lapicSetTpr,
  newLapic,
  PRIORITY_REGISTER,
  TRIGGER_MODE,
  VECTOR,
  X2APIC_ID_PARTS,
  X2APIC_LDR,
  XAPIC_CLUSTER_ID,
  XAPIC_DFR,
  XAPIC_ID,
  XAPIC_LDR,
  x2apicLdr,
} from '../../../src/hw/x86/lapic.js';

const fixed = (vector: number, level = false) => ({
  destination: 0,
  destinationMode: DEST_MODE.physical,
  deliveryMode: DELIVERY_MODE.fixed,
  vector,
  triggerMode: level ? TRIGGER_MODE.level : TRIGGER_MODE.edge,
});

const xapic = (apicId: number): Lapic =>
  newLapic({ x2apic: false, apicId, logicalId: 1 << apicId });

describe('LAPIC acceptance', () => {
  it('vectors 0-15 are illegal: not accepted, ESR Receive Illegal Vector set, counted', () => {
    const apic = xapic(0);
    expect(lapicAccept(apic, fixed(15))).toEqual({ kind: 'illegal-vector', vector: 15 });
    expect(decode(ESR, [apic.esr]).receiveIllegalVector).toBe(1);
    expect(lapicIrrTest(apic, 15)).toBe(false);
    expect(apic.counters.illegalVector).toBe(1);
    expect(lapicAccept(apic, fixed(16))).toEqual({ kind: 'accepted', vector: 16 });
  });

  it('a second interrupt with the same vector while its IRR bit is set collapses into it', () => {
    const apic = xapic(0);
    lapicAccept(apic, fixed(0x25));
    expect(lapicAccept(apic, fixed(0x25))).toEqual({ kind: 'coalesced', vector: 0x25 });
    expect(apic.counters).toMatchObject({ accepted: 1, coalesced: 1 });
  });

  it('one more can be pending in IRR while the same vector is in service', () => {
    const apic = xapic(0);
    lapicAccept(apic, fixed(0x25));
    expect(lapicAck(apic)).toBe(0x25);
    expect(lapicAccept(apic, fixed(0x25)).kind).toBe('accepted');
    expect(lapicIsrTest(apic, 0x25) && lapicIrrTest(apic, 0x25)).toBe(true);
  });

  it('NMI is counted, other delivery modes are reported as not modelled', () => {
    const apic = xapic(0);
    expect(lapicAccept(apic, { ...fixed(2), deliveryMode: DELIVERY_MODE.nmi })).toEqual({
      kind: 'nmi',
    });
    expect(lapicAccept(apic, { ...fixed(0), deliveryMode: DELIVERY_MODE.init }).kind).toBe(
      'not-modelled',
    );
  });

  it('rejects a vector that does not fit 8 bits', () => {
    expect(() => lapicAccept(xapic(0), fixed(256))).toThrow(InputError);
  });
});

describe('LAPIC priority', () => {
  it('the CPU takes the highest-priority IRR vector, moving it to ISR', () => {
    const apic = xapic(0);
    for (const v of [0x31, 0x61, 0x45]) lapicAccept(apic, fixed(v));
    expect(lapicAck(apic)).toBe(0x61);
    expect(lapicIsrTest(apic, 0x61)).toBe(true);
    expect(lapicIrrTest(apic, 0x61)).toBe(false);
  });

  it('TPR holds back vectors whose class is not above its class', () => {
    const apic = xapic(0);
    lapicSetTpr(apic, 0x35);
    lapicAccept(apic, fixed(0x3f)); // class 3 = TPR class 3: held
    expect(lapicAck(apic)).toBe(-1);
    lapicAccept(apic, fixed(0x40)); // class 4 > 3
    expect(lapicAck(apic)).toBe(0x40);
  });

  it('PPR is the in-service class when it is above TPR; only a higher class nests', () => {
    const apic = xapic(0);
    lapicSetTpr(apic, 0x20);
    lapicAccept(apic, fixed(0x51));
    lapicAck(apic);
    expect(lapicPpr(apic)).toBe(0x50); // ISRV class 5 > TPR class 2: PPR[7:4]=5, PPR[3:0]=0
    lapicAccept(apic, fixed(0x5e));
    expect(lapicAck(apic)).toBe(-1);
    lapicAccept(apic, fixed(0x60));
    expect(lapicAck(apic)).toBe(0x60);
    lapicSetTpr(apic, 0x7a);
    expect(lapicPpr(apic)).toBe(0x7a); // TPR class 7 >= ISRV class 6: PPR = TPR
  });

  it('EOI clears the highest in-service vector and says whether it was level-triggered', () => {
    const apic = xapic(0);
    lapicAccept(apic, fixed(0x30, true));
    lapicAck(apic);
    lapicAccept(apic, fixed(0x40));
    lapicAck(apic);
    expect(lapicEoi(apic)).toEqual({ kind: 'eoi', vector: 0x40, level: false });
    expect(lapicEoi(apic)).toEqual({ kind: 'eoi', vector: 0x30, level: true });
    expect(lapicEoi(apic)).toEqual({ kind: 'spurious-eoi' });
    expect(lapicAck(apic)).toBe(-1);
  });
});

describe('LAPIC destination', () => {
  it('xAPIC logical flat: destination 0x08 reaches CPU 3 only (qemu-q35-noir 0xFEE08004)', () => {
    // QEMU-Q35.md fact 3: logical IDs 0x01/0x02/0x04/0x08 are CPUs 0-3; entry 0 of 00:02.0 has
    // address 0xFEE08004 (destination 0x08, DM=1) and effective affinity CPU 3.
    const cpus = [0, 1, 2, 3].map(xapic);
    expect(cpus.map((c) => lapicMatchesDestination(c, 0x08, DEST_MODE.logical))).toEqual([
      false,
      false,
      false,
      true,
    ]);
    expect(cpus.map((c) => lapicMatchesDestination(c, 0x03, DEST_MODE.logical))).toEqual([
      true,
      true,
      false,
      false,
    ]);
  });

  it('xAPIC physical: the 8-bit APIC ID, or 0xFF for all', () => {
    const apic = xapic(2);
    expect(lapicMatchesDestination(apic, 2, DEST_MODE.physical)).toBe(true);
    expect(lapicMatchesDestination(apic, 1, DEST_MODE.physical)).toBe(false);
    expect(lapicMatchesDestination(apic, 0xff, DEST_MODE.physical)).toBe(true);
    expect(() => lapicMatchesDestination(apic, 0x100, DEST_MODE.physical)).toThrow(InputError);
  });

  it('xAPIC cluster model: cluster in bits 7:4, members in bits 3:0, cluster 0xF for all', () => {
    const apic = newLapic({ x2apic: false, apicId: 5, logicalId: 0x21, model: 'cluster' });
    expect(lapicMatchesDestination(apic, 0x21, DEST_MODE.logical)).toBe(true);
    expect(lapicMatchesDestination(apic, 0x23, DEST_MODE.logical)).toBe(true);
    expect(lapicMatchesDestination(apic, 0x22, DEST_MODE.logical)).toBe(false);
    expect(lapicMatchesDestination(apic, 0x11, DEST_MODE.logical)).toBe(false);
    expect(lapicMatchesDestination(apic, 0xf1, DEST_MODE.logical)).toBe(true);
  });

  it('x2APIC: LDR = ID[19:4] << 16 | 1 << ID[3:0], and cluster matching on it', () => {
    expect(x2apicLdr(0x21)).toBe(0x00020002);
    expect(x2apicLdr(0x0f)).toBe(0x00008000);
    const apic = newLapic({ x2apic: true, apicId: 0x21 });
    expect(lapicMatchesDestination(apic, 0x00020002, DEST_MODE.logical)).toBe(true);
    expect(lapicMatchesDestination(apic, 0x00020003, DEST_MODE.logical)).toBe(true);
    expect(lapicMatchesDestination(apic, 0x00020001, DEST_MODE.logical)).toBe(false);
    expect(lapicMatchesDestination(apic, 0x00010002, DEST_MODE.logical)).toBe(false);
    expect(lapicMatchesDestination(apic, 0x21, DEST_MODE.physical)).toBe(true);
    expect(lapicMatchesDestination(apic, 0xffffffff, DEST_MODE.physical)).toBe(true);
  });
});

describe('LAPIC register layouts', () => {
  it('decode(encode(x)) == x for every layout', () => {
    const layouts: Layout[] = [
      VECTOR,
      PRIORITY_REGISTER,
      XAPIC_ID,
      XAPIC_LDR,
      XAPIC_CLUSTER_ID,
      XAPIC_DFR,
      X2APIC_LDR,
      X2APIC_ID_PARTS,
      ESR,
    ];
    for (const layout of layouts) {
      const arb = fc.record(
        Object.fromEntries(
          Object.values(layout.accessors).map((a) => [a.name, fc.nat(2 ** a.bitWidth - 1)]),
        ),
      );
      fc.assert(
        fc.property(arb, (x) => {
          expect(decode(layout, encode(layout, x))).toEqual(x);
        }),
        { numRuns: 50 },
      );
    }
  });
});

// The word functions the object API above and the whole-system model both run, on registers held
// at an offset of a larger array of words (as a vCPU's virtual IRR/ISR sit in the state words).
// Facts: SDM Vol. 3A, IRR/ISR bit n is bit n%32 of the register at 0x10*(n/32); priority class =
// vector[7:4]; PPR = TPR if TPR[7:4] >= ISRV[7:4] else ISRV[7:4]:0000; the CPU takes the highest
// IRR vector only if its class is above PPR[7:4]; EOI clears the highest ISR bit.
describe('LAPIC registers as words', () => {
  const IRR = 3;
  const ISR = 11;
  const words = () => new Uint32Array(IRR + 8 + 8 + 2);

  it('IRR set: bit n%32 of dword n/32 of the register; a second set collapses into it', () => {
    const w = words();
    expect(apicIrrSet(w, IRR, 0x45)).toBe(true);
    expect(w[IRR + 2]).toBe(1 << 5);
    expect(apicIrrSet(w, IRR, 0x45)).toBe(false);
    expect(apicIrrSet(w, IRR, 0xff)).toBe(true);
    expect(w[IRR + 7]).toBe(0x80000000);
    expect(Array.from(w).filter((x) => x !== 0)).toHaveLength(2); // nothing else written
  });

  it('PPR: TPR when its class is at least the in-service class, else that class, sub-class 0', () => {
    const w = words();
    expect(apicPpr(w, ISR, 0x35)).toBe(0x35); // nothing in service
    apicIrrSet(w, ISR, 0x52); // the same bit layout: 0x52 in service
    expect(apicPpr(w, ISR, 0x35)).toBe(0x50);
    expect(apicPpr(w, ISR, 0x65)).toBe(0x65);
    expect(apicPpr(w, ISR, 0x5f)).toBe(0x5f); // equal class: TPR
  });

  it('a higher class preempts the one in service; the same class and TPR block', () => {
    const w = words();
    apicIrrSet(w, IRR, 0x50);
    expect(apicDeliverableVector(w, IRR, w, ISR, 0)).toBe(0x50);
    apicDispatch(w, IRR, w, ISR, 0x50);
    expect(apicHighestVector(w, IRR)).toBe(-1);
    expect(apicHighestVector(w, ISR)).toBe(0x50);
    apicIrrSet(w, IRR, 0x5f); // class 5: not above the in-service class
    expect(apicDeliverableVector(w, IRR, w, ISR, 0)).toBe(-1);
    apicIrrSet(w, IRR, 0x61); // class 6: taken, nesting
    expect(apicDeliverableVector(w, IRR, w, ISR, 0)).toBe(0x61);
    expect(apicDeliverableVector(w, IRR, w, ISR, 0x70)).toBe(-1); // TPR class 7 blocks it
  });

  it('EOI clears the highest in-service vector first; with nothing in service it does nothing', () => {
    const w = words();
    for (const v of [0x50, 0x61]) {
      apicIrrSet(w, IRR, v);
      apicDispatch(w, IRR, w, ISR, v);
    }
    expect(apicEoi(w, ISR)).toBe(0x61);
    expect(apicEoi(w, ISR)).toBe(0x50);
    const before = w.slice();
    expect(apicEoi(w, ISR)).toBe(-1);
    expect(w).toEqual(before);
  });

  it('the object API is the same decision: lapicAck / lapicEoi on a Lapic', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 16, max: 255 }), { maxLength: 8 }), (vs) => {
        const apic = xapic(0);
        const w = words();
        for (const v of vs) {
          lapicAccept(apic, fixed(v));
          apicIrrSet(w, IRR, v);
        }
        const taken = lapicAck(apic);
        expect(taken).toBe(apicDeliverableVector(w, IRR, w, ISR, 0));
        expect(taken).toBe(vs.length === 0 ? -1 : Math.max(...vs)); // class of 16+ is above 0
      }),
    );
  });
});
