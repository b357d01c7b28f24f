// The guest driver's operations on an MSI-X entry the VMM emulates, as the accesses Linux 6.x
// makes (drivers/pci/msi/msi.c, kernel/irq/migration.c), each access one step run on a vCPU of
// the guest; an access to the trapped table exits and QEMU handles it (`qemu-vfio-msix.ts`):
//   mask    pci_msix_mask: Vector Control := ctrl | MASKBIT, then readl(mask_base) to flush it;
//   unmask  pci_msix_unmask: Vector Control := ctrl;
//   move    without IR the move waits for the next interrupt on the old target
//           (__irq_move_irq): irq_mask (write + flush), irq_move_masked_irq -> apic_set_affinity
//           (the new vector; refused while a previous move is held: -EBUSY, and nothing is
//           written), __pci_write_msi_msg of the masked entry (address, upper address, data, then
//           readl of the data to flush), irq_unmask. 7 accesses.
// The program's locals: 0, the vCPU (index in the VM) the driver runs on; 1, the move's target
// (`affinityTarget`). Each access step waits until that vCPU runs guest code.
// Invariants: the guest's shadow of Vector Control (desc->pci.msix_ctrl) is the entry's own mask
// bit as QEMU holds it (the guest is the only writer).
// Not modelled: the move running on the old target's interrupt (it starts when the workload
// asks: the control plane's kernel completes it at the next interrupt the same way).

import { MSIX_ENTRY_DWORD, MSIX_TABLE_ENTRY } from '../hw/pci/msix-table.js';
import { composeCompatMsiPhysical } from '../hw/x86/msi-message.js';
import {
  apicSetAffinityStep,
  askedTarget,
  onRunningVcpu,
  startGuestOp,
  vectorOf,
} from './guest-op.js';
import { runner } from './guest-work.js';
import { trapMsixAccess } from './qemu-vfio-msix.js';
import { type ProgramStep, STEP, type StepProgram, WAIT } from './step-program.js';
import type { EventLog } from './system-events.js';
import { type SystemState, vmsixAt } from './system-state.js';

/** The value the guest writes into Vector Control: its shadow with the mask bit set or clear. */
function vectorControl(s: SystemState, vector: number, masked: boolean): number {
  const words = [0, 0, 0, s.words[vmsixAt(s, vector) + MSIX_ENTRY_DWORD.vectorControl]];
  MSIX_TABLE_ENTRY.accessors.mask.set(words, masked ? 1 : 0, 0);
  return words[MSIX_ENTRY_DWORD.vectorControl];
}

/** The pair the move writes: the guest's compatibility-format message for its new target. */
const movedMessage = (s: SystemState, thread: number) => {
  const target = askedTarget(s, thread);
  return composeCompatMsiPhysical(target.vcpu, target.vector);
};

/** An access to the entry's dword `dword`: `value` written, or null for a read. */
function access(
  name: string,
  dword: number,
  value: (s: SystemState, thread: number) => number | null,
): ProgramStep {
  return {
    name,
    wait: WAIT.now,
    enabled: onRunningVcpu,
    run: (s, log, thread) => {
      trapMsixAccess(s, log, runner(s, thread), vectorOf(s, thread), dword, value(s, thread));
      return STEP.next;
    },
  };
}

const MASK = access('pci_msix_write_vector_ctrl(mask)', MSIX_ENTRY_DWORD.vectorControl, (s, th) =>
  vectorControl(s, vectorOf(s, th), true),
);
const MASK_FLUSH = access('readl(mask_base)', MSIX_ENTRY_DWORD.addrLo, () => null);
const UNMASK = access(
  'pci_msix_write_vector_ctrl(unmask)',
  MSIX_ENTRY_DWORD.vectorControl,
  (s, th) => vectorControl(s, vectorOf(s, th), false),
);

export const GUEST_MSIX_MASK: StepProgram = {
  id: 6,
  name: 'pci_msix_mask',
  source: 'drivers/pci/msi/msi.c',
  steps: [MASK, MASK_FLUSH],
};

export const GUEST_MSIX_UNMASK: StepProgram = {
  id: 7,
  name: 'pci_msix_unmask',
  source: 'drivers/pci/msi/msi.c',
  steps: [UNMASK],
};

/** Index of the move's irq_unmask step, where a refused apic_set_affinity goes on. */
const MOVE_UNMASK_STEP = 7;

export const GUEST_MSIX_MOVE: StepProgram = {
  id: 8,
  name: '__irq_move_irq',
  source: 'kernel/irq/migration.c, arch/x86/kernel/apic/vector.c, drivers/pci/msi/msi.c',
  steps: [
    MASK,
    MASK_FLUSH,
    apicSetAffinityStep(MOVE_UNMASK_STEP),
    access('writel(address_lo)', MSIX_ENTRY_DWORD.addrLo, (s, th) => movedMessage(s, th).addrLo),
    access('writel(address_hi)', MSIX_ENTRY_DWORD.addrHi, (s, th) => movedMessage(s, th).addrHi),
    access('writel(data)', MSIX_ENTRY_DWORD.data, (s, th) => movedMessage(s, th).data),
    access('readl(data)', MSIX_ENTRY_DWORD.data, () => null),
    UNMASK,
  ],
};

/** The guest driver masks or unmasks `vector`, on the vCPU its irq targets. */
export function guestMsixSetMask(s: SystemState, log: EventLog, vector: number, masked: boolean) {
  startGuestOp(s, log, vector, masked ? GUEST_MSIX_MASK : GUEST_MSIX_UNMASK, 0);
}

/** The guest kernel moves `vector` to `affinityTarget(vcpu, guestVector)` (its choice). */
export function guestMsixMove(s: SystemState, log: EventLog, vector: number, target: number) {
  startGuestOp(s, log, vector, GUEST_MSIX_MOVE, target);
}
