// Loads the guest kernel of a conformance scenario (`scenarios/conformance/*.yaml`, the
// `vms[0].kernel` block validated by the kernel's own schema) and boots it.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { type BootResult, bootKernel } from '../../src/kernel/boot.js';
import { type KernelSpec, kernelSpecSchema } from '../../src/kernel/kernel-spec.js';

export const SCENARIOS = fileURLToPath(new URL('../../scenarios/conformance/', import.meta.url));

export function conformanceKernel(file: string): { spec: KernelSpec; name: string } {
  const doc = parse(readFileSync(SCENARIOS + file, 'utf8')) as {
    vms: { name: string; kernel: unknown }[];
  };
  return { spec: kernelSpecSchema.parse(doc.vms[0].kernel), name: doc.vms[0].name };
}

export function bootConformance(
  file: string,
  configSpaces?: Record<string, Uint8Array>,
): BootResult {
  const { spec, name } = conformanceKernel(file);
  return bootKernel(spec, { name, ...(configSpaces ? { configSpaces } : {}) });
}

/** /proc/interrupts with every count replaced by 0, keeping the column layout: the per-CPU
 *  fields are 11 characters each after "NNN:" (6.13+: " %10u") or "NNN: " (older: "%10u "). */
export function zeroCounts(text: string, cpus: number): string {
  return text
    .split('\n')
    .map((line) => {
      const m = /^(\s*[A-Z0-9]+:)(.*)$/.exec(line);
      if (!m) return line;
      const [, label, rest] = m;
      if (/^(\s*)(ERR|MIS):/.test(label)) return `${label}${rest.replace(/\d+$/, '0')}`;
      const width = 11 * cpus;
      const counts = rest.slice(0, width + 1);
      return `${label}${counts.replace(/\d+/g, (d) => '0'.padStart(d.length, ' '))}${rest.slice(width + 1)}`;
    })
    .join('\n');
}
