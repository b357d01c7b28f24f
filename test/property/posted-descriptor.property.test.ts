// Properties of interrupt posting: after any sequence of posts (with or without URG), SN changes
// and CPU syncs, no posted vector is lost (it is in PIR or in the virtual APIC's IRR), and a
// notification goes out exactly when ON goes 0 -> 1, which a post does whenever ON is clear and
// SN is clear or URG is set (VT-d 5.2.3).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode, encode } from '../../src/hw/bits.js';
import { lapicIrrTest, newLapic } from '../../src/hw/x86/lapic.js';
import {
  NDST_XAPIC,
  newPostedDescriptor,
  PID_CONTROL,
  PID_TAIL,
  piOn,
  piPirTest,
  piPost,
  piSetSuppress,
  piSn,
  piSyncToIrr,
} from '../../src/hw/x86/posted-descriptor.js';

type Action =
  | { kind: 'post'; vector: number; urgent: boolean }
  | { kind: 'sn'; sn: boolean }
  | { kind: 'sync' };

const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('post' as const),
      vector: fc.integer({ min: 16, max: 255 }),
      urgent: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('sn' as const), sn: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('sync' as const) }) },
);

describe('posting properties', () => {
  it('no posted vector is lost; one notification per ON 0 -> 1 transition', () => {
    fc.assert(
      fc.property(fc.array(action, { maxLength: 60 }), fc.boolean(), (actions, x2apic) => {
        const pid = newPostedDescriptor({ nv: 0xf2, destination: 1, x2apic });
        const vapic = newLapic({ x2apic: true, apicId: 1 });
        const posted = new Set<number>();
        let notifications = 0;
        let onRises = 0;
        for (const a of actions) {
          if (a.kind === 'post') {
            const onBefore = piOn(pid);
            const snBefore = piSn(pid);
            const r = piPost(pid, a.vector, { urgent: a.urgent, x2apic });
            posted.add(a.vector);
            if (!onBefore && piOn(pid)) onRises++;
            if (r.notification) {
              notifications++;
              expect(r.notification).toEqual({ vector: 0xf2, destination: 1 });
            }
            // ON clear and (SN clear or URG): this post must raise ON and notify.
            expect(r.notification !== null).toBe(!onBefore && (!snBefore || a.urgent));
          } else if (a.kind === 'sn') {
            piSetSuppress(pid, a.sn);
          } else {
            piSyncToIrr(pid, vapic);
            expect(piOn(pid)).toBe(false);
          }
          for (const v of posted) expect(piPirTest(pid, v) || lapicIrrTest(vapic, v)).toBe(true);
          expect(notifications).toBe(onRises);
        }
      }),
    );
  });

  it('decode(encode(x)) == x for the descriptor layouts', () => {
    const control = fc.record({
      on: fc.nat(1),
      sn: fc.nat(1),
      reservedLow: fc.nat(0x3fff),
      nv: fc.nat(0xff),
      reservedNv: fc.nat(0xff),
      ndst: fc.nat(0xffffffff),
      reservedHigh0: fc.nat(0xffffffff),
      reservedHigh1: fc.nat(0xffffffff),
    });
    const tail = fc.record({
      reserved0: fc.nat(0xffffffff),
      reserved1: fc.nat(0xffffffff),
      reserved2: fc.nat(0xffffffff),
      reserved3: fc.nat(0xffffffff),
    });
    const ndst = fc.record({
      reservedLow: fc.nat(0xff),
      apicId: fc.nat(0xff),
      reservedHigh: fc.nat(0xffff),
    });
    fc.assert(
      fc.property(control, tail, ndst, (c, t, n) => {
        expect(decode(PID_CONTROL, encode(PID_CONTROL, c))).toEqual(c);
        expect(decode(PID_TAIL, encode(PID_TAIL, t))).toEqual(t);
        expect(decode(NDST_XAPIC, encode(NDST_XAPIC, n))).toEqual(n);
      }),
    );
  });
});
