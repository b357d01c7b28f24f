// Inputs a user gets wrong, drawn by fast-check: the shipped scenario files mutated structurally
// (a key deleted, renamed or duplicated, a value replaced by a boundary number, another type, an
// anchor and alias) and byte by byte (YAML's own punctuation inserted, lines dropped, duplicated
// or re-indented), then run IN PROCESS through the command line: the outcome is a success, a
// checked property failing (exit 1), or a rejection (exit 2) whose every line is located
// (`file:line:col: path: message [rule: name]`); never an exception, never exit 3.
import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  type Node,
  parseDocument,
  type Scalar,
  visit,
  type YAMLSeq,
} from 'yaml';
import { memoryIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { SHOW_VIEWS } from '../../src/cli/show.js';

export const FILE = 'fuzz.yaml';

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? yamlFiles(`${dir}/${e.name}`)
      : e.name.endsWith('.yaml')
        ? [`${dir}/${e.name}`]
        : [],
  );
}

/** scenarios/**\/*.yaml, their text. */
export const SHIPPED_SCENARIOS: readonly { path: string; text: string }[] = yamlFiles('scenarios')
  .sort()
  .map((path) => ({ path, text: readFileSync(path, 'utf8') }));

/** Values a hand-edited file ends up with: the edges of the schema's ranges and other types. */
const BOUNDARY_NUMBERS = [
  -1,
  0,
  1,
  2,
  3,
  7,
  8,
  31,
  32,
  33,
  0x1f,
  0x20,
  255,
  256,
  1024,
  1025,
  2047,
  2048,
  2049,
  4096,
  65535,
  65536,
  2 ** 31,
  2 ** 32,
  2 ** 53,
  1e12,
  0.5,
  1.5,
  -0.0,
];
const scalarValue = fc.oneof(
  fc.constantFrom(...BOUNDARY_NUMBERS),
  fc.integer({ min: -5, max: 5000 }),
  fc.constantFrom(true, false, null, '', 'on', 'x', '10ms', '1s', '100s', '1ns', '0ms'),
  fc.constantFrom('1G/s', '1M/s', '100M/s', '1/s', '0/s', '1e9/s', '00:1f.7', '0000:00:20.0'),
  fc.constantFrom('emulate', 'vir', 'vir-direct', 'pv', 'pv-batch', 'ims', 'intx', 'msi', 'msix'),
  fc.string({ maxLength: 6 }),
);
const anyValue = fc.oneof(
  { weight: 4, arbitrary: scalarValue },
  { weight: 1, arbitrary: fc.array(scalarValue, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.constantFrom('a', 'vcpus', 'do', 'at'), scalarValue) },
);

type Edit =
  | { kind: 'set'; at: number; value: unknown }
  | { kind: 'delete'; at: number }
  | { kind: 'rename'; at: number; key: string }
  | { kind: 'duplicate'; at: number; times: number }
  | { kind: 'alias'; at: number; from: number }
  | { kind: 'bomb'; at: number; depth: number; fanOut: number }
  | { kind: 'number'; at: number; value: number }
  | { kind: 'word'; at: number; value: string };

/** Words of the schema's enums: swapping one for another keeps the file valid YAML and often
 *  valid schema, and reaches the rules and the model. */
const WORDS = [
  ['emulate', 'vir', 'vir-direct', 'pv', 'pv-batch'],
  ['msi', 'msix', 'ims', 'intx'],
  ['on', 'off', 'bypass'],
  ['poll', 'halt'],
  ['poisson', 'fixed'],
  [
    'probe',
    'request-irq',
    'free-irq',
    'set-affinity',
    'mask',
    'unmask',
    'migrate-vcpu',
    'hot-unplug',
  ],
  ['idxd', 'mlx5', 'generic', 'virtio-net'],
  [
    'online-cpus',
    'probe',
    'request',
    'free',
    'pci-enable',
    'set-affinity',
    'map-gsi',
    'dmar-fault-irq',
    'setup-ioapic-legacy',
  ],
  ['host-ir', 'host-noir', 'guest-vir', 'guest-emulated-msi', 'guest-hypercall'],
  ['xapic-logical-flat', 'xapic-phys', 'x2apic-phys', 'x2apic-cluster'],
].flat();

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: anyValue }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('rename' as const),
    at: fc.nat(),
    key: fc.constantFrom('kernel', 'assign', 'vms', 'boot', 'vectors', 'cpus', 'x', '<<'),
  }),
  fc.record({
    kind: fc.constant('duplicate' as const),
    at: fc.nat(),
    times: fc.integer({ min: 1, max: 40 }),
  }),
  fc.record({ kind: fc.constant('alias' as const), at: fc.nat(), from: fc.nat() }),
  fc.record({
    kind: fc.constant('number' as const),
    at: fc.nat(),
    value: fc.oneof(fc.constantFrom(...BOUNDARY_NUMBERS), fc.integer({ min: 0, max: 300 })),
  }),
  fc.record({ kind: fc.constant('word' as const), at: fc.nat(), value: fc.constantFrom(...WORDS) }),
  fc.record({
    kind: fc.constant('bomb' as const),
    at: fc.nat(),
    depth: fc.integer({ min: 1, max: 9 }),
    fanOut: fc.integer({ min: 2, max: 9 }),
  }),
);

