// A driver that wants N vectors and requests them all, named "<name>-<i>": what a guest's
// driver for an assigned function or subdevice does when irqlab knows no more about it (the
// guest side of a VFIO assignment), with IMS when the function exposes it as such.
// Not modelled: any device-specific ordering; the vectors are requested in index order.

import { pciCreateImsDomain, pciImsAllocIrq } from '../ims.js';
import type { KernelState } from '../kernel-state.js';
import { requestIrq } from '../manage.js';
import { pciAllocIrqVectors, pciEnableDevice } from '../pci-msi-api.js';
import type { KernelPlatform } from '../platform.js';
import { type ProbeResult, pciRequestIrq, probeFailed, probeOk } from './driver.js';

export interface GenericDriverSpec {
  readonly kind: 'generic';
  readonly name: string;
  readonly vectors: number;
  /** Take the vectors from the function's IMS (through an IMS domain) instead of MSI-X/MSI. */
  readonly ims: boolean;
}

export function genericProbe(
  k: KernelState,
  p: KernelPlatform,
  bdf: string,
  spec: GenericDriverSpec,
): ProbeResult {
  const dev = k.devices[bdf];
  if (dev === undefined) return probeFailed([`no PCI function ${bdf}`]);
  const enabled = pciEnableDevice(k, p, bdf);
  if (!enabled.ok) return probeFailed([enabled.reason]);
  const notes: string[] = [];
  if (spec.ims) {
    pciCreateImsDomain(k, dev, { name: 'PCI-IMS' });
    for (let i = 0; i < spec.vectors; i++) {
      const a = pciImsAllocIrq(k, p, dev);
      if (!a.ok) return probeFailed([...notes, `${spec.name}-${i}: ${a.errno}: ${a.reason}`]);
      const r = requestIrq(k, p, a.virq, `${spec.name}-${i}`);
      if (!r.ok) notes.push(`${spec.name}-${i}: ${r.reason}`);
    }
    return notes.length ? probeFailed(notes) : probeOk();
  }
  const r = pciAllocIrqVectors(k, p, bdf, {
    min: 1,
    max: spec.vectors,
    flags: { msix: true, msi: true, intx: true },
  });
  if (!r.ok) return probeFailed([r.reason]);
  for (let i = 0; i < r.count; i++) {
    const q = pciRequestIrq(k, p, bdf, i, `${spec.name}-${i}`);
    if (!q.ok) notes.push(`${spec.name}-${i}: ${q.reason}`);
  }
  return notes.length ? probeFailed(notes) : probeOk();
}
