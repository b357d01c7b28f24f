// DSA-like device. Expected values: perf-anchors.md L5 (a Sapphire Rapids DSA reports GENCAP
// 0x40915f0107: max_ims_mult = 8, so 2048 IMS entries; Linux registers.h `union gen_cap_reg`,
// `ims_size = max_ims_mult * 256ULL`), and registers.h offsets (GENCAP 0x10, OFFSETS 0x60,
// IDXD_TABLE_MULT 0x100).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Layout } from '../../../src/hw/bits.js';
import { decode, dwordsFromBigInt, encode } from '../../../src/hw/bits.js';
import { endpointConfigWrite } from '../../../src/hw/devices/endpoint.js';
import {
  IDXD_ENGCAP,
  IDXD_GENCAP,
  IDXD_GRPCAP,
  IDXD_OFFSETS,
  IDXD_REG,
  IDXD_WQCAP,
  idxdGencap,
  idxdImsEntries,
  idxdMmioRead,
  idxdMmioWrite,
  idxdRaise,
  idxdWqCompletion,
  newIdxd,
} from '../../../src/hw/devices/idxd.js';
import { InputError } from '../../../src/hw/errors.js';
import { parseBdf } from '../../../src/hw/pci/bdf.js';
import { EXT_CAP_ID } from '../../../src/hw/pci/capability-ids.js';
import { findCapability } from '../../../src/hw/pci/capability-list.js';

const BDF = parseBdf('6a:01.0');
const RID = 0x6a08;

describe('idxd GENCAP', () => {
  it('IMS size from GENCAP 0x40915f0107 is 2048 (perf-anchors L5)', () => {
    expect(idxdImsEntries(0x40915f0107n)).toBe(2048);
    const d = decode(IDXD_GENCAP, dwordsFromBigInt(0x40915f0107n, 64));
    // 0x915f0107: bits 30:25 = 8 (max_ims_mult), 24:21 = 10 (max_batch_shift), 20:16 = 31
    // (max_xfer_shift), bit 31 config_en; bits 0,1,2,8 set; bits 39:32 = 0x40.
    expect(d).toMatchObject({
      maxImsMult: 8,
      maxBatchShift: 10,
      maxXferShift: 31,
      configEn: 1,
      blockOnFault: 1,
      overlapCopy: 1,
      cacheControlMem: 1,
      destReadback: 1,
      maxDescsPerEngine: 0x40,
      reserved2: 0,
    });
  });

  it('a device built with it has a 2048-entry IMS at OFFSETS.ims * 0x100 in BAR0', () => {
    const dev = newIdxd({ bdf: BDF });
    expect(dev.ims?.entries).toBe(2048);
    expect(idxdGencap(dev).maxImsMult).toBe(8);
    const offsets = [0, 1, 2, 3].map((i) => idxdMmioRead(dev, IDXD_REG.offsets + 4 * i).value);
    expect(decode(IDXD_OFFSETS, offsets).ims * 0x100).toBe(dev.imsOffset);
    expect(idxdMmioRead(dev, IDXD_REG.gencap, 8)).toMatchObject({
      value: 0x915f0107,
      valueHigh: 0x40,
    });
  });

  it('max_ims_mult 0 means no IMS', () => {
    const dev = newIdxd({ bdf: BDF, gencap: 0x40815f0107n }); // bits 30:25 cleared
    expect(dev.ims).toBeUndefined();
    expect(() => idxdRaise(dev, { kind: 'ims', entry: 0 })).toThrow(InputError);
  });

  it('decode(encode(x)) == x for the idxd register layouts', () => {
    const layouts: Layout[] = [IDXD_GENCAP, IDXD_WQCAP, IDXD_GRPCAP, IDXD_ENGCAP, IDXD_OFFSETS];
    for (const layout of layouts) {
      const arb = fc.record(
        Object.fromEntries(
          Object.values(layout.accessors).map((a) => [a.name, fc.nat(2 ** a.bitWidth - 1)]),
        ),
      );
      fc.assert(
        fc.property(arb, (x) => {
          expect(decode(layout, encode(layout, x))).toEqual(x);
        }),
        { numRuns: 50 },
      );
    }
  });
});

describe('idxd interrupts', () => {
  it('MSI-X and IMS are usable at the same time, both with the PF requester ID', () => {
    const dev = newIdxd({ bdf: BDF });
    const msixTable = 0x2000;
    // Host driver: MSI-X enabled, WQ 0's entry (1) programmed and unmasked.
    endpointConfigWrite(dev.pf, dev.pf.msixLayout!.capOffset + 2, 2, 0x8000);
    idxdMmioWrite(dev, msixTable + 16, 0xfee00438);
    idxdMmioWrite(dev, msixTable + 16 + 12, 0);
    // A subdevice's IMS entry 5, programmed and unmasked.
    const ims = dev.imsOffset + 5 * 16;
    idxdMmioWrite(dev, ims, 0xfee00218);
    idxdMmioWrite(dev, ims + 8, 0);
    idxdMmioWrite(dev, ims + 12, 0x5008); // PASID 5 enabled, unmasked
    const wq = idxdWqCompletion(dev, 0);
    const sub = idxdRaise(dev, { kind: 'ims', entry: 5 });
    expect(wq).toMatchObject({ kind: 'msi-write', source: 'msix', index: 1 });
    expect(sub).toMatchObject({ kind: 'msi-write', source: 'ims', index: 5 });
    expect(wq.kind === 'msi-write' && wq.tx).toEqual({
      addrLo: 0xfee00438,
      addrHi: 0,
      data: 0,
      requesterId: RID,
    });
    expect(sub.kind === 'msi-write' && sub.tx.requesterId).toBe(RID);
  });

  it('MSI-X has entry 0 for misc plus one per WQ; a WQ that does not exist is an error', () => {
    const dev = newIdxd({ bdf: BDF, numWqs: 8 });
    expect(dev.pf.msix?.entries).toBe(9);
    expect(() => idxdWqCompletion(dev, 8)).toThrow(InputError);
  });

  it('has a PASID capability', () => {
    const dev = newIdxd({ bdf: BDF });
    expect(findCapability(dev.pf.config, EXT_CAP_ID.pasid, { extended: true })).toBeDefined();
  });

  it('capability registers are read-only to software', () => {
    const dev = newIdxd({ bdf: BDF });
    expect(idxdMmioWrite(dev, IDXD_REG.gencap, 0).status).toBe('unclaimed');
    expect(idxdMmioRead(dev, IDXD_REG.gencap).value).toBe(0x915f0107);
  });
});
