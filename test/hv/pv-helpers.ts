// A stand-in for the host side the `pv` ABI calls into: a tiny host IRTE table whose free slot
// the allocator takes first, answering with the remappable-format pair Linux's intel IR writes
// for MSI-X (SHV 1, subhandle 0: VT-d 5.1.2.2). Enough to see allocations, leaks and retargets.

import { type PvPair, pvDeviceHandle } from '../../src/hv/pv-abi.js';
import type { PvBackendRequest, PvHostBackend, PvHostCaps } from '../../src/hv/pv-host.js';
import { addressHandle, composeRemappableMsi } from '../../src/hw/x86/msi-message.js';

export interface FakeIrte {
  vm: number;
  vcpu: number;
  vector: number;
}

export interface FakeHost {
  irtes: (FakeIrte | null)[];
  log: string[];
  /** The next retarget answers busy (a reset racing the call). */
  retargetBusy: boolean;
  backend: PvHostBackend;
}

export function fakeHost(irteCount: number): FakeHost {
  const host: FakeHost = {
    irtes: new Array<FakeIrte | null>(irteCount).fill(null),
    log: [],
    retargetBusy: false,
    backend: {
      allocate(req: PvBackendRequest) {
        const slot = host.irtes.indexOf(null);
        if (slot < 0) return { error: 'noResources' };
        host.irtes[slot] = { vm: req.vm, vcpu: req.vcpu, vector: req.vector };
        host.log.push(`allocate ${req.type}[${req.index}] -> irte ${slot}`);
        return composeRemappableMsi({ handle: slot, shv: 1, subhandle: 0, dontCare: 0 });
      },
      release(req) {
        const slot = addressHandle(req.pair.addrLo);
        if (host.irtes[slot] === null) throw new Error(`double release of irte ${slot}`);
        host.irtes[slot] = null;
        host.log.push(`release ${req.type}[${req.index}] irte ${slot}`);
      },
      retarget(req) {
        if (host.retargetBusy) return { error: 'busy' };
        const slot = addressHandle(req.pair.addrLo);
        host.irtes[slot] = { vm: req.vm, vcpu: req.vcpu, vector: req.vector };
        host.log.push(`retarget irte ${slot} -> vcpu ${req.vcpu} vector ${req.vector}`);
        return null;
      },
    },
  };
  return host;
}

export const irteOf = (host: FakeHost, pair: PvPair) => host.irtes[addressHandle(pair.addrLo)];
export const irtesInUse = (host: FakeHost) => host.irtes.filter((e) => e !== null).length;

export const CAPS: PvHostCaps = {
  present: true,
  maxVersion: 1,
  features: { allByHypercall: true, batch: true },
  allow: true,
};

/** 01:00.0 with MSI-X 8 entries and 0 IMS; 02:00.0 (a subdevice) with 4 IMS entries. */
export const NIC = pvDeviceHandle({ segment: 0, bus: 1, device: 0, function: 0 });
export const SUB = pvDeviceHandle({ segment: 0, bus: 2, device: 0, function: 0 });
export const DEVICES = [
  { handle: NIC, name: 'nic0', entries: { msi: 1, msix: 8, ims: 0 } },
  { handle: SUB, name: 'wq0', entries: { msi: 0, msix: 0, ims: 4 } },
];
