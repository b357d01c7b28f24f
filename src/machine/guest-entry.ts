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
//           (__irq_move_irq): irq_mask (write + flush), irq_move_masked_irq -> apic_set_affinity
//           (the new vector; refused while a previous move is held: -EBUSY, and nothing is
//           written), __pci_write_msi_msg of the masked entry (address, upper address, data, then
//           readl of the data to flush), irq_unmask. 7 accesses (an emulated MSI-X entry).
// The program's locals: 0, the vCPU (index in the VM) the driver runs on; 1, the move's target
// (`affinityTarget`). Each access step waits until that vCPU runs guest code.
// Invariants: the guest's shadow of Vector Control (desc->pci.msix_ctrl) is the entry's own mask
// bit as its holder (QEMU or the device) has it (the guest is the only writer); a mapped entry
// is the device store's own (the rules allow direct access only to an entry of the same type).
// Not modelled: the move running on the old target's interrupt (it starts when the workload
// asks: the control plane's kernel completes it at the next interrupt the same way).

import { assert } from '../hw/errors.js';
import { MSIX_ENTRY_DWORD, MSIX_TABLE_ENTRY } from '../hw/pci/msix-table.js';
import { composeCompatMsiPhysical } from '../hw/x86/msi-message.js';
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

/** The value the guest writes into Vector Control: its shadow with the mask bit set or clear
 *  (MSI-X and IMS keep Mask in bit 0 of the fourth dword). */
function vectorControl(s: SystemState, vector: number, masked: boolean): number {
  const words = [0, 0, 0, s.words[entryWordAt(s, vector, MSIX_ENTRY_DWORD.vectorControl)]];
  MSIX_TABLE_ENTRY.accessors.mask.set(words, masked ? 1 : 0, 0);
  return words[MSIX_ENTRY_DWORD.vectorControl];
}

/** The pair the move writes: the guest's compatibility-format message for its new target. */
const movedMessage = (s: SystemState, thread: number) => {
  const target = askedTarget(s, thread);
  return composeCompatMsiPhysical(target.vcpu, target.vector);
};

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

/** An access step of the guest's entry. */
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
      entryAccess(s, log, thread, dword, value(s, thread));
      return STEP.next;
    },
  };
}

const controlWrite = (name: string, masked: boolean) =>
  access(name, MSIX_ENTRY_DWORD.vectorControl, (s, th) =>
    vectorControl(s, vectorOf(s, th), masked),
  );

const MASK = controlWrite('pci_msix_write_vector_ctrl(mask)', true);
const MASK_FLUSH = access('readl(mask_base)', MSIX_ENTRY_DWORD.addrLo, () => null);
const UNMASK = controlWrite('pci_msix_write_vector_ctrl(unmask)', false);

/** The entry's mask and unmask on their own (mask_irq, unmask_irq) and as free_irq's
 *  irq_shutdown and request_irq's irq_startup make them (the message writes around them are the
 *  control plane's still: `hv/guest-run.ts`). */
export type EntryMaskOperation = 'mask' | 'unmask' | 'free' | 'request';

const MSIX_MASK_STEPS = [MASK, MASK_FLUSH];
const IMS_MASK = controlWrite('ims_write_ctrl(mask)', true);
const IMS_UNMASK = controlWrite('ims_write_ctrl(unmask)', false);
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
  steps: [UNMASK],
};

export const GUEST_IMS_MASK: StepProgram = {
  id: 13,
  name: 'ims_mask',
  source: IMS_SOURCE,
  operation: 'mask',
  steps: [IMS_MASK],
};

export const GUEST_IMS_UNMASK: StepProgram = {
  id: 14,
  name: 'ims_unmask',
  source: IMS_SOURCE,
  operation: 'unmask',
  steps: [IMS_UNMASK],
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
  steps: [UNMASK],
};

export const GUEST_IMS_FREE: StepProgram = {
  id: 17,
  name: 'free_irq(irq_shutdown: ims_mask)',
  source: `kernel/irq/manage.c, ${IMS_SOURCE}`,
  operation: 'free',
  steps: [IMS_MASK],
};

export const GUEST_IMS_REQUEST: StepProgram = {
  id: 18,
  name: 'request_irq(irq_startup: ims_unmask)',
  source: `kernel/irq/manage.c, ${IMS_SOURCE}`,
  operation: 'request',
  steps: [IMS_UNMASK],
};

/** Index of the move's irq_unmask step, where a refused apic_set_affinity goes on. */
const MOVE_UNMASK_STEP = 7;

export const GUEST_MSIX_MOVE: StepProgram = {
  id: 8,
  name: '__irq_move_irq',
  source: 'kernel/irq/migration.c, arch/x86/kernel/apic/vector.c, drivers/pci/msi/msi.c',
  operation: 'affinity',
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
  startGuestOp(s, log, vector, GUEST_MSIX_MOVE, target);
}
