// `npm run bench [-- --json]`: how fast the model delivers interrupts, measured three ways in the
// same process run (compare only ratios measured together; see perf-anchors.md on noise):
//  1. delivery: a one-device, one-VM system built by the real scenario builder, driven through the
//     model contract (`systemStep`, in place): raise -> requester FIFO -> VT-d remap through the
//     IEC -> posted descriptor (PIR, ON, notification) -> posted-interrupt processing into the
//     vCPU's virtual IRR -> the guest takes the vector (vIRR -> vISR) and EOIs it. Against a hand-written minimal loop doing
//     the same decode / IRTE lookup / PIR set / IRR move on bare typed arrays.
//  2. simulator: the whole engine (event queue, PRNG, cost model, event follow-ups) on the same
//     system with one fast source: simulated deliveries per wall-clock second.
//  3. contract: one delivery's steps applied in place vs on a fresh copy of the state each step,
//     and the cost of saving a state (what docs/architecture.md quotes).
//  4. explorer: the engine (src/check) on the transcription of ../shared/spin/msix_affinity.pml
//     at NV=4,R=3 (masked, no POR), and, when spin and gcc are installed, SPIN's pan on the
//     same model and size, run alternately with the explorer (explorer.ts); and the machine
//     explorer, `irqlab check` on two shipped check scenarios, in the same repetitions, as ratios
//     to both (explorer-machine.ts).
// Warm-up first, then several repetitions; the median is reported.

import { systemStep, vectorOutcomes } from '../src/machine/system.js';
import { ACTION, type SystemAction } from '../src/machine/system-actions.js';
import { clearEvents, createEventLog } from '../src/machine/system-events.js';
import { cloneSystemState, type SystemState } from '../src/machine/system-state.js';
import { buildScenario, runWorkload } from '../src/scenario/build.js';
import { loadScenario } from '../src/scenario/load.js';
import { resolveCosts } from '../src/sim/cost-model.js';
import { simulateSystem } from '../src/sim/system-sim.js';
import { benchExplorer, type ExplorerBench } from './explorer.js';

const REPS = 7;
const DELIVERIES_PER_REP = 1_000_000;
const MINIMAL_PER_REP = 20_000_000;
const SIM_DURATION_NS = 200_000_000;
/** Only what is >= the fastest host found (perf-anchors R4: about 3.7M interrupts/s) passes. */
const TARGET_DELIVERIES_PER_SECOND = 4_000_000;
const TARGET_RATIO = 45;

const BENCH_SCENARIO = `
host: { cpus: 2, x2apic: true, iommu: { ir: true, posted: true } }
devices:
  - { name: nic0, kind: generic, bdf: "0000:01:00.0", msix: 1 }
vms:
  - name: vm0
    vcpus: 1
    assign: [{ device: nic0, guest: msix, backing: msix, vectors: 1 }]
workload:
  sources: [{ vm: vm0, assign: 0, rate: 1M/s, distribution: fixed }]
run: { duration: 1ms }
`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function timeIt(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return (performance.now() - t0) / 1000;
}

function built() {
  const scenario = loadScenario(BENCH_SCENARIO, 'bench');
  return { scenario, b: buildScenario(scenario) };
}

/** The six actions of one delivery for the one vector of the bench system. */
function deliveryActions(s: SystemState): SystemAction[] {
  const t = s.topology;
  const v = t.vectors[0];
  const vcpu = 0;
  return [
    { kind: ACTION.raise, a: v.store, b: v.entry },
    { kind: ACTION.deliver, a: t.stores[v.store].port, b: 0 },
    { kind: ACTION.apicDeliver, a: 0, b: 0 },
    { kind: ACTION.pcpuInterrupt, a: t.initialPcpu[vcpu], b: 0 },
    { kind: ACTION.guestHandle, a: vcpu, b: 0 },
    { kind: ACTION.guestEoi, a: vcpu, b: 0 },
  ];
}

function benchModel(n: number): number {
  const { b } = built();
  const s = cloneSystemState(b.initial);
  const log = createEventLog();
  const [raise, deliver, arrive, notify, handle, eoi] = deliveryActions(s);
  const seconds = timeIt(() => {
    for (let i = 0; i < n; i++) {
      clearEvents(log);
      systemStep(s, raise, log);
      systemStep(s, deliver, log);
      systemStep(s, arrive, log);
      systemStep(s, notify, log);
      systemStep(s, handle, log);
      systemStep(s, eoi, log);
    }
  });
  const o = vectorOutcomes(s, 0);
  if (o.delivered !== o.raised || o.raised < n) {
    throw new Error(`bench: model delivered ${o.delivered} of ${o.raised} raised`);
  }
  return n / seconds;
}

