// The guest driver's operations on its MSI-X or IMS entry of an assigned vector, as the accesses
// Linux 6.x makes (drivers/pci/msi/msi.c, kernel/irq/migration.c; the IMS chip of
// `kernel/ims.ts`), each access one step run on a vCPU of the guest. Where the VMM emulates the
// entry (the table page or the IMS slice traps: `virtualMsix`), the access exits and QEMU handles
// it (`qemu-vfio-msix.ts`); where the guest reaches the device's entry (a mapped table), the
// access is the device's register write, with its pending-bit rule (`system-delivery.ts`):
//   mask    MSI-X pci_msix_mask: Vector Control := ctrl | MASKBIT, then readl(mask_base) to
//           flush it; IMS: the control dword := ctrl | MASKBIT;
//   unmask  Vector Control (the IMS control dword) := ctrl;
//   move    without IR the move waits for the next interrupt on the old target
//           (__irq_move_irq): irq_mask (write + flush; not if the driver holds it masked),
//           irq_move_masked_irq -> apic_set_affinity
//           (the new vector; refused while a previous move is held: -EBUSY, and nothing is
//           written), __pci_write_msi_msg of the masked entry (address, upper address, data, then
//           readl of the data to flush), irq_unmask (not if it was masked before). 7 accesses
//           (an emulated MSI-X entry), 4 when the driver held it masked.
// The program's locals: 0, the vCPU (index in the VM) the driver runs on; 1, the move's target
// (`affinityTarget`). Each access step waits until that vCPU runs guest code.
// Invariants: the guest's shadow of Vector Control (desc->pci.msix_ctrl) is the entry's own mask
// bit as its holder (QEMU or the device) has it (the guest is the only writer); a mapped entry
// is the device store's own (the rules allow direct access only to an entry of the same type).
// Not modelled: the move running on the old target's interrupt (it starts when the workload
// asks: the control plane's kernel completes it at the next interrupt the same way).

import { assert } from '../hw/errors.js';
import { MSIX_ENTRY_DWORD } from '../hw/pci/msix-table.js';
import { composeCompatMsiPhysical } from '../hw/x86/msi-message.js';
import {
  IMS_MASK,
  IMS_UNMASK,
  type MsiAccess,
  type MsiProcedureArgs,
  type MsiRegister,
  PCI_MSIX_MASK,
  PCI_MSIX_UNMASK,
  PCI_MSIX_WRITE_MSG_MASKED,
  vectorMasked,
} from '../kernel/msi-procedures.js';
import { deviceEntryWordAt, deviceEntryWrite } from './device-entry.js';
import {
  apicSetAffinityStep,
  askedTarget,
  onRunningVcpu,
  startGuestOp,
  vectorOf,
} from './guest-op.js';
import { runner } from './guest-work.js';
import { trapEntryAccess } from './qemu-vfio-msix.js';
import { type ProgramStep, STEP, type StepProgram, WAIT } from './step-program.js';
import type { EventLog } from './system-events.js';
import { type SystemState, vmsixAt } from './system-state.js';

/** Where the guest's entry of `vector` is held: QEMU's copy, or the device's entry. */
const emulated = (s: SystemState, vector: number): boolean =>
  (s.topology.vectors[vector].virtualMsix ?? 'none') !== 'none';

function entryWordAt(s: SystemState, vector: number, dword: number): number {
  return emulated(s, vector) ? vmsixAt(s, vector) + dword : deviceEntryWordAt(s, vector, dword);
}

/** The procedure's arguments as the guest has them: its shadow of Vector Control (the entry's
 *  own, as its holder has it) and, for a move, the compatibility-format pair of its new target. */
function argsOf(s: SystemState, thread: number): MsiProcedureArgs {
  const vector = vectorOf(s, thread);
  const target = askedTarget(s, thread);
  return {
    ctrl: s.words[entryWordAt(s, vector, MSIX_ENTRY_DWORD.vectorControl)],
    msg: composeCompatMsiPhysical(target.vcpu, target.vector),
    multiple: 0,
  };
}

