// Posted Interrupt Descriptor, both sides of it: the VT-d remapping hardware posting into it
// (Intel VT-d Spec 4.x, 9.12 "Posted Interrupt Descriptor (PID)" for the layout, 5.2.3
// "Interrupt-Posting Hardware Operation" for the procedure) and the CPU taking it in on the
// notification (Intel SDM Vol. 3C, "Posted-Interrupt Processing"; KVM does the same in software
// in vmx_sync_pir_to_irr).
//
// The descriptor is 64 bytes, held as 16 little-endian dwords: PIR (bits 255:0, one request bit
// per vector) in dwords 0-7, then the control part, bits 383:256, laid out below as a 128-bit
// layout read at dword 8, then bits 511:384 reserved. Linux: struct pi_desc in
// arch/x86/include/asm/posted_intr.h (pir[8], then u16 notifications: ON bit 0, SN bit 1; u8 nv;
// u8 rsvd; u32 ndst).
// Posting (5.2.3), one atomic read-modify-write of the descriptor: set PIR[vector]; let
// X = (ON == 0) && (URG == 1 || SN == 0); if X, set ON; after the write, if X, generate a
// notification event: a fixed, edge, physical-destination interrupt with vector NV to NDST.
// URG comes from the posted-format IRTE (bit 14) and overrides SN, as the spec says.
// NDST: in x2APIC mode (IRTA.EIME = 1) the 32-bit APIC ID; in xAPIC mode the 8-bit APIC ID in
// bits 15:8, the other bits reserved (Linux: `x2apic_mode ? dest : (dest << 8) & 0xff00`).
// CPU side, on a notification with vector NV: clear ON; OR PIR into the virtual APIC's IRR and
// clear PIR, atomically per chunk read (no other agent can change a PIR bit between its read and
// its clearing); RVI/virtual-interrupt evaluation then follows the APIC's priority rules.
// Invariants: a posted vector is in PIR or, after a sync, in the APIC's IRR (never lost);
// exactly one notification per ON 0 -> 1 transition (so no notification while ON is already 1).
// Not modelled: the remapping unit's fault on reserved PID bits; the 16-dword descriptor being
// shared with other structures; the delay between setting ON and the notification's arrival
// (the caller models the notification as an in-flight message if it wants the race).

import { bitmapClear, bitmapIndices, bitmapTest } from '../bitmap.js';
import { defineLayout, reservedBitsSet } from '../bits.js';
import { InputError } from '../errors.js';
import { fieldPos, getField, setField } from '../field-pos.js';
import type { Lapic } from './lapic.js';

export const PID_DWORDS = 16;
export const PID_PIR_DWORDS = 8;
/** The control part (bits 383:256) starts at dword 8. */
export const PID_CONTROL_DWORD = 8;
/** Bits 511:384, reserved, start at dword 12. */
export const PID_RESERVED_DWORD = 12;
export const PID_VECTORS = 256;

export const PID_CONTROL = defineLayout(
  'posted-interrupt-descriptor-control',
  128,
  'Intel VT-d Spec, 9.12 Posted Interrupt Descriptor, bits 383:256 (PID bit = 256 + bit here)',
  {
    on: [0, 0, 'Outstanding Notification (PID bit 256)'],
    sn: [1, 1, 'Suppress Notification (PID bit 257)'],
    reservedLow: [15, 2, 'Reserved (PID bits 271:258)'],
    nv: [23, 16, 'Notification Vector (PID bits 279:272)'],
    reservedNv: [31, 24, 'Reserved (PID bits 287:280)'],
    ndst: [63, 32, 'Notification Destination (PID bits 319:288)'],
    reservedHigh0: [95, 64, 'Reserved (PID bits 351:320)'],
    reservedHigh1: [127, 96, 'Reserved (PID bits 383:352)'],
  },
  { complete: true },
);

/** The last 128 bits of the descriptor, all reserved. */
export const PID_TAIL = defineLayout(
  'posted-interrupt-descriptor-tail',
  128,
  'Intel VT-d Spec, 9.12 Posted Interrupt Descriptor, bits 511:384 (reserved)',
  {
    reserved0: [31, 0, 'Reserved'],
    reserved1: [63, 32, 'Reserved'],
    reserved2: [95, 64, 'Reserved'],
    reserved3: [127, 96, 'Reserved'],
  },
  { complete: true },
);

/** NDST in xAPIC mode. */
export const NDST_XAPIC = defineLayout(
  'pid-ndst-xapic',
  32,
  'Intel VT-d Spec, 9.12 PID NDST, xAPIC mode: APIC ID in bits 15:8',
  {
    reservedLow: [7, 0, 'Reserved'],
    apicId: [15, 8, 'xAPIC destination ID'],
    reservedHigh: [31, 16, 'Reserved'],
  },
  { complete: true },
);

