// The irqdomain hierarchy of a kernel, as text (a tree from the vector domain down, the way
// /sys/kernel/debug/irq/domains/ names the domains) and as Graphviz (`--format dot`): each
// domain with its kind, the chip name /proc/interrupts shows for its irqs, whether it isolates
// MSI (IRQ_DOMAIN_FLAG_ISOLATED_MSI, what IMS needs) and how many irqs it holds.
// Invariant: every domain appears once, under its parent.

import type { IrqDomain, KernelState } from '../kernel/kernel-state.js';

const children = (k: KernelState, id: number | null): IrqDomain[] =>
  k.domains.filter((d) => d.parent === id);

function label(d: IrqDomain): string {
  const flags = [d.kind, `chip ${d.chipName}`];
  if (d.isolatedMsi) flags.push('isolated MSI');
  if (d.device) flags.push(`device ${d.device}`);
  flags.push(`${d.mapped} irq${d.mapped === 1 ? '' : 's'}`);
  return `${d.name} (${flags.join(', ')})`;
}

export function renderHierarchyText(k: KernelState): string {
  const lines = [`${k.name} kernel ${k.version.major}.${k.version.minor}, platform ${k.platform}`];
  const walk = (d: IrqDomain, prefix: string, last: boolean, root: boolean) => {
    lines.push(root ? label(d) : `${prefix}${last ? '`-- ' : '|-- '}${label(d)}`);
    const kids = children(k, d.id);
    const next = root ? '' : `${prefix}${last ? '    ' : '|   '}`;
    kids.forEach((c, i) => {
      walk(c, next, i === kids.length - 1, false);
    });
  };
  for (const root of children(k, null)) walk(root, '', true, true);
  return `${lines.join('\n')}\n`;
}

const quote = (s: string) => `"${s.replace(/"/g, '\\"')}"`;

export function renderHierarchyDot(k: KernelState): string {
  const id = (d: IrqDomain) => quote(`${k.name}/${d.name}`);
  const lines = [
    `digraph ${quote(`irqdomains-${k.name}`)} {`,
    '  rankdir=BT;',
    '  node [shape=box];',
  ];
  for (const d of k.domains) {
    const shape = d.kind === 'ims' ? ', style=bold' : d.isolatedMsi ? ', style=rounded' : '';
    lines.push(`  ${id(d)} [label=${quote(label(d).replace(' (', '\\n('))}${shape}];`);
  }
  for (const d of k.domains) {
    if (d.parent !== null) lines.push(`  ${id(d)} -> ${id(k.domains[d.parent])};`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}