/** The guest's access to dword `dword` of its entry: `value` written, or null for a read. A
 *  read of a mapped entry changes nothing (it only flushes the posted write before it). */
function entryAccess(
  s: SystemState,
  log: EventLog,
  thread: number,
  dword: number,
  value: number | null,
) {
  const vector = vectorOf(s, thread);
  if (emulated(s, vector)) {
    trapEntryAccess(s, log, runner(s, thread), vector, dword, value);
    return;
  }
  const spec = s.topology.vectors[vector];
  assert(
    s.topology.stores[spec.store].kind === spec.guestEntry,
    `${spec.name}: the guest's ${spec.guestEntry} entry is mapped onto a ${s.topology.stores[spec.store].kind} store`,
  );
  if (value !== null) deviceEntryWrite(s, log, vector, dword, value);
}

/** The entry dword each register of an MSI-X procedure is (mask_base, the table's base, read
 *  to flush: the entry's first dword, which the trap or the device answers alike). */
const ENTRY_DWORD: Partial<Record<MsiRegister, number>> = {
  addrLo: MSIX_ENTRY_DWORD.addrLo,
  addrHi: MSIX_ENTRY_DWORD.addrHi,
  data: MSIX_ENTRY_DWORD.data,
  vectorControl: MSIX_ENTRY_DWORD.vectorControl,
  maskBase: MSIX_ENTRY_DWORD.addrLo,
};

/** The steps of an entry procedure (`kernel/msi-procedures.ts`): one access each, named as the
 *  kernel names it, run on the vCPU the driver runs on. */
function entrySteps(procedure: readonly MsiAccess[]): ProgramStep[] {
  return procedure.map((access) => {
    const dword = ENTRY_DWORD[access.register];
    assert(dword !== undefined, `${access.name}: no MSI-X entry register ${access.register}`);
    const value = access.value;
    return {
      name: access.name,
      wait: WAIT.now,
      enabled: onRunningVcpu,
      run: (s, log, thread) => {
        const written = value === null ? null : value(argsOf(s, thread), 0);
        entryAccess(s, log, thread, dword, written);
        return STEP.next;
      },
    };
  });
}

const MSIX_MASK_STEPS = entrySteps(PCI_MSIX_MASK);
const MSIX_UNMASK_STEPS = entrySteps(PCI_MSIX_UNMASK);

/** The entry's mask and unmask on their own (mask_irq, unmask_irq) and as free_irq's
 *  irq_shutdown and request_irq's irq_startup make them (the message writes around them are the
 *  control plane's still: `hv/guest-run.ts`). */
export type EntryMaskOperation = 'mask' | 'unmask' | 'free' | 'request';

const IMS_MASK_STEPS = entrySteps(IMS_MASK);
const IMS_UNMASK_STEPS = entrySteps(IMS_UNMASK);
const MSIX_SOURCE = 'drivers/pci/msi/msi.c';
const IMS_SOURCE = 'kernel/ims.ts (the IMS series irq-ims-msi.c)';

export const GUEST_MSIX_MASK: StepProgram = {
  id: 6,
  name: 'pci_msix_mask',
  source: MSIX_SOURCE,
  operation: 'mask',
  steps: MSIX_MASK_STEPS,
};

export const GUEST_MSIX_UNMASK: StepProgram = {
  id: 7,
  name: 'pci_msix_unmask',
  source: MSIX_SOURCE,
  operation: 'unmask',
  steps: MSIX_UNMASK_STEPS,
};

export const GUEST_IMS_MASK: StepProgram = {
  id: 13,
  name: 'ims_mask',
  source: IMS_SOURCE,
  operation: 'mask',
  steps: IMS_MASK_STEPS,
};

export const GUEST_IMS_UNMASK: StepProgram = {
  id: 14,
  name: 'ims_unmask',
  source: IMS_SOURCE,
  operation: 'unmask',
  steps: IMS_UNMASK_STEPS,
};

export const GUEST_MSIX_FREE: StepProgram = {
  id: 15,
  name: 'free_irq(irq_shutdown: pci_msix_mask)',
  source: `kernel/irq/manage.c, kernel/irq/chip.c, ${MSIX_SOURCE}`,
  operation: 'free',
  steps: MSIX_MASK_STEPS,
};

