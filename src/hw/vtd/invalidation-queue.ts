// The remapping unit's Invalidation Queue (Intel VT-d spec rev 3.x/4.x, 6.5.2 "Queued
// Invalidation"; registers in 11.4.8: IQH_REG at 80h, IQT_REG at 88h, IQA_REG at 90h). Software
// writes 128-bit descriptors into a ring in memory and moves the tail register; the unit fetches
// the descriptor at the head, processes it and moves the head, in order. Linux's `qi_submit_sync`
// (drivers/iommu/intel/dmar.c) writes its descriptors at `free_head`, a wait descriptor after
// them whose status address is its `desc_status[wait_index]`, writes IQT and spins until that
// status reads QI_DONE.
// State: words of one Uint32Array (`QiWords`): IQH and IQT as the registers hold them, and the
// ring of `length` descriptors, 4 dwords each (dword 0 = bits 31:0). Head and tail count
// descriptors (QH/QT, bits 18:4 for 128-bit descriptors, DW = 0).
// Invariants: head and tail are below `length`; the ring is empty when they are equal (software
// keeps one slot free, as `qi_submit_sync` does: `free_cnt < count + 2` waits).
// Not modelled: the IQA_REG base and size beyond the ring's length (the ring is the words), 256-bit
// descriptors (DW = 1), Invalidation Queue Errors (IQE, ITE: only the model's own kernel writes
// descriptors, and it writes valid ones), the invalidation completion event (IF).

import { defineLayout, encode } from '../bits.js';
import { assert } from '../errors.js';
import { fieldPos, getField } from '../field-pos.js';
import { IEC_DESCRIPTOR_TYPE } from './interrupt-entry-cache.js';
import { WAIT_DESCRIPTOR_TYPE } from './invalidation-wait.js';

/** Dwords of one descriptor (128 bits, IQA_REG.DW = 0). */
export const QI_DESCRIPTOR_DWORDS = 4;

export const IQH_REG = defineLayout(
  'vtd-iqh-reg',
  32,
  'Intel VT-d 11.4.8.1 Invalidation Queue Head Register (IQH_REG), bits 31:0',
  {
    reserved0: [3, 0, 'Reserved (0)'],
    queueHead: [18, 4, 'QH: offset of the next descriptor the unit processes, in 128-bit units'],
    reserved1: [31, 19, 'Reserved (0)'],
  },
  { complete: true },
);

export const IQT_REG = defineLayout(
  'vtd-iqt-reg',
  32,
  'Intel VT-d 11.4.8.2 Invalidation Queue Tail Register (IQT_REG), bits 31:0',
  {
    reserved0: [3, 0, 'Reserved (0)'],
    queueTail: [18, 4, 'QT: offset of the next descriptor software writes, in 128-bit units'],
    reserved1: [31, 19, 'Reserved (0)'],
  },
  { complete: true },
);

/** The type field every descriptor has in bits 3:0 (6.5.2: 4h IEC invalidate, 5h wait, ...). */
const DESCRIPTOR_TYPE = defineLayout(
  'vtd-qi-descriptor-type',
  32,
  'Intel VT-d 6.5.2 invalidation descriptor, dword 0: the type',
  { type: [3, 0, 'Type bits 3:0'], rest: [31, 4, 'per descriptor type'] },
  { complete: true },
);

/** Where an invalidation queue is: IQH at `iqh`, IQT at `iqt`, descriptor i at `ring + 4i`. */
export interface QiWords {
  readonly iqh: number;
  readonly iqt: number;
  readonly ring: number;
  readonly length: number;
}

const QH = fieldPos(IQH_REG, 'queueHead');
const QT = fieldPos(IQT_REG, 'queueTail');
const TYPE = fieldPos(DESCRIPTOR_TYPE, 'type');

export const qiHead = (w: Uint32Array, q: QiWords): number => getField(w, q.iqh, QH);
export const qiTail = (w: Uint32Array, q: QiWords): number => getField(w, q.iqt, QT);
/** The unit has descriptors to fetch: IQH != IQT. */
export const qiPending = (w: Uint32Array, q: QiWords): boolean => qiHead(w, q) !== qiTail(w, q);
/** Descriptors software may still add: the ring less what is queued, less the one slot kept free. */
export const qiFree = (w: Uint32Array, q: QiWords): number =>
  q.length - 1 - ((qiTail(w, q) - qiHead(w, q) + q.length) % q.length);

/** Word offset of the descriptor at IQH (the one the unit processes next). */
export const qiHeadDescriptor = (w: Uint32Array, q: QiWords): number =>
  q.ring + qiHead(w, q) * QI_DESCRIPTOR_DWORDS;

/** The type of the descriptor at `at` (IEC_DESCRIPTOR_TYPE, WAIT_DESCRIPTOR_TYPE, ...). */
export const qiDescriptorType = (w: Uint32Array, at: number): number => getField(w, at, TYPE);

/** Software queues `descriptors` at IQT and moves IQT past them (the tail write that tells the
 *  unit). Returns the slot of the last one. The caller made sure they fit (`qiFree`). */
export function qiSubmit(w: Uint32Array, q: QiWords, descriptors: readonly number[][]): number {
  assert(descriptors.length <= qiFree(w, q), 'qiSubmit: the queue has no room');
  let tail = qiTail(w, q);
  let last = tail;
  for (const d of descriptors) {
    assert(d.length === QI_DESCRIPTOR_DWORDS, 'qiSubmit: a descriptor is 4 dwords');
    w.set(d, q.ring + tail * QI_DESCRIPTOR_DWORDS);
    last = tail;
    tail = (tail + 1) % q.length;
  }
  w[q.iqt] = encode(IQT_REG, { queueTail: tail })[0];
  return last;
}

/** The unit is done with the descriptor at IQH: IQH moves on (wrapping at the ring's end). */
export function qiAdvanceHead(w: Uint32Array, q: QiWords): void {
  w[q.iqh] = encode(IQH_REG, { queueHead: (qiHead(w, q) + 1) % q.length })[0];
}

/** The descriptor types this unit processes; anything else is an irqlab bug (see the header). */
export const QI_TYPES = { iec: IEC_DESCRIPTOR_TYPE, wait: WAIT_DESCRIPTOR_TYPE } as const;
