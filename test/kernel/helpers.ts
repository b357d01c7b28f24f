// Small kernels for unit tests, built through the same spec and boot path as the scenarios.
import { type BootResult, bootKernel } from '../../src/kernel/boot.js';
import { type KernelSpecInput, kernelSpecSchema } from '../../src/kernel/kernel-spec.js';
import type { MemoryPlatform } from '../../src/kernel/platform.js';

export function boot(
  spec: Partial<KernelSpecInput>,
  name = 'test',
): BootResult & { mem: MemoryPlatform } {
  const full = kernelSpecSchema.parse({
    version: '6.18',
    platform: 'host-noir',
    cpus: 4,
    apic: 'x2apic-phys',
    ...spec,
  });
  const r = bootKernel(full, { name });
  return { ...r, mem: r.platform as MemoryPlatform };
}

/** The accesses made under one operation label prefix, by kind. */
export function accessesOf(r: BootResult, opPrefix: string) {
  return r.kernel.accessLog.filter((a) => a.op.startsWith(opPrefix));
}
