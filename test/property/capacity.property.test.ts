// Property: the number of subdevices that fit is exact: that many fit every resource, and one
// more exceeds the resource named as the limit.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CAPACITY_RESOURCES,
  type CapacityShape,
  capacityAvailable,
  capacityUsage,
  subdevicesThatFit,
} from '../../src/hv/capacity.js';

const arbShape: fc.Arbitrary<CapacityShape> = fc.record({
  strategy: fc.constantFrom('emulate', 'vir', 'vir-direct', 'pv', 'pv-batch'),
  kind: fc.constantFrom('subdevice', 'vf'),
  backing: fc.constantFrom('intx', 'msi', 'msix', 'ims'),
  vectorsPerSubdevice: fc.integer({ min: 1, max: 2048 }),
  vms: fc.integer({ min: 1, max: 64 }),
  host: fc.record({
    cpus: fc.integer({ min: 1, max: 1024 }),
    ir: fc.boolean(),
    posted: fc.boolean(),
  }),
  parent: fc.record({
    msixEntries: fc.integer({ min: 0, max: 2048 }),
    msixReserved: fc.integer({ min: 0, max: 1 }),
    msiVectors: fc.constantFrom(0, 1, 2, 4, 8, 16, 32),
    imsEntries: fc.integer({ min: 0, max: 63 * 256 }),
    routingIdsLeft: fc.integer({ min: 0, max: 0xffff }),
  }),
}) as fc.Arbitrary<CapacityShape>;

describe('subdevicesThatFit (property)', () => {
  it('n fit every resource; n + 1 exceeds limitedBy', () => {
    fc.assert(
      fc.property(arbShape, (shape) => {
        const r = subdevicesThatFit(shape);
        const available = capacityAvailable(shape);
        const used = capacityUsage(shape, r.subdevices);
        const more = capacityUsage(shape, r.subdevices + 1);
        for (const res of CAPACITY_RESOURCES) expect(used[res]).toBeLessThanOrEqual(available[res]);
        expect(more[r.limitedBy]).toBeGreaterThan(available[r.limitedBy]);
      }),
      { numRuns: 300 },
    );
  });

  it('usage never decreases as subdevices are added', () => {
    fc.assert(
      fc.property(arbShape, fc.integer({ min: 0, max: 5000 }), (shape, n) => {
        const a = capacityUsage(shape, n);
        const b = capacityUsage(shape, n + 1);
        for (const res of CAPACITY_RESOURCES) expect(b[res]).toBeGreaterThanOrEqual(a[res]);
      }),
    );
  });
});
