// The pv calls end to end at register level: the guest wrappers (`pv-guest.ts`) encode, the
// host (`pv-host.ts`) decodes, validates, calls the IRTE backend, encodes; expected outcomes are
// the rules of docs/pv-abi.md ("Negotiation", "Status codes", "RETARGET", "Device reset").
import { describe, expect, it } from 'vitest';
import {
  encodeCpuid,
  encodeEntryArgs,
  PV_ARG_ENTRY,
  PV_CALL,
  PV_RAX_CALL,
  PV_RAX_STATUS,
  PV_STATUS,
  type PvGetMsgArgs,
  type PvRegs,
  zeroRegs,
} from '../../src/hv/pv-abi.js';
import {
  pvGuestGetMsg,
  pvGuestGetMsgBatch,
  pvGuestNegotiate,
  pvGuestRelease,
  pvGuestRetarget,
} from '../../src/hv/pv-guest.js';
import {
  type PvHostCaps,
  pvDeviceRestore,
  pvDeviceRevoke,
  pvDeviceUnplug,
  pvGetMsg,
  pvGetMsgBatch,
  pvHostHypercall,
  pvNegotiate,
  pvVmCreate,
  pvVmTeardown,
} from '../../src/hv/pv-host.js';
import { encode } from '../../src/hw/bits.js';
import { decodeMsiMessage } from '../../src/hw/x86/msi-message.js';
import { CAPS, DEVICES, fakeHost, irteOf, irtesInUse, NIC, SUB } from './pv-helpers.js';

function setup(opts: { caps?: PvHostCaps; irtes?: number; vcpus?: number } = {}) {
  const caps = opts.caps ?? CAPS;
  const host = fakeHost(opts.irtes ?? 64);
  const vm = pvVmCreate({ vm: 1, vcpuCount: opts.vcpus ?? 4, devices: DEVICES });
  const page = new Array<number>(1024).fill(0);
  const vmcall = (regs: PvRegs) =>
    pvHostHypercall(caps, vm, host.backend, regs, {
      page: (gpa) => (gpa === 0x7000 ? page : null),
    });
  return { caps, host, vm, vmcall, page };
}

function negotiated(batch = false) {
  const s = setup();
  const choice = pvGuestNegotiate({
    cpuid: encodeCpuid(s.caps),
    want: { batch },
    vmcall: s.vmcall,
  });
  expect(choice.strategy).toBe(batch ? 'pv-batch' : 'pv');
  return s;
}

const msix = (index: number, vcpu = 0, vector = 0x22): PvGetMsgArgs => ({
  device: NIC,
  type: 'msix',
  index,
  vcpu,
  vector,
});

const statusOf = (regs: PvRegs) => regs.rax[0];

