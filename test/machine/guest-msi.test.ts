// msi_set_affinity as Linux 6.x runs it (arch/x86/kernel/apic/msi.c), step by step over QEMU's
// MSI emulation, which re-routes on every config write (hw/vfio/pci.c vfio_update_msi): a
// maskable MSI is masked around a direct update; one without mask bits takes the two-step
// (the new vector on the old CPU first, then the new CPU) and retriggers an interrupt that came
// in between (lapic_vector_set_in_irr -> apic_retrigger_irq); its copy left in the old IRR hits
// the VECTOR_RETRIGGERED slot and is dropped. Expected counts follow from that code: 6 config
// accesses per __pci_write_msi_msg (read and write Message Control, address, upper address,
// data, read back), one per Mask Bits write.
import { describe, expect, it } from 'vitest';
import { conserved, quiescent, vectorOutcomes } from '../../src/machine/system.js';
import { ACTION, affinityTarget } from '../../src/machine/system-actions.js';
import { EXIT_REASON, type SystemEvent } from '../../src/machine/system-events.js';
import { routeTarget, vcpuPcpu } from '../../src/machine/system-state.js';
import { quiesce, stepper, system } from './system-helpers.js';

const NEW_VECTOR = 0x41;
const configExits = (events: readonly SystemEvent[]) =>
  events.filter((e) => e.kind === 'vmExit' && e.args[1] === EXIT_REASON.eptMisconfig).length;

describe('msi_set_affinity', () => {
  it('a maskable MSI: mask, one direct rewrite, unmask (8 config accesses)', () => {
    const s = system({ backing: 'msi' });
    const x = stepper(s);
    const events = x.guestOp(ACTION.setAffinity, 0, affinityTarget(1, NEW_VECTOR));
    expect(configExits(events)).toBe(1 + 6 + 1);
    expect(routeTarget(s, 0)).toEqual({ vcpu: 1, vector: NEW_VECTOR });
  });

  it('without mask bits: the two-step, 12 config accesses, never routing the old vector to the new CPU', () => {
    const s = system({ backing: 'msi', msiMask: false });
    const x = stepper(s);
    const old = s.topology.vectors[0].guestVector;
    const events = x.guestOp(ACTION.setAffinity, 0, affinityTarget(1, NEW_VECTOR));
    expect(configExits(events)).toBe(12);
    const routes = events.filter((e) => e.kind === 'irteUpdate').map((e) => [e.args[1], e.args[2]]);
    // first the new vector on the old vCPU, then the new vCPU: never (vCPU 1, old vector)
    expect(routes).toEqual([
      [0, NEW_VECTOR],
      [1, NEW_VECTOR],
    ]);
    expect(routes).not.toContainEqual([1, old]);
  });

  it('retriggers an interrupt that arrived on the old CPU between the two writes', () => {
    const s = system({ backing: 'msi', msiMask: false });
    const x = stepper(s);
    x.guestOp(
      ACTION.setAffinity,
      0,
      affinityTarget(1, NEW_VECTOR),
      'pci_read_config_word(PCI_MSI_FLAGS) [final]',
    );
    // the route names (vCPU 0, new vector) now: a raise lands in vCPU 0's IRR
    x.raise();
    x.step(ACTION.deliver, 0);
    x.step(ACTION.apicDeliver);
    x.step(ACTION.pcpuInterrupt, vcpuPcpu(s, 0));
    const rest = x.drive(0);
    expect(rest.map((e) => e.kind)).toContain('msiRetrigger');
    quiesce(s);
    expect(quiescent(s)).toBe(true);
    expect(conserved(s)).toBe(true);
    expect(vectorOutcomes(s, 0)).toMatchObject({ raised: 1, delivered: 1, lost: 0 });
  });
});
