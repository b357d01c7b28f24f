// Conformance: irqlab's lspci-style decode of the recorded `lspci -xxxx` dumps against the
// `lspci -vvv` text recorded from the same guest (../shared/fixtures/qemu-q35-*/, pciutils 3.9.0).
// Table-driven over every function of both files: each `Capabilities:` line, and the whole block
// of the MSI, MSI-X, Power Management, Vendor-Specific, SR-IOV, PASID, PCI Express and AER
// capabilities. Lines lspci takes from sysfs or pci.ids (names, IRQ routing, regions with sizes,
// IOMMU group, kernel driver) are not compared.
import { describe, expect, it } from 'vitest';
import { formatBdf } from '../../src/hw/pci/bdf.js';
import { parseConfigDump } from '../../src/hw/pci/config-dump.js';
import { formatLspciFunction } from '../../src/report/lspci.js';
import { readFixture, readFixtureBytes } from '../fixtures.js';

interface RecordedFunction {
  bdf: string;
  headerLines: string[];
  /** Capability title line -> the block lines after it (each starting with two tabs). */
  capabilities: { title: string; block: string[] }[];
}

/** Splits `lspci -vvv` text into functions and their capability blocks. */
function parseLspciVerbose(text: string): RecordedFunction[] {
  const functions: RecordedFunction[] = [];
  let current: RecordedFunction | undefined;
  for (const line of text.split('\n')) {
    const fn = /^([0-9a-f]{2}:[0-9a-f]{2}\.[0-7]) /.exec(line);
    if (fn) {
      current = { bdf: fn[1], headerLines: [], capabilities: [] };
      functions.push(current);
      continue;
    }
    if (!current || line === '') continue;
    if (line.startsWith('\tCapabilities: ')) {
      current.capabilities.push({ title: line, block: [] });
    } else if (line.startsWith('\t\t') && current.capabilities.length > 0) {
      current.capabilities[current.capabilities.length - 1].block.push(line);
    } else if (line.startsWith('\t')) {
      current.headerLines.push(line);
      // A header-level line after the capabilities (e.g. "Kernel driver in use") ends the last
      // block; later `\t\t` lines would not belong to a capability.
      if (current.capabilities.length > 0) current.capabilities.push({ title: '', block: [] });
    }
  }
  for (const f of functions) f.capabilities = f.capabilities.filter((c) => c.title !== '');
  return functions;
}

const BLOCK_COMPARED =
  /\] (MSI|MSI-X|Power Management|Vendor Specific Information|Single Root I\/O Virtualization|Process Address Space ID|Express|Advanced Error Reporting)\b/;

for (const folder of ['qemu-q35-ir', 'qemu-q35-noir']) {
  describe(`lspci -vvv conformance: ${folder}`, () => {
    const recorded = parseLspciVerbose(readFixture(`${folder}/lspci-vvv.txt`));
    const dump = parseConfigDump(readFixtureBytes(`${folder}/lspci-xxxx.txt`), 'lspci-xxxx.txt');
    const ours = new Map(
      dump.functions.map((fn) => {
        const bdf = formatBdf(fn.bdf!, { withSegment: false });
        return [bdf, parseLspciVerbose(formatLspciFunction(fn))[0]] as const;
      }),
    );

    it('has the same functions in both recordings', () => {
      expect([...ours.keys()]).toEqual(recorded.map((f) => f.bdf));
    });

    for (const expected of recorded) {
      describe(expected.bdf, () => {
        it('prints every Capabilities line as lspci does, in list order', () => {
          const actual = ours.get(expected.bdf)!;
          expect(actual.capabilities.map((c) => c.title)).toEqual(
            expected.capabilities.map((c) => c.title),
          );
        });

        it('prints the Control, Status, Latency, Region and ROM lines as lspci does', () => {
          const actual = ours.get(expected.bdf)!;
          // Region sizes come from sysfs (lspci -F on a dump cannot know them): compared without.
          const pick = (lines: string[]) =>
            lines
              .filter((l) => /^\t(Control|Status|Latency|Region \d|Expansion ROM)/.test(l))
              .map((l) => l.replace(/ \[size=[^\]]+\]$/, ''));
          expect(pick(actual.headerLines)).toEqual(pick(expected.headerLines));
        });

        const compared = expected.capabilities.filter((c) => BLOCK_COMPARED.test(c.title));
        for (const cap of compared) {
          it(`prints the block of ${cap.title.trim()} line for line`, () => {
            const actual = ours.get(expected.bdf)!.capabilities.find((c) => c.title === cap.title);
            expect(actual?.block).toEqual(cap.block);
          });
        }
      });
    }
  });
}
