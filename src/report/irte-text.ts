// `irqlab decode irte` output: a VT-d IRTE as text (summary line, then every field with its bits
// and the spec's meaning, then reserved-bit violations, which hardware faults with reason 24h) or
// as JSON (camelCase spec field names). See hw/vtd/irte.ts for the formats.

import { decode, namedFields } from '../hw/bits.js';
import { bdfOfRequesterId, formatBdf } from '../hw/pci/bdf.js';
import {
  type DecodedIrte,
  IRTE_POSTED,
  IRTE_REMAPPED,
  type IrteModeOptions,
  irteApicId,
  postedDescriptorAddress,
  SID_BUS_RANGE,
  SOURCE_VALIDATION_TYPE,
} from '../hw/vtd/irte.js';
import { DELIVERY_MODE_NAMES, deliveryModeName } from '../hw/x86/msi-message.js';
import { formatFieldValue, formatRows, layoutRows, type ValueNames } from './field-table-text.js';
import { DESTINATION_MODE_NAMES, TRIGGER_MODE_NAMES } from './msi-text.js';

const NAMES: ValueNames = {
  destinationMode: DESTINATION_MODE_NAMES,
  triggerMode: TRIGGER_MODE_NAMES,
  deliveryMode: DELIVERY_MODE_NAMES,
  irteMode: ['remapped', 'posted'],
  sourceValidationType: ['none', 'requester-id', 'bus range', 'reserved'],
  sourceIdQualifier: ['all 16 bits', 'ignore bit 2', 'ignore bits 2:1', 'ignore bits 2:0'],
};

type SourceFields = { sourceId: number; sourceIdQualifier: number; sourceValidationType: number };

/** "source-id 00:05.0 (SVT 1 requester-id, SQ 0)", or the bus range, or "no source-id check". */
export function sourceIdSummary(f: SourceFields): string {
  switch (f.sourceValidationType) {
    case SOURCE_VALIDATION_TYPE.none:
      return 'no source-id check (SVT 0)';
    case SOURCE_VALIDATION_TYPE.requesterId:
      return (
        `source-id ${formatBdf(bdfOfRequesterId(f.sourceId), { withSegment: false })} ` +
        `(SVT 1, SQ ${f.sourceIdQualifier}: ${NAMES.sourceIdQualifier[f.sourceIdQualifier]})`
      );
    case SOURCE_VALIDATION_TYPE.busRange: {
      const r = decode(SID_BUS_RANGE, [f.sourceId]);
      return `requester bus ${hex8(r.startBus)}..${hex8(r.endBus)} (SVT 2)`;
    }
    default:
      return 'SVT 3 (reserved: every request faults)';
  }
}

export function irteSummary(e: DecodedIrte, opts: IrteModeOptions): string {
  const f = e.fields;
  const present = f.present ? 'present' : 'NOT present';
  if (e.format === 'posted') {
    return (
      `posted IRTE, ${present}: virtual vector ${formatFieldValue(e.fields.virtualVector, 8)}` +
      `${e.fields.urgent ? ' urgent' : ''} -> descriptor at ${pdaText(e.fields)}; ` +
      sourceIdSummary(f)
    );
  }
  const r = e.fields;
  const mode = opts.eime ? 'x2APIC' : 'xAPIC';
  return (
    `remapped IRTE, ${present}: vector ${formatFieldValue(r.vector, 8)} ` +
    `${deliveryModeName(r.deliveryMode)} ${TRIGGER_MODE_NAMES[r.triggerMode]} -> ${mode} ` +
    `destination ${formatFieldValue(irteApicId(r.destinationId, opts), opts.eime ? 32 : 8)} ` +
    `${DESTINATION_MODE_NAMES[r.destinationMode]}${r.redirectionHint ? ', RH' : ''}; ` +
    sourceIdSummary(f)
  );
}

export function formatIrteText(e: DecodedIrte, opts: IrteModeOptions, words: number[]): string {
  const raw = `  bits 127:64 ${hex64(words[3], words[2])}  bits 63:0 ${hex64(words[1], words[0])}`;
  const rows =
    e.format === 'posted'
      ? layoutRows(IRTE_POSTED, e.fields, NAMES)
      : layoutRows(IRTE_REMAPPED, e.fields, NAMES);
  const lines = [irteSummary(e, opts), raw, formatRows(rows)];
  if (e.reservedBitsSet.length > 0) {
    lines.push(
      `  reserved bits set: ${e.reservedBitsSet.join(', ')} (VT-d faults requests with reason 0x24)`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** `--json`: format, the fields, the APIC ID or descriptor address they mean, violations. */
export function irteJson(
  e: DecodedIrte,
  opts: IrteModeOptions,
  words: number[],
): Record<string, unknown> {
  const meaning =
    e.format === 'posted'
      ? { postedDescriptorAddress: pdaText(e.fields) }
      : { destination: irteApicId(e.fields.destinationId, opts) };
  return {
    format: e.format,
    eime: opts.eime,
    ...namedFields(e.fields as Record<string, number>),
    ...meaning,
    reservedBitsSet: e.reservedBitsSet,
    high: hex64(words[3], words[2]),
    low: hex64(words[1], words[0]),
  };
}

function pdaText(f: { pdaLow: number; pdaHigh: number }): string {
  const pda = postedDescriptorAddress(f);
  return hex64(pda.hi, pda.lo);
}

const hex8 = (v: number) => formatFieldValue(v, 8);
const hex64 = (hi: number, lo: number) =>
  `0x${(hi >>> 0).toString(16).padStart(8, '0')}${(lo >>> 0).toString(16).padStart(8, '0')}`;
