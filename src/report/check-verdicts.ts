// Two `irqlab check` results side by side, as `irqlab demo` ends: per strategy and property the
// verdict of the first and of the second (a procedure and its mutant: "holds / violated"), then
// the first steps of the second's first counterexample, with the command that prints it whole.
// Renders `scenario/run-check.ts` results; runs nothing. Timings are left out (they are in
// `irqlab check`'s own table): what this shows is the verdicts.

import type { CheckEntry, CheckScenarioResult } from '../scenario/run-check.js';

/** Counterexample steps shown (the rest are counted). */
const STEPS_SHOWN = 8;

function cell(entry: CheckEntry | undefined, property: string): string {
  if (entry === undefined) return '-';
  if ('error' in entry) return `(${entry.error.rule})`;
  const p = entry.properties[property];
  if (p === undefined) return '-';
  return p.verdict === 'incomplete' ? `incomplete (${p.bound})` : p.verdict;
}

function propertiesOf(r: CheckScenarioResult): string[] {
  const names = Object.values(r.strategies).flatMap((e) =>
    'properties' in e ? Object.keys(e.properties) : [],
  );
  return [...new Set(names)];
}

/** The verdict table of `a / b`, and the start of b's first counterexample. `command` is how to
 *  run b (its counterexample is printed whole by that command with --strategies and --property). */
export function renderVerdictPair(
  a: CheckScenarioResult,
  b: CheckScenarioResult,
  command: string,
): string {
  const properties = propertiesOf(a);
  const header = ['strategy', ...properties];
  const rows = Object.keys(a.strategies).map((strategy) => [
    strategy,
    ...properties.map(
      (p) => `${cell(a.strategies[strategy], p)} / ${cell(b.strategies[strategy], p)}`,
    ),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  const out = [`verdicts: ${a.scenario} / ${b.scenario}`, line(header), ...rows.map(line)];
  out.push(...counterexampleStart(b, command));
  return `${out.join('\n')}\n`;
}

function counterexampleStart(r: CheckScenarioResult, command: string): string[] {
  for (const [strategy, entry] of Object.entries(r.strategies)) {
    if ('error' in entry) continue;
    for (const [property, p] of Object.entries(entry.properties)) {
      if (p.counterexample === null) continue;
      const steps = p.counterexample;
      const shown = steps.slice(0, STEPS_SHOWN).map((st) => `  ${st.step}. ${st.action}`);
      const rest = steps.length - shown.length;
      return [
        '',
        `${r.scenario}: ${property} under ${strategy}, counterexample of ${steps.length} steps (DFS), the first ${shown.length}:`,
        ...shown,
        ...(rest > 0
          ? [`  ... ${rest} more: ${command} --strategies ${strategy} --property ${property}`]
          : []),
      ];
    }
  }
  return [];
}
