// Each workload operation's exits, counted from the steps its step program executed in the run,
// against the accesses Linux 6.x makes (drivers/pci/msi/msi.c: pci_msix_mask writes Vector
// Control and reads the entry back to flush, pci_msix_unmask writes it; the deferred move without
// IR masks, flushes, writes three dwords, reads the data back and unmasks: 7 accesses; the IMS
// chip of kernel/ims.ts writes the control dword once per mask or unmask), the pv ABI (one
// RETARGET hypercall per move, the table mapped: masking costs nothing) and the VT-d IR domain
// (one queued-invalidation doorbell write per move, the IRTE itself in guest memory).
import { describe, expect, test } from 'vitest';
import { buildScenario, runWorkload } from '../../src/scenario/build.js';
import { parseScenario, ruleIssues } from '../../src/scenario/load.js';
import type { Strategy } from '../../src/scenario/schema.js';
import { resolveCosts } from '../../src/sim/cost-model.js';
import { simulateSystem } from '../../src/sim/system-sim.js';
import { shippedText } from '../shipped-scenarios.js';

function tally(file: string, strategy: Strategy) {
  const { scenario, issues } = ruleIssues(parseScenario(shippedText(file), file), { strategy });
  expect(issues).toEqual([]);
  const input = runWorkload(buildScenario(scenario, { strategy }));
  const sim = simulateSystem(input, {
    durationNs: scenario.run.duration,
    seed: scenario.run.seed,
    costs: resolveCosts(scenario.run.costs, { nested: scenario.host.nested }),
    trace: null,
  });
  return sim.operations;
}

describe('exits per operation, from the executed steps', () => {
  test('emulate, MSI-X: mask = write + flush read, unmask = write, a move = 7 accesses', () => {
    const t = tally('mlx5-vf.yaml', 'emulate');
    expect(t.applied).toMatchObject({ mask: 1, unmask: 1, affinity: 1 });
    expect(t.exits.mask).toEqual({ msixWrite: 1, msixRead: 1 });
    expect(t.exits.unmask).toEqual({ msixWrite: 1 });
    expect(t.exits.affinity).toEqual({ msixWrite: 5, msixRead: 2 });
  });
  test('pv: the mapped table costs nothing, a move is one RETARGET hypercall', () => {
    const t = tally('mlx5-vf.yaml', 'pv');
    expect(t.exits.mask).toEqual({});
    expect(t.exits.unmask).toEqual({});
    expect(t.exits.affinity).toEqual({ hypercall: 1 });
  });
  test('vir, trapped IMS: one control write per mask and unmask; a move, one invalidation', () => {
    const t = tally('hostile-siov.yaml', 'vir');
    expect(t.exits.mask).toEqual({ imsWrite: 1 });
    expect(t.exits.unmask).toEqual({ imsWrite: 1 });
    expect(t.exits.affinity).toEqual({ invalidation: 1 });
  });
  test("vir-direct, mapped IMS: the guest writes the device's entry, no exit", () => {
    const t = tally('hostile-siov.yaml', 'vir-direct');
    expect(t.applied).toMatchObject({ mask: 1, unmask: 1 });
    expect(t.exits.mask).toEqual({});
    expect(t.exits.unmask).toEqual({});
  });
  test("a workload's free_irq and request_irq are operations of their own, not masks", () => {
    const t = tally('mixed.yaml', 'emulate');
    expect(t.applied).toMatchObject({ mask: 1, unmask: 1, free: 1, request: 1 });
    expect(t.exits.free).toEqual({ msixWrite: 1, msixRead: 1 }); // irq_shutdown's mask
  });
});