export const GUEST_MSIX_REQUEST: StepProgram = {
  id: 16,
  name: 'request_irq(irq_startup: pci_msix_unmask)',
  source: `kernel/irq/manage.c, kernel/irq/chip.c, ${MSIX_SOURCE}`,
  operation: 'request',
  steps: MSIX_UNMASK_STEPS,
};

export const GUEST_IMS_FREE: StepProgram = {
  id: 17,
  name: 'free_irq(irq_shutdown: ims_mask)',
  source: `kernel/irq/manage.c, ${IMS_SOURCE}`,
  operation: 'free',
  steps: IMS_MASK_STEPS,
};

export const GUEST_IMS_REQUEST: StepProgram = {
  id: 18,
  name: 'request_irq(irq_startup: ims_unmask)',
  source: `kernel/irq/manage.c, ${IMS_SOURCE}`,
  operation: 'request',
  steps: IMS_UNMASK_STEPS,
};

const MOVE_STEPS: readonly ProgramStep[] = [
  ...MSIX_MASK_STEPS,
  // apic_set_affinity; a refusal (-EBUSY) goes on at the unmask: nothing is written
  apicSetAffinityStep(MSIX_MASK_STEPS.length + 1 + PCI_MSIX_WRITE_MSG_MASKED.length),
  ...entrySteps(PCI_MSIX_WRITE_MSG_MASKED),
  ...MSIX_UNMASK_STEPS,
];

export const GUEST_MSIX_MOVE: StepProgram = {
  id: 8,
  name: '__irq_move_irq',
  source: 'kernel/irq/migration.c, arch/x86/kernel/apic/vector.c, drivers/pci/msi/msi.c',
  operation: 'affinity',
  steps: MOVE_STEPS,
};

/** __irq_move_irq of an irq the driver holds masked (irqd_irq_masked): no mask, no unmask. */
export const GUEST_MSIX_MOVE_MASKED: StepProgram = {
  id: 21,
  name: '__irq_move_irq(masked)',
  source: 'kernel/irq/migration.c, arch/x86/kernel/apic/vector.c, drivers/pci/msi/msi.c',
  operation: 'affinity',
  steps: [apicSetAffinityStep(STEP.done), ...entrySteps(PCI_MSIX_WRITE_MSG_MASKED)],
};

/** Per entry kind, the driver's program for each mask operation. */
const MASK_PROGRAMS: Readonly<Record<'msix' | 'ims', Record<EntryMaskOperation, StepProgram>>> = {
  msix: {
    mask: GUEST_MSIX_MASK,
    unmask: GUEST_MSIX_UNMASK,
    free: GUEST_MSIX_FREE,
    request: GUEST_MSIX_REQUEST,
  },
  ims: {
    mask: GUEST_IMS_MASK,
    unmask: GUEST_IMS_UNMASK,
    free: GUEST_IMS_FREE,
    request: GUEST_IMS_REQUEST,
  },
};

/** The guest driver masks or unmasks `vector` in its entry, on the vCPU its irq targets. */
export function guestEntrySetMask(
  s: SystemState,
  log: EventLog,
  vector: number,
  entry: 'msix' | 'ims',
  op: EntryMaskOperation,
) {
  startGuestOp(s, log, vector, MASK_PROGRAMS[entry][op], 0);
}

/** The guest kernel moves `vector` to `affinityTarget(vcpu, guestVector)` (its choice). */
export function guestMsixMove(s: SystemState, log: EventLog, vector: number, target: number) {
  // irqd_irq_masked: the driver's own mask stays (the guest serializes the irq's operations, so
  // it cannot change while the move runs)
  const ctrl = s.words[entryWordAt(s, vector, MSIX_ENTRY_DWORD.vectorControl)];
  const program = vectorMasked(ctrl) ? GUEST_MSIX_MOVE_MASKED : GUEST_MSIX_MOVE;
  startGuestOp(s, log, vector, program, target);
}
