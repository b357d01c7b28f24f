// The PCI/MSI procedures of drivers/pci/msi/msi.c as data: the accesses each makes to one
// vector's registers, in order. One description per procedure (issue 10): the kernel runs a
// procedure straight through on its platform (`pci-msi.ts runMsiProcedure`), the machine runs
// the same description step by step, one access per step, trapped to the VMM or reaching the
// device (`machine/guest-entry.ts`, `machine/guest-msi.ts`), and each access's name is the
// step's name (what traces print and a check's `mutate:` drops).
//   pci_msix_mask      Vector Control := ctrl | MASKBIT, readl(mask_base) to flush it;
//   pci_msix_unmask    Vector Control := ctrl;
//   __pci_write_msi_msg, MSI-X, entry masked: address lo, upper address, data, readl(data);
//                      entry unmasked: masked first, then the three dwords, unmasked, readl(data)
//                      (PCIe 6.1.4.5: changing an unmasked entry's message is undefined);
//   __pci_write_msi_msg, MSI: Message Control read and written (Multiple Message Enable),
//                      address, upper address (64-bit capability), data, Message Control read
//                      back to flush;
//   pci_msi_update_mask  the Mask Bits register;
//   the IMS chip     the message's three dwords; the control dword with Mask.
// Invariants: a write's value depends only on the procedure's arguments and, for Message
// Control, on the value the procedure read from it just before (a read-modify-write).

import { MSI_MESSAGE_CONTROL } from '../hw/pci/msi-capability.js';
import { MSIX_ENTRY_DWORD, MSIX_TABLE_ENTRY } from '../hw/pci/msix-table.js';
import type { MsiMsg } from './irqdomain.js';

/** The registers of one vector a procedure touches: its MSI-X entry's dwords and the table
 *  base (`mask_base`, read to flush), or its MSI capability's registers. */
export type MsiRegister =
  | 'addrLo'
  | 'addrHi'
  | 'data'
  | 'vectorControl'
  | 'maskBase'
  | 'messageControl'
  | 'maskBits';

export interface MsiProcedureArgs {
  /** The message written (message writes). */
  readonly msg: MsiMsg;
  /** Linux's cached Vector Control (`desc->pci.msix_ctrl`), or the Mask Bits to write (MSI). */
  readonly ctrl: number;
  /** MSI: Multiple Message Enable of the descriptor (log2 of the vectors). */
  readonly multiple: number;
}

export interface MsiAccess {
  /** The line of Linux it is. */
  readonly name: string;
  readonly register: MsiRegister;
  /** The value written, or null for a read; `controlRead` is the Message Control value the
   *  procedure read before it. */
  readonly value: ((a: MsiProcedureArgs, controlRead: number) => number) | null;
}

/** Vector Control with the Mask Bit set or cleared, other bits kept. */
export function withVectorMask(ctrl: number, masked: boolean): number {
  const entry = [0, 0, 0, ctrl];
  MSIX_TABLE_ENTRY.accessors.mask.set(entry, masked ? 1 : 0);
  return entry[MSIX_ENTRY_DWORD.vectorControl];
}

export const vectorMasked = (ctrl: number): boolean =>
  MSIX_TABLE_ENTRY.accessors.mask.get([0, 0, 0, ctrl]) === 1;

const write = (
  name: string,
  register: MsiRegister,
  value: (a: MsiProcedureArgs, controlRead: number) => number,
): MsiAccess => ({ name, register, value });
const read = (name: string, register: MsiRegister): MsiAccess => ({ name, register, value: null });

const VECTOR_CTRL_MASK = write('pci_msix_write_vector_ctrl(mask)', 'vectorControl', (a) =>
  withVectorMask(a.ctrl, true),
);
const VECTOR_CTRL_UNMASK = write('pci_msix_write_vector_ctrl(unmask)', 'vectorControl', (a) =>
  withVectorMask(a.ctrl, false),
);
const MSIX_MESSAGE: readonly MsiAccess[] = [
  write('writel(address_lo)', 'addrLo', (a) => a.msg.addrLo),
  write('writel(address_hi)', 'addrHi', (a) => a.msg.addrHi),
  write('writel(data)', 'data', (a) => a.msg.data),
];
const MSIX_FLUSH = read('readl(data)', 'data');

export const PCI_MSIX_MASK: readonly MsiAccess[] = [
  VECTOR_CTRL_MASK,
  read('readl(mask_base)', 'maskBase'),
];
export const PCI_MSIX_UNMASK: readonly MsiAccess[] = [VECTOR_CTRL_UNMASK];
/** __pci_write_msi_msg of an MSI-X entry Linux holds masked. */
export const PCI_MSIX_WRITE_MSG_MASKED: readonly MsiAccess[] = [...MSIX_MESSAGE, MSIX_FLUSH];
/** __pci_write_msi_msg of an MSI-X entry Linux holds unmasked. */
export const PCI_MSIX_WRITE_MSG_UNMASKED: readonly MsiAccess[] = [
  VECTOR_CTRL_MASK,
  ...MSIX_MESSAGE,
  VECTOR_CTRL_UNMASK,
  MSIX_FLUSH,
];

/** The IMS chip (`ims.ts`, the IMS series' irq-ims-msi.c): the message's three dwords, no flush
 *  read; the control dword with Mask (bit 0, as MSI-X Vector Control's). */
export const IMS_WRITE_MSG: readonly MsiAccess[] = MSIX_MESSAGE;
export const IMS_MASK: readonly MsiAccess[] = [
  write('ims_write_ctrl(mask)', 'vectorControl', (a) => withVectorMask(a.ctrl, true)),
];
export const IMS_UNMASK: readonly MsiAccess[] = [
  write('ims_write_ctrl(unmask)', 'vectorControl', (a) => withVectorMask(a.ctrl, false)),
];

/** Message Control with the descriptor's Multiple Message Enable, as it was read. */
function withMultiple(controlRead: number, multiple: number): number {
  const ctl = [controlRead];
  MSI_MESSAGE_CONTROL.layout.accessors.multipleMessageEnable.set(ctl, multiple);
  return ctl[0];
}

/** __pci_write_msi_msg of an MSI (a 64-bit capability, or not). */
export function pciMsiWriteMsg(is64: boolean): readonly MsiAccess[] {
  return [
    read('pci_read_config_word(PCI_MSI_FLAGS)', 'messageControl'),
    write('pci_write_config_word(PCI_MSI_FLAGS)', 'messageControl', (a, ctl) =>
      withMultiple(ctl, a.multiple),
    ),
    write('pci_write_config_dword(ADDRESS_LO)', 'addrLo', (a) => a.msg.addrLo),
    ...(is64 ? [write('pci_write_config_dword(ADDRESS_HI)', 'addrHi', (a) => a.msg.addrHi)] : []),
    write(`pci_write_config_word(DATA_${is64 ? 64 : 32})`, 'data', (a) => a.msg.data),
    read('pci_read_config_word(PCI_MSI_FLAGS: flush)', 'messageControl'),
  ];
}

/** pci_msi_update_mask: the Mask Bits register, `ctrl` its new value. */
export const PCI_MSI_UPDATE_MASK: readonly MsiAccess[] = [
  write('pci_msi_update_mask', 'maskBits', (a) => a.ctrl),
];
