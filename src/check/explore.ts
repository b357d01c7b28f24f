// The explorer: explicit-state search over every interleaving of a packed model (`sim/model.ts`
// PackedModel; `model-adapter.ts` turns a plain `Model` into one), checking its named properties.
//
// Search. Depth-first in the model's own successor order (for a transcription of a Promela
// model that is pan's order, so the counts equal SPIN's: see docs/checking.md), or breadth-first
// with a parent link per state, which gives a shortest counterexample. States live as packed
// words in preallocated typed arrays: one successor buffer per DFS level, the visited set
// (`visited-set.ts`, full states or 64-bit fingerprints), the BFS queue; nothing is allocated per
// transition.
//
// Counting, as pan counts (reference/explorer-limit.md §2): `states` are the distinct states
// stored, the initial one included; `matched` the successors found already stored;
// `transitions` = states + matched (pan's figure: the edges executed, plus one for the initial
// state). A successor that breaks an `always` property is neither stored nor matched: the search
// stops on it, as pan stops inside the transition whose assertion fails. `maxDepth` is the
// deepest stored state's depth on the DFS stack (BFS: its distance from the initial state).
//
// Properties. `always` is checked on every new state, `sometimes` on every new state until one
// satisfies it, `at-end` on every dead end (a state with no successor). A model that wants SPIN's
// `timeout` makes it an action enabled only when nothing else is, which is a function of the
// state like any other guard.
//
// Partial-order reduction (on unless `por: false`, and only where the model declares actions
// independent): from a state, if some enabled action `a` is declared independent (the model
// promises: `a` commutes with every other action, no other action enables or disables it, it
// disables none, and it changes no property's value), the search takes `a` alone, provided its
// successor is not already stored; otherwise it expands fully. That is an ample set of one action
// meeting the classic conditions for safety properties and dead ends: C0 (non-empty when anything
// is enabled), C1 (independence, promised by the model), C2 (invisibility, promised) and C3 (the
// cycle proviso, met conservatively: a reduced step never leads to a stored state, so every
// cycle has a fully expanded state).
//
// Bounds. `maxStates`, `maxDepth` and `maxBytes` end the search with verdict `incomplete` and
// the bound that stopped it; a search that reaches none of them and finds no violation `holds`.
// With fingerprints a collision could hide a state, so results name the store.

import { InputError } from '../hw/errors.js';
import type { Expectation, PackedModel, PackedProperty, SuccessorSink } from '../sim/model.js';
import { type StoreKind, VisitedSet } from './visited-set.js';

export type SearchOrder = 'dfs' | 'bfs';
export type Bound = 'max-states' | 'max-depth' | 'memory';
export type Verdict = 'holds' | 'violated' | 'incomplete';

export interface Progress {
  readonly states: number;
  readonly transitions: number;
  readonly depth: number;
  readonly bytes: number;
  readonly seconds: number;
  readonly statesPerSecond: number;
  /** The last report: the search has ended (its arrays are still held while this runs). */
  readonly final: boolean;
}

export interface ExploreOptions {
  readonly search?: SearchOrder;
  readonly store?: StoreKind;
  /** Partial-order reduction where the model declares independence (default true). */
  readonly por?: boolean;
  readonly maxStates?: number;
  readonly maxDepth?: number;
  /** Bound on the bytes the search's own arrays may hold (visited set, stacks, queue). */
  readonly maxBytes?: number;
  /** Names of the properties to check (default: all the model's). */
  readonly properties?: readonly string[];
  readonly onProgress?: (p: Progress) => void;
  readonly progressIntervalMs?: number;
}

export interface TraceStep {
  readonly action: number;
  readonly label: string;
}

export interface CheckResult {
  readonly model: string;
  readonly verdict: Verdict;
  /** The property found broken (verdict violated). */
  readonly violated: { readonly property: string; readonly expect: Expectation } | null;
  /** What stopped the search early (verdict incomplete). */
  readonly bound: Bound | null;
  readonly search: SearchOrder;
  readonly store: StoreKind;
  /** Whether a reduction was applied (asked for, and the model declares independence). */
  readonly por: boolean;
  readonly properties: readonly string[];
  readonly stateWords: number;
  readonly states: number;
  readonly matched: number;
  readonly transitions: number;
  readonly maxDepth: number;
  readonly seconds: number;
  /** Bytes of the search's own arrays at the end, and per stored state. */
  readonly bytes: number;
  readonly bytesPerState: number;
  /** The actions from the initial state to the violation (empty: the initial state breaks it;
   *  null: no violation, or a `sometimes` property never satisfied, which has no trace). */
  readonly counterexample: readonly TraceStep[] | null;
}

