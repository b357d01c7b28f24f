// Numbers the Linux interrupt core keeps apart by name, kept apart by type here (STYLE §7), and
// the CPU mask, which Linux keeps as a bitmap and irqlab as a sorted list of CPU numbers (the
// model's masks are small and are printed far more often than they are intersected).
// Invariant: a CpuMask is sorted ascending and has no duplicates; every function here returns one.
// Not modelled: NUMA nodes (every CPU is in node 0, which is what `cpumask_of_node()` gives on
// the single-node guests and hosts irqlab simulates).

import { InputError } from '../hw/errors.js';

/** Linux interrupt number (`virq`, `desc->irq_data.irq`). */
export type Virq = number & { readonly __brand: 'Virq' };
/** Hardware interrupt number inside one irqdomain (`irq_data->hwirq`). */
export type Hwirq = number & { readonly __brand: 'Hwirq' };
/** x86 interrupt vector, 0..255 (`apic_chip_data::vector`). */
export type Vector = number & { readonly __brand: 'Vector' };
/** Logical CPU number (`smp_processor_id()`), not the APIC ID. */
export type CpuId = number & { readonly __brand: 'CpuId' };
/** Index of an irqdomain in `KernelState.domains`. */
export type DomainId = number & { readonly __brand: 'DomainId' };

export type CpuMask = readonly CpuId[];

export const cpuMask = (cpus: Iterable<number>): CpuMask =>
  [...new Set(cpus)].sort((a, b) => a - b) as CpuId[];

export const cpuRange = (count: number): CpuMask =>
  Array.from({ length: count }, (_, i) => i as CpuId);

export const cpumaskTest = (mask: CpuMask, cpu: number): boolean => mask.includes(cpu as CpuId);

export const cpumaskAnd = (a: CpuMask, b: CpuMask): CpuMask => a.filter((c) => b.includes(c));

export const cpumaskEqual = (a: CpuMask, b: CpuMask): boolean =>
  a.length === b.length && a.every((c, i) => b[i] === c);

export const cpumaskSubset = (a: CpuMask, b: CpuMask): boolean => a.every((c) => b.includes(c));

export const cpumaskFirst = (mask: CpuMask): CpuId | undefined => mask[0];

/** `%*pbl`: "0-3,6" (what /proc/irq/N/smp_affinity_list prints); "" for an empty mask. */
export function formatCpuList(mask: CpuMask): string {
  const parts: string[] = [];
  let i = 0;
  while (i < mask.length) {
    let j = i;
    while (j + 1 < mask.length && mask[j + 1] === mask[j] + 1) j++;
    parts.push(i === j ? `${mask[i]}` : `${mask[i]}-${mask[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** `%*pb`: the hex mask /proc/irq/N/smp_affinity prints ("f"; 32-bit groups joined by ","). */
export function formatCpuMaskHex(mask: CpuMask, nrCpus: number): string {
  const groups = Math.max(1, Math.ceil(nrCpus / 32));
  const words = new Array<number>(groups).fill(0);
  for (const cpu of mask) words[Math.floor(cpu / 32)] += 2 ** (cpu % 32);
  const digitsInTop = Math.max(1, Math.ceil((nrCpus - (groups - 1) * 32) / 4));
  return words
    .reverse()
    .map((w, i) => w.toString(16).padStart(i === 0 ? digitsInTop : 8, '0'))
    .join(',');
}

/** Parses "0-3,6" (a cpulist, as Linux's `cpulist_parse`). */
export function parseCpuList(text: string, nrCpus: number, where: string): CpuMask {
  const out: number[] = [];
  for (const part of text.split(',').map((s) => s.trim())) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new InputError(where, `"${text}" is not a CPU list such as 0-3,6`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo || hi >= nrCpus) {
      throw new InputError(where, `CPU range ${part} is outside 0-${nrCpus - 1}`);
    }
    for (let c = lo; c <= hi; c++) out.push(c);
  }
  return cpuMask(out);
}

/** errno values the interrupt core returns, by their Linux names. */
export type Errno =
  | 'ENOSPC'
  | 'EINVAL'
  | 'EBUSY'
  | 'ENOENT'
  | 'EEXIST'
  | 'ENOTSUPP'
  | 'ENODEV'
  | 'EIO';

/** The result of a kernel operation that can fail the way Linux's can: an errno and one line
 *  saying what ran out or what was wrong. Drivers take fallbacks on it (virtio_pci does). */
export type IrqResult = { readonly ok: true } | IrqFailure;
export interface IrqFailure {
  readonly ok: false;
  readonly errno: Errno;
  readonly reason: string;
}

export const OK: IrqResult = { ok: true };
export const fail = (errno: Errno, reason: string): IrqFailure => ({ ok: false, errno, reason });
