// The pv ABI's wire format (docs/pv-abi.md, "Calling convention", "Arguments", "GET_MSG_BATCH",
// "Discovery"): every layout covers its width, and the golden rows below are computed by hand
// from the field tables of that document (bit positions, not this module's output).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeCpuid,
  encodeBatchRequest,
  encodeCpuid,
  encodeEntryArgs,
  KVM_CPUID_FEATURES_EAX_PV,
  PV_ARG_BATCH_PAGE,
  PV_ARG_DEVICE,
  PV_ARG_ENTRY,
  PV_ARG_FEATURES,
  PV_ARG_TARGET,
  PV_ARG_VERSION,
  PV_BATCH_ENTRIES_MAX,
  PV_BATCH_REQUEST,
  PV_BATCH_RESPONSE,
  PV_CALL,
  PV_CPUID_EAX,
  PV_CPUID_EBX,
  PV_OUT_ADDRESS,
  PV_OUT_BATCH_DONE,
  PV_OUT_DATA,
  PV_OUT_REFUSAL,
  PV_RAX_CALL,
  PV_RAX_STATUS,
  PV_REFUSAL,
  PV_STATUS,
  pvBdfOfHandle,
  pvDeviceHandle,
  pvStatusName,
} from '../../src/hv/pv-abi.js';
import { decode, encode } from '../../src/hw/bits.js';

const LAYOUTS = [
  PV_CPUID_EAX,
  PV_CPUID_EBX,
  PV_RAX_CALL,
  PV_RAX_STATUS,
  PV_ARG_VERSION,
  PV_ARG_FEATURES,
  PV_OUT_REFUSAL,
  PV_ARG_DEVICE,
  PV_ARG_ENTRY,
  PV_ARG_TARGET,
  PV_OUT_ADDRESS,
  PV_OUT_DATA,
  PV_ARG_BATCH_PAGE,
  PV_OUT_BATCH_DONE,
  PV_BATCH_REQUEST,
  PV_BATCH_RESPONSE,
];

describe('pv ABI layouts', () => {
  it('every register and entry layout names every bit once (complete, no overlap)', () => {
    for (const l of LAYOUTS) {
      const bits = Object.values(l.fields).reduce((n, [hi, lo]) => n + hi - lo + 1, 0);
      expect(bits, l.name).toBe(l.width);
    }
  });

  it('a batch entry is 16 bytes and a page holds 256 of them', () => {
    expect(PV_BATCH_REQUEST.width / 8).toBe(16);
    expect(PV_BATCH_RESPONSE.width / 8).toBe(16);
    expect(PV_BATCH_ENTRIES_MAX).toBe(256);
  });

  it('call numbers follow KVM_HC_MAP_GPA_RANGE (12) and do not collide', () => {
    const nrs = Object.values(PV_CALL);
    expect(Math.min(...nrs)).toBe(13);
    expect(new Set(nrs).size).toBe(nrs.length);
    expect(new Set(Object.values(PV_STATUS)).size).toBe(Object.keys(PV_STATUS).length);
    expect(PV_STATUS.success).toBe(0);
  });
});

