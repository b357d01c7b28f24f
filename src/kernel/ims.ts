// Per-device IMS domains (the Interrupt Message Store support Linux carried from 6.2 to 6.10:
// `pci_create_ims_domain`, `pci_ims_alloc_irq`, `pci_ims_free_irq`, drivers/pci/msi/api.c and
// irqdomain.c; T. Gleixner's "genirq, PCI/MSI: Support for per device MSI and PCI/IMS", 2022).
// The device driver supplies the message store (IDXD: 16-byte entries in BAR0, `hw/ims`); the
// domain sits on the same parent as the device's MSI-X domain. Linux offered IMS only on parents
// that validate which device may send which message: Intel/AMD IR on real hardware ("Virtualized
// IOMMUs need additional support"); irqlab, which models the design as proposed (DESIGN §1.4),
// allows it on any parent with IRQ_DOMAIN_FLAG_ISOLATED_MSI: host IR, a guest's virtual IR, or
// the hypercall platform — and refuses it elsewhere with the rule's name.
// Entry programming mirrors MSI-X: Address, Upper Address, Data, then Control (Mask, bit 0).
// Invariants: an IMS domain's parent isolates MSI; an entry is written only while masked.
// Not modelled: the queue-memory IMS variant; PASID in the control word (the subdevice owner's).

import { encode } from '../hw/bits.js';
import { assert, RuleError } from '../hw/errors.js';
import { IMS_ENTRY } from '../hw/ims/ims-store.js';
import {
  createDomain,
  descOf,
  type IrqDomainOps,
  irqChipComposeMsiMsg,
  irqChipSetAffinityParent,
  irqDomainAllocIrqsParent,
  irqDomainFreeIrqsParent,
  levelOf,
  type MsiMsg,
} from './irqdomain.js';
import type { IrqDesc, KernelState, MsiDesc, PciDev } from './kernel-state.js';
import { MSI_ANY_INDEX, msiDomainAllocIrqAt, msiDomainFreeIrqsRange } from './msi.js';
import { IMS_MASK, IMS_UNMASK, IMS_WRITE_MSG, withVectorMask } from './msi-procedures.js';
import { runMsiProcedure } from './pci-msi.js';
import { msiDescOf, msiParentPrefix } from './pci-msi-domain.js';
import type { KernelPlatform } from './platform.js';
import { type DomainId, fail, type Hwirq, type IrqFailure, OK, type Virq } from './types.js';

export const IMS_RULE = 'ims-needs-isolated-msi';

/** An entry's control dword as it leaves reset: masked. */
const MASKED = encode(IMS_ENTRY, { mask: 1 })[Math.floor(IMS_ENTRY.accessors.mask.lo / 32)];

/** `pci_create_ims_domain`: refused unless the parent isolates MSI. */
export function pciCreateImsDomain(
  k: KernelState,
  dev: PciDev,
  template: { name: string },
): DomainId {
  const parent = k.roots.remap ?? k.roots.vector;
  const where = `${k.name} kernel, ${dev.info.bdf}`;
  if (!k.domains[parent].isolatedMsi) {
    throw new RuleError(
      IMS_RULE,
      where,
      `IMS domain refused: its parent ${k.domains[parent].name} does not isolate MSI (platform ${k.platform}); IMS needs interrupt remapping (host IR, guest virtual IR) or the hypercall platform`,
    );
  }
  if (dev.info.ims === undefined || dev.info.ims.entries === 0) {
    throw new RuleError(IMS_RULE, where, 'the device has no Interrupt Message Store');
  }
  if (dev.domains.ims !== undefined) return dev.domains.ims;
  const name = `${msiParentPrefix(k, parent)}${template.name}-${dev.info.bdf}`;
  const id = createDomain(k, {
    name,
    kind: 'ims',
    parent,
    chipName: name,
    isolatedMsi: true,
    device: dev.info.bdf,
  }).id;
  dev.domains.ims = id;
  return id;
}