export interface PostedInterruptDescriptor {
  readonly dwords: Uint32Array;
}

export interface PiNotification {
  /** NV: the vector the notification carries (KVM: POSTED_INTR_VECTOR or the wakeup vector). */
  readonly vector: number;
  /** The APIC ID NDST names (already decoded for the mode). Physical destination, fixed, edge. */
  readonly destination: number;
}

export interface PiPostResult {
  /** The vector's PIR bit was already set: this request merged into it. */
  readonly coalesced: boolean;
  /** ON went 0 -> 1 and a notification event is generated; null otherwise. */
  readonly notification: PiNotification | null;
}

const control = PID_CONTROL.accessors;

function checkByte(where: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xff) {
    throw new InputError(where, `${value} is not 0..255`);
  }
}

/** A descriptor with PIR empty, ON = SN = 0 and the given notification vector and destination. */
export function newPostedDescriptor(opts: {
  nv: number;
  destination: number;
  x2apic: boolean;
}): PostedInterruptDescriptor {
  const pid = { dwords: new Uint32Array(PID_DWORDS) };
  piSetNotification(pid, opts);
  return pid;
}

/** Software (the hypervisor) sets NV and NDST, e.g. when the vCPU moves or blocks. */
export function piSetNotification(
  pid: PostedInterruptDescriptor,
  opts: { nv: number; destination: number; x2apic: boolean },
): void {
  checkByte('PID NV', opts.nv);
  control.nv.set(pid.dwords, opts.nv, PID_CONTROL_DWORD);
  control.ndst.set(pid.dwords, encodeNdst(opts.destination, opts), PID_CONTROL_DWORD);
}

export function encodeNdst(apicId: number, opts: { x2apic: boolean }): number {
  if (opts.x2apic) {
    if (!Number.isInteger(apicId) || apicId < 0 || apicId > 0xffffffff) {
      throw new InputError('PID NDST', `${apicId} is not a 32-bit x2APIC ID`);
    }
    return apicId;
  }
  checkByte('PID NDST (xAPIC)', apicId);
  const words = [0];
  NDST_XAPIC.accessors.apicId.set(words, apicId);
  return words[0];
}

export function decodeNdst(ndst: number, opts: { x2apic: boolean }): number {
  return opts.x2apic ? ndst : NDST_XAPIC.accessors.apicId.get([ndst]);
}

/** Software sets or clears SN (KVM sets it while the vCPU is preempted). */
export function piSetSuppress(pid: PostedInterruptDescriptor, sn: boolean): void {
  control.sn.set(pid.dwords, sn ? 1 : 0, PID_CONTROL_DWORD);
}

export const piOn = (pid: PostedInterruptDescriptor): boolean =>
  control.on.get(pid.dwords, PID_CONTROL_DWORD) === 1;
export const piSn = (pid: PostedInterruptDescriptor): boolean =>
  control.sn.get(pid.dwords, PID_CONTROL_DWORD) === 1;
export const piNv = (pid: PostedInterruptDescriptor): number =>
  control.nv.get(pid.dwords, PID_CONTROL_DWORD);
export const piPirTest = (pid: PostedInterruptDescriptor, vector: number): boolean =>
  bitmapTest(pirOf(pid), vector);
/** Vectors requested in PIR, lowest first. */
export const piPirVectors = (pid: PostedInterruptDescriptor): number[] => bitmapIndices(pirOf(pid));

const pirOf = (pid: PostedInterruptDescriptor) => pid.dwords.subarray(0, PID_PIR_DWORDS);

/** Names of reserved fields that are not 0 (control part and tail). */
export function piReservedBitsSet(pid: PostedInterruptDescriptor): string[] {
  return [
    ...reservedBitsSet(PID_CONTROL, pid.dwords, PID_CONTROL_DWORD),
    ...reservedBitsSet(PID_TAIL, pid.dwords, PID_RESERVED_DWORD),
  ];
}

/**
 * The remapping hardware posts `vector` (the IRTE's Virtual Vector) with the IRTE's URG bit,
 * in one atomic update (VT-d 5.2.3). `x2apic` is the remapping unit's interrupt mode (IRTA.EIME),
 * which says how to read NDST.
 */
export function piPost(
  pid: PostedInterruptDescriptor,
  vector: number,
  opts: { urgent: boolean; x2apic: boolean },
): PiPostResult {
  checkByte('posted vector', vector);
  const r = piPostAt(pid.dwords, 0, vector, opts.urgent);
  const coalesced = (r & PI_POST.coalesced) !== 0;
  if ((r & PI_POST.notify) === 0) return { coalesced, notification: null };
  const ndst = control.ndst.get(pid.dwords, PID_CONTROL_DWORD);
  return {
    coalesced,
    notification: { vector: piNv(pid), destination: decodeNdst(ndst, opts) },
  };
}

