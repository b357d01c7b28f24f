// The kernel's cross-object invariants, asserted (a violation is an irqlab bug, STYLE §6):
//  - the vector matrix's own invariants (`checkVectorMatrix`);
//  - every (CPU, vector) the matrix has allocated is held by exactly one irq (its current or its
//    previous vector during a move), or is a legacy PIC vector not yet taken over; every vector
//    an irq holds is allocated and routed to it in `vectorIrq`;
//  - the global reservation count equals the irqs in reservation mode without a vector, and
//    each CPU's managed reservations equal the managed irqs whose mask contains it;
//  - every IRTE index an irq holds is allocated in its unit's bitmap, and no two irqs share one;
//  - an associated MSI descriptor's irqs exist and point back at it.

import { bitmapTest } from '../hw/bitmap.js';
import { assert } from '../hw/errors.js';
import type { KernelState } from './kernel-state.js';
import type { CpuId } from './types.js';
import { checkVectorMatrix, matrixIsAllocated } from './vector-matrix.js';
import { heldVectors } from './x86-vector.js';

export function checkKernel(k: KernelState): void {
  checkVectorMatrix(k.matrix);
  const owner = new Map<string, number>();
  let reserved = 0;
  const managedPerCpu = new Array<number>(k.nrCpus).fill(0);
  const irtes = new Set<string>();
  for (const d of Object.values(k.descs)) {
    for (const { cpu, vector } of heldVectors(d)) {
      const key = `${cpu}:${vector}`;
      assert(
        !owner.has(key),
        `CPU ${cpu} vector ${vector} held by irqs ${owner.get(key)} and ${d.irq}`,
      );
      owner.set(key, d.irq);
      assert(matrixIsAllocated(k.matrix, cpu, vector), `irq ${d.irq} holds unallocated ${key}`);
      assert(
        k.vectorIrq[cpu][vector] === d.irq,
        `vector_irq[${key}] does not route to irq ${d.irq}`,
      );
    }
    const bottom = d.data[d.data.length - 1];
    if (bottom.chip.kind === 'apic') {
      const apicd = bottom.chip.apicd;
      if (apicd.hasReserved) {
        reserved++;
        assert(apicd.vector === 0, `irq ${d.irq} has a reservation and vector ${apicd.vector}`);
      }
      if (apicd.isManaged) for (const cpu of d.affinity) managedPerCpu[cpu]++;
    }
    for (const level of d.data) {
      if (level.chip.kind !== 'ir') continue;
      const dom = k.domains[level.domain];
      const index = level.chip.ir.irteIndex + level.chip.ir.subHandle;
      assert(
        dom.ir !== undefined && bitmapTest(dom.ir.bitmap, index),
        `IRTE ${index} not allocated`,
      );
      const key = `${dom.id}:${index}`;
      assert(!irtes.has(key), `IRTE ${index} of ${dom.name} held twice`);
      irtes.add(key);
    }
  }
  for (const [cpu, cm] of k.matrix.maps.entries()) {
    for (let v = k.matrix.allocStart; v < k.matrix.allocEnd; v++) {
      if (!matrixIsAllocated(k.matrix, cpu as CpuId, v) || owner.has(`${cpu}:${v}`)) continue;
      const routed = k.vectorIrq[cpu][v];
      const legacy = routed >= 0 && routed < k.nrLegacyIrqs && k.descs[routed] === undefined;
      assert(legacy, `CPU ${cpu} vector ${v} is allocated but no irq holds it`);
    }
    assert(
      cm.managed === managedPerCpu[cpu],
      `CPU ${cpu}: ${cm.managed} managed reservations, ${managedPerCpu[cpu]} managed irqs`,
    );
  }
  assert(
    reserved === k.matrix.globalReserved,
    `${reserved} irqs in reservation mode, matrix says ${k.matrix.globalReserved}`,
  );
  for (const dev of Object.values(k.devices)) {
    for (const slot of ['msi', 'msix', 'ims'] as const) {
      for (const desc of Object.values(dev.descs[slot])) {
        if (desc.irq === 0) continue;
        for (let i = 0; i < desc.nvecUsed; i++) {
          const d = k.descs[desc.irq + i];
          assert(
            d?.msi?.dev === dev.info.bdf && d.msi.index === desc.index,
            `${dev.info.bdf} ${slot} ${desc.index}: irq ${desc.irq + i} does not point back`,
          );
        }
      }
    }
  }
}
