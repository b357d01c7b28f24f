// The summary of one simulated run, as text for people and as one JSON object for scripts:
// interrupts raised / delivered / coalesced / lost, delivery latency percentiles, VM exits by
// reason (per interrupt delivered too), how deliveries went (posted, host interrupts, wake-ups),
// and per assigned vector. Numbers come straight from `SimResult`; nothing is recomputed here.

import { formatNs } from '../scenario/units.js';
import type { SimResult } from '../sim/system-sim.js';

export interface RunSummaryContext {
  readonly file: string;
  readonly scenarioName: string;
  readonly strategies: readonly string[];
  readonly costs: Readonly<Record<string, number>>;
  /** Properties that failed (exit code 1 when not empty). */
  readonly failedProperties: readonly string[];
}

export function runSummaryJson(r: SimResult, ctx: RunSummaryContext) {
  const delivered = r.interrupts.delivered;
  return {
    scenario: ctx.scenarioName,
    file: ctx.file,
    strategies: [...new Set(ctx.strategies)],
    seed: r.seed,
    durationNs: r.durationNs,
    steps: r.steps,
    interrupts: r.interrupts,
    coalescedAt: r.coalescedAt,
    lostBy: r.lostBy,
    exits: r.exits,
    exitsTotal: r.exitsTotal,
    exitsPerDelivered: delivered > 0 ? round3(r.exitsTotal / delivered) : 0,
    delivery: r.counts,
    latencyNs: {
      count: r.latency.count,
      mean: r.latency.meanNs,
      p50: r.latency.p50Ns,
      p90: r.latency.p90Ns,
      p99: r.latency.p99Ns,
      p999: r.latency.p999Ns,
      max: r.latency.maxNs,
    },
    vectors: r.vectors,
    costs: ctx.costs,
    failedProperties: ctx.failedProperties,
  };
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

export function runSummaryText(r: SimResult, ctx: RunSummaryContext): string {
  const i = r.interrupts;
  const lines: string[] = [];
  const strategies = [...new Set(ctx.strategies)].join(', ');
  lines.push(
    `${ctx.scenarioName} (${ctx.file}): strategy ${strategies}, seed ${r.seed}, ${formatNs(r.durationNs)} simulated, ${r.steps} steps`,
  );
  lines.push('');
  lines.push(
    `interrupts  raised ${i.raised}  delivered ${i.delivered}  coalesced ${i.coalesced}${detail(r.coalescedAt)}  lost ${i.lost}${detail(r.lostBy)}  in flight ${i.inFlight}`,
  );
  const l = r.latency;
  lines.push(
    l.count === 0
      ? 'latency     no interrupt delivered'
      : `latency     raise -> guest handler  p50 ${formatNs(l.p50Ns)}  p90 ${formatNs(l.p90Ns)}  p99 ${formatNs(l.p99Ns)}  p99.9 ${formatNs(l.p999Ns)}  max ${formatNs(l.maxNs)}  (${l.count} samples)`,
  );
  const perDelivered = i.delivered > 0 ? (r.exitsTotal / i.delivered).toFixed(3) : '-';
  lines.push(`exits       ${r.exitsTotal} total, ${perDelivered} per interrupt delivered`);
  for (const [reason, n] of Object.entries(r.exits))
    lines.push(`            ${reason.padEnd(20)} ${n}`);
  const c = r.counts;
  lines.push(
    `delivery    posted ${c.posted} (notifications ${c.notifications}, processed in guest mode ${c.postedInGuest})  host irqs ${c.hostIrqs}  wake-ups ${c.wakeups}  IPIs ${c.ipis}`,
  );
  if (c.spurious + c.guestSpurious > 0) {
    lines.push(`spurious    host ${c.spurious}  guest ${c.guestSpurious}`);
  }
  lines.push('');
  lines.push(vectorTable(r));
  if (ctx.failedProperties.length > 0) {
    lines.push('');
    lines.push(`FAILED: ${ctx.failedProperties.join(', ')}`);
  }
  return `${lines.join('\n')}\n`;
}

const detail = (m: Readonly<Record<string, number>>) => {
  const parts = Object.entries(m).map(([k, n]) => `${k} ${n}`);
  return parts.length ? ` (${parts.join(', ')})` : '';
};

function vectorTable(r: SimResult): string {
  const header = ['vector', 'raised', 'delivered', 'coalesced', 'lost'];
  const rows = r.vectors.map((v) => [
    v.name,
    String(v.raised),
    String(v.delivered),
    String(v.coalesced),
    String(v.lost),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c].length)));
  const fmt = (row: string[]) =>
    row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  return [fmt(header), ...rows.map(fmt)].join('\n');
}
