// The hierarchy view: each kernel's irqdomain tree drawn by Graphviz (@viz-js/viz, WebAssembly
// bundled) from the DOT `irqlab show --what hierarchy --format dot` prints; a node clicked (or
// focused and Enter) shows that domain's state from the same kernel's JSON views: the domain,
// its irqs (`--what interrupts`), the device's MSI-X table (`--what msix`) for a device domain,
// the remapping table (`--what irte`) for the IR domain.

import type { Viz } from '@viz-js/viz';
import { el } from './dom.js';
import type { DomainJson, KernelViews } from './protocol.js';

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

export async function renderHierarchy(
  host: HTMLElement,
  kernels: readonly KernelViews[],
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
    const svg = v.renderSVGElement(k.dot, {
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
  );
}
