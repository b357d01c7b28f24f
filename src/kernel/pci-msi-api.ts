// The PCI interrupt API drivers call (drivers/pci/msi/api.c, msi.c; drivers/pci/pci.c for
// pci_enable_device): `pci_alloc_irq_vectors_affinity` (MSI-X, then MSI, then INTx),
// `pci_irq_vector`, `pci_free_irq_vectors`, and dynamic MSI-X (`pci_msix_alloc_irq_at`,
// `pci_msix_free_irq`, 6.2+). The MSI-X enable sequence is `msix_capability_init`'s:
//   Message Control: MSI-X Enable + Function Mask (read, write);
//   per entry: Vector Control read (descriptor setup);
//   per entry: the message (3 writes + read-back; in reservation mode the shutdown vector);
//   Command: INTx Disable (read, write if it changes);
//   `msix_mask_all`: Vector Control of EVERY table entry, masked (Table Size writes);
//   Message Control: Function Mask cleared (read, write).
// (`qemu-q35-ir/qemu-trace.log`: nvme `enabled 1 masked 1`, then `enabled 1 masked 0`.)
// Failures are `IrqResult`s, and leave the device as it was: no descriptor, no irq, MSI-X off.
// Invariants: MSI and MSI-X are never enabled together; `dev.msixEnabled` iff the hardware bit.
// Not modelled: pci_msi_enable=0 / no_msi quirks, MSI-X table mapping failures.

import { COMMAND } from '../hw/pci/config-space.js';
import { MSI_MESSAGE_CONTROL } from '../hw/pci/msi-capability.js';
import { MSIX_MESSAGE_CONTROL } from '../hw/pci/msix-capability.js';
import { type IrqAffinity, irqCalcAffinityVectors, irqCreateAffinityMasks } from './affinity.js';
import { mpMapGsiToIrq } from './ioapic.js';
import type { IrqAffinityDesc } from './irq-desc.js';
import type { KernelState, MsiDesc, PciDev } from './kernel-state.js';
import { hasRemap, versionAtLeast } from './kernel-state.js';
import {
  MSI_ANY_INDEX,
  msiDomainAllocIrqAt,
  msiDomainAllocIrqsRange,
  msiDomainFreeAll,
  msiDomainFreeIrqsRange,
  msiFirstDesc,
  msiForEachDesc,
  msiInsertDesc,
} from './msi.js';
import {
  msiMultiMask,
  msixMaskAll,
  pciMsiMaskVector,
  pciMsiSetEnable,
  pciMsiUnmaskVector,
  pciMsixClearAndSetCtrl,
  pciMsixReadVectorCtrl,
} from './pci-msi.js';
import { pciMsiDomainFor } from './pci-msi-domain.js';
import { hwCfgRead, hwCfgWrite, type KernelPlatform, withOp } from './platform.js';
import { pvIrBatched } from './pv-ir.js';
import { fail, type IrqFailure, type IrqResult, OK, type Virq } from './types.js';

export interface PciIrqFlags {
  readonly msix?: boolean;
  readonly msi?: boolean;
  readonly intx?: boolean;
}

export function pciDev(k: KernelState, bdf: string): PciDev | undefined {
  return k.devices[bdf];
}

/** `pci_enable_device`: the first enable routes the INTx pin (ACPI `_PRT`), which maps its GSI
 *  to an irq (and, under IR, takes an IRTE). */
export function pciEnableDevice(k: KernelState, p: KernelPlatform, bdf: string): IrqResult {
  return withOp(k, `pci_enable_device(${bdf})`, () => {
    const dev = k.devices[bdf];
    if (dev === undefined) return fail('ENODEV', `no PCI function ${bdf}`);
    dev.enableCount++;
    if (dev.enableCount > 1 || dev.info.intx === undefined) return OK;
    const r = mpMapGsiToIrq(k, p, { gsi: dev.info.intx.gsi, trigger: 'level' });
    if (!r.ok) return r;
    dev.intxIrq = r.virq;
    return OK;
  });
}

