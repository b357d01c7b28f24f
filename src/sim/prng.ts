// The simulator's only source of randomness: xoshiro128** 1.1 (D. Blackman, S. Vigna, "Scrambled
// Linear Pseudorandom Number Generators", ACM TOMS 2021; reference code xoshiro128starstar.c),
// seeded from a 32-bit seed through SplitMix32 (a Weyl sequence with step 0x9e3779b9 scrambled by
// MurmurHash3's fmix32), the seeding the xoshiro authors recommend (never an all-zero state).
//
// Invariants: the state is four 32-bit words in a Uint32Array (plain data: copy it to save it);
// the same seed gives the same sequence on every JavaScript engine, because every operation here
// is 32-bit integer arithmetic or an IEEE-754 basic operation (the logarithm below is computed
// from those instead of `Math.log`, whose last bit may differ between engines).
// Not here: anything cryptographic.

export type PrngState = Uint32Array;

const SPLITMIX32_GAMMA = 0x9e3779b9;
const TWO_POW_32 = 4294967296;
const LN2 = Math.LN2;
const SQRT2 = Math.SQRT2;
/** atanh series terms for ln(m), |s| <= 0.1716: 12 odd terms bound the error below 2^-53. */
const LN_SERIES_TERMS = 12;

export function prngFromSeed(seed: number): PrngState {
  const state = new Uint32Array(4);
  let weyl = seed >>> 0;
  for (let i = 0; i < 4; i++) {
    weyl = (weyl + SPLITMIX32_GAMMA) >>> 0;
    state[i] = fmix32(weyl);
  }
  if ((state[0] | state[1] | state[2] | state[3]) === 0) state[0] = 1;
  return state;
}

function fmix32(h: number): number {
  let z = h;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;

/** The next 32-bit output (xoshiro128**: rotl(s1 * 5, 7) * 9). */
export function prngNext(s: PrngState): number {
  const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
  const t = (s[1] << 9) >>> 0;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 11);
  return result;
}

/** A uniform double in (0, 1]: never 0, so its logarithm is finite. */
export function prngUnitOpen(s: PrngState): number {
  return (prngNext(s) + 1) / TWO_POW_32;
}

/** An integer in [0, n), n >= 1: floor(next / 2^32 * n) (bias below n / 2^32). */
export function prngBelow(s: PrngState, n: number): number {
  return Math.floor((prngNext(s) / TWO_POW_32) * n);
}

/** Exponential inter-arrival time in integer nanoseconds for a Poisson process of the given mean
 *  interval: -ln(U) * mean, U uniform in (0, 1], rounded to the nearest ns. */
export function prngExponentialNs(s: PrngState, meanNs: number): number {
  return Math.round(-lnDeterministic(prngUnitOpen(s)) * meanNs);
}

/** ln(x) for x > 0 from basic IEEE operations only: x = m * 2^k with m in [sqrt(1/2), sqrt(2)),
 *  ln(m) = 2 atanh((m-1)/(m+1)) summed as a fixed series. Relative error about 1e-16. */
export function lnDeterministic(x: number): number {
  let m = x;
  let k = 0;
  while (m < 1) {
    m *= 2;
    k--;
  }
  while (m >= 2) {
    m /= 2;
    k++;
  }
  if (m > SQRT2) {
    m /= 2;
    k++;
  }
  const s = (m - 1) / (m + 1);
  const s2 = s * s;
  let term = s;
  let sum = 0;
  for (let i = 0; i < LN_SERIES_TERMS; i++) {
    sum += term / (2 * i + 1);
    term *= s2;
  }
  return 2 * sum + k * LN2;
}
