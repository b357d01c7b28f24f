// `irqlab decode msi` output: an x86 interrupt message as text (a summary line a kernel engineer
// recognises, then every field with its bits and the spec's meaning) or as JSON (the decoder's
// fields, camelCase spec names). See hw/x86/msi-message.ts for the formats.

import { decode } from '../hw/bits.js';
import {
  DELIVERY_MODE_NAMES,
  type DecodedMsi,
  deliveryModeName,
  MSI_ADDRESS_COMPAT,
  MSI_ADDRESS_REMAPPABLE,
  MSI_DATA_COMPAT,
  MSI_DATA_REMAPPABLE,
  type MsiMessage,
} from '../hw/x86/msi-message.js';
import {
  formatFieldValue,
  formatRows,
  hex32,
  layoutRows,
  type ValueNames,
} from './field-table-text.js';

export const DESTINATION_MODE_NAMES = ['physical', 'logical'] as const;
export const TRIGGER_MODE_NAMES = ['edge', 'level'] as const;

const NAMES: ValueNames = {
  destinationMode: DESTINATION_MODE_NAMES,
  triggerMode: TRIGGER_MODE_NAMES,
  deliveryMode: DELIVERY_MODE_NAMES,
  interruptFormat: ['compatibility', 'remappable'],
};

/** The one-line summary, e.g. "remappable: handle 32 (SHV, subhandle 0) -> IRTE 32". */
export function msiSummary(m: DecodedMsi): string {
  switch (m.format) {
    case 'not-interrupt':
      return `not an interrupt message: ${m.reason}`;
    case 'remappable': {
      const sub = m.shv ? `SHV, subhandle ${m.subhandle}` : 'no SHV';
      return `remappable: handle ${m.handle} (${sub}) -> IRTE ${m.interruptIndex}`;
    }
    case 'compatibility': {
      const dest = formatFieldValue(m.destinationId, 8);
      const ext = m.extendedDestinationId
        ? ` (extended destination ID ${formatFieldValue(m.extendedDestinationId, 7)})`
        : '';
      const rh = m.redirectionHint ? ', redirection hint' : '';
      return (
        `compatibility: vector ${formatFieldValue(m.vector, 8)} ${deliveryModeName(m.deliveryMode)} ` +
        `${TRIGGER_MODE_NAMES[m.triggerMode]} -> destination ${dest}${ext} ` +
        `${DESTINATION_MODE_NAMES[m.destinationMode]}${rh}`
      );
    }
  }
}

export function formatMsiText(m: DecodedMsi, raw: MsiMessage): string {
  const lines = [
    msiSummary(m),
    `  address ${hex32(raw.addrLo)}${upper(raw)}  data ${hex32(raw.data)}`,
  ];
  if (m.format === 'compatibility') {
    lines.push(
      formatRows([
        ...layoutRows(MSI_ADDRESS_COMPAT, decode(MSI_ADDRESS_COMPAT, [raw.addrLo]), NAMES),
        ...layoutRows(MSI_DATA_COMPAT, decode(MSI_DATA_COMPAT, [raw.data]), NAMES),
      ]),
    );
  }
  if (m.format === 'remappable') {
    lines.push(
      formatRows([
        ...layoutRows(MSI_ADDRESS_REMAPPABLE, decode(MSI_ADDRESS_REMAPPABLE, [raw.addrLo]), NAMES),
        ...layoutRows(MSI_DATA_REMAPPABLE, decode(MSI_DATA_REMAPPABLE, [raw.data])),
      ]),
    );
    lines.push(
      m.shv
        ? `  interrupt_index = handle + subhandle = ${m.interruptIndex}`
        : `  interrupt_index = handle = ${m.interruptIndex} (SHV clear: data is not a subhandle; ` +
            'an IOAPIC puts its RTE vector and trigger mode there)',
    );
  }
  if (m.format !== 'not-interrupt' && m.reservedBitsSet.length > 0) {
    lines.push(`  reserved bits set: ${m.reservedBitsSet.join(', ')}`);
  }
  return `${lines.join('\n')}\n`;
}

const upper = (raw: MsiMessage) => (raw.addrHi ? ` (upper ${hex32(raw.addrHi)})` : '');

/** `--json`: the decoded fields plus the raw dwords. */
export function msiJson(m: DecodedMsi, raw: MsiMessage): Record<string, unknown> {
  return {
    ...m,
    addressLow: hex32(raw.addrLo),
    addressHigh: hex32(raw.addrHi),
    data: hex32(raw.data),
  };
}
