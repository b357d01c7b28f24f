// The simulator's event queue: a binary min-heap of scheduled entries ordered by (time, sequence).
// Time is simulated integer nanoseconds; the sequence number is the order of insertion, so entries
// due at the same time come out in the order they were scheduled and a run is reproducible.
//
// Invariants: heap order on (timeNs, seq); seq strictly increases with each push; no entry is
// ever reordered with an equal key (there are none: seq is unique). An entry is plain numbers
// (`kind`, `a`, `b`), stored in parallel typed arrays that grow by doubling: pushing and popping
// allocate nothing in the steady state.
// Not here: cancellation (the simulator ignores stale entries by checking state when they fire;
// a replay takes the entry of each step it applies, `queueRemove`).

/** Time up to 2^53 ns (104 days) stays an exact integer in a double. */
export const QUEUE_TIME_MAX_NS = Number.MAX_SAFE_INTEGER;
const INITIAL_CAPACITY = 256;

export interface EventQueue {
  size: number;
  nextSeq: number;
  timeNs: Float64Array;
  seq: Float64Array;
  kind: Uint8Array;
  a: Int32Array;
  b: Int32Array;
}

/** The entry `queuePop` took off: reused by the caller, never retained by the queue. */
export interface QueueEntry {
  timeNs: number;
  seq: number;
  kind: number;
  a: number;
  b: number;
}

export function createEventQueue(capacity = INITIAL_CAPACITY): EventQueue {
  return {
    size: 0,
    nextSeq: 0,
    timeNs: new Float64Array(capacity),
    seq: new Float64Array(capacity),
    kind: new Uint8Array(capacity),
    a: new Int32Array(capacity),
    b: new Int32Array(capacity),
  };
}

export const emptyQueueEntry = (): QueueEntry => ({ timeNs: 0, seq: 0, kind: 0, a: 0, b: 0 });

export function queuePush(q: EventQueue, timeNs: number, kind: number, a: number, b: number) {
  if (q.size === q.timeNs.length) grow(q);
  const i = q.size++;
  siftUp(q, i, timeNs, q.nextSeq++, kind, a, b);
}

/** Removes the earliest entry into `out`; false if the queue is empty. */
export function queuePop(q: EventQueue, out: QueueEntry): boolean {
  if (q.size === 0) return false;
  read(q, 0, out);
  const last = --q.size;
  if (last > 0) siftDownLast(q, 0, last);
  return true;
}

/** Removes the entry at heap position `i` (0 <= i < size) into `out`: a replay takes the
 *  scheduled action it applies wherever it is. */
export function queueRemove(q: EventQueue, i: number, out: QueueEntry): void {
  read(q, i, out);
  const last = --q.size;
  if (i === last) return;
  // The last entry fills the hole: up if it is earlier than the hole's parent, else down.
  const parent = (i - 1) >>> 1;
  if (i > 0 && less(q.timeNs[last], q.seq[last], q.timeNs[parent], q.seq[parent])) {
    siftUp(q, i, q.timeNs[last], q.seq[last], q.kind[last], q.a[last], q.b[last]);
  } else siftDownLast(q, i, last);
}

/** Puts the entry into the hole at `i`, moving parents down until its key is not less than its
 *  parent's. */
function siftUp(
  q: EventQueue,
  hole: number,
  timeNs: number,
  seq: number,
  kind: number,
  a: number,
  b: number,
) {
  let i = hole;
  while (i > 0) {
    const parent = (i - 1) >>> 1;
    if (!less(timeNs, seq, q.timeNs[parent], q.seq[parent])) break;
    move(q, parent, i);
    i = parent;
  }
  put(q, i, timeNs, seq, kind, a, b);
}

export const queuePeekTimeNs = (q: EventQueue): number =>
  q.size === 0 ? Number.POSITIVE_INFINITY : q.timeNs[0];

/** Puts the entry at `last` (now outside the heap) into the hole at `hole`, moving the earlier
 *  child up until neither child is earlier. */
function siftDownLast(q: EventQueue, hole: number, last: number): void {
  const t = q.timeNs[last];
  const s = q.seq[last];
  const kind = q.kind[last];
  const a = q.a[last];
  const b = q.b[last];
  let i = hole;
  for (;;) {
    const left = 2 * i + 1;
    if (left >= last) break;
    const right = left + 1;
    let child = left;
    if (right < last && less(q.timeNs[right], q.seq[right], q.timeNs[left], q.seq[left])) {
      child = right;
    }
    if (!less(q.timeNs[child], q.seq[child], t, s)) break;
    move(q, child, i);
    i = child;
  }
  put(q, i, t, s, kind, a, b);
}

const less = (t1: number, s1: number, t2: number, s2: number) => t1 < t2 || (t1 === t2 && s1 < s2);

function read(q: EventQueue, i: number, out: QueueEntry): void {
  out.timeNs = q.timeNs[i];
  out.seq = q.seq[i];
  out.kind = q.kind[i];
  out.a = q.a[i];
  out.b = q.b[i];
}

function move(q: EventQueue, from: number, to: number): void {
  q.timeNs[to] = q.timeNs[from];
  q.seq[to] = q.seq[from];
  q.kind[to] = q.kind[from];
  q.a[to] = q.a[from];
  q.b[to] = q.b[from];
}

function put(q: EventQueue, i: number, t: number, s: number, kind: number, a: number, b: number) {
  q.timeNs[i] = t;
  q.seq[i] = s;
  q.kind[i] = kind;
  q.a[i] = a;
  q.b[i] = b;
}

function grow(q: EventQueue): void {
  const capacity = q.timeNs.length * 2;
  const timeNs = new Float64Array(capacity);
  timeNs.set(q.timeNs);
  const seq = new Float64Array(capacity);
  seq.set(q.seq);
  const kind = new Uint8Array(capacity);
  kind.set(q.kind);
  const a = new Int32Array(capacity);
  a.set(q.a);
  const b = new Int32Array(capacity);
  b.set(q.b);
  Object.assign(q, { timeNs, seq, kind, a, b });
}
