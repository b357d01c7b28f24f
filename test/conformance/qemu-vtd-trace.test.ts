// Conformance over the whole QEMU trace of the IR guest (../shared/fixtures/qemu-q35-ir/
// qemu-trace.log): every interrupt request QEMU remapped is replayed through
// hw/vtd/interrupt-remapping.ts and must give what QEMU traced:
//   vtd_ir_remap_msi_req addr A data D              the request
//   vtd_ir_irte_get index I low <127:64> high <63:0>  the IRTE in guest memory (QEMU-Q35.md "How to read")
//   vtd_ir_remap index I trigger T vector V deliver M dest X mode DM
//   vtd_ir_remap_type MSI|IOAPIC                    SHV set / clear
//   vtd_warn_ir_vector ... vec v (should be: V)     an IOAPIC RTE vector other than the IRTE's
//   vtd_ir_remap_msi (addr A, data D) -> (addr A', data D')
// The IRTE read is written into the model's table memory just before the request (the guest wrote
// it at some earlier point the trace does not show), and every IEC invalidate descriptor in the
// trace is applied when it appears. So a cached entry that the guest changed without an
// invalidation would come out stale and fail here: the replay also checks that the guest's
// invalidations are enough for an IEC (QEMU itself caches nothing).
// Requester IDs: MSI requests come from the device whose MSI-X table/MSI capability holds that
// handle (msix-tables.txt); IOAPIC requests carry the IOAPIC's source-id from QEMU's DMAR table
// (bus Q35_PSEUDO_BUS_PLATFORM 0xff, devfn Q35_PSEUDO_DEVFN_IOAPIC 0 -> 0xff00), which is also
// the SID Linux wrote into those IRTEs. (QEMU sends IOAPIC requests without a requester ID and
// skips source-id validation for them; validating 0xff00 gives the same result.)
import { describe, expect, it } from 'vitest';
import { dwordsFromBigInt } from '../../src/hw/bits.js';
import type { RequesterId } from '../../src/hw/pci/bdf.js';
import {
  decodeIecDescriptor,
  type IecInvalidation,
  invalidates,
} from '../../src/hw/vtd/interrupt-entry-cache.js';
import {
  createVtdIrUnit,
  remappedAsMsiMessage,
  type VtdIrOutcome,
  type VtdIrUnit,
  vtdIrInvalidate,
  vtdIrRemap,
} from '../../src/hw/vtd/interrupt-remapping.js';
import { entriesForSize, writeIrte } from '../../src/hw/vtd/remapping-table.js';
import { decodeMsiMessage } from '../../src/hw/x86/msi-message.js';
import { readFixture } from '../fixtures.js';
import { devId, irqs, tableLines } from './qemu-msix-tables-parse.js';

const IOAPIC_SOURCE_ID = 0xff00 as RequesterId;
const LINES = readFixture('qemu-q35-ir/qemu-trace.log').split('\n');

const REQ = /^vtd_ir_remap_msi_req addr (0x[0-9a-f]+) data (0x[0-9a-f]+)$/;
const IRTE_GET = /^vtd_ir_irte_get index (\d+) low (0x[0-9a-f]+) high (0x[0-9a-f]+)$/;
const REMAP =
  /^vtd_ir_remap index (\d+) trigger (\d+) vector (\d+) deliver (\d+) dest (0x[0-9a-f]+) mode (\d+)$/;
const TYPE = /^vtd_ir_remap_type (MSI|IOAPIC)$/;
const WARN = /^vtd_warn_ir_vector sid 0x[0-9a-f]+ index (\d+) vec (\d+) \(should be: (\d+)\)$/;
const OUT =
  /^vtd_ir_remap_msi \(addr (0x[0-9a-f]+), data (0x[0-9a-f]+)\) -> \(addr (0x[0-9a-f]+), data (0x[0-9a-f]+)\)$/;
const INV = /^vtd_inv_desc invalidate desc type iec high (0x[0-9a-f]+) low (0x[0-9a-f]+)$/;
const INV_IEC =
  /^vtd_inv_desc_iec granularity (0x[0-9a-f]+) index (0x[0-9a-f]+) mask (0x[0-9a-f]+)$/;
const ROOT = /^vtd_reg_ir_root addr (0x[0-9a-f]+) size (0x[0-9a-f]+)$/;

