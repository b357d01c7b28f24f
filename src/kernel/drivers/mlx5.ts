// Mellanox ConnectX, drivers/net/ethernet/mellanox/mlx5/core/pci_irq.c: one control/async
// vector ("mlx5_async<N>@pci:<BDF>", index 0) and one completion vector per channel
// ("mlx5_comp<i>@pci:<BDF>"), each completion vector's affinity hint on one CPU
// (`cpumask_local_spread(i)`, round robin over the online CPUs), not managed. With dynamic
// MSI-X (6.2+, `pci_msix_can_alloc_dyn`) mlx5 enables MSI-X with one vector and adds the others
// one at a time with `pci_msix_alloc_irq_at(MSI_ANY_INDEX)`; before that it allocates them all
// at once. A VF does the same with its own (smaller) MSI-X table.
// Not modelled: SF (sub-function) interrupt pools, the IRQ sharing of comp EQs past the table.

import { type KernelState, versionAtLeast } from '../kernel-state.js';
import { irqSetAffinityAndHint, requestIrq } from '../manage.js';
import {
  MSI_ANY_INDEX,
  pciAllocIrqVectors,
  pciEnableDevice,
  pciMsixAllocIrqAt,
  pciMsixCanAllocDyn,
  pciMsixVecCount,
} from '../pci-msi-api.js';
import type { KernelPlatform } from '../platform.js';
import { type CpuId, cpuMask } from '../types.js';
import { type ProbeResult, pciRequestIrq, probeFailed, probeOk } from './driver.js';

export interface Mlx5DriverSpec {
  readonly kind: 'mlx5';
  /** Completion channels wanted (default: one per online CPU). */
  readonly channels?: number;
  /** N in "mlx5_async<N>". */
  readonly instance: number;
}

export function mlx5Probe(
  k: KernelState,
  p: KernelPlatform,
  bdf: string,
  spec: Mlx5DriverSpec,
): ProbeResult {
  const dev = k.devices[bdf];
  if (dev === undefined) return probeFailed([`no PCI function ${bdf}`]);
  const enabled = pciEnableDevice(k, p, bdf);
  if (!enabled.ok) return probeFailed([enabled.reason]);
  const hwsize = pciMsixVecCount(k, p, dev);
  const channels = Math.min(spec.channels ?? k.online.length, hwsize - 1);
  const total = channels + 1;
  const dynamic = versionAtLeast(k, 6, 2);
  const first = pciAllocIrqVectors(k, p, bdf, {
    min: 1,
    max: dynamic ? 1 : total,
    flags: { msix: true },
  });
  if (!first.ok) return probeFailed([`MSI-X: ${first.reason}`]);
  const suffix = `@pci:${bdf}`;
  const ctrl = pciRequestIrq(k, p, bdf, 0, `mlx5_async${spec.instance}${suffix}`);
  if (!ctrl.ok) return probeFailed([`async: ${ctrl.reason}`]);
  const notes: string[] = [];
  for (let i = 0; i < channels; i++) {
    const cpu = k.online[i % k.online.length] as CpuId;
    const name = `mlx5_comp${i}${suffix}`;
    let virq: number;
    if (dynamic && pciMsixCanAllocDyn(k, bdf)) {
      const a = pciMsixAllocIrqAt(k, p, bdf, MSI_ANY_INDEX, {
        mask: cpuMask([cpu]),
        managed: false,
      });
      if (!a.ok) {
        notes.push(`${name}: ${a.errno}: ${a.reason}`);
        break;
      }
      virq = a.virq;
      const r = requestIrq(k, p, virq, name, { devId: `${bdf}#${a.index}` });
      if (!r.ok) notes.push(`${name}: ${r.reason}`);
    } else {
      const r = pciRequestIrq(k, p, bdf, i + 1, name);
      if (!r.ok) {
        notes.push(`${name}: ${r.reason}`);
        continue;
      }
      virq = dev.descs.msix[i + 1].irq as number;
    }
    irqSetAffinityAndHint(k, p, virq, cpuMask([cpu]));
  }
  return notes.length ? probeFailed(notes) : probeOk();
}
