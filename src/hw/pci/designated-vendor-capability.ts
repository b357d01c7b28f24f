// The Designated Vendor-Specific Extended Capability (PCI Express Base Spec 6.0, section 7.9.6
// "Designated Vendor-Specific Extended Capability (DVSEC)"): a vendor-defined structure named by
// the vendor that defines it (DVSEC Vendor ID) and its DVSEC ID, so that, unlike the plain
// vendor-specific capability, it can be recognised on any function. CXL's structures are DVSECs
// of vendor 1E98h (CXL 2.0, 8.1.1: IDs 0 PCIe DVSEC for CXL Devices, 2 Non-CXL Function Map, 3 CXL
// Extensions for Ports, 4 GPF for Ports, 5 GPF for Devices, 7 Flex Bus Port, 8 Register Locator,
// 9 MLD, 0Ah Test Capability).
// Not modelled: the contents of any DVSEC.

import { type Decoded, defineLayout } from '../bits.js';
import { type ConfigRegister, defineRegister } from './config-register.js';
import { type ConfigSpace, checkStructureFits, readRegisterFields } from './config-space.js';

/** Header, Designated Vendor-Specific Header 1 and 2. */
export const DVSEC_HEADER_SIZE = 0x0a;
export const DVSEC_VENDOR_ID_CXL = 0x1e98;

export const DVSEC_HEADER_1 = defineRegister(
  'Designated Vendor-Specific Header 1',
  0x04,
  4,
  defineLayout(
    'dvsec-header-1',
    32,
    'PCIe Base Spec 6.0, 7.9.6.2 Designated Vendor-Specific Header 1',
    {
      dvsecVendorId: [15, 0, 'DVSEC Vendor ID'],
      dvsecRevision: [19, 16, 'DVSEC Revision'],
      dvsecLength: [31, 20, 'DVSEC Length (bytes, header included)'],
    },
    { complete: true },
  ),
  { dvsecVendorId: 'RO', dvsecRevision: 'RO', dvsecLength: 'RO' },
);

export const DVSEC_HEADER_2 = defineRegister(
  'Designated Vendor-Specific Header 2',
  0x08,
  2,
  defineLayout(
    'dvsec-header-2',
    32,
    'PCIe Base Spec 6.0, 7.9.6.3 Designated Vendor-Specific Header 2',
    { dvsecId: [15, 0, 'DVSEC ID'] },
    { complete: false },
  ),
  { dvsecId: 'RO' },
);

export const DVSEC_REGISTERS: readonly ConfigRegister[] = [DVSEC_HEADER_1, DVSEC_HEADER_2];

export interface DvsecHeader extends Decoded<typeof DVSEC_HEADER_1.layout.fields> {
  dvsecId: number;
}

export function decodeDvsecHeader(space: ConfigSpace, offset: number): DvsecHeader {
  checkStructureFits(space, offset, DVSEC_HEADER_SIZE, 'Designated Vendor-Specific capability');
  return {
    ...readRegisterFields(space, offset, DVSEC_HEADER_1),
    dvsecId: readRegisterFields(space, offset, DVSEC_HEADER_2).dvsecId,
  };
}