describe('pv ABI golden encodings', () => {
  it('GET_MSG 01:00.0 MSI-X entry 3 -> vCPU 1 vector 0x22', () => {
    // RAX = 14; RBX = Routing ID bus 1 << 8; RCX = index 3 | type MSI-X (1) << 16;
    // RDX = vector 0x22 in bits 7:0, destination 1 in bits 63:32 (dword 1).
    const regs = encodeEntryArgs(PV_CALL.getMsg, {
      device: pvDeviceHandle({ segment: 0, bus: 1, device: 0, function: 0 }),
      type: 'msix',
      index: 3,
      vcpu: 1,
      vector: 0x22,
    });
    expect(regs.rax).toEqual([14, 0]);
    expect(regs.rbx).toEqual([0x0000_0100, 0]);
    expect(regs.rcx).toEqual([0x0001_0003, 0]);
    expect(regs.rdx).toEqual([0x22, 1]);
    expect(regs.rsi).toEqual([0, 0]);
  });

  it('device handle of 0001:02:03.4 is segment << 16 | bus << 8 | dev << 3 | fn', () => {
    const h = pvDeviceHandle({ segment: 1, bus: 2, device: 3, function: 4 });
    expect(h).toBe(0x0001_021c);
    expect(pvBdfOfHandle(h)).toEqual({ segment: 1, bus: 2, device: 3, function: 4 });
  });

  it('batch request entry: 0001:02:03.4 IMS 0x7ff -> APIC 7 vector 0xef', () => {
    // dword0 device handle; dword1 = index 0x7ff | type 2 << 16 | vector 0xef << 24.
    const words = encodeBatchRequest({
      device: 0x0001_021c,
      type: 'ims',
      index: 0x7ff,
      vcpu: 7,
      vector: 0xef,
    });
    expect(words).toEqual([0x0001_021c, 0xef02_07ff, 7, 0]);
  });

  it('batch response entry: pair in dwords 0-2, status in bits 111:96', () => {
    const words = encode(PV_BATCH_RESPONSE, {
      addrLo: 0xfee0_0018,
      addrHi: 0,
      data: 0,
      status: PV_STATUS.noResources,
    });
    expect(words).toEqual([0xfee0_0018, 0, 0, 6]);
  });

  it('batch page at GPA 0x1_2345_6000: frame bits split at 32', () => {
    const frame = 0x1_2345_6000 / 4096;
    const words = encode(PV_ARG_BATCH_PAGE, { frameLow: frame % 2 ** 20, frameHigh: 1 });
    expect(words).toEqual([0x2345_6000, 1]);
  });

  it('refusal: versionUnsupported, host max 1 -> RBX 0x00010001', () => {
    expect(
      encode(PV_OUT_REFUSAL, { reason: PV_REFUSAL.versionUnsupported, maxVersion: 1 }),
    ).toEqual([0x0001_0001, 0]);
  });

  it('CPUID: KVM_CPUID_FEATURES EAX bit 18, leaf EAX max version, EBX features', () => {
    const c = encodeCpuid({
      present: true,
      maxVersion: 1,
      features: { allByHypercall: true, batch: true },
    });
    expect(c).toEqual({ featuresEax: 0x0004_0000, leafEax: 1, leafEbx: 3 });
    expect(
      encodeCpuid({ present: false, maxVersion: 9, features: decodeCpuid(c).features }),
    ).toEqual({ featuresEax: 0, leafEax: 0, leafEbx: 0 });
    expect(KVM_CPUID_FEATURES_EAX_PV.fields.pvMsi.slice(0, 2)).toEqual([18, 18]);
  });
});

describe('pv ABI round trips', () => {
  it('GET_MSG arguments decode back to what was encoded', () => {
    fc.assert(
      fc.property(
        fc.record({
          segment: fc.integer({ min: 0, max: 0xffff }),
          bus: fc.integer({ min: 0, max: 0xff }),
          device: fc.integer({ min: 0, max: 31 }),
          function: fc.integer({ min: 0, max: 7 }),
        }),
        fc.constantFrom('msi' as const, 'msix' as const, 'ims' as const),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffff_ffff }),
        fc.integer({ min: 0, max: 0xff }),
        (bdf, type, index, vcpu, vector) => {
          const device = pvDeviceHandle(bdf);
          const regs = encodeEntryArgs(PV_CALL.retarget, { device, type, index, vcpu, vector });
          expect(pvBdfOfHandle(regs.rbx[0])).toEqual(bdf);
          const e = decode(PV_ARG_ENTRY, regs.rcx);
          expect(e).toEqual({
            index,
            type: { msi: 0, msix: 1, ims: 2 }[type],
            reserved: 0,
            reservedHigh: 0,
          });
          const t = decode(PV_ARG_TARGET, regs.rdx);
          expect(t).toEqual({ vector, reservedLow: 0, destination: vcpu });
          const b = decode(
            PV_BATCH_REQUEST,
            encodeBatchRequest({ device, type, index, vcpu, vector }),
          );
          expect([b.index, b.vector, b.destination]).toEqual([index, vector, vcpu]);
        },
      ),
    );
  });

  it('CPUID discovery round-trips', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xff }), fc.boolean(), fc.boolean(), (v, a, b) => {
        const d = { present: true, maxVersion: v, features: { allByHypercall: a, batch: b } };
        expect(decodeCpuid(encodeCpuid(d))).toEqual(d);
      }),
    );
  });

  it('an undefined status code is an input error, not a silent default', () => {
    expect(pvStatusName(6)).toBe('noResources');
    expect(() => pvStatusName(0x99)).toThrow(/unknown status code 153/);
  });
});
