// Loading a scenario file, the one path every command and view takes: YAML (eemeli/yaml, with a
// LineCounter so every node has a line and a column) parsed once, its aliases resolved within a
// bound, then the zod schema (the kernel blocks `host.kernel` and `vms[].kernel` included), then
// the table of cross-field rules (the kernel blocks' own rules among them). Every problem found
// is mapped back to the YAML node it is about and reported together in one ScenarioError;
// nothing is returned, and so nothing is built, unless the whole file is valid.
// Depth: the YAML library, the schema and the rules all recurse, so a file that nests deeper than
// NESTING_MAX (by indentation or by brackets, a bound on the real depth) is refused before it
// is parsed, at the first place it does.
// Aliases: YAML lets `*a` repeat the node anchored `&a`; nested, a few lines expand to billions
// of nodes (an "alias bomb"), so the expanded size of the document is bounded
// (ALIAS_EXPANSION_MAX) and an alias that resolves to nothing, or to a node holding it, is an
// error at the alias.

import {
  type Alias,
  type Document,
  isAlias,
  isCollection,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  visit,
} from 'yaml';
import type { core } from 'zod';
import { RuleError } from '../hw/errors.js';
import { formatPath, quoteKey, ScenarioError, type ScenarioIssue } from './errors.js';
import { checkRules } from './rules.js';
import { type Scenario, type Strategy, scenarioSchema } from './schema.js';

/** What a command line may override before the rules run (so they judge the real run). */
export interface ScenarioOverrides {
  /** Every VM uses this strategy. */
  readonly strategy?: Strategy;
  readonly seed?: number;
}

/** Nodes a document may hold once its aliases are expanded: far above any real scenario (the
 *  shipped ones hold a few hundred), far below what would exhaust memory or time. */
export const ALIAS_EXPANSION_MAX = 100_000;

/** Levels of nesting a file may reach, counted as columns of indentation plus open flow
 *  brackets (each level takes at least one): a scenario nests about 8. */
export const NESTING_MAX = 256;

/** The offset where the text first nests past NESTING_MAX, or -1. Brackets inside quotes and
 *  comments do not count. */
function nestingTooDeepAt(text: string): number {
  let flow = 0;
  let lineStart = 0;
  let content = -1; // column of the line's first character that is not indentation
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') {
      lineStart = i + 1;
      content = -1;
      if (quote === "'" || quote === '"') continue; // a quoted scalar may span lines
      quote = '';
      continue;
    }
    if (content < 0 && c !== ' ' && c !== '-') content = i - lineStart;
    if (quote === '#') continue;
    if (quote) {
      if (c === quote) quote = '';
      continue;
    }
    if (c === '#' && (i === 0 || /\s/.test(text[i - 1]))) quote = '#';
    else if (c === "'" || c === '"') quote = c;
    else if (c === '[' || c === '{') flow++;
    else if ((c === ']' || c === '}') && flow > 0) flow--;
    if ((content < 0 ? i - lineStart : content) + flow > NESTING_MAX) return i;
  }
  return -1;
}

/** A file that passed YAML and the schema (no rules yet), with the means to locate a path. */
export interface ParsedScenario {
  readonly file: string;
  readonly scenario: Scenario;
  readonly at: Locate;
}

/** YAML and the schema: a ScenarioError listing every problem, or the schema's output. */
export function parseScenario(text: string, file: string): ParsedScenario {
  const { value, at } = parseLocated(text, file);
  const parsed = scenarioSchema.safeParse(value ?? {});
  if (!parsed.success) {
    throw new ScenarioError(parsed.error.issues.map((i) => schemaIssue(i, at)));
  }
  return { file, scenario: parsed.data, at };
}

/** A YAML (or JSON: YAML 1.2 reads it) file's value and where each path of it is written (the
 *  scenario and the schedule files): its nesting bounded, its syntax and its aliases checked,
 *  each problem located. */
