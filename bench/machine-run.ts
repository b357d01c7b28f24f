// One machine-explorer measurement in a fresh process (`bench/explorer-machine.ts` runs it): the
// searches `irqlab check <scenario>` makes (every strategy the scenario allows, one DFS per
// property, POR off: the machine declares no independence), through the command's own
// `checkScenario`, after one warm-up check of the same file, with the store given.
// Prints one JSON line: the searches' verdicts, stored states, transitions and search seconds
// summed over them, the search arrays' bytes summed over them (`explore.ts` bytes: visited set and
// DFS frames), and the largest heap (heapUsed + arrayBuffers after two gc() calls, taken while a
// search still holds its arrays) with the states of that search.
// usage: node --expose-gc machine-run.js <scenario.yaml> full|fingerprint
import { readFileSync } from 'node:fs';
import type { StoreKind } from '../src/check/visited-set.js';
import { checkScenario } from '../src/scenario/run-check.js';

const file = process.argv[2];
const store = process.argv[3] as StoreKind;
const gc = (globalThis as { gc?: () => void }).gc;
const text = readFileSync(file, 'utf8');

checkScenario(text, file, { store });
let heapBytes = 0;
let heapStates = 0;
const { result } = checkScenario(text, file, {
  store,
  onProgress(p) {
    if (!p.final) return;
    gc?.();
    gc?.();
    const m = process.memoryUsage();
    if (m.heapUsed + m.arrayBuffers > heapBytes) {
      heapBytes = m.heapUsed + m.arrayBuffers;
      heapStates = p.states;
    }
  },
});
const searches = Object.values(result.strategies).flatMap((e) =>
  'properties' in e ? Object.values(e.properties) : [],
);
const sum = (f: (p: (typeof searches)[number]) => number) => searches.reduce((n, p) => n + f(p), 0);
process.stdout.write(
  `${JSON.stringify({
    verdict: result.verdict,
    verdicts: searches.map((p) => p.verdict),
    searches: searches.length,
    states: sum((p) => p.states),
    transitions: sum((p) => p.transitions),
    seconds: sum((p) => p.seconds),
    searchBytes: sum((p) => p.bytesPerState * p.states),
    heapBytes,
    heapStates,
    gc: gc !== undefined,
  })}\n`,
);
