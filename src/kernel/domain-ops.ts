// The table from a domain's kind to its operations (STYLE §4: state holds only the kind, the
// behaviour is found here). A switch rather than an object literal so that the modules, which
// call back into `irqdomain.ts`, can be loaded in any order.

import { dmarMsiOps } from './dmar.js';
import { imsDomainOps } from './ims.js';
import { ioapicOps } from './ioapic.js';
import type { IrqDomainOps } from './irqdomain.js';
import type { DomainKind } from './kernel-state.js';
import { pciMsiDomainOps } from './pci-msi-domain.js';
import { pvIrOps } from './pv-ir.js';
import { vtdIrOps } from './vtd-ir.js';
import { x86VectorOps } from './x86-vector.js';

export function domainOps(kind: DomainKind): IrqDomainOps {
  switch (kind) {
    case 'x86-vector':
      return x86VectorOps;
    case 'vtd-ir':
      return vtdIrOps;
    case 'pv-ir':
      return pvIrOps;
    case 'pci-msi-global':
    case 'pci-msi':
    case 'pci-msix':
      return pciMsiDomainOps;
    case 'ims':
      return imsDomainOps;
    case 'ioapic':
      return ioapicOps;
    case 'dmar-msi':
      return dmarMsiOps;
  }
}
