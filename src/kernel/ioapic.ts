// INTx through an IOAPIC (arch/x86/kernel/apic/io_apic.c): one domain per IOAPIC, hwirq = pin,
// on top of the remapping domain when there is one ("IR-IO-APIC") or of the vector domain
// ("IO-APIC"). A GSI becomes an irq when something maps it (`mp_map_gsi_to_irq`: the legacy
// pins at IOAPIC setup, a PCI function's pin at `pci_enable_device`), which allocates the irq
// down the hierarchy (and an IRTE under IR) but, in reservation mode, no vector.
// The redirection entry is written at activation, at each affinity change (without IR) and at
// mask/unmask. With IR it is in remappable format: the IRTE index, and the pin in the vector
// field (`qemu-q35-ir`: COM1's request is addr 0xfee00070 data 0x4, handle 3, pin 4).
// Invariants: a GSI maps to at most one irq; the entry's vector and destination are the vector
// level's (or, with IR, the IRTE holds them).
// Not modelled: the RTE's register encoding (recorded decoded in the access log: no IOAPIC
// register model exists in hw/ yet), polarity, Remote IRR and the level EOI broadcast.

import { assert } from '../hw/errors.js';
import { decodeMsiMessage } from '../hw/x86/msi-message.js';
import { destModeLogical } from './apic.js';
import {
  type AllocInfo,
  createDomain,
  descOf,
  type IrqDomainOps,
  irqChipComposeMsiMsg,
  irqChipSetAffinityParent,
  irqDomainAllocIrqs,
  irqDomainAllocIrqsParent,
  irqDomainFreeIrqsParent,
  levelOf,
} from './irqdomain.js';
import type { IoapicChipData, IoapicIrqMapping, IrqDesc, KernelState } from './kernel-state.js';
import { hwIoapicWrite, type KernelPlatform } from './platform.js';
import { type DomainId, fail, type Hwirq, type IrqFailure, OK, type Virq } from './types.js';

export function ioapicCreateDomain(
  k: KernelState,
  opts: { pins: number; gsiBase: number; mapping: IoapicIrqMapping; sourceId: number },
): DomainId {
  const parent = k.roots.remap ?? k.roots.vector;
  const ir = k.roots.remap !== null && k.domains[k.roots.remap].kind === 'vtd-ir';
  return createDomain(k, {
    name: 'IO-APIC-0',
    kind: 'ioapic',
    parent,
    chipName: ir ? 'IR-IO-APIC' : 'IO-APIC',
    isolatedMsi: false,
    ioapic: { ...opts, gsiIrq: {} },
  }).id;
}

function ioapicData(d: IrqDesc, level: number): IoapicChipData {
  const chip = d.data[level].chip;
  assert(chip.kind === 'ioapic', `irq ${d.irq}: level ${level} is not an IOAPIC pin`);
  return chip.ioapic;
}

/** `ioapic_setup_msg_from_msi` + `ioapic_write_entry`: the entry from the parent's message. */
function ioapicConfigureEntry(k: KernelState, p: KernelPlatform, d: IrqDesc, level: number) {
  const pin = ioapicData(d, level);
  const msg = irqChipComposeMsiMsg(k, p, d, level + 1);
  const decoded = decodeMsiMessage(msg.addrLo, msg.addrHi, msg.data);
  assert(decoded.format !== 'not-interrupt', `irq ${d.irq}: the parent composed no interrupt`);
  pin.rte =
    decoded.format === 'remappable'
      ? { vector: pin.pin, destination: 0, masked: d.state.masked, irteIndex: decoded.handle }
      : { vector: decoded.vector, destination: decoded.destinationId, masked: d.state.masked };
  writeEntry(k, p, pin);
}

function writeEntry(k: KernelState, p: KernelPlatform, pin: IoapicChipData) {
  assert(pin.rte !== null, `IOAPIC pin ${pin.pin}: no entry to write`);
  hwIoapicWrite(k, p, pin.pin, {
    vector: pin.rte.vector,
    destination: pin.rte.destination,
    destinationMode: destModeLogical(k) ? 'logical' : 'physical',
    trigger: pin.trigger,
    masked: pin.rte.masked,
    ...(pin.rte.irteIndex === undefined ? {} : { irteIndex: pin.rte.irteIndex }),
  });
}

