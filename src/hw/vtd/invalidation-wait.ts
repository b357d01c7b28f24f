// The Invalidation Wait Descriptor (Intel VT-d spec rev 3.x/4.x, 6.5.2.8): queued after other
// invalidation descriptors, it completes once they have, and with SW = 1 writes Status Data to
// Status Address then. Linux's `qi_submit_sync` ends every batch with one (status data QI_DONE,
// 2) and spins on the status word; QEMU traces it as `vtd_inv_desc invalidate desc type wait
// high <status address> low 0x200000025` (`qemu-q35-ir/qemu-trace.log`).
// Invariants: type 5h; bits 65:64 of the status address are 0 (dword aligned).
// Not modelled: the interrupt (IF) and page-request drain (PD) completions' effects.

import { type Dwords, decode, defineLayout, encode, reservedBitsSet } from '../bits.js';
import { InputError } from '../errors.js';

/** Queued-invalidation descriptor type of the wait descriptor (Linux QI_IWD_TYPE). */
export const WAIT_DESCRIPTOR_TYPE = 0x5;
/** Linux's `desc_status[]` values (drivers/iommu/intel/iommu.h enum): a slot free, submitted, done
 *  (the status data `qi_submit_sync` asks the wait descriptor to write), aborted. */
export const QI_STATUS = { free: 0, inUse: 1, done: 2, abort: 3 } as const;
/** The status data Linux's `qi_submit_sync` asks for (QI_DONE). */
export const QI_DONE = QI_STATUS.done;

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

/** The 64-bit status address as the descriptor splits it: bits 1:0 are 0 (dword aligned). */
const STATUS_ADDRESS = defineLayout(
  'vtd-wait-status-address',
  64,
  'Intel VT-d 6.5.2.8 Status Address (descriptor bits 127:66 hold address bits 63:2)',
  {
    reservedAlignment: [1, 0, 'dword aligned'],
    low: [31, 2, 'address bits 31:2 (descriptor bits 95:66)'],
    high: [63, 32, 'address bits 63:32 (descriptor bits 127:96)'],
  },
  { complete: true },
);

export interface StatusAddress {
  readonly lo: number;
  readonly hi: number;
}

/** The wait descriptor `qi_submit_sync` queues after a batch: status write of QI_DONE to
 *  `statusAddress` (the kernel's `qi->desc_status[wait_index]` slot; 0 where irqlab lays out no
 *  such memory: the kernel views). */
export function encodeWaitDescriptor(statusAddress: StatusAddress = { lo: 0, hi: 0 }): number[] {
  const words = [statusAddress.lo, statusAddress.hi];
  if (reservedBitsSet(STATUS_ADDRESS, words).length > 0) {
    throw new InputError('wait descriptor status address', 'not dword aligned (VT-d 6.5.2.8)');
  }
  const a = decode(STATUS_ADDRESS, words);
  return encode(INVALIDATION_WAIT_DESCRIPTOR, {
    type: WAIT_DESCRIPTOR_TYPE,
    statusWrite: 1,
    statusData: QI_DONE,
    statusAddressLow: a.low,
    statusAddressHigh: a.high,
  });
}

/** What a wait descriptor asks for on completion: the status write (SW), its data, its address. */
export function decodeWaitDescriptor(words: Dwords, offset = 0) {
  const d = decode(INVALIDATION_WAIT_DESCRIPTOR, words, offset);
  const [lo, hi] = encode(STATUS_ADDRESS, { low: d.statusAddressLow, high: d.statusAddressHigh });
  return {
    statusWrite: d.statusWrite === 1,
    statusData: d.statusData,
    statusAddress: { lo, hi } as StatusAddress,
  };
}
