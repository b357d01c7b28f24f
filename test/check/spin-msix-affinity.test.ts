// The SPIN cross-check (issue 11, item 6a): the explorer on the transcription of
// ../shared/spin/msix_affinity.pml reaches SPIN's own counts and verdicts. Expected values are
// SPIN 6.5.2's output (`gcc -DSAFETY -DNOREDUCE`, `./pan -m1000000`) as recorded in
// ../shared/reference/perf-anchors.md §2.3 and explorer-limit.md §2.1-2.2, not this code's output.
// pan counts init's atomic setup as 4·NV+3 steps where the transcription has one action, so pan's
// depths and trail lengths are the explorer's plus 4·NV+2; a .trail file has one line more than
// the steps `spin -t` replays (perf-anchors §2.3: 13 lines, 12 steps for NV=1,R=1).
// If spin and gcc are installed, a last block runs SPIN itself on small sizes and compares.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { msixAffinityModel } from '../../bench/msix-affinity-model.js';
import { type CheckResult, explore } from '../../src/check/explore.js';

const setupSteps = (nv: number) => 4 * nv + 2;

/** masked, no POR: NV, R, stored, matched, transitions, pan depth (explorer-limit.md §2.1). */
const MASKED: readonly (readonly [number, number, number, number, number, number])[] = [
  [1, 1, 28, 12, 40, 16],
  [1, 2, 75, 54, 129, 18],
  [1, 3, 163, 154, 317, 20],
  [2, 1, 220, 279, 499, 24],
  [2, 2, 982, 1627, 2609, 26],
  [2, 3, 3514, 6703, 10217, 28],
  [3, 1, 1532, 3226, 4758, 32],
  [3, 2, 9545, 24071, 33616, 34],
  [3, 3, 47428, 131487, 178915, 36],
];

/** unmasked, no POR, first error: NV, R, stored, matched, transitions, pan depth, trail lines
 *  (perf-anchors.md §2.3). */
const UNMASKED: readonly (readonly [number, number, number, number, number, number, number])[] = [
  [1, 1, 14, 2, 16, 14, 13],
  [1, 2, 21, 7, 28, 16, 14],
  [1, 3, 30, 15, 45, 18, 15],
  [2, 1, 21, 4, 25, 20, 19],
  [2, 2, 28, 8, 36, 22, 21],
  [2, 3, 35, 12, 47, 24, 23],
  [3, 1, 43, 24, 67, 26, 25],
  [3, 2, 59, 41, 100, 28, 27],
  [3, 3, 75, 58, 133, 30, 29],
];

function counts(r: CheckResult) {
  return [r.states, r.matched, r.transitions, r.maxDepth];
}

describe('msix_affinity.pml transcription: SPIN counts without POR', () => {
  it.each(MASKED)(
    'masked NV=%i R=%i: holds with SPIN stored %i, matched %i, transitions %i, depth %i',
    (nv, r, stored, matched, transitions, panDepth) => {
      const result = explore(msixAffinityModel({ nv, r, masked: true }), { por: false });
      expect(result.verdict).toBe('holds');
      expect(counts(result)).toEqual([stored, matched, transitions, panDepth - setupSteps(nv)]);
    },
  );

  it.each(UNMASKED)(
    'unmasked NV=%i R=%i: right-target (P1) violated at SPIN stored %i, matched %i, transitions %i, depth %i, trail %i',
    (nv, r, stored, matched, transitions, panDepth, trailLines) => {
      const result = explore(msixAffinityModel({ nv, r, masked: false }), { por: false });
      expect(result.verdict).toBe('violated');
      expect(result.violated?.property).toBe('right-target');
      expect(counts(result)).toEqual([stored, matched, transitions, panDepth - setupSteps(nv)]);
      expect(result.counterexample?.length).toBe(trailLines - 1 - setupSteps(nv));
    },
  );

  it('LOSE_PENDING NV=2 R=2: exactly-once (P2) violated at SPIN stored 39, matched 14, transitions 53, trail 26', () => {
    const model = msixAffinityModel({ nv: 2, r: 2, masked: true, losePending: true });
    const result = explore(model, { por: false });
    expect(result.verdict).toBe('violated');
    expect(result.violated?.property).toBe('exactly-once');
    expect(counts(result)).toEqual([39, 14, 53, 26 - setupSteps(2)]);
    expect(result.counterexample?.length).toBe(26 - 1 - setupSteps(2));
  });

  it('a 64-bit fingerprint store gives the same counts (no collision at these sizes)', () => {
    const result = explore(msixAffinityModel({ nv: 3, r: 3, masked: true }), {
      por: false,
      store: 'fingerprint',
    });
    expect(result.store).toBe('fingerprint');
    expect([result.verdict, result.states, result.transitions]).toEqual(['holds', 47428, 178915]);
  });
});

