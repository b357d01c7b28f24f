// The host kernel's `KernelPlatform` on the whole-system state: what the host Linux writes to its
// devices and to the remapping unit lands in the SystemState words the data plane delivers from.
//   config space  plain bytes per function (the capabilities `configSpaceFor` lays out); a write to
//                 MSI-X / MSI Message Control or to the MSI address/data/mask registers is mirrored
//                 into the function's store (Enable, the MSI message, Mask Bits: PCIe 7.7.1/7.7.2)
//   MMIO          MSI-X table / IMS dwords ARE the store words (PCIe 7.7.2.8; IMS alike)
//   IRTE / IEC    the host remapping table in the state, and the invalidation completing at once
//                 (the host waits on its queued-invalidation wait descriptor: VT-d 6.5.2.8)
//   IOAPIC RTE    an INTx store holds the message the IOAPIC sends for its pin (VT-d 5.1.5.1:
//                 remappable format carries the IRTE index)
// Invariants: every device access names a function the plan gave a store; the state's topology is
// the staging one (no vector bound yet: `build.ts` binds them after the flows).
// Not modelled: the PBA (the data plane keeps pending bits itself), BAR decoding, Function Mask.

import { decode } from '../hw/bits.js';
import { assert } from '../hw/errors.js';
import { IMS_ENTRY_BYTES, IMS_ENTRY_DWORDS } from '../hw/ims/ims-store.js';
import { MSI_MESSAGE_CONTROL, msiRegisterOffsets } from '../hw/pci/msi-capability.js';
import { MSIX_ENTRY_SIZE, MSIX_MESSAGE_CONTROL } from '../hw/pci/msix-capability.js';
import { MSIX_ENTRY_DWORDS, MSIX_TABLE_ENTRY } from '../hw/pci/msix-table.js';
import { DELIVERY_MODE, DEST_MODE } from '../hw/x86/lapic.js';
import { composeCompatMsi, composeRemappableMsi } from '../hw/x86/msi-message.js';
import type { PciFunctionInfo } from '../kernel/kernel-state.js';
import type { IoapicRte, KernelPlatform, MemoryPlatform } from '../kernel/platform.js';
import { memoryPlatform } from '../kernel/platform.js';
import { iecInvalidateNow } from '../machine/system-delivery.js';
import { createEventLog } from '../machine/system-events.js';
import {
  programStoreEntry,
  type SystemState,
  setStoreEnabled,
  writeHostIrte,
} from '../machine/system-state.js';
import { MSI_STORE_DWORDS } from '../machine/system-topology.js';

/** The stores of one host PCI function (store indices in the topology, -1: none). */
export interface HostFunctionStores {
  readonly info: PciFunctionInfo;
  readonly msix: number;
  readonly msi: number;
  readonly ims: number;
}

export interface HostPlatform extends KernelPlatform {
  readonly memory: MemoryPlatform;
  /** IRTE writes and invalidations the host made (its work, counted). */
  readonly counts: { irteWrites: number; iecInvalidations: number; rteWrites: number };
  /** From now on write `next` (a state over the same layout: the built system's, once the
   *  staging state has become it). */
  retarget(next: SystemState): void;
  /** A dword of a store entry written by someone else than the host kernel (a guest's write to
   *  its mapped table or IMS slice reaching the device): into the current state, as written. */
  deviceWrite(store: number, entry: number, dword: number, value: number): void;
}