/** `pci_intx`: INTx Disable in the Command register, written only if it changes. */
function pciIntx(k: KernelState, p: KernelPlatform, dev: PciDev, enable: boolean): void {
  const at = COMMAND.offset;
  const cmd = [hwCfgRead(k, p, dev.info.bdf, at, 2)];
  const before = cmd[0];
  COMMAND.layout.accessors.interruptDisable.set(cmd, enable ? 0 : 1);
  if (cmd[0] !== before) hwCfgWrite(k, p, dev.info.bdf, at, 2, cmd[0]);
}

/** `pci_msix_vec_count`: Table Size from Message Control (a config read). */
export function pciMsixVecCount(k: KernelState, p: KernelPlatform, dev: PciDev): number {
  const msix = dev.info.msix;
  if (msix === undefined) return 0;
  const ctl = [hwCfgRead(k, p, dev.info.bdf, msix.capOffset + MSIX_MESSAGE_CONTROL.offset, 2)];
  return MSIX_MESSAGE_CONTROL.layout.accessors.tableSize.get(ctl) + 1;
}

/** `pci_msi_vec_count`: Multiple Message Capable. */
function pciMsiVecCount(k: KernelState, p: KernelPlatform, dev: PciDev): number {
  const msi = dev.info.msi;
  if (msi === undefined) return 0;
  const ctl = [hwCfgRead(k, p, dev.info.bdf, msi.capOffset + MSI_MESSAGE_CONTROL.offset, 2)];
  return 2 ** MSI_MESSAGE_CONTROL.layout.accessors.multipleMessageCapable.get(ctl);
}

function msixDesc(index: number, ctrl: number, affinity: IrqAffinityDesc | null): MsiDesc {
  return {
    index,
    irq: 0,
    nvecUsed: 1,
    affinity,
    pci: { isMsix: true, isVirtual: false, canMask: true, is64: true, multiple: 0, ctrl },
    msg: { addrLo: 0, addrHi: 0, data: 0 },
  };
}

/** Reservation mode for PCI/MSI on x86 (MSI_FLAG_MUST_REACTIVATE): MSI-X always, MSI only
 *  with per-vector masking (`msi_check_reservation_mode`). */
const virqFlags = (first: MsiDesc) => ({
  activate: true,
  canReserve: first.pci.isMsix || first.pci.canMask,
});

/** `msix_capability_init`: 0 on success, else the failure (device left with MSI-X off). */
function msixCapabilityInit(
  k: KernelState,
  p: KernelPlatform,
  dev: PciDev,
  nvec: number,
  affd: IrqAffinity | undefined,
): IrqResult {
  const msix = dev.info.msix;
  if (msix === undefined) return fail('EINVAL', `${dev.info.bdf}: no MSI-X capability`);
  pciMsixClearAndSetCtrl(k, p, dev, { msixEnable: true, functionMask: true });
  dev.msixEnabled = true;
  const tsize = pciMsixVecCount(k, p, dev);
  const masks = affd ? irqCreateAffinityMasks(k, nvec, affd) : null;
  for (let i = 0; i < nvec; i++) {
    const ctrl = pciMsixReadVectorCtrl(k, p, dev, i);
    msiInsertDesc(dev, 'msix', msixDesc(i, ctrl, masks?.[i] ?? null));
  }
  const domain = pciMsiDomainFor(k, dev, 'msix');
  // pv-batch: the pairs of every vector of this call come from one batch hypercall.
  const r = pvIrBatched(k, p, () =>
    msiDomainAllocIrqsRange(
      k,
      p,
      dev,
      'msix',
      domain,
      { first: 0, last: nvec - 1 },
      { activate: true, canReserve: true },
    ),
  );
  if (!r.ok) {
    msiDomainFreeAll(k, p, dev, 'msix');
    dev.msixEnabled = false;
    pciMsixClearAndSetCtrl(k, p, dev, { msixEnable: false, functionMask: false });
    return r;
  }
  pciIntx(k, p, dev, false);
  msixMaskAll(k, p, dev, tsize);
  pciMsixClearAndSetCtrl(k, p, dev, { functionMask: false });
  return OK;
}

