// PCI Bus/Device/Function and the 16-bit Requester ID a function puts on its memory writes
// (PCI Express Base Spec, "Requester ID": Bus[15:8], Device[7:3], Function[2:0]). This is also the
// source-id that VT-d validates in an IRTE. Not modelled: PCI segments other than 0 beyond parsing,
// ARI (8-bit function numbers).

import { defineLayout } from '../bits.js';
import { InputError } from '../errors.js';

export type RequesterId = number & { readonly __brand: 'RequesterId' };

// PCIe Base Spec, Requester ID / Routing ID (conventional, non-ARI)
export const REQUESTER_ID = defineLayout(
  'requester-id',
  32,
  'PCI Express Base Spec, Routing ID (non-ARI): Bus, Device, Function',
  {
    function: [2, 0, 'Function Number'],
    device: [7, 3, 'Device Number'],
    bus: [15, 8, 'Bus Number'],
    reserved: [31, 16, 'not part of the 16-bit ID'],
  },
  { complete: true },
);

export interface Bdf {
  readonly segment: number;
  readonly bus: number;
  readonly device: number;
  readonly function: number;
}

const BDF_TEXT = /^(?:([0-9a-f]{4}):)?([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/i;

/** Parses `0000:00:03.0` or `00:03.0`. */
export function parseBdf(text: string): Bdf {
  const m = BDF_TEXT.exec(text.trim());
  if (!m) throw new InputError(`"${text}"`, 'not a PCI address (expected [dddd:]bb:dd.f in hex)');
  const [segment, bus, device, fn] = [m[1] ?? '0', m[2], m[3], m[4]].map((x) => parseInt(x, 16));
  if (device > 31) throw new InputError(`"${text}"`, `device number ${device} is above 31`);
  return { segment, bus, device, function: fn };
}

export function formatBdf(bdf: Bdf, opts: { withSegment: boolean }): string {
  const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
  const short = `${hex(bdf.bus, 2)}:${hex(bdf.device, 2)}.${bdf.function}`;
  return opts.withSegment ? `${hex(bdf.segment, 4)}:${short}` : short;
}

export function requesterIdOf(bdf: Bdf): RequesterId {
  const words = [0];
  REQUESTER_ID.accessors.bus.set(words, bdf.bus);
  REQUESTER_ID.accessors.device.set(words, bdf.device);
  REQUESTER_ID.accessors.function.set(words, bdf.function);
  return words[0] as RequesterId;
}

export function bdfOfRequesterId(rid: number, segment = 0): Bdf {
  const words = [rid];
  return {
    segment,
    bus: REQUESTER_ID.accessors.bus.get(words),
    device: REQUESTER_ID.accessors.device.get(words),
    function: REQUESTER_ID.accessors.function.get(words),
  };
}