/** `piPostAt`'s result bits. */
export const PI_POST = { coalesced: 1, notify: 2 } as const;

const ON = fieldPos(PID_CONTROL, 'on');
const SN = fieldPos(PID_CONTROL, 'sn');

/** VT-d 5.2.3 on the descriptor at `words[at..]` (PIR first, then the control dword), `vector`
 *  already known to be 0..255: set PIR[vector]; if ON was clear and (`urgent` or SN clear), set
 *  ON. Returns PI_POST bits: coalesced (the PIR bit was already set), notify (ON went 0 -> 1: a
 *  notification event to NDST with NV). The one implementation of posting: `piPost` here and the
 *  whole-system model's delivery path (`machine/system-delivery.ts`). Allocates nothing. */
export function piPostAt(words: Uint32Array, at: number, vector: number, urgent: boolean): number {
  const coalesced = piTestAndSetPir(words, at, vector);
  const ctl = at + PID_CONTROL_DWORD;
  const notify = getField(words, ctl, ON) === 0 && (urgent || getField(words, ctl, SN) === 0);
  if (notify) setField(words, ctl, ON, 1);
  return (coalesced ? PI_POST.coalesced : 0) | (notify ? PI_POST.notify : 0);
}

/** Sets PIR[vector] of the descriptor at `words[at..]`; true if it was set already (Linux
 *  pi_test_and_set_pir: KVM's software post, vmx_deliver_posted_interrupt, starts with it). */
export function piTestAndSetPir(words: Uint32Array, at: number, vector: number): boolean {
  const pir = at + (vector >>> 5);
  const bit = 1 << (vector & 31);
  const was = (words[pir] & bit) !== 0;
  words[pir] |= bit;
  return was;
}

/** Sets ON of the descriptor at `words[at..]`; true if it was set already (pi_test_and_set_on:
 *  KVM's software post sends the notification only on 0 -> 1; SN is the hardware's business). */
export function piTestAndSetOn(words: Uint32Array, at: number): boolean {
  const ctl = at + PID_CONTROL_DWORD;
  const was = getField(words, ctl, ON) === 1;
  setField(words, ctl, ON, 1);
  return was;
}

/**
 * SDM Vol. 3C "Posted-Interrupt Processing" (and KVM's software form, vmx_sync_pir_to_irr ->
 * __kvm_apic_update_irr) on the descriptor at `pid[pidAt..]` and the 256-bit (virtual) IRR at
 * `irr[irrAt..]`: clear ON, then per PIR dword take it and clear it in one step (KVM: xchg with
 * 0; the CPU: "atomically", so no post lands between the read and the clearing) and OR it into
 * IRR. `merged` hears each vector whose IRR bit was already set (the request collapses into it).
 * Returns how many vectors moved. The one implementation: `piSyncToIrr` here and the
 * whole-system model (`machine/system-vcpu.ts syncPir`).
 */
export function piSyncPirToIrr(
  pid: Uint32Array,
  pidAt: number,
  irr: Uint32Array,
  irrAt: number,
  merged: (vector: number) => void,
): number {
  setField(pid, pidAt + PID_CONTROL_DWORD, ON, 0);
  let moved = 0;
  for (let i = 0; i < PID_PIR_DWORDS; i++) {
    const bits = pid[pidAt + i];
    if (bits === 0) continue;
    pid[pidAt + i] = 0;
    const collapsed = (irr[irrAt + i] & bits) >>> 0;
    irr[irrAt + i] |= bits;
    for (let rest = bits; rest !== 0; rest = (rest & (rest - 1)) >>> 0) moved++;
    for (let rest = collapsed; rest !== 0; rest = (rest & (rest - 1)) >>> 0) {
      merged(i * 32 + 31 - Math.clz32(rest & -rest));
    }
  }
  return moved;
}

/**
 * The CPU (or KVM's sync) processes the descriptor for the virtual APIC `vapic`
 * (`piSyncPirToIrr`): clear ON, move every PIR bit into IRR, clear PIR. Returns the vectors
 * moved, lowest first. A posted request is edge-triggered here (its TMR bit is cleared);
 * level-triggered posting is not modelled.
 */
export function piSyncToIrr(pid: PostedInterruptDescriptor, vapic: Lapic): number[] {
  const moved = piPirVectors(pid);
  let collapsed = 0;
  piSyncPirToIrr(pid.dwords, 0, vapic.irr, 0, () => {
    collapsed++;
  });
  for (const v of moved) bitmapClear(vapic.tmr, v);
  vapic.counters.accepted += moved.length - collapsed;
  vapic.counters.coalesced += collapsed;
  return moved;
}
