// The explorer over any `Model` of the contract (`sim/model.ts`): its states become their
// canonical encodings, its actions the indices of `enabled(s)` (in the model's order, so a
// counterexample is a list of indices the simulator replays), its properties are read from a
// state restored from the words. Per state explored this restores the state once per enabled
// action (the first step runs on the state the actions were listed from) and lists the enabled
// actions once; a model with `load` restores without allocating.
// A model whose state is a few packed words can offer a PackedModel directly instead (the fast
// path: no state object at all).
// Invariants: every encoding has the length of the initial state's (asserted); the events the
// model appends while exploring go to one sink, cleared after each step.

import { assert } from '../hw/errors.js';
import type { Model, PackedModel, PackedProperty } from '../sim/model.js';

/** Where the model's steps append their events while exploring, and how to empty it. */
export interface EventSink<Events> {
  readonly events: Events;
  clear(events: Events): void;
}

export function packModel<S, A, Events>(
  name: string,
  model: Model<S, A, Events>,
  sink: EventSink<Events>,
): PackedModel {
  const initial = model.init();
  const k = model.encode(initial).length;
  let scratch = model.clone(initial);
  const restore = (w: Uint32Array, at: number): S => {
    const words = w.subarray(at, at + k);
    if (model.load === undefined) scratch = model.decode(scratch, words);
    else model.load(scratch, words);
    return scratch;
  };
  const properties: PackedProperty[] = model.properties.map((p) => ({
    name: p.name,
    expect: p.expect,
    holds: (w, at) => p.holds(restore(w, at)),
  }));
  const independent = model.independent;
  return {
    name,
    stateWords: k,
    initial(to, at) {
      to.set(model.encode(model.init()), at);
    },
    successors(from, at, out) {
      const restored = restore(from, at);
      const actions = model.enabled(restored);
      for (let i = 0; i < actions.length; i++) {
        // The state listed is still unchanged for the first action: restore only after a step.
        const s = i === 0 ? restored : restore(from, at);
        model.step(s, actions[i], sink.events);
        sink.clear(sink.events);
        const words = model.encode(s);
        assert(words.length === k, `${name}: an encoding of ${words.length} words, not ${k}`);
        const o = out.add(i);
        out.words.set(words, o);
      }
    },
    independent:
      independent === undefined
        ? undefined
        : (from, at, action) => {
            const s = restore(from, at);
            return independent.call(model, s, model.enabled(s)[action]);
          },
    describeAction(from, at, action) {
      const s = restore(from, at);
      return model.describeAction(s, model.enabled(s)[action]);
    },
    properties,
  };
}
