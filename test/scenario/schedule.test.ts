// Schedule files (`irqlab run --schedule`): an action named by its kind in the ACTION table, its
// operands by number or by the names the topology gives them, checked against the ranges the
// scenario implies (mlx5-vf.yaml: 8 host CPUs, VFs 0..2 of cx0 with vfMsix: 8 entries each, 8
// assigned vectors, an IRT of 16 entries), every problem reported with file:line:col, the step
// (1 = first) and the rule; and what the recorder writes reads back as the same actions.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeSystemAction } from '../../src/machine/system.js';
import {
  ACTION,
  ACTION_NAMES,
  type ActionKind,
  actionOperands,
} from '../../src/machine/system-actions.js';
import { buildScenario } from '../../src/scenario/build.js';
import { loadScenario } from '../../src/scenario/load.js';
import { loadSchedule, SCHEDULE_FILE, scheduleStepFormatter } from '../../src/scenario/schedule.js';

const file = 'mlx5-vf.yaml';
const text = readFileSync(new URL(`../../scenarios/${file}`, import.meta.url), 'utf8');
const t = buildScenario(loadScenario(text, file)).initial.topology;

const errorOf = (schedule: string): string => {
  try {
    loadSchedule(schedule, 's.json', t);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('loaded');
};

const steps = (...lines: string[]) => `{"steps": [\n${lines.join(',\n')}\n]}`;

describe('a schedule names actions and operands as the ACTION table declares them', () => {
  it('by number or by name, unused operands left out, times in ns or with a unit', () => {
    const s = loadSchedule(
      steps(
        '{"at": 0, "action": "raise", "a": "cx0-vf1/msix", "b": 1}',
        '{"at": 250, "action": "deliver", "a": 1}',
        '{"at": "1.5us", "action": "pcpuInterrupt", "a": "cpu5"}',
        '{"at": "2us", "action": "vcpuMigrate", "a": "vm0/vcpu0", "b": 6}',
        '{"at": "2us", "action": "mask", "a": "vm0/cx0-vf0/2"}',
      ),
      's.json',
      t,
    );
    expect(s.map(({ kind, a, b, atNs }) => ({ kind, a, b, atNs }))).toEqual([
      { kind: ACTION.raise, a: 1, b: 1, atNs: 0 },
      { kind: ACTION.deliver, a: 1, b: 0, atNs: 250 },
      { kind: ACTION.pcpuInterrupt, a: 5, b: 0, atNs: 1500 },
      { kind: ACTION.vcpuMigrate, a: 0, b: 6, atNs: 2000 },
      { kind: ACTION.mask, a: 2, b: 0, atNs: 2000 },
    ]);
    expect(s[2].where).toBe('s.json:4:1: step 3');
  });
  it('YAML reads as JSON does; no times: the engine gives them', () => {
    const s = loadSchedule(
      'steps:\n  - { action: raise, a: 0, b: 3 }\n  - { action: deliver, a: cx0-vf0 }\n',
      's.yaml',
      t,
    );
    expect(s.map(({ kind, a, b, atNs }) => [kind, a, b, atNs])).toEqual([
      [ACTION.raise, 0, 3, null],
      [ACTION.deliver, 0, 0, null],
    ]);
  });
  it('every action of the table, at every operand the topology has, reads back as written', () => {
    const format = scheduleStepFormatter(t);
    const written: { kind: ActionKind; a: number; b: number }[] = [];
    ACTION_NAMES.forEach((_, kind) => {
      const [aDomain, bDomain] = actionOperands(kind as ActionKind);
      for (let a = 0; a < aDomain.count(t, 0); a++) {
        const bs = bDomain.count(t, a);
        for (const b of new Set([0, bs - 1])) written.push({ kind: kind as ActionKind, a, b });
      }
    });
    const lines = written.map((a) => format(a, null));
    const read = loadSchedule(
      SCHEDULE_FILE.open + lines.join(SCHEDULE_FILE.separator) + SCHEDULE_FILE.close,
      'w.json',
      t,
    );
    expect(read.map(({ kind, a, b }) => ({ kind, a, b }))).toEqual(written);
    expect(lines).toContain('{"action":"raise","a":"cx0-vf0/msix","b":7}');
    expect(lines).toContain('{"action":"iecEvict","a":15}');
    // the names are the ones an action is described with (counterexamples, errors)
    const s = buildScenario(loadScenario(text, file)).initial;
    written.forEach((a, i) => {
      const step = JSON.parse(lines[i]);
      for (const key of ['a', 'b']) {
        if (typeof step[key] === 'string') expect(describeSystemAction(s, a)).toContain(step[key]);
      }
    });
  });
});

describe('bad schedules: every problem with its place and rule, nothing loaded', () => {
  it('an unknown action names the table', () => {
    expect(errorOf(steps('{"action": "rase", "a": 0}'))).toBe(
      `s.json:2:12: step 1: action: unknown action "rase" (one of ${ACTION_NAMES.join(', ')}) [rule: schedule-action]`,
    );
  });
  it('operands out of range, unknown names, missing and unused operands', () => {
    expect(
      errorOf(
        steps(
          '{"action": "raise", "a": "cx0-vf0/msix", "b": 8}',
          '{"action": "raise", "a": 3, "b": 0}',
          '{"action": "deliver", "a": "nope"}',
          '{"action": "iecEvict", "a": "x"}',
          '{"action": "deliver", "a": 0, "b": 1}',
          '{"action": "mask"}',
          '{"action": "pcpuInterrupt", "a": 8}',
        ),
      ).split('\n'),
    ).toEqual([
      's.json:2:47: step 1: b: 8 is out of range (entry of the store: 0..7) [rule: schedule-operand]',
      's.json:3:26: step 2: a: 3 is out of range (store: 0..2) [rule: schedule-operand]',
      's.json:4:28: step 3: a: "nope" is not a port of this system (cx0-vf0, cx0-vf1, cx0-vf2) [rule: schedule-operand]',
      's.json:5:29: step 4: a: "x" is not a number (IRTE index: 0..15) [rule: schedule-operand]',
      's.json:6:36: step 5: b: deliver takes no b [rule: schedule-operand]',
      's.json:7:1: step 6: a: missing (assigned vector: 0..7) [rule: schedule-operand]',
      's.json:8:34: step 7: a: 8 is out of range (host CPU: 0..7) [rule: schedule-operand]',
    ]);
  });
  it('times on some steps only, or going back', () => {
    expect(
      errorOf(
        steps('{"action": "raise", "a": 0, "b": 0, "at": 5}', '{"action": "deliver", "a": 0}'),
      ),
    ).toBe(
      's.json:3:1: step 2: no "at", but step 1 has one: give every step a time or none [rule: schedule-time]',
    );
    expect(
      errorOf(
        steps(
          '{"action": "raise", "a": 0, "b": 0, "at": "1us"}',
          '{"action": "deliver", "a": 0, "at": 10}',
        ),
      ),
    ).toBe(
      's.json:3:37: step 2: at: 10 ns is before the step before it (1000 ns) [rule: schedule-time]',
    );
  });
  it('the file shape: schema issues name the step too', () => {
    expect(errorOf(steps('{"action": "raise", "a": -1, "c": 0}')).split('\n')).toEqual([
      's.json:2:26: step 1: a: Too small: expected number to be >=0 [rule: schema/too_small]',
      's.json:2:35: step 1: c: unknown key "c" [rule: schema/unrecognized_keys]',
    ]);
    expect(errorOf('[]')).toBe(
      's.json:1:1: Invalid input: expected object, received array [rule: schema/invalid_type]',
    );
  });
});
