// PCI/MSI register programming (drivers/pci/msi/msi.c): the exact config and MMIO accesses
// current Linux makes, because the `emulate` strategy's exit counts follow from them
// (`reference/perf-anchors.md` §1.3). The per-vector procedures are data in `msi-procedures.ts`,
// run here straight through (`runMsiProcedure`) and by the machine one access per step:
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
import { MSIX_ENTRY_DWORD } from '../hw/pci/msix-table.js';
import type { MsiMsg } from './irqdomain.js';
import type { KernelState, MsiDesc, PciDev } from './kernel-state.js';
import {
  type MsiAccess,
  type MsiProcedureArgs,
  type MsiRegister,
  PCI_MSI_UPDATE_MASK,
  PCI_MSIX_MASK,
  PCI_MSIX_UNMASK,
  PCI_MSIX_WRITE_MSG_MASKED,
  PCI_MSIX_WRITE_MSG_UNMASKED,
  pciMsiWriteMsg,
  vectorMasked,
  withVectorMask,
} from './msi-procedures.js';
import { hwCfgRead, hwCfgWrite, hwMmioRead, hwMmioWrite, type KernelPlatform } from './platform.js';

const entryOffset = (index: number, dword: number) => index * MSIX_ENTRY_SIZE + dword * 4;

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

const MSIX_DWORD_OF: Partial<Record<MsiRegister, number>> = {
  addrLo: MSIX_ENTRY_DWORD.addrLo,
  addrHi: MSIX_ENTRY_DWORD.addrHi,
  data: MSIX_ENTRY_DWORD.data,
  vectorControl: MSIX_ENTRY_DWORD.vectorControl,
};

/** The MMIO region an entry procedure's vector lives in (its MSI-X table or IMS slice: entries of
 *  the same 16 bytes), or null for an MSI capability in config space. */
export type EntryRegion = 'msix-table' | 'ims' | null;

/** Where each register of a procedure's vector is: the entry's dwords and the table base in its
 *  region, or the MSI capability's registers (config offset and size). */
function accessAt(dev: PciDev, desc: MsiDesc, register: MsiRegister, region: EntryRegion) {
  if (region !== null) {
    // readl(desc->pci.mask_base): the table's first dword
    const dword = MSIX_DWORD_OF[register];
    assert(register === 'maskBase' || dword !== undefined, `MSI-X entry: no register ${register}`);
    const offset = dword === undefined ? 0 : entryOffset(desc.index, dword);
    return { space: 'mmio' as const, offset, size: 4 as const };
  }
  const msi = dev.info.msi;
  assert(msi !== undefined, `${dev.info.bdf}: MSI procedure for a function without MSI`);
  const at = msiRegisterOffsets(msi.is64, msi.perVectorMask);
  const regs: Partial<Record<MsiRegister, [number | undefined, 2 | 4]>> = {
    addrLo: [at.messageAddress, 4],
    addrHi: [at.messageUpperAddress, 4],
    data: [at.messageData, 2],
    messageControl: [MSI_MESSAGE_CONTROL.offset, 2],
    maskBits: [at.maskBits, 4],
  };
  const [offset, size] = regs[register] ?? [undefined, 4];
  assert(offset !== undefined, `${dev.info.bdf}: MSI capability has no ${register}`);
  return { space: 'cfg' as const, offset: msi.capOffset + offset, size };
}

/** Runs `procedure` (msi-procedures.ts) on the vector of `desc`, straight through: the same
 *  accesses the machine runs one per step. */
export function runMsiProcedure(
  k: KernelState,
  p: KernelPlatform,
  dev: PciDev,
  desc: MsiDesc,
  procedure: readonly MsiAccess[],
  args: MsiProcedureArgs,
  region: EntryRegion = desc.pci.isMsix ? 'msix-table' : null,
): void {
  const bdf = dev.info.bdf;
  let controlRead = 0;
  for (const access of procedure) {
    const at = accessAt(dev, desc, access.register, region);
    if (access.value === null) {
      const v =
        region !== null
          ? hwMmioRead(k, p, bdf, region, at.offset)
          : hwCfgRead(k, p, bdf, at.offset, at.size);
      if (access.register === 'messageControl') controlRead = v;
      continue;
    }
    const value = access.value(args, controlRead);
    if (region !== null) hwMmioWrite(k, p, bdf, region, at.offset, value);
    else hwCfgWrite(k, p, bdf, at.offset, at.size, value);
  }
}

/** `__pci_write_msi_msg`. */
export function pciWriteMsiMsg(
  k: KernelState,
  p: KernelPlatform,
  dev: PciDev,
  desc: MsiDesc,
  msg: MsiMsg,
): void {
  const args = { msg, ctrl: desc.pci.ctrl, multiple: desc.pci.multiple };
  if (desc.pci.isMsix) {
    if (!desc.pci.isVirtual) {
      const procedure = vectorMasked(desc.pci.ctrl)
        ? PCI_MSIX_WRITE_MSG_MASKED
        : PCI_MSIX_WRITE_MSG_UNMASKED;
      runMsiProcedure(k, p, dev, desc, procedure, args);
    }
  } else {
    const msi = dev.info.msi;
    assert(msi !== undefined, `${dev.info.bdf}: MSI message for a function without MSI`);
    runMsiProcedure(k, p, dev, desc, pciMsiWriteMsg(msi.is64), args);
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
  assert(dev.info.msi?.perVectorMask, `${dev.info.bdf}: MSI without mask bits`);
  desc.pci.ctrl = ((desc.pci.ctrl & ~clear) | set) >>> 0;
  const args = { msg: desc.msg, ctrl: desc.pci.ctrl, multiple: desc.pci.multiple };
  runMsiProcedure(k, p, dev, desc, PCI_MSI_UPDATE_MASK, args);
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
    const args = { msg: desc.msg, ctrl: desc.pci.ctrl, multiple: 0 };
    runMsiProcedure(k, p, dev, desc, PCI_MSIX_MASK, args);
    desc.pci.ctrl = withVectorMask(desc.pci.ctrl, true);
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
    const args = { msg: desc.msg, ctrl: desc.pci.ctrl, multiple: 0 };
    runMsiProcedure(k, p, dev, desc, PCI_MSIX_UNMASK, args);
    desc.pci.ctrl = withVectorMask(desc.pci.ctrl, false);
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
