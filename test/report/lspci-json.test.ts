// `decode config --json` for the capabilities decoded for lspci's blocks: the same bits, under the
// spec's register and field names (PCIe 6.0, 7.7.11 ACS and 7.5.3.9-11 Slot registers).
import { describe, expect, it } from 'vitest';
import { emptyConfigSpace, setConfig } from '../../src/hw/pci/config-space.js';
import { configSpaceJson } from '../../src/report/lspci-json.js';

describe('configSpaceJson', () => {
  const space = emptyConfigSpace(4096);
  setConfig(space, 0x06, 2, 0x0010);
  setConfig(space, 0x0e, 1, 0x01);
  setConfig(space, 0x34, 1, 0x40);
  setConfig(space, 0x40, 2, 0x0010);
  setConfig(space, 0x42, 2, 0x0162); // v2, Downstream Port (6), Slot Implemented (bit 8)
  setConfig(space, 0x54, 4, 0x00080040); // Hot-Plug Capable (bit 6), slot number 1 [31:19]
  setConfig(space, 0x100, 4, 0x0001000d); // ACS, version 1, next 0
  setConfig(space, 0x104, 2, 0x0001); // Source Validation supported
  setConfig(space, 0x106, 2, 0x0001); // and enabled
  const json = configSpaceJson(space, undefined);
  const caps = json.capabilities as Record<string, Record<string, number>>[];

  it('names ACS kind "acs" with its Capability and Control fields', () => {
    const acs = caps.find((c) => (c as { kind?: unknown }).kind === 'acs');
    expect(acs?.acsCapability.sourceValidation).toBe(1);
    expect(acs?.acsControl.sourceValidation).toBe(1);
    expect(acs?.acsControl.translationBlocking).toBe(0);
  });

  it('gives a port with a slot its Slot registers', () => {
    const pcie = caps.find((c) => (c as { kind?: unknown }).kind === 'pcie');
    expect(pcie?.slotCapabilities.hotPlugCapable).toBe(1);
    expect(pcie?.slotCapabilities.physicalSlotNumber).toBe(1);
  });

  it('has the two BARs of a Type 1 header', () => {
    expect(json.bars).toEqual([0, 0]);
  });
});
