// The check view's reading of a changed word's name (scenario/run-check.ts's region names) and of
// its bits: expected values from the SDM's posted-interrupt descriptor (29.6: PIR bits 255:0, one
// per vector; ON bit 256, SN bit 257, NDST bits 319:288) and the VT-d IRTE (9.10: P is bit 0),
// written by hand, and properties over every word offset and every word.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bitList, regionOf } from '../../web/check.js';

describe('regionOf', () => {
  const cases: [string, string, { region: string; at: string; bit0: number }][] = [
    [
      'a PIR word (vectors 63:32)',
      'vcpuPid[vm0/vcpu0]+1',
      { region: 'vcpuPid[vm0/vcpu0]', at: '+1', bit0: 32 },
    ],
    [
      'the descriptor control word (ON, SN)',
      'vcpuPid[vm0/vcpu0]+8',
      { region: 'vcpuPid[vm0/vcpu0]', at: '+8', bit0: 256 },
    ],
    ["an item's first word", 'irt[IRTE 3]', { region: 'irt[IRTE 3]', at: '+0', bit0: 0 }],
    [
      'a named word of an item',
      'vectorCounters[vm0/dev0/0].lost',
      { region: 'vectorCounters[vm0/dev0/0]', at: '.lost', bit0: 0 },
    ],
    [
      'a flat region with a dot in its name',
      'dev0.entries+3',
      { region: 'dev0.entries', at: '+3', bit0: 0 },
    ],
    [
      "a flat region's first word",
      'check.raisesLeft',
      { region: 'check.raisesLeft', at: '+0', bit0: 0 },
    ],
  ];
  for (const [what, word, expected] of cases) {
    it(what, () => expect(regionOf(word)).toEqual(expected));
  }

  it('numbers an IRR bit as its vector, a descriptor bit as the SDM does', () => {
    // Vector 0x21 is bit 1 of IRR dword 1; ON is bit 0 of dword 8 and SN bit 1; NDST is dword 9.
    expect(bitList(1 << 1, regionOf('pcpuIrr[cpu0]+1').bit0)).toBe(String(0x21));
    expect(bitList(0b11, regionOf('vcpuPid[vm0/vcpu0]+8').bit0)).toBe('256, 257');
    expect(bitList(1 << 31, regionOf('vcpuPid[vm0/vcpu0]+9').bit0)).toBe('319');
    expect(bitList(1, regionOf('irt[IRTE 0]').bit0)).toBe('0');
    expect(bitList(0)).toBe('-');
  });

  it('keeps the region whatever the offset, and the first bit is 32 per dword', () => {
    fc.assert(
      fc.property(fc.nat(4095), (n) => {
        const r = regionOf(`vcpuVirr[vm0/vcpu1]+${n}`);
        return r.region === 'vcpuVirr[vm0/vcpu1]' && r.at === `+${n}` && r.bit0 === 32 * n;
      }),
    );
  });

  it('lists the set bits of a word, low to high', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 31 }), { maxLength: 32 }), (bits) => {
        const word = bits.reduce((w, b) => (w | (1 << b)) >>> 0, 0);
        const shown = bitList(word);
        return shown === (bits.length === 0 ? '-' : [...bits].sort((a, b) => a - b).join(', '));
      }),
    );
  });
});
