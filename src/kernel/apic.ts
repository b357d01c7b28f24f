// The APIC driver's view of a destination (arch/x86/kernel/apic/apic_flat_64.c, x2apic_phys.c,
// x2apic_cluster.c): which APIC ID `calc_dest_apicid(cpu)` gives and whether messages use logical
// destination mode. xAPIC logical flat is what the QEMU q35 guests use (destinations 0x01, 0x02,
// 0x04, 0x08 for CPUs 0-3, `qemu-q35-noir/msix-tables.txt`); physical modes use the APIC ID.
// Invariant: flat logical mode addresses at most 8 CPUs (one bit each in an 8-bit destination).
// Not modelled: the x2APIC cluster's APIC-ID-to-cluster assignment beyond the architectural
// derivation from the x2APIC ID (SDM 10.12.10.2).

import { InputError } from '../hw/errors.js';
import { x2apicLdr } from '../hw/x86/lapic.js';
import type { ApicMode, KernelState } from './kernel-state.js';
import type { CpuId } from './types.js';

/** apic_flat: logical destination is one bit per CPU in 8 bits. */
export const FLAT_LOGICAL_CPUS_MAX = 8;

/** Why `mode` cannot address `nrCpus` CPUs, or undefined when it can. */
export function apicModeProblem(mode: ApicMode, nrCpus: number): string | undefined {
  if (mode === 'xapic-logical-flat' && nrCpus > FLAT_LOGICAL_CPUS_MAX) {
    return `xAPIC logical flat mode addresses at most ${FLAT_LOGICAL_CPUS_MAX} CPUs, not ${nrCpus}`;
  }
  return undefined;
}

export function checkApicMode(mode: ApicMode, nrCpus: number, where: string): void {
  const problem = apicModeProblem(mode, nrCpus);
  if (problem) throw new InputError(where, problem);
}

/** `apic->calc_dest_apicid(cpu)`. */
export function calcDestApicId(k: KernelState, cpu: CpuId): number {
  switch (k.apicMode) {
    case 'xapic-logical-flat':
      return 2 ** cpu;
    case 'xapic-phys':
    case 'x2apic-phys':
      return k.apicIds[cpu];
    case 'x2apic-cluster':
      return x2apicLdr(k.apicIds[cpu]);
  }
}

/** `apic->dest_mode_logical`. */
export const destModeLogical = (k: KernelState): boolean =>
  k.apicMode === 'xapic-logical-flat' || k.apicMode === 'x2apic-cluster';
