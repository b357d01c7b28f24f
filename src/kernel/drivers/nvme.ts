// NVMe over PCI (drivers/nvme/host/pci.c): probe with ONE vector for the admin queue
// ("nvme<N>q0"), then `nvme_setup_io_queues` frees it and every vector, and allocates
// 1 + I/O queues with managed affinity (pre_vectors = 1 for the admin queue), requests q0 again
// and q1..qN in order. That is the MSI-X disable/re-enable the `qemu-q35-ir` trace shows for
// nvme (`enabled 1 masked 1`, `masked 0`, `enabled 0`, `enabled 1 masked 1`, `masked 0`) and why
// IRTE 32 comes back with a new vector (0x24, then 0x25).
// Not modelled: write/poll queue sets (`nvme_calc_irq_sets` with write_queues/poll_queues 0
// gives one set), the INTx/MSI fallbacks' details beyond what `pci_alloc_irq_vectors` does.

import type { KernelState } from '../kernel-state.js';
import { freeIrq } from '../manage.js';
import {
  pciAllocIrqVectors,
  pciEnableDevice,
  pciFreeIrqVectors,
  pciIrqVector,
} from '../pci-msi-api.js';
import type { KernelPlatform } from '../platform.js';
import {
  type ProbeResult,
  pciFreeIrqDevId,
  pciRequestIrq,
  probeFailed,
  probeOk,
} from './driver.js';

export interface NvmeDriverSpec {
  readonly kind: 'nvme';
  /** N of "nvme<N>". */
  readonly instance: number;
  /** I/O queues the controller grants (Number of Queues feature). */
  readonly ioQueues: number;
}

const ALL_TYPES = { msix: true, msi: true, intx: true } as const;

export function nvmeProbe(
  k: KernelState,
  p: KernelPlatform,
  bdf: string,
  spec: NvmeDriverSpec,
): ProbeResult {
  const name = (q: number) => `nvme${spec.instance}q${q}`;
  const enabled = pciEnableDevice(k, p, bdf);
  if (!enabled.ok) return probeFailed([enabled.reason]);
  const first = pciAllocIrqVectors(k, p, bdf, { min: 1, max: 1, flags: ALL_TYPES });
  if (!first.ok) return probeFailed([`admin vector: ${first.reason}`]);
  const admin = pciRequestIrq(k, p, bdf, 0, name(0));
  if (!admin.ok) return probeFailed([`${name(0)}: ${admin.reason}`]);
  // nvme_setup_io_queues: pci_free_irq(adminq), nvme_setup_irqs.
  const v0 = pciIrqVector(k, bdf, 0);
  if (v0.ok) freeIrq(k, p, v0.virq, pciFreeIrqDevId(bdf, 0));
  pciFreeIrqVectors(k, p, bdf);
  const ioQueues = Math.min(spec.ioQueues, k.nrCpus);
  const all = pciAllocIrqVectors(k, p, bdf, {
    min: 1,
    max: ioQueues + 1,
    flags: ALL_TYPES,
    affd: { preVectors: 1, postVectors: 0, setSizes: [ioQueues] },
  });
  if (!all.ok) return probeFailed([`I/O vectors: ${all.reason}`]);
  const notes: string[] = [];
  for (let q = 0; q < all.count; q++) {
    const r = pciRequestIrq(k, p, bdf, q, name(q));
    if (!r.ok) notes.push(`${name(q)}: ${r.errno}: ${r.reason}`);
  }
  return notes.length === 0 ? probeOk() : probeFailed(notes);
}
