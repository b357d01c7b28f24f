// KERNEL_SPEC_RULES: what a kernel spec's schema cannot say, checked before any boot step runs,
// so a step that cannot apply is a RuleError naming the step, never an InvariantError mid-boot.
import { describe, expect, it } from 'vitest';
import { RuleError } from '../../src/hw/errors.js';
import { bootKernel } from '../../src/kernel/boot.js';
import {
  KERNEL_SPEC_RULES,
  type KernelSpecInput,
  kernelSpecIssues,
  kernelSpecSchema,
} from '../../src/kernel/kernel-spec.js';

const spec = (more: Partial<KernelSpecInput>) =>
  kernelSpecSchema.parse({
    version: '6.6',
    platform: 'guest-emulated-msi',
    cpus: 4,
    apic: 'x2apic-phys',
    devices: [{ bdf: '0000:00:03.0', msix: 2 }],
    ...more,
  });

const BREAKS: Record<string, Partial<KernelSpecInput>> = {
  // apic_flat: one destination bit per CPU in 8 bits
  'kernel-apic-mode': { cpus: 9, apic: 'xapic-logical-flat' },
  // 1024 CPUs x 2 full MSI-X tables: 4 million
  'kernel-size': {
    cpus: 1024,
    devices: [
      { bdf: '0000:00:03.0', msix: 2048 },
      { bdf: '0000:00:04.0', msix: 2048 },
    ],
  },
  'kernel-devices': { boot: [{ do: 'pci-enable', bdf: '0000:00:09.0' }] },
  // smp_init brings up the secondaries; the boot CPU (0) is online from start_kernel on
  'kernel-boot-cpus': { boot: [{ do: 'online-cpus', cpus: [1, 0] }] },
};

describe('kernel spec rules', () => {
  it('has a breaking case for every rule', () => {
    expect(Object.keys(BREAKS).sort()).toEqual(KERNEL_SPEC_RULES.map((r) => r.name).sort());
  });
  it('a spec that keeps them boots', () => {
    const ok = spec({ boot: [{ do: 'online-cpus', cpus: [1, 2] }, { do: 'online-cpus' }] });
    expect(kernelSpecIssues(ok)).toEqual([]);
    expect(bootKernel(ok, { name: 'g' }).kernel.online).toEqual([0, 1, 2, 3]);
  });
  it.each(Object.entries(BREAKS))(
    '%s: bootKernel refuses before any step, naming it',
    (rule, more) => {
      const s = spec(more);
      expect(kernelSpecIssues(s).map((i) => i.rule)).toEqual([rule]);
      expect(() => bootKernel(s, { name: 'g' })).toThrow(RuleError);
    },
  );
  it('onlining the boot CPU again names the step and the CPU', () => {
    const [issue] = kernelSpecIssues(spec(BREAKS['kernel-boot-cpus']));
    expect(issue).toEqual({
      rule: 'kernel-boot-cpus',
      path: ['boot', 0, 'cpus', 1],
      problem: 'online-cpus: CPU 0 is already online',
    });
  });
});
