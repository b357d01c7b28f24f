// The hierarchy view: each kernel's irqdomain tree drawn by Graphviz (@viz-js/viz, WebAssembly
// bundled) from the DOT `irqlab show --what hierarchy --format dot` prints; a node clicked (or
// focused and Enter) shows that domain's state from the same kernel's JSON views: the domain,
// its irqs (`--what interrupts`), the device's MSI-X table (`--what msix`) for a device domain,
// the remapping table (`--what irte`) for the IR domain. Beneath, which host IRTE backs which
// guest vector: the host's table at the end of the run with each entry's owner (`--what irte
// --at <run.duration>`).

import type { Viz } from '@viz-js/viz';
import { el } from './dom.js';
import type { BackingIrt, DomainJson, KernelViews } from './protocol.js';

let viz: Promise<Viz> | null = null;

/** The domains whose state is the remapping table (the VT-d IR domain, the PV IR domain). */
const REMAPPING_DOMAINS = ['vtd-ir', 'pv-ir'];

/** Defaults for what the DOT leaves unset (it sets only the shape): a compact sans-serif. */
const NODE_STYLE = { fontname: 'Helvetica,Arial,sans-serif', fontsize: 10, margin: '0.08,0.03' };
const EDGE_STYLE = { arrowsize: 0.6 };

/** What a domain node shows when selected. */
function domainState(k: KernelViews, d: DomainJson): Record<string, unknown> {
  const irqs = k.irqs.filter((i) => i.chip === d.chip);
  const msix = k.msix.filter((m) => d.name.includes(m.bdf) || d.chip.includes(m.bdf));
  const irte = REMAPPING_DOMAINS.includes(d.kind) ? k.irte : [];
  return {
    domain: d,
    ...(irqs.length > 0 ? { irqs } : {}),
    ...(msix.length > 0 ? { msix } : {}),
    ...(irte.length > 0 ? { irte } : {}),
  };
}

function select(
  k: KernelViews,
  name: string,
  panel: HTMLElement,
  node: Element,
  svgs: HTMLElement,
): void {
  const d = k.domains.find((x) => `${k.name}/${x.name}` === name);
  if (!d) return;
  for (const n of svgs.querySelectorAll('.node.selected')) n.classList.remove('selected');
  node.classList.add('selected');
  panel.replaceChildren(
    el('h3', {}, `${k.name}: ${d.name}`),
    el(
      'pre',
      { class: 'state', 'data-domain': d.name },
      JSON.stringify(domainState(k, d), null, 2),
    ),
  );
}

function backingTable(irt: BackingIrt): HTMLElement {
  const head = ['IRTE', 'guest vector', 'requester', 'source-id check', 'entry'];
  const rows = irt.present.map((e) =>
    el(
      'tr',
      {},
      el('td', {}, String(e.index)),
      el('td', {}, e.who),
      el('td', {}, e.requester ?? '-'),
      el('td', {}, e.sourceIdCheck ?? '-'),
      el('td', { class: 'summary' }, e.summary),
    ),
  );
  return el(
    'section',
    { class: 'backing' },
    el('h3', {}, `Host IRTEs and the guest vectors they back (at ${irt.at}, the end of the run)`),
    irt.present.length === 0
      ? el('p', {}, 'No present IRTE: the host does not remap these interrupts.')
      : el(
          'div',
          { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'host IRTEs' },
          el(
            'table',
            { class: 'irte' },
            el('thead', {}, el('tr', {}, ...head.map((h) => el('th', { scope: 'col' }, h)))),
            el('tbody', {}, ...rows),
          ),
        ),
  );
}

export async function renderHierarchy(
  host: HTMLElement,
  kernels: readonly KernelViews[],
  irt: BackingIrt | null,
): Promise<void> {
  // Graphviz (WebAssembly, ~1.5 MB) is loaded with the first graph, from the page's own files.
  viz ??= import('@viz-js/viz').then((m) => m.instance());
  const v = await viz;
  const panel = el(
    'div',
    { class: 'node-state', 'aria-live': 'polite' },
    el('p', {}, 'Select a domain (click, or Tab to it and press Enter) to see its state.'),
  );
  const graphs = el('div', { class: 'graphs' });
  for (const k of kernels) {
    // Drawn right to left (the CLI's DOT says bottom to top) so that a wide tree, the host's
    // with a domain per device, grows down the page rather than off its side.
    const svg = v.renderSVGElement(k.dot.replace('rankdir=BT;', 'rankdir=RL;'), {
      nodeAttributes: NODE_STYLE,
      edgeAttributes: EDGE_STYLE,
    });
    // As wide as the view allows, down to 60% of Graphviz's size; a wider tree scrolls.
    const natural = svg.width.baseVal.value;
    svg.style.width = '100%';
    svg.style.maxWidth = `${natural}px`;
    svg.style.minWidth = `${Math.round(natural * 0.6)}px`;
    svg.style.height = 'auto';
    svg.setAttribute('role', 'group');
    svg.setAttribute('aria-label', `${k.name} irqdomain hierarchy`);
    for (const node of svg.querySelectorAll('g.node')) {
      const name = node.querySelector('title')?.textContent ?? '';
      node.setAttribute('tabindex', '0');
      node.setAttribute('role', 'button');
      node.setAttribute('data-domain', name);
      node.setAttribute('aria-label', name);
      const choose = () => select(k, name, panel, node, graphs);
      node.addEventListener('click', choose);
      node.addEventListener('keydown', (e) => {
        if ((e as KeyboardEvent).key === 'Enter' || (e as KeyboardEvent).key === ' ') {
          e.preventDefault();
          choose();
        }
      });
    }
    const warnings =
      k.warnings.length > 0 ? [el('p', { class: 'warn' }, k.warnings.join('\n'))] : [];
    graphs.append(
      el(
        'section',
        { class: 'kernel', 'data-kernel': k.name },
        el('h3', {}, k.name),
        ...warnings,
        el('div', { class: 'svg-wrap' }, svg),
      ),
    );
  }
  host.replaceChildren(
    el('h2', {}, 'irqdomain hierarchy'),
    el('div', { class: 'hierarchy' }, graphs, panel),
    ...(irt ? [backingTable(irt)] : []),
  );
}