/** One remapping as QEMU traced it, from the request line to the result line. */
interface Episode {
  line: number;
  addr: number;
  data: number;
  irte?: { index: number; words: number[] };
  remap?: number[];
  type?: 'MSI' | 'IOAPIC';
  warn?: number[];
  out?: number[];
}

type Event =
  | { kind: 'episode'; episode: Episode }
  | { kind: 'invalidate'; line: number; invalidation: IecInvalidation; traced: number[] }
  | { kind: 'ir-enable'; line: number }
  | { kind: 'root'; line: number; entries: number };

const nums = (m: RegExpExecArray) => m.slice(1).map((x) => Number(x));
/** QEMU prints `low` = bits 127:64 first, `high` = bits 63:0 second. */
const irteWords = (low: string, high: string) => [
  ...dwordsFromBigInt(BigInt(high), 64),
  ...dwordsFromBigInt(BigInt(low), 64),
];

function events(): Event[] {
  const out: Event[] = [];
  let ep: Episode | undefined;
  let pendingInv: { line: number; words: number[] } | undefined;
  const inEpisode = (f: (e: Episode, m: RegExpExecArray) => void) => (m: RegExpExecArray) => {
    if (ep) f(ep, m);
  };
  const handlers: [RegExp, (m: RegExpExecArray, line: number) => void][] = [
    [
      REQ,
      (m, line) => {
        expect(ep, `line ${line}: request inside request`).toBeUndefined();
        ep = { line, addr: Number(m[1]), data: Number(m[2]) };
      },
    ],
    [
      IRTE_GET,
      inEpisode((e, m) => (e.irte = { index: Number(m[1]), words: irteWords(m[2], m[3]) })),
    ],
    [REMAP, inEpisode((e, m) => (e.remap = nums(m)))],
    [TYPE, inEpisode((e, m) => (e.type = m[1] as 'MSI' | 'IOAPIC'))],
    [WARN, inEpisode((e, m) => (e.warn = nums(m)))],
    [
      OUT,
      inEpisode((e, m) => {
        e.out = nums(m);
        out.push({ kind: 'episode', episode: e });
        ep = undefined;
      }),
    ],
    [
      INV,
      (m, line) => {
        const words = [
          ...dwordsFromBigInt(BigInt(m[2]), 64),
          ...dwordsFromBigInt(BigInt(m[1]), 64),
        ];
        pendingInv = { line, words };
      },
    ],
    [
      INV_IEC,
      (m) => {
        if (!pendingInv) return;
        const { invalidation } = decodeIecDescriptor(pendingInv.words);
        out.push({ kind: 'invalidate', line: pendingInv.line, invalidation, traced: nums(m) });
        pendingInv = undefined;
      },
    ],
    [/^vtd_ir_enable enable 1$/, (_m, line) => out.push({ kind: 'ir-enable', line })],
    [ROOT, (m, line) => out.push({ kind: 'root', line, entries: Number(m[2]) })],
  ];
  LINES.forEach((text, i) => {
    const match = handlers.find(([re]) => re.test(text));
    if (match) match[1](match[0].exec(text)!, i + 1);
  });
  expect(ep, 'trace ends inside a request').toBeUndefined();
  return out;
}

/** handle -> requester ID of the function whose MSI-X entry / MSI capability holds it. */
function handleOwners(): Map<number, RequesterId> {
  const owners = new Map<number, RequesterId>();
  for (const l of tableLines('qemu-q35-ir')) {
    const d = decodeMsiMessage(l.addrLo, l.addrHi, l.data);
    if (d.format === 'remappable') owners.set(d.handle, devId(l.bdf) as RequesterId);
  }
  return owners;
}

function newUnit(): VtdIrUnit {
  // Linux's IRTA: S = 0xf, xAPIC (eim=off); Linux clears GCMD.CFI, so CFIS = 0. QEMU's
  // intel-iommu advertises no posted interrupts.
  return createVtdIrUnit({
    tableSize: 15,
    eime: false,
    ire: false,
    cfi: false,
    postedInterrupts: false,
  });
}