/** Growable buffer of successors of one state: K words and an action number each. */
class SuccessorBuffer implements SuccessorSink {
  words: Uint32Array;
  actions: Int32Array;
  count = 0;
  constructor(
    private readonly k: number,
    capacity: number,
  ) {
    this.words = new Uint32Array(capacity * k);
    this.actions = new Int32Array(capacity);
  }
  add(action: number): number {
    if (this.count === this.actions.length) this.grow();
    this.actions[this.count] = action;
    return this.count++ * this.k;
  }
  get bytes(): number {
    return this.words.byteLength + this.actions.byteLength;
  }
  private grow(): void {
    const words = new Uint32Array(this.words.length * 2);
    words.set(this.words);
    const actions = new Int32Array(this.actions.length * 2);
    actions.set(this.actions);
    this.words = words;
    this.actions = actions;
  }
}

const INITIAL_SUCCESSORS = 16;

class Stop {
  constructor(
    readonly verdict: Verdict,
    readonly bound: Bound | null,
    readonly property: PackedProperty | null,
    readonly trace: readonly TraceStep[] | null,
  ) {}
  /** The same stop, with the trace of a violation (built only once the search has stopped). */
  traced(trace: () => TraceStep[]): Stop {
    return this.verdict === 'violated' ? new Stop('violated', null, this.property, trace()) : this;
  }
}

class Search {
  readonly k: number;
  readonly visited: VisitedSet;
  readonly always: PackedProperty[];
  readonly sometimes: PackedProperty[];
  readonly atEnd: PackedProperty[];
  readonly por: boolean;
  readonly maxStates: number;
  readonly maxDepth: number;
  readonly maxBytes: number;
  /** A `sometimes` property already satisfied, by index. */
  readonly seen: boolean[];
  matched = 0;
  deepest = 0;
  truncated = false;
  /** 1 when the search stopped on a state the visited set took but that is not counted. */
  rejected = 0;
  private readonly t0 = performance.now();
  private nextProgress: number;

  constructor(
    readonly model: PackedModel,
    readonly options: ExploreOptions,
  ) {
    this.k = model.stateWords;
    this.visited = new VisitedSet(options.store ?? 'full', this.k);
    const wanted = options.properties;
    for (const name of wanted ?? []) {
      if (!model.properties.some((p) => p.name === name)) {
        const known = model.properties.map((p) => p.name).join(', ');
        throw new InputError(model.name, `no property '${name}' (it has: ${known})`);
      }
    }
    const chosen = model.properties.filter((p) => wanted === undefined || wanted.includes(p.name));
    this.always = chosen.filter((p) => p.expect === 'always');
    this.sometimes = chosen.filter((p) => p.expect === 'sometimes');
    this.atEnd = chosen.filter((p) => p.expect === 'at-end');
    this.seen = this.sometimes.map(() => false);
    this.por = options.por !== false && model.independent !== undefined;
    this.maxStates = options.maxStates ?? Number.POSITIVE_INFINITY;
    this.maxDepth = options.maxDepth ?? Number.POSITIVE_INFINITY;
    this.maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
    this.nextProgress = this.t0 + (options.progressIntervalMs ?? 1000);
  }

  get chosen(): string[] {
    return [...this.always, ...this.sometimes, ...this.atEnd].map((p) => p.name);
  }

  get seconds(): number {
    return (performance.now() - this.t0) / 1000;
  }

  /** The first `always` property the state breaks, or null; notes `sometimes` ones it meets. */
  brokenBy(w: Uint32Array, at: number): PackedProperty | null {
    const always = this.always;
    for (let i = 0; i < always.length; i++) if (!always[i].holds(w, at)) return always[i];
    const sometimes = this.sometimes;
    for (let i = 0; i < sometimes.length; i++) {
      if (!this.seen[i] && sometimes[i].holds(w, at)) this.seen[i] = true;
    }
    return null;
  }

  endBrokenBy(w: Uint32Array, at: number): PackedProperty | null {
    for (const p of this.atEnd) if (!p.holds(w, at)) return p;
    return null;
  }

  /** Grows the visited set ahead of an insertion when it must: null, or why the search stops. */
  room(otherBytes: () => number): Stop | null {
    if (!this.visited.full) return null;
    if (this.visited.bytesAfterGrowth + otherBytes() > this.maxBytes) {
      return new Stop('incomplete', 'memory', null, null);
    }
    this.visited.grow();
    return null;
  }

  /** After the visited set took a new state: null if it stays stored, or why the search stops
   *  (it is then not counted as stored: pan stops inside the transition that fails). */
  admit(w: Uint32Array, at: number): Stop | null {
    if (this.visited.size > this.maxStates) {
      this.rejected = 1;
      return new Stop('incomplete', 'max-states', null, null);
    }
    const bad = this.brokenBy(w, at);
    if (bad === null) return null;
    this.rejected = 1;
    return new Stop('violated', null, bad, null);
  }

