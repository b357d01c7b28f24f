// Text for a decoded bit layout: one row per field, "name  value  [hi:lo] meaning", aligned, the
// way a kernel engineer reads a register dump next to the spec's table. Reserved fields are shown
// only when set (they are what the hardware would fault on). Used by `irqlab decode msi|irte`.

import type { Decoded, FieldTable, Layout } from '../hw/bits.js';

export interface FieldRow {
  readonly name: string;
  readonly value: string;
  readonly note: string;
}

/** Names for enumerated field values, e.g. `{ triggerMode: ['edge', 'level'] }`. */
export type ValueNames = Readonly<Record<string, readonly string[]>>;

export function layoutRows<F extends FieldTable>(
  layout: Layout<F>,
  decoded: Decoded<F>,
  names: ValueNames = {},
): FieldRow[] {
  const rows: FieldRow[] = [];
  for (const field in layout.fields) {
    const [hi, lo, meaning] = layout.fields[field];
    const value = decoded[field];
    if (field.startsWith('reserved') && value === 0) continue;
    const named = names[field]?.[value];
    rows.push({
      name: field,
      value: formatFieldValue(value, hi - lo + 1),
      note: `${bitRange(hi, lo)} ${meaning}${named ? ` (${named})` : ''}`,
    });
  }
  return rows;
}

/** Single bits print as 0/1, wider fields in hex padded to their width. */
export function formatFieldValue(value: number, bits: number): string {
  if (bits === 1) return String(value);
  return `0x${value.toString(16).padStart(Math.ceil(bits / 4), '0')}`;
}

const bitRange = (hi: number, lo: number) => (hi === lo ? `[${hi}]` : `[${hi}:${lo}]`);

export function formatRows(rows: readonly FieldRow[], indent = '  '): string {
  const nameWidth = Math.max(0, ...rows.map((r) => r.name.length));
  const valueWidth = Math.max(0, ...rows.map((r) => r.value.length));
  return rows
    .map((r) => `${indent}${r.name.padEnd(nameWidth)}  ${r.value.padStart(valueWidth)}  ${r.note}`)
    .join('\n');
}

export const hex32 = (v: number): string => `0x${(v >>> 0).toString(16).padStart(8, '0')}`;
