// PCI/MSI register programming (drivers/pci/msi/msi.c): the exact config and MMIO accesses
// current Linux makes, because the `emulate` strategy's exit counts follow from them
// (`reference/perf-anchors.md` §1.3):
//  - message write (`__pci_write_msi_msg`): MSI-X entry: mask it first if Linux's cached Vector
//    Control says unmasked, write Message Address, Upper Address and Data, restore the mask,
//    then read Data back to flush; MSI: Message Control (Multiple Message Enable), Address,
//    Upper Address, Data, then read Message Control back;
//  - mask (`pci_msix_mask`): Vector Control with the Mask Bit, then a read of the table to
//    flush; unmask: Vector Control without it (no flush); MSI: the Mask Bits register;
//  - `pci_msix_clear_and_set_ctrl` / `pci_msi_set_enable`: read-modify-write of Message Control;
//  - `msix_mask_all`: the Vector Control of every table entry, masked.
// PCIe 6.1.4.5: "If software changes the Address or Data value of an entry while the entry is
// unmasked, the result is undefined" — hence the mask around the update.
// Invariant: `desc.pci.ctrl` mirrors what Linux last wrote (it never reads Vector Control after
// setting up the descriptor).
// Not modelled: `pci_msi_ignore_mask` (Xen), per-device quirks (broken INTx disable ...).

import { assert } from '../hw/errors.js';
import { MSI_MESSAGE_CONTROL, msiRegisterOffsets } from '../hw/pci/msi-capability.js';
import { MSIX_ENTRY_SIZE, MSIX_MESSAGE_CONTROL } from '../hw/pci/msix-capability.js';
import { MSIX_ENTRY_DWORD, MSIX_TABLE_ENTRY } from '../hw/pci/msix-table.js';
import type { MsiMsg } from './irqdomain.js';
import type { KernelState, MsiDesc, PciDev } from './kernel-state.js';
import { hwCfgRead, hwCfgWrite, hwMmioRead, hwMmioWrite, type KernelPlatform } from './platform.js';

const entryOffset = (index: number, dword: number) => index * MSIX_ENTRY_SIZE + dword * 4;

/** Vector Control with the Mask Bit set or cleared, other bits kept. */
export function withVectorMask(ctrl: number, masked: boolean): number {
  const entry = [0, 0, 0, ctrl];
  MSIX_TABLE_ENTRY.accessors.mask.set(entry, masked ? 1 : 0);
  return entry[MSIX_ENTRY_DWORD.vectorControl];
}

export const vectorMasked = (ctrl: number): boolean =>
  MSIX_TABLE_ENTRY.accessors.mask.get([0, 0, 0, ctrl]) === 1;

/** `readl(addr + PCI_MSIX_ENTRY_VECTOR_CTRL)` when a descriptor is set up. */
export function pciMsixReadVectorCtrl(
  k: KernelState,
  p: KernelPlatform,
  dev: PciDev,
  index: number,
): number {
  return hwMmioRead(
    k,
    p,
    dev.info.bdf,
    'msix-table',
    entryOffset(index, MSIX_ENTRY_DWORD.vectorControl),
  );
}

function pciMsixWriteVectorCtrl(k: KernelState, p: KernelPlatform, dev: PciDev, desc: MsiDesc) {
  const offset = entryOffset(desc.index, MSIX_ENTRY_DWORD.vectorControl);
  hwMmioWrite(k, p, dev.info.bdf, 'msix-table', offset, desc.pci.ctrl);
}

/** `__pci_write_msi_msg`. */
export function pciWriteMsiMsg(
  k: KernelState,
  p: KernelPlatform,
  dev: PciDev,
  desc: MsiDesc,
  msg: MsiMsg,
): void {
  const bdf = dev.info.bdf;
  if (desc.pci.isMsix) {
    if (!desc.pci.isVirtual) {
      const ctrl = desc.pci.ctrl;
      const unmasked = !vectorMasked(ctrl);
      if (unmasked) {
        const offset = entryOffset(desc.index, MSIX_ENTRY_DWORD.vectorControl);
        hwMmioWrite(k, p, bdf, 'msix-table', offset, withVectorMask(ctrl, true));
      }
      hwMmioWrite(
        k,
        p,
        bdf,
        'msix-table',
        entryOffset(desc.index, MSIX_ENTRY_DWORD.addrLo),
        msg.addrLo,
      );
      hwMmioWrite(
        k,
        p,
        bdf,
        'msix-table',
        entryOffset(desc.index, MSIX_ENTRY_DWORD.addrHi),
        msg.addrHi,
      );
      hwMmioWrite(
        k,
        p,
        bdf,
        'msix-table',
        entryOffset(desc.index, MSIX_ENTRY_DWORD.data),
        msg.data,
      );
      if (unmasked) pciMsixWriteVectorCtrl(k, p, dev, desc);
      hwMmioRead(k, p, bdf, 'msix-table', entryOffset(desc.index, MSIX_ENTRY_DWORD.data));
    }
  } else {
    const msi = dev.info.msi;
    assert(msi !== undefined, `${bdf}: MSI message for a function without MSI`);
    const at = msiRegisterOffsets(msi.is64, msi.perVectorMask);
    const ctlAt = msi.capOffset + MSI_MESSAGE_CONTROL.offset;
    const ctl = [hwCfgRead(k, p, bdf, ctlAt, 2)];
    MSI_MESSAGE_CONTROL.layout.accessors.multipleMessageEnable.set(ctl, desc.pci.multiple);
    hwCfgWrite(k, p, bdf, ctlAt, 2, ctl[0]);
    hwCfgWrite(k, p, bdf, msi.capOffset + at.messageAddress, 4, msg.addrLo);
    if (at.messageUpperAddress !== undefined) {
      hwCfgWrite(k, p, bdf, msi.capOffset + at.messageUpperAddress, 4, msg.addrHi);
    }
    hwCfgWrite(k, p, bdf, msi.capOffset + at.messageData, 2, msg.data);
    hwCfgRead(k, p, bdf, ctlAt, 2);
  }
  desc.msg = { ...msg };
}

