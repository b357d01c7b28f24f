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

/** A property the explorer checks in every reachable state (`always`) or in some (`sometimes`). */
export interface Property<S> {
  readonly name: string;
  readonly expect: 'always' | 'sometimes';
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
  /** One line naming an action, for traces and counterexamples. */
  describeAction(s: S, a: A): string;
  readonly properties: readonly Property<S>[];
}