  /** Successors of the state at `w[at..]` into `out`, reduced to one independent action when
   *  the reduction's conditions allow (see the header). */
  expand(w: Uint32Array, at: number, out: SuccessorBuffer): void {
    out.count = 0;
    this.model.successors(w, at, out);
    if (!this.por || out.count < 2) return;
    const model = this.model;
    for (let i = 0; i < out.count; i++) {
      if (!model.independent!(w, at, out.actions[i])) continue;
      if (this.visited.has(out.words, i * this.k)) return;
      if (i > 0) {
        out.words.copyWithin(0, i * this.k, (i + 1) * this.k);
        out.actions[0] = out.actions[i];
      }
      out.count = 1;
      return;
    }
  }

  /** Reports progress every 4096 stored states, at most once per interval. */
  progress(depth: number, bytes: number): void {
    if (this.options.onProgress === undefined || (this.visited.size & 0xfff) !== 0) return;
    const now = performance.now();
    if (now < this.nextProgress) return;
    this.nextProgress = now + (this.options.progressIntervalMs ?? 1000);
    this.report(now, depth, bytes, false);
  }

  report(now: number, depth: number, bytes: number, final: boolean): void {
    const seconds = (now - this.t0) / 1000;
    const states = this.visited.size - this.rejected;
    const transitions = states + this.matched;
    const statesPerSecond = seconds > 0 ? states / seconds : 0;
    this.options.onProgress?.({
      states,
      transitions,
      depth,
      bytes,
      seconds,
      statesPerSecond,
      final,
    });
  }
}

/** Explores every state reachable from the model's initial state; see the header. */
export function explore(model: PackedModel, options: ExploreOptions = {}): CheckResult {
  const search = new Search(model, options);
  const order = options.search ?? 'dfs';
  const { stop, bytes } = order === 'dfs' ? depthFirst(search) : breadthFirst(search);
  const seconds = search.seconds;
  search.report(performance.now(), search.deepest, bytes, true);
  const states = search.visited.size - search.rejected;
  let verdict = stop?.verdict ?? (search.truncated ? 'incomplete' : 'holds');
  let property = stop?.property ?? null;
  if (verdict === 'holds') {
    const missed = search.sometimes.findIndex((_, i) => !search.seen[i]);
    if (missed >= 0) {
      verdict = 'violated';
      property = search.sometimes[missed];
    }
  }
  return {
    model: model.name,
    verdict,
    violated: property === null ? null : { property: property.name, expect: property.expect },
    bound: stop?.bound ?? (verdict === 'incomplete' ? 'max-depth' : null),
    search: order,
    store: search.visited.kind,
    por: search.por,
    properties: search.chosen,
    stateWords: search.k,
    states,
    matched: search.matched,
    transitions: states + search.matched,
    maxDepth: search.deepest,
    seconds,
    bytes,
    bytesPerState: states === 0 ? 0 : bytes / states,
    counterexample: stop?.trace ?? null,
  };
}

/** Labels of a path: `states(i)` gives the words and offset of the i-th state on it. */
function describePath(
  model: PackedModel,
  actions: readonly number[],
  stateAt: (i: number) => [Uint32Array, number],
): TraceStep[] {
  return actions.map((action, i) => {
    const [w, at] = stateAt(i);
    return { action, label: model.describeAction(w, at, action) };
  });
}