/** `pci_msi_update_mask`: the MSI Mask Bits register (one bit per vector). */
function pciMsiUpdateMask(
  k: KernelState,
  p: KernelPlatform,
  dev: PciDev,
  desc: MsiDesc,
  clear: number,
  set: number,
): void {
  const msi = dev.info.msi;
  assert(msi?.perVectorMask, `${dev.info.bdf}: MSI without mask bits`);
  desc.pci.ctrl = ((desc.pci.ctrl & ~clear) | set) >>> 0;
  const maskAt = msiRegisterOffsets(msi.is64, msi.perVectorMask).maskBits;
  assert(maskAt !== undefined, `${dev.info.bdf}: MSI without mask bits`);
  hwCfgWrite(k, p, dev.info.bdf, msi.capOffset + maskAt, 4, desc.pci.ctrl);
}

/** Mask bits of every vector the descriptor covers (`msi_multi_mask`). */
export const msiMultiMask = (desc: MsiDesc): number => 2 ** desc.nvecUsed - 1;

/** `pci_msi_mask` / `pci_msix_mask` for vector `bit` of the descriptor. */
export function pciMsiMaskVector(
  k: KernelState,
  p: KernelPlatform,
  dev: PciDev,
  desc: MsiDesc,
  bits: number,
): void {
  if (!desc.pci.canMask) return;
  if (desc.pci.isMsix) {
    desc.pci.ctrl = withVectorMask(desc.pci.ctrl, true);
    pciMsixWriteVectorCtrl(k, p, dev, desc);
    // Flush write to device: Linux reads the table's first dword (`desc->pci.mask_base`).
    hwMmioRead(k, p, dev.info.bdf, 'msix-table', 0);
  } else {
    pciMsiUpdateMask(k, p, dev, desc, 0, bits);
  }
}

/** `pci_msi_unmask` / `pci_msix_unmask`. */
export function pciMsiUnmaskVector(
  k: KernelState,
  p: KernelPlatform,
  dev: PciDev,
  desc: MsiDesc,
  bits: number,
): void {
  if (!desc.pci.canMask) return;
  if (desc.pci.isMsix) {
    desc.pci.ctrl = withVectorMask(desc.pci.ctrl, false);
    pciMsixWriteVectorCtrl(k, p, dev, desc);
  } else {
    pciMsiUpdateMask(k, p, dev, desc, bits, 0);
  }
}

/** `pci_msix_clear_and_set_ctrl`: read-modify-write of MSI-X Message Control. */
export function pciMsixClearAndSetCtrl(
  k: KernelState,
  p: KernelPlatform,
  dev: PciDev,
  set: { msixEnable?: boolean; functionMask?: boolean },
): void {
  const msix = dev.info.msix;
  assert(msix !== undefined, `${dev.info.bdf}: no MSI-X capability`);
  const at = msix.capOffset + MSIX_MESSAGE_CONTROL.offset;
  const ctl = [hwCfgRead(k, p, dev.info.bdf, at, 2)];
  const a = MSIX_MESSAGE_CONTROL.layout.accessors;
  if (set.msixEnable !== undefined) a.msixEnable.set(ctl, set.msixEnable ? 1 : 0);
  if (set.functionMask !== undefined) a.functionMask.set(ctl, set.functionMask ? 1 : 0);
  hwCfgWrite(k, p, dev.info.bdf, at, 2, ctl[0]);
}

/** `pci_msi_set_enable`: read-modify-write of MSI Message Control. */
export function pciMsiSetEnable(k: KernelState, p: KernelPlatform, dev: PciDev, enable: boolean) {
  const msi = dev.info.msi;
  assert(msi !== undefined, `${dev.info.bdf}: no MSI capability`);
  const at = msi.capOffset + MSI_MESSAGE_CONTROL.offset;
  const ctl = [hwCfgRead(k, p, dev.info.bdf, at, 2)];
  MSI_MESSAGE_CONTROL.layout.accessors.msiEnable.set(ctl, enable ? 1 : 0);
  hwCfgWrite(k, p, dev.info.bdf, at, 2, ctl[0]);
}

/** `msix_mask_all`: Vector Control of each of the `tableSize` entries, masked. */
export function msixMaskAll(k: KernelState, p: KernelPlatform, dev: PciDev, tableSize: number) {
  const ctrl = withVectorMask(0, true);
  for (let i = 0; i < tableSize; i++) {
    hwMmioWrite(
      k,
      p,
      dev.info.bdf,
      'msix-table',
      entryOffset(i, MSIX_ENTRY_DWORD.vectorControl),
      ctrl,
    );
  }
}