/** Applies structural edits to the document's nodes (picked by index in document order). */
function applyEdits(text: string, edits: readonly Edit[]): string {
  const doc = parseDocument(text);
  let anchors = 0;
  for (const e of edits) {
    const nodes: { node: Node; parent: unknown; key: unknown }[] = [];
    visit(doc, {
      Node(key, node, path) {
        nodes.push({ node, parent: path[path.length - 1], key });
      },
    });
    if (nodes.length === 0) break;
    const target = nodes[e.at % nodes.length];
    const pair = target.parent as { key?: unknown; value?: unknown } | undefined;
    const isPairValue =
      pair && typeof pair === 'object' && 'value' in pair && pair.value === target.node;
    switch (e.kind) {
      case 'set':
        if (isPairValue) (pair as { value: unknown }).value = doc.createNode(e.value);
        else if (isScalar(target.node) && (e.value === null || typeof e.value !== 'object')) {
          target.node.value = e.value;
        }
        break;
      case 'delete':
        if (isMap(target.node) && target.node.items.length > 0) target.node.items.pop();
        else if (isSeq(target.node) && target.node.items.length > 0) target.node.items.shift();
        break;
      case 'rename':
        if (isMap(target.node) && target.node.items.length > 0) {
          const first = target.node.items[0];
          first.key = doc.createNode(e.key);
        }
        break;
      case 'duplicate':
        if (isSeq(target.node) && target.node.items.length > 0) {
          const item = target.node.items[0];
          for (let i = 0; i < e.times; i++) target.node.items.push((item as Node).clone());
        }
        break;
      case 'alias': {
        // An anchor before its alias, as YAML requires (a later edit may still break that).
        const from = e.from % nodes.length;
        const source = nodes[from].node;
        if (!isPairValue || from >= e.at % nodes.length || isAlias(source)) break;
        const name = `a${anchors++}`;
        source.anchor = name;
        (pair as { value: unknown }).value = doc.createAlias(source as Scalar, name);
        break;
      }
      case 'number':
      case 'word': {
        // Only a scalar of the same type: a number stays a number, a word stays a word.
        const want = e.kind === 'number' ? 'number' : 'string';
        const scalars = nodes.filter(
          (n) =>
            isScalar(n.node) &&
            typeof n.node.value === want &&
            n.node !== (n.parent as { key?: unknown })?.key,
        );
        if (scalars.length === 0) break;
        (scalars[e.at % scalars.length].node as Scalar).value = e.value;
        break;
      }
      case 'bomb': {
        // Each level an anchored list of `fanOut` aliases of the level below: fanOut^depth.
        if (!isPairValue) break;
        const levels: Node[] = [];
        let below = doc.createNode([1, 1]) as YAMLSeq;
        below.anchor = `b${anchors}_0`;
        levels.push(below);
        for (let d = 1; d <= e.depth; d++) {
          const level = doc.createNode([]) as YAMLSeq;
          for (let i = 0; i < e.fanOut; i++) level.items.push(doc.createAlias(below, below.anchor));
          level.anchor = `b${anchors}_${d}`;
          levels.push(level);
          below = level;
        }
        anchors++;
        (pair as { value: unknown }).value = doc.createNode(levels);
        break;
      }
    }
  }
  try {
    return doc.toString();
  } catch {
    return text; // an edit left an alias before its anchor: yaml will not print that
  }
}

const YAML_BITS = [
  ':',
  ': ',
  '-',
  '- ',
  '&a ',
  '*a',
  '[',
  ']',
  '{',
  '}',
  '\t',
  '\n',
  '#',
  "'",
  '"',
  '!',
  '%',
  '? ',
  '|',
  '>',
  ',',
  '0',
  '9',
  'x',
  '---\n',
  '<<: ',
  ' ',
];

