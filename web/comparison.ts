// The comparison view: the table of `irqlab compare` (its rows and cells are report/
// compare-text.ts's own, so the page and the CLI cannot disagree), the CLI's text beneath it,
// and charts where they say more than numbers: exits by reason per strategy (stacked), setup
// and delivery latency (p50, p99), host resources used, subdevices that fit.

import * as Plot from '@observablehq/plot';
import { EXIT_KINDS } from '../src/hv/exits.js';
import {
  COMPARE_ROWS,
  compareCell,
  compareNotes,
  renderCompareText,
} from '../src/report/compare-text.js';
import type { CompareResult, StrategyColumn } from '../src/scenario/run-strategy.js';
import { el } from './dom.js';

const columns = (r: CompareResult): [string, StrategyColumn][] =>
  Object.entries(r.strategies).flatMap(([n, e]) =>
    'error' in e ? [] : [[n, e] as [string, StrategyColumn]],
  );

export function compareTable(r: CompareResult): HTMLTableElement {
  const names = Object.keys(r.strategies);
  const head = el(
    'tr',
    {},
    el('th', { scope: 'col' }, 'quantity'),
    ...names.map((n) => el('th', { scope: 'col' }, n)),
  );
  const rows = COMPARE_ROWS.map((row) =>
    el(
      'tr',
      { class: row[0].startsWith('  ') ? 'sub' : '' },
      el('th', { scope: 'row' }, row[0].trim()),
      ...names.map((n) => {
        const e = r.strategies[n];
        return el(
          'td',
          {
            'data-strategy': n,
            class: 'error' in e ? 'rejected' : '',
            title: 'error' in e ? e.error.message : '',
          },
          compareCell(e, row),
        );
      }),
    ),
  );
  return el(
    'table',
    { class: 'compare', 'aria-label': `irqlab compare: ${r.scenario}` },
    el('thead', {}, head),
    el('tbody', {}, ...rows),
  );
}

/** Two charts side by side beside the editor at 1280 px, one under another on a narrow window. */
const CHART = { width: 360, height: 240 };

function exitsChart(r: CompareResult) {
  const data = columns(r).flatMap(([strategy, c]) =>
    EXIT_KINDS.filter((k) => c.exits.byReason[k] > 0).map((reason) => ({
      strategy,
      reason,
      exits: c.exits.byReason[reason],
    })),
  );
  return Plot.plot({
    title: 'VM exits by reason',
    ...CHART,
    marginLeft: 60,
    color: { legend: true, scheme: 'tableau10' },
    y: { label: 'exits', grid: true },
    x: { label: null },
    marks: [
      Plot.barY(data, { x: 'strategy', y: 'exits', fill: 'reason', tip: true }),
      Plot.ruleY([0]),
    ],
  });
}

function latencyChart(r: CompareResult, which: 'setup' | 'delivery') {
  const data = columns(r).flatMap(([strategy, c]) =>
    (['p50', 'p99'] as const).map((p) => ({ strategy, percentile: p, ns: c.latencyNs[which][p] })),
  );
  return Plot.plot({
    title: `${which} latency (ns)`,
    ...CHART,
    marginLeft: 60,
    color: { legend: true, domain: ['p50', 'p99'] },
    fx: { label: null },
    x: { axis: null },
    y: { label: 'ns', grid: true },
    marks: [
      Plot.barY(data, { fx: 'strategy', x: 'percentile', y: 'ns', fill: 'percentile', tip: true }),
      Plot.ruleY([0]),
    ],
  });
}

const RESOURCES = [
  ['host vectors', (c: StrategyColumn) => c.resources.hostVectors],
  ['host IRTEs', (c: StrategyColumn) => c.resources.irtes],
  ['MSI-X entries', (c: StrategyColumn) => c.resources.msixEntries],
  ['IMS entries', (c: StrategyColumn) => c.resources.imsEntries],
  ['KVM GSI routes', (c: StrategyColumn) => c.resources.kvmRoutes],
] as const;

function resourcesChart(r: CompareResult) {
  const data = columns(r).flatMap(([strategy, c]) =>
    RESOURCES.map(([resource, f]) => ({ strategy, resource, used: f(c) })),
  );
  return Plot.plot({
    title: 'host resources used (peak)',
    ...CHART,
    marginLeft: 60,
    color: { legend: true, scheme: 'set2' },
    fx: { label: null },
    x: { axis: null },
    y: { label: 'used', grid: true },
    marks: [
      Plot.barY(data, { fx: 'strategy', x: 'resource', y: 'used', fill: 'resource', tip: true }),
      Plot.ruleY([0]),
    ],
  });
}

function capacityChart(r: CompareResult) {
  const data = columns(r).map(([strategy, c]) => ({
    strategy,
    fit: c.capacity.subdevices,
    limitedBy: c.capacity.limitedBy,
  }));
  return Plot.plot({
    title: 'subdevices that fit (label: the resource that runs out)',
    ...CHART,
    marginLeft: 80,
    marginRight: 120,
    x: { label: 'subdevices', grid: true },
    y: { label: null },
    marks: [
      Plot.barX(data, { y: 'strategy', x: 'fit', fill: '#4e79a7', tip: true }),
      Plot.text(data, {
        y: 'strategy',
        x: 'fit',
        text: (d) => `${d.fit} (${d.limitedBy})`,
        textAnchor: 'start',
        dx: 4,
      }),
      Plot.ruleX([0]),
    ],
  });
}

export function renderComparison(host: HTMLElement, r: CompareResult): void {
  const charts = [
    exitsChart(r),
    latencyChart(r, 'setup'),
    latencyChart(r, 'delivery'),
    resourcesChart(r),
    capacityChart(r),
  ];
  host.replaceChildren(
    el('h2', {}, `irqlab compare: ${r.scenario}`),
    el(
      'div',
      { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'comparison table' },
      compareTable(r),
    ),
    el('ul', { class: 'notes' }, ...compareNotes(r).map((n) => el('li', {}, n))),
    el(
      'details',
      {},
      el('summary', {}, 'as the CLI prints it'),
      el('pre', { class: 'cli-text' }, renderCompareText(r)),
    ),
    el('div', { class: 'charts' }, ...charts.map((c) => el('figure', {}, c))),
  );
}