/** The same work on bare arrays: read the entry, decode the handle, look the IRTE up, check it,
 *  set the PIR bit and ON, move PIR into the IRR, take the highest IRR vector into ISR, EOI it. */
function benchMinimal(n: number): number {
  const table = new Uint32Array(4); // one MSI-X entry: address, upper, data, control
  const irt = new Uint32Array(16 * 4);
  const pid = new Uint32Array(16);
  const irr = new Uint32Array(8);
  const isr = new Uint32Array(8);
  const handle = 3;
  table[0] = 0xfee00000 | ((handle & 0x7fff) << 5) | (1 << 4) | (1 << 3);
  const vector = 0x22;
  irt[handle * 4] = 1 | (1 << 15) | (vector << 16); // present, posted, VV
  let delivered = 0;
  const seconds = timeIt(() => {
    for (let i = 0; i < n; i++) {
      if (table[3] & 1) continue; // masked
      const addr = table[0];
      const h = ((addr >>> 5) & 0x7fff) | (((addr >>> 2) & 1) << 15);
      const e = h * 4;
      const lo = irt[e];
      if ((lo & 1) === 0 || ((lo >>> 15) & 1) === 0) continue;
      const vv = (lo >>> 16) & 0xff;
      pid[vv >>> 5] |= 1 << (vv & 31);
      const on = pid[8] & 1;
      pid[8] |= 1;
      if (on === 0) {
        for (let w = 0; w < 8; w++) {
          irr[w] |= pid[w];
          pid[w] = 0;
        }
        pid[8] &= ~1;
      }
      for (let w = 7; w >= 0; w--) {
        if (irr[w] !== 0) {
          const bit = 31 - Math.clz32(irr[w]);
          irr[w] &= ~(1 << bit);
          isr[w] |= 1 << bit;
          delivered++;
          break;
        }
      }
      for (let w = 7; w >= 0; w--) {
        if (isr[w] !== 0) {
          isr[w] &= ~(1 << (31 - Math.clz32(isr[w])));
          break;
        }
      }
    }
  });
  if (delivered !== n) throw new Error(`bench: minimal loop delivered ${delivered} of ${n}`);
  return n / seconds;
}

function benchSimulator(): { deliveriesPerSecond: number; simulatedNs: number; delivered: number } {
  const { scenario, b } = built();
  const input = runWorkload(b);
  const costs = resolveCosts(scenario.run.costs, { nested: false });
  let delivered = 0;
  const seconds = timeIt(() => {
    const r = simulateSystem(input, { durationNs: SIM_DURATION_NS, seed: 1, costs, trace: null });
    delivered = r.interrupts.delivered;
  });
  return { deliveriesPerSecond: delivered / seconds, simulatedNs: SIM_DURATION_NS, delivered };
}

/** ns per delivery (6 steps) in place, and with a copy of the state before every step. */
function benchContract(n: number) {
  const { b } = built();
  const log = createEventLog();
  const actions = deliveryActions(b.initial);
  let s = cloneSystemState(b.initial);
  const inPlace = timeIt(() => {
    for (let i = 0; i < n; i++) {
      clearEvents(log);
      for (const a of actions) systemStep(s, a, log);
    }
  });
  s = cloneSystemState(b.initial);
  const copying = timeIt(() => {
    for (let i = 0; i < n; i++) {
      clearEvents(log);
      for (const a of actions) {
        s = cloneSystemState(s);
        systemStep(s, a, log);
      }
    }
  });
  const saves = 10 * n;
  const saveSeconds = timeIt(() => {
    for (let i = 0; i < saves; i++) s = cloneSystemState(s);
  });
  const restore = cloneSystemState(s);
  const restoreSeconds = timeIt(() => {
    for (let i = 0; i < saves; i++) restore.words.set(s.words);
  });
  return {
    stateWords: s.words.length,
    deliveryInPlaceNs: (inPlace / n) * 1e9,
    deliveryCopyingNs: (copying / n) * 1e9,
    saveStateNs: (saveSeconds / saves) * 1e9,
    restoreStateNs: (restoreSeconds / saves) * 1e9,
  };
}

