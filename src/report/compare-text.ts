// The text table of `irqlab compare`: strategies as columns, one row per measured quantity, a
// strategy the rules reject shown as its rule; then the notes (pv fallback, isolation findings).
// The rows and their cells are exported: the web page's table is this table.

import { EXIT_KINDS } from '../hv/exits.js';
import type { CompareEntry, CompareResult, StrategyColumn } from '../scenario/run-strategy.js';

export type CompareRow = readonly [label: string, value: (c: StrategyColumn) => string | number];

export const COMPARE_ROWS: readonly CompareRow[] = [
  ['exits / vector set up', (c) => c.exits.perVectorSetup],
  ['exits / interrupt delivered', (c) => c.exits.perDelivery],
  ['exits / mask+unmask', (c) => c.exits.perMaskUnmask],
  ['exits / affinity change', (c) => c.exits.perAffinityChange],
  ['exits / vCPU migration', (c) => c.exits.perMigration],
  ...EXIT_KINDS.map((k): CompareRow => [`  ${k}`, (c) => c.exits.byReason[k]]),
  ['  of which: registers on table page', (c) => c.exits.tablePageRegisterAccesses],
  ['setup latency p50 (ns)', (c) => c.latencyNs.setup.p50],
  ['setup latency p99 (ns)', (c) => c.latencyNs.setup.p99],
  ['delivery latency p50 (ns)', (c) => c.latencyNs.delivery.p50],
  ['delivery latency p99 (ns)', (c) => c.latencyNs.delivery.p99],
  ['host vectors', (c) => c.resources.hostVectors],
  ['host IRTEs', (c) => c.resources.irtes],
  ['host IRT window (vir-direct)', (c) => c.resources.irteWindow],
  ['  of which used by the guests', (c) => c.resources.irteWindowUsed],
  ['MSI-X entries', (c) => c.resources.msixEntries],
  ['IMS entries', (c) => c.resources.imsEntries],
  ['INTx lines', (c) => c.resources.intxLines],
  ['KVM GSI routes', (c) => c.resources.kvmRoutes],
  ['VFIO_DEVICE_SET_IRQS calls', (c) => c.hostWork.vfioSetIrqs],
  ['  vectors re-enabled (no dyn. MSI-X)', (c) => c.hostWork.vfioReenabledVectors],
  ['routes re-submitted', (c) => c.hostWork.routesResubmitted],
  ['routes re-translated (IEC)', (c) => c.hostWork.routesRetranslated],
  ['subdevices that fit', (c) => c.capacity.subdevices],
  ['  limited by', (c) => c.capacity.limitedBy],
  ['interrupts raised', (c) => c.interrupts.raised],
  ['delivered', (c) => c.interrupts.delivered],
  ['lost', (c) => c.interrupts.lost],
  ['duplicated', (c) => c.interrupts.duplicated],
  ['misdirected', (c) => c.interrupts.misdirected],
  [
    'hostile writes reaching another VM',
    (c) => (c.isolation ? c.isolation.counts.deliveredOtherVm : '-'),
  ],
];

const isError = (e: CompareEntry): e is Extract<CompareEntry, { error: unknown }> => 'error' in e;
const column = (e: CompareEntry): StrategyColumn | null => (isError(e) ? null : e);

/** One cell: the row's value, or the rule that rejects the strategy in parentheses. */
export function compareCell(e: CompareEntry, row: CompareRow): string {
  const c = column(e);
  return c === null ? `(${isError(e) ? e.error.rule : ''})` : String(row[1](c));
}

export function renderCompareText(r: CompareResult): string {
  const names = Object.keys(r.strategies);
  const cells = COMPARE_ROWS.map((row) => [
    row[0],
    ...names.map((n) => compareCell(r.strategies[n], row)),
  ]);
  const header = ['', ...names];
  const widths = header.map((_, i) => Math.max(...[header, ...cells].map((row) => row[i].length)));
  const line = (row: readonly string[]) =>
    row.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const out = [`irqlab compare: ${r.scenario}`, '', line(header), ...cells.map(line), ''];
  return `${[...out, ...compareNotes(r)].join('\n')}\n`;
}

/** The lines under the table: why a strategy cannot run, each strategy's notes and findings. */
export function compareNotes(r: CompareResult): string[] {
  const out: string[] = [];
  for (const [n, e] of Object.entries(r.strategies)) {
    const c = column(e);
    if (c === null) out.push(`${n}: cannot run: ${isError(e) ? e.error.message : ''}`);
    else {
      for (const note of c.notes) out.push(`${n}: ${note}`);
      if (c.isolation && !c.isolation.isolated) {
        out.push(`${n}: finding: a hostile guest's writes are not isolated (see --json isolation)`);
      }
    }
  }
  return out;
}
