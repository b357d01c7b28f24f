// Interrupt affinities as Linux shows them, in the two forms the fixtures were recorded in:
//  - `list` (`vm-virtio-pci/irq-affinity.txt`): per MSI/MSI-X irq that has a /proc/irq/N
//    directory, "N smp_affinity_list=<cpulist> effective=<cpulist>";
//  - `sysfs` (`qemu-q35-*/irq-affinity.txt`): "default_smp_affinity=<mask>", then per irq
//    "irq N smp_affinity_list= smp_affinity= effective_affinity_list= chip_name= hwirq= type=
//    name= actions= per_cpu_count=", the /proc/irq fields empty for an irq never requested
//    (no directory yet), then per PCI device its msi_irqs/ entries ("BDF msi_irq N mode=").
// smp_affinity{,_list} is what `show_irq_affinity` shows (the pending mask while a move waits
// for the next interrupt); effective_affinity_list is the vector level's CPU (`irq_data_update_effective_affinity`):
// the shutdown-vector CPU for an irq in reservation mode.
// Not modelled: irq 2 on the 8259 (XT-PIC), which irqlab does not create.

import { activeIrqs } from '../kernel/irq-desc.js';
import { showIrqAffinity } from '../kernel/irq-proc.js';
import type { KernelState } from '../kernel/kernel-state.js';
import { formatCpuList, formatCpuMaskHex } from '../kernel/types.js';

export type AffinityStyle = 'list' | 'sysfs';

export function renderIrqAffinity(k: KernelState, style: AffinityStyle = 'list'): string {
  return style === 'list' ? renderList(k) : renderSysfs(k);
}

function renderList(k: KernelState): string {
  const lines: string[] = [];
  for (const irq of activeIrqs(k)) {
    const d = k.descs[irq];
    if (d.msi === null || d.msi.domain === 'ims' || !d.procDir) continue;
    lines.push(
      `${irq} smp_affinity_list=${formatCpuList(showIrqAffinity(d))} effective=${formatCpuList(d.effectiveAffinity)}`,
    );
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
}

function renderSysfs(k: KernelState): string {
  const lines = [`default_smp_affinity=${formatCpuMaskHex(k.defaultAffinity, k.nrCpus)}`];
  for (const irq of activeIrqs(k)) {
    const d = k.descs[irq];
    const proc = d.procDir;
    const fields = [
      `smp_affinity_list=${proc ? formatCpuList(showIrqAffinity(d)) : ''}`,
      `smp_affinity=${proc ? formatCpuMaskHex(showIrqAffinity(d), k.nrCpus) : ''}`,
      `effective_affinity_list=${proc ? formatCpuList(d.effectiveAffinity) : ''}`,
      `chip_name=${k.domains[d.data[0].domain].chipName}`,
      `hwirq=${d.data[0].hwirq}`,
      `type=${d.trigger}`,
      `name=${d.handler}`,
      `actions=${d.actions.map((a) => a.name).join(',')}`,
      `per_cpu_count=${d.kstat.join(',')}`,
    ];
    lines.push(`irq ${irq} ${fields.join(' ')}`);
  }
  for (const bdf of Object.keys(k.devices).sort()) {
    const dev = k.devices[bdf];
    for (const [slot, mode] of [
      ['msix', 'msix'],
      ['msi', 'msi'],
    ] as const) {
      for (const desc of Object.values(dev.descs[slot]).sort((a, b) => a.index - b.index)) {
        for (let i = 0; i < desc.nvecUsed && desc.irq !== 0; i++) {
          lines.push(`${bdf} msi_irq ${desc.irq + i} mode=${mode}`);
        }
      }
    }
  }
  return `${lines.join('\n')}\n`;
}
