// The memory write a function emits to signal MSI, MSI-X or IMS (PCI Express Base Spec, "Message
// Signaled Interrupts": a DWORD memory write of Message Data to Message Address). This is what the
// root complex hands to the interrupt remapping unit: the address, the data and the requester ID
// the function put in the TLP header (the source-id VT-d validates). Not modelled: PASID TLP
// prefix on the write (DSA may send one; VT-d ignores it for interrupt requests).

import type { RequesterId } from './bdf.js';

export interface MsiTransaction {
  /** Message Address bits 31:0 (bits 1:0 are 0 for a DWORD write). */
  readonly addrLo: number;
  /** Message Upper Address; 0 for a 32-bit message. */
  readonly addrHi: number;
  /** The 32-bit DWORD written: Message Data (MSI: 16 bits, zero-extended, unless Extended Data). */
  readonly data: number;
  readonly requesterId: RequesterId;
}
