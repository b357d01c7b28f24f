// A latency histogram with bounded memory and bounded relative error, for percentiles over runs of
// any length: log-linear buckets (the HdrHistogram idea): values below 2^SUB_BITS have a bucket
// each; above, each power of two is split into 2^(SUB_BITS-1) equal buckets, so a reported
// percentile is within 1/64 (1.6 %) above the true value. Deterministic: integers only.
// Invariants: `count` is the sum of `counts`; values are integer nanoseconds >= 0, values at or
// above 2^32 ns (4.3 s) fall in the last bucket.

const SUB_BITS = 7;
const SUB_COUNT = 2 ** SUB_BITS;
const HALF = SUB_COUNT / 2;
const MAX_EXPONENT = 32;
const BUCKETS = SUB_COUNT + (MAX_EXPONENT - SUB_BITS) * HALF;

export interface Histogram {
  count: number;
  sum: number;
  min: number;
  max: number;
  readonly counts: Float64Array;
}

export function createHistogram(): Histogram {
  return {
    count: 0,
    sum: 0,
    min: Number.POSITIVE_INFINITY,
    max: 0,
    counts: new Float64Array(BUCKETS),
  };
}

function bucketOf(v: number): number {
  if (v < SUB_COUNT) return v;
  if (v >= 2 ** MAX_EXPONENT) return BUCKETS - 1;
  const exponent = 31 - Math.clz32(v); // >= SUB_BITS
  const shift = exponent - SUB_BITS + 1;
  const mantissa = Math.floor(v / 2 ** shift) - HALF; // 0 .. HALF-1
  return SUB_COUNT + (exponent - SUB_BITS) * HALF + mantissa;
}

/** The largest value that falls in bucket `b`. */
function bucketTop(b: number): number {
  if (b < SUB_COUNT) return b;
  const exponent = SUB_BITS + Math.floor((b - SUB_COUNT) / HALF);
  const mantissa = ((b - SUB_COUNT) % HALF) + HALF;
  const shift = exponent - SUB_BITS + 1;
  return (mantissa + 1) * 2 ** shift - 1;
}

export function histogramAdd(h: Histogram, valueNs: number): void {
  const v = Math.max(0, Math.round(valueNs));
  h.counts[bucketOf(v)]++;
  h.count++;
  h.sum += v;
  if (v < h.min) h.min = v;
  if (v > h.max) h.max = v;
}

/** The value at percentile `p` (0..100): the top of the bucket holding it, capped at max. */
export function histogramPercentile(h: Histogram, p: number): number {
  if (h.count === 0) return 0;
  const rank = Math.max(1, Math.ceil((p / 100) * h.count));
  let seen = 0;
  for (let b = 0; b < BUCKETS; b++) {
    seen += h.counts[b];
    if (seen >= rank) return Math.min(bucketTop(b), h.max);
  }
  return h.max;
}
