// The cost model: every parameter is named with a unit and a source; cycle figures become ns at
// cpuMhz (X10's 2,008-cycle exit at 3 GHz is 669 ns); overrides apply; the nested multiplier
// (X3 vs X9) scales exits only.
import { describe, expect, it } from 'vitest';
import { COST_PARAMETERS, costParameters, resolveCosts } from '../../src/sim/cost-model.js';

describe('cost model', () => {
  it('names a unit and a source for every parameter', () => {
    for (const p of COST_PARAMETERS) {
      expect(p.source.length, p.name).toBeGreaterThan(10);
      expect(['cycles', 'ns', 'MHz', 'factor']).toContain(p.unit);
      expect(p.defaultValue).toBeGreaterThan(0);
    }
    expect(new Set(COST_PARAMETERS.map((p) => p.name)).size).toBe(COST_PARAMETERS.length);
  });
  it('covers the costs the issue lists', () => {
    const names = COST_PARAMETERS.map((p) => p.name);
    for (const n of [
      'exitRoundTripCycles',
      'userspaceExitExtraCycles',
      'hypercallCycles',
      'postedDeliveryCycles',
      'ipiCycles',
      'irteUpdateCycles',
      'iecInvalidationCycles',
      'vfioSetIrqsNs',
      'nestedExitMultiplier',
    ]) {
      expect(names).toContain(n);
    }
  });
  it('turns X10 (2,008 cycles) at 3,000 MHz into 669 ns', () => {
    expect(resolveCosts({}, { nested: false }).exitNs).toBe(669);
  });
  it('applies overrides and the clock', () => {
    const c = resolveCosts({ exitRoundTripCycles: 1000, cpuMhz: 2000 }, { nested: false });
    expect(c.exitNs).toBe(500);
    expect(costParameters({ msiWriteNs: 100 }).msiWriteNs).toBe(100);
  });
  it('multiplies exit costs, and only those, when nested', () => {
    const flat = resolveCosts({}, { nested: false });
    const nested = resolveCosts({ nestedExitMultiplier: 10 }, { nested: true });
    expect(nested.exitNs).toBe(flat.exitNs * 10);
    expect(nested.hypercallNs).toBe(flat.hypercallNs * 10);
    expect(nested.msiWriteNs).toBe(flat.msiWriteNs);
    expect(nested.guestHandlerNs).toBe(flat.guestHandlerNs);
  });
});
