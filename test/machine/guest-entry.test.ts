// The guest driver's MSI-X procedures under emulate, access by access (drivers/pci/msi/msi.c,
// kernel/irq/migration.c __irq_move_irq): each access traps once; a move masks and unmasks around
// the rewrite unless the driver holds the irq masked already (irqd_irq_masked), in which case it
// stays masked.
import { describe, expect, it } from 'vitest';
import { virtualMasked } from '../../src/machine/qemu-vfio-msix.js';
import { ACTION, affinityTarget } from '../../src/machine/system-actions.js';
import { EXIT_REASON } from '../../src/machine/system-events.js';
import { stepper, system } from './system-helpers.js';

const trapped = (events: { kind: string; args: readonly number[] }[]) =>
  events.filter((e) => e.kind === 'vmExit' && e.args[1] === EXIT_REASON.eptMisconfig).length;

describe('__irq_move_irq', () => {
  it('an unmasked irq: mask, flush, address lo/hi, data, read-back, unmask (7 accesses)', () => {
    const s = system({});
    const x = stepper(s);
    expect(trapped(x.guestOp(ACTION.setAffinity, 0, affinityTarget(1, 0x41)))).toBe(7);
    expect(virtualMasked(s, 0)).toBe(false);
  });
  it('an irq the driver masked: the rewrite only (4 accesses), and it stays masked', () => {
    const s = system({});
    const x = stepper(s);
    expect(trapped(x.guestOp(ACTION.mask, 0))).toBe(2);
    expect(trapped(x.guestOp(ACTION.setAffinity, 0, affinityTarget(1, 0x41)))).toBe(4);
    expect(virtualMasked(s, 0)).toBe(true);
  });
});
