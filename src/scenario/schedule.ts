// A schedule file: the actions the simulator applies in order (`irqlab run --schedule FILE`,
// `sim/system-sim.ts replaySystem`), as `irqlab run --record-schedule FILE` writes them from a
// run and as an interleaving found by a search would be written. JSON, or YAML (the same value):
//   {"steps": [
//   {"at": 0, "action": "vcpuHalt", "a": "vm0/vcpu0"},
//   {"at": 1250, "action": "raise", "a": "cx0-vf0/msix", "b": 2},
//   ...]}
// `action` is a kind's name in the ACTION table (`hv/system-actions.ts`); `a` and `b` are its
// operands as the table declares them (`ACTION_OPERANDS`): a number, or where the operand's
// domain has names the name `describeSystemAction` prints (a store, port, vCPU or assigned
// vector, `cpuN`); an unused operand is left out (or 0). `at` is the step's time, integer
// nanoseconds or a duration ("1.5us"), on every step (a recorded run: the replay's trace is the
// run's) or on none (the engine gives each step a time from its cost model).
// Invariants: read and written from the action table only, never per kind; a file loads whole or
// not at all, every problem reported together (file:line:col, the step, 1 = first, the rule);
// whether each step is enabled is the engine's to say, in the state the steps before leave.

import { z } from 'zod';
import {
  ACTION_NAMES,
  type ActionKind,
  actionKindOf,
  actionOperands,
  OPERAND_DOMAINS,
  type OperandDomain,
  type SystemAction,
} from '../machine/system-actions.js';
import type { SystemTopology } from '../machine/system-topology.js';
import type { ScheduleStep } from '../sim/system-sim.js';
import { ScenarioError, type ScenarioIssue } from './errors.js';
import { parseLocated, schemaIssue } from './load.js';
import { DURATION_PATTERN, durationNs } from './units.js';

const operand = z.union([z.number().int().nonnegative(), z.string().min(1)]);
const stepSchema = z.strictObject({
  action: z.string(),
  a: operand.optional(),
  b: operand.optional(),
  at: z.union([z.number().int().nonnegative(), z.string().regex(DURATION_PATTERN)]).optional(),
});
export const scheduleSchema = z.strictObject({ steps: z.array(stepSchema) });
type StepInput = z.infer<typeof stepSchema>;

/** Reads a schedule for the system `t` (the scenario's, as built). */
export function loadSchedule(text: string, file: string, t: SystemTopology): ScheduleStep[] {
  const { value, at } = parseLocated(text, file);
  const parsed = scheduleSchema.safeParse(value ?? {});
  if (!parsed.success) {
    throw new ScenarioError(parsed.error.issues.map((i) => stepIssue(schemaIssue(i, at))));
  }
  const issues: ScenarioIssue[] = [];
  const problem = (path: PropertyKey[], rule: string, text: string) => {
    issues.push(stepIssue({ ...at(path), rule, problem: text }));
  };
  const names = operandNames(t);
  const steps = parsed.data.steps.flatMap((input, i) => {
    const step = resolveStep(t, names, input, (key, rule, text) => {
      problem(['steps', i, key], rule, text);
    });
    if (step === null) return [];
    const where = at(['steps', i]);
    return [{ ...step, where: `${where.file}:${where.line}:${where.column}: step ${i + 1}` }];
  });
  checkTimes(parsed.data.steps, problem);
  if (issues.length > 0) throw new ScenarioError(issues);
  return steps;
}

type Problem = (key: keyof StepInput, rule: string, text: string) => void;

function resolveStep(
  t: SystemTopology,
  names: OperandNames,
  input: StepInput,
  problem: Problem,
): Omit<ScheduleStep, 'where'> | null {
  const kind = actionKindOf(input.action);
  if (kind === undefined) {
    problem(
      'action',
      'schedule-action',
      `unknown action "${input.action}" (one of ${ACTION_NAMES.join(', ')})`,
    );
    return null;
  }
  const [aDomain, bDomain] = actionOperands(kind);
  const a = resolveOperand(t, names, aDomain, input.a, 0, (text) => {
    problem(
      'a',
      'schedule-operand',
      aDomain === OPERAND_DOMAINS.none ? `${input.action} takes no a` : text,
    );
  });
  if (a === null) return null;
  const b = resolveOperand(t, names, bDomain, input.b, a, (text) => {
    problem(
      'b',
      'schedule-operand',
      bDomain === OPERAND_DOMAINS.none ? `${input.action} takes no b` : text,
    );
  });
  if (b === null) return null;
  return { kind, a, b, atNs: input.at === undefined ? null : durationNs(input.at) };
}

