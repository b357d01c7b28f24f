// Properties of every PCI layout and of configWrite (fast-check): decode(encode(x)) == x for each
// register/structure layout; a config write never changes a byte outside the access, never
// changes a read-only register, and leaves RW fields equal to what was written.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode, encode, type Layout } from '../../../src/hw/bits.js';
import { InputError } from '../../../src/hw/errors.js';
import { AER_REGISTERS } from '../../../src/hw/pci/aer-capability.js';
import {
  CAPABILITY_HEADER,
  EXTENDED_CAPABILITY_HEADER,
} from '../../../src/hw/pci/capability-ids.js';
import type { ConfigRegister } from '../../../src/hw/pci/config-register.js';
import {
  BAR_LAYOUT,
  CLASS_CODE,
  IO_BAR_LAYOUT,
  readConfig,
  TYPE0_HEADER,
} from '../../../src/hw/pci/config-space.js';
import { buildConfigSpace } from '../../../src/hw/pci/config-space-builder.js';
import { configRegisterMap, configWrite } from '../../../src/hw/pci/config-write.js';
import { msiRegisters } from '../../../src/hw/pci/msi-capability.js';
import { MSIX_REGISTERS } from '../../../src/hw/pci/msix-capability.js';
import { PASID_REGISTERS } from '../../../src/hw/pci/pasid-capability.js';
import { PCIE_REGISTERS_V2 } from '../../../src/hw/pci/pcie-capability.js';
import { PM_REGISTERS } from '../../../src/hw/pci/pm-capability.js';
import {
  SATA_CAPABILITY_REGISTER_0,
  SATA_CAPABILITY_REGISTER_1,
} from '../../../src/hw/pci/sata-capability.js';
import { SRIOV_REGISTERS } from '../../../src/hw/pci/sriov-capability.js';
import {
  VENDOR_CAPABILITY_HEADER,
  VENDOR_SPECIFIC_EXTENDED_HEADER,
  VIRTIO_PCI_CAP_BAR,
} from '../../../src/hw/pci/vendor-capability.js';

const REGISTERS: ConfigRegister[] = [
  ...TYPE0_HEADER,
  CAPABILITY_HEADER,
  EXTENDED_CAPABILITY_HEADER,
  ...msiRegisters(true, true),
  ...msiRegisters(false, false),
  ...MSIX_REGISTERS,
  ...PCIE_REGISTERS_V2,
  ...PM_REGISTERS,
  ...SRIOV_REGISTERS,
  ...PASID_REGISTERS,
  ...AER_REGISTERS,
];
const LAYOUTS: Layout[] = [
  ...new Set<Layout>([
    ...REGISTERS.map((r) => r.layout),
    BAR_LAYOUT,
    IO_BAR_LAYOUT,
    CLASS_CODE,
    VENDOR_CAPABILITY_HEADER,
    VENDOR_SPECIFIC_EXTENDED_HEADER,
    VIRTIO_PCI_CAP_BAR,
    SATA_CAPABILITY_REGISTER_0,
    SATA_CAPABILITY_REGISTER_1,
  ]),
];

/** Arbitrary values for every field of a layout, each within its width. */
const fieldValues = (layout: Layout) =>
  fc.record(
    Object.fromEntries(
      Object.entries(layout.fields).map(([name, [hi, lo]]) => [
        name,
        fc.integer({ min: 0, max: 2 ** (hi - lo + 1) - 1 }),
      ]),
    ),
  );

describe('every PCI layout round-trips', () => {
  for (const layout of LAYOUTS) {
    it(`${layout.name}: decode(encode(x)) == x`, () => {
      fc.assert(
        fc.property(fieldValues(layout), (values) => {
          expect(decode(layout, encode(layout, values))).toEqual(values);
        }),
        { numRuns: 200 },
      );
    });
  }
});

const device = () =>
  buildConfigSpace({
    vendorId: 0x8086,
    deviceId: 0x0b25,
    classCode: 0x088000,
    capabilities: [
      { kind: 'pcie', devicePortType: 'rootComplexIntegratedEndpoint' },
      {
        kind: 'msix',
        tableSize: 9,
        tableBir: 0,
        tableOffset: 0x2000,
        pbaBir: 0,
        pbaOffset: 0x3000,
      },
      { kind: 'msi', count: 1, is64: true, perVectorMasking: true },
      { kind: 'pm' },
      { kind: 'sriov', totalVfs: 4, firstVfOffset: 1, vfStride: 1, vfDeviceId: 0x0b26 },
      { kind: 'pasid', maxPasidWidth: 20, privilegedMode: true },
    ],
  });

const READ_ONLY = new Set(['RO', 'HwInit', 'RsvdP']);

const access = fc.constantFrom<1 | 2 | 4>(1, 2, 4).chain((size) =>
  fc.record({
    size: fc.constant(size),
    offset: fc.integer({ min: 0, max: Math.floor(0x17f / size) }).map((n) => n * size),
    value: fc.integer({ min: 0, max: 256 ** size - 1 }),
  }),
);

describe('configWrite properties', () => {
  it('never changes a byte outside the access, nor a register whose fields are all read-only', () => {
    fc.assert(
      fc.property(fc.array(access, { minLength: 1, maxLength: 12 }), (writes) => {
        const space = device();
        const map = configRegisterMap(space, 'test'); // writes never move capabilities
        for (const { offset, size, value } of writes) {
          const before = Uint8Array.from(space.bytes);
          configWrite(space, offset, size, value);
          const changedOutside = space.bytes.findIndex(
            (b, at) => (at < offset || at >= offset + size) && b !== before[at],
          );
          expect(changedOutside).toBe(-1);
          for (let at = offset; at < offset + size; at++) {
            const placed = map.get(at);
            const readOnly =
              placed === undefined ||
              Object.values(placed.register.attributes).every((a) => READ_ONLY.has(a));
            if (readOnly) expect(space.bytes[at]).toBe(before[at]);
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('RW fields read back what a full-width write put there', () => {
    fc.assert(
      fc.property(fc.array(access, { minLength: 1, maxLength: 12 }), (writes) => {
        const space = device();
        const map = configRegisterMap(space, 'test');
        for (const { offset, size, value } of writes) {
          const result = configWrite(space, offset, size, value);
          for (const r of result.registers) {
            const placed = map.get(r.offset)!;
            if (placed.register.size !== size || r.offset !== offset) continue;
            const written = decode(placed.register.layout, [value]);
            const after = decode(placed.register.layout, [readConfig(space, r.offset, size)]);
            for (const [field, attribute] of Object.entries(placed.register.attributes)) {
              if (attribute === 'RW' && field !== 'extendedMessageDataEnable') {
                expect(after[field]).toBe(written[field]);
              }
            }
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('rejects misaligned accesses with an InputError and changes nothing', () => {
    const space = device();
    const before = Uint8Array.from(space.bytes);
    expect(() => configWrite(space, 0x7e, 4, 0)).toThrow(InputError);
    expect(space.bytes).toEqual(before);
  });
});
