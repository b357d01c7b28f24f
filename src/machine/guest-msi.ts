// The guest kernel moving a plain MSI (no interrupt remapping in the guest) as Linux 6.x does
// (arch/x86/kernel/apic/msi.c msi_set_affinity, drivers/pci/msi/msi.c __pci_write_msi_msg), each
// config access one step on the vCPU the irq targets, each trapped to QEMU
// (`qemu-vfio-msi.ts`), which re-routes on every write. The move runs on the old target CPU with
// interrupts off (irq_set_affinity holds the descriptor's lock, irqsave), inside __irq_move_irq:
//   irq_mask             pci_msi_mask: a maskable MSI's Mask Bits written (the device holds what
//                        comes meanwhile in its pending bit); nothing for an MSI without them;
//   apic_set_affinity    the new vector and CPU (refused while a previous move is held: -EBUSY);
//   msi_set_affinity     direct update when the MSI is maskable (Per-Vector Masking Capable, read
//                        from the capability), the vector or the destination does not change;
//                        else the two-step: mark vector_irq[new vector] VECTOR_RETRIGGERED on this
//                        CPU if unused, write the new vector with the OLD destination, then the
//                        new destination: the pair is never half-written towards a CPU that does
//                        not expect the vector;
//   __pci_write_msi_msg  read Message Control, write it, address, upper address, data, read
//                        Message Control back (6 accesses: the kernel model's sequence, a 64-bit
//                        capability);
//   lapic_vector_set_in_irr  an interrupt that came in between on this CPU's new vector is
//                        retriggered to the new target (apic_retrigger_irq); the copy left in this
//                        IRR then hits the VECTOR_RETRIGGERED slot and is dropped
//                        (`guest-vector.ts` hitRetriggerMark);
//   irq_unmask           the Mask Bits cleared again: a pending interrupt is sent once.
// Locals: 0, the vCPU (index in the VM) the move runs on (the old target); 1, the target
// (`affinityTarget`).
// Invariants: the guest takes no interrupt on that vCPU until the program ends (`irqsOff`).
// Not modelled: the retrigger's own exit without APICv (x2APIC ICR write: it is KVM's injection
// of the route's message here, which names the new target by then); multi-message MSI.

import { assert } from '../hw/errors.js';
import { fieldPos, getField } from '../hw/field-pos.js';
import { MSI_MESSAGE_CONTROL } from '../hw/pci/msi-capability.js';
import { composeCompatMsiPhysical } from '../hw/x86/msi-message.js';
import {
  type MsiAccess,
  type MsiProcedureArgs,
  type MsiRegister,
  PCI_MSI_UPDATE_MASK,
  pciMsiWriteMsg,
} from '../kernel/msi-procedures.js';
import { apicSetAffinityStep, onRunningVcpu, startGuestOp, vectorOf } from './guest-op.js';
import {
  currentTarget,
  guestVectorOwner,
  previousTarget,
  retriggerMark,
  setRetriggerMark,
} from './guest-vector.js';
import { runner } from './guest-work.js';
import { kvmSetMsi } from './host-irq.js';
import { MSI_MESSAGE_DWORD, trapMsiConfigAccess } from './qemu-vfio-msi.js';
import { type ProgramStep, STEP, type StepProgram, WAIT } from './step-program.js';
import { EVENT, type EventLog, emit } from './system-events.js';
import { testBit } from './system-fields.js';
import { RETRIGGER_MARK, type SystemState, vcpuPcpu } from './system-state.js';
import { NO_VECTOR } from './system-topology.js';
import { virrAt } from './system-vcpu.js';

const PVM = fieldPos(MSI_MESSAGE_CONTROL.layout, 'perVectorMaskingCapable');

/** Whether the move rewrites the pair in one go (msi_set_affinity's direct update). */
function directUpdate(s: SystemState, vector: number): boolean {
  const now = currentTarget(s, vector);
  const old = previousTarget(s, vector);
  return maskable(s, vector) || now.vector === old.vector || now.vcpu === old.vcpu;
}

/** The message a write sends: the final pair, or (the two-step's first write) the new vector
 *  with the old destination. */
type Which = 'temporary' | 'final';
function messageOf(s: SystemState, vector: number, which: Which) {
  const now = currentTarget(s, vector);
  const dest = which === 'final' ? now.vcpu : previousTarget(s, vector).vcpu;
  return composeCompatMsiPhysical(dest, now.vector);
}

/** The MSI capability register each access of a procedure touches, as QEMU's trap names it. */
const CAP_REGISTER: Partial<Record<MsiRegister, number>> = {
  addrLo: MSI_MESSAGE_DWORD.addrLo,
  addrHi: MSI_MESSAGE_DWORD.addrHi,
  data: MSI_MESSAGE_DWORD.data,
  messageControl: MSI_MESSAGE_DWORD.control,
  maskBits: MSI_MESSAGE_DWORD.maskBits,
};

/** The steps of an MSI procedure (`kernel/msi-procedures.ts`), each a trapped config access on
 *  the vCPU the move runs on, named as the kernel names it and `[tag]`. A read's trap carries
 *  0; what Message Control's write carries does not matter to QEMU. */