describe('negotiation and fallback', () => {
  it('a host offering the capability: one NEGOTIATE, MSI/MSI-X emulation off for the VM', () => {
    const s = setup();
    expect(s.vm.msiEmulation).toBe(true);
    const choice = pvGuestNegotiate({
      cpuid: encodeCpuid(s.caps),
      want: { batch: false },
      vmcall: s.vmcall,
    });
    expect(choice).toMatchObject({ strategy: 'pv', version: 1, reason: 'negotiated', calls: 1 });
    expect(s.vm.msiEmulation).toBe(false);
    expect(s.vm.calls.negotiate).toBe(1);
  });

  it('wanting batch on a host that offers it gives pv-batch', () => {
    const s = negotiated(true);
    expect(s.vm.negotiated?.features).toEqual({ allByHypercall: true, batch: true });
  });

  it('capability absent: emulate, without a single hypercall', () => {
    const s = setup({ caps: { ...CAPS, present: false } });
    const choice = pvGuestNegotiate({
      cpuid: encodeCpuid(s.caps),
      want: { batch: true },
      vmcall: s.vmcall,
    });
    expect(choice).toMatchObject({ strategy: 'emulate', reason: 'absent', calls: 0 });
    expect(s.vm.msiEmulation).toBe(true);
  });

  it('a host that cannot drop emulation (no allByHypercall): emulate, no call', () => {
    const caps = { ...CAPS, features: { allByHypercall: false, batch: true } };
    const s = setup({ caps });
    const choice = pvGuestNegotiate({
      cpuid: encodeCpuid(caps),
      want: { batch: true },
      vmcall: s.vmcall,
    });
    expect(choice).toMatchObject({ strategy: 'emulate', reason: 'no-all-by-hypercall', calls: 0 });
  });

  it('refused by policy: emulate, and emulation stays on', () => {
    const s = setup({ caps: { ...CAPS, allow: false } });
    const choice = pvGuestNegotiate({
      cpuid: encodeCpuid(s.caps),
      want: { batch: false },
      vmcall: s.vmcall,
    });
    expect(choice).toMatchObject({ strategy: 'emulate', reason: 'policy', calls: 1 });
    expect(s.vm.msiEmulation).toBe(true);
    expect(s.vm.negotiated).toBeNull();
  });

  it('refused while emulated vectors are live (e.g. firmware enabled MSI-X): emulate', () => {
    const s = setup();
    s.vm.emulatedVectorsLive = 2;
    const choice = pvGuestNegotiate({
      cpuid: encodeCpuid(s.caps),
      want: { batch: false },
      vmcall: s.vmcall,
    });
    expect(choice).toMatchObject({ strategy: 'emulate', reason: 'emulatedVectorsLive' });
  });

  it('batch refused by a host whose CPUID was stale (migrated): retry without, pv, 2 calls', () => {
    const s = setup({ caps: { ...CAPS, features: { allByHypercall: true, batch: false } } });
    const choice = pvGuestNegotiate({
      cpuid: encodeCpuid(CAPS),
      want: { batch: true },
      vmcall: s.vmcall,
    });
    expect(choice).toMatchObject({ strategy: 'pv', reason: 'negotiated', calls: 2 });
  });

  it('a version above the host maximum is refused, naming the maximum', () => {
    const s = setup();
    const r = pvNegotiate(s.caps, s.vm, {
      version: 2,
      features: { allByHypercall: true, batch: false },
    });
    expect(r).toMatchObject({
      ok: false,
      status: 'refused',
      reason: 'versionUnsupported',
      maxVersion: 1,
    });
  });

  it('renegotiating while pairs are held is refused (allocationsLive)', () => {
    const s = negotiated();
    expect(pvGuestGetMsg(s.vmcall, msix(0)).ok).toBe(true);
    const r = pvNegotiate(s.caps, s.vm, {
      version: 1,
      features: { allByHypercall: true, batch: false },
    });
    expect(r).toMatchObject({ ok: false, reason: 'allocationsLive' });
  });
});

describe('NEGOTIATE at register level', () => {
  const call = (rbx: number[], rcx: number[]) => {
    const r = zeroRegs();
    r.rax = encode(PV_RAX_CALL, { nr: PV_CALL.negotiate });
    r.rbx = rbx;
    r.rcx = rcx;
    return r;
  };

  it('v1 with both features: RAX 0, RBX = accepted features 0b11, RCX = version 1', () => {
    const s = setup();
    const out = s.vmcall(call([1, 0], [3, 0]));
    expect([out.rax, out.rbx, out.rcx]).toEqual([
      [0, 0],
      [3, 0],
      [1, 0],
    ]);
  });

  it('v2 on a v1 host: RAX refused (12), RBX reason 1 | max version 1 << 16, RCX supported', () => {
    const s = setup();
    const out = s.vmcall(call([2, 0], [1, 0]));
    expect([out.rax, out.rbx, out.rcx]).toEqual([
      [12, 0],
      [0x0001_0001, 0],
      [3, 0],
    ]);
    expect(s.vm.negotiated).toBeNull();
  });

  it('a reserved feature bit is refused as featureUnsupported (reason 2)', () => {
    const s = setup();
    const out = s.vmcall(call([1, 0], [1 | (1 << 5), 0]));
    expect([out.rax[0], out.rbx[0]]).toEqual([12, 0x0001_0002]);
  });
});