/** `msi_capability_init`. */
function msiCapabilityInit(
  k: KernelState,
  p: KernelPlatform,
  dev: PciDev,
  nvec: number,
  affd: IrqAffinity | undefined,
): IrqResult {
  const msi = dev.info.msi;
  if (msi === undefined) return fail('EINVAL', `${dev.info.bdf}: no MSI capability`);
  pciMsiSetEnable(k, p, dev, false);
  dev.msiEnabled = true;
  const masks = affd ? irqCreateAffinityMasks(k, nvec, affd) : null;
  const desc: MsiDesc = {
    index: 0,
    irq: 0,
    nvecUsed: nvec,
    affinity: masks?.[0] ?? null,
    pci: {
      isMsix: false,
      isVirtual: false,
      canMask: msi.perVectorMask,
      is64: msi.is64,
      multiple: Math.ceil(Math.log2(nvec)),
      ctrl: 0,
    },
    msg: { addrLo: 0, addrHi: 0, data: 0 },
  };
  msiInsertDesc(dev, 'msi', desc);
  pciMsiMaskVector(k, p, dev, desc, msiMultiMask(desc));
  const domain = pciMsiDomainFor(k, dev, 'msi');
  const r = pvIrBatched(k, p, () =>
    msiDomainAllocIrqsRange(k, p, dev, 'msi', domain, { first: 0, last: 0 }, virqFlags(desc)),
  );
  if (!r.ok) {
    pciMsiUnmaskVector(k, p, dev, desc, msiMultiMask(desc));
    msiDomainFreeAll(k, p, dev, 'msi');
    dev.msiEnabled = false;
    return r;
  }
  pciIntx(k, p, dev, false);
  pciMsiSetEnable(k, p, dev, true);
  return OK;
}

/** `__pci_enable_msix_range`. */
function pciEnableMsixRange(
  k: KernelState,
  p: KernelPlatform,
  dev: PciDev,
  minvec: number,
  maxvec: number,
  affd: IrqAffinity | undefined,
): { ok: true; count: number } | IrqFailure {
  if (maxvec < minvec) return fail('EINVAL', `MSI-X range ${minvec}..${maxvec} is empty`);
  if (dev.msiEnabled) return fail('EINVAL', `${dev.info.bdf}: can't enable MSI-X while MSI is on`);
  if (dev.msixEnabled) return fail('EINVAL', `${dev.info.bdf}: MSI-X is already enabled`);
  if (dev.info.msix === undefined) return fail('EINVAL', `${dev.info.bdf}: no MSI-X capability`);
  const hwsize = pciMsixVecCount(k, p, dev);
  let nvec = Math.min(maxvec, hwsize);
  if (nvec < minvec) {
    return fail('ENOSPC', `${dev.info.bdf}: ${minvec} MSI-X vectors wanted, table has ${hwsize}`);
  }
  if (affd) {
    nvec = irqCalcAffinityVectors(k, minvec, nvec, affd);
    if (nvec < minvec)
      return fail('ENOSPC', `${dev.info.bdf}: affinity leaves ${nvec} < ${minvec}`);
  }
  const r = msixCapabilityInit(k, p, dev, nvec, affd);
  return r.ok ? { ok: true, count: nvec } : r;
}

/** `__pci_enable_msi_range`. Multi-MSI needs a remapping parent (the x86 vector domain cannot
 *  hand out the aligned vector blocks multi-MSI needs). */
