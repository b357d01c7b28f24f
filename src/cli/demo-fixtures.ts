// The fixture tour printed by `irqlab demo`: real config spaces decoded the way lspci shows them,
// and one interrupt of a real QEMU q35 guest followed through VT-d remapping (QEMU-Q35.md fact 1).
// Reads `../shared/fixtures` beside the checkout, as CI lays it out; says so if it is absent.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dwordsFromBigInt } from '../hw/bits.js';
import { parseBdf, requesterIdOf } from '../hw/pci/bdf.js';
import type { MsiTransaction } from '../hw/pci/msi-transaction.js';
import {
  createVtdIrUnit,
  remappedAsMsiMessage,
  vtdIrRemap,
} from '../hw/vtd/interrupt-remapping.js';
import { writeIrte } from '../hw/vtd/remapping-table.js';
import { decodeMsiMessage } from '../hw/x86/msi-message.js';
import { msiSummary } from '../report/msi-text.js';
import { decodeConfig } from './decode-config.js';

/** `../shared/fixtures/` beside the checkout: from the nearest folder above this file (src/cli or
 *  dist/src/cli) that holds the package.json. */
const FIXTURES = ((): string => {
  let dir = new URL('./', import.meta.url);
  while (!existsSync(new URL('package.json', dir)) && dir.pathname !== '/') {
    dir = new URL('../', dir);
  }
  return fileURLToPath(new URL('../shared/fixtures/', dir));
})();
const hex = (n: number) => `0x${(n >>> 0).toString(16)}`;

export function fixtureTour(): string {
  if (!existsSync(FIXTURES)) return `(no fixtures at ${FIXTURES}: skipping the fixture tour)\n`;
  return [configSpaces(), remapWalk()].join('\n');
}

/** The title and MSI/MSI-X lines of every recorded config space of the microVM. */
function configSpaces(): string {
  const dir = `${FIXTURES}vm-virtio-pci/`;
  const out = ['== vm-virtio-pci: recorded config spaces, decoded (irqlab decode config) =='];
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.config.bin'))
    .sort()) {
    const text = decodeConfig(dir + file, readFileSync(dir + file), {});
    const lines = text.split('\n');
    out.push(lines[0]);
    out.push(...msiBlocks(lines));
  }
  return `${out.join('\n')}\n`;
}

function msiBlocks(lines: string[]): string[] {
  const kept: string[] = [];
  let inBlock = false;
  for (const line of lines) {
    if (line.startsWith('\tCapabilities:')) inBlock = /MSI(-X)?:/.test(line);
    else if (!line.startsWith('\t\t')) inBlock = false;
    if (inBlock) kept.push(line);
  }
  return kept;
}

/** nvme0q0 of the q35 guest with IR: the MSI-X entry the guest wrote, the IRTE QEMU read, and
 *  the interrupt that came out (qemu-q35-ir msix-tables.txt and qemu-trace.log). */
function remapWalk(): string {
  const requester = requesterIdOf(parseBdf('00:05.0'));
  const tx: MsiTransaction = { addrLo: 0xfee00418, addrHi: 0, data: 0, requesterId: requester };
  const unit = createVtdIrUnit({
    tableSize: 15,
    eime: false,
    ire: true,
    cfi: false,
    postedInterrupts: false,
  });
  // `vtd_ir_irte_get index 32 low 0x40028 high 0x1000025000d`: QEMU's "low" is bits 127:64.
  writeIrte(unit.table, 32, dwordsFromBigInt((0x40028n << 64n) | 0x1000025000dn, 128));
  const outcome = vtdIrRemap(unit, tx);
  const lines = [
    '== qemu-q35-ir: nvme0q0 (00:05.0 MSI-X entry 0) through VT-d interrupt remapping ==',
    `device writes   ${hex(tx.addrLo)} data ${hex(tx.data)}  ${msiSummary(decodeMsiMessage(tx.addrLo, tx.addrHi, tx.data))}`,
  ];
  if (outcome.kind === 'remapped') {
    const out = remappedAsMsiMessage(outcome, tx);
    lines.push(
      `IRTE ${outcome.index}         vector ${hex(outcome.vector)} destination ${hex(outcome.destination)} ` +
        `${outcome.destinationMode ? 'logical' : 'physical'}`,
      `CPU receives    ${hex(out.addrLo)} data ${hex(out.data)}  ${msiSummary(decodeMsiMessage(out.addrLo, out.addrHi, out.data))}`,
    );
  } else {
    lines.push(`remapping outcome: ${outcome.kind}`);
  }
  return `${lines.join('\n')}\n`;
}