function requestOf(ep: Episode, owners: Map<number, RequesterId>) {
  const d = decodeMsiMessage(ep.addr, 0, ep.data);
  const requesterId = d.format === 'remappable' && d.shv ? owners.get(d.handle) : IOAPIC_SOURCE_ID;
  expect(requesterId, `line ${ep.line}: no device holds this handle`).toBeDefined();
  return { addrLo: ep.addr, addrHi: 0, data: ep.data, requesterId: requesterId as RequesterId };
}

function checkEpisode(ep: Episode, out: VtdIrOutcome, request: ReturnType<typeof requestOf>) {
  const where = `trace line ${ep.line}`;
  if (!ep.irte) {
    expect(out.kind, where).toBe('passed-through');
    if (out.kind === 'passed-through') {
      expect([out.message.addrLo, out.message.data], where).toEqual([ep.out![2], ep.out![3]]);
    }
    return;
  }
  expect(out.kind, where).toBe('remapped');
  if (out.kind !== 'remapped') return;
  const [index, trigger, vector, deliver, dest, mode] = ep.remap!;
  expect(
    [
      out.index,
      out.triggerMode,
      out.vector,
      out.deliveryMode,
      out.destination,
      out.destinationMode,
    ],
    where,
  ).toEqual([index, trigger, vector, deliver, dest, mode]);
  expect(out.ioapicRte === null ? 'MSI' : 'IOAPIC', where).toBe(ep.type);
  const mismatch = out.ioapicRte !== null && out.ioapicRte.vector !== out.vector;
  expect(ep.warn !== undefined, where).toBe(mismatch);
  if (ep.warn) expect([out.ioapicRte?.vector, out.vector], where).toEqual([ep.warn[1], ep.warn[2]]);
  const m = remappedAsMsiMessage(out, request);
  expect([m.addrLo, m.addrHi, m.data], where).toEqual([ep.out![2], 0, ep.out![3]]);
}

interface Replay {
  unit: VtdIrUnit;
  outcomes: { ep: Episode; out: VtdIrOutcome }[];
}

function replay(evs: Event[], hook?: (e: Event, unit: VtdIrUnit) => void): Replay {
  const unit = newUnit();
  const owners = handleOwners();
  const outcomes: Replay['outcomes'] = [];
  for (const e of evs) {
    if (e.kind === 'root') expect(e.entries).toBe(entriesForSize(15));
    if (e.kind === 'ir-enable') unit.ire = true;
    if (e.kind === 'invalidate') vtdIrInvalidate(unit, e.invalidation);
    if (e.kind === 'episode') {
      const ep = e.episode;
      if (ep.irte) writeIrte(unit.table, ep.irte.index, ep.irte.words);
      const request = requestOf(ep, owners);
      const out = vtdIrRemap(unit, request);
      checkEpisode(ep, out, request);
      outcomes.push({ ep, out });
    }
    hook?.(e, unit);
  }
  return { unit, outcomes };
}

