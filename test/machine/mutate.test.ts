// A check's `mutate:` as the machine runs it (`programs.ts`): a dropped step is left out of every
// run of its program, two swapped steps run in each other's place; the rest of the program is as
// the real code has it. Here on the deferred MSI-X move under emulate, whose accesses QEMU sees
// one by one (their dword and value in the trap).
import { describe, expect, it } from 'vitest';
import { GUEST_MSIX_MOVE } from '../../src/machine/guest-entry.js';
import { programStepNames } from '../../src/machine/programs.js';
import { ACTION, affinityTarget } from '../../src/machine/system-actions.js';
import type { SystemState } from '../../src/machine/system-state.js';
import { stepper, system } from './system-helpers.js';

const key = (step: string) => {
  const st = programStepNames().find((x) => x.name === `${GUEST_MSIX_MOVE.name}/${step}`);
  if (st === undefined) throw new Error(`no step ${step}`);
  return st;
};

/** The dwords QEMU saw written, in order (vmmMsixWrite: vector, dword, value, mask changed). */
function movedDwords(s: SystemState): number[] {
  const x = stepper(s);
  const events = x.guestOp(ACTION.setAffinity, 0, affinityTarget(1, 0x41));
  return events.filter((e) => e.kind === 'vmmMsixWrite').map((e) => e.args[1]);
}

const mutant = (base: SystemState, topology: Partial<SystemState['topology']>): SystemState => ({
  topology: { ...base.topology, ...topology },
  words: base.words.slice(),
});

describe('mutate', () => {
  it('unmutated: Vector Control, address lo, address hi, data, Vector Control', () => {
    expect(movedDwords(system({}))).toEqual([3, 0, 1, 2, 3]);
  });
  it('drop: the mask write is left out, the rest runs in order', () => {
    const s = mutant(system({}), {
      droppedSteps: new Set([key('pci_msix_write_vector_ctrl(mask)').key]),
    });
    expect(movedDwords(s)).toEqual([0, 1, 2, 3]);
  });
  it('swap: the data write and the unmask run in each other place', () => {
    const data = key('writel(data)');
    const unmask = key('pci_msix_write_vector_ctrl(unmask)');
    const s = mutant(system({}), {
      swappedSteps: new Map([
        [data.key, unmask.pc],
        [unmask.key, data.pc],
      ]),
    });
    expect(movedDwords(s)).toEqual([3, 0, 1, 3, 2]);
  });
});
