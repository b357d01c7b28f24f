// Small formatting helpers shared by the lspci-style reports: pciutils prints flags as `Name+` /
// `Name-` and numbers with C printf widths; these reproduce exactly those forms.

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