describe('qemu-q35-ir/qemu-trace.log', () => {
  const evs = events();
  it('has the bring-up of QEMU-Q35.md fact 5 and 121 requests', () => {
    const kinds = evs.map((e) => e.kind);
    expect(kinds.indexOf('root')).toBeLessThan(kinds.indexOf('ir-enable'));
    expect(kinds.filter((k) => k === 'episode')).toHaveLength(121);
  });
  it('decodes every IEC invalidate descriptor as QEMU does (granularity, index, mask)', () => {
    const invs = evs.filter((e) => e.kind === 'invalidate');
    expect(invs.length).toBe(81);
    for (const e of invs) {
      const inv = e.invalidation;
      const mine = inv.granularity === 'global' ? [0, 0, 0] : [1, inv.index, inv.indexMask];
      expect(mine, `line ${e.line}`).toEqual(e.traced);
    }
  });
  it('replays every request to the vector, destination, mode and output message QEMU traced', () => {
    const { unit, outcomes } = replay(evs);
    const kinds = outcomes.map((o) => o.out.kind);
    expect(kinds.filter((k) => k === 'passed-through')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'remapped')).toHaveLength(120);
    expect(unit.faultLog).toEqual([]);
  });
  it('passes the first request through untouched: IR is not enabled yet (fact 5)', () => {
    const first = replay(evs).outcomes[0];
    expect(first.ep.line).toBe(1);
    expect(first.out).toEqual({
      kind: 'passed-through',
      why: 'ir-disabled',
      message: { addrLo: 0xfee00000, addrHi: 0, data: 0 },
    });
  });
  it('uses the IRTE vector for IOAPIC requests whose RTE holds the pin (fact 4)', () => {
    const com1 = replay(evs).outcomes.find((o) => o.ep.addr === 0xfee00070)!;
    expect(com1.out).toMatchObject({
      kind: 'remapped',
      index: 3,
      vector: 0x22,
      destination: 4,
      ioapicRte: { vector: 4 },
    });
  });
  it('IRTE 32 reused with a new vector: stale from the IEC until invalidated (fact 6)', () => {
    const reads = evs.flatMap((e) =>
      e.kind === 'episode' && e.episode.irte?.index === 32 ? [e] : [],
    );
    const lastOld = reads
      .filter((e) => e.kind === 'episode' && e.episode.remap![2] === 0x24)
      .at(-1)!;
    const firstNew = reads.find((e) => e.kind === 'episode' && e.episode.remap![2] === 0x25)!;
    expect(lastOld && firstNew).toBeTruthy();
    const between = evs.slice(evs.indexOf(lastOld) + 1, evs.indexOf(firstNew));
    const covering = between.filter(
      (e) => e.kind === 'invalidate' && invalidates(e.invalidation, 32),
    );
    expect(covering.length).toBeGreaterThan(0);
    // Write the new IRTE into memory right after the last use of the old one, and raise nvme0q0
    // before the guest's invalidation: the IEC still routes with vector 0x24; after it, 0x25.
    const newWords = firstNew.kind === 'episode' ? firstNew.episode.irte!.words : [];
    const nvme = 0x28 as RequesterId;
    const raise = (unit: VtdIrUnit) =>
      vtdIrRemap(unit, { addrLo: 0xfee00418, addrHi: 0, data: 0, requesterId: nvme });
    const seen: VtdIrOutcome[] = [];
    replay(evs.slice(0, evs.indexOf(covering[0]) + 1), (e, unit) => {
      if (e === lastOld) {
        writeIrte(unit.table, 32, newWords);
        seen.push(raise(unit));
      }
      if (e === covering[0]) seen.push(raise(unit));
    });
    expect(seen).toMatchObject([
      { kind: 'remapped', vector: 0x24, iecHit: true },
      { kind: 'remapped', vector: 0x25, iecHit: false },
    ]);
  });
  it("routes each traced IRTE to the CPU of its irq's effective affinity (irq-affinity.txt)", () => {
    // Guest xAPIC logical flat mode: CPU n is logical APIC ID 1 << n. MSI irqs are found by
    // hwirq = dev id << 11 | entry; IOAPIC irqs by hwirq = pin, which Linux puts in the RTE
    // vector field (the request data) under IR.
    const guest = irqs('qemu-q35-ir');
    const owners = handleOwners();
    const last = new Map<number, { ep: Episode; out: VtdIrOutcome }>();
    for (const o of replay(evs).outcomes) if (o.out.kind === 'remapped') last.set(o.out.index, o);
    let checked = 0;
    for (const { ep, out } of last.values()) {
      if (out.kind !== 'remapped') continue;
      const d = decodeMsiMessage(ep.addr, 0, ep.data);
      if (d.format !== 'remappable') continue;
      const irq = d.shv
        ? guest.find((g) => g.chip === 'IR-PCI-MSI' && g.hwirq === entryHwirq(d.handle, owners))
        : guest.find((g) => g.chip === 'IR-IO-APIC' && g.hwirq === out.ioapicRte?.vector);
      expect(irq, `IRTE ${out.index}`).toBeDefined();
      expect([out.index, out.destination], `irq ${irq?.irq}`).toEqual([
        out.index,
        2 ** (irq?.effectiveCpu ?? -99),
      ]);
      checked++;
    }
    expect(checked).toBe(8); // IRTEs 0, 1, 3, 7, 11 (IOAPIC) and 24, 32, 33 (MSI-X)
  });
});

/** hwirq of the MSI-X entry holding `handle`: dev id << 11 | entry (consecutive from its first). */
function entryHwirq(handle: number, owners: Map<number, RequesterId>): number {
  const rid = owners.get(handle)!;
  let first = handle;
  while (owners.get(first - 1) === rid) first--;
  return rid * 2048 + (handle - first);
}
