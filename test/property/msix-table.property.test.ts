// Properties of the MSI-X table under arbitrary software: any sequence of dword writes (including
// ones a well-behaved driver never does: changing unmasked entries, odd reserved bits), Message
// Control changes and device raises. The bookkeeping here is the test's own, from the effects.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode, encode } from '../../src/hw/bits.js';
import type { RequesterId } from '../../src/hw/pci/bdf.js';
import {
  MSIX_TABLE_ENTRY,
  type MsixControl,
  msixControlWritten,
  msixEntryPending,
  msixPendingCount,
  msixRaise,
  msixTableRead,
  msixTableWrite,
  newMsixTable,
  type SignalEffect,
} from '../../src/hw/pci/msix-table.js';

const ENTRIES = 3;
const RID = 0x28 as RequesterId;

type Action =
  | { kind: 'write'; entry: number; reg: number; value: number }
  | { kind: 'raise'; entry: number }
  | { kind: 'control'; enable: boolean; functionMask: boolean };

// Biased towards what makes the interesting interleavings likely: Vector Control writes that
// toggle the Mask Bit, raises, and MSI-X mostly enabled; any dword value can still appear.
const entry = fc.nat(ENTRIES - 1);
const value = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(0, 1) },
  { weight: 1, arbitrary: fc.constantFrom(0xfee00418, 0x10001) },
  { weight: 1, arbitrary: fc.nat(0xffffffff) },
);
const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('write' as const),
      entry,
      reg: fc.oneof({ weight: 2, arbitrary: fc.constant(3) }, { weight: 1, arbitrary: fc.nat(3) }),
      value,
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('raise' as const), entry }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('control' as const),
      enable: fc.oneof(
        { weight: 4, arbitrary: fc.constant(true) },
        { weight: 1, arbitrary: fc.constant(false) },
      ),
      functionMask: fc.boolean(),
    }),
  },
);

describe('MSI-X table properties', () => {
  it('never sends while the entry or function is masked, and never loses a raise', () => {
    fc.assert(
      fc.property(
        fc.array(action, { maxLength: 80 }),
        fc.constant(true),
        fc.boolean(),
        (actions, enable, functionMask) => {
          const t = newMsixTable(ENTRIES, RID);
          let ctl: MsixControl = { enable, functionMask };
          const raised = new Array<number>(ENTRIES).fill(0);
          const sent = new Array<number>(ENTRIES).fill(0);
          const coalesced = new Array<number>(ENTRIES).fill(0);
          const masked = (e: number) => (msixTableRead(t, e * 16 + 12).value & 1) === 1;
          const check = (effects: SignalEffect[]) => {
            for (const fx of effects) {
              if (fx.kind === 'msi-write') {
                sent[fx.index]++;
                expect(ctl.enable && !ctl.functionMask && !masked(fx.index)).toBe(true);
                // The message is the entry's content at that moment.
                const base = fx.index * 16;
                expect(fx.tx.addrLo).toBe(msixTableRead(t, base).value);
                expect(fx.tx.addrHi).toBe(msixTableRead(t, base + 4).value);
                expect(fx.tx.data).toBe(msixTableRead(t, base + 8).value);
                expect(fx.tx.requesterId).toBe(RID);
              }
              if (fx.kind === 'coalesced') coalesced[fx.index]++;
              if (fx.kind === 'set-pending') {
                expect(ctl.enable).toBe(true);
                expect(ctl.functionMask || masked(fx.index)).toBe(true);
              }
            }
          };
          for (const a of actions) {
            switch (a.kind) {
              case 'write':
                check(msixTableWrite(t, ctl, a.entry * 16 + a.reg * 4, a.value).effects);
                break;
              case 'raise':
                if (ctl.enable) raised[a.entry]++;
                check([msixRaise(t, ctl, a.entry)]);
                break;
              case 'control':
                ctl = { enable: a.enable, functionMask: a.functionMask };
                check(msixControlWritten(t, ctl));
                break;
            }
            for (let e = 0; e < ENTRIES; e++) {
              const pending = msixEntryPending(t, e) ? 1 : 0;
              expect(sent[e] + coalesced[e] + pending).toBe(raised[e]);
              // Nothing is left pending on an entry that could send it.
              if (ctl.enable && !ctl.functionMask && !masked(e)) expect(pending).toBe(0);
            }
          }
          const total = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
          expect(t.counters.raised).toBe(total(raised));
          expect(t.counters.sent + t.counters.coalesced + msixPendingCount(t)).toBe(
            t.counters.raised,
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('decode(encode(x)) == x for the MSI-X table entry layout', () => {
    const arb = fc.record({
      messageAddress: fc.nat(0xffffffff),
      messageUpperAddress: fc.nat(0xffffffff),
      messageData: fc.nat(0xffffffff),
      mask: fc.nat(1),
      reservedVectorControl: fc.nat(2 ** 31 - 1),
    });
    fc.assert(
      fc.property(arb, (x) => {
        expect(decode(MSIX_TABLE_ENTRY, encode(MSIX_TABLE_ENTRY, x))).toEqual(x);
      }),
    );
  });
});
