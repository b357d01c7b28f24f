// Intel DSA/IAA, drivers/dma/idxd: MSI-X entry 0 is the misc/error interrupt ("idxd-misc",
// `idxd_setup_interrupts`), entries 1.. are work-queue completion interrupts requested when a
// kernel work queue is enabled ("idxd-portal", `idxd_wq_request_irq`), and the IMS entries back
// the work queues handed to subdevices (the out-of-tree vdcm/mdev driver of the IMS series:
// `pci_create_ims_domain` + `pci_ims_alloc_irq` per subdevice vector). IMS needs a parent that
// isolates MSI (`ims.ts`): on a host without IR or a guest without vIR the IMS domain is refused
// with the rule's name.
// Not modelled: the device's own registers (GENCAP, WQCFG), PASID, the misc thread's work.

import { pciCreateImsDomain, pciImsAllocIrq } from '../ims.js';
import type { KernelState } from '../kernel-state.js';
import { requestIrq } from '../manage.js';
import { pciAllocIrqVectors, pciEnableDevice, pciMsixVecCount } from '../pci-msi-api.js';
import { type KernelPlatform, withOp } from '../platform.js';
import { type ProbeResult, pciRequestIrq, probeFailed, probeOk } from './driver.js';

export interface IdxdDriverSpec {
  readonly kind: 'idxd';
  /** Kernel work queues enabled (each takes MSI-X entry wq + 1). */
  readonly kernelWqs: number;
  /** Subdevices backed by IMS, and vectors each. */
  readonly imsSubdevices: number;
  readonly imsVectorsPerSubdevice: number;
  /** Vectors per subdevice when they differ (overrides the two counts above). */
  readonly imsVectors?: readonly number[];
}

export function idxdProbe(
  k: KernelState,
  p: KernelPlatform,
  bdf: string,
  spec: IdxdDriverSpec,
): ProbeResult {
  const dev = k.devices[bdf];
  if (dev === undefined) return probeFailed([`no PCI function ${bdf}`]);
  const enabled = pciEnableDevice(k, p, bdf);
  if (!enabled.ok) return probeFailed([enabled.reason]);
  const msixcnt = withOp(k, `idxd_setup_interrupts(${bdf})`, () => pciMsixVecCount(k, p, dev));
  const r = pciAllocIrqVectors(k, p, bdf, { min: msixcnt, max: msixcnt, flags: { msix: true } });
  if (!r.ok) return probeFailed([`MSI-X: ${r.reason}`]);
  const notes: string[] = [];
  const misc = pciRequestIrq(k, p, bdf, 0, 'idxd-misc');
  if (!misc.ok) return probeFailed([`idxd-misc: ${misc.reason}`]);
  for (let wq = 0; wq < Math.min(spec.kernelWqs, msixcnt - 1); wq++) {
    const q = pciRequestIrq(k, p, bdf, wq + 1, 'idxd-portal');
    if (!q.ok) notes.push(`wq${wq}: ${q.reason}`);
  }
  const perSubdevice =
    spec.imsVectors ??
    Array.from({ length: spec.imsSubdevices }, () => spec.imsVectorsPerSubdevice);
  if (perSubdevice.length === 0) return notes.length ? probeFailed(notes) : probeOk();
  pciCreateImsDomain(k, dev, { name: 'IDXD-IMS' });
  for (const [s, vectors] of perSubdevice.entries()) {
    for (let v = 0; v < vectors; v++) {
      const ims = pciImsAllocIrq(k, p, dev);
      if (!ims.ok) {
        notes.push(`subdevice ${s} vector ${v}: ${ims.errno}: ${ims.reason}`);
        continue;
      }
      const req = requestIrq(k, p, ims.virq, `idxd-ims-sub${s}-${v}`);
      if (!req.ok) notes.push(`subdevice ${s} vector ${v}: ${req.reason}`);
    }
  }
  return notes.length ? probeFailed(notes) : probeOk();
}