type ByteEdit =
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'line'; at: number; op: 'drop' | 'dup' | 'indent' | 'dedent' | 'swap' };

const byteEdit: fc.Arbitrary<ByteEdit> = fc.oneof(
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    text: fc.oneof(fc.constantFrom(...YAML_BITS), fc.string({ maxLength: 3 })),
  }),
  fc.record({
    kind: fc.constant('delete' as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 8 }),
  }),
  fc.record({
    kind: fc.constant('line' as const),
    at: fc.nat(),
    op: fc.constantFrom('drop', 'dup', 'indent', 'dedent', 'swap') as fc.Arbitrary<
      'drop' | 'dup' | 'indent' | 'dedent' | 'swap'
    >,
  }),
);

function applyByteEdits(text: string, edits: readonly ByteEdit[]): string {
  let t = text;
  for (const e of edits) {
    if (e.kind === 'insert') {
      const at = e.at % (t.length + 1);
      t = t.slice(0, at) + e.text + t.slice(at);
    } else if (e.kind === 'delete') {
      const at = e.at % (t.length + 1);
      t = t.slice(0, at) + t.slice(at + e.length);
    } else {
      const lines = t.split('\n');
      const i = e.at % lines.length;
      if (e.op === 'drop') lines.splice(i, 1);
      else if (e.op === 'dup') lines.splice(i, 0, lines[i]);
      else if (e.op === 'indent') lines[i] = `  ${lines[i]}`;
      else if (e.op === 'dedent') lines[i] = lines[i].replace(/^ {1,2}/, '');
      else if (i + 1 < lines.length) [lines[i], lines[i + 1]] = [lines[i + 1], lines[i]];
      t = lines.join('\n');
    }
  }
  return t;
}

/** A shipped scenario, mutated structurally, by bytes, or both. */
export const mutatedScenario: fc.Arbitrary<string> = fc
  .record({
    base: fc.constantFrom(...SHIPPED_SCENARIOS.map((s) => s.text)),
    edits: fc.array(edit, { maxLength: 4 }),
    bytes: fc.array(byteEdit, { maxLength: 3 }),
  })
  .map(({ base, edits, bytes }) => applyByteEdits(applyEdits(base, edits), bytes));

/** Every command that reads a scenario file: run, compare and each show view. */
export const SCENARIO_COMMANDS: readonly (readonly string[])[] = [
  ['run'],
  ['compare'],
  ...Object.keys(SHOW_VIEWS).map((v) => ['show', '--what', v]),
];

const LOCATED = /^irqlab: [^:\n]+:\d+:\d+: .*\[rule: [^\]\n]+\]$/;
const MORE = /^\(\d+ more\)$/;
const OPTION = /^irqlab: --[a-z-]+( [a-z0-9-]+)?: /;

export interface Outcome {
  readonly code: number;
  readonly stderr: string;
  /** CPU time the command took (user + system): wall time on a shared machine is noise. */
  readonly cpuMs: number;
}

/** `irqlab <args>` in process on `files`. */
export async function runCli(
  args: readonly string[],
  files: Record<string, string | Uint8Array>,
): Promise<Outcome> {
  const { io, stderr } = memoryIo(files);
  const start = process.cpuUsage();
  const code = await main([...args], io);
  const used = process.cpuUsage(start);
  return { code, stderr: stderr(), cpuMs: (used.user + used.system) / 1000 };
}

/** Why an outcome breaks the contract, or undefined. A rejection of a scenario file must be
 *  located, line by line; `locatedOnly` is false for the decoders, whose input is an argument. */
export function contractBroken(o: Outcome, opts: { locatedOnly: boolean }): string | undefined {
  if (o.code !== 0 && o.code !== 1 && o.code !== 2) return `exit ${o.code}: ${o.stderr}`;
  if (/\n\s+at /.test(o.stderr)) return `a stack trace: ${o.stderr}`;
  if (o.code !== 2) return undefined;
  const lines = o.stderr.trimEnd().split('\n');
  if (lines.length === 0 || lines[0] === '') return 'exit 2 with nothing on stderr';
  if (!opts.locatedOnly) return undefined;
  const first = lines[0];
  // A command-line option the file cannot serve (--kernel guest without a VM) names the option.
  if (OPTION.test(first) && lines.length === 1) return undefined;
  if (!LOCATED.test(first)) return `not located: ${first}`;
  for (const l of lines.slice(1)) {
    if (!LOCATED.test(`irqlab: ${l}`) && !MORE.test(l) && !LOCATED.test(l))
      return `not located: ${l}`;
  }
  return undefined;
}
