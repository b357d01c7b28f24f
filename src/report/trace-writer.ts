// What the trace writers share: a buffered text sink (the CLI hands it a file, tests a string),
// the names of tracks taken from the topology, and a small time-ordered holding area for lines
// that belong after the record that produced them (a handler's exit line, `durNs` later).
// Invariant: output is a pure function of the records and the topology (byte-identical runs).

import { bdfOfRequesterId, formatBdf } from '../hw/pci/bdf.js';
import type { SystemTopology } from '../machine/system-topology.js';
import type { TraceRecord } from '../sim/trace-recorder.js';

export interface TraceWriter {
  write(r: TraceRecord): void;
  end(): void;
}

/** Flushes to `sink` in chunks of about this many characters. */
const CHUNK_CHARS = 1 << 16;

export interface TextSink {
  put(text: string): void;
  flush(): void;
}

export function bufferedSink(sink: (chunk: string) => void): TextSink {
  let buffer: string[] = [];
  let size = 0;
  const flush = () => {
    if (size === 0) return;
    sink(buffer.join(''));
    buffer = [];
    size = 0;
  };
  return {
    put(text) {
      buffer.push(text);
      size += text.length;
      if (size >= CHUNK_CHARS) flush();
    },
    flush,
  };
}

/** Lines to emit at a later time, kept in time order (insertion order for equal times). */
export interface Deferred {
  readonly items: { tsNs: number; seq: number; text: string }[];
  seq: number;
}

export const createDeferred = (): Deferred => ({ items: [], seq: 0 });

export function defer(d: Deferred, tsNs: number, text: string): void {
  const item = { tsNs, seq: d.seq++, text };
  let i = d.items.length;
  while (i > 0 && d.items[i - 1].tsNs > tsNs) i--;
  d.items.splice(i, 0, item);
}

/** Emits every deferred line due at or before `tsNs`. */
export function releaseDue(d: Deferred, tsNs: number, out: TextSink): void {
  let n = 0;
  while (n < d.items.length && d.items[n].tsNs <= tsNs) out.put(d.items[n++].text);
  if (n > 0) d.items.splice(0, n);
}

export const portBdf = (t: SystemTopology, port: number): string =>
  port < 0 ? '-' : formatBdf(bdfOfRequesterId(t.ports[port].requesterId), { withSegment: true });

export const vectorName = (t: SystemTopology, vector: number): string =>
  t.vectors[vector]?.name ?? 'unassigned';

export const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;