describe('GET_MSG', () => {
  it('returns the remappable pair of the host IRTE the backend allocated, one call', () => {
    const s = negotiated();
    const r = pvGuestGetMsg(s.vmcall, msix(3, 2, 0x41));
    if (!r.ok) throw new Error(r.status);
    const m = decodeMsiMessage(r.addrLo, r.addrHi, r.data);
    expect(m.format).toBe('remappable');
    expect(irteOf(s.host, r)).toEqual({ vm: 1, vcpu: 2, vector: 0x41 });
    expect(s.vm.calls.getMsg).toBe(1);
    expect(s.vm.allocations).toHaveLength(1);
  });

  it('IMS and MSI-X get their pairs the same way (MSI == IMS)', () => {
    const s = negotiated();
    const a = pvGuestGetMsg(s.vmcall, msix(0));
    const b = pvGuestGetMsg(s.vmcall, {
      device: SUB,
      type: 'ims',
      index: 0,
      vcpu: 1,
      vector: 0x23,
    });
    expect(a.ok && b.ok).toBe(true);
    expect(irtesInUse(s.host)).toBe(2);
  });
});

describe('every error', () => {
  const errors: [string, (s: ReturnType<typeof setup>) => PvRegs, keyof typeof PV_STATUS][] = [
    [
      'GET_MSG before NEGOTIATE',
      (s) => s.vmcall(encodeEntryArgs(PV_CALL.getMsg, msix(0))),
      'notNegotiated',
    ],
    [
      'an unknown device handle',
      (s) => s.vmcall(encodeEntryArgs(PV_CALL.getMsg, { ...msix(0), device: 0x0300 })),
      'badDevice',
    ],
    [
      'MSI-X index = table size (8)',
      (s) => s.vmcall(encodeEntryArgs(PV_CALL.getMsg, msix(8))),
      'indexOutOfRange',
    ],
    [
      'an MSI entry on a function without MSI',
      (s) => s.vmcall(encodeEntryArgs(PV_CALL.getMsg, { ...msix(0), device: SUB, type: 'msi' })),
      'indexOutOfRange',
    ],
    [
      'vCPU 4 of a 4-vCPU VM',
      (s) => s.vmcall(encodeEntryArgs(PV_CALL.getMsg, msix(0, 4))),
      'vcpuOutOfRange',
    ],
    [
      'vector 0x1f (an exception vector)',
      (s) => s.vmcall(encodeEntryArgs(PV_CALL.getMsg, msix(0, 0, 0x1f))),
      'illegalVector',
    ],
    [
      'RELEASE of an entry without a pair',
      (s) => s.vmcall(encodeEntryArgs(PV_CALL.release, msix(5))),
      'notAllocated',
    ],
    [
      'RETARGET of an entry without a pair',
      (s) => s.vmcall(encodeEntryArgs(PV_CALL.retarget, msix(5))),
      'notAllocated',
    ],
    [
      'an undefined call number',
      (s) => {
        const r = zeroRegs();
        r.rax = encode(PV_RAX_CALL, { nr: 99 });
        return s.vmcall(r);
      },
      'invalidCall',
    ],
    [
      'a reserved bit of RAX',
      (s) => {
        const r = encodeEntryArgs(PV_CALL.getMsg, msix(0));
        r.rax[1] = 1;
        return s.vmcall(r);
      },
      'invalidCall',
    ],
    [
      'a reserved bit of the entry argument',
      (s) => {
        const r = encodeEntryArgs(PV_CALL.getMsg, msix(0));
        r.rcx[1] = 1;
        return s.vmcall(r);
      },
      'invalidArgument',
    ],
    [
      'store type 3',
      (s) => {
        const r = encodeEntryArgs(PV_CALL.getMsg, msix(0));
        r.rcx = encode(PV_ARG_ENTRY, { index: 0, type: 3 });
        return s.vmcall(r);
      },
      'invalidArgument',
    ],
  ];
  for (const [what, call, status] of errors) {
    it(`${what} -> ${status}, nothing allocated`, () => {
      const s = status === 'notNegotiated' ? setup() : negotiated();
      expect(statusOf(call(s))).toBe(PV_STATUS[status]);
      expect(s.vm.allocations).toHaveLength(0);
      expect(irtesInUse(s.host)).toBe(0);
    });
  }

  it('vector 0x20 and 0xff are the legal bounds', () => {
    const s = negotiated();
    expect(pvGuestGetMsg(s.vmcall, msix(0, 0, 0x20)).ok).toBe(true);
    expect(pvGuestGetMsg(s.vmcall, msix(1, 0, 0xff)).ok).toBe(true);
  });

  it('the same entry twice -> alreadyAllocated; the first pair stays', () => {
    const s = negotiated();
    expect(pvGuestGetMsg(s.vmcall, msix(0)).ok).toBe(true);
    expect(pvGuestGetMsg(s.vmcall, msix(0, 1))).toEqual({ ok: false, status: 'alreadyAllocated' });
    expect(irtesInUse(s.host)).toBe(1);
  });

  it('host IRTEs exhausted -> noResources', () => {
    const s = setup({ irtes: 1 });
    pvGuestNegotiate({ cpuid: encodeCpuid(s.caps), want: { batch: false }, vmcall: s.vmcall });
    expect(pvGuestGetMsg(s.vmcall, msix(0)).ok).toBe(true);
    expect(pvGuestGetMsg(s.vmcall, msix(1))).toEqual({ ok: false, status: 'noResources' });
    expect(s.vm.allocations).toHaveLength(1);
  });

  it('a device under reset -> busy; after the reset the guest asks again', () => {
    const s = negotiated();
    expect(pvGuestGetMsg(s.vmcall, msix(0)).ok).toBe(true);
    pvDeviceRevoke(s.vm, s.host.backend, NIC);
    expect(irtesInUse(s.host)).toBe(0);
    expect(pvGuestGetMsg(s.vmcall, msix(0))).toEqual({ ok: false, status: 'busy' });
    pvDeviceRestore(s.vm, NIC);
    expect(pvGuestGetMsg(s.vmcall, msix(0)).ok).toBe(true);
  });

  it('the backend busy on RETARGET -> busy, the old target stays', () => {
    const s = negotiated();
    const r = pvGuestGetMsg(s.vmcall, msix(0, 0, 0x30));
    if (!r.ok) throw new Error(r.status);
    s.host.retargetBusy = true;
    expect(pvGuestRetarget(s.vmcall, msix(0, 1, 0x31))).toEqual({ ok: false, status: 'busy' });
    expect(irteOf(s.host, r)).toEqual({ vm: 1, vcpu: 0, vector: 0x30 });
  });

  it('GET_MSG_BATCH without the batch feature -> notSupported', () => {
    const s = negotiated(false);
    const r = pvGuestGetMsgBatch(s.vmcall, { gpa: 0x7000, dwords: s.page }, [msix(0)]);
    expect(r).toMatchObject({ status: 'notSupported', completed: 0, entries: [null] });
  });

  it('MSI-X GET_MSG while emulation stays on -> notSupported; IMS is allowed (MSI != IMS)', () => {
    const s = setup();
    pvNegotiate(s.caps, s.vm, { version: 1, features: { allByHypercall: false, batch: false } });
    expect(s.vm.msiEmulation).toBe(true);
    expect(pvGetMsg(s.vm, s.host.backend, msix(0))).toEqual({ ok: false, status: 'notSupported' });
    const ims = pvGetMsg(s.vm, s.host.backend, {
      device: SUB,
      type: 'ims',
      index: 1,
      vcpu: 0,
      vector: 0x40,
    });
    expect(ims.ok).toBe(true);
  });

  it('a refused NEGOTIATE answers RAX = refused', () => {
    const s = setup({ caps: { ...CAPS, allow: false } });
    const r = zeroRegs();
    r.rax = encode(PV_RAX_CALL, { nr: PV_CALL.negotiate });
    r.rbx = [1, 0];
    expect(s.vmcall(r).rax).toEqual(encode(PV_RAX_STATUS, { status: PV_STATUS.refused }));
  });
});

