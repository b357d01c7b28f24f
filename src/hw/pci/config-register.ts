// One register of PCI configuration space: where it sits inside its structure (the header or a
// capability), how wide it is, its bit layout with the spec's field names and bit numbers, and the
// attribute of each field (PCI Express Base Spec 6.0, section 7.4 "Configuration Register Types").
//
// A 1- or 2-byte register is a 32-bit layout whose fields cover exactly its 8 or 16 bits, numbered
// as the spec numbers the register (Message Control bit 0 is MSI Enable); `checkRegister` asserts
// that every bit of the register belongs to exactly one field. The attributes are data, next to the
// layout, so that a software write (`config-write.ts`) is one function over this table.
// Not modelled: the sticky variants (ROS/RWS/RW1CS) differ only across a reset, which irqlab does
// not model, so they behave as RO/RW/RW1C; HwInit behaves as RO.

import { type Decoded, decode, type FieldTable, type Layout } from '../bits.js';
import { InvariantError } from '../errors.js';

/** PCIe Base Spec 6.0, Table 7-2 "Register and Register Bit-Field Types". */
export type RegisterAttribute =
  | 'RO' // read-only; hardware may change it (e.g. Pending Bits)
  | 'HwInit' // set by hardware/firmware at initialisation, read-only afterwards
  | 'RW' // read-write
  | 'RW1C' // read; writing 1 clears the bit, writing 0 has no effect
  | 'RsvdP' // reserved, read 0; software preserves it, so a write leaves the stored value
  | 'RsvdZ'; // reserved, read 0; software writes 0, stored value forced to 0

export type RegisterSize = 1 | 2 | 4;

export interface ConfigRegister<F extends FieldTable = FieldTable> {
  readonly name: string;
  /** Byte offset from the start of the structure (header: 0; a capability: its pointer). */
  readonly offset: number;
  readonly size: RegisterSize;
  readonly layout: Layout<F>;
  readonly attributes: Readonly<Record<keyof F & string, RegisterAttribute>>;
}

/** Builds a register entry and checks it against its layout (irqlab invariant, not input). */
export function defineRegister<F extends FieldTable>(
  name: string,
  offset: number,
  size: RegisterSize,
  layout: Layout<F>,
  attributes: Readonly<Record<keyof F & string, RegisterAttribute>>,
): ConfigRegister<F> {
  const register = { name, offset, size, layout, attributes };
  checkRegister(register);
  return register;
}

/** Every bit of the register is in exactly one field, no field lies beyond it, every field has an
 *  attribute, and the register is naturally aligned (config accesses are). */
export function checkRegister(register: ConfigRegister): void {
  const bits = register.size * 8;
  const covered = new Array<boolean>(bits).fill(false);
  for (const field in register.layout.fields) {
    const [hi, lo] = register.layout.fields[field];
    if (hi >= bits) {
      throw new InvariantError(`${register.name}.${field}: bit ${hi} is beyond ${bits} bits`);
    }
    for (let bit = lo; bit <= hi; bit++) covered[bit] = true;
    if (register.attributes[field] === undefined) {
      throw new InvariantError(`${register.name}.${field}: no attribute`);
    }
  }
  const gap = covered.indexOf(false);
  if (gap >= 0) throw new InvariantError(`${register.name}: bit ${gap} belongs to no field`);
  if (register.offset % register.size !== 0) {
    throw new InvariantError(`${register.name}: offset ${register.offset} is not aligned`);
  }
}

/** Decodes a register value already read from config space. */
export const decodeRegisterValue = <F extends FieldTable>(
  register: ConfigRegister<F>,
  value: number,
): Decoded<F> => decode(register.layout, [value >>> 0]);

/**
 * The register's value after software writes `written` over `old` (both the register's full
 * width): RW bits take the write, RW1C bits clear where 1 is written, RO/HwInit and RsvdP keep,
 * RsvdZ become 0. `writeMask` limits the write to the bytes the access covered (a byte write to
 * a 16-bit register touches only 8 of its bits).
 */
export function applyRegisterWrite(
  register: ConfigRegister,
  old: number,
  written: number,
  writeMask: number,
): number {
  const words = [old >>> 0];
  const input = [written >>> 0];
  const touched = [writeMask >>> 0];
  for (const field in register.layout.accessors) {
    const accessor = register.layout.accessors[field];
    const mask = accessor.get(touched);
    if (mask === 0) continue;
    const before = accessor.get(words);
    const value = accessor.get(input);
    const keep = before & ~mask;
    let after: number;
    switch (register.attributes[field]) {
      case 'RW':
        after = keep | (value & mask);
        break;
      case 'RW1C':
        after = before & ~(value & mask);
        break;
      case 'RsvdZ':
        after = keep;
        break;
      case 'RO':
      case 'HwInit':
      case 'RsvdP':
        after = before;
        break;
    }
    accessor.set(words, after >>> 0);
  }
  return words[0];
}