function imsWriteMsg(k: KernelState, p: KernelPlatform, d: IrqDesc, msg: MsiMsg) {
  const { dev, desc } = msiDescOf(k, d);
  runMsiProcedure(k, p, dev, desc, IMS_WRITE_MSG, { msg, ctrl: desc.pci.ctrl, multiple: 0 }, 'ims');
  desc.msg = { ...msg };
}

function imsSetMask(k: KernelState, p: KernelPlatform, d: IrqDesc, masked: boolean) {
  const { dev, desc } = msiDescOf(k, d);
  const args = { msg: desc.msg, ctrl: desc.pci.ctrl, multiple: 0 };
  runMsiProcedure(k, p, dev, desc, masked ? IMS_MASK : IMS_UNMASK, args, 'ims');
  desc.pci.ctrl = withVectorMask(desc.pci.ctrl, masked);
}

export const imsDomainOps: IrqDomainOps = {
  alloc(k, p, dom, virq, nrIrqs, info) {
    const dev = info.dev === undefined ? undefined : k.devices[info.dev];
    if (dev === undefined) return fail('ENODEV', `${dom.name}: allocation without a device`);
    const r = irqDomainAllocIrqsParent(k, p, dom, virq, nrIrqs, {
      ...info,
      sourceId: dev.info.requesterId,
    });
    if (!r.ok) return r;
    const d = descOf(k, virq);
    const level = levelOf(d, dom.id);
    d.data[level].chip = { kind: 'msi' };
    d.data[level].hwirq = (info.hwirq ?? 0) as Hwirq;
    d.msi = { dev: dev.info.bdf, domain: 'ims', index: info.hwirq ?? 0 };
    return OK;
  },
  free(k, p, dom, virq, nrIrqs) {
    irqDomainFreeIrqsParent(k, p, dom, virq, nrIrqs);
  },
  activate(k, p, d, level) {
    imsWriteMsg(k, p, d, irqChipComposeMsiMsg(k, p, d, level));
    return OK;
  },
  deactivate(k, p, d) {
    imsWriteMsg(k, p, d, { addrLo: 0, addrHi: 0, data: 0 });
  },
  writeMsiMsg(k, p, d, _level, msg) {
    imsWriteMsg(k, p, d, msg);
  },
  setAffinity(k, p, d, level, mask, force) {
    const r = irqChipSetAffinityParent(k, p, d, level, mask, force);
    if (r.ok && !r.done) imsWriteMsg(k, p, d, irqChipComposeMsiMsg(k, p, d, level));
    return r;
  },
  mask(k, p, d) {
    imsSetMask(k, p, d, true);
  },
  unmask(k, p, d) {
    imsSetMask(k, p, d, false);
  },
};

/** `pci_ims_alloc_irq`: one IMS entry (the first free one) and its irq. */
export function pciImsAllocIrq(
  k: KernelState,
  p: KernelPlatform,
  dev: PciDev,
): { ok: true; index: number; virq: Virq } | IrqFailure {
  const domain = dev.domains.ims;
  assert(domain !== undefined, `${dev.info.bdf}: IMS allocation without an IMS domain`);
  const entries = dev.info.ims?.entries ?? 0;
  const make = (index: number): MsiDesc => ({
    index,
    irq: 0,
    nvecUsed: 1,
    affinity: null,
    pci: { isMsix: false, isVirtual: false, canMask: true, is64: true, multiple: 0, ctrl: MASKED },
    msg: { addrLo: 0, addrHi: 0, data: 0 },
  });
  return msiDomainAllocIrqAt(
    k,
    p,
    dev,
    'ims',
    domain,
    { index: MSI_ANY_INDEX, hwsize: entries },
    make,
    { activate: true, canReserve: true },
  );
}

/** `pci_ims_free_irq`. */
export function pciImsFreeIrq(k: KernelState, p: KernelPlatform, dev: PciDev, index: number) {
  msiDomainFreeIrqsRange(k, p, dev, 'ims', { first: index, last: index });
}
