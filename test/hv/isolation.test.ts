// Adversarial guests through the real delivery path. Expected outcomes come from VT-d (9.10
// source-id validation: SVT=01b compares the requester ID; 5.1.4 fault reasons 20h-26h) and from
// the topology the scenario builds (whose IRTE, vCPU and guest vector each vector has), never from
// the analysis' own output.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyzeIsolation, isolationByStrategy } from '../../src/hv/isolation.js';
import type { SystemState } from '../../src/machine/system-state.js';
import { buildScenario } from '../../src/scenario/build.js';
import { loadScenario } from '../../src/scenario/load.js';

const SCENARIOS = fileURLToPath(new URL('../../scenarios/', import.meta.url));
const SOURCE_ID_INVALID = 0x26; // VT-d fault reason 26h
const COMPAT_BLOCKED = 0x25; // VT-d fault reason 25h
const INDEX_OVERFLOW = 0x21; // VT-d fault reason 21h

const built = (file: string) =>
  buildScenario(loadScenario(readFileSync(SCENARIOS + file, 'utf8'), file));
const hostileOf = (b: ReturnType<typeof built>) =>
  b.scenario.vms.flatMap((vm, i) => ((vm as { hostile?: boolean }).hostile ? [i] : []));

/** The victim VM's vectors: name, IRTE, vCPU index and guest vector, from the topology. */
const victimVectors = (s: SystemState, vm: number) =>
  s.topology.vms[vm].vectors.map((v) => s.topology.vectors[v]);

const byLabel = (r: ReturnType<typeof analyzeIsolation>, label: string) =>
  r.findings.filter((f) => f.message?.label === label);

describe('hostile-siov.yaml: two subdevices of one DSA (one requester ID) to two guests', () => {
  const b = built('hostile-siov.yaml');
  const hostile = hostileOf(b);

  it('marks vm-hostile hostile', () => {
    expect(hostile).toEqual([0]);
  });

  for (const strategy of ['vir-direct', 'pv', 'pv-batch'] as const) {
    it(`${strategy}: naming the victim's IRTE forges the victim's interrupt (a finding)`, () => {
      const r = analyzeIsolation(b.initial, { strategy, hostile });
      expect(r.summary.isolated).toBe(false);
      expect(r.reach[0].direct.map((d) => d.kind)).toEqual(['ims']);
      for (const v of victimVectors(b.initial, 1)) {
        const f = byLabel(r, `IRTE ${v.irte} (${v.name}) by handle`);
        expect(f).toHaveLength(1);
        expect(f[0].outcome).toEqual({ kind: 'delivered', to: 'other-vm' });
        expect(f[0].victim).toEqual({
          kind: 'vm',
          vm: 'vm-victim',
          vcpu: v.vcpu,
          vector: v.guestVector,
          impersonates: v.name,
        });
        expect(f[0].breach).toBe(true);
        // The same IRTE through SHV = 1, handle 0, subhandle = index (VT-d 5.1.2.2).
        const shv = byLabel(r, `IRTE ${v.irte} (${v.name}) by handle 0 + subhandle ${v.irte}`);
        expect(shv[0].outcome).toEqual({ kind: 'delivered', to: 'other-vm' });
      }
      expect(r.summary.counts.deliveredOtherVm).toBe(2 * victimVectors(b.initial, 1).length);
    });
  }

  it('the two IMS slices share a 4 KiB page: the victim entries are writable (findings)', () => {
    const r = analyzeIsolation(b.initial, { strategy: 'pv', hostile });
    const victimEntries = victimVectors(b.initial, 1).map((v) => v.entry);
    expect(r.reach[0].direct[0].foreignEntries.map((e) => e.entry)).toEqual(victimEntries);
    expect(r.summary.counts.foreignEntriesWritable).toBe(victimEntries.length);
  });

  it('its own IRTEs reach its own vCPUs; compatibility format is blocked (25h) with IR on', () => {
    const r = analyzeIsolation(b.initial, { strategy: 'pv', hostile });
    for (const v of victimVectors(b.initial, 0)) {
      expect(byLabel(r, `IRTE ${v.irte} (${v.name}, own) by handle`)[0].outcome).toEqual({
        kind: 'delivered',
        to: 'own-vm',
      });
    }
    const compat = r.findings.filter((f) => f.message?.label.startsWith('compatibility'));
    expect(compat.length).toBeGreaterThan(0);
    for (const f of compat) expect(f.outcome).toMatchObject({ reason: COMPAT_BLOCKED });
    const past = byLabel(r, `handle ${b.initial.topology.irtEntries} (first past the table)`);
    expect(past[0].outcome).toMatchObject({ kind: 'faulted', reason: INDEX_OVERFLOW });
  });

  for (const strategy of ['emulate', 'vir'] as const) {
    it(`${strategy}: nothing reaches the device unfiltered, and the report says why`, () => {
      const r = analyzeIsolation(b.initial, { strategy, hostile });
      expect(r.reach[0].direct).toEqual([]);
      expect(r.reach[0].trapped).toMatch(/trap/);
      expect(r.findings).toEqual([]);
      expect(r.summary.isolated).toBe(true);
    });
  }

  it('does not modify the state it analyses', () => {
    const before = b.initial.words.slice();
    isolationByStrategy(b.initial, hostile, ['emulate', 'vir', 'vir-direct', 'pv', 'pv-batch']);
    expect(b.initial.words).toEqual(before);
  });
});

