// The MSI capability structure (PCI Express Base Spec 6.0, section 7.7.1 "MSI Capability
// Structures"; PCI Local Bus Spec 3.0, 6.8.1). Four layouts share one Message Control register:
// 32- or 64-bit Message Address, with or without Per-Vector Masking; the register offsets follow
// from bits 7 and 8 of Message Control (the spec's four "MSI Capability Structure for 32-bit/64-bit
// Message Address [and Per-vector Masking]" figures).
// Invariants: Multiple Message Enable never exceeds Multiple Message Capable (software's rule; the
// decoder reports both as they are); Mask and Pending Bits exist only with Per-Vector Masking.
// Not modelled: the Extended Message Data register's effect on the data the function sends (it
// is decoded and written like any RW register).

import { defineLayout } from '../bits.js';
import { InputError } from '../errors.js';
import { type ConfigRegister, defineRegister } from './config-register.js';
import { type ConfigSpace, readConfigDword, readConfigWord, readRegister } from './config-space.js';

/** Multiple Message Capable/Enable are log2 of a count in 3 bits; 0-5 are defined (1-32). */
export const MSI_VECTORS_MAX = 32;
export const MSI_MULTIPLE_MESSAGE_LOG2_MAX = 5;

export const MSI_MESSAGE_CONTROL = defineRegister(
  'MSI Message Control',
  0x02,
  2,
  defineLayout(
    'msi-message-control',
    32,
    'PCIe Base Spec 6.0, 7.7.1.2 Message Control Register for MSI',
    {
      msiEnable: [0, 0, 'MSI Enable'],
      multipleMessageCapable: [3, 1, 'Multiple Message Capable: log2 of the vectors requested'],
      multipleMessageEnable: [6, 4, 'Multiple Message Enable: log2 of the vectors allocated'],
      address64BitCapable: [7, 7, '64 bit Address Capable'],
      perVectorMaskingCapable: [8, 8, 'Per-Vector Masking Capable'],
      extendedMessageDataCapable: [9, 9, 'Extended Message Data Capable'],
      extendedMessageDataEnable: [10, 10, 'Extended Message Data Enable'],
      reserved: [15, 11, 'Reserved'],
    },
    { complete: false },
  ),
  {
    msiEnable: 'RW',
    multipleMessageCapable: 'RO',
    multipleMessageEnable: 'RW',
    address64BitCapable: 'RO',
    perVectorMaskingCapable: 'RO',
    extendedMessageDataCapable: 'RO',
    // RW when Extended Message Data Capable is set, RO 0 otherwise: config-write.ts checks that.
    extendedMessageDataEnable: 'RW',
    reserved: 'RsvdP',
  },
);

const MESSAGE_ADDRESS_LAYOUT = defineLayout(
  'msi-message-address',
  32,
  'PCIe Base Spec 6.0, 7.7.1.3 Message Address Register for MSI',
  {
    reserved: [1, 0, 'Reserved: the address is DWORD aligned'],
    messageAddress: [31, 2, 'Message Address bits 31:2'],
  },
  { complete: true },
);

const UPPER_ADDRESS_LAYOUT = defineLayout(
  'msi-message-upper-address',
  32,
  'PCIe Base Spec 6.0, 7.7.1.4 Message Upper Address Register for MSI',
  { messageUpperAddress: [31, 0, 'Message Address bits 63:32'] },
  { complete: true },
);

const MESSAGE_DATA_LAYOUT = defineLayout(
  'msi-message-data',
  32,
  'PCIe Base Spec 6.0, 7.7.1.5 Message Data Register for MSI',
  { messageData: [15, 0, 'Message Data'] },
  { complete: false },
);

const EXTENDED_DATA_LAYOUT = defineLayout(
  'msi-extended-message-data',
  32,
  'PCIe Base Spec 6.0, 7.7.1.6 Extended Message Data Register for MSI',
  { extendedMessageData: [15, 0, 'Extended Message Data (upper 16 bits of the DWORD sent)'] },
  { complete: false },
);

const MASK_BITS_LAYOUT = defineLayout(
  'msi-mask-bits',
  32,
  'PCIe Base Spec 6.0, 7.7.1.7 Mask Bits Register for MSI',
  { maskBits: [31, 0, 'one bit per vector; 1 = masked'] },
  { complete: true },
);

const PENDING_BITS_LAYOUT = defineLayout(
  'msi-pending-bits',
  32,
  'PCIe Base Spec 6.0, 7.7.1.8 Pending Bits Register for MSI',
  { pendingBits: [31, 0, 'one bit per vector; 1 = a message is pending'] },
  { complete: true },
);

export interface MsiRegisterOffsets {
  messageAddress: number;
  messageUpperAddress: number | undefined;
  messageData: number;
  extendedMessageData: number;
  maskBits: number | undefined;
  pendingBits: number | undefined;
  /** Bytes the structure occupies (through Extended Message Data or Pending Bits). */
  size: number;
}

