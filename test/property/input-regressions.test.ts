// Inputs the fuzz test (`input-fuzz.property.test.ts`) once found breaking the contract, shrunk
// and kept by name: each must end in success or a located rejection, one line per problem.
import { describe, expect, it } from 'vitest';
import { contractBroken, FILE, runCli, SCENARIO_COMMANDS } from './input-fuzz.js';

async function expectContract(text: string) {
  for (const [name, ...rest] of SCENARIO_COMMANDS) {
    const o = await runCli([name, FILE, ...rest], { [FILE]: text });
    expect(contractBroken(o, { locatedOnly: true }), `${name} ${rest.join(' ')}`).toBeUndefined();
    expect(o.code).toBe(2);
  }
}

describe('fuzz regressions', () => {
  it('a YAML collection as a map key (spanning lines) is quoted on one line', async () => {
    // seed 777: a boot step whose second key is a list of aliases; as a JS key it is YAML text
    // of several lines
    const text = [
      'host: { cpus: 1 }',
      'vms:',
      '  - name: vm',
      '    vcpus: 1',
      '    kernel:',
      '      { version: "6.1", platform: guest-vir, cpus: 1, apic: x2apic-phys,',
      '        boot: [ { do: probe, [ &b0 [ 1, 1 ], &b1 [ *b0, *b0 ], &b2 [ *b1, *b1 ],',
      '                               &b3 [ *b2, *b2 ], &b4 [ *b3, *b3 ] ] } ] }',
      'run: { duration: 1ms }',
      '',
    ].join('\n');
    await expectContract(text);
    const o = await runCli(['run', FILE], { [FILE]: text });
    expect(o.stderr).toMatch(/^irqlab: fuzz\.yaml:7:\d+: vms\[0\]\.kernel\.boot\[0\]/);
  });
  it.each([
    ['block', Array.from({ length: 3000 }, (_, i) => `${' '.repeat(i)}- `).join('\n')],
    ['flow', `${'['.repeat(3000)}${']'.repeat(3000)}`],
    ['map', `${'{a: '.repeat(1000)}1${'}'.repeat(1000)}`],
  ])(
    'nesting 3000 levels deep (%s) is refused before the YAML library recurses',
    async (_, nest) => {
      // yaml's composer recurses: 3000 block levels overflowed the stack (a RangeError, exit 3)
      const text = `host: { cpus: 1 }\ndescription:\n${nest}\nrun: { duration: 1ms }\n`;
      await expectContract(text);
      const o = await runCli(['run', FILE], { [FILE]: text });
      expect(o.stderr).toMatch(/nests deeper than 256 levels .* \[rule: yaml-depth\]\n$/);
    },
  );
});
