// The Invalidation Wait Descriptor (Intel VT-d spec rev 3.x/4.x, 6.5.2.8): queued after other
// invalidation descriptors, it completes once they have, and with SW = 1 writes Status Data to
// Status Address then. Linux's `qi_submit_sync` ends every batch with one (status data QI_DONE,
// 2) and spins on the status word; QEMU traces it as `vtd_inv_desc invalidate desc type wait
// high <status address> low 0x200000025` (`qemu-q35-ir/qemu-trace.log`).
// Invariants: type 5h; bits 65:64 of the status address are 0 (dword aligned).
// Not modelled: the interrupt (IF) and page-request drain (PD) completions' effects.

import { defineLayout, encode } from '../bits.js';

/** Queued-invalidation descriptor type of the wait descriptor (Linux QI_IWD_TYPE). */
export const WAIT_DESCRIPTOR_TYPE = 0x5;
/** The status data Linux's `qi_submit_sync` asks for (QI_DONE). */
export const QI_DONE = 2;

export const INVALIDATION_WAIT_DESCRIPTOR = defineLayout(
  'vtd-invalidation-wait-descriptor',
  128,
  'Intel VT-d 6.5.2.8 Invalidation Wait Descriptor',
  {
    type: [3, 0, 'Type: 5h'],
    interruptFlag: [4, 4, 'IF: raise the invalidation-completion event'],
    statusWrite: [5, 5, 'SW: write Status Data to Status Address on completion'],
    fence: [6, 6, 'FN: later descriptors wait for this one'],
    pageRequestDrain: [7, 7, 'PD: drain page requests'],
    typeHigh: [11, 9, 'Type bits 6:4 (VT-d 3.0+), 0 for this descriptor'],
    reserved0: [31, 12, 'Reserved (0)'],
    statusData: [63, 32, 'Status Data'],
    reserved1: [65, 64, 'Reserved (0): the address is dword aligned'],
    statusAddressLow: [95, 66, 'Status Address bits 31:2'],
    statusAddressHigh: [127, 96, 'Status Address bits 63:32'],
  },
  { complete: false },
);

/** The wait descriptor `qi_submit_sync` queues after a batch: status write of QI_DONE. The
 *  status address (bits 127:66) is the kernel's `qi->desc_status[]` slot, memory irqlab does not
 *  lay out, so it is left 0 and shown as not modelled. */
export function encodeWaitDescriptor(): number[] {
  return encode(INVALIDATION_WAIT_DESCRIPTOR, {
    type: WAIT_DESCRIPTOR_TYPE,
    statusWrite: 1,
    statusData: QI_DONE,
  });
}
