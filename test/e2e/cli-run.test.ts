// `irqlab run` through the real binary on the shipped scenarios: exit codes (0 ok, 2 bad usage or
// input), --json parses, the Perfetto trace is trace-event JSON (a `traceEvents` array whose
// events have `ph`, `ts`, `pid`, `tid`), the ftrace text uses the real tracepoint names, and an
// invalid scenario produces one error line per problem with file:line:column and the rule, no
// summary and no trace file; a recorded run replays (--record-schedule, --schedule) to the same
// summary and trace, and a schedule step that is not enabled is refused before any output.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bin, ensureBuilt, SHIPPED } from './cli-run-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'irqlab-run-'));
beforeAll(ensureBuilt, 180_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Trace Event Format: phases irqlab writes. */
const PHASES = new Set(['M', 'X', 'B', 'E', 'i', 's', 'f']);

describe('irqlab run (binary)', () => {
  for (const file of SHIPPED) {
    it(`${file}: exits 0 and prints a summary`, () => {
      const r = bin('run', file);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^interrupts +raised \d+ +delivered \d+/m);
      expect(r.stdout).toMatch(/^latency /m);
      expect(r.stderr).toBe('');
    });
    it(`${file}: --json parses and accounts for every raise`, () => {
      const r = bin('run', file, '--json');
      expect(r.status).toBe(0);
      const j = JSON.parse(r.stdout);
      const i = j.interrupts;
      expect(i.raised).toBeGreaterThan(0);
      expect(i.delivered + i.coalesced + i.lost + i.inFlight).toBe(i.raised);
      expect(j.latencyNs.p50).toBeGreaterThan(0);
      expect(j.failedProperties).toEqual([]);
    });
  }
  it('--trace writes trace-event JSON that Perfetto reads', () => {
    const out = join(dir, 'run.json');
    const r = bin('run', 'scenarios/mixed.yaml', '--trace', out);
    expect(r.status, r.stderr).toBe(0);
    const trace = JSON.parse(readFileSync(out, 'utf8'));
    expect(Array.isArray(trace.traceEvents)).toBe(true);
    expect(trace.traceEvents.length).toBeGreaterThan(100);
    for (const e of trace.traceEvents) {
      expect(PHASES.has(e.ph), JSON.stringify(e)).toBe(true);
      expect(typeof e.ts).toBe('number');
      expect(Number.isInteger(e.pid)).toBe(true);
      expect(Number.isInteger(e.tid)).toBe(true);
    }
    const names = trace.traceEvents.filter((e: { ph: string }) => e.ph === 'M');
    expect(names.some((e: { args: { name: string } }) => e.args.name === 'cpu0')).toBe(true);
    // flows from a device's raise to the guest handler that ran it
    const starts = new Set(
      trace.traceEvents
        .filter((e: { ph: string }) => e.ph === 's')
        .map((e: { id: number }) => e.id),
    );
    const ends = trace.traceEvents.filter((e: { ph: string }) => e.ph === 'f');
    expect(ends.length).toBeGreaterThan(0);
    for (const e of ends) expect(starts.has(e.id)).toBe(true);
  });
  it('--format ftrace writes trace-cmd-style lines with the real tracepoint names', () => {
    const out = join(dir, 'run.txt');
    const r = bin('run', 'scenarios/idxd-siov.yaml', '--trace', out, '--format', 'ftrace');
    expect(r.status, r.stderr).toBe(0);
    const text = readFileSync(out, 'utf8');
    for (const name of [
      'kvm_exit',
      'kvm_entry',
      'irq_handler_entry',
      'irq_handler_exit',
      'kvm_pi_irte_update',
    ]) {
      expect(text).toMatch(new RegExp(` \\[\\d{3}\\] +\\d+\\.\\d{9}: ${name}: `));
    }
    expect(text).toMatch(
      /kvm_exit: vcpu \d+ reason HLT rip 0x0 info1 0x0{16} info2 0x0{16} intr_info 0x0{8} error_code 0x0{8}/,
    );
  });
  it('--seed changes the run, and the same seed repeats it', () => {
    const a = bin('run', 'scenarios/mlx5-vf.yaml', '--json', '--seed', '5').stdout;
    const b = bin('run', 'scenarios/mlx5-vf.yaml', '--json', '--seed', '5').stdout;
    const c = bin('run', 'scenarios/mlx5-vf.yaml', '--json', '--seed', '6').stdout;
    expect(b).toBe(a);
    expect(JSON.parse(c).interrupts).not.toEqual(JSON.parse(a).interrupts);
  });
  it('an invalid scenario exits 2: one line per problem, file:line:column and rule; nothing built', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      'host:\n  cpus: 2\n  iommu: { ir: false, posted: false }\ndevices:\n  - { name: d, kind: idxd, bdf: "01:00.0", ims: 8, subdevices: 1 }\nvms:\n  - name: v\n    vcpus: 1\n    viommu: on\n    assign:\n      - { device: d, subdevice: 0, guest: msix, backing: ims, vectors: 1 }\nrun: { duration: 1ms }\n',
    );
    const trace = join(dir, 'never.json');
    const r = bin('run', bad, '--trace', trace);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(existsSync(trace)).toBe(false);
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toMatch(
      /^irqlab: .*bad\.yaml:11:\d+: vms\[0\]\.assign\[0\]\.backing: "ims" needs interrupt remapping on the host \(iommu\.ir: true\) \[rule: ims-needs-host-ir\]$/,
    );
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });
  it('--record-schedule then --schedule: the same summary and byte-identical traces', () => {
    const schedule = join(dir, 'run.sched.json');
    const [runTrace, replayTrace] = [join(dir, 'run-t.txt'), join(dir, 'replay-t.txt')];
    const f = ['--format', 'ftrace'];
    const run = bin(
      'run',
      'scenarios/mlx5-vf.yaml',
      '--record-schedule',
      schedule,
      '--trace',
      runTrace,
      ...f,
    );
    expect(run.status, run.stderr).toBe(0);
    const replay = bin(
      'run',
      'scenarios/mlx5-vf.yaml',
      '--schedule',
      schedule,
      '--trace',
      replayTrace,
      ...f,
    );
    expect(replay.status, replay.stderr).toBe(0);
    expect(replay.stdout).toBe(run.stdout);
    expect(readFileSync(replayTrace, 'utf8')).toBe(readFileSync(runTrace, 'utf8'));
    expect(JSON.parse(readFileSync(schedule, 'utf8')).steps[0]).toHaveProperty('action');
  });
  it('a schedule step that is not enabled exits 2: one line, no summary, no trace, no record', () => {
    const bad = join(dir, 'bad.sched.yaml');
    // cx0-vf0 has sent nothing: its requester FIFO is empty
    writeFileSync(bad, 'steps:\n  - { action: deliver, a: cx0-vf0 }\n');
    const [trace, record] = [join(dir, 'never.txt'), join(dir, 'never.sched.json')];
    const r = bin(
      'run',
      'scenarios/mlx5-vf.yaml',
      '--schedule',
      bad,
      '--trace',
      trace,
      '--record-schedule',
      record,
    );
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `irqlab: ${bad}:2:5: step 1: deliver cx0-vf0 is not enabled [rule: schedule-step-enabled]\n`,
    );
    expect(existsSync(trace)).toBe(false);
    expect(existsSync(record)).toBe(false);
  });
  it('bad usage exits 2', () => {
    expect(bin('run', 'scenarios/mixed.yaml', '--strategy', 'magic').status).toBe(2);
    expect(bin('run', 'scenarios/mixed.yaml', '--seed', '-1').status).toBe(2);
    expect(bin('run', 'scenarios/mixed.yaml', '--format', 'ftrace').status).toBe(2);
    expect(bin('run', 'no-such-file.yaml').status).toBe(2);
    expect(bin('run').status).toBe(2);
  });
  it('--help shows an example', () => {
    const r = bin('run', '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Examples:');
    expect(r.stdout).toContain('irqlab run scenarios/');
    expect(r.stdout).toContain('--schedule run.sched.json');
    expect(r.stdout).toContain('"action": "raise"');
  });
  it('no progress bar when stderr is not a terminal', () => {
    expect(bin('run', 'scenarios/idxd-siov.yaml').stderr).toBe('');
  });
});
