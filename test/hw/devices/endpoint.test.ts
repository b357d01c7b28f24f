// Generic endpoint: MSI/MSI-X behaviour reached the way software reaches it (config writes with
// register attributes, BAR accesses to the table and PBA). Expected values: the recorded VM's
// config space (fixtures/vm-virtio-pci/README.md: 00:03.0 has its MSI-X capability at 0x98, 3
// entries, table in BAR0 at 0x8000, PBA in BAR0 at 0x48000, enabled) and the PCIe rules.
import { describe, expect, it } from 'vitest';
import {
  buildEndpoint,
  endpointBarRead,
  endpointBarWrite,
  endpointConfigWrite,
  endpointMsixControl,
  endpointRaise,
  newEndpoint,
} from '../../../src/hw/devices/endpoint.js';
import { InputError } from '../../../src/hw/errors.js';
import { parseBdf } from '../../../src/hw/pci/bdf.js';
import { configSpaceFromBytes } from '../../../src/hw/pci/config-space.js';
import { readFixtureBytes } from '../../fixtures.js';

const VIRTIO_NET = parseBdf('0000:00:03.0');
const recorded = () =>
  newEndpoint(
    VIRTIO_NET,
    configSpaceFromBytes(readFixtureBytes('vm-virtio-pci/0000:00:03.0.config.bin'), '00:03.0'),
  );

const TABLE = 0x8000;
const PBA = 0x48000;
const MSIX_CONTROL = 0x98 + 2;

describe('endpoint from a recorded config space', () => {
  it('finds its MSI-X table and PBA where the capability says (vm-virtio-pci 00:03.0)', () => {
    const dev = recorded();
    expect(dev.requesterId).toBe(0x18);
    expect(dev.msi).toBeUndefined();
    expect(dev.msixLayout).toEqual({
      capOffset: 0x98,
      tableBar: 0,
      tableOffset: TABLE,
      tableBytes: 3 * 16,
      pbaBar: 0,
      pbaOffset: PBA,
      pbaBytes: 8,
    });
    expect(endpointMsixControl(dev)).toEqual({ enable: true, functionMask: false });
  });

  it('a guest programs an entry through the BAR; a raise held while masked goes out on unmask', () => {
    const dev = recorded();
    expect(endpointRaise(dev, { kind: 'msix', entry: 1 }).kind).toBe('set-pending');
    expect(endpointBarRead(dev, 0, PBA)).toEqual({ status: 'ok', value: 0b10, valueHigh: 0 });
    endpointBarWrite(dev, 0, TABLE + 16, 0xfee01004);
    endpointBarWrite(dev, 0, TABLE + 16 + 8, 0x22);
    const unmask = endpointBarWrite(dev, 0, TABLE + 16 + 12, 0);
    expect(unmask.effects).toEqual([
      {
        kind: 'msi-write',
        source: 'msix',
        index: 1,
        tx: { addrLo: 0xfee01004, addrHi: 0, data: 0x22, requesterId: 0x18 },
      },
    ]);
    expect(endpointBarRead(dev, 0, PBA).value).toBe(0);
  });

  it('function mask through a config write holds messages; clearing it sends them', () => {
    const dev = recorded();
    endpointBarWrite(dev, 0, TABLE + 12, 0); // unmask entry 0
    endpointConfigWrite(dev, MSIX_CONTROL, 2, 0xc000); // MSI-X Enable + Function Mask
    expect(endpointRaise(dev, { kind: 'msix', entry: 0 }).kind).toBe('set-pending');
    const clear = endpointConfigWrite(dev, MSIX_CONTROL, 2, 0x8000);
    expect(clear.effects.map((e) => e.kind)).toEqual(['msi-write']);
    // Table Size is read-only: the write of 0 there did not change it.
    expect(clear.write.registers[0].newValue).toBe(0x8002);
  });

  it('raise with MSI-X disabled by software is dropped and counted', () => {
    const dev = recorded();
    endpointConfigWrite(dev, MSIX_CONTROL + 1, 1, 0x00);
    expect(endpointRaise(dev, { kind: 'msix', entry: 2 }).kind).toBe('dropped');
    expect(dev.msix?.counters.dropped).toBe(1);
  });

  it('BAR accesses outside the table and PBA are unclaimed', () => {
    const dev = recorded();
    expect(endpointBarRead(dev, 0, 0x100).status).toBe('unclaimed');
    expect(endpointBarWrite(dev, 1, TABLE, 0).status).toBe('unclaimed');
    expect(endpointBarWrite(dev, 0, PBA, 1).status).toBe('ok'); // a PBA write: ignored
    expect(endpointBarRead(dev, 0, PBA).value).toBe(0);
  });

  it('asking a function for an interrupt kind it does not have is an error', () => {
    expect(() => endpointRaise(recorded(), { kind: 'msi', vector: 0 })).toThrow(InputError);
    expect(() => endpointRaise(recorded(), { kind: 'ims', entry: 0 })).toThrow(InputError);
  });
});

describe('endpoint with MSI and per-vector masking, programmed by config writes', () => {
  const bdf = parseBdf('00:1f.2');
  const build = () =>
    buildEndpoint(bdf, {
      vendorId: 0x8086,
      deviceId: 0x2922,
      classCode: 0x010601,
      capabilities: [{ kind: 'msi', count: 4, is64: true, perVectorMasking: true }],
    });
  // 64-bit + PVM layout (PCIe 7.7.1): control @+2, address @+4, upper @+8, data @+0xc,
  // mask @+0x10, pending @+0x14; the builder puts the capability at 0x40.
  const CAP = 0x40;

  it('unmask of a pending vector by a config write sends it once', () => {
    const dev = build();
    endpointConfigWrite(dev, CAP + 4, 4, 0xfee00218);
    endpointConfigWrite(dev, CAP + 0xc, 2, 0x30);
    endpointConfigWrite(dev, CAP + 0x10, 4, 0b1111);
    endpointConfigWrite(dev, CAP + 2, 2, 0x0021); // MME = 4 vectors, MSI Enable
    expect(endpointRaise(dev, { kind: 'msi', vector: 2 }).kind).toBe('set-pending');
    // Pending Bits is read-only to software: a write of 0 does not clear it.
    endpointConfigWrite(dev, CAP + 0x14, 4, 0);
    expect(endpointRaise(dev, { kind: 'msi', vector: 2 }).kind).toBe('coalesced');
    const unmask = endpointConfigWrite(dev, CAP + 0x10, 4, 0b1011);
    expect(unmask.effects).toEqual([
      {
        kind: 'msi-write',
        source: 'msi',
        index: 2,
        tx: { addrLo: 0xfee00218, addrHi: 0, data: 0x32, requesterId: 0xfa },
      },
    ]);
    expect(dev.msi?.counters).toEqual({ raised: 2, sent: 1, coalesced: 1, dropped: 0 });
  });
});
