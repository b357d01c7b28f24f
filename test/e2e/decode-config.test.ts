// `irqlab decode config`: in-process through main() and once through the real binary (bin/irqlab.js
// runs dist/, built here if missing or older than the sources). Expected values come from the
// fixtures (vm-virtio-pci/README.md, qemu-q35-*/lspci-vvv.txt) and from cli/io.ts's exit codes.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { setConfig } from '../../src/hw/pci/config-space.js';
import { buildConfigSpace } from '../../src/hw/pci/config-space-builder.js';
import { FIXTURES } from '../fixtures.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const VIRTIO_NET = `${FIXTURES}vm-virtio-pci/0000:00:03.0.config.bin`;
const Q35 = `${FIXTURES}qemu-q35-ir/lspci-xxxx.txt`;

async function run(args: string[], files: Record<string, Uint8Array | string> = {}) {
  const m = memoryIo(files);
  const code = await main(['decode', 'config', ...args], m.io);
  return { code, out: m.stdout(), err: m.stderr() };
}

/** A model mlx5-like PF: MSI-X, PCIe, SR-IOV with 4 VFs enabled. */
function sriovDevice(): Uint8Array {
  const space = buildConfigSpace({
    vendorId: 0x15b3,
    deviceId: 0x1017,
    classCode: 0x020000,
    capabilities: [
      { kind: 'pcie', devicePortType: 'endpoint' },
      {
        kind: 'msix',
        tableSize: 64,
        tableBir: 0,
        tableOffset: 0x2000,
        pbaBir: 0,
        pbaOffset: 0x3000,
      },
      { kind: 'sriov', totalVfs: 8, firstVfOffset: 2, vfStride: 1, vfDeviceId: 0x1018 },
    ],
  });
  setConfig(space, 0x100 + 0x10, 2, 4); // NumVFs
  setConfig(space, 0x100 + 0x08, 2, 0x0009); // VF Enable, VF MSE
  return space.bytes;
}