describe('GET_MSG_BATCH', () => {
  it('n vectors with one call: n pairs, n IRTEs, one hypercall', () => {
    const s = negotiated(true);
    const reqs = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => msix(i, i % 4, 0x30 + i));
    const r = pvGuestGetMsgBatch(s.vmcall, { gpa: 0x7000, dwords: s.page }, reqs);
    expect(r).toMatchObject({ status: 'success', completed: 8 });
    expect(s.vm.calls).toMatchObject({ getMsgBatch: 1, getMsg: 0 });
    expect(irtesInUse(s.host)).toBe(8);
    const pairs = r.entries.map((e) => (e?.ok ? `${e.addrLo}:${e.data}` : 'x'));
    expect(new Set(pairs).size).toBe(8);
    r.entries.forEach((e, i) => {
      if (!e?.ok) throw new Error('entry failed');
      expect(irteOf(s.host, e)).toEqual({ vm: 1, vcpu: i % 4, vector: 0x30 + i });
    });
  });

  it('stops at the first failure: entries before it hold pairs, it has its status, later untouched', () => {
    const s = setup({ irtes: 5 });
    pvGuestNegotiate({ cpuid: encodeCpuid(s.caps), want: { batch: true }, vmcall: s.vmcall });
    const r = pvGuestGetMsgBatch(
      s.vmcall,
      { gpa: 0x7000, dwords: s.page },
      [0, 1, 2, 3, 4, 5, 6, 7].map((i) => msix(i)),
    );
    expect(r.status).toBe('noResources');
    expect(r.completed).toBe(5);
    expect(r.entries[5]).toEqual({ ok: false, status: 'noResources' });
    expect(r.entries.slice(6)).toEqual([null, null]);
    expect(s.vm.allocations).toHaveLength(5);
  });

  it('a page that is not guest RAM, or more than 256 entries -> invalidArgument', () => {
    const s = negotiated(true);
    expect(pvGuestGetMsgBatch(s.vmcall, { gpa: 0x9000, dwords: s.page }, [msix(0)]).status).toBe(
      'invalidArgument',
    );
    const r = pvGetMsgBatch(s.vm, s.host.backend, new Array(257).fill(msix(0)));
    expect(r.status).toBe('invalidArgument');
    expect(irtesInUse(s.host)).toBe(0);
  });
});