function depthFirst(s: Search): { stop: Stop | null; bytes: number } {
  const k = s.k;
  const root = new Uint32Array(k);
  s.model.initial(root, 0);
  const frames: SuccessorBuffer[] = [];
  let next = new Int32Array(64);
  /** The state at depth d is frames[d - 1]'s successor next[d - 1] - 1 (depth 0: root). */
  const wordsAt = (d: number): Uint32Array => (d === 0 ? root : frames[d - 1].words);
  const offsetAt = (d: number): number => (d === 0 ? 0 : (next[d - 1] - 1) * k);
  const framesBytes = () => frames.reduce((n, f) => n + f.bytes, next.byteLength + root.byteLength);
  const trace = (depth: number, last: number | null): TraceStep[] => {
    const actions: number[] = [];
    for (let d = 0; d < depth; d++) actions.push(frames[d].actions[next[d] - 1]);
    if (last !== null) actions.push(last);
    return describePath(s.model, actions, (i) => [wordsAt(i), offsetAt(i)]);
  };

  const broken = s.brokenBy(root, 0);
  if (broken !== null) return { stop: new Stop('violated', null, broken, []), bytes: 0 };
  s.visited.add(root, 0);
  /** Pushes the state just stored at depth d: expands it; a dead end is checked at once. */
  const push = (d: number, w: Uint32Array, at: number): Stop | null => {
    if (d === frames.length) frames.push(new SuccessorBuffer(k, INITIAL_SUCCESSORS));
    if (d === next.length) {
      const grown = new Int32Array(next.length * 2);
      grown.set(next);
      next = grown;
    }
    if (d > s.deepest) s.deepest = d;
    const out = frames[d];
    s.expand(w, at, out);
    next[d] = 0;
    if (out.count === 0) {
      const end = s.endBrokenBy(w, at);
      if (end !== null) return new Stop('violated', null, end, trace(d, null));
    }
    return null;
  };
  let stop = push(0, root, 0);
  let depth = 0;
  while (stop === null && depth >= 0) {
    const frame = frames[depth];
    const i = next[depth];
    if (i === frame.count) {
      depth--;
      continue;
    }
    next[depth] = i + 1;
    const at = i * k;
    const w = frame.words;
    if (depth + 1 > s.maxDepth) {
      s.truncated = true;
      continue;
    }
    stop = s.room(framesBytes);
    if (stop !== null) break;
    if (!s.visited.add(w, at)) {
      s.matched++;
      continue;
    }
    stop = s.admit(w, at);
    if (stop !== null) {
      stop = stop.traced(() => trace(depth, frame.actions[i]));
      break;
    }
    depth++;
    stop = push(depth, w, at);
    s.progress(depth, s.visited.bytes);
  }
  return { stop, bytes: s.visited.bytes + framesBytes() };
}

function breadthFirst(s: Search): { stop: Stop | null; bytes: number } {
  const k = s.k;
  let queue = new Uint32Array(1024 * k);
  let parent = new Int32Array(1024);
  let via = new Int32Array(1024);
  let count = 0;
  const out = new SuccessorBuffer(k, INITIAL_SUCCESSORS);
  const queueBytes = () => queue.byteLength + parent.byteLength + via.byteLength + out.bytes;
  const trace = (id: number, last: number | null): TraceStep[] => {
    const path: number[] = [];
    for (let x = id; x > 0; x = parent[x]) path.push(x);
    path.reverse();
    const actions = path.map((x) => via[x]);
    if (last !== null) actions.push(last);
    const states = [0, ...path];
    return describePath(s.model, actions, (i) => [queue, states[i] * k]);
  };
  /** Appends the state at w[at..] to the queue: false when memory does not allow it. */
  const enqueue = (w: Uint32Array, at: number, from: number, action: number): boolean => {
    if (count === parent.length) {
      if (s.visited.bytes + 2 * queueBytes() > s.maxBytes) return false;
      const q = new Uint32Array(queue.length * 2);
      q.set(queue);
      queue = q;
      const p = new Int32Array(parent.length * 2);
      p.set(parent);
      parent = p;
      const v = new Int32Array(via.length * 2);
      v.set(via);
      via = v;
    }
    const base = count * k;
    for (let j = 0; j < k; j++) queue[base + j] = w[at + j];
    parent[count] = from;
    via[count] = action;
    count++;
    return true;
  };

  s.model.initial(queue, 0);
  const broken = s.brokenBy(queue, 0);
  if (broken !== null) return { stop: new Stop('violated', null, broken, []), bytes: 0 };
  s.visited.add(queue, 0);
  parent[0] = -1;
  via[0] = -1;
  count = 1;
  let level = 0;
  let levelEnd = 1;
  let stop: Stop | null = null;
  for (let head = 0; stop === null && head < count; head++) {
    if (head === levelEnd) {
      level++;
      levelEnd = count;
    }
    s.expand(queue, head * k, out);
    if (out.count === 0) {
      const end = s.endBrokenBy(queue, head * k);
      if (end !== null) stop = new Stop('violated', null, end, trace(head, null));
      continue;
    }
    if (level + 1 > s.maxDepth) {
      s.truncated = true;
      continue;
    }
    for (let i = 0; i < out.count; i++) {
      const at = i * k;
      stop = s.room(queueBytes);
      if (stop !== null) break;
      if (!s.visited.add(out.words, at)) {
        s.matched++;
        continue;
      }
      stop = s.admit(out.words, at);
      if (stop !== null) {
        stop = stop.traced(() => trace(head, out.actions[i]));
        break;
      }
      if (!enqueue(out.words, at, head, out.actions[i])) {
        s.rejected = 1;
        stop = new Stop('incomplete', 'memory', null, null);
        break;
      }
      if (level + 1 > s.deepest) s.deepest = level + 1;
    }
    s.progress(level, s.visited.bytes + queueBytes());
  }
  return { stop, bytes: s.visited.bytes + queueBytes() };
}