describe('irqlab decode config (in-process)', () => {
  it('decodes a binary sysfs dump like lspci -vvv', async () => {
    const r = await run([VIRTIO_NET]);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(r.out).toContain(
      '\tCapabilities: [98] MSI-X: Enable+ Count=3 Masked-\n\t\tVector table: BAR=0 offset=00008000\n\t\tPBA: BAR=0 offset=00048000\n',
    );
  });
  it('decodes every function of an lspci -xxxx file, or one with --bdf', async () => {
    const all = await run([Q35]);
    expect(all.code).toBe(0);
    expect(all.out.match(/^[0-9a-f]{2}:[0-9a-f]{2}\.[0-7] /gm)).toHaveLength(8);
    const nvme = await run([Q35, '--bdf', '00:05.0']);
    expect(nvme.code).toBe(0);
    expect(nvme.out.match(/^[0-9a-f]{2}:[0-9a-f]{2}\.[0-7] /gm)).toEqual(['00:05.0 ']);
    expect(nvme.out).toContain('\tCapabilities: [40] MSI-X: Enable+ Count=65 Masked-\n');
    expect(nvme.out).toContain(
      '\tCapabilities: [80] Express (v2) Root Complex Integrated Endpoint, MSI 00\n',
    );
  });
  it('--json uses the spec field names', async () => {
    const r = await run([VIRTIO_NET, '--json']);
    expect(r.code).toBe(0);
    const [fn] = JSON.parse(r.out);
    expect(fn).toMatchObject({ bdf: '0000:00:03.0', vendorId: 0x1af4, deviceId: 0x1041 });
    expect(fn.capabilities.find((c: { kind: string }) => c.kind === 'msix')).toEqual({
      kind: 'msix',
      capabilityId: 0x11,
      offset: 0x98,
      extended: false,
      tableSize: 3,
      functionMask: false,
      msixEnable: true,
      tableBir: 0,
      tableOffset: 0x8000,
      pbaBir: 0,
      pbaOffset: 0x48000,
    });
  });
  it('--json decodes SR-IOV with each VF Routing ID (PF RID + First VF Offset + (n-1) * Stride)', async () => {
    const r = await run(['pf.bin', '--bdf', '3b:00.0', '--json'], { 'pf.bin': sriovDevice() });
    expect(r.code).toBe(0);
    const sriov = JSON.parse(r.out)[0].capabilities.find(
      (c: { kind: string }) => c.kind === 'sriov',
    );
    expect(sriov).toMatchObject({
      totalVfs: 8,
      numVfs: 4,
      firstVfOffset: 2,
      vfStride: 1,
      vfDeviceId: 0x1018,
      sriovControl: { vfEnable: 1, vfMse: 1 },
      vfRoutingIds: ['0000:3b:00.2', '0000:3b:00.3', '0000:3b:00.4', '0000:3b:00.5'],
    });
  });
  it('prints SR-IOV as lspci -vvv does', async () => {
    const r = await run(['pf.bin'], { 'pf.bin': sriovDevice() });
    expect(r.code).toBe(0);
    expect(r.out).toContain(
      [
        '\tCapabilities: [100 v1] Single Root I/O Virtualization (SR-IOV)',
        '\t\tIOVCap:\tMigration- 10BitTagReq- Interrupt Message Number: 000',
        '\t\tIOVCtl:\tEnable+ Migration- Interrupt- MSE+ ARIHierarchy- 10BitTagReq-',
        '\t\tIOVSta:\tMigration-',
        '\t\tInitial VFs: 8, Total VFs: 8, Number of VFs: 4, Function Dependency Link: 00',
        '\t\tVF offset: 2, stride: 1, Device ID: 1018',
        '\t\tSupported Page Size: 00000001, System Page Size: 00000001',
        '\t\tVF Migration: offset: 00000000, BIR: 0',
      ].join('\n'),
    );
  });

  it('prints a looping extended list as lspci does and exits 0 (ls-ecaps.c: "<chain looped>")', async () => {
    const bytes = sriovDevice();
    // The SR-IOV capability at 0x100 now points back to itself: Next Capability Offset 0x100.
    const space = { bytes };
    const header = bytes[0x100] | (bytes[0x101] << 8) | (bytes[0x102] << 16);
    setConfig(space, 0x100, 4, (header | (0x100 * 2 ** 20)) >>> 0);
    const r = await run(['pf.bin'], { 'pf.bin': bytes });
    expect(r.code).toBe(0);
    expect(r.out).toContain('\tCapabilities: [100 v1] <chain looped>\n');
  });

  const loop = () => {
    const bytes = new Uint8Array(256);
    bytes[0x06] = 0x10;
    bytes[0x34] = 0x40;
    Object.assign(bytes, { 64: 0x05, 65: 0x50, 80: 0x11, 81: 0x40 });
    return bytes;
  };
  const badBir = () => {
    const bytes = new Uint8Array(256);
    Object.assign(bytes, { 6: 0x10, 52: 0x40, 64: 0x11, 66: 0x03, 72: 0x07 });
    return bytes;
  };
  it.each([
    [['missing.bin'], {}, /^irqlab: missing\.bin: cannot read file \(ENOENT\)\n$/],
    [['t.bin'], { 't.bin': new Uint8Array(200) }, /t\.bin: binary config dump of 200 bytes/],
    [
      ['odd.txt'],
      { 'odd.txt': '00:02.0 x\n00: 86 80 c0 zz\n' },
      /odd\.txt:2: row 0x00 is not 16 hex bytes/,
    ],
    [
      ['loop.bin'],
      { 'loop.bin': loop() },
      /loop\.bin: capability pointer 0x40 at 0x51: loops back/,
    ],
    [
      ['bir.bin'],
      { 'bir.bin': badBir() },
      /bir\.bin: MSI-X capability at 0x40: PBA BIR 7 is reserved/,
    ],
    [[Q35, '--bdf', '00:09.0'], {}, /no function 00:09\.0 in the dump \(has 00:00\.0, 00:02\.0/],
    [[Q35, '--bdf', 'nonsense'], {}, /"nonsense": not a PCI address/],
  ])('rejects %j with one line on stderr and exit 2', async (args, files, message) => {
    const r = await run(args as string[], files as Record<string, Uint8Array | string>);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(message);
    expect(r.err.trim().split('\n')).toHaveLength(1);
  });
  it('has --help with an example', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('irqlab decode config /sys/bus/pci/devices/0000:00:03.0/config');
  });
});

describe('bin/irqlab.js decode config (built)', () => {
  beforeAll(() => {
    const built = `${ROOT}dist/src/cli/decode-config.js`;
    const sources = [
      'src/cli/decode-config.ts',
      'src/report/lspci.ts',
      'src/hw/pci/capability-list.ts',
    ];
    const fresh =
      existsSync(built) &&
      sources.every((s) => statSync(built).mtimeMs >= statSync(`${ROOT}${s}`).mtimeMs);
    if (!fresh) spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT });
  }, 120_000);
  const bin = (...args: string[]) =>
    spawnSync(process.execPath, ['bin/irqlab.js', 'decode', 'config', ...args], {
      cwd: ROOT,
      encoding: 'utf8',
    });
  it('decodes the virtio-net dump and exits 0', () => {
    const r = bin(VIRTIO_NET);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('\tCapabilities: [98] MSI-X: Enable+ Count=3 Masked-\n');
  });
  it('--json parses', () => {
    const r = bin(Q35, '--bdf', '00:1f.2', '--json');
    expect(r.status).toBe(0);
    const msi = JSON.parse(r.stdout)[0].capabilities.find(
      (c: { kind: string }) => c.kind === 'msi',
    );
    expect(msi).toMatchObject({ msiEnable: true, is64Bit: true, messageAddress: 0xfee00218 });
  });
  it('a missing file exits 2 with one line and no stack trace', () => {
    const r = bin('/nonexistent/config');
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      'irqlab: /nonexistent/config: cannot read file (ENOENT)',
    ]);
  });
});
