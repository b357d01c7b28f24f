// Properties of the pv host over random call sequences (docs/pv-abi.md, "Invariants"): at most
// one pair per (device, type, index); the host IRTEs in use are exactly the VM's allocations (no
// double allocation, no leak); RETARGET never changes a pair; releasing everything, or tearing
// the VM down, returns every IRTE; a failed call changes nothing.
import fc from 'fast-check';
import { expect, test } from 'vitest';
import type { PvGetMsgArgs, PvIrqType } from '../../src/hv/pv-abi.js';
import {
  pvAllocationOf,
  pvDeviceRestore,
  pvDeviceRevoke,
  pvGetMsg,
  pvGetMsgBatch,
  pvNegotiate,
  pvRelease,
  pvRetarget,
  pvVmCreate,
  pvVmTeardown,
} from '../../src/hv/pv-host.js';
import { CAPS, DEVICES, fakeHost, irteOf, irtesInUse, NIC, SUB } from './pv-helpers.js';

type Op =
  | { op: 'get' | 'retarget' | 'release'; a: PvGetMsgArgs }
  | { op: 'batch'; as: PvGetMsgArgs[] }
  | { op: 'revoke' | 'restore'; sub: boolean };

/** Mostly valid arguments, sometimes out of range, so errors are exercised too. */
const entry: fc.Arbitrary<PvGetMsgArgs> = fc
  .record({
    sub: fc.boolean(),
    index: fc.integer({ min: 0, max: 9 }),
    vcpu: fc.integer({ min: 0, max: 4 }),
    vector: fc.integer({ min: 0x1e, max: 0x26 }),
  })
  .map(({ sub, index, vcpu, vector }) => ({
    device: sub ? SUB : NIC,
    type: (sub ? 'ims' : 'msix') as PvIrqType,
    index,
    vcpu,
    vector,
  }));

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('get' as const), a: entry }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('retarget' as const), a: entry }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('release' as const), a: entry }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('batch' as const),
      as: fc.array(entry, { minLength: 1, maxLength: 5 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('revoke' as const), sub: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('restore' as const), sub: fc.boolean() }) },
);

const key = (a: { device: number; type: string; index: number }) =>
  `${a.device}:${a.type}:${a.index}`;

test('random call sequences: no double allocation, IRTEs == allocations, no leak', () => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 60 }), fc.integer({ min: 1, max: 12 }), (ops, n) => {
      const host = fakeHost(n);
      const vm = pvVmCreate({ vm: 0, vcpuCount: 4, devices: DEVICES });
      pvNegotiate(CAPS, vm, { version: 1, features: { allByHypercall: true, batch: true } });
      for (const o of ops) {
        const before = JSON.stringify(vm.allocations);
        const irtesBefore = JSON.stringify(host.irtes);
        let failed = false;
        switch (o.op) {
          case 'get':
            failed = !pvGetMsg(vm, host.backend, o.a).ok;
            break;
          case 'retarget': {
            const held = pvAllocationOf(vm, o.a);
            const r = pvRetarget(vm, host.backend, o.a);
            failed = !r.ok;
            if (r.ok && held) {
              expect([r.addrLo, r.addrHi, r.data]).toEqual([held.addrLo, held.addrHi, held.data]);
              expect(irteOf(host, r)).toEqual({ vm: 0, vcpu: o.a.vcpu, vector: o.a.vector });
            }
            break;
          }
          case 'release':
            failed = !pvRelease(vm, host.backend, o.a).ok;
            break;
          case 'batch':
            pvGetMsgBatch(vm, host.backend, o.as);
            break;
          case 'revoke':
            pvDeviceRevoke(vm, host.backend, o.sub ? SUB : NIC);
            break;
          case 'restore':
            pvDeviceRestore(vm, o.sub ? SUB : NIC);
            break;
        }
        if (failed) {
          expect(JSON.stringify(vm.allocations)).toBe(before);
          expect(JSON.stringify(host.irtes)).toBe(irtesBefore);
        }
        const keys = vm.allocations.map(key);
        expect(new Set(keys).size).toBe(keys.length);
        expect(irtesInUse(host)).toBe(vm.allocations.length);
        for (const a of vm.allocations) {
          expect(irteOf(host, a)).toEqual({ vm: 0, vcpu: a.vcpu, vector: a.vector });
        }
      }
      // Release everything the guest holds, one by one: nothing is left on the host.
      for (const d of [NIC, SUB]) pvDeviceRestore(vm, d);
      for (const a of [...vm.allocations]) expect(pvRelease(vm, host.backend, a).ok).toBe(true);
      expect(irtesInUse(host)).toBe(0);
      expect(pvVmTeardown(vm, host.backend)).toEqual([]);
    }),
    { numRuns: 300 },
  );
});

test('teardown at any point returns every IRTE', () => {
  fc.assert(
    fc.property(fc.array(entry, { maxLength: 20 }), (gets) => {
      const host = fakeHost(8);
      const vm = pvVmCreate({ vm: 0, vcpuCount: 4, devices: DEVICES });
      pvNegotiate(CAPS, vm, { version: 1, features: { allByHypercall: true, batch: false } });
      for (const a of gets) pvGetMsg(vm, host.backend, a);
      const held = vm.allocations.length;
      expect(pvVmTeardown(vm, host.backend)).toHaveLength(held);
      expect(irtesInUse(host)).toBe(0);
    }),
  );
});
