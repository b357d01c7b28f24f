// The invalidation queue's registers and ring (VT-d 11.4.8 IQH_REG/IQT_REG, 6.5.2): QH/QT are
// bits 18:4, the offset in 128-bit descriptors, which Linux writes as `free_head << shift` with
// shift DMAR_IQ_SHIFT = 4 (`qi_submit_sync`); the head follows the tail, wrapping at the ring's
// end; one slot stays free (`free_cnt < count + 2` waits).
import { describe, expect, it } from 'vitest';
import { encodeIecDescriptor } from '../../../src/hw/vtd/interrupt-entry-cache.js';
import {
  IQH_REG,
  IQT_REG,
  QI_TYPES,
  type QiWords,
  qiAdvanceHead,
  qiDescriptorType,
  qiFree,
  qiHead,
  qiHeadDescriptor,
  qiPending,
  qiSubmit,
  qiTail,
} from '../../../src/hw/vtd/invalidation-queue.js';
import { encodeWaitDescriptor } from '../../../src/hw/vtd/invalidation-wait.js';

const Q: QiWords = { iqh: 0, iqt: 1, ring: 2, length: 4 };
const batch = (index: number) => [
  encodeIecDescriptor({ granularity: 'index', index, indexMask: 0 }),
  encodeWaitDescriptor({ lo: 0x1046004, hi: 0 }),
];

describe('IQH_REG and IQT_REG', () => {
  it('are 32 bits with QH/QT at 18:4 and everything else reserved', () => {
    for (const reg of [IQH_REG, IQT_REG]) expect(reg.width).toBe(32);
    expect(IQH_REG.fields.queueHead.slice(0, 2)).toEqual([18, 4]);
    expect(IQT_REG.fields.queueTail.slice(0, 2)).toEqual([18, 4]);
    expect(IQT_REG.accessors.queueTail.get([2 << 4])).toBe(2);
    expect(IQH_REG.accessors.queueHead.get([0x7fff << 4])).toBe(0x7fff);
  });
});

describe('the ring', () => {
  it('takes a batch at the tail and writes IQT as Linux does (free_head << 4)', () => {
    const w = new Uint32Array(2 + 4 * 4);
    expect(qiPending(w, Q)).toBe(false);
    expect(qiFree(w, Q)).toBe(3);
    expect(qiSubmit(w, Q, batch(32))).toBe(1);
    expect(w[Q.iqt]).toBe(2 << 4);
    expect([qiHead(w, Q), qiTail(w, Q), qiFree(w, Q)]).toEqual([0, 2, 1]);
    expect(Array.from(w.subarray(2, 6))).toEqual(batch(32)[0]);
    expect(qiDescriptorType(w, qiHeadDescriptor(w, Q))).toBe(QI_TYPES.iec);
  });
  it('the head follows in order and wraps; the queue is empty when head meets tail', () => {
    const w = new Uint32Array(2 + 4 * 4);
    qiSubmit(w, Q, batch(1));
    qiAdvanceHead(w, Q);
    expect(qiDescriptorType(w, qiHeadDescriptor(w, Q))).toBe(QI_TYPES.wait);
    qiAdvanceHead(w, Q);
    expect(qiPending(w, Q)).toBe(false);
    qiSubmit(w, Q, batch(2)); // slots 2 and 3: the tail wraps to 0
    expect([qiHead(w, Q), qiTail(w, Q)]).toEqual([2, 0]);
    qiAdvanceHead(w, Q);
    qiAdvanceHead(w, Q);
    expect([qiHead(w, Q), w[Q.iqh]]).toEqual([0, 0]);
  });
  it('never fills the last slot', () => {
    const w = new Uint32Array(2 + 4 * 4);
    qiSubmit(w, Q, batch(1));
    expect(() => qiSubmit(w, Q, batch(2))).toThrow();
  });
});
