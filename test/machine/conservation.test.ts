// Conservation as the simulator reports it: when a run ends with a raise counted nowhere, the
// step after which the settled system stops accounting for it is named. The break is made here
// by hand (a blocked vCPU taken off KVM's wake-up list behind KVM's back, which KVM never does:
// pi_wakeup_handler then finds nobody, and ON stays set, so no later notification is sent: the
// PIR bit is stranded, the lost wake-up of issue 10).
import { describe, expect, it } from 'vitest';
import { conservationBreak } from '../../src/machine/system.js';
import { ACTION, type SystemAction } from '../../src/machine/system-actions.js';
import {
  cloneSystemState,
  setVcpuOnWakeupList,
  vcpuOnWakeupList,
} from '../../src/machine/system-state.js';
import { stepper, system } from './system-helpers.js';

describe('conservationBreak', () => {
  const start = system({ idle: 'halt' });
  const x = stepper(start);
  x.step(ACTION.vcpuHalt, 0);
  x.step(ACTION.threadStep, 0); // kvm_vcpu_check_block: nothing pending
  x.step(ACTION.threadStep, 0); // pi_enable_wakeup_handler: on pCPU0's list, NV = wake-up
  const v = start.topology.vectors[0];
  const raise: SystemAction = { kind: ACTION.raise, a: v.store, b: v.entry };

  it('is null while every raise is accounted for', () => {
    expect(vcpuOnWakeupList(start, 0)).toBe(true);
    expect(conservationBreak(start, [raise, raise])).toBeNull();
  });

  it('names the step after which a raise is counted nowhere', () => {
    const s = cloneSystemState(start);
    setVcpuOnWakeupList(s, 0, false);
    // vCPU1 moving to another pCPU changes nothing for vector 0; the raise is what strands
    const migrate: SystemAction = { kind: ACTION.vcpuMigrate, a: 1, b: 3 };
    expect(conservationBreak(s, [migrate])).toBeNull();
    const broke = conservationBreak(s, [migrate, raise, raise]);
    expect(broke?.index).toBe(1);
    expect(broke?.step).toMatch(/^raise /);
  });
});
