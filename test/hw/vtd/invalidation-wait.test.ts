// The Invalidation Wait Descriptor (VT-d 6.5.2.8) Linux queues after each batch: qi_submit_sync
// sets QI_IWD_STATUS_DATA(QI_DONE) | QI_IWD_STATUS_WRITE | QI_IWD_TYPE (QI_DONE 2, bit 5, type
// 5) in qw0 and the physical address of desc_status[wait_index] in qw1, which QEMU traced as
// `vtd_inv_desc invalidate desc type wait high <qw1> low <qw0>` (qemu-q35-ir/qemu-trace.log).
import { describe, expect, test } from 'vitest';
import { bigIntFromDwords, dwordsFromBigInt } from '../../../src/hw/bits.js';
import { InputError } from '../../../src/hw/errors.js';
import {
  decodeWaitDescriptor,
  encodeWaitDescriptor,
  QI_DONE,
} from '../../../src/hw/vtd/invalidation-wait.js';
import { readFixture } from '../../fixtures.js';

/** Every wait descriptor QEMU traced: [high qword, low qword]. */
const traced = () =>
  Array.from(
    readFixture('qemu-q35-ir/qemu-trace.log').matchAll(/type wait high (\S+) low (0x[0-9a-f]+)/g),
    (m) => [BigInt(m[1]), BigInt(m[2])] as const,
  );

describe('invalidation wait descriptor', () => {
  test("Linux's wait descriptor is the low qword QEMU traced", () => {
    const [, low] = traced()[0];
    expect(bigIntFromDwords(encodeWaitDescriptor().slice(0, 2))).toBe(low);
    expect(low).toBe((2n << 32n) | (1n << 5n) | 5n);
  });
  test('bits 127:64 are the status address itself (qw1 = virt_to_phys(&desc_status[i]))', () => {
    const waits = traced();
    expect(waits.length).toBeGreaterThan(1);
    for (const [high, low] of waits) {
      const words = [...dwordsFromBigInt(low, 64), ...dwordsFromBigInt(high, 64)];
      const d = decodeWaitDescriptor(words);
      expect(d).toEqual({
        statusWrite: true,
        statusData: QI_DONE,
        statusAddress: { lo: Number(high & 0xffffffffn), hi: Number(high >> 32n) },
      });
      expect(encodeWaitDescriptor(d.statusAddress)).toEqual(words);
    }
    // one IEC descriptor and one wait per batch: the wait slots, 4-byte ints, are 2 apart
    expect(waits[1][0] - waits[0][0]).toBe(8n);
  });
  test('refuses a status address that is not dword aligned', () => {
    expect(() => encodeWaitDescriptor({ lo: 0x1046006, hi: 0 })).toThrow(InputError);
  });
});
