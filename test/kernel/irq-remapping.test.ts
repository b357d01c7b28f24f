// Linux 6.1's choice of the interrupt remapping mode, from drivers/iommu/intel/irq_remapping.c
// intel_prepare_irq_remapping (eim = x2apic_supported(); "%s does not support EIM" and eim = 0
// for a unit without ecap_eim_support, bit 4), intel_enable_irq_remapping ("Enabled IRQ
// remapping in %s mode", eim_mode ? "x2apic" : "xapic") and arch/x86/kernel/apic/apic.c
// try_to_enable_x2apic (x2APIC kept without x2APIC-mode IR only where the hypervisor allows it,
// then in physical mode; on bare metal "IRQ remapping doesn't support X2APIC mode").
import { describe, expect, test } from 'vitest';
import { decodeEcap } from '../../src/hw/vtd/extended-capability.js';
import type { ApicMode, PlatformKind } from '../../src/kernel/kernel-state.js';
import { readFixture } from '../fixtures.js';
import { boot } from './helpers.js';

const irEvents = (r: ReturnType<typeof boot>) =>
  r.kernel.events.filter((e) => e.op === 'enable_IR_x2apic').map((e) => e.text);
const eimeOf = (r: ReturnType<typeof boot>) => r.kernel.domains[r.kernel.roots.remap ?? 0].ir?.eime;

const ECAP_NO_EIM = '0xf00f4a';
const ECAP_EIM = '0xf00f5a';

function irBoot(platform: PlatformKind, apic: ApicMode, x2apic: boolean, ecap: string) {
  return boot({ version: '6.1', platform, apic, cpu: { x2apic }, iommu: { ecap } });
}

describe('ECAP_REG (VT-d 11.4.3)', () => {
  test('the recorded QEMU unit, ecap f00f4a: QI, IR, PT, no EIM, IRO 0xf, MHMV 0xf', () => {
    const line = readFixture('qemu-q35-ir/dmesg-boot.txt')
      .split('\n')
      .find((l) => l.includes(' ecap '));
    const ecap = BigInt(`0x${/ ecap ([0-9a-f]+)/.exec(line ?? '')?.[1]}`);
    expect(decodeEcap(ecap)).toMatchObject({ qi: 1, ir: 1, eim: 0, pt: 1, iro: 0xf, mhmv: 0xf });
  });
});

describe('IR mode: x2APIC only when the CPU and the IOMMU both allow it', () => {
  test('x2APIC CPU and an EIM unit: x2apic mode, EIME set, the QI line first', () => {
    const r = irBoot('host-ir', 'x2apic-cluster', true, ECAP_EIM);
    expect(eimeOf(r)).toBe(true);
    expect(irEvents(r)).toEqual([
      'DMAR-IR: Queued invalidation will be enabled to support x2apic and Intr-remapping.',
      'DMAR-IR: Enabled IRQ remapping in x2apic mode',
    ]);
  });

  test('x2APIC CPU, unit without EIM: "does not support EIM", xapic mode', () => {
    const r = irBoot('guest-vir', 'x2apic-phys', true, ECAP_NO_EIM);
    expect(eimeOf(r)).toBe(false);
    expect(irEvents(r)).toEqual([
      'DMAR-IR: dmar0 does not support EIM',
      'DMAR-IR: Enabled IRQ remapping in xapic mode',
    ]);
  });

  test('CPU without x2APIC, EIM unit: xapic mode, nothing about EIM', () => {
    const r = irBoot('host-ir', 'xapic-logical-flat', false, ECAP_EIM);
    expect(eimeOf(r)).toBe(false);
    expect(irEvents(r)).toEqual(['DMAR-IR: Enabled IRQ remapping in xapic mode']);
  });

  test('the recorded q35 guest prints the line its dmesg has', async () => {
    const { bootConformance } = await import('../conformance/kernel-scenarios.js');
    const r = bootConformance('qemu-q35-ir.yaml');
    const dmesg = readFixture('qemu-q35-ir/dmesg-boot.txt').split('\n');
    const ours = r.kernel.events.filter((e) => e.op === 'enable_IR_x2apic').map((e) => e.text);
    expect(ours).toEqual(['DMAR-IR: Enabled IRQ remapping in xapic mode']);
    for (const line of ours) expect(dmesg).toContain(line);
  });
});

describe('the APIC mode must be the one Linux ends up in', () => {
  test.each([
    ['x2APIC-mode IR leaves no xAPIC mode', 'host-ir', 'xapic-phys', true, ECAP_EIM, /x2APIC mode/],
    [
      'bare metal turns x2APIC off without EIM',
      'host-ir',
      'x2apic-phys',
      true,
      ECAP_NO_EIM,
      /doesn't support X2APIC mode/,
    ],
    [
      'a guest keeps x2APIC only in physical mode',
      'guest-vir',
      'x2apic-cluster',
      true,
      ECAP_NO_EIM,
      /physical mode/,
    ],
    [
      'x2APIC mode needs an x2APIC CPU',
      'guest-vir',
      'x2apic-phys',
      false,
      ECAP_EIM,
      /without x2APIC/,
    ],
    ['no IR bit: no remapping at all', 'host-ir', 'xapic-phys', false, '0xf00f42', /lacks IR/],
  ] as const)('%s', (_name, platform, apic, x2apic, ecap, message) => {
    expect(() => irBoot(platform, apic, x2apic, ecap)).toThrow(message);
  });
});

test('an x2APIC mode on a CPU without x2APIC is refused without IR too', () => {
  expect(() =>
    boot({ version: '6.1', platform: 'host-noir', apic: 'x2apic-phys', cpu: { x2apic: false } }),
  ).toThrow(/without x2APIC/);
});