function main(): void {
  const json = process.argv.includes('--json');
  // First, while the heap holds little else: its bytes per state count the whole heap.
  const explorer = benchExplorer();
  // Warm-up: let the JIT settle on every path measured.
  benchModel(DELIVERIES_PER_REP / 4);
  benchMinimal(MINIMAL_PER_REP / 4);
  benchContract(DELIVERIES_PER_REP / 20);
  const model: number[] = [];
  const minimal: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < REPS; r++) {
    const m = benchModel(DELIVERIES_PER_REP);
    const b = benchMinimal(MINIMAL_PER_REP);
    model.push(m);
    minimal.push(b);
    ratios.push(b / m);
  }
  const sim = benchSimulator();
  const contract = benchContract(DELIVERIES_PER_REP / 4);
  const result = {
    delivery: {
      deliveriesPerSecond: Math.round(median(model)),
      minimalLoopPerSecond: Math.round(median(minimal)),
      ratio: Math.round(median(ratios) * 10) / 10,
      reps: REPS,
      targetDeliveriesPerSecond: TARGET_DELIVERIES_PER_SECOND,
      targetRatio: TARGET_RATIO,
    },
    simulator: {
      deliveriesPerSecond: Math.round(sim.deliveriesPerSecond),
      delivered: sim.delivered,
      simulatedNs: sim.simulatedNs,
    },
    contract: {
      stateWords: contract.stateWords,
      deliveryInPlaceNs: Math.round(contract.deliveryInPlaceNs),
      deliveryCopyingEachStepNs: Math.round(contract.deliveryCopyingNs),
      saveStateNs: Math.round(contract.saveStateNs),
      restoreStateNs: Math.round(contract.restoreStateNs),
    },
    explorer: explorer.json,
    node: process.version,
  };
  if (json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const d = result.delivery;
  const fmt = (n: number) => n.toLocaleString('en-US');
  const lines = [
    'irqlab bench (median of ' + REPS + ' reps, same process)',
    `delivery path  raise -> remap -> post -> vIRR: ${fmt(d.deliveriesPerSecond)} deliveries/s ` +
      `(target >= ${fmt(TARGET_DELIVERIES_PER_SECOND)}: ${d.deliveriesPerSecond >= TARGET_DELIVERIES_PER_SECOND ? 'met' : 'NOT met'})`,
    `minimal loop   same decode/lookup/set-bit on bare arrays: ${fmt(d.minimalLoopPerSecond)} /s`,
    `ratio          ${d.ratio}x the minimal loop (target <= ${TARGET_RATIO}x: ${d.ratio <= TARGET_RATIO ? 'met' : 'NOT met'}; aim 10x)`,
    `simulator      whole engine, one 1M/s source: ${fmt(result.simulator.deliveriesPerSecond)} simulated deliveries per wall second`,
    ...explorerLines(explorer),
    `contract       one delivery (6 steps) in place ${result.contract.deliveryInPlaceNs} ns, copying the state (${result.contract.stateWords} words) before each step ${result.contract.deliveryCopyingEachStepNs} ns; save ${result.contract.saveStateNs} ns, restore ${result.contract.restoreStateNs} ns`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

function explorerLines(e: ExplorerBench): string[] {
  const x = e.json;
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  const spin =
    x.spinStatesPerSecond === null
      ? `SPIN           not run: ${e.spinMissing}`
      : `SPIN           pan -DNOREDUCE, same size, same run: ${fmt(x.spinStatesPerSecond)} states/s; ` +
        `explorer/SPIN ${x.ratioToSpin}x (target >= 1: ${(x.ratioToSpin ?? 0) >= 1 ? 'met' : 'NOT met'})`;
  return [
    `explorer       ${e.label}: ${fmt(x.states)} states, ${fmt(x.transitions)} transitions, ` +
      `${fmt(x.statesPerSecond)} states/s, ${x.bytesPerState} bytes/state ` +
      `(target <= 32: ${x.bytesPerState <= 32 ? 'met' : 'NOT met'}; search arrays ${x.searchBytesPerState} B)`,
    `               with 64-bit fingerprints: ${fmt(x.fingerprint.statesPerSecond)} states/s, ${x.fingerprint.bytesPerState} bytes/state`,
    spin,
    ...machineLines(x.machine),
  ];
}

function machineLines(m: ExplorerBench['json']['machine']): string[] {
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  const spin =
    m.ratioToSpin === null
      ? 'SPIN not run'
      : `${m.ratioToSpin}x SPIN's states/s (target >= 0.5: ${m.ratioToSpin >= 0.5 ? 'met' : 'NOT met'})`;
  return [
    `machine        irqlab check ${m.scenarios.join(', ')} (${m.searches} searches, ${fmt(m.states)} states, DFS, no POR): ` +
      `${fmt(m.statesPerSecond)} states/s, ${m.bytesPerState} bytes/state in the search arrays (heap ${m.heapBytesPerState})`,
    `               with 64-bit fingerprints: ${fmt(m.fingerprint.statesPerSecond)} states/s, ${m.fingerprint.bytesPerState} bytes/state ` +
      `(target <= 64: ${m.fingerprint.bytesPerState <= 64 ? 'met' : 'NOT met'})`,
    `               ${m.ratioToTranscription}x the transcription's states/s, ${spin}`,
  ];
}

main();