function pciEnableMsiRange(
  k: KernelState,
  p: KernelPlatform,
  dev: PciDev,
  minvec: number,
  maxvec: number,
  affd: IrqAffinity | undefined,
): { ok: true; count: number } | IrqFailure {
  if (dev.msixEnabled) return fail('EINVAL', `${dev.info.bdf}: can't enable MSI while MSI-X is on`);
  if (dev.msiEnabled) return fail('EINVAL', `${dev.info.bdf}: MSI is already enabled`);
  if (dev.info.msi === undefined) return fail('EINVAL', `${dev.info.bdf}: no MSI capability`);
  const capable = pciMsiVecCount(k, p, dev);
  let nvec = Math.min(maxvec, capable);
  if (!hasRemap(k)) nvec = Math.min(nvec, 1);
  if (nvec < minvec) {
    return fail('ENOSPC', `${dev.info.bdf}: ${minvec} MSI vectors wanted, ${nvec} possible`);
  }
  if (affd) nvec = irqCalcAffinityVectors(k, minvec, nvec, affd);
  nvec = 2 ** Math.floor(Math.log2(nvec));
  const r = msiCapabilityInit(k, p, dev, nvec, affd);
  return r.ok ? { ok: true, count: nvec } : r;
}

/** `pci_alloc_irq_vectors_affinity`: MSI-X, else MSI, else the INTx irq (one vector). */
export function pciAllocIrqVectors(
  k: KernelState,
  p: KernelPlatform,
  bdf: string,
  req: { min: number; max: number; flags: PciIrqFlags; affd?: IrqAffinity },
): { ok: true; count: number; mode: 'msix' | 'msi' | 'intx' } | IrqFailure {
  return withOp(k, `pci_alloc_irq_vectors(${bdf}, ${req.min}, ${req.max})`, () => {
    const dev = k.devices[bdf];
    if (dev === undefined) return fail('ENODEV', `no PCI function ${bdf}`);
    let last: IrqFailure = fail('ENOSPC', `${bdf}: no interrupt mode allowed`);
    if (req.flags.msix) {
      const r = pciEnableMsixRange(k, p, dev, req.min, req.max, req.affd);
      if (r.ok) return { ...r, mode: 'msix' as const };
      last = r;
    }
    if (req.flags.msi) {
      const r = pciEnableMsiRange(k, p, dev, req.min, req.max, req.affd);
      if (r.ok) return { ...r, mode: 'msi' as const };
      last = r;
    }
    if (req.flags.intx && req.min === 1 && dev.intxIrq !== 0) {
      return { ok: true, count: 1, mode: 'intx' as const };
    }
    return last;
  });
}

/** `pci_irq_vector(dev, nr)`: the irq of vector `nr`, or a failure. */
export function pciIrqVector(
  k: KernelState,
  bdf: string,
  nr: number,
): { ok: true; virq: Virq } | IrqFailure {
  const dev = k.devices[bdf];
  if (dev === undefined) return fail('ENODEV', `no PCI function ${bdf}`);
  if (dev.msixEnabled) {
    const desc = dev.descs.msix[nr];
    if (desc === undefined || desc.irq === 0)
      return fail('EINVAL', `${bdf}: no MSI-X vector ${nr}`);
    return { ok: true, virq: desc.irq as Virq };
  }
  if (dev.msiEnabled) {
    const desc = msiFirstDesc(dev, 'msi', 'associated');
    if (desc === undefined || nr >= desc.nvecUsed)
      return fail('EINVAL', `${bdf}: no MSI vector ${nr}`);
    return { ok: true, virq: ((desc.irq as number) + nr) as Virq };
  }
  if (nr === 0 && dev.intxIrq !== 0) return { ok: true, virq: dev.intxIrq as Virq };
  return fail('EINVAL', `${bdf}: no interrupt vector ${nr}`);
}

/** `pci_free_irq_vectors`: `pci_disable_msix` (mask every entry, clear Enable, give INTx back,
 *  free the irqs) or `pci_disable_msi`. Every action must have been freed. */
