// Properties of the IMS store under arbitrary software writes interleaved with device raises.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode, encode } from '../../src/hw/bits.js';
import {
  IMS_ENTRY,
  imsEntryPending,
  imsPendingCount,
  imsRaise,
  imsRead,
  imsWrite,
  newImsStore,
} from '../../src/hw/ims/ims-store.js';
import type { RequesterId } from '../../src/hw/pci/bdf.js';
import type { SignalEffect } from '../../src/hw/pci/msix-table.js';

const ENTRIES = 3;
const RID = 0x6a08 as RequesterId;

type Action =
  | { kind: 'write'; entry: number; reg: number; value: number }
  | { kind: 'raise'; entry: number };

// Biased towards control-dword writes that toggle Mask, and raises; any value can still appear.
const entry = fc.nat(ENTRIES - 1);
const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({
    kind: fc.constant('write' as const),
    entry,
    reg: fc.oneof({ weight: 2, arbitrary: fc.constant(3) }, { weight: 1, arbitrary: fc.nat(3) }),
    value: fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(0, 1, 0x5008, 0x5009) },
      { weight: 1, arbitrary: fc.nat(0xffffffff) },
    ),
  }),
  fc.record({ kind: fc.constant('raise' as const), entry }),
);

describe('IMS store properties', () => {
  it('never sends while an entry is masked, and never loses a raise', () => {
    fc.assert(
      fc.property(fc.array(action, { maxLength: 80 }), (actions) => {
        const s = newImsStore(ENTRIES, RID);
        const raised = new Array<number>(ENTRIES).fill(0);
        const sent = new Array<number>(ENTRIES).fill(0);
        const coalesced = new Array<number>(ENTRIES).fill(0);
        const masked = (e: number) => (imsRead(s, e * 16 + 12).value & 1) === 1;
        const check = (effects: SignalEffect[]) => {
          for (const fx of effects) {
            if (fx.kind === 'msi-write') {
              sent[fx.index]++;
              expect(masked(fx.index)).toBe(false);
              expect(fx.tx.addrLo).toBe(imsRead(s, fx.index * 16).value);
              expect(fx.tx.data).toBe(imsRead(s, fx.index * 16 + 8).value);
            }
            if (fx.kind === 'coalesced') coalesced[fx.index]++;
            if (fx.kind === 'set-pending') expect(masked(fx.index)).toBe(true);
          }
        };
        for (const a of actions) {
          if (a.kind === 'write') {
            check(imsWrite(s, a.entry * 16 + a.reg * 4, a.value).effects);
          } else {
            raised[a.entry]++;
            check([imsRaise(s, a.entry)]);
          }
          for (let e = 0; e < ENTRIES; e++) {
            const pending = imsEntryPending(s, e) ? 1 : 0;
            expect(sent[e] + coalesced[e] + pending).toBe(raised[e]);
            if (!masked(e)) expect(pending).toBe(0);
          }
        }
        expect(s.counters.sent + s.counters.coalesced + imsPendingCount(s)).toBe(s.counters.raised);
      }),
    );
  });

  it('decode(encode(x)) == x for the IMS entry layout', () => {
    const arb = fc.record({
      messageAddress: fc.nat(0xffffffff),
      messageUpperAddress: fc.nat(0xffffffff),
      messageData: fc.nat(0xffffffff),
      mask: fc.nat(1),
      reservedInterruptControl: fc.nat(3),
      pasidEnable: fc.nat(1),
      reservedControl: fc.nat(0xff),
      pasid: fc.nat(0xfffff),
    });
    fc.assert(
      fc.property(arb, (x) => {
        expect(decode(IMS_ENTRY, encode(IMS_ENTRY, x))).toEqual(x);
      }),
    );
  });
});