export function createHostPlatform(
  staging: SystemState,
  functions: readonly HostFunctionStores[],
  configSpaces: Record<string, ArrayLike<number>>,
  /** IOAPIC pin -> the INTx stores its line feeds. */
  intxStores: ReadonlyMap<number, readonly number[]>,
): HostPlatform {
  const memory = memoryPlatform(configSpaces);
  let s = staging;
  const byBdf = new Map(functions.map((f) => [f.info.bdf, f]));
  const counts = { irteWrites: 0, iecInvalidations: 0, rteWrites: 0 };
  const fn = (bdf: string) => {
    const f = byBdf.get(bdf);
    assert(f, `host platform: ${bdf} is not a host function of the plan`);
    return f;
  };
  const entryWord = (bdf: string, region: string, offset: number): number => {
    const f = fn(bdf);
    const store = region === 'ims' ? f.ims : f.msix;
    assert(store >= 0, `host platform: ${bdf} has no ${region}`);
    const st = s.topology.stores[store];
    const bytes = region === 'ims' ? IMS_ENTRY_BYTES : MSIX_ENTRY_SIZE;
    const dwords = region === 'ims' ? IMS_ENTRY_DWORDS : MSIX_ENTRY_DWORDS;
    const entry = Math.floor(offset / bytes);
    assert(entry < st.entries, `host platform: ${bdf} ${region} entry ${entry} outside the store`);
    return st.entriesAt + entry * dwords + (offset % bytes) / 4;
  };
  const mirrorCapabilities = (f: HostFunctionStores) => {
    const read = (at: number, size: 1 | 2 | 4) => memory.cfgRead(f.info.bdf, at, size);
    if (f.info.msix && f.msix >= 0) {
      const at = f.info.msix.capOffset + MSIX_MESSAGE_CONTROL.offset;
      const ctrl = decode(MSIX_MESSAGE_CONTROL.layout, [read(at, 2)]);
      setStoreEnabled(s, f.msix, ctrl.msixEnable === 1);
    }
    if (f.info.msi && f.msi >= 0) {
      const cap = f.info.msi.capOffset;
      const ctrl = decode(MSI_MESSAGE_CONTROL.layout, [read(cap + MSI_MESSAGE_CONTROL.offset, 2)]);
      setStoreEnabled(s, f.msi, ctrl.msiEnable === 1);
      const regs = msiRegisterOffsets(f.info.msi.is64, f.info.msi.perVectorMask);
      const st = s.topology.stores[f.msi];
      programStoreEntry(s, f.msi, 0, {
        addrLo: read(cap + regs.messageAddress, 4),
        addrHi:
          regs.messageUpperAddress === undefined ? 0 : read(cap + regs.messageUpperAddress, 4),
        data: read(cap + regs.messageData, 2),
      });
      if (regs.maskBits !== undefined) {
        s.words[st.entriesAt + MSI_STORE_DWORDS.mask] = read(cap + regs.maskBits, 4);
      }
    }
  };
  return {
    memory,
    counts,
    retarget(next) {
      assert(
        next.topology.layout.irt === staging.topology.layout.irt &&
          next.topology.stores.length === staging.topology.stores.length,
        'host platform: retarget to a state of another layout',
      );
      s = next;
    },
    deviceWrite(store, entry, dword, value) {
      const st = s.topology.stores[store];
      assert(st.kind === 'msix' || st.kind === 'ims', `${st.name}: no entries to write`);
      assert(entry < st.entries && dword < MSIX_ENTRY_DWORDS, `${st.name}: no entry ${entry}`);
      s.words[st.entriesAt + entry * MSIX_ENTRY_DWORDS + dword] = value >>> 0;
    },
    cfgRead: (bdf, offset, size) => memory.cfgRead(bdf, offset, size),
    cfgWrite(bdf, offset, size, value) {
      memory.cfgWrite(bdf, offset, size, value);
      mirrorCapabilities(fn(bdf));
    },
    mmioRead(bdf, region, offset) {
      if (region === 'msix-pba') return 0;
      return s.words[entryWord(bdf, region, offset)];
    },
    mmioWrite(bdf, region, offset, value) {
      if (region === 'msix-pba') return; // read-only (PCIe 7.7.2.10)
      s.words[entryWord(bdf, region, offset)] = value >>> 0;
    },
    irteWrite(_unit, index, dwords) {
      counts.irteWrites++;
      writeHostIrte(s, index, dwords);
    },
    iecInvalidate(_unit, index, count) {
      counts.iecInvalidations++;
      const log = createEventLog();
      for (let i = index; i < index + count; i++) iecInvalidateNow(s, log, i);
    },
    ioapicWrite(pin, rte) {
      counts.rteWrites++;
      for (const store of intxStores.get(pin) ?? []) writeIntxEntry(s, store, rte);
    },
  };
}

/** The message the IOAPIC sends for a pin, kept as the INTx store's entry 0. */
function writeIntxEntry(s: SystemState, store: number, rte: IoapicRte): void {
  const msg =
    rte.irteIndex !== undefined
      ? composeRemappableMsi({ handle: rte.irteIndex, shv: 0, subhandle: 0, dontCare: 0 })
      : composeCompatMsi({
          destinationId: rte.destination,
          extendedDestinationId: 0,
          destinationMode:
            rte.destinationMode === 'logical' ? DEST_MODE.logical : DEST_MODE.physical,
          redirectionHint: 0,
          dontCare: 0,
          vector: rte.vector,
          deliveryMode: DELIVERY_MODE.fixed,
          level: 0,
          triggerMode: 0,
        });
  programStoreEntry(s, store, 0, msg);
  const at = s.topology.stores[store].entriesAt;
  MSIX_TABLE_ENTRY.accessors.mask.set(s.words, rte.masked ? 1 : 0, at);
}
