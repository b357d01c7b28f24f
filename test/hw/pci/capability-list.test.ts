// The capability walk on real dumps (fixtures) and on broken lists: every broken list is an
// InputError naming the offset (PCIe 6.0, 7.5.1.1.11: pointers are DWORD aligned and point into
// 0x40-0xff; 7.6.3: extended capabilities live at 0x100-0xfff).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/hw/errors.js';
import { CAP_ID, EXT_CAP_ID } from '../../../src/hw/pci/capability-ids.js';
import { walkCapabilities } from '../../../src/hw/pci/capability-list.js';
import { parseConfigDump } from '../../../src/hw/pci/config-dump.js';
import { type ConfigSpace, emptyConfigSpace, setConfig } from '../../../src/hw/pci/config-space.js';
import { readFixtureBytes } from '../../fixtures.js';

/** A space with Status.Capabilities List set and the given standard list. */
function withList(
  size: 256 | 4096,
  pointer: number,
  caps: [at: number, id: number, next: number][],
) {
  const space = emptyConfigSpace(size);
  setConfig(space, 0x06, 2, 0x0010);
  setConfig(space, 0x34, 1, pointer);
  for (const [at, id, next] of caps) {
    setConfig(space, at, 1, id);
    setConfig(space, at + 1, 1, next);
  }
  return space;
}

describe('walkCapabilities on recorded config spaces', () => {
  it('finds virtio-net 00:03.0 of vm-virtio-pci: vendor caps 0x40-0x84, then MSI-X at 0x98', () => {
    const dump = parseConfigDump(readFixtureBytes('vm-virtio-pci/0000:00:03.0.config.bin'), 'f');
    const caps = walkCapabilities(dump.functions[0].space);
    expect(caps.map((c) => [c.id, c.offset])).toEqual([
      [CAP_ID.vendorSpecific, 0x40],
      [CAP_ID.vendorSpecific, 0x50],
      [CAP_ID.vendorSpecific, 0x60],
      [CAP_ID.vendorSpecific, 0x70],
      [CAP_ID.vendorSpecific, 0x84],
      [CAP_ID.msix, 0x98],
    ]);
  });
  it('finds the e1000e extended list of qemu-q35-ir: AER v2 at 0x100, DSN v1 at 0x140', () => {
    const dump = parseConfigDump(readFixtureBytes('qemu-q35-ir/lspci-xxxx.txt'), 'f');
    const e1000e = dump.functions.find((f) => f.bdf?.device === 4)!;
    const ext = walkCapabilities(e1000e.space).filter((c) => c.extended);
    expect(ext).toEqual([
      { id: EXT_CAP_ID.advancedErrorReporting, offset: 0x100, extended: true, version: 2 },
      { id: EXT_CAP_ID.deviceSerialNumber, offset: 0x140, extended: true, version: 1 },
    ]);
  });
  it('returns nothing when Status.Capabilities List is clear, whatever 0x34 holds', () => {
    const space = withList(256, 0x40, [[0x40, CAP_ID.msi, 0]]);
    setConfig(space, 0x06, 2, 0);
    expect(walkCapabilities(space)).toEqual([]);
  });
});

describe('broken lists are InputErrors naming the offset', () => {
  const walk = (space: ConfigSpace) => () => walkCapabilities(space, 'dump.bin');
  it('a list that loops back', () => {
    const space = withList(256, 0x40, [
      [0x40, CAP_ID.msi, 0x50],
      [0x50, CAP_ID.msix, 0x40],
    ]);
    expect(walk(space)).toThrow(InputError);
    expect(walk(space)).toThrow('dump.bin: capability pointer 0x40 at 0x51: loops back');
  });
  it('a pointer into the header', () => {
    expect(walk(withList(256, 0x20, []))).toThrow(
      'dump.bin: capability pointer 0x20 at 0x34: points into the header (below 0x40)',
    );
  });
  it('an all-ones capability ID (a broken chain)', () => {
    expect(walk(withList(256, 0x40, [[0x40, 0xff, 0]]))).toThrow(/capability ID 0xff/);
  });
  it('an extended capability pointing below 0x100 or looping', () => {
    const below = emptyConfigSpace(4096);
    setConfig(below, 0x100, 4, 0x08000001); // next 0x080
    expect(walk(below)).toThrow('extended capability pointer 0x80 at 0x100: points below 0x100');
    const loop = emptyConfigSpace(4096);
    setConfig(loop, 0x100, 4, 0x10010001); // next 0x100 [31:20], version 1 [19:16], ID 1
    expect(walk(loop)).toThrow(/0x100 at 0x100: loops back/);
  });
});

describe('pointer bits 1:0 are reserved: software masks them (PCI 3.0 6.7, PCIe 6.0 7.6.3)', () => {
  it('a standard pointer 0x42 is read as 0x40, and a next pointer 0x53 as 0x50', () => {
    const space = withList(256, 0x42, [
      [0x40, CAP_ID.msi, 0x53],
      [0x50, CAP_ID.msix, 0],
    ]);
    expect(walkCapabilities(space).map((c) => [c.id, c.offset])).toEqual([
      [CAP_ID.msi, 0x40],
      [CAP_ID.msix, 0x50],
    ]);
  });
  it('an extended Next Capability Offset 0x102 is read as 0x100: a loop, an InputError', () => {
    const space = emptyConfigSpace(4096);
    setConfig(space, 0x100, 4, 0x10210001); // next 0x102 [31:20]: masked to 0x100
    expect(() => walkCapabilities(space, 'dump.bin')).toThrow(/0x100 at 0x100: loops back/);
  });
});

describe('property: the walk on arbitrary bytes', () => {
  it('terminates and throws nothing but InputError, and every entry it returns is in bounds', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 4096, maxLength: 4096 }),
        fc.boolean(),
        (bytes, extended) => {
          const space = { bytes: extended ? bytes : bytes.slice(0, 256) };
          try {
            for (const cap of walkCapabilities(space)) {
              expect(cap.offset % 4).toBe(0);
              expect(cap.offset).toBeGreaterThanOrEqual(cap.extended ? 0x100 : 0x40);
              expect(cap.offset + 4).toBeLessThanOrEqual(space.bytes.length);
            }
          } catch (error) {
            if (!(error instanceof InputError)) throw error;
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
  it('a list built to chain every slot 0x40..0xfc is walked once, then a loop is caught', () => {
    const space = withList(256, 0x40, []);
    for (let at = 0x40; at <= 0xfc; at += 4) {
      setConfig(space, at, 1, CAP_ID.vendorSpecific);
      setConfig(space, at + 1, 1, at === 0xfc ? 0x40 : at + 4);
    }
    expect(() => walkCapabilities(space)).toThrow(/0x40 at 0xfd: loops back/);
  });
});