export function pciFreeIrqVectors(k: KernelState, p: KernelPlatform, bdf: string): IrqResult {
  return withOp(k, `pci_free_irq_vectors(${bdf})`, () => {
    const dev = k.devices[bdf];
    if (dev === undefined) return fail('ENODEV', `no PCI function ${bdf}`);
    for (const slot of ['msix', 'msi'] as const) {
      for (const desc of msiForEachDesc(dev, slot, 'associated')) {
        for (let i = 0; i < desc.nvecUsed; i++) {
          const held = k.descs[(desc.irq as number) + i]?.actions[0];
          if (held) {
            return fail(
              'EBUSY',
              `${bdf}: irq ${(desc.irq as number) + i} still requested by ${held.name}`,
            );
          }
        }
      }
    }
    if (dev.msixEnabled) {
      for (const desc of msiForEachDesc(dev, 'msix', 'all')) pciMsiMaskVector(k, p, dev, desc, 1);
      pciMsixClearAndSetCtrl(k, p, dev, { msixEnable: false });
      pciIntx(k, p, dev, true);
      dev.msixEnabled = false;
      msiDomainFreeAll(k, p, dev, 'msix');
    }
    if (dev.msiEnabled) {
      pciMsiSetEnable(k, p, dev, false);
      pciIntx(k, p, dev, true);
      dev.msiEnabled = false;
      const desc = msiFirstDesc(dev, 'msi', 'all');
      if (desc) pciMsiUnmaskVector(k, p, dev, desc, msiMultiMask(desc));
      msiDomainFreeAll(k, p, dev, 'msi');
    }
    return OK;
  });
}

/** `pci_msix_can_alloc_dyn`: 6.2+ and a parent that supports MSI_FLAG_PCI_MSIX_ALLOC_DYN (the x86
 *  vector domain and IR both do). */
export const pciMsixCanAllocDyn = (k: KernelState, bdf: string): boolean =>
  versionAtLeast(k, 6, 2) && k.devices[bdf]?.msixEnabled === true;

/** `pci_msix_alloc_irq_at`: one MSI-X vector at `index` (or the first free, MSI_ANY_INDEX)
 *  while the device's other vectors stay live. */
export function pciMsixAllocIrqAt(
  k: KernelState,
  p: KernelPlatform,
  bdf: string,
  index: number,
  affinity: IrqAffinityDesc | null,
): { ok: true; index: number; virq: Virq } | IrqFailure {
  return withOp(
    k,
    `pci_msix_alloc_irq_at(${bdf}, ${index === MSI_ANY_INDEX ? 'any' : index})`,
    () => {
      const dev = k.devices[bdf];
      if (dev === undefined) return fail('ENODEV', `no PCI function ${bdf}`);
      if (!pciMsixCanAllocDyn(k, bdf)) {
        return fail('ENOTSUPP', `${bdf}: dynamic MSI-X needs Linux 6.2+ and MSI-X enabled`);
      }
      const hwsize = dev.info.msix?.tableSize ?? 0;
      const domain = pciMsiDomainFor(k, dev, 'msix');
      return msiDomainAllocIrqAt(
        k,
        p,
        dev,
        'msix',
        domain,
        { index, hwsize },
        (i) => msixDesc(i, pciMsixReadVectorCtrl(k, p, dev, i), affinity),
        { activate: true, canReserve: true },
      );
    },
  );
}

/** `pci_msix_free_irq`: that vector only. */
export function pciMsixFreeIrq(
  k: KernelState,
  p: KernelPlatform,
  bdf: string,
  index: number,
): IrqResult {
  return withOp(k, `pci_msix_free_irq(${bdf}, ${index})`, () => {
    const dev = k.devices[bdf];
    if (dev === undefined) return fail('ENODEV', `no PCI function ${bdf}`);
    const desc = dev.descs.msix[index];
    if (desc === undefined) return fail('ENOENT', `${bdf}: no MSI-X vector at ${index}`);
    if (desc.irq !== 0 && (k.descs[desc.irq]?.actions.length ?? 0) > 0) {
      return fail('EBUSY', `${bdf}: MSI-X vector ${index} is still requested`);
    }
    msiDomainFreeIrqsRange(k, p, dev, 'msix', { first: index, last: index });
    return OK;
  });
}

export { MSI_ANY_INDEX };
