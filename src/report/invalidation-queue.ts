// `irqlab show --what invalidations`: the queued-invalidation descriptors a kernel wrote to its
// remapping unit's invalidation queue, in order, each batch under the kernel operation that
// caused it (the access log's `iec-invalidate` entries, whose descriptors the kernel composed:
// `qi_flush_iec` then `qi_submit_sync`'s wait). Each descriptor as QEMU's trace prints it
// ("type iec high <bits 127:64> low <bits 63:0>", then "granularity G index I mask M" for an IEC
// one: `qemu-q35-ir/qemu-trace.log` vtd_inv_desc / vtd_inv_desc_iec), the wait descriptor with
// its status data (its status address is memory irqlab does not lay out).
// Not shown: the global IEC invalidation of IR enable (not in the access log).

import { bigIntFromDwords, decode } from '../hw/bits.js';
import { IEC_DESCRIPTOR_TYPE, IEC_INVALIDATE_DESCRIPTOR } from '../hw/vtd/interrupt-entry-cache.js';
import { INVALIDATION_WAIT_DESCRIPTOR } from '../hw/vtd/invalidation-wait.js';
import type { KernelState } from '../kernel/kernel-state.js';
import type { HwAccess } from '../kernel/platform.js';

type Invalidation = Extract<HwAccess, { kind: 'iec-invalidate' }>;

const hex = (v: bigint | number) => `0x${v.toString(16)}`;

function describe(words: number[]) {
  const low = bigIntFromDwords(words.slice(0, 2));
  const high = bigIntFromDwords(words.slice(2));
  const type = decode(IEC_INVALIDATE_DESCRIPTOR, words).type;
  if (type === IEC_DESCRIPTOR_TYPE) {
    const d = decode(IEC_INVALIDATE_DESCRIPTOR, words);
    return {
      type: 'iec',
      raw: `type iec high ${hex(high)} low ${hex(low)}`,
      decoded: `granularity ${hex(d.granularity)} index ${hex(d.interruptIndex)} mask ${hex(d.indexMask)}`,
      json: { granularity: d.granularity, index: d.interruptIndex, mask: d.indexMask },
    };
  }
  const w = decode(INVALIDATION_WAIT_DESCRIPTOR, words);
  return {
    type: 'wait',
    raw: `type wait low ${hex(low)}`,
    decoded: `status write ${w.statusWrite} data ${hex(w.statusData)} (status address not modelled)`,
    json: { statusWrite: w.statusWrite, statusData: w.statusData },
  };
}

const invalidations = (k: KernelState) =>
  k.accessLog.filter((a): a is Invalidation => a.kind === 'iec-invalidate');

export function invalidationQueueJson(k: KernelState): unknown {
  return invalidations(k).flatMap((a) =>
    a.descriptors.map((words) => {
      const d = describe(words);
      return { op: a.op, unit: a.unit, type: d.type, ...d.json, dwords: words };
    }),
  );
}

export function renderInvalidationQueue(k: KernelState): string {
  const all = invalidations(k);
  if (all.length === 0) return `no invalidation descriptors on ${k.name}\n`;
  const lines: string[] = [];
  let op: string | null = null;
  let count = 0;
  for (const a of all) {
    if (a.op !== op) {
      op = a.op;
      lines.push(`${a.unit} ${op || '(no operation)'}`);
    }
    for (const words of a.descriptors) {
      const d = describe(words);
      lines.push(`  ${++count} ${d.raw}`, `      ${d.decoded}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
