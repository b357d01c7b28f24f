// The model contract: the one way irqlab's model advances, shared by the simulator (picks one
// action at a time by simulated time and a seeded PRNG) and the explorer (tries every enabled
// action in every reachable state). See docs/architecture.md for the worked example and the
// measurements behind the choices below.
//
// Invariants every model keeps:
//  - the whole state is one plain-data value `S`; no component keeps state anywhere else, nothing
//    inside the model is async, reads a clock or draws a random number;
//  - `enabled(s)` depends only on `s`, and lists the actions in an order fixed by `s`, so a trace
//    is a list of action indices that both engines replay;
//  - `step` advances `s` IN PLACE and appends the events it produced to a caller-owned sink
//    (measured: copying the state per step costs several times a step on the delivery path;
//    saving a state for the explorer is one typed-array copy, see `clone` / `copyState`);
//  - `encode(s)` is canonical: two states are equal iff their encodings are equal word for word,
//    so hashing and comparison work on the encoding alone. What a scenario fixes (topology) is
//    shared by every state and is not part of the encoding.
// Not here: how actions are timed or priced (the simulator's business), search (the explorer's).

/** Where the explorer checks a property: in every reachable state (`always`), in at least one
 *  (`sometimes`), or in every dead end, a state where no action is enabled (`at-end`: SPIN's
 *  valid-end-state check and what a model asserts once everything has settled). */
export type Expectation = 'always' | 'sometimes' | 'at-end';

export interface Property<S> {
  readonly name: string;
  readonly expect: Expectation;
  holds(s: S): boolean;
}

export interface Model<S, A, Events> {
  /** The initial state (a fresh value each call). */
  init(): S;
  /** Every action enabled in `s`, in an order fixed by `s`. Each action is plain data. */
  enabled(s: S): A[];
  /** Applies `a` to `s` in place and appends what happened to `events`. `a` is not retained. */
  step(s: S, a: A, events: Events): void;
  /** A copy that shares the immutable topology and owns its mutable part. */
  clone(s: S): S;
  /** The canonical encoding of everything that can change (may alias `s`: copy it to keep it). */
  encode(s: S): Uint32Array;
  /** The state whose encoding is `words`, sharing `like`'s topology. */
  decode(like: S, words: Uint32Array): S;
  /** Optional: makes `s` the state whose encoding is `words`, in place (the explorer restores a
   *  state once per transition; `decode` would allocate a state each time). */
  load?(s: S, words: Uint32Array): void;
  /** Optional, for partial-order reduction: true when `a`, enabled in `s`, is independent of
   *  every other action in every state reachable from `s` (it commutes with each, no other action
   *  enables or disables it, it disables none) and invisible (it changes no property's value).
   *  The explorer may then take `a` alone from `s` (check/explore.ts states the conditions).
   *  Absent: no reduction. */
  independent?(s: S, a: A): boolean;
  /** One line naming an action, for traces and counterexamples. */
  describeAction(s: S, a: A): string;
  readonly properties: readonly Property<S>[];
}

// The explorer's fast path (optional, for a model whose state is a few packed words): successors
// are written straight into the explorer's buffers, with no state object, no action object and no
// copy per transition (reference/explorer-limit.md §4 measured what that costs: the hash-table
// probe alone is about half of a transition, so anything allocated per transition shows). An
// action is a number the model gives it (a fixed id, or an index into the state's enabled list
// as `check/model-adapter.ts` does), so a trace is a list of numbers replayed from the initial
// state. A model that has both forms describes the same state graph in both.

/** Where a packed model appends the successors of one state (owned by the explorer). */
export interface SuccessorSink {
  /** Room for one more successor, reached by `action`: returns the offset in `words` where its
   *  `stateWords` words go (`words` may be replaced by the call: read it after). */
  add(action: number): number;
  readonly words: Uint32Array;
}

export interface PackedProperty {
  readonly name: string;
  readonly expect: Expectation;
  holds(w: Uint32Array, at: number): boolean;
}

export interface PackedModel {
  readonly name: string;
  /** Words per state; every state is exactly this long. */
  readonly stateWords: number;
  /** Writes the initial state at `to[at..]`. */
  initial(to: Uint32Array, at: number): void;
  /** Appends every successor of the state at `from[at..]`, in an order fixed by the state
   *  (`from` is never `out.words`). */
  successors(from: Uint32Array, at: number, out: SuccessorSink): void;
  /** As `Model.independent`, for `action` enabled in the state at `from[at..]`. */
  independent?(from: Uint32Array, at: number, action: number): boolean;
  /** One line naming `action` taken from the state at `from[at..]`. */
  describeAction(from: Uint32Array, at: number, action: number): string;
  readonly properties: readonly PackedProperty[];
}
