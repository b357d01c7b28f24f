// `irqlab decode msi`: in-process through main() and once through the real binary (bin/irqlab.js
// runs dist/, built by `npm run build`; built here if missing or older than the sources).
// Expected values: QEMU-Q35.md facts 1 and 3 (the fixture messages), exit codes from cli/io.ts.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

async function run(...args: string[]) {
  const m = memoryIo();
  const code = await main(args, m.io);
  return { code, out: m.stdout(), err: m.stderr() };
}

describe('irqlab decode msi (in-process)', () => {
  it('decodes the remappable nvme0q0 entry: handle 32 (SHV, subhandle 0) -> IRTE 32', async () => {
    const r = await run('decode', 'msi', '0xfee00418', '0x0');
    expect(r.code).toBe(0);
    expect(r.out.split('\n')[0]).toBe('remappable: handle 32 (SHV, subhandle 0) -> IRTE 32');
    expect(r.out).toMatch(/handleLow\s+0x0020/);
    expect(r.err).toBe('');
  });
  it('decodes a compatibility message: vector 0x22 fixed edge -> destination 0x01 logical', async () => {
    const r = await run('decode', 'msi', 'fee01004', '22');
    expect(r.code).toBe(0);
    expect(r.out.split('\n')[0]).toBe(
      'compatibility: vector 0x22 fixed edge -> destination 0x01 logical',
    );
  });
  it('prints JSON with the spec field names', async () => {
    const r = await run('decode', 'msi', '0xfee00418', '0x0', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({
      format: 'remappable',
      handle: 32,
      shv: 1,
      subhandle: 0,
      interruptIndex: 32,
    });
    const c = JSON.parse((await run('decode', 'msi', '0xfee08004', '0x25', '--json')).out);
    expect(c).toMatchObject({
      format: 'compatibility',
      destinationId: 8,
      destinationMode: 1,
      redirectionHint: 0,
      vector: 0x25,
      deliveryMode: 0,
      triggerMode: 0,
    });
  });
  it.each([
    [['0xfed00000', '0'], /outside 0xFEE00000-0xFEEFFFFF/],
    [['0x1fee00000', '0'], /upper address/],
    [['0xfee0g000', '0'], /not a hexadecimal number/],
    [['0xfee00000', '0x100000000'], /data: .* does not fit in 32 bits/],
    [['0x10000000000000000', '0'], /address: .* does not fit in 64 bits/],
  ])('rejects %j with one line on stderr and exit 2', async (args, message) => {
    const r = await run('decode', 'msi', ...args);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(message);
    expect(r.err.trim().split('\n')).toHaveLength(1);
  });
  it('exits 2 on a missing argument', async () => {
    expect((await run('decode', 'msi', '0xfee00000')).code).toBe(2);
  });
  it('has --help with an example', async () => {
    const r = await run('decode', 'msi', '--help');
    expect(r.code).toBe(0);
    expect(r.out).toContain('irqlab decode msi 0xfee00418 0x0');
  });
});

describe('bin/irqlab.js (built)', () => {
  beforeAll(() => {
    const built = `${ROOT}dist/src/cli/decode-msi.js`;
    const fresh =
      existsSync(built) &&
      statSync(built).mtimeMs >= statSync(`${ROOT}src/cli/decode-msi.ts`).mtimeMs &&
      statSync(built).mtimeMs >= statSync(`${ROOT}src/hw/x86/msi-message.ts`).mtimeMs;
    if (!fresh) spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT });
  }, 120_000);
  const bin = (...args: string[]) =>
    spawnSync(process.execPath, ['bin/irqlab.js', ...args], { cwd: ROOT, encoding: 'utf8' });
  it('decode msi 0xfee00418 0x0 exits 0', () => {
    const r = bin('decode', 'msi', '0xfee00418', '0x0');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('remappable: handle 32 (SHV, subhandle 0) -> IRTE 32');
  });
  it('--json parses', () => {
    const r = bin('decode', 'msi', '0xfee00418', '0x0', '--json');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).interruptIndex).toBe(32);
  });
  it('bad input exits 2 with one line and no stack trace', () => {
    const r = bin('decode', 'msi', 'xyz', '0');
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      'irqlab: address: "xyz" is not a hexadecimal number',
    ]);
  });
  it('decode irte through the binary, --json parses', () => {
    const r = bin('decode', 'irte', '0x40028', '0x1000025000d', '--json');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      format: 'remapped',
      vector: 0x25,
      destination: 1,
    });
  });
});
