// The engine replaying a schedule (`replaySystem`): a step without a time runs when the engine's
// cost model says the action it follows from leads to it (a message reaches the remapping unit
// msiWriteNs after the raise, the posted wake-up vector is taken postedDeliveryNs after that, the
// woken vCPU enters wakeupNs later: the pricing `sim/system-sim.ts afterStep` documents); a step
// nobody scheduled runs once what is in motion has come due; a step that is not enabled is
// refused, by the replay and by `checkSchedule` before anything is recorded.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildScenario, runWorkload } from '../../src/scenario/build.js';
import { loadScenario } from '../../src/scenario/load.js';
import { loadSchedule } from '../../src/scenario/schedule.js';
import { resolveCosts } from '../../src/sim/cost-model.js';
import { checkSchedule, replaySystem } from '../../src/sim/system-sim.js';
import { memoryTraceRecorder } from '../../src/sim/trace-recorder.js';

const file = 'mlx5-vf.yaml';
const scenario = loadScenario(
  readFileSync(new URL(`../../scenarios/${file}`, import.meta.url), 'utf8'),
  file,
);
const input = runWorkload(buildScenario(scenario));
const costs = resolveCosts(scenario.run.costs, { nested: scenario.host.nested });
const t = input.initial.topology;

function replay(schedule: string) {
  const times: number[] = [];
  const trace = memoryTraceRecorder();
  const result = replaySystem(input, loadSchedule(schedule, 's.yaml', t), {
    durationNs: scenario.run.duration,
    seed: scenario.run.seed,
    costs,
    trace,
    onStep: (_, atNs) => times.push(atNs),
  });
  return { result, times, trace };
}

// vm1 halts when idle (mlx5-vf.yaml); its vCPU 1 is on pCPU 5, and cx0-vf1's entry 1 targets it.
// The halt is KVM's kvm_vcpu_block (check_block, then pi_enable_wakeup_handler), the wake-up a
// vmx_vcpu_pi_load before the entry: steps of the vCPU's thread.
const WAKE_UP = [
  '  - { action: vcpuHalt, a: vm1/vcpu1 }',
  '  - { action: threadStep, a: vm1/vcpu1 }',
  '  - { action: threadStep, a: vm1/vcpu1 }',
  '  - { action: raise, a: cx0-vf1/msix, b: 1 }',
  '  - { action: deliver, a: cx0-vf1 }',
  '  - { action: apicDeliver }',
  '  - { action: pcpuInterrupt, a: cpu5 }',
  '  - { action: threadStep, a: vm1/vcpu1 }',
  '  - { action: vcpuEnter, a: vm1/vcpu1 }',
  '  - { action: guestHandle, a: vm1/vcpu1 }',
];

describe('replay without times: each step timed by the cost model', () => {
  it('a halted vCPU woken by a posted interrupt: the run-time gaps of the cost model', () => {
    const { times, result } = replay(`steps:\n${WAKE_UP.join('\n')}\n`);
    const [halt, check, put, raise, deliver, arrive, notify, load, enter, handle] = times;
    expect(halt).toBe(0); // the engine schedules an idle vCPU's HLT at once
    expect([check, put]).toEqual([0, 0]); // KVM's steps on the same code path
    expect(raise).toBe(0); // nothing in motion before it
    expect(deliver - raise).toBe(costs.msiWriteNs);
    expect(arrive - deliver).toBe(costs.postedDeliveryNs);
    expect(notify).toBe(arrive); // the LAPIC takes the notification at once
    expect(load - notify).toBe(costs.wakeupNs);
    expect(enter).toBe(load);
    expect(handle).toBe(enter); // the vCPU enters with the interrupt pending: handled at once
    expect(result.interrupts).toMatchObject({ raised: 1, delivered: 1, lost: 0 });
    expect(result.counts.wakeups).toBe(1);
  });
  it('a step nobody scheduled waits for what is in motion; time never goes back', () => {
    const { times } = replay(
      `steps:\n${WAKE_UP.slice(0, 5).join('\n')}\n  - { action: mask, a: vm0/cx0-vf0/0 }\n`,
    );
    // after the deliver, the wake-up notification is due postedDeliveryNs later: the mask waits
    expect(times[5]).toBe(times[4] + costs.postedDeliveryNs);
  });
});

describe('a step that is not enabled', () => {
  // An empty requester FIFO has nothing to deliver.
  const bad = `steps:\n${WAKE_UP[0]}\n  - { action: deliver, a: cx0-vf1 }\n`;
  const message =
    's.yaml:3:5: step 2: deliver cx0-vf1 is not enabled [rule: schedule-step-enabled]';
  it('is refused by the replay, with the step and the action as described', () => {
    expect(() => replay(bad)).toThrow(message);
  });
  it('is found by checkSchedule on the model alone (no pricing, no trace); a good one passes', () => {
    expect(() => {
      checkSchedule(input.initial, loadSchedule(bad, 's.yaml', t));
    }).toThrow(message);
    expect(() => {
      checkSchedule(input.initial, loadSchedule(`steps:\n${WAKE_UP.join('\n')}\n`, 's.yaml', t));
    }).not.toThrow();
  });
});
