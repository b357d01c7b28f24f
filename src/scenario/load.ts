// Loading a scenario file: YAML (eemeli/yaml, with a LineCounter so every node has a line and a
// column), then the zod schema, then the table of cross-field rules. Every problem found is
// mapped back to the YAML node it is about and reported together in one ScenarioError; nothing
// is returned, and so nothing is built, unless the whole file is valid.

import {
  type Document,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
} from 'yaml';
import type { core } from 'zod';
import { formatPath, ScenarioError, type ScenarioIssue } from './errors.js';
import { checkRules } from './rules.js';
import { type Scenario, type Strategy, scenarioSchema } from './schema.js';

/** What a command line may override before the rules run (so they judge the real run). */
export interface ScenarioOverrides {
  /** Every VM uses this strategy. */
  readonly strategy?: Strategy;
  readonly seed?: number;
}

export function loadScenario(
  text: string,
  file: string,
  overrides: ScenarioOverrides = {},
): Scenario {
  const { value, at } = parseLocated(text, file);
  const parsed = scenarioSchema.safeParse(value ?? {});
  if (!parsed.success) {
    throw new ScenarioError(parsed.error.issues.map((issue) => schemaIssue(issue, at)));
  }
  const scenario = applyOverrides(parsed.data, overrides);
  const violations = checkRules(scenario);
  if (violations.length > 0) {
    throw new ScenarioError(
      violations.map((v) => ({
        ...at(v.path),
        rule: v.rule,
        problem: overrides.strategy
          ? `${v.problem} (with --strategy ${overrides.strategy})`
          : v.problem,
      })),
    );
  }
  return scenario;
}

/** A YAML (or JSON: YAML 1.2 reads it) file's value, and where each path of it is written
 *  (the scenario and the schedule files). A syntax error is reported with its position. */
export function parseLocated(text: string, file: string): { value: unknown; at: Locate } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ScenarioError(
      doc.errors.map((e) => ({
        file,
        ...linePos(lineCounter, e.pos[0]),
        path: '',
        rule: 'yaml-syntax',
        problem: e.message.split('\n')[0],
      })),
    );
  }
  return { value: doc.toJS(), at: (path) => locate(doc, lineCounter, file, path) };
}

function applyOverrides(s: Scenario, o: ScenarioOverrides): Scenario {
  const strategy = o.strategy;
  return {
    ...s,
    vms: strategy ? s.vms.map((vm) => ({ ...vm, strategy })) : s.vms,
    run: {
      ...s.run,
      strategies: strategy ? [strategy] : s.run.strategies,
      seed: o.seed ?? s.run.seed,
    },
  };
}

function linePos(lineCounter: LineCounter, offset: number): { line: number; column: number } {
  const pos = lineCounter.linePos(offset);
  return { line: pos.line, column: pos.col };
}

export type Locate = (path: readonly PropertyKey[]) => Omit<ScenarioIssue, 'rule' | 'problem'>;

export function schemaIssue(issue: core.$ZodIssue, at: Locate): ScenarioIssue {
  // An unknown key is reported on the key itself, not on the map that holds it.
  const path =
    issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]] : [...issue.path];
  const problem =
    issue.code === 'unrecognized_keys'
      ? `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`
      : issue.message;
  return { ...at(path), rule: `schema/${issue.code}`, problem };
}

/** The line and column of the deepest YAML node on `path` (the key itself for a key that is the
 *  last step, the nearest existing parent for a missing one). */
function locate(
  doc: Document,
  lineCounter: LineCounter,
  file: string,
  path: readonly PropertyKey[],
): Omit<ScenarioIssue, 'rule' | 'problem'> {
  let node: unknown = doc.contents;
  let offset = (doc.contents as Node | null)?.range?.[0] ?? 0;
  for (const key of path) {
    const next = child(node, key);
    if (!next) break;
    node = next.value;
    offset = next.offset;
  }
  const pos = lineCounter.linePos(offset);
  return { file, line: pos.line, column: pos.col, path: formatPath(path) };
}

function child(node: unknown, key: PropertyKey): { value: unknown; offset: number } | undefined {
  if (isMap(node)) {
    const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key);
    if (!pair) return undefined;
    const value = pair.value as Node | null;
    // `key:` with an empty value: point at the key.
    const offset = value?.range?.[0] ?? (pair.key as Node).range?.[0] ?? 0;
    return { value, offset };
  }
  if (isSeq(node) && typeof key === 'number') {
    const item = node.items[key] as Node | undefined;
    if (!item?.range) return undefined;
    return { value: item, offset: item.range[0] };
  }
  return undefined;
}
