// Drivers whose interrupt use is one call each (names as the fixtures show them):
//  - ahci (drivers/ata/ahci.c `ahci_init_msi`): one vector per port if the function has that
//    many, else one MSI-X or MSI vector; requested as "ahci[<BDF>]" (libata `ata_host_activate`);
//  - e1000e (drivers/net/ethernet/intel/e1000e/netdev.c): MSI-X with exactly 3 vectors (rx, tx,
//    other) at probe; they are requested only when the interface is opened ("<if>-rx-0",
//    "<if>-tx-0", "<if>"). `qemu-q35-*`: eth1 was never opened, its entries stay masked with
//    the shutdown vector (no IR) or its handles (IR).
// Not modelled: ahci's per-port multi-vector path beyond the vector count.

import type { KernelState } from '../kernel-state.js';
import { pciAllocIrqVectors, pciEnableDevice } from '../pci-msi-api.js';
import type { KernelPlatform } from '../platform.js';
import { type ProbeResult, pciRequestIrq, probeFailed, probeOk } from './driver.js';

export interface AhciDriverSpec {
  readonly kind: 'ahci';
  readonly ports: number;
}

export interface E1000eDriverSpec {
  readonly kind: 'e1000e';
  /** Interface name; the vectors are requested only if it is opened. */
  readonly ifname: string;
  readonly open: boolean;
}

export function ahciProbe(
  k: KernelState,
  p: KernelPlatform,
  bdf: string,
  spec: AhciDriverSpec,
): ProbeResult {
  const enabled = pciEnableDevice(k, p, bdf);
  if (!enabled.ok) return probeFailed([enabled.reason]);
  const notes: string[] = [];
  if (spec.ports > 1) {
    const multi = pciAllocIrqVectors(k, p, bdf, {
      min: spec.ports,
      max: 2048,
      flags: { msix: true, msi: true },
    });
    if (multi.ok) {
      for (let i = 0; i < multi.count; i++) pciRequestIrq(k, p, bdf, i, `ahci${i}[${bdf}]`);
      return probeOk();
    }
    notes.push(`per-port vectors: ${multi.reason}`);
  }
  const one = pciAllocIrqVectors(k, p, bdf, {
    min: 1,
    max: 1,
    flags: { msix: true, msi: true, intx: true },
  });
  if (!one.ok) return probeFailed([...notes, one.reason]);
  const r = pciRequestIrq(k, p, bdf, 0, `ahci[${bdf}]`);
  return r.ok ? probeOk(notes) : probeFailed([...notes, r.reason]);
}

export function e1000eProbe(
  k: KernelState,
  p: KernelPlatform,
  bdf: string,
  spec: E1000eDriverSpec,
): ProbeResult {
  const enabled = pciEnableDevice(k, p, bdf);
  if (!enabled.ok) return probeFailed([enabled.reason]);
  const r = pciAllocIrqVectors(k, p, bdf, { min: 3, max: 3, flags: { msix: true } });
  if (!r.ok) return probeFailed([r.reason]);
  if (!spec.open) return probeOk(['vectors allocated; interface not opened']);
  const names = [`${spec.ifname}-rx-0`, `${spec.ifname}-tx-0`, spec.ifname];
  const notes = names.flatMap((n, i) => {
    const req = pciRequestIrq(k, p, bdf, i, n);
    return req.ok ? [] : [`${n}: ${req.reason}`];
  });
  return notes.length === 0 ? probeOk() : probeFailed(notes);
}
