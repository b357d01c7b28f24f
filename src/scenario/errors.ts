// What is wrong with a scenario file (or a schedule file, `schedule.ts`), and where: every
// problem names the file, the line and column of the offending YAML node, its path in the
// document and the rule it breaks (a schema rule `schema/<zod issue code>`, `yaml-syntax`, or a
// cross-field rule from `rules.ts`, `schedule-*` for a schedule).
// All problems of a file are reported together; the file's model is never built.

import { RuleError } from '../hw/errors.js';

export interface ScenarioIssue {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** `vms[1].assign[0].backing` */
  readonly path: string;
  readonly rule: string;
  readonly problem: string;
}

/** Shown issues per error; the count of the rest is given. */
export const SCENARIO_ISSUES_SHOWN = 20;

/** One line, whatever the message holds (a library's text may span lines). */
const oneLine = (text: string) => text.replace(/\s*\n\s*/g, ' ');

export const formatIssue = (i: ScenarioIssue): string =>
  `${i.file}:${i.line}:${i.column}: ${i.path ? `${i.path}: ` : ''}${oneLine(i.problem)} [rule: ${i.rule}]`;

/** Longest key text an error quotes: a mistyped key can be a whole YAML collection. */
const KEY_SHOWN_MAX = 40;

/** A key as a message quotes it: JSON-quoted (newlines escaped), long ones shortened. */
export function quoteKey(key: string): string {
  const shown = key.length > KEY_SHOWN_MAX ? `${key.slice(0, KEY_SHOWN_MAX)}...` : key;
  return JSON.stringify(shown);
}

export class ScenarioError extends RuleError {
  override name = 'ScenarioError';
  constructor(readonly issues: readonly ScenarioIssue[]) {
    const first = issues[0];
    super(first.rule, `${first.file}:${first.line}:${first.column}`, first.problem);
    const shown = issues.slice(0, SCENARIO_ISSUES_SHOWN).map(formatIssue);
    if (issues.length > shown.length) shown.push(`(${issues.length - shown.length} more)`);
    this.message = shown.join('\n');
  }
}

/** `['vms', 1, 'assign', 0, 'backing']` → `vms[1].assign[0].backing` */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (!/^[A-Za-z_][\w-]*$/.test(String(key))) out += `[${quoteKey(String(key))}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}