function setMasked(k: KernelState, p: KernelPlatform, d: IrqDesc, masked: boolean) {
  const pin = ioapicData(d, 0);
  if (pin.rte === null) return;
  pin.rte = { ...pin.rte, masked };
  writeEntry(k, p, pin);
}

export const ioapicOps: IrqDomainOps = {
  alloc(k, p, dom, virq, nrIrqs, info) {
    assert(nrIrqs === 1 && info.ioapic !== undefined, `${dom.name}: one pin per allocation`);
    const parent = irqDomainAllocIrqsParent(k, p, dom, virq, 1, {
      ...info,
      sourceId: dom.ioapic?.sourceId ?? 0,
    });
    if (!parent.ok) return parent;
    const d = descOf(k, virq);
    const level = levelOf(d, dom.id);
    const { pin, trigger } = info.ioapic;
    d.data[level].chip = { kind: 'ioapic', ioapic: { pin, trigger, rte: null } };
    d.data[level].hwirq = pin as Hwirq;
    d.trigger = trigger;
    d.handler = trigger === 'level' ? 'fasteoi' : 'edge';
    return OK;
  },
  free(k, p, dom, virq, nrIrqs) {
    const map = dom.ioapic?.gsiIrq ?? {};
    for (const [gsi, irq] of Object.entries(map)) if (irq === virq) delete map[Number(gsi)];
    irqDomainFreeIrqsParent(k, p, dom, virq, nrIrqs);
  },
  activate(k, p, d, level) {
    ioapicConfigureEntry(k, p, d, level);
    return OK;
  },
  deactivate(k, p, d) {
    setMasked(k, p, d, true);
  },
  setAffinity(k, p, d, level, mask, force) {
    const r = irqChipSetAffinityParent(k, p, d, level, mask, force);
    if (r.ok && !r.done) ioapicConfigureEntry(k, p, d, level);
    return r.ok ? { ok: true, done: true } : r;
  },
  mask(k, p, d) {
    setMasked(k, p, d, true);
  },
  unmask(k, p, d) {
    setMasked(k, p, d, false);
  },
};

/** `mp_map_gsi_to_irq`: the irq of a GSI, allocated on first use. `irq`: the number a legacy
 *  ISA irq keeps (its GSI may differ: ISA irq 0 is on pin 2). */
export function mpMapGsiToIrq(
  k: KernelState,
  p: KernelPlatform,
  opts: {
    gsi: number;
    trigger: 'edge' | 'level';
    irq?: number;
    legacy?: { active: boolean };
  },
): { ok: true; virq: Virq } | IrqFailure {
  const id = k.roots.ioapic;
  if (id === null) return fail('ENODEV', `GSI ${opts.gsi}: no IOAPIC`);
  const dom = k.domains[id];
  assert(dom.ioapic !== undefined, `${dom.name} is not an IOAPIC domain`);
  const mapped = dom.ioapic.gsiIrq[opts.gsi];
  if (mapped !== undefined) return { ok: true, virq: mapped };
  const pin = opts.gsi - dom.ioapic.gsiBase;
  if (pin < 0 || pin >= dom.ioapic.pins) {
    return fail('EINVAL', `GSI ${opts.gsi} is not on ${dom.name} (pins ${dom.ioapic.pins})`);
  }
  const fixed = opts.irq ?? (dom.ioapic.mapping === 'legacy' ? opts.gsi : undefined);
  const info: AllocInfo = {
    type: 'ioapic',
    ioapic: { pin, trigger: opts.trigger },
    hwirq: pin,
    ...(opts.legacy ? { legacy: opts.legacy } : {}),
  };
  const r = irqDomainAllocIrqs(k, p, id, {
    nrIrqs: 1,
    info,
    ...(fixed === undefined ? {} : { virq: fixed }),
  });
  if (!r.ok) return r;
  dom.ioapic.gsiIrq[opts.gsi] = r.virq;
  return r;
}
