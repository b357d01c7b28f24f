// Posted Interrupt Descriptor: layout (VT-d 9.12; Linux struct pi_desc: pir[8], then
// notifications {ON bit 0, SN bit 1}, u8 nv, u8 rsvd, u32 ndst), posting (VT-d 5.2.3: set PIR;
// notify only if ON was 0 and (URG or SN == 0)) and the CPU side (SDM posted-interrupt
// processing: clear ON, PIR -> VIRR).
import { describe, expect, it } from 'vitest';
import { lapicIrrTest, newLapic } from '../../../src/hw/x86/lapic.js';
import {
  encodeNdst,
  newPostedDescriptor,
  piOn,
  piPirTest,
  piPirVectors,
  piPost,
  piReservedBitsSet,
  piSetNotification,
  piSetSuppress,
  piSyncPirToIrr,
  piSyncToIrr,
  piTestAndSetOn,
  piTestAndSetPir,
} from '../../../src/hw/x86/posted-descriptor.js';

/** KVM's POSTED_INTR_VECTOR is 0xf2 (arch/x86/include/asm/irq_vectors.h). */
const PI_VECTOR = 0xf2;

describe('posted interrupt descriptor layout', () => {
  it('ON is PID bit 256, SN 257, NV 279:272, NDST 319:288', () => {
    const pid = newPostedDescriptor({ nv: PI_VECTOR, destination: 0x12345678, x2apic: true });
    piSetSuppress(pid, true);
    expect(pid.dwords[8]).toBe(0x00f20002); // SN = bit 1 of dword 8; NV = bits 23:16
    expect(pid.dwords[9]).toBe(0x12345678);
    piPost(pid, 0x30, { urgent: true, x2apic: true });
    expect(pid.dwords[8]).toBe(0x00f20003); // ON = bit 0
    expect(pid.dwords[1]).toBe(1 << 16); // PIR bit 0x30 = dword 1 bit 16
  });

  it('xAPIC NDST holds the 8-bit APIC ID in bits 15:8', () => {
    expect(encodeNdst(3, { x2apic: false })).toBe(0x300);
    expect(encodeNdst(0xff, { x2apic: false })).toBe(0xff00);
    expect(encodeNdst(0x100, { x2apic: true })).toBe(0x100);
    expect(() => encodeNdst(0x100, { x2apic: false })).toThrow();
  });

  it('reports non-zero reserved bits', () => {
    const pid = newPostedDescriptor({ nv: PI_VECTOR, destination: 1, x2apic: false });
    expect(piReservedBitsSet(pid)).toEqual([]);
    pid.dwords[8] = (pid.dwords[8] | 0x4) >>> 0; // bit 258
    pid.dwords[13] = 1; // bit 416
    expect(piReservedBitsSet(pid)).toEqual(['reservedLow', 'reserved1']);
  });
});