describe('msix_affinity.pml transcription: breadth-first shortest counterexamples', () => {
  it.each([1, 2, 3])(
    'unmasked NV=%i: 4 steps, the address written, a raise sampling (APIC 1, old vector), accepted',
    (nv) => {
      const result = explore(msixAffinityModel({ nv, r: 2, masked: false }), { search: 'bfs' });
      expect(result.violated?.property).toBe('right-target');
      // SPIN -DBFS: 10 / 14 / 18 steps for NV=1/2/3, = 4 + (4·NV+2).
      expect(result.counterexample?.map((s) => s.label)).toEqual([
        'init: atomic setup (run Device, Driver)',
        `Driver(${nv - 1}): write address (NEW_DEST = 1)`,
        `Device(${nv - 1}): raise`,
        `Apic: accept (entry ${nv - 1}, APIC 1, vector ${32 + nv - 1})`,
      ]);
    },
  );

  it('LOSE_PENDING NV=2 R=2: 14 steps (SPIN -DBFS: 24 = 14 + 10), both raises dropped while masked', () => {
    const model = msixAffinityModel({ nv: 2, r: 2, masked: true, losePending: true });
    const result = explore(model, { search: 'bfs' });
    expect(result.violated?.property).toBe('exactly-once');
    const labels = result.counterexample?.map((s) => s.label) ?? [];
    expect(labels.length).toBe(14);
    expect(labels.filter((l) => l.endsWith(': raise'))).toHaveLength(2);
    expect(labels.filter((l) => l.startsWith('Apic'))).toHaveLength(0);
    expect(labels.slice(-2)).toEqual(['init: timeout', 'init: final check (P2)']);
  });
});

describe('partial-order reduction on the transcription', () => {
  const variants = [
    { nv: 2, r: 2, masked: true },
    { nv: 3, r: 2, masked: true },
    { nv: 2, r: 2, masked: false },
    { nv: 2, r: 2, masked: true, losePending: true },
  ];
  it.each(variants)('gives the verdict of the full search, in no more states: %o', (config) => {
    for (const search of ['dfs', 'bfs'] as const) {
      const full = explore(msixAffinityModel(config), { por: false, search });
      const reduced = explore(msixAffinityModel(config), { search });
      expect(reduced.por).toBe(true);
      expect([reduced.verdict, reduced.violated]).toEqual([full.verdict, full.violated]);
      expect(reduced.states).toBeLessThanOrEqual(full.states);
    }
  });
  it('saves states where the last Driver can die before others move (masked NV=3 R=3)', () => {
    const reduced = explore(msixAffinityModel({ nv: 3, r: 3, masked: true }));
    expect(reduced.verdict).toBe('holds');
    expect(reduced.states).toBeLessThan(47428);
  });
});

function installed(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const live = installed('spin') && installed('gcc');

/** SPIN's own counts: stored, matched, transitions, depth, errors. */
function runSpin(defines: string[]): number[] {
  const dir = mkdtempSync(join(tmpdir(), 'irqlab-spin-'));
  try {
    copyFileSync(
      new URL('../../../shared/spin/msix_affinity.pml', import.meta.url),
      join(dir, 'msix_affinity.pml'),
    );
    execFileSync('spin', ['-a', ...defines, 'msix_affinity.pml'], { cwd: dir, stdio: 'ignore' });
    execFileSync('gcc', ['-O0', '-w', '-DSAFETY', '-DNOREDUCE', '-o', 'pan', 'pan.c'], {
      cwd: dir,
    });
    let out: string;
    try {
      out = execFileSync('./pan', ['-m1000000'], { cwd: dir, encoding: 'utf8' });
    } catch (e) {
      out = String((e as { stdout?: string }).stdout ?? '');
    }
    const field = (re: RegExp) => Number(re.exec(out)?.[1]);
    return [
      field(/(\d+) states, stored/),
      field(/(\d+) states, matched/),
      field(/(\d+) transitions/),
      field(/depth reached (\d+)/),
      field(/errors: (\d+)/),
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.skipIf(!live)(
  `live SPIN on small sizes${live ? '' : ' (skipped: spin or gcc is not installed)'}`,
  () => {
    it.each([
      { nv: 2, r: 2, masked: true },
      { nv: 2, r: 1, masked: false },
      { nv: 2, r: 2, masked: true, losePending: true },
    ])('pan -DNOREDUCE and the explorer agree: %o', (config) => {
      const defines = [
        `-DNV=${config.nv}`,
        `-DR=${config.r}`,
        `-DMASKED=${config.masked ? 1 : 0}`,
        `-DLOSE_PENDING=${config.losePending ? 1 : 0}`,
      ];
      const [stored, matched, transitions, depth, errors] = runSpin(defines);
      const r = explore(msixAffinityModel(config), { por: false });
      expect([r.states, r.matched, r.transitions, r.maxDepth + setupSteps(config.nv)]).toEqual([
        stored,
        matched,
        transitions,
        depth,
      ]);
      expect(r.verdict === 'violated' ? 1 : 0).toBe(errors);
    });
  },
);
