// What every modelled driver shares: the result of a probe, and `pci_request_irq` (the irq of
// one of the device's vectors, requested under a name).
// Invariant: a driver that fails gives back what it took (Linux's probe error paths), so a
// failed probe leaves no irq, descriptor or vector behind.

import type { KernelState } from '../kernel-state.js';
import { requestIrq } from '../manage.js';
import { pciIrqVector } from '../pci-msi-api.js';
import type { KernelPlatform } from '../platform.js';
import type { IrqResult } from '../types.js';

export interface ProbeResult {
  readonly ok: boolean;
  /** Why it failed (errno and what ran out), or what it fell back to. */
  readonly notes: readonly string[];
}

export const probeOk = (notes: string[] = []): ProbeResult => ({ ok: true, notes });
export const probeFailed = (notes: string[]): ProbeResult => ({ ok: false, notes });

/** `pci_request_irq(dev, nr, handler, ..., name)`. */
export function pciRequestIrq(
  k: KernelState,
  p: KernelPlatform,
  bdf: string,
  nr: number,
  name: string,
): IrqResult {
  const v = pciIrqVector(k, bdf, nr);
  if (!v.ok) return v;
  return requestIrq(k, p, v.virq, name, { devId: `${bdf}#${nr}` });
}

export const pciFreeIrqDevId = (bdf: string, nr: number): string => `${bdf}#${nr}`;
