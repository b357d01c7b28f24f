// The remapping unit's Extended Capability Register, ECAP_REG at offset 10h (Intel VT-d spec rev
// 3.x/4.x, 11.4.3): read-only bits saying what the unit supports. Linux reads it once per unit
// (`dmar: reg_base_addr ... ecap <hex>` in dmesg) and decides from QI, IR and EIM whether and in
// which mode it enables interrupt remapping (kernel/irq-remapping.ts).
// Evidence: `qemu-q35-ir/dmesg-boot.txt`, QEMU 7.2 intel-iommu with intremap=on,eim=off:
// "ecap f00f4a" = QI, IR, PT, IRO 0xf, MHMV 0xf, and no EIM.
// Invariant: fields as the spec's table, one codec (`hw/bits.ts`).
// Not modelled: bits 63:24 (scalable mode, PASID, nesting, page-request: no part of irqlab reads
// them; they are kept in the value and shown raw).

import { type Decoded, decode, defineLayout, dwordsFromBigInt } from '../bits.js';

export const EXTENDED_CAPABILITY = defineLayout(
  'vtd-ecap',
  64,
  'Intel VT-d 11.4.3 Extended Capability Register (ECAP_REG), bits 23:0',
  {
    c: [0, 0, 'C: page-walk coherency'],
    qi: [1, 1, 'QI: queued invalidation supported'],
    dt: [2, 2, 'DT: device-TLB supported'],
    ir: [3, 3, 'IR: interrupt remapping supported'],
    eim: [4, 4, 'EIM: extended interrupt mode (32-bit x2APIC destinations) supported'],
    reserved0: [5, 5, 'Reserved (0)'],
    pt: [6, 6, 'PT: pass through supported'],
    sc: [7, 7, 'SC: snoop control supported'],
    iro: [17, 8, 'IRO: IOTLB register offset, in 16-byte units'],
    reserved1: [19, 18, 'Reserved (0)'],
    mhmv: [23, 20, 'MHMV: maximum handle mask value'],
  },
  { complete: false },
);

export type DecodedEcap = Decoded<typeof EXTENDED_CAPABILITY.fields>;

/** ECAP_REG read as the 64-bit value Linux prints. */
export const decodeEcap = (ecap: bigint): DecodedEcap =>
  decode(EXTENDED_CAPABILITY, dwordsFromBigInt(ecap, 64));
