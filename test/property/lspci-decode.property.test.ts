// Property: `lspci -vvv` text for arbitrary config bytes. lspci never rejects a dump: whatever the
// bytes, irqlab's decoder prints a paragraph and throws nothing. And the extended list is walked
// as pciutils 3.9's show_ext_caps walks it (ls-ecaps.c), restated here from the C loop:
//   where = 0x100; do { header = dword(where); if (!header || header == ~0) break;
//     print "[where vN]"; if (been_there[where]++) { print "<chain looped>"; break; }
//     ...; where = (header >> 20) & ~3; } while (where);
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ConfigSpace, setConfig } from '../../src/hw/pci/config-space.js';
import { formatLspciFunction } from '../../src/report/lspci.js';

const text = (space: ConfigSpace) => formatLspciFunction({ bdf: undefined, space });

/** The `[xxx vN]` offsets show_ext_caps prints, and whether it ended with "<chain looped>". */
function lspciExtendedWalk(bytes: Uint8Array): { offsets: number[]; looped: boolean } {
  const dword = (at: number) =>
    (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
  const seen = new Set<number>();
  const offsets: number[] = [];
  let where = 0x100;
  do {
    const header = dword(where);
    if (header === 0 || header === 0xffffffff) break;
    offsets.push(where);
    if (seen.has(where)) return { offsets, looped: true };
    seen.add(where);
    where = Math.floor(header / 2 ** 20) & ~3;
  } while (where);
  return { offsets, looped: false };
}

/** A Type 0 function whose only standard capability is PCIe, so the extended list is shown. */
function pcieFunction(bytes: Uint8Array): ConfigSpace {
  const space = { bytes };
  setConfig(space, 0x06, 2, 0x0010);
  setConfig(space, 0x0e, 1, 0x00);
  setConfig(space, 0x34, 1, 0x40);
  setConfig(space, 0x40, 2, 0x0010);
  return space;
}

/** An extended list of `links` [offset, next] written over random bytes. */
const extendedChain = fc.array(
  fc.tuple(fc.integer({ min: 0x40, max: 0x3ff }), fc.integer({ min: 0, max: 0xfff })),
  { minLength: 1, maxLength: 12 },
);

describe('property: lspci text for arbitrary config bytes', () => {
  it('never throws, for any bytes and any header type (256 or 4096 bytes)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 4096, maxLength: 4096 }),
        fc.boolean(),
        (bytes, ext) => {
          const space = { bytes: ext ? bytes : bytes.slice(0, 256) };
          // Most runs force a capability list, a header layout lspci knows (0, 1, 2) and, in a
          // third of them, a PCIe capability at 0x40 of random contents so that its block and the
          // extended list are decoded too.
          if (bytes[1] % 4 !== 0) {
            setConfig(space, 0x06, 2, 0x0010);
            setConfig(space, 0x0e, 1, bytes[0x0e] % 3);
          }
          if (bytes[1] % 3 === 0) {
            setConfig(space, 0x34, 1, 0x40);
            setConfig(space, 0x14, 1, 0x40);
            setConfig(space, 0x40, 1, 0x10);
          }
          expect(text(space).endsWith('\n\n')).toBe(true);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('a PCIe function prints the extended list show_ext_caps prints: masked, loops end it', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 4096, maxLength: 4096 }),
        extendedChain,
        (bytes, links) => {
          const space = pcieFunction(bytes);
          // Each link: a header at 0x100 + 4*slot (dword slots 0x100-0xffc), its next pointer
          // unmasked (bits 1:0 random), a non-zero ID.
          let at = 0x100;
          for (const [slot, next] of links) {
            setConfig(space, at, 4, ((next * 2 ** 20) | 0x10000 | 0x18) >>> 0);
            at = 0x100 + 4 * (slot % 0x3c0);
          }
          const printed = text(space)
            .split('\n')
            .map((l) => /^\tCapabilities: \[([0-9a-f]{3}) v\d+\] (.*)$/.exec(l))
            .filter((m) => m !== null);
          const expected = lspciExtendedWalk(space.bytes);
          expect(printed.map((m) => Number.parseInt(m[1], 16))).toEqual(expected.offsets);
          expect(printed.at(-1)?.[2] === '<chain looped>').toBe(expected.looped);
          for (const m of printed) expect(Number.parseInt(m[1], 16) % 4).toBe(0);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
