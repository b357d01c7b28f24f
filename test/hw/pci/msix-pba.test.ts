// MSI-X Pending Bit Array: size and software access (PCIe Base Spec, "Pending Bits Register for
// MSI-X PBA Entries": ceil(N/64) QWORDs; software should only read it).
import { describe, expect, it } from 'vitest';
import {
  mmioAccessStatus,
  msixPbaDwords,
  msixPbaRead,
  msixPbaWrite,
  newMsixPba,
  pendingBitFlush,
  pendingBitRaise,
  SIGNAL,
} from '../../../src/hw/pci/msix-pba.js';

describe('MSI-X PBA', () => {
  it('is whole QWORDs: 1..64 entries take one, 65 take two, 2048 take 32', () => {
    expect(msixPbaDwords(1)).toBe(2);
    expect(msixPbaDwords(64)).toBe(2);
    expect(msixPbaDwords(65)).toBe(4);
    expect(msixPbaDwords(2048)).toBe(64);
  });

  it('Pending Bit 64 is bit 0 of QWORD 1', () => {
    const pba = newMsixPba(65);
    pba[2] = 1; // what the table sets for entry 64
    expect(msixPbaRead(pba, 8, 8)).toEqual({ status: 'ok', value: 1, valueHigh: 0 });
    expect(msixPbaRead(pba, 0, 8).value).toBe(0);
  });

  it('a software write changes nothing', () => {
    const pba = newMsixPba(8);
    pba[0] = 0x5;
    expect(msixPbaWrite(pba, 0)).toBe('ok');
    expect(pba[0]).toBe(0x5);
  });

  it('classifies accesses by the spec rule: aligned full DWORD or QWORD', () => {
    expect(mmioAccessStatus(0, 4, 16)).toBe('ok');
    expect(mmioAccessStatus(8, 8, 16)).toBe('ok');
    expect(mmioAccessStatus(4, 8, 16)).toBe('misaligned');
    expect(mmioAccessStatus(1, 4, 16)).toBe('misaligned');
    expect(mmioAccessStatus(0, 1, 16)).toBe('unsupported-size');
    expect(mmioAccessStatus(16, 4, 16)).toBe('out-of-range');
    expect(mmioAccessStatus(-4, 4, 16)).toBe('out-of-range');
  });
});

// The pending-bit rule as the word functions the table, the IMS store and the machine run
// (PCIe 6.1.4.5): disabled: nothing; deliverable: the message; masked: the Pending Bit is set, and
// a raise while it is set merges into it; becoming deliverable with it set sends once and clears.
describe('the pending-bit rule on the words', () => {
  const rows: [
    enabled: boolean,
    masked: boolean,
    pending: boolean,
    outcome: number,
    after: 0 | 1,
  ][] = [
    [false, false, false, SIGNAL.dropped, 0],
    [false, true, true, SIGNAL.dropped, 1],
    [true, false, false, SIGNAL.send, 0],
    [true, true, false, SIGNAL.setPending, 1],
    [true, true, true, SIGNAL.coalesced, 1],
  ];
  it.each(rows)('enabled %s, masked %s, pending %s', (enabled, masked, pending, outcome, after) => {
    const w = new Uint32Array(4);
    const bit = 95; // Pending Bit 31 of QWORD 1, held at dword 2: the bit-31 boundary
    if (pending) w[2] = 0x80000000;
    expect(pendingBitRaise(w, bit, enabled, masked)).toBe(outcome);
    expect(w[2] >>> 31).toBe(after);
    expect(w[0] | w[1] | w[3]).toBe(0);
  });

  it('an unmask with the bit set sends once and clears it; masked or clear, nothing', () => {
    const w = new Uint32Array(2);
    w[1] = 1 << 3; // entry 35
    expect(pendingBitFlush(w, 35, false)).toBe(false);
    expect(w[1]).toBe(1 << 3);
    expect(pendingBitFlush(w, 35, true)).toBe(true);
    expect(w[1]).toBe(0);
    expect(pendingBitFlush(w, 35, true)).toBe(false);
  });
});
