// QEMU's emulation of an assigned function's MSI-X table under `emulate` (hw/pci/msix.c,
// hw/vfio/pci.c), driven by the guest's own accesses (Linux drivers/pci/msi/msi.c,
// kernel/irq/migration.c). Expected counts come from those sources: pci_msix_mask is a write
// and a flushing read, pci_msix_unmask one write, a deferred MSI-X move 7 accesses; each one
// traps (EPT_MISCONFIG) because the table page is not mapped.
import { describe, expect, it } from 'vitest';
import { MSIX_ENTRY_DWORD } from '../../src/hw/pci/msix-table.js';
import { decodeMsiMessage } from '../../src/hw/x86/msi-message.js';
import { irtePosted } from '../../src/machine/kvm-irq-bypass.js';
import { trapEntryAccess, virtualMasked } from '../../src/machine/qemu-vfio-msix.js';
import { vectorOutcomes } from '../../src/machine/system.js';
import { ACTION, affinityTarget } from '../../src/machine/system-actions.js';
import {
  createEventLog,
  EXIT_REASON,
  eventsOf,
  type SystemEvent,
} from '../../src/machine/system-events.js';
import { vmsixAt, vmsixFlag } from '../../src/machine/system-state.js';
import { ROUTE_DWORDS } from '../../src/machine/system-topology.js';
import { quiesce, stepper, system } from './system-helpers.js';

const mmioExits = (events: readonly SystemEvent[]) =>
  events.filter((e) => e.kind === 'vmExit' && e.args[1] === EXIT_REASON.eptMisconfig).length;

/** Runs the machine's own steps to the end, returning what happened. */
function settle(s: ReturnType<typeof system>) {
  const log = createEventLog();
  quiesce(s, log);
  return eventsOf(log);
}

const routeTarget = (s: ReturnType<typeof system>, vector: number) => {
  const at = s.topology.layout.vectorRoute + vector * ROUTE_DWORDS;
  const m = decodeMsiMessage(s.words[at], s.words[at + 1], s.words[at + 2]);
  return m.format === 'compatibility' ? { vcpu: m.destinationId, vector: m.vector } : null;
};

describe('the guest masking its emulated entry', () => {
  it('costs a trapped write and a trapped flush read; VFIO then signals QEMU and the IRTE is remapped', () => {
    const s = system({});
    const x = stepper(s);
    expect(s.topology.vectors[0].virtualMsix).toBe('compat');
    expect(irtePosted(s, 0)).toBe(true);
    x.step(ACTION.mask, 0);
    expect(mmioExits(settle(s))).toBe(2);
    expect(virtualMasked(s, 0)).toBe(true);
    expect(vmsixFlag(s, 0, 'vmmTrigger')).toBe(true);
    expect(irtePosted(s, 0)).toBe(false);
  });

  it('a raise while masked reaches QEMU, which holds it in the virtual PBA; unmask sends it once', () => {
    const s = system({});
    const x = stepper(s);
    x.step(ACTION.mask, 0);
    settle(s);
    x.raise();
    x.raise();
    const masked = settle(s);
    expect(masked.filter((e) => e.kind === 'guestIrq')).toHaveLength(0);
    expect(vmsixFlag(s, 0, 'pending')).toBe(true);
    x.step(ACTION.unmask, 0);
    const unmasked = settle(s);
    expect(mmioExits(unmasked)).toBe(1);
    expect(unmasked.filter((e) => e.kind === 'guestIrq')).toHaveLength(1);
    expect(irtePosted(s, 0)).toBe(true);
    expect(vectorOutcomes(s, 0)).toMatchObject({ raised: 2, delivered: 1, coalesced: 1, lost: 0 });
  });
});

describe('the deferred move of an emulated entry (no IR in the guest)', () => {
  it('is 7 trapped accesses, and QEMU re-routes at the unmask', () => {
    const s = system({});
    const x = stepper(s);
    x.step(ACTION.setAffinity, 0, affinityTarget(1, 0x41));
    expect(mmioExits(settle(s))).toBe(7);
    expect(routeTarget(s, 0)).toEqual({ vcpu: 1, vector: 0x41 });
    x.raise();
    const after = settle(s);
    const handled = after.filter((e) => e.kind === 'guestIrq');
    expect(handled.map((e) => e.args.slice(0, 2))).toEqual([[1, 0x41]]);
  });
});

describe('an unmasked entry rewritten in place (no mask around the write)', () => {
  // PCIe: "If software changes the Address or Data value of an entry while the entry is
  // unmasked, the result is undefined." QEMU acts on mask changes only: its copy changes, KVM's
  // route does not, and interrupts keep going to the old target until the next mask/unmask.
  it('is not re-routed until the next mask/unmask', () => {
    const s = system({});
    const x = stepper(s);
    const v = s.topology.vcpus.findIndex((_, i) => i === 0);
    const before = routeTarget(s, 0);
    const data = 0x41;
    trapEntryAccess(s, createEventLog(), v, 0, MSIX_ENTRY_DWORD.data, data);
    settle(s);
    expect(s.words[vmsixAt(s, 0) + MSIX_ENTRY_DWORD.data]).toBe(data);
    expect(routeTarget(s, 0)).toEqual(before);
    x.step(ACTION.mask, 0);
    settle(s);
    x.step(ACTION.unmask, 0);
    settle(s);
    expect(routeTarget(s, 0)).toEqual({ vcpu: before?.vcpu, vector: data });
  });
});
