// Reading dumps: binary sysfs config (256/4096 bytes) and lspci -xxx/-xxxx text; bad input is an
// InputError naming the source and the line.
import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/hw/errors.js';
import { parseConfigDump } from '../../../src/hw/pci/config-dump.js';
import { readConfigWord } from '../../../src/hw/pci/config-space.js';
import { msixCapabilityForUse } from '../../../src/hw/pci/msix-capability.js';
import { readFixtureBytes } from '../../fixtures.js';

const text = (s: string) => new TextEncoder().encode(s);
/** An lspci -xxx paragraph: 16 rows of 16 bytes, bytes given by `byteAt`. */
function lspciRows(byteAt: (at: number) => number, rows = 16): string {
  const lines: string[] = [];
  for (let r = 0; r < rows; r++) {
    const cells = Array.from({ length: 16 }, (_, i) =>
      byteAt(r * 16 + i)
        .toString(16)
        .padStart(2, '0'),
    );
    lines.push(
      `${(r * 16).toString(16).padStart(r * 16 >= 0x100 ? 3 : 2, '0')}: ${cells.join(' ')}`,
    );
  }
  return lines.join('\n');
}

describe('parseConfigDump', () => {
  it('reads a binary sysfs dump as one function', () => {
    const dump = parseConfigDump(readFixtureBytes('vm-virtio-pci/0000:00:03.0.config.bin'), 'f');
    expect(dump.format).toBe('binary');
    expect(dump.functions).toHaveLength(1);
    expect(readConfigWord(dump.functions[0].space, 0)).toBe(0x1af4);
  });
  it('reads every function of an lspci -xxxx file: 4096 bytes for the PCIe ones, else 256', () => {
    const dump = parseConfigDump(readFixtureBytes('qemu-q35-noir/lspci-xxxx.txt'), 'f');
    expect(dump.format).toBe('lspci-text');
    // lspci -xxxx prints the extended space only where it exists: e1000e (00:04.0), nvme (00:05.0).
    expect(dump.functions.map((f) => f.space.bytes.length)).toEqual([
      256, 256, 256, 4096, 4096, 256, 256, 256,
    ]);
    expect(dump.functions[1].description).toBe(
      'Ethernet controller: Red Hat, Inc. Virtio network device',
    );
  });
  it('reads lspci -xxx text (256 bytes) with a domain in the address', () => {
    const dump = parseConfigDump(text(`0000:3b:00.1 Ethernet\n${lspciRows(() => 0)}\n`), 'f');
    expect(dump.functions[0].bdf).toEqual({ segment: 0, bus: 0x3b, device: 0, function: 1 });
    expect(dump.functions[0].space.bytes.length).toBe(256);
  });
  it.each([
    [
      'a truncated binary dump',
      new Uint8Array(100),
      /f: binary config dump of 100 bytes.*truncated/,
    ],
    ['an empty file', new Uint8Array(0), /f: is empty/],
    [
      'a non-hex row',
      text(`00:02.0 x\n00: 86 80 zz 29 00 00 00 00 00 00 00 00 00 00 00 00\n`),
      /f:2: row 0x00 is not 16 hex bytes/,
    ],
    ['a short row', text(`00:02.0 x\n00: 86 80\n`), /f:2: row 0x00 is not 16 hex bytes/],
    [
      'rows out of order',
      text(`00:02.0 x\n10: ${'00 '.repeat(16)}\n`),
      /f:2: row at offset 0x10 where 0x0 was expected/,
    ],
    [
      'lspci -x (64 bytes)',
      text(`00:02.0 x\n${lspciRows(() => 0, 4)}\n`),
      /64 bytes.*lspci -x shows only the header/,
    ],
    ['a row before any function', text(`00: ${'00 '.repeat(16)}\n`), /f:1: hex row before any/],
    ['text that is not lspci', text('hello world\n'), /f:1: not an lspci -xxx line/],
  ])('rejects %s with an InputError naming the file', (_, bytes, message) => {
    expect(() => parseConfigDump(bytes, 'f')).toThrow(InputError);
    expect(() => parseConfigDump(bytes, 'f')).toThrow(message);
  });
});

describe('MSI-X BIR for use (PCIe 6.0, 7.7.2.3: BIR values 6 and 7 are reserved)', () => {
  it('a Table BIR of 6 is an InputError naming the register, but decodes for display', () => {
    // An MSI-X capability at 0x40 with Table BIR 6.
    const bytes = (at: number) => ({ 6: 0x10, 52: 0x40, 64: 0x11, 66: 0x03, 68: 0x06 })[at] ?? 0;
    const dump = parseConfigDump(text(`00:03.0 x\n${lspciRows(bytes)}\n`), 'f');
    expect(() => msixCapabilityForUse(dump.functions[0].space, 0x40, 'f')).toThrow(
      'f: MSI-X capability at 0x40: Table BIR 6 is reserved (BARs 0-5)',
    );
  });
});
