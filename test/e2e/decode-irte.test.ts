// `irqlab decode irte <hi> <lo>` in-process through main(). hi = bits 127:64, lo = bits 63:0:
// QEMU's `vtd_ir_irte_get index I low A high B` prints A = 127:64 first (QEMU-Q35.md "How to
// read"), so the fixture's IRTEs are passed as `low high`. Expected values: QEMU-Q35.md facts 1
// and 4, and the VT-d 9.10/9.11 bit positions.
import { describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';

async function run(...args: string[]) {
  const m = memoryIo();
  const code = await main(args, m.io);
  return { code, out: m.stdout(), err: m.stderr() };
}

describe('irqlab decode irte', () => {
  it('decodes IRTE 32 of the IR fixture (fact 1)', async () => {
    const r = await run('decode', 'irte', '0x40028', '0x1000025000d');
    expect(r.code).toBe(0);
    expect(r.out.split('\n')[0]).toBe(
      'remapped IRTE, present: vector 0x25 fixed edge -> xAPIC destination 0x01 logical, RH; ' +
        'source-id 00:05.0 (SVT 1, SQ 0: all 16 bits)',
    );
  });
  it('prints JSON with the spec field names (IOAPIC COM1 entry, fact 4)', async () => {
    const r = await run('decode', 'irte', '0x4ff00', '0x4000022000d', '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({
      format: 'remapped',
      present: 1,
      destinationMode: 1,
      redirectionHint: 1,
      triggerMode: 0,
      deliveryMode: 0,
      vector: 0x22,
      destinationId: 0x400,
      destination: 4,
      sourceId: 0xff00,
      sourceIdQualifier: 0,
      sourceValidationType: 1,
      reservedBitsSet: [],
    });
    expect(Object.keys(j).some((k) => k.startsWith('reserved') && k !== 'reservedBitsSet')).toBe(
      false,
    );
  });
  it('reads DST whole with --eim', async () => {
    const j = JSON.parse(
      (await run('decode', 'irte', '0', '0x1234000000300001', '--eim', '--json')).out,
    );
    expect([j.destination, j.vector, j.reservedBitsSet]).toEqual([0x12340000, 0x30, []]);
    const x = JSON.parse((await run('decode', 'irte', '0', '0x1234000000300001', '--json')).out);
    expect(x.reservedBitsSet).toEqual(['destinationId.reservedHigh']);
  });
  it('decodes a posted entry: IM 1, URG, VV, descriptor address from PDA-H:PDA-L', async () => {
    // dword 0 = 0x0040c001: P, URG (14), IM (15), VV 0x40; PDA-L (63:38) = 1 -> address 0x40;
    // PDA-H (127:96) = 0x1 -> descriptor at 0x1_0000_0040.
    const r = await run('decode', 'irte', '0x100000000', '0x000000400040c001', '--json');
    expect(JSON.parse(r.out)).toMatchObject({
      format: 'posted',
      urgent: 1,
      virtualVector: 0x40,
      pdaLow: 1,
      pdaHigh: 1,
      postedDescriptorAddress: '0x0000000100000040',
    });
    const text = (await run('decode', 'irte', '0x100000000', '0x000000400040c001')).out;
    expect(text.split('\n')[0]).toContain('posted IRTE, present: virtual vector 0x40 urgent');
  });
  it('lists reserved bits that are set (hardware faults them with 24h)', async () => {
    const r = await run('decode', 'irte', '0x1000000000000', '0x1000001');
    expect(r.code).toBe(0);
    expect(r.out).toContain('reserved bits set: reserved1, reserved3');
  });
  it.each([
    [['0x40028'], /missing required argument/],
    [['zz', '0'], /IRTE bits 127:64: "zz" is not a hexadecimal number/],
    [['0', '0x10000000000000000'], /IRTE bits 63:0: .* does not fit in 64 bits/],
  ])('rejects %j with exit 2', async (args, message) => {
    const r = await run('decode', 'irte', ...args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
  });
  it('has --help with an example', async () => {
    const r = await run('decode', 'irte', '--help');
    expect(r.code).toBe(0);
    expect(r.out).toContain('irqlab decode irte 0x40028 0x1000025000d');
  });
});
