// Device-side MSI. Expected values: the PCIe Base Spec's MSI rules (7.7.1.2 Multiple Message
// Enable: "the number of low order message data bits the Function is permitted to modify"; the
// Mask/Pending Bits registers) and the recorded AHCI function of the QEMU q35 guests.
import { describe, expect, it } from 'vitest';
import { InputError, RuleError } from '../../../src/hw/errors.js';
import { formatBdf, parseBdf, requesterIdOf } from '../../../src/hw/pci/bdf.js';
import { parseConfigDump } from '../../../src/hw/pci/config-dump.js';
import {
  type ConfigSpace,
  setConfig,
  setRegisterFields,
} from '../../../src/hw/pci/config-space.js';
import { buildConfigSpace } from '../../../src/hw/pci/config-space-builder.js';
import {
  decodeMsiCapability,
  MSI_MESSAGE_CONTROL,
  msiRegisterOffsets,
} from '../../../src/hw/pci/msi-capability.js';
import {
  msiConfigWritten,
  msiPendingCount,
  msiRaise,
  msiVectorData,
  newMsiFunction,
} from '../../../src/hw/pci/msi-function.js';
import { readFixtureBytes } from '../../fixtures.js';

const RID = requesterIdOf(parseBdf('00:03.0'));
const CAP = 0x40; // the builder puts the first capability at 0x40

function msiDevice(opts: { count: number; is64: boolean; perVectorMasking: boolean }) {
  const space = buildConfigSpace({
    vendorId: 0x8086,
    deviceId: 0x1234,
    classCode: 0x010601,
    capabilities: [{ kind: 'msi', ...opts }],
  });
  return { space, fn: newMsiFunction(RID, CAP) };
}

/** What a driver programs: address, data, MME, enable (written as the device's own stores). */
function program(space: ConfigSpace, addr: number, data: number, log2Vectors: number) {
  const cap = decodeMsiCapability(space, CAP);
  const at = msiRegisterOffsets(cap.is64Bit, cap.perVectorMasking);
  setConfig(space, CAP + at.messageAddress, 4, addr);
  setConfig(space, CAP + at.messageData, 2, data);
  setRegisterFields(space, CAP, MSI_MESSAGE_CONTROL, {
    msiEnable: 1,
    multipleMessageCapable: Math.log2(cap.multipleMessageCapable),
    multipleMessageEnable: log2Vectors,
    address64BitCapable: cap.is64Bit ? 1 : 0,
    perVectorMaskingCapable: cap.perVectorMasking ? 1 : 0,
  });
}

function setMask(space: ConfigSpace, bits: number) {
  const cap = decodeMsiCapability(space, CAP);
  const at = msiRegisterOffsets(cap.is64Bit, cap.perVectorMasking);
  setConfig(space, CAP + (at.maskBits ?? 0), 4, bits);
}

describe('MSI: multiple message vector in the data', () => {
  it('replaces the low log2(MME) bits of Message Data with the vector number', () => {
    // MME = 8 vectors: the function may modify bits 2:0.
    expect(msiVectorData(0x4020, 8, 5)).toBe(0x4025);
    expect(msiVectorData(0x4027, 8, 5)).toBe(0x4025);
    expect(msiVectorData(0x4027, 1, 0)).toBe(0x4027); // MME = 1: nothing modified
    expect(msiVectorData(0x40, 32, 31)).toBe(0x5f);
  });

  it('a raise of vector n sends Message Data with n in its low bits', () => {
    const { space, fn } = msiDevice({ count: 32, is64: true, perVectorMasking: false });
    program(space, 0xfee01004, 0x4020, 3);
    const e = msiRaise(fn, space, 5);
    expect(e).toEqual({
      kind: 'msi-write',
      source: 'msi',
      index: 5,
      tx: { addrLo: 0xfee01004, addrHi: 0, data: 0x4025, requesterId: RID },
    });
  });

  it('a vector beyond Multiple Message Enable is not the function to use', () => {
    const { space, fn } = msiDevice({ count: 32, is64: true, perVectorMasking: false });
    program(space, 0xfee01004, 0x4020, 2); // 4 allocated
    expect(() => msiRaise(fn, space, 4)).toThrow(RuleError);
    expect(() => msiRaise(fn, space, 32)).toThrow(InputError);
  });
});

