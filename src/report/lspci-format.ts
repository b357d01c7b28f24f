// Small formatting helpers shared by the lspci-style reports: pciutils prints flags as `Name+` /
// `Name-` and numbers with C printf widths; these reproduce exactly those forms.

import { InputError } from '../hw/errors.js';

/** pciutils' FLAG(): '+' when set, '-' when clear. */
export const flag = (value: number | boolean): string => (value ? '+' : '-');

/** printf("%0Nx"): lower-case hex, zero-padded to `width`. */
export const hex = (value: number, width: number): string =>
  (value >>> 0).toString(16).padStart(width, '0');

/** printf("%#02x") as pciutils uses it for unknown IDs: "0" for zero, else "0x" and the digits. */
export const alternateHex = (value: number): string =>
  value === 0 ? '0' : `0x${value.toString(16).padStart(2, '0')}`;

/** printf("%g") for the small values lspci prints (watts): 6 significant digits, no trailing 0s. */
export const printfG = (value: number): string => String(Number(value.toPrecision(6)));

/** Bit `bit` of a decoded vector field (e.g. ASPM Support, Supported Link Speeds Vector). */
export const bitSet = (vector: number, bit: number): boolean =>
  Math.floor(vector / 2 ** bit) % 2 === 1;

/**
 * lspci prints a capability's title, then fetches the bytes of its block and prints nothing more
 * when they are not there (`if (!config_fetch(...)) return;`). The decoders reject a structure
 * that runs past the dump with an InputError; that is the same "not there", so the block is left
 * out and the lines before it stay.
 */
export function titled(before: string[], block: () => string[]): string[] {
  try {
    return [...before, ...block()];
  } catch (error) {
    if (error instanceof InputError) return before;
    throw error;
  }
}
