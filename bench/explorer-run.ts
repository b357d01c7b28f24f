// One explorer measurement in a fresh process (`bench/explorer.ts` runs it): the transcription of
// msix_affinity.pml at the size given, masked, no POR, after one warm-up search at NV=3,R=3.
// Prints one JSON line: states, transitions, search seconds, the heap (heapUsed + arrayBuffers
// after two gc() calls, taken while the search still holds its arrays) and the search's own
// bytes. A fresh process keeps the heap figure to the search and Node itself
// (reference/explorer-limit.md §3 measured it so).
// usage: node --expose-gc explorer-run.js full|fingerprint NV R
import { explore } from '../src/check/explore.js';
import type { StoreKind } from '../src/check/visited-set.js';
import { msixAffinityModel } from './msix-affinity-model.js';

const store = process.argv[2] as StoreKind;
const nv = Number(process.argv[3]);
const r = Number(process.argv[4]);
const gc = (globalThis as { gc?: () => void }).gc;

explore(msixAffinityModel({ nv: 3, r: 3, masked: true }), { por: false, store });
let heapBytes = 0;
const result = explore(msixAffinityModel({ nv, r, masked: true }), {
  por: false,
  store,
  onProgress(p) {
    if (!p.final) return;
    gc?.();
    gc?.();
    const m = process.memoryUsage();
    heapBytes = m.heapUsed + m.arrayBuffers;
  },
});
const { verdict, states, transitions, seconds, bytes } = result;
process.stdout.write(
  `${JSON.stringify({ verdict, states, transitions, seconds, heapBytes, searchBytes: bytes, gc: gc !== undefined })}\n`,
);