/** An operand's index: a number in range, or the one name of the domain's that matches. */
function resolveOperand(
  t: SystemTopology,
  names: OperandNames,
  domain: OperandDomain,
  value: number | string | undefined,
  a: number,
  problem: (text: string) => void,
): number | null {
  const count = domain.count(t, a);
  const range = `${domain.noun}: ${count === 0 ? 'none in this system' : `0..${count - 1}`}`;
  if (value === undefined) {
    if (count === 1 && domain.name === null) return 0;
    problem(`missing (${range})`);
    return null;
  }
  if (typeof value === 'number') {
    if (value < count) return value;
    problem(`${value} is out of range (${range})`);
    return null;
  }
  const matches = domain.name === null ? [] : (names(domain)?.get(value) ?? []);
  if (matches.length === 1) return matches[0];
  if (matches.length > 1) {
    problem(`"${value}" names ${matches.length} (${domain.noun}): give its number`);
    return null;
  }
  const known = domain.name === null ? [] : [...(names(domain)?.keys() ?? [])];
  problem(
    known.length === 0
      ? `"${value}" is not a number (${range})`
      : `"${value}" is not a ${domain.noun} of this system (${known.slice(0, NAMES_SHOWN).join(', ')}${known.length > NAMES_SHOWN ? ', ...' : ''})`,
  );
  return null;
}

/** Names listed in an unknown-name error. */
const NAMES_SHOWN = 8;

/** Every step has a time or none does; given times never go back. */
function checkTimes(
  steps: readonly StepInput[],
  problem: (path: PropertyKey[], rule: string, text: string) => void,
): void {
  const timed = steps.findIndex((s) => s.at !== undefined);
  const untimed = steps.findIndex((s) => s.at === undefined);
  if (timed >= 0 && untimed >= 0) {
    problem(
      ['steps', untimed],
      'schedule-time',
      `no "at", but step ${timed + 1} has one: give every step a time or none`,
    );
    return;
  }
  let previousNs = 0;
  steps.forEach((s, i) => {
    if (s.at === undefined) return;
    const ns = durationNs(s.at);
    if (ns < previousNs) {
      problem(
        ['steps', i, 'at'],
        'schedule-time',
        `${ns} ns is before the step before it (${previousNs} ns)`,
      );
    }
    previousNs = Math.max(previousNs, ns);
  });
}

/** `steps[3].a` -> `step 4` and the problem prefixed with `a: `. */
function stepIssue(issue: ScenarioIssue): ScenarioIssue {
  const m = /^steps\[(\d+)\](?:\.(.+))?$/.exec(issue.path);
  if (!m) return issue;
  return {
    ...issue,
    path: `step ${Number(m[1]) + 1}`,
    problem: m[2] ? `${m[2]}: ${issue.problem}` : issue.problem,
  };
}

/** A named operand domain's names -> the indices with each (more than one: ambiguous);
 *  undefined for a domain of plain numbers. Built on first use, per domain. */
type OperandNames = (domain: OperandDomain) => Map<string, number[]> | undefined;

function operandNames(t: SystemTopology): OperandNames {
  const built = new Map<OperandDomain, Map<string, number[]>>();
  return (domain) => {
    const name = domain.name;
    if (name === null) return undefined;
    let m = built.get(domain);
    if (m === undefined) {
      m = new Map();
      for (let i = 0; i < domain.count(t, 0); i++) {
        const n = name(t, i);
        m.set(n, [...(m.get(n) ?? []), i]);
      }
      built.set(domain, m);
    }
    return m;
  };
}

/** One step of a schedule file as `loadSchedule` reads it, on one line: operands by name where
 *  the name is unique, unused ones left out; `atNs` null writes no time. */
export function scheduleStepFormatter(t: SystemTopology) {
  const names = operandNames(t);
  return (a: SystemAction, atNs: number | null): string => {
    const domains = actionOperands(a.kind as ActionKind);
    const step: Record<string, number | string> = atNs === null ? {} : { at: atNs };
    step.action = ACTION_NAMES[a.kind];
    (['a', 'b'] as const).forEach((key, i) => {
      const domain = domains[i];
      const value = a[key];
      if (domain.name === null) {
        if (value !== 0 || domain.count(t, a.a) > 1) step[key] = value;
        return;
      }
      const name = domain.name(t, value);
      step[key] = names(domain)?.get(name)?.length === 1 ? name : value;
    });
    return JSON.stringify(step);
  };
}

/** What a schedule file holds around its steps (one per line, comma-separated). */
export const SCHEDULE_FILE = { open: '{"steps": [\n', separator: ',\n', close: '\n]}\n' };