describe('MSI: enable and per-vector masking', () => {
  it('the recorded AHCI function sends its capability address/data (qemu-q35-ir 00:1f.2)', () => {
    // msix-tables.txt: `0000:00:1f.2 MSI cap@0x80 msgctl=0x0081 enable=1 64bit=1
    // addr_lo=0xfee00218 addr_hi=0x00000000 data=0x0000`.
    const dump = parseConfigDump(readFixtureBytes('qemu-q35-ir/lspci-xxxx.txt'), 'lspci-xxxx.txt');
    const ahci = dump.functions.find(
      (f) => f.bdf && formatBdf(f.bdf, { withSegment: false }) === '00:1f.2',
    );
    if (ahci === undefined) throw new Error('00:1f.2 not in the recorded dump');
    const space = ahci.space;
    const fn = newMsiFunction(requesterIdOf(parseBdf('00:1f.2')), 0x80);
    expect(msiRaise(fn, space, 0)).toEqual({
      kind: 'msi-write',
      source: 'msi',
      index: 0,
      tx: { addrLo: 0xfee00218, addrHi: 0, data: 0, requesterId: 0xfa },
    });
  });

  it('raise with MSI disabled is dropped and counted', () => {
    const { space, fn } = msiDevice({ count: 1, is64: false, perVectorMasking: true });
    expect(msiRaise(fn, space, 0)).toEqual({
      kind: 'dropped',
      source: 'msi',
      index: 0,
      reason: 'msi-disabled',
    });
    expect(fn.counters).toEqual({ raised: 0, sent: 0, coalesced: 0, dropped: 1 });
  });

  it('raise on a masked vector sets its Pending Bit and sends nothing; a second coalesces', () => {
    const { space, fn } = msiDevice({ count: 4, is64: true, perVectorMasking: true });
    program(space, 0xfee01004, 0x20, 2);
    setMask(space, 0b0100);
    expect(msiRaise(fn, space, 2).kind).toBe('set-pending');
    expect(decodeMsiCapability(space, CAP).pendingBits).toBe(0b0100);
    expect(msiRaise(fn, space, 2).kind).toBe('coalesced');
    expect(msiRaise(fn, space, 1).kind).toBe('msi-write');
    expect(fn.counters).toEqual({ raised: 3, sent: 1, coalesced: 1, dropped: 0 });
  });

  it('unmask with pending sends the current address/data once', () => {
    const { space, fn } = msiDevice({ count: 4, is64: false, perVectorMasking: true });
    program(space, 0xfee01004, 0x20, 2);
    setMask(space, 0b1111);
    msiRaise(fn, space, 3);
    program(space, 0xfee02004, 0x40, 2); // retarget while masked
    expect(msiConfigWritten(fn, space)).toEqual([]); // still masked
    setMask(space, 0b0111);
    expect(msiConfigWritten(fn, space)).toEqual([
      {
        kind: 'msi-write',
        source: 'msi',
        index: 3,
        tx: { addrLo: 0xfee02004, addrHi: 0, data: 0x43, requesterId: RID },
      },
    ]);
    expect(msiPendingCount(fn, space)).toBe(0);
    expect(msiConfigWritten(fn, space)).toEqual([]);
  });

  it('without per-vector masking every raise is sent, even halfway through an update', () => {
    // The affinity race: software has written the new address but not yet the new data.
    const { space, fn } = msiDevice({ count: 1, is64: false, perVectorMasking: false });
    program(space, 0xfee01004, 0x22, 0);
    setConfig(space, CAP + 4, 4, 0xfee02004);
    const e = msiRaise(fn, space, 0);
    expect(e.kind === 'msi-write' && [e.tx.addrLo, e.tx.data]).toEqual([0xfee02004, 0x22]);
  });

  it('with Extended Message Data enabled the upper 16 bits of the DWORD are that register', () => {
    const space = buildConfigSpace({
      vendorId: 0x8086,
      deviceId: 0x1234,
      classCode: 0x010601,
      capabilities: [
        { kind: 'msi', count: 1, is64: true, perVectorMasking: false, extendedMessageData: true },
      ],
    });
    const fn = newMsiFunction(RID, CAP);
    setConfig(space, CAP + 4, 4, 0xfee00000);
    setConfig(space, CAP + 0xc, 2, 0x0031);
    setConfig(space, CAP + 0xe, 2, 0xabcd);
    setRegisterFields(space, CAP, MSI_MESSAGE_CONTROL, {
      msiEnable: 1,
      address64BitCapable: 1,
      extendedMessageDataCapable: 1,
      extendedMessageDataEnable: 1,
    });
    const e = msiRaise(fn, space, 0);
    expect(e.kind === 'msi-write' && e.tx.data).toBe(0xabcd0031);
  });
});