/** Register offsets from the capability start, per the spec's four MSI structure figures. */
export function msiRegisterOffsets(
  is64Bit: boolean,
  perVectorMasking: boolean,
): MsiRegisterOffsets {
  const data = is64Bit ? 0x0c : 0x08;
  const mask = perVectorMasking ? data + 4 : undefined;
  return {
    messageAddress: 0x04,
    messageUpperAddress: is64Bit ? 0x08 : undefined,
    messageData: data,
    extendedMessageData: data + 2,
    maskBits: mask,
    pendingBits: mask === undefined ? undefined : mask + 4,
    size: mask === undefined ? data + 4 : mask + 8,
  };
}

/** The registers of one MSI structure variant, for decoding and for `configWrite`. */
export const msiRegisters = (
  is64Bit: boolean,
  perVectorMasking: boolean,
): readonly ConfigRegister[] => MSI_VARIANTS[(is64Bit ? 2 : 0) + (perVectorMasking ? 1 : 0)];

function buildMsiRegisters(is64Bit: boolean, perVectorMasking: boolean): ConfigRegister[] {
  const at = msiRegisterOffsets(is64Bit, perVectorMasking);
  const registers: ConfigRegister[] = [
    MSI_MESSAGE_CONTROL,
    defineRegister('MSI Message Address', at.messageAddress, 4, MESSAGE_ADDRESS_LAYOUT, {
      reserved: 'RsvdP',
      messageAddress: 'RW',
    }),
  ];
  if (at.messageUpperAddress !== undefined) {
    registers.push(
      defineRegister('MSI Message Upper Address', at.messageUpperAddress, 4, UPPER_ADDRESS_LAYOUT, {
        messageUpperAddress: 'RW',
      }),
    );
  }
  registers.push(
    defineRegister('MSI Message Data', at.messageData, 2, MESSAGE_DATA_LAYOUT, {
      messageData: 'RW',
    }),
    defineRegister('MSI Extended Message Data', at.extendedMessageData, 2, EXTENDED_DATA_LAYOUT, {
      extendedMessageData: 'RW',
    }),
  );
  if (at.maskBits !== undefined && at.pendingBits !== undefined) {
    registers.push(
      defineRegister('MSI Mask Bits', at.maskBits, 4, MASK_BITS_LAYOUT, { maskBits: 'RW' }),
      defineRegister('MSI Pending Bits', at.pendingBits, 4, PENDING_BITS_LAYOUT, {
        pendingBits: 'RO',
      }),
    );
  }
  return registers;
}

/** The four variants, built once: index (64-bit ? 2 : 0) + (per-vector masking ? 1 : 0). */
const MSI_VARIANTS: readonly (readonly ConfigRegister[])[] = [
  buildMsiRegisters(false, false),
  buildMsiRegisters(false, true),
  buildMsiRegisters(true, false),
  buildMsiRegisters(true, true),
];

export interface MsiCapability {
  offset: number;
  msiEnable: boolean;
  /** Vectors the function asks for: 2^(Multiple Message Capable). */
  multipleMessageCapable: number;
  /** Vectors software allocated: 2^(Multiple Message Enable). */
  multipleMessageEnable: number;
  is64Bit: boolean;
  perVectorMasking: boolean;
  extendedMessageDataCapable: boolean;
  extendedMessageDataEnable: boolean;
  /** Message Address bits 31:0 (bits 1:0 as stored; the spec reserves them). */
  messageAddress: number;
  /** Message Upper Address; 0 for a 32-bit structure. */
  messageUpperAddress: number;
  messageData: number;
  extendedMessageData: number;
  /** undefined without Per-Vector Masking. */
  maskBits: number | undefined;
  pendingBits: number | undefined;
}

const CONTROL = MSI_MESSAGE_CONTROL.layout.accessors;

/** Reads the MSI structure at `offset` (the capability's pointer). */
export function decodeMsiCapability(space: ConfigSpace, offset: number): MsiCapability {
  const control = [readRegister(space, offset, MSI_MESSAGE_CONTROL)];
  const is64Bit = CONTROL.address64BitCapable.get(control) === 1;
  const perVectorMasking = CONTROL.perVectorMaskingCapable.get(control) === 1;
  const at = msiRegisterOffsets(is64Bit, perVectorMasking);
  if (offset + at.size > space.bytes.length) {
    throw new InputError(
      `MSI capability at 0x${offset.toString(16)}`,
      `its ${at.size} bytes run past the end of the ${space.bytes.length}-byte config space`,
    );
  }
  const dword = (register: number) => readConfigDword(space, offset + register);
  return {
    offset,
    msiEnable: CONTROL.msiEnable.get(control) === 1,
    multipleMessageCapable: 2 ** CONTROL.multipleMessageCapable.get(control),
    multipleMessageEnable: 2 ** CONTROL.multipleMessageEnable.get(control),
    is64Bit,
    perVectorMasking,
    extendedMessageDataCapable: CONTROL.extendedMessageDataCapable.get(control) === 1,
    extendedMessageDataEnable: CONTROL.extendedMessageDataEnable.get(control) === 1,
    messageAddress: dword(at.messageAddress),
    messageUpperAddress: at.messageUpperAddress === undefined ? 0 : dword(at.messageUpperAddress),
    messageData: readConfigWord(space, offset + at.messageData),
    extendedMessageData: readConfigWord(space, offset + at.extendedMessageData),
    maskBits: at.maskBits === undefined ? undefined : dword(at.maskBits),
    pendingBits: at.pendingBits === undefined ? undefined : dword(at.pendingBits),
  };
}