function capabilitySteps(
  procedure: readonly MsiAccess[],
  tag: string,
  args: (s: SystemState, vector: number) => MsiProcedureArgs,
  skip: (s: SystemState, vector: number) => boolean = () => false,
): ProgramStep[] {
  return procedure.map((access) => {
    const dword = CAP_REGISTER[access.register];
    assert(dword !== undefined, `${access.name}: no MSI capability register ${access.register}`);
    const value = access.value;
    return {
      name: `${access.name} [${tag}]`,
      wait: WAIT.now,
      enabled: onRunningVcpu,
      run: (s, log, thread) => {
        const vector = vectorOf(s, thread);
        if (skip(s, vector)) return STEP.next;
        const written = value === null ? 0 : value(args(s, vector), 0);
        trapMsiConfigAccess(s, log, runner(s, thread), vector, dword, written);
        return STEP.next;
      },
    };
  });
}

/** __pci_write_msi_msg of the move's message: the devices' MSI capabilities are 64-bit
 *  (`system-state.ts setStoreEnabled`). */
const writeMsiMsg = (which: Which): ProgramStep[] =>
  capabilitySteps(pciMsiWriteMsg(true), which, (s, vector) => ({
    msg: messageOf(s, vector, which),
    ctrl: 0,
    multiple: 0,
  }));

const TEMPORARY = writeMsiMsg('temporary');
const FINAL = writeMsiMsg('final');
/** Step indices: irq_mask, apic_set_affinity, msi_set_affinity, the temporary write, the final
 *  write, the IRR check, irq_unmask. */
const FINAL_AT = 3 + TEMPORARY.length;
const UNMASK_AT = FINAL_AT + FINAL.length + 1;

const maskable = (s: SystemState, vector: number): boolean => {
  const st = s.topology.stores[s.topology.vectors[vector].store];
  return st.kind !== 'msi' || getField(s.words, st.controlAt, PVM) === 1;
};

/** __irq_move_irq's irq_mask / irq_unmask: pci_msi_mask writes the Mask Bits of a maskable MSI
 *  (the vector's bit set or clear); an MSI without them is left as it is (no access). */
const maskBitsWrite = (tag: string, masked: boolean): ProgramStep[] =>
  capabilitySteps(
    PCI_MSI_UPDATE_MASK,
    tag,
    (s, vector) => ({
      msg: messageOf(s, vector, 'final'),
      ctrl: masked ? 2 ** s.topology.vectors[vector].entry : 0,
      multiple: 0,
    }),
    (s, vector) => !maskable(s, vector),
  );

/** msi_set_affinity after the vector domain: direct update, or the two-step with the new vector
 *  marked VECTOR_RETRIGGERED on this CPU when no other irq uses it there. */
function msiSetAffinity(s: SystemState, _log: EventLog, thread: number) {
  const vector = vectorOf(s, thread);
  if (directUpdate(s, vector)) return FINAL_AT;
  const v = runner(s, thread);
  if (guestVectorOwner(s, v, currentTarget(s, vector).vector) === NO_VECTOR) {
    setRetriggerMark(s, vector, RETRIGGER_MARK.marked);
  }
  return STEP.next;
}

/** lapic_vector_set_in_irr on this CPU (the two-step only): a pending new vector is retriggered
 *  to the new target, which KVM's route names by now. */
function irrCheck(s: SystemState, log: EventLog, thread: number) {
  const vector = vectorOf(s, thread);
  if (directUpdate(s, vector)) return STEP.next;
  const now = currentTarget(s, vector);
  if (!testBit(s.words, virrAt(s, runner(s, thread)) * 32 + now.vector)) return STEP.next;
  if (retriggerMark(s, vector) === RETRIGGER_MARK.marked) {
    setRetriggerMark(s, vector, RETRIGGER_MARK.carried);
  }
  emit(log, EVENT.msiRetrigger, vector);
  kvmSetMsi(s, log, vector, vcpuPcpu(s, runner(s, thread)));
  return STEP.next;
}

export const GUEST_MSI_SET_AFFINITY: StepProgram = {
  id: 20,
  name: 'msi_set_affinity',
  source: 'arch/x86/kernel/apic/msi.c, drivers/pci/msi/msi.c, arch/x86/kernel/apic/vector.c',
  operation: 'affinity',
  irqsOff: true,
  steps: [
    ...maskBitsWrite('irq_mask', true),
    apicSetAffinityStep(UNMASK_AT),
    { name: 'msi_set_affinity', wait: WAIT.now, enabled: onRunningVcpu, run: msiSetAffinity },
    ...TEMPORARY,
    ...FINAL,
    { name: 'lapic_vector_set_in_irr', wait: WAIT.now, enabled: onRunningVcpu, run: irrCheck },
    ...maskBitsWrite('irq_unmask', false),
  ],
};

/** The guest kernel moves MSI `vector` to `affinityTarget(vcpu, guestVector)`. */
export function guestMsiMove(s: SystemState, log: EventLog, vector: number, target: number) {
  startGuestOp(s, log, vector, GUEST_MSI_SET_AFFINITY, target);
}