export function parseLocated(text: string, file: string): { value: unknown; at: Locate } {
  const deepAt = nestingTooDeepAt(text);
  if (deepAt >= 0) {
    const lines = text.slice(0, deepAt).split('\n');
    const problem = `nests deeper than ${NESTING_MAX} levels (indentation and brackets)`;
    const where = { line: lines.length, column: lines[lines.length - 1].length + 1 };
    throw new ScenarioError([{ file, ...where, path: '', rule: 'yaml-depth', problem }]);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (path: readonly PropertyKey[]) => locate(doc, lineCounter, file, path);
  const issue = (offset: number, rule: string, problem: string): ScenarioIssue => ({
    file,
    ...linePos(lineCounter, offset),
    path: '',
    rule,
    problem,
  });
  if (doc.errors.length > 0) {
    throw new ScenarioError(
      doc.errors.map((e) => issue(e.pos[0], 'yaml-syntax', e.message.split('\n')[0])),
    );
  }
  const aliasIssues = aliasProblems(doc).map((p) => issue(p.offset, 'yaml-alias', p.problem));
  if (aliasIssues.length > 0) throw new ScenarioError(aliasIssues);
  return { value: doc.toJS({ maxAliasCount: -1 }), at };
}

/** The cross-field rules on a parsed file, under `overrides`: every violation, located. */
export function ruleIssues(
  parsed: ParsedScenario,
  overrides: ScenarioOverrides = {},
): { scenario: Scenario; issues: ScenarioIssue[] } {
  const scenario = applyOverrides(parsed.scenario, overrides);
  const issues = checkRules(scenario).map((v) => ({
    ...parsed.at(v.path),
    rule: v.rule,
    problem: overrides.strategy
      ? `${v.problem} (with --strategy ${overrides.strategy})`
      : v.problem,
  }));
  return { scenario, issues };
}

export function loadScenario(
  text: string,
  file: string,
  overrides: ScenarioOverrides = {},
): Scenario {
  return withScenario(text, file, overrides, (s) => s);
}

/** Where a refusal of the model is reported (a RuleError thrown while building or running a
 *  file the rules accepted: a resource that ran out): at the part of the file that sizes it;
 *  any other refusal at the top of the file. */
const REFUSAL_PATHS: Readonly<Record<string, readonly PropertyKey[]>> = {
  'host-resources': ['host', 'cpus'],
  // the kernel views' host kernel, derived from the topology (a VM's stays within its budget)
  'kernel-size': ['host', 'cpus'],
};

/** A refusal that already names its place in another file (a schedule's step) keeps it. */
const locatedElsewhere = (e: RuleError): boolean => /^[^:\s]+:\d+:\d+(:|$)/.test(e.where);

/** Loads the file and hands the scenario to `use` (build, run, render); a refusal of the model
 *  inside `use` comes out located, as the file's own rules do. */
export function withScenario<T>(
  text: string,
  file: string,
  overrides: ScenarioOverrides,
  use: (s: Scenario) => T,
): T {
  const parsed = parseScenario(text, file);
  const { scenario, issues } = ruleIssues(parsed, overrides);
  if (issues.length > 0) throw new ScenarioError(issues);
  try {
    return use(scenario);
  } catch (e) {
    if (!(e instanceof RuleError) || e instanceof ScenarioError || locatedElsewhere(e)) throw e;
    const where = parsed.at(REFUSAL_PATHS[e.rule] ?? []);
    const problem = `${e.where ? `${e.where}: ` : ''}${e.problem}`;
    throw new ScenarioError([{ ...where, rule: e.rule, problem }]);
  }
}

/** Aliases that resolve to nothing or to a node that holds them, and the alias at which the
 *  document's expanded size passes ALIAS_EXPANSION_MAX. */
function aliasProblems(doc: Document): { offset: number; problem: string }[] {
  const problems: { offset: number; problem: string }[] = [];
  const sizes = new Map<Node, number>();
  const open = new Set<Node>();
  // Expanded size of a node, capped just past the bound (so the sums stay small).
  const sizeOf = (node: unknown): number => {
    if (isAlias(node)) {
      const target = node.resolve(doc);
      return target === undefined || open.has(target) ? 1 : sizeOf(target);
    }
    if (!isCollection(node)) return 1;
    const known = sizes.get(node);
    if (known !== undefined) return known;
    open.add(node);
    let size = 1;
    for (const item of node.items) {
      size += isPair(item) ? sizeOf(item.key) + sizeOf(item.value) : sizeOf(item);
      if (size > ALIAS_EXPANSION_MAX) break;
    }
    open.delete(node);
    sizes.set(node, Math.min(size, ALIAS_EXPANSION_MAX + 1));
    return sizes.get(node) as number;
  };
  let total = 0;
  const ancestors: Node[] = [];
  visit(doc, {
    Node(_key, node, path) {
      total += 1;
      if (!isAlias(node)) return;
      const alias = node as Alias;
      const offset = alias.range?.[0] ?? 0;
      const target = alias.resolve(doc);
      ancestors.length = 0;
      for (const p of path) if (isCollection(p)) ancestors.push(p as Node);
      if (target === undefined) {
        problems.push({ offset, problem: `alias *${alias.source} names no anchor before it` });
      } else if (ancestors.includes(target)) {
        problems.push({ offset, problem: `alias *${alias.source} refers to a node that holds it` });
      } else if (total <= ALIAS_EXPANSION_MAX) {
        total += sizeOf(target) - 1;
        if (total > ALIAS_EXPANSION_MAX) {
          problems.push({
            offset,
            problem: `aliases expand the document past ${ALIAS_EXPANSION_MAX} nodes at *${alias.source} (an alias bomb?)`,
          });
        }
      }
    },
  });
  return problems;
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
      ? `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map(quoteKey).join(', ')}`
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
