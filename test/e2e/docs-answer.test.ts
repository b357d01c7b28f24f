// docs/answer.md's side-by-side table has one row per proved property and check scenario:
// `| <property>, proved (`<scenario>`: <bounds>) | vir | vir-direct | pv |`. Each row must be what
// the explorer says now (the scenario's searches rerun, that property only, under the three
// strategies), and its bounds what the scenario's `check:` section allows (read from the file).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  MACHINE_PROPERTY_NAMES,
  type MachinePropertyName,
} from '../../src/check/machine-properties.js';
import { parseScenario } from '../../src/scenario/load.js';
import { checkScenario } from '../../src/scenario/run-check.js';

const doc = readFileSync(new URL('../../docs/answer.md', import.meta.url), 'utf8');
const ROW =
  /^\| ([a-z-]+), proved \(`([a-z-]+)`: ([^)]*)\) \| ([a-z]+) \| ([a-z]+) \| ([a-z]+) \|$/gm;
const rows = [...doc.matchAll(ROW)].map((m) => ({
  property: m[1] as MachinePropertyName,
  scenario: m[2],
  bounds: m[3],
  verdicts: [m[4], m[5], m[6]],
}));
const STRATEGIES = ['vir', 'vir-direct', 'pv'] as const;
const scenarioText = (name: string) =>
  readFileSync(new URL(`../../scenarios/check/${name}.yaml`, import.meta.url), 'utf8');

/** Who runs each workload operation (run-check.ts offers an operation only with its actor). */
const ACTOR: Record<string, string> = {
  mask: 'driver',
  unmask: 'driver',
  'set-affinity': 'driver',
  'hot-unplug': 'driver',
  'migrate-vcpu': 'migration',
};

/** The bounds as the rows write them, from the file: raises, each operation the workload has
 *  and its actor runs (times), the hostile writes, IEC evictions. */
function boundsOf(name: string): string {
  const s = parseScenario(scenarioText(name), `${name}.yaml`).scenario;
  const c = s.check;
  if (c === undefined) throw new Error(`${name}: no check section`);
  const raises =
    typeof c.raises === 'number' ? `${c.raises} raises` : `${c.raises.perVector} raises per vector`;
  const ops = (s.workload.actions ?? [])
    .map((a) => a.do as string)
    .filter((op) => ACTOR[op] !== undefined && c.actors.includes(ACTOR[op] as never))
    .map((op) => `${op} ×${c.operations[op as keyof typeof c.operations]}`);
  const hostile = c.actors.includes('hostile')
    ? [
        `${c.hostile.writes} hostile write${c.hostile.writes === 1 ? '' : 's'} of ${c.hostile.messages} messages`,
      ]
    : [];
  const iec = c.actors.includes('iec-eviction') ? ['IEC evictions'] : [];
  return [raises, ...ops, ...hostile, ...iec].join(', ');
}

describe("docs/answer.md: the proved properties' rows", () => {
  it('has a row for every property the check scenarios prove', () => {
    expect(new Set(rows.map((r) => r.property))).toEqual(new Set(MACHINE_PROPERTY_NAMES));
  });
  it.each(rows)('$property on $scenario', ({ property, scenario, bounds, verdicts }) => {
    expect(bounds).toBe(boundsOf(scenario));
    const { result } = checkScenario(scenarioText(scenario), `${scenario}.yaml`, {
      strategies: [...STRATEGIES],
      property,
    });
    const found = STRATEGIES.map((st) => {
      const e = result.strategies[st];
      return 'properties' in e ? e.properties[property].verdict : `(${e.error.rule})`;
    });
    expect(found).toEqual(verdicts);
  });
});
