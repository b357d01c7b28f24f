// `/proc/interrupts` in the kernel's own format (kernel/irq/proc.c `show_interrupts`,
// arch/x86/kernel/irq.c `arch_show_interrupts`), so that a diff against a real guest's file is
// meaningful. Two layouts, by kernel version:
//  - up to 6.12: "%*d: " then "%10u " per CPU (the trailing space is the separator), then the
//    chip " %8s", hwirq " %*lu", "-%-8s" handler name, "  action[, action]";
//  - 6.13+ ("genirq/proc: Use seq_put_decimal_ull_width()"): "%*d:" then " %10u" per CPU, the
//    rest unchanged. `vm-virtio-pci/proc-interrupts.txt` (6.18) has one space before a long chip
//    name, `qemu-q35-*/proc-interrupts.txt` (6.1) two.
// The first column is as wide as nr_irqs needs (at least 3). An irq is listed when it has an
// action or a non-zero count. The x86 lines that follow (NMI, LOC, ...) are the ones the
// kernel's config shows; the model counts none of those events, so they print 0.
// Not modelled: per-CPU irqs, the chained-handler case, IRQ_HIDDEN.

import { activeIrqs } from '../kernel/irq-desc.js';
import type { KernelState } from '../kernel/kernel-state.js';
import { versionAtLeast } from '../kernel/kernel-state.js';

/** An arch line: its mnemonic, whether it is per CPU, and its description. */
const ARCH_LINES: readonly { name: string; perCpu: boolean; text: string; when?: 'mce' | 'hyp' }[] =
  [
    { name: 'NMI', perCpu: true, text: 'Non-maskable interrupts' },
    { name: 'LOC', perCpu: true, text: 'Local timer interrupts' },
    { name: 'SPU', perCpu: true, text: 'Spurious interrupts' },
    { name: 'PMI', perCpu: true, text: 'Performance monitoring interrupts' },
    { name: 'IWI', perCpu: true, text: 'IRQ work interrupts' },
    { name: 'RTR', perCpu: true, text: 'APIC ICR read retries' },
    { name: 'RES', perCpu: true, text: 'Rescheduling interrupts' },
    { name: 'CAL', perCpu: true, text: 'Function call interrupts' },
    { name: 'TLB', perCpu: true, text: 'TLB shootdowns' },
    { name: 'TRM', perCpu: true, text: 'Thermal event interrupts' },
    { name: 'THR', perCpu: true, text: 'Threshold APIC interrupts', when: 'mce' },
    { name: 'DFR', perCpu: true, text: 'Deferred Error APIC interrupts', when: 'mce' },
    { name: 'MCE', perCpu: true, text: 'Machine check exceptions', when: 'mce' },
    { name: 'MCP', perCpu: true, text: 'Machine check polls', when: 'mce' },
    { name: 'HYP', perCpu: true, text: 'Hypervisor callback interrupts', when: 'hyp' },
    { name: 'ERR', perCpu: false, text: '' },
    { name: 'MIS', perCpu: false, text: '' },
    { name: 'PIN', perCpu: true, text: 'Posted-interrupt notification event' },
    { name: 'NPI', perCpu: true, text: 'Nested posted-interrupt event' },
    { name: 'PIW', perCpu: true, text: 'Posted-interrupt wakeup event' },
  ];

/** Width of the irq column: 3, or more for nr_irqs >= 1000. */
export function irqColumnWidth(nrIrqs: number): number {
  let prec = 3;
  for (let j = 1000; prec < 10 && j <= nrIrqs; j *= 10) prec++;
  return prec;
}

export function renderProcInterrupts(k: KernelState): string {
  const prec = irqColumnWidth(k.nrIrqs);
  const modern = versionAtLeast(k, 6, 13);
  const cpus = k.online;
  const lines: string[] = [];
  lines.push(`${' '.repeat(prec + 8)}${cpus.map((c) => `CPU${c}`.padEnd(11)).join('')}`);
  for (const irq of activeIrqs(k)) {
    const d = k.descs[irq];
    const any = cpus.some((c) => d.kstat[c] > 0);
    if (d.actions.length === 0 && !any) continue;
    const counts = cpus.map((c) => String(d.kstat[c]).padStart(10));
    const head = modern
      ? `${String(irq).padStart(prec)}:${counts.map((c) => ` ${c}`).join('')}`
      : `${String(irq).padStart(prec)}: ${counts.map((c) => `${c} `).join('')}`;
    const chip = ` ${k.domains[d.data[0].domain].chipName.padStart(8)}`;
    const hwirq = ` ${String(d.data[0].hwirq).padStart(prec)}`;
    const name = `-${d.handler.padEnd(8)}`;
    const actions = d.actions.length ? `  ${d.actions.map((a) => a.name).join(', ')}` : '';
    lines.push(`${head}${chip}${hwirq}${name}${actions}`);
  }
  for (const a of ARCH_LINES) {
    if (a.when === 'mce' && !k.features.mce) continue;
    if (a.when === 'hyp' && !k.features.hypervisorCallback) continue;
    const label = a.name.padStart(prec);
    if (!a.perCpu) {
      lines.push(`${label}: ${'0'.padStart(10)}`);
      continue;
    }
    const counts = cpus.map(() => '0'.padStart(10));
    lines.push(
      modern
        ? `${label}:${counts.map((c) => ` ${c}`).join('')}   ${a.text}`
        : `${label}: ${counts.map((c) => `${c} `).join('')}  ${a.text}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
