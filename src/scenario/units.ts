// Units a scenario is written in: durations ("10ms", "2.5us", "1s" or an integer number of
// nanoseconds) and rates ("200k/s", "1.5M/s" or a number per second). The simulator works in
// integer nanoseconds, so every duration is rounded to the nanosecond here, once.

const NS_PER_UNIT: Readonly<Record<string, number>> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9 };
const RATE_MULTIPLIER: Readonly<Record<string, number>> = { '': 1, k: 1e3, M: 1e6 };

export const DURATION_PATTERN = /^([0-9]+(?:\.[0-9]+)?)\s*(ns|us|µs|ms|s)$/;
export const RATE_PATTERN = /^([0-9]+(?:\.[0-9]+)?)\s*(k|M)?\/s$/;

/** Parses a duration already matched by DURATION_PATTERN (the schema checks the text). */
export function durationNs(value: number | string): number {
  if (typeof value === 'number') return value;
  const m = DURATION_PATTERN.exec(value.trim());
  if (!m) return Number.NaN;
  return Math.round(Number(m[1]) * NS_PER_UNIT[m[2]]);
}

/** Parses a rate already matched by RATE_PATTERN, in events per second. */
export function ratePerSecond(value: number | string): number {
  if (typeof value === 'number') return value;
  const m = RATE_PATTERN.exec(value.trim());
  if (!m) return Number.NaN;
  return Number(m[1]) * RATE_MULTIPLIER[m[2] ?? ''];
}

/** "1.5ms", "250us", "80ns": the largest unit that keeps the number at least 1. */
export function formatNs(ns: number): string {
  if (ns >= 1e9) return `${trim(ns / 1e9)}s`;
  if (ns >= 1e6) return `${trim(ns / 1e6)}ms`;
  if (ns >= 1e3) return `${trim(ns / 1e3)}us`;
  return `${ns}ns`;
}

const trim = (x: number) => String(Math.round(x * 1000) / 1000);
