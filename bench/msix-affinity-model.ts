// A transcription of ../shared/spin/msix_affinity.pml (SPIN 6.5.2) into the explorer's packed
// model contract (`sim/model.ts` PackedModel), for the SPIN cross-check (test/check) and the
// explorer benchmark (bench/main.ts). It is not irqlab's model of the system: it is the Promela
// model, statement for statement, so that the explorer's counts can be held to SPIN's.
//
// Every d_step of the Promela model is one action; pan's counting conventions
// (reference/explorer-limit.md §2) are followed exactly:
//  1. the initial state (only Apic and init exist, budget = R, init before its atomic) is stored;
//  2. init's atomic setup is one action (pan runs it as 4·NV+3 steps and stores only the landing
//     state, so pan's depths and trail lengths are this model's plus 4·NV+2);
//  3. transitions = stored + matched (the explorer counts that way);
//  4. a process dies in its own action, and only the highest pid can die: Driver(NV-1) (pid
//     2·NV+1) gets a `dies` action to a state of its own; the other Drivers stay at their end;
//     init (pid 1) never dies; because the dying step is executable, `timeout` waits for it;
//  5. `timeout` is enabled only when no other action is; it moves init to its final d_step,
//     which is one more action (the P2 assertion);
//  6. the channel is canonical: accepting shifts the messages down and zeroes the freed slot;
//     Apic's locals are zero between actions and are not stored;
//  7. no statement merging outside init's atomic;
//  8. successors are listed in pan's order: processes from the highest pid down (Driver(NV-1),
//     Device(NV-1), ..., Driver(0), Device(0), init, Apic), each process's options in source
//     order, then the `timeout` pass.
// The state: init's pc, budget, the fabric's length and R slots (entry, address bit, data bit),
// per entry the Driver's pc, the table entry's mask/pending/address/data bits (address: 0 =
// OLD_DEST, 1 = NEW_DEST; data: 0 = OLD_VEC(v), 1 = NEW_VEC(v)) and the raised / coalesced /
// delivered counters; plus one ghost bit, set by the accept that fails P1 (SPIN's assertion in
// Apic's d_step: the explorer checks properties on states, and stops on the state it marks).
// What is constant is not stored: init's `i` (0 before the setup, NV after, reset by the final
// d_step which then leaves it at NV), the Device/Driver parameter (fixed by pid). Before the
// setup, tbl[v].data is 0 rather than OLD_VEC(v): that state is the only one with init's pc 0,
// so the encoding stays canonical.

import { packFields } from '../src/check/word-layout.js';
import { type FieldPos, getField, setField } from '../src/hw/field-pos.js';
import type { PackedModel, PackedProperty, SuccessorSink } from '../src/sim/model.js';

export interface MsixAffinityConfig {
  /** MSI-X table entries (one Device and one Driver process each). */
  readonly nv: number;
  /** Raises in total (the device's budget, the fabric's capacity). */
  readonly r: number;
  /** MASKED=1: the driver masks the entry around its two writes. */
  readonly masked: boolean;
  /** LOSE_PENDING=1: a raise on a masked entry is dropped (the P2 mutant). */
  readonly losePending?: boolean;
}

/** init's program counter: before the atomic setup, at `timeout`, at the final d_step, ended. */
const INIT = { setup: 0, timeout: 1, final: 2, end: 3 } as const;

/** The Driver's statements, each a write to one field of its entry. */
const WRITE = { mask: 0, addr: 1, data: 2, unmask: 3 } as const;
const WRITE_LABEL = [
  () => 'mask',
  () => 'write address (NEW_DEST = 1)',
  (v: number) => `write data (NEW_VEC(${v}) = ${64 + v})`,
  () => 'unmask',
];
const DRIVER_MASKED = [WRITE.mask, WRITE.addr, WRITE.data, WRITE.unmask];
const DRIVER_UNMASKED = [WRITE.addr, WRITE.data];

/** Action numbers: fixed per model, so a counterexample is a list of them. */
const ACT = { setup: 0, timeout: 1, final: 2, accept: 3, dies: 4, perEntry: 5 } as const;