describe('RELEASE, RETARGET, reset, unplug, teardown', () => {
  it('RELEASE frees the IRTE; the entry can be obtained again', () => {
    const s = negotiated();
    pvGuestGetMsg(s.vmcall, msix(2));
    expect(pvGuestRelease(s.vmcall, msix(2))).toEqual({ ok: true });
    expect(irtesInUse(s.host)).toBe(0);
    expect(s.vm.allocations).toHaveLength(0);
    expect(pvGuestRelease(s.vmcall, msix(2))).toEqual({ ok: false, status: 'notAllocated' });
    expect(pvGuestGetMsg(s.vmcall, msix(2)).ok).toBe(true);
  });

  it('RETARGET keeps the pair (same handle) and re-aims the IRTE behind it', () => {
    const s = negotiated();
    const before = pvGuestGetMsg(s.vmcall, msix(1, 0, 0x22));
    const after = pvGuestRetarget(s.vmcall, msix(1, 3, 0x51));
    expect(after).toEqual(before);
    if (!after.ok) throw new Error(after.status);
    expect(irteOf(s.host, after)).toEqual({ vm: 1, vcpu: 3, vector: 0x51 });
    expect(s.vm.allocations[0]).toMatchObject({ vcpu: 3, vector: 0x51 });
    expect(s.vm.calls.retarget).toBe(1);
  });

  it('hot-unplug revokes every pair of the device and frees its IRTEs; later calls: badDevice', () => {
    const s = negotiated();
    pvGuestGetMsg(s.vmcall, msix(0));
    pvGuestGetMsg(s.vmcall, msix(1));
    pvGuestGetMsg(s.vmcall, { device: SUB, type: 'ims', index: 0, vcpu: 0, vector: 0x40 });
    const gone = pvDeviceUnplug(s.vm, s.host.backend, NIC);
    expect(gone.map((a) => a.index)).toEqual([0, 1]);
    expect(irtesInUse(s.host)).toBe(1);
    expect(pvGuestGetMsg(s.vmcall, msix(0))).toEqual({ ok: false, status: 'badDevice' });
  });

  it('teardown returns every IRTE', () => {
    const s = negotiated();
    for (let i = 0; i < 8; i++) pvGuestGetMsg(s.vmcall, msix(i));
    expect(pvVmTeardown(s.vm, s.host.backend)).toHaveLength(8);
    expect(irtesInUse(s.host)).toBe(0);
  });
});
