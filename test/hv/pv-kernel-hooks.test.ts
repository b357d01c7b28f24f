// The guest kernel's hypercall hooks over the register-level pv ABI: a first compose is one
// GET_MSG, a compose for a moved target is one RETARGET returning the same pair, a batch of n new
// entries is one GET_MSG_BATCH, RELEASE frees the host IRTE (docs/pv-abi.md §6-9).
import { describe, expect, it } from 'vitest';
import { encodeCpuid, type PvRegs } from '../../src/hv/pv-abi.js';
import { pvGuestNegotiate } from '../../src/hv/pv-guest.js';
import { pvHostHypercall, pvVmCreate } from '../../src/hv/pv-host.js';
import { pvKernelHooks } from '../../src/hv/pv-kernel-hooks.js';
import type { KernelPlatform } from '../../src/kernel/platform.js';
import { CAPS, DEVICES, fakeHost, irteOf, irtesInUse, NIC } from './pv-helpers.js';

function guest(batch: boolean, irtes = 64) {
  const host = fakeHost(irtes);
  const vm = pvVmCreate({ vm: 3, vcpuCount: 4, devices: DEVICES });
  const page = { gpa: 0x10000, dwords: new Array<number>(1024).fill(0) };
  const vmcall = (regs: PvRegs) =>
    pvHostHypercall(CAPS, vm, host.backend, regs, {
      page: (gpa) => (gpa === page.gpa ? page.dwords : null),
    });
  const choice = pvGuestNegotiate({ cpuid: encodeCpuid(CAPS), want: { batch }, vmcall });
  const hooks = pvKernelHooks({
    vmcall,
    choice,
    batchPage: page,
    deviceOf: () => ({ handle: NIC, type: 'msix' }),
  });
  return { host, vm, hooks };
}

const req = (index: number, destApicId = 0, vector = 0x22) => ({
  bdf: '0000:01:00.0',
  index,
  vector,
  destApicId,
});

describe('pv kernel hooks', () => {
  it('first compose = GET_MSG, a moved target = RETARGET with the same pair', () => {
    const g = guest(false);
    const first = g.hooks.hypercallComposeMsi(req(0, 0, 0x22));
    const moved = g.hooks.hypercallComposeMsi(req(0, 2, 0x41));
    expect(moved).toEqual(first);
    expect(g.vm.calls).toMatchObject({ getMsg: 1, retarget: 1 });
    expect(irteOf(g.host, first)).toEqual({ vm: 3, vcpu: 2, vector: 0x41 });
    expect(g.hooks.hypercallBatch).toBeUndefined();
  });

  it('fits the guest kernel platform hooks as they are', () => {
    const hooks: Pick<KernelPlatform, 'hypercallComposeMsi' | 'hypercallBatch'> = guest(true).hooks;
    expect(hooks.hypercallBatch?.max).toBe(256);
  });

  it('pv-batch: n new entries with one hypercall', () => {
    const g = guest(true);
    const pairs = g.hooks.hypercallBatch?.composeMsi([0, 1, 2, 3, 4, 5].map((i) => req(i, i % 4)));
    expect(pairs).toHaveLength(6);
    expect(g.vm.calls).toMatchObject({ getMsgBatch: 1, getMsg: 0 });
    expect(irtesInUse(g.host)).toBe(6);
    expect(g.hooks.held).toHaveLength(6);
  });

  it('release frees the host IRTE and the entry can be obtained again', () => {
    const g = guest(false);
    g.hooks.hypercallComposeMsi(req(5));
    g.hooks.release('0000:01:00.0', 5);
    expect(irtesInUse(g.host)).toBe(0);
    expect(g.hooks.held).toEqual([]);
    g.hooks.hypercallComposeMsi(req(5));
    expect(g.vm.calls.getMsg).toBe(2);
  });

  it('a host refusal is a RuleError naming the ABI status; nothing is marked held', () => {
    const g = guest(false, 1);
    g.hooks.hypercallComposeMsi(req(0));
    expect(() => g.hooks.hypercallComposeMsi(req(1))).toThrow(/\[rule: pv-noResources\]/);
    expect(g.hooks.held).toHaveLength(1);
  });

  it('no hooks after a fallback to emulate', () => {
    const choice = pvGuestNegotiate({
      cpuid: encodeCpuid({ ...CAPS, present: false }),
      want: { batch: false },
      vmcall: () => {
        throw new Error('no call expected');
      },
    });
    expect(() =>
      pvKernelHooks({
        vmcall: () => [] as never,
        choice,
        deviceOf: () => ({ handle: 0, type: 'msix' }),
      }),
    ).toThrow(/pv-not-negotiated/);
  });
});
