// The Invalidation Wait Descriptor (VT-d 6.5.2.8) Linux queues after each batch: qi_submit_sync
// sets QI_IWD_STATUS_DATA(QI_DONE) | QI_IWD_STATUS_WRITE | QI_IWD_TYPE (QI_DONE 2, bit 5, type
// 5), which QEMU traced as `vtd_inv_desc invalidate desc type wait high <address> low
// 0x200000025` (qemu-q35-ir/qemu-trace.log).
import { describe, expect, test } from 'vitest';
import { bigIntFromDwords } from '../../../src/hw/bits.js';
import { encodeWaitDescriptor } from '../../../src/hw/vtd/invalidation-wait.js';
import { readFixture } from '../../fixtures.js';

describe('invalidation wait descriptor', () => {
  test("Linux's wait descriptor is the low qword QEMU traced", () => {
    const traced = /type wait high \S+ low (0x[0-9a-f]+)/.exec(
      readFixture('qemu-q35-ir/qemu-trace.log'),
    );
    const low = bigIntFromDwords(encodeWaitDescriptor().slice(0, 2));
    expect(`0x${low.toString(16)}`).toBe(traced?.[1]);
    expect(low).toBe((2n << 32n) | (1n << 5n) | 5n);
  });
});
