// The text of `irqlab check`: one row per strategy and property (verdict, states, transitions,
// depth, time; an incomplete search names the bound that stopped it, a strategy the rules reject
// its rule), then each counterexample as numbered steps, each with the words it changed (the
// entry's dwords, the IRTE, the PID's PIR/ON/SN/NDST, the IRRs: whatever the step touched).
// Renders a `scenario/run-check.ts` result; runs nothing.

import type {
  CheckScenarioResult,
  CounterexampleStep,
  PropertyCheck,
} from '../scenario/run-check.js';

/** Changed words shown per counterexample step (the rest are counted). */
const CHANGES_SHOWN = 12;

const hex = (n: number) => `0x${n.toString(16)}`;

export function verdictCell(p: PropertyCheck): string {
  return p.verdict === 'incomplete' ? `incomplete (${p.bound})` : p.verdict;
}

export function renderCheckText(r: CheckScenarioResult): string {
  const header = ['strategy', 'property', 'verdict', 'states', 'transitions', 'depth', 'time'];
  const rows: string[][] = [];
  const searches = new Set<string>();
  const rejected: string[] = [];
  for (const [strategy, entry] of Object.entries(r.strategies)) {
    if ('error' in entry) {
      rows.push([strategy, '-', 'rejected', '', '', '', '']);
      rejected.push(`${strategy}: rejected: ${entry.error.message}`);
      continue;
    }
    for (const [property, p] of Object.entries(entry.properties)) {
      searches.add(
        `${p.search}, store ${p.store === 'full' ? 'full states' : 'fingerprints (hash compaction)'}, POR ${p.por ? 'on' : 'off'}`,
      );
      rows.push([
        strategy,
        property,
        verdictCell(p),
        p.states.toLocaleString('en-US'),
        p.transitions.toLocaleString('en-US'),
        String(p.depth),
        `${p.seconds.toFixed(2)}s`,
      ]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i >= 3 ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  const out = [`check ${r.scenario}: ${r.verdict}`, line(header), ...rows.map(line)];
  if (searches.size > 0) out.push(`search: ${[...searches].join('; ')}`);
  out.push(...rejected);
  for (const [strategy, entry] of Object.entries(r.strategies)) {
    if ('error' in entry) continue;
    for (const [property, p] of Object.entries(entry.properties)) {
      if (p.counterexample === null) continue;
      out.push(
        '',
        `counterexample: ${property} under ${strategy} (${p.counterexample.length} steps${p.search === 'bfs' ? ', shortest' : ''})`,
      );
      for (const st of p.counterexample) out.push(...stepLines(st));
    }
  }
  return `${out.join('\n')}\n`;
}

function stepLines(st: CounterexampleStep): string[] {
  const shown = st.changed
    .slice(0, CHANGES_SHOWN)
    .map((c) => `${c.word}: ${hex(c.from)} -> ${hex(c.to)}`);
  const more = st.changed.length - shown.length;
  const lines = [`  ${String(st.step).padStart(3)}. ${st.action}`];
  if (st.events.length > 0) lines.push(`       events: ${st.events.join(' ')}`);
  if (shown.length > 0) {
    lines.push(`       words: ${shown.join(', ')}${more > 0 ? ` (+${more} more)` : ''}`);
  }
  return lines;
}
