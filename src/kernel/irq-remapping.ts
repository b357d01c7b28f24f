// Linux's decision of the interrupt remapping mode at boot (arch/x86/kernel/apic/apic.c
// `enable_IR_x2apic` / `try_to_enable_x2apic`, drivers/iommu/intel/irq_remapping.c
// `intel_prepare_irq_remapping` / `intel_enable_irq_remapping`, Linux 6.1), from the inputs a
// real machine gives it: the remapping unit's ECAP_REG and the CPU's x2APIC support
// (CPUID.01H:ECX[21], `x2apic_supported()`).
//  - IR needs ECAP.IR and queued invalidation (ECAP.QI: `dmar_enable_qi`);
//  - IR runs in x2APIC mode (IRTA_REG.EIME, 32-bit destinations) only when the CPU has x2APIC
//    and every unit has ECAP.EIM ("%s does not support EIM" otherwise), and then Linux enables
//    x2APIC;
//  - otherwise IR runs in xAPIC mode, and an x2APIC CPU keeps x2APIC only where the hypervisor
//    says it may (`x86_init.hyper.x2apic_available`, a guest), in physical mode; on bare metal
//    Linux turns x2APIC off ("x2apic: IRQ remapping doesn't support X2APIC mode").
// The lines Linux prints go to the kernel's events, with the `DMAR-IR: ` prefix of
// irq_remapping.c's pr_fmt. Evidence: `qemu-q35-ir/dmesg-boot.txt` (ecap f00f4a, no EIM, a CPU
// without x2APIC): "DMAR-IR: Enabled IRQ remapping in xapic mode".
// Invariant: the APIC mode the kernel runs is the one this decision allows; a spec asking for
// another is an input error, not a silent override.
// Not modelled: the DMAR table's x2APIC opt-out flag, `intremap=`/`nox2apic` options, more than one
// unit, the ioapic-under-IR scope check; a guest's hypervisor is assumed to allow x2APIC (KVM).

import { InputError } from '../hw/errors.js';
import { decodeEcap } from '../hw/vtd/extended-capability.js';
import type { ApicMode, KernelState } from './kernel-state.js';

export interface IrCapabilities {
  /** The remapping unit's ECAP_REG. */
  readonly ecap: bigint;
  /** CPUID.01H:ECX[21]. */
  readonly cpuX2apic: boolean;
}

/** QEMU 7.2 intel-iommu's ECAP with intremap=on (`qemu-q35-ir`: f00f4a), EIM as `eim` says. */
export const QEMU_INTEL_IOMMU_ECAP = 0xf00f4an;
const ECAP_EIM = 0x10n;

/** Capabilities a spec that names none implies: the ones its APIC mode needs. */
export function impliedIrCapabilities(apicMode: ApicMode): IrCapabilities {
  const x2apic = apicMode.startsWith('x2apic');
  return {
    ecap: x2apic ? QEMU_INTEL_IOMMU_ECAP | ECAP_EIM : QEMU_INTEL_IOMMU_ECAP,
    cpuX2apic: x2apic,
  };
}

const IR_PREFIX = 'DMAR-IR: ';

/** `enable_IR_x2apic` with the Intel unit `unit`: whether IR runs in x2APIC mode (EIME), and the
 *  lines Linux prints. Throws when the spec's APIC mode is not the one Linux ends up in. */
export function enableIrX2apic(
  k: Pick<KernelState, 'apicMode' | 'platform' | 'events'>,
  unit: string,
  caps: IrCapabilities,
  where: string,
): { eim: boolean } {
  const ecap = decodeEcap(caps.ecap);
  if (!ecap.ir || !ecap.qi) {
    throw new InputError(
      where,
      `${unit} ECAP 0x${caps.ecap.toString(16)} lacks ${ecap.ir ? 'QI' : 'IR'}: Linux would not ` +
        `enable interrupt remapping; use platform ${k.platform === 'host-ir' ? 'host-noir' : 'guest-emulated-msi'}`,
    );
  }
  const print = (text: string) => k.events.push({ op: 'enable_IR_x2apic', text });
  let eim = caps.cpuX2apic;
  if (eim && !ecap.eim) {
    print(`${IR_PREFIX}${unit} does not support EIM`);
    eim = false;
  }
  if (eim)
    print(`${IR_PREFIX}Queued invalidation will be enabled to support x2apic and Intr-remapping.`);
  print(`${IR_PREFIX}Enabled IRQ remapping in ${eim ? 'x2apic' : 'xapic'} mode`);
  checkApicModeAfterIr(k, eim, caps.cpuX2apic, where);
  return { eim };
}

/** `try_to_enable_x2apic(remap_mode)`: the APIC mode Linux runs with after the IR decision. */
function checkApicModeAfterIr(
  k: Pick<KernelState, 'apicMode' | 'platform'>,
  eim: boolean,
  cpuX2apic: boolean,
  where: string,
): void {
  const x2apicMode = k.apicMode.startsWith('x2apic');
  if (eim) {
    if (!x2apicMode) {
      throw new InputError(
        where,
        `IR in x2apic mode: Linux runs the APIC in x2APIC mode, not ${k.apicMode}`,
      );
    }
    return;
  }
  if (!cpuX2apic || !x2apicMode) return;
  if (k.platform === 'host-ir') {
    throw new InputError(
      where,
      `IR in xapic mode on bare metal: Linux turns x2APIC off ("x2apic: IRQ remapping doesn't ` +
        `support X2APIC mode"), so ${k.apicMode} cannot be; use an xapic mode`,
    );
  }
  if (k.apicMode !== 'x2apic-phys') {
    throw new InputError(
      where,
      `IR in xapic mode: a guest keeps x2APIC only in physical mode (x2apic_phys), not ${k.apicMode}`,
    );
  }
}
