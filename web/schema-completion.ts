// Completion of scenario files from their JSON Schema (`irqlab schema`, scenario/schema.ts):
// at a key, the keys the schema allows in the object the cursor is in; after `key: `, that key's
// enum values (and true/false for a boolean). Where the cursor is in the YAML is found from the
// lines above it, by indentation, as the shipped scenarios are written (block maps and lists,
// flow maps on one line); not a YAML parser: multi-line flow collections and explicit `? ` keys
// are not followed.

import type { Completion, CompletionContext, CompletionResult } from '@codemirror/autocomplete';
import type { EditorState } from '@codemirror/state';

export interface SchemaNode {
  readonly type?: string | readonly string[];
  readonly properties?: Record<string, SchemaNode>;
  readonly items?: SchemaNode;
  readonly anyOf?: readonly SchemaNode[];
  readonly oneOf?: readonly SchemaNode[];
  readonly enum?: readonly unknown[];
  readonly const?: unknown;
  readonly description?: string;
  readonly default?: unknown;
}

/** The schemas a value at `node` may follow (the alternatives of an anyOf/oneOf flattened). */
const alternatives = (node: SchemaNode): SchemaNode[] =>
  node.anyOf || node.oneOf
    ? [...(node.anyOf ?? []), ...(node.oneOf ?? [])].flatMap(alternatives)
    : [node];

function descend(nodes: readonly SchemaNode[], step: string | number): SchemaNode[] {
  return nodes.flatMap(alternatives).flatMap((n) => {
    if (typeof step === 'number') return n.items ? [n.items] : [];
    const p = n.properties?.[step];
    return p ? [p] : [];
  });
}

const KEY = /^([A-Za-z0-9_-]+):(?:\s|$)/;
const indentOf = (t: string) => t.length - t.trimStart().length;

/** Where the cursor is in the YAML's block structure: the keys and list items above it (found
 *  by indentation, as the shipped scenarios are written), and the key whose value the cursor is
 *  in, if it is after `key: `. A flow map (`- { a: 1, b: `, `iommu: { ir: `) on the cursor's
 *  line is the object it belongs to. */
export function yamlPath(
  state: EditorState,
  pos: number,
): { path: (string | number)[]; key: string | null } {
  const line = state.doc.lineAt(pos);
  const before = line.text.slice(0, pos - line.from);
  const tail: (string | number)[] = [];
  let indent = indentOf(before);
  let own = before.trimStart();
  if (own.startsWith('- ')) {
    tail.push(0);
    own = own.slice(2).trimStart();
  }
  const brace = own.lastIndexOf('{');
  let segment = own;
  if (brace >= 0 && own.indexOf('}', brace) < 0) {
    const outer = KEY.exec(own.slice(0, brace));
    if (outer) tail.push(outer[1]);
    segment =
      own
        .slice(brace + 1)
        .split(',')
        .pop()
        ?.trimStart() ?? '';
  }
  const k = /^([A-Za-z0-9_-]+):\s+\S*$/.exec(segment);
  const path: (string | number)[] = [];
  for (let n = line.number - 1; n >= 1 && indent > 0; n--) {
    const t = state.doc.line(n).text;
    const body = t.trimStart();
    if (body === '' || body.startsWith('#')) continue;
    const i = indentOf(t);
    if (body.startsWith('- ')) {
      const content = i + 2;
      if (content > indent || i >= indent) continue;
      // Nested under the item's first key (`- kernel:` then deeper lines), or a sibling key of it.
      const first = KEY.exec(body.slice(2).trimStart());
      if (content < indent && first) path.unshift(first[1]);
      path.unshift(0);
      indent = i;
    } else if (i < indent) {
      const key = KEY.exec(body);
      if (key) path.unshift(key[1]);
      indent = i;
    }
  }
  return { path: [...path, ...tail], key: k ? k[1] : null };
}

const describe = (n: SchemaNode): string | undefined => {
  const alts = alternatives(n);
  const d = alts.find((a) => a.description)?.description;
  const types = alts
    .map((a) => (a.enum ? 'enum' : a.type))
    .filter(Boolean)
    .join(' | ');
  return [types, d].filter(Boolean).join(': ') || undefined;
};

export function schemaCompletion(schema: SchemaNode) {
  return (ctx: CompletionContext): CompletionResult | null => {
    const word = ctx.matchBefore(/[A-Za-z0-9_-]*/);
    if (!word || (word.from === word.to && !ctx.explicit)) return null;
    const { path, key } = yamlPath(ctx.state, word.from);
    let nodes: SchemaNode[] = [schema];
    for (const step of path) nodes = descend(nodes, step);
    const lineStart = ctx.state.doc.lineAt(word.from).from;
    const head = ctx.state.sliceDoc(lineStart, word.from);
    const atValue = key !== null && /:\s*$/.test(head);
    let options: Completion[];
    if (atValue) {
      const values = descend(nodes, key).flatMap(alternatives);
      options = values.flatMap((n) => [
        ...(n.enum ?? []).map((v) => ({ label: String(v), type: 'enum' })),
        ...(n.const !== undefined ? [{ label: String(n.const), type: 'enum' }] : []),
        ...(n.type === 'boolean'
          ? ['true', 'false'].map((label) => ({ label, type: 'keyword' }))
          : []),
      ]);
    } else {
      options = nodes.flatMap(alternatives).flatMap((n) =>
        Object.entries(n.properties ?? {}).map(([label, p]) => ({
          label,
          type: 'property',
          detail: describe(p),
          apply: `${label}: `,
        })),
      );
    }
    const seen = new Set<string>();
    options = options.filter((o) => !seen.has(o.label) && seen.add(o.label));
    return options.length > 0 ? { from: word.from, options, validFor: /^[A-Za-z0-9_-]*$/ } : null;
  };
}