describe('posting (VT-d 5.2.3)', () => {
  it('ON clear and SN clear: sets PIR and ON, and sends one notification NV to NDST', () => {
    const pid = newPostedDescriptor({ nv: PI_VECTOR, destination: 2, x2apic: false });
    expect(piPost(pid, 0x41, { urgent: false, x2apic: false })).toEqual({
      coalesced: false,
      notification: { vector: PI_VECTOR, destination: 2 },
    });
    expect(piOn(pid)).toBe(true);
    expect(piPirTest(pid, 0x41)).toBe(true);
  });

  it('ON already set: sets PIR and sends nothing more', () => {
    const pid = newPostedDescriptor({ nv: PI_VECTOR, destination: 2, x2apic: false });
    piPost(pid, 0x41, { urgent: false, x2apic: false });
    expect(piPost(pid, 0x42, { urgent: true, x2apic: false }).notification).toBeNull();
    expect(piPirVectors(pid)).toEqual([0x41, 0x42]);
  });

  it('SN set: sets PIR without ON or notification; URG overrides SN', () => {
    const pid = newPostedDescriptor({ nv: PI_VECTOR, destination: 2, x2apic: false });
    piSetSuppress(pid, true);
    expect(piPost(pid, 0x41, { urgent: false, x2apic: false }).notification).toBeNull();
    expect(piOn(pid)).toBe(false);
    expect(piPost(pid, 0x42, { urgent: true, x2apic: false }).notification).toEqual({
      vector: PI_VECTOR,
      destination: 2,
    });
    expect(piOn(pid)).toBe(true);
  });

  it('a vector already requested in PIR merges into it', () => {
    const pid = newPostedDescriptor({ nv: PI_VECTOR, destination: 0, x2apic: true });
    piSetSuppress(pid, true);
    piPost(pid, 0x50, { urgent: false, x2apic: true });
    expect(piPost(pid, 0x50, { urgent: false, x2apic: true }).coalesced).toBe(true);
  });

  it('the notification goes where NDST says at posting time (vCPU moved)', () => {
    const pid = newPostedDescriptor({ nv: PI_VECTOR, destination: 0x10, x2apic: true });
    piSetNotification(pid, { nv: 0xf1, destination: 0x22, x2apic: true });
    expect(piPost(pid, 0x30, { urgent: false, x2apic: true }).notification).toEqual({
      vector: 0xf1,
      destination: 0x22,
    });
  });
});

describe('CPU side: posted-interrupt processing', () => {
  it('clears ON, moves PIR into the virtual APIC IRR and clears PIR', () => {
    const pid = newPostedDescriptor({ nv: PI_VECTOR, destination: 0, x2apic: true });
    const vapic = newLapic({ x2apic: true, apicId: 0 });
    piPost(pid, 0x41, { urgent: false, x2apic: true });
    piPost(pid, 0xe0, { urgent: false, x2apic: true });
    expect(piSyncToIrr(pid, vapic)).toEqual([0x41, 0xe0]);
    expect(piOn(pid)).toBe(false);
    expect(piPirVectors(pid)).toEqual([]);
    expect([lapicIrrTest(vapic, 0x41), lapicIrrTest(vapic, 0xe0)]).toEqual([true, true]);
    // With ON clear again, the next post notifies again.
    expect(piPost(pid, 0x42, { urgent: false, x2apic: true }).notification).not.toBeNull();
  });
});

// The word forms the machine runs: a descriptor and a virtual IRR held at offsets of one array.
describe('posting and the sync on the words', () => {
  const PID = 2;
  const IRR = PID + 16;
  it('pi_test_and_set_pir / _on report the bit as it was and set it', () => {
    const w = new Uint32Array(IRR + 8);
    expect(piTestAndSetPir(w, PID, 0x41)).toBe(false);
    expect(w[PID + 2]).toBe(1 << 1);
    expect(piTestAndSetPir(w, PID, 0x41)).toBe(true);
    expect(piTestAndSetOn(w, PID)).toBe(false);
    expect(w[PID + 8]).toBe(1); // ON: PID bit 256
    expect(piTestAndSetOn(w, PID)).toBe(true);
  });

  it('SDM posted-interrupt processing: ON cleared, IRR |= PIR, PIR cleared, a set bit merges', () => {
    const w = new Uint32Array(IRR + 8);
    for (const v of [0x20, 0x41, 0xff]) piTestAndSetPir(w, PID, v);
    piTestAndSetOn(w, PID);
    w[PID + 9] = 0x12345678; // NDST: untouched
    w[IRR + 2] = 1 << 1; // 0x41 already requested in the IRR
    w[IRR + 3] = 1; // 0x60, not posted: stays
    const merged: number[] = [];
    expect(piSyncPirToIrr(w, PID, w, IRR, (v) => merged.push(v))).toBe(3);
    expect(merged).toEqual([0x41]);
    expect(Array.from(w.subarray(PID, PID + 9))).toEqual(new Array(9).fill(0));
    expect(w[PID + 9]).toBe(0x12345678);
    expect(Array.from(w.subarray(IRR, IRR + 8))).toEqual([0, 1, 2, 1, 0, 0, 0, 0x80000000]);
  });
});
