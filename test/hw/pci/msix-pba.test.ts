// MSI-X Pending Bit Array: size and software access (PCIe Base Spec, "Pending Bits Register for
// MSI-X PBA Entries": ceil(N/64) QWORDs; software should only read it).
import { describe, expect, it } from 'vitest';
import {
  mmioAccessStatus,
  msixPbaDwords,
  msixPbaRead,
  msixPbaWrite,
  newMsixPba,
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