export function msixAffinityModel(config: MsixAffinityConfig): PackedModel {
  const { nv, r, masked } = config;
  const lose = config.losePending === true;
  const driverSteps = masked ? DRIVER_MASKED : DRIVER_UNMASKED;
  const driverEnd = driverSteps.length;
  const driverDied = driverEnd + 1;
  const ranges: Record<string, number> = { initPc: INIT.end, budget: r, fabricLen: r };
  for (let v = 0; v < nv; v++) {
    ranges[`driverPc${v}`] = v === nv - 1 ? driverDied : driverEnd;
    for (const f of ['mask', 'pending', 'addr', 'data']) ranges[`${f}${v}`] = 1;
    for (const f of ['raised', 'coalesced', 'delivered']) ranges[`${f}${v}`] = r;
  }
  for (let m = 0; m < r; m++) {
    ranges[`msgEntry${m}`] = nv - 1;
    ranges[`msgAddr${m}`] = 1;
    ranges[`msgData${m}`] = 1;
  }
  ranges.p1Broken = 1;
  const layout = packFields(ranges);
  const f = layout.fields;
  const k = layout.words;
  const perEntry = (name: string) => Array.from({ length: nv }, (_, v) => f[`${name}${v}`]);
  const perSlot = (name: string) => Array.from({ length: r }, (_, m) => f[`${name}${m}`]);
  const initPc = f.initPc;
  const budget = f.budget;
  const fabricLen = f.fabricLen;
  const p1Broken = f.p1Broken;
  const driverPc = perEntry('driverPc');
  const mask = perEntry('mask');
  const pending = perEntry('pending');
  const addr = perEntry('addr');
  const data = perEntry('data');
  const raised = perEntry('raised');
  const coalesced = perEntry('coalesced');
  const delivered = perEntry('delivered');
  const msgEntry = perSlot('msgEntry');
  const msgAddr = perSlot('msgAddr');
  const msgData = perSlot('msgData');
  const driverPcOf = (w: Uint32Array, at: number, v: number) => getField(w, at, driverPc[v]);
  const actDriver = (v: number) => ACT.perEntry + v;
  const actRaise = (v: number) => ACT.perEntry + nv + v;
  const actSendPending = (v: number) => ACT.perEntry + 2 * nv + v;

  /** A copy of the state at from[at..] as the successor by `action`: its offset in out.words. */
  const copy = (from: Uint32Array, at: number, out: SuccessorSink, action: number): number => {
    const o = out.add(action);
    const w = out.words;
    for (let j = 0; j < k; j++) w[o + j] = from[at + j];
    return o;
  };
  const bump = (w: Uint32Array, o: number, p: FieldPos) => setField(w, o, p, getField(w, o, p) + 1);
  /** fabric ! v, tbl[v].addr, tbl[v].data */
  const send = (w: Uint32Array, o: number, v: number) => {
    const len = getField(w, o, fabricLen);
    setField(w, o, msgEntry[len], v);
    setField(w, o, msgAddr[len], getField(w, o, addr[v]));
    setField(w, o, msgData[len], getField(w, o, data[v]));
    setField(w, o, fabricLen, len + 1);
  };
  /** Driver(v)'s next statement (a write to tbl[v]) or, for the last pid at its end, dying. */
  const driverStep = (from: Uint32Array, at: number, out: SuccessorSink, v: number): number => {
    const pc = getField(from, at, driverPc[v]);
    if (pc === driverEnd && v === nv - 1) {
      setField(out.words, copy(from, at, out, ACT.dies), driverPc[v], driverDied);
      return 1;
    }
    if (pc >= driverEnd) return 0;
    const o = copy(from, at, out, actDriver(v));
    const w = out.words;
    const step = driverSteps[pc];
    if (step === WRITE.mask) setField(w, o, mask[v], 1);
    else if (step === WRITE.unmask) setField(w, o, mask[v], 0);
    else setField(w, o, step === WRITE.addr ? addr[v] : data[v], 1);
    setField(w, o, driverPc[v], pc + 1);
    return 1;
  };
  /** Device(v)'s two d_steps: raise (budget > 0) and send the pending message (unmasked). */
  const deviceSteps = (from: Uint32Array, at: number, out: SuccessorSink, v: number): number => {
    let n = 0;
    const isMasked = getField(from, at, mask[v]) === 1;
    const isPending = getField(from, at, pending[v]) === 1;
    const left = getField(from, at, budget);
    if (left > 0) {
      const o = copy(from, at, out, actRaise(v));
      const w = out.words;
      setField(w, o, budget, left - 1);
      bump(w, o, raised[v]);
      if (isMasked && isPending) bump(w, o, coalesced[v]);
      else if (isMasked) {
        if (!lose) setField(w, o, pending[v], 1);
      } else send(w, o, v);
      n++;
    }
    if (!isMasked && isPending) {
      const o = copy(from, at, out, actSendPending(v));
      const w = out.words;
      setField(w, o, pending[v], 0);
      send(w, o, v);
      n++;
    }
    return n;
  };
  /** Apic: fabric ? v, a, d; assert(the old pair or the new pair); delivered[v]++. */
  const accept = (from: Uint32Array, at: number, out: SuccessorSink): void => {
    const o = copy(from, at, out, ACT.accept);
    const w = out.words;
    const len = getField(w, o, fabricLen);
    const v = getField(w, o, msgEntry[0]);
    if (getField(w, o, msgAddr[0]) !== getField(w, o, msgData[0])) setField(w, o, p1Broken, 1);
    bump(w, o, delivered[v]);
    for (let m = 1; m < len; m++) {
      setField(w, o, msgEntry[m - 1], getField(w, o, msgEntry[m]));
      setField(w, o, msgAddr[m - 1], getField(w, o, msgAddr[m]));
      setField(w, o, msgData[m - 1], getField(w, o, msgData[m]));
    }
    setField(w, o, msgEntry[len - 1], 0);
    setField(w, o, msgAddr[len - 1], 0);
    setField(w, o, msgData[len - 1], 0);
    setField(w, o, fabricLen, len - 1);
  };

  const properties: PackedProperty[] = [
    {
      name: 'right-target',
      expect: 'always',
      holds: (w, at) => getField(w, at, p1Broken) === 0,
    },
    {
      name: 'exactly-once',
      expect: 'always',
      holds(w, at) {
        if (getField(w, at, initPc) !== INIT.end) return true;
        for (let v = 0; v < nv; v++) {
          const accounted = getField(w, at, delivered[v]) + getField(w, at, coalesced[v]);
          if (accounted !== getField(w, at, raised[v]) || getField(w, at, pending[v]) === 1) {
            return false;
          }
        }
        return true;
      },
    },
    {
      name: 'valid-end',
      expect: 'at-end',
      holds: (w, at) => getField(w, at, initPc) === INIT.end,
    },
  ];

  return {
    name: `msix_affinity.pml NV=${nv} R=${r} MASKED=${masked ? 1 : 0}${lose ? ' LOSE_PENDING=1' : ''}`,
    stateWords: k,
    initial(to, at) {
      for (let j = 0; j < k; j++) to[at + j] = 0;
      setField(to, at, budget, r);
    },
    successors(from, at, out) {
      const pc = getField(from, at, initPc);
      if (pc === INIT.setup) {
        setField(out.words, copy(from, at, out, ACT.setup), initPc, INIT.timeout);
        return;
      }
      let n = 0;
      for (let v = nv - 1; v >= 0; v--) {
        n += driverStep(from, at, out, v);
        n += deviceSteps(from, at, out, v);
      }
      if (pc === INIT.final) {
        setField(out.words, copy(from, at, out, ACT.final), initPc, INIT.end);
        n++;
      }
      if (getField(from, at, fabricLen) > 0) {
        accept(from, at, out);
        n++;
      }
      if (n === 0 && pc === INIT.timeout) {
        setField(out.words, copy(from, at, out, ACT.timeout), initPc, INIT.final);
      }
    },
    // Driver(NV-1)'s death touches only its own pc, which no other action and no property reads,
    // and nothing but itself enables it: it commutes with everything (it only ever precedes
    // `timeout`, which it enables and is never enabled beside it).
    independent: (_from, _at, action) => action === ACT.dies,
    describeAction(from, at, action) {
      if (action === ACT.setup) return 'init: atomic setup (run Device, Driver)';
      if (action === ACT.timeout) return 'init: timeout';
      if (action === ACT.final) return 'init: final check (P2)';
      if (action === ACT.dies) return `Driver(${nv - 1}): dies`;
      if (action === ACT.accept) {
        const v = getField(from, at, msgEntry[0]);
        const a = getField(from, at, msgAddr[0]);
        const d = getField(from, at, msgData[0]) === 0 ? 32 + v : 64 + v;
        return `Apic: accept (entry ${v}, APIC ${a}, vector ${d})`;
      }
      const v = (action - ACT.perEntry) % nv;
      const which = Math.floor((action - ACT.perEntry) / nv);
      if (which === 0)
        return `Driver(${v}): ${WRITE_LABEL[driverSteps[driverPcOf(from, at, v)]](v)}`;
      if (which === 1) return `Device(${v}): raise`;
      return `Device(${v}): send pending`;
    },
    properties,
  };
}
