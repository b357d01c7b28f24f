// IMS store of a DSA-like device. Expected values: the entry format of Linux's IMS irqchip
// (include/linux/irqchip/irq-ims-msi.h: struct ims_slot {address_lo, address_hi, data, ctrl};
// IMS_CTRL_VECTOR_MASKBIT BIT(0), IMS_CTRL_PASID_ENABLE BIT(3), IMS_CTRL_PASID_SHIFT 12) and
// Linux idxd's sizing rule `ims_size = gen_cap.max_ims_mult * 256`.
import { describe, expect, it } from 'vitest';
import { decode, encode } from '../../../src/hw/bits.js';
import { InputError } from '../../../src/hw/errors.js';
import {
  IMS_ENTRIES_MAX,
  IMS_ENTRY,
  imsEntriesFromMult,
  imsEntryPending,
  imsPendingCount,
  imsRaise,
  imsRead,
  imsWrite,
  newImsStore,
} from '../../../src/hw/ims/ims-store.js';
import { parseBdf, requesterIdOf } from '../../../src/hw/pci/bdf.js';

const RID = requesterIdOf(parseBdf('6a:01.0'));
const at = (entry: number, reg: number) => entry * 16 + reg;
const ADDR = 0x0;
const DATA = 0x8;
const CTRL = 0xc;

describe('IMS entry layout', () => {
  it('places Mask, PASID Enable and PASID where Linux writes them', () => {
    // ims_ctrl_pasid_aux(5, true) = 5 << 12 | BIT(3) = 0x5008; plus the mask bit: 0x5009.
    const d = decode(IMS_ENTRY, [0xfee00000, 0, 0x41, 0x5009]);
    expect(d).toMatchObject({ mask: 1, pasidEnable: 1, pasid: 5, reservedControl: 0 });
    expect(encode(IMS_ENTRY, { pasid: 0xfffff, pasidEnable: 1 })[3]).toBe(0xfffff008);
  });
});

describe('IMS size', () => {
  it('is max_ims_mult * 256 entries, up to 63 * 256', () => {
    expect(imsEntriesFromMult(8)).toBe(2048);
    expect(imsEntriesFromMult(0)).toBe(0);
    expect(IMS_ENTRIES_MAX).toBe(16128);
    expect(() => imsEntriesFromMult(64)).toThrow(InputError);
  });
});

describe('IMS store: per-entry mask and pending', () => {
  it('every entry leaves reset masked', () => {
    const s = newImsStore(4, RID);
    for (let e = 0; e < 4; e++) expect(imsRead(s, at(e, CTRL)).value).toBe(1);
  });

  it('raise on a masked entry records it pending and sends nothing; a second coalesces', () => {
    const s = newImsStore(4, RID);
    expect(imsRaise(s, 1)).toEqual({ kind: 'set-pending', source: 'ims', index: 1 });
    expect(imsRaise(s, 1)).toEqual({ kind: 'coalesced', source: 'ims', index: 1 });
    expect(imsEntryPending(s, 1)).toBe(true);
    // The pending state is device-internal: the entry as software reads it is unchanged.
    expect(imsRead(s, at(1, CTRL)).value).toBe(1);
    expect(s.counters).toEqual({ raised: 2, sent: 0, coalesced: 1, dropped: 0 });
  });

  it('unmask with pending sends the current address/data once, with the PF requester ID', () => {
    const s = newImsStore(4, RID);
    imsRaise(s, 2);
    imsWrite(s, at(2, ADDR), 0xfee00438);
    imsWrite(s, at(2, DATA), 0);
    const w = imsWrite(s, at(2, CTRL), 0x5008); // unmask, PASID 5 enabled
    expect(w).toEqual({
      status: 'ok',
      effects: [
        {
          kind: 'msi-write',
          source: 'ims',
          index: 2,
          tx: { addrLo: 0xfee00438, addrHi: 0, data: 0, requesterId: RID },
        },
      ],
    });
    expect(imsPendingCount(s)).toBe(0);
    expect(imsWrite(s, at(2, CTRL), 0x5008).effects).toEqual([]);
    expect(imsRaise(s, 2).kind).toBe('msi-write');
    expect(s.counters).toEqual({ raised: 2, sent: 2, coalesced: 0, dropped: 0 });
  });

  it('an access that is not an aligned DWORD/QWORD changes nothing and says why', () => {
    const s = newImsStore(2, RID);
    expect(imsWrite(s, 2, 0).status).toBe('misaligned');
    expect(imsWrite(s, 32, 0).status).toBe('out-of-range');
    expect(imsRead(s, 0, 1)).toEqual({ status: 'unsupported-size', value: 0, valueHigh: 0 });
    expect(imsRead(s, at(0, CTRL)).value).toBe(1);
  });

  it('a QWORD write of the 64-bit Message Address lands both halves', () => {
    const s = newImsStore(1, RID);
    imsWrite(s, 0, 0xfee00000, { size: 8, valueHigh: 0x1 });
    expect(imsRead(s, 0, 8)).toEqual({ status: 'ok', value: 0xfee00000, valueHigh: 1 });
  });

  it('rejects a raise on an entry the store does not have, and a bad size', () => {
    expect(() => imsRaise(newImsStore(2, RID), 2)).toThrow(InputError);
    expect(() => newImsStore(IMS_ENTRIES_MAX + 1, RID)).toThrow(InputError);
  });
});