describe('hostile-vf.yaml: two mlx5 VFs (own requester IDs) to two guests', () => {
  const b = built('hostile-vf.yaml');
  const hostile = hostileOf(b);

  // vir-direct needs a vIOMMU with IR, which these mlx5 guests do not have (hostile-vf.yaml).
  for (const strategy of ['pv', 'pv-batch'] as const) {
    it(`${strategy}: the same attack is blocked by source-id validation (26h); isolated`, () => {
      const r = analyzeIsolation(b.initial, { strategy, hostile });
      for (const v of victimVectors(b.initial, 1)) {
        for (const label of [
          `IRTE ${v.irte} (${v.name}) by handle`,
          `IRTE ${v.irte} (${v.name}) by handle 0 + subhandle ${v.irte}`,
        ]) {
          expect(byLabel(r, label)[0].outcome).toEqual({
            kind: 'blocked-source-id',
            reason: SOURCE_ID_INVALID,
            irte: v.irte,
          });
        }
      }
      expect(r.reach[0].direct[0].foreignEntries).toEqual([]);
      expect(r.summary.isolated).toBe(true);
      expect(r.summary.counts.deliveredOtherVm + r.summary.counts.deliveredHost).toBe(0);
      expect(r.summary.faultReasons['0x26']).toBe(2 * victimVectors(b.initial, 1).length);
    });
  }
});

// The rules refuse direct strategies on such a host (same-type-passthrough-needs-hypercall); the
// scenario is built under emulate and the analysis asks what a mapped table would let the hostile
// guest do: why the rule exists.
describe('a host without interrupt remapping: a mapped table would reach any APIC', () => {
  const text = `
host: { cpus: 4, x2apic: true, iommu: { ir: false, posted: false } }
devices:
  - { name: cx0, kind: mlx5, bdf: "0000:3b:00.0", msix: 8, vfs: 2, vfMsix: 4, vfOffset: 2 }
vms:
  - { name: bad, vcpus: 1, hostile: true, assign: [{ device: cx0, vf: 0, guest: msix, backing: msix, vectors: 1 }] }
  - { name: good, vcpus: 1, assign: [{ device: cx0, vf: 1, guest: msix, backing: msix, vectors: 1 }] }
run: { duration: 1ms, strategies: [emulate] }
`;
  const b = buildScenario(loadScenario(text, 'noir.yaml'));
  const victim = victimVectors(b.initial, 1)[0];

  it("a compatibility message to the victim's host CPU and vector runs the victim's handler", () => {
    const r = analyzeIsolation(b.initial, { strategy: 'pv', hostile: [0] });
    const label = `compatibility format to APIC ${victim.hostCpu}, vector 0x${victim.hostVector.toString(16)}`;
    const f = byLabel(r, label);
    expect(f[0].outcome).toEqual({ kind: 'delivered', to: 'other-vm' });
    expect(f[0].victim).toMatchObject({ vm: 'good', vector: victim.guestVector });
    expect(r.summary.isolated).toBe(false);
  });

  it('a vector no one owns lands in the host (a spurious host interrupt): a finding too', () => {
    const r = analyzeIsolation(b.initial, { strategy: 'pv', hostile: [0] });
    expect(r.summary.counts.deliveredHost).toBeGreaterThan(0);
    const host = r.findings.filter((f) => f.victim?.kind === 'host');
    for (const f of host) expect(f.breach).toBe(true);
  });
});
