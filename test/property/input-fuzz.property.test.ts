// Every input a user can get wrong ends in success or a typed, located rejection (issue 13):
//  - the shipped scenario files, mutated structurally and by bytes (`input-fuzz.ts`), through
//    `irqlab run`, `compare` and every `show` view, in process: exit 0, 1 or 2, every line of a
//    rejection `file:line:col: path: message [rule: name]`, no stack trace, no run over 10 s;
//  - the recorded config dumps, mutated byte by byte, through `decode config`;
//  - the decoders' arguments (`decode msi`, `decode irte`): any text, exit 0 or 2.
// Seeded, so the suite is deterministic; IRQLAB_FUZZ_RUNS=<n> (and IRQLAB_FUZZ_SEED=<n>) runs
// longer, with other seeds. A shrunk counterexample becomes a named case in
// `input-regressions.test.ts`.
import { readdirSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FIXTURES, readFixtureBytes } from '../fixtures.js';
import { contractBroken, FILE, mutatedScenario, runCli, SCENARIO_COMMANDS } from './input-fuzz.js';

const RUNS = Number(process.env.IRQLAB_FUZZ_RUNS ?? 0);
const SEED = Number(process.env.IRQLAB_FUZZ_SEED ?? 20261204);
/** The most CPU time a command may take on one file. */
const COMMAND_MS_MAX = 10_000;
const runs = (inSuite: number) => (RUNS > 0 ? RUNS : inSuite);

/** Options a user adds to a scenario command, right or wrong. */
const extraArgs: Record<string, fc.Arbitrary<string[]>> = {
  run: fc.constantFrom(
    [],
    ['--json'],
    ['--strategy', 'pv'],
    ['--max-events', '500'],
    ['--seed', '7'],
  ),
  compare: fc.constantFrom([], ['--json'], ['--strategies', 'emulate,vir-direct']),
  show: fc.constantFrom(
    [],
    ['--json'],
    ['--kernel', 'host'],
    ['--kernel', 'guest'],
    ['--format', 'dot'],
  ),
};

describe('fuzzed inputs end in success or a typed, located rejection', () => {
  it(
    'mutated shipped scenarios through run, compare and every show view',
    async () => {
      const args = fc.tuple(extraArgs.run, extraArgs.compare, extraArgs.show);
      await fc.assert(
        fc.asyncProperty(mutatedScenario, args, async (text, [run, compare, show]) => {
          for (const command of SCENARIO_COMMANDS) {
            const [name, ...rest] = command;
            const extra = name === 'run' ? run : name === 'compare' ? compare : show;
            const o = await runCli([name, FILE, ...rest, ...extra], { [FILE]: text });
            const broken = contractBroken(o, { locatedOnly: true });
            if (broken) throw new Error(`irqlab ${[name, ...rest, ...extra].join(' ')}: ${broken}`);
            if (o.cpuMs > COMMAND_MS_MAX) {
              throw new Error(`irqlab ${name}: ${Math.round(o.cpuMs)} ms of CPU`);
            }
          }
        }),
        { numRuns: runs(400), seed: SEED },
      );
    },
    RUNS > 0 ? 24 * 3600_000 : 120_000,
  );

  const dumps = [
    ...readdirSync(`${FIXTURES}vm-virtio-pci`)
      .filter((f) => f.endsWith('.config.bin'))
      .map((f) => `vm-virtio-pci/${f}`),
    'qemu-q35-ir/lspci-xxxx.txt',
    'qemu-q35-noir/lspci-xxxx.txt',
  ];

  it('mutated config dumps through decode config', async () => {
    const mutation = fc.array(
      fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }), cut: fc.boolean() }),
      { minLength: 1, maxLength: 8 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...dumps),
        mutation,
        fc.boolean(),
        async (dump, edits, json) => {
          let bytes = readFixtureBytes(dump);
          for (const e of edits) {
            const at = e.at % bytes.length;
            if (e.cut) bytes = bytes.slice(0, at);
            else {
              bytes = Uint8Array.from(bytes);
              bytes[at] = e.byte;
            }
            if (bytes.length === 0) break;
          }
          const o = await runCli(['decode', 'config', 'dump', ...(json ? ['--json'] : [])], {
            dump: bytes,
          });
          expect(contractBroken(o, { locatedOnly: false })).toBeUndefined();
        },
      ),
      { numRuns: runs(300), seed: SEED },
    );
  });

  const number = fc.oneof(
    fc.bigInt({ min: 0n, max: 2n ** 130n }).map((n) => `0x${n.toString(16)}`),
    fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
    fc.string({ maxLength: 12 }),
    fc.constantFrom('0x', '', '-0x1', '0xfee00000', '0x1_0', ' 0x10', '1e3', '0b101', 'NaN'),
  );

  it('any text as the arguments of decode msi and decode irte', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('msi', 'irte'),
        number,
        number,
        fc.subarray(['--json', '--eim']),
        async (what, a, b, flags) => {
          const extra = what === 'msi' ? flags.filter((f) => f !== '--eim') : flags;
          const o = await runCli(['decode', what, a, b, ...extra], {});
          expect(contractBroken(o, { locatedOnly: false })).toBeUndefined();
        },
      ),
      { numRuns: runs(500), seed: SEED },
    );
  });
});
