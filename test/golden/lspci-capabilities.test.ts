// Golden tests: `lspci -vvv` lines for hand-built config spaces. Each expected line is pciutils
// 3.9's printf format (ls-caps.c, ls-ecaps.c, lspci.c) applied by hand to the bits set here, with
// the bit positions from the PCIe Base Spec 6.0 register figures (and Linux's pci_regs.h masks);
// the comment over each case says which format and which bits. Nothing here is copied from
// irqlab's output.
import { describe, expect, it } from 'vitest';
import { type ConfigSpace, emptyConfigSpace, setConfig } from '../../src/hw/pci/config-space.js';
import { formatLspciFunction } from '../../src/report/lspci.js';

const CAP_LIST = 0x0010; // Status bit 4: Capabilities List

/** A function with the given header type and class, Status.Capabilities List set. */
function fn(size: 256 | 4096, headerType: number, classCode: number): ConfigSpace {
  const space = emptyConfigSpace(size);
  setConfig(space, 0x00, 4, 0x12348086);
  setConfig(space, 0x06, 2, CAP_LIST);
  setConfig(space, 0x08, 4, classCode << 8);
  setConfig(space, 0x0e, 1, headerType);
  return space;
}

const put = (space: ConfigSpace, at: number, size: 1 | 2 | 4, value: number) =>
  setConfig(space, at, size, value);

/** A standard capability header: ID, next pointer. */
const cap = (space: ConfigSpace, at: number, id: number, next: number) => {
  put(space, at, 1, id);
  put(space, at + 1, 1, next);
};

/** An extended capability header: ID [15:0], version [19:16], next [31:20]. */
const ecap = (space: ConfigSpace, at: number, id: number, version: number, next: number) =>
  put(space, at, 4, ((next * 2 ** 20) | (version << 16) | id) >>> 0);

const lines = (space: ConfigSpace) =>
  formatLspciFunction({ bdf: undefined, space }).split('\n').filter(Boolean);

/** The title line that starts with `title` and the `\t\t` lines after it. */
function block(space: ConfigSpace, title: string): string[] {
  const all = lines(space);
  const at = all.findIndex((l) => l.startsWith(title));
  expect(at, `no line starts with ${JSON.stringify(title)}`).toBeGreaterThanOrEqual(0);
  const out = [all[at]];
  for (let i = at + 1; i < all.length && all[i].startsWith('\t\t'); i++) out.push(all[i]);
  return out;
}

/** A PCIe capability v2 at 0x40 of the given Device/Port Type (PCIe 6.0, 7.5.3.2: [7:4]). */
function pcie(space: ConfigSpace, portType: number, opts: { slot?: boolean } = {}) {
  put(space, 0x34, 1, 0x40);
  cap(space, 0x40, 0x10, 0);
  put(space, 0x42, 2, 0x0002 | (portType << 4) | (opts.slot ? 0x0100 : 0));
}

describe('decoding errors', () => {
  it("a Downstream Port's bridge windows are not BARs: AtomicOpsCap prints Routing only", () => {
    // Type 1 header: BAR0/1 are 0; 0x20 Memory Base/Limit = 0xfe00fd00 and 0x24 Prefetchable
    // Base/Limit = 0xfff10001 would read as memory BARs (bit 0 clear) if 0x18-0x27 were BARs 2-5.
    // cap_express_dev2: `printf("\t\t\t AtomicOpsCap:")`, " Routing%c" for switch ports, and the
    // 32bit/64bit/128bitCAS completer bits only for a Root Port or a function with a memory BAR.
    const space = fn(4096, 0x01, 0x060400);
    put(space, 0x20, 4, 0xfe00fd00);
    put(space, 0x24, 4, 0xfff10001);
    pcie(space, 6);
    expect(lines(space)).toContain('\t\t\t AtomicOpsCap: Routing-');
    expect(lines(space).some((l) => /^\tRegion [2-5]/.test(l))).toBe(false);
  });

  it("a Type 1 header's 0x2c is Prefetchable Base Upper 32 Bits, not a Subsystem ID", () => {
    // lspci.c show_verbose takes the Subsystem line from 0x2c only for header type 0.
    const space = fn(256, 0x01, 0x060400);
    put(space, 0x2c, 4, 0x00018086);
    expect(lines(space).some((l) => l.startsWith('\tSubsystem:'))).toBe(false);
  });

  it('Bridge: PM/B3 come from PMCSR_BSE (+6): BPCC_En bit 7, B2_B3# bit 6 (B3 when clear)', () => {
    // cap_pm: b = byte at +6; "\t\tBridge: PM%c B3%c", FLAG(b, 0x80), FLAG(~b, 0x40).
    // PMCSR (+4) is 0x00c0 here: reading the flags from it would give the opposite answers.
    const space = fn(256, 0x01, 0x060400);
    put(space, 0x34, 1, 0x40);
    cap(space, 0x40, 0x01, 0);
    put(space, 0x42, 2, 0x0003); // PMC: version 3
    put(space, 0x44, 2, 0x00c0);
    put(space, 0x46, 1, 0x80);
    expect(block(space, '\tCapabilities: [40]').at(-1)).toBe('\t\tBridge: PM+ B3+');
    put(space, 0x46, 1, 0x40);
    expect(block(space, '\tCapabilities: [40]').at(-1)).toBe('\t\tBridge: PM- B3-');
  });

  it("a CardBus bridge's capability list starts at 0x14, not 0x34", () => {
    // lspci.c show_htype2: show_caps(d, PCI_CB_CAPABILITY_LIST) with PCI_CB_CAPABILITY_LIST 0x14.
    const space = fn(256, 0x02, 0x060700);
    put(space, 0x14, 1, 0x80);
    cap(space, 0x80, 0x01, 0);
    put(space, 0x82, 2, 0x0002);
    put(space, 0x34, 1, 0x40); // in a CardBus header 0x34 is not the capabilities pointer
    cap(space, 0x40, 0x05, 0);
    const caps = lines(space).filter((l) => l.startsWith('\tCapabilities:'));
    expect(caps).toEqual(['\tCapabilities: [80] Power Management version 2']);
  });

  it('a misaligned Next Capability Offset is masked to its DWORD (show_ext_caps: & ~3)', () => {
    // ACS at 0x100 says next 0x142: lspci reads 0x140.
    const space = fn(4096, 0x00, 0x020000);
    pcie(space, 0);
    ecap(space, 0x100, 0x000d, 1, 0x142);
    ecap(space, 0x140, 0x000e, 1, 0);
    const caps = lines(space).filter((l) => l.startsWith('\tCapabilities: [1'));
    expect(caps).toEqual([
      '\tCapabilities: [100 v1] Access Control Services',
      '\tCapabilities: [140 v1] Alternative Routing-ID Interpretation (ARI)',
    ]);
  });

  it('a looping extended list ends with "<chain looped>" after the prefix of the repeated one', () => {
    // show_ext_caps prints "\tCapabilities: [%03x v%d] " and then, for an offset already seen,
    // "<chain looped>" and stops.
    const space = fn(4096, 0x00, 0x020000);
    pcie(space, 0);
    ecap(space, 0x100, 0x0018, 1, 0x140); // LTR
    ecap(space, 0x140, 0x0018, 1, 0x100);
    const caps = lines(space).filter((l) => l.startsWith('\tCapabilities: [1'));
    expect(caps).toEqual([
      '\tCapabilities: [100 v1] Latency Tolerance Reporting',
      '\tCapabilities: [140 v1] Latency Tolerance Reporting',
      '\tCapabilities: [100 v1] <chain looped>',
    ]);
  });

  it('a looping standard list ends with "<chain looped>"; ID 0xff with "<chain broken>"', () => {
    // show_caps: "[%02x] " then "<chain looped>" (offset seen) or "<chain broken>" (id 0xff).
    const space = fn(256, 0x00, 0x020000);
    put(space, 0x34, 1, 0x40);
    cap(space, 0x40, 0x0c, 0x50); // Hot-plug capable
    cap(space, 0x50, 0x0c, 0x40);
    expect(lines(space).slice(-1)).toEqual(['\tCapabilities: [40] <chain looped>']);
    cap(space, 0x50, 0xff, 0);
    expect(lines(space).slice(-1)).toEqual(['\tCapabilities: [50] <chain broken>']);
  });
});

/** A PCIe Endpoint (type 0) with one extended capability at 0x100, set up by `fill`. */
function withExtended(id: number, fill: (space: ConfigSpace) => void, portType = 0) {
  const space = fn(4096, portType === 4 ? 0x01 : 0x00, 0x020000);
  pcie(space, portType);
  ecap(space, 0x100, id, 1, 0);
  fill(space);
  return block(space, '\tCapabilities: [100 v1]');
}

describe('Type 1 header lines (lspci.c show_htype1, at -vvv)', () => {
  it('prints Bus, the three windows with their sizes, Secondary status, then BridgeCtl', () => {
    // Bus numbers 0x18-0x1b: 00, 01, 01, sec-latency 0. I/O Base/Limit 0x10/0x10 (16-bit): bits
    // 15:12 = 1 -> 0x1000-0x1fff (limit + 0xfff), " [size=4K]". Memory 0xfe00/0xfe10: bits
    // 31:20 -> 0xfe000000-0xfe1fffff, 2M. Prefetchable 0xfff1/0x0001 (64-bit) with base above
    // limit. show_range (pciutils 3.8+) at verbose 3: " %0*llx-%0*llx" with (bits+3)/4 digits (4
    // for 16-bit I/O, 8 for 32-bit, 16 for 64-bit), the size or " [disabled]", " [%d-bit]". Secondary status
    // 0x2000: Received Master Abort. Bridge Control 0x0012: SERR# Enable (1), VGA 16-bit (4).
    const space = fn(256, 0x01, 0x060400);
    put(space, 0x18, 4, 0x00010100);
    put(space, 0x1c, 1, 0x10);
    put(space, 0x1d, 1, 0x10);
    put(space, 0x1e, 2, 0x2000);
    put(space, 0x20, 4, 0xfe10fe00);
    put(space, 0x24, 4, 0x0001fff1);
    put(space, 0x3e, 2, 0x0012);
    expect(
      lines(space)
        .filter((l) => !/^\t(Control|Status):/.test(l))
        .slice(1),
    ).toEqual([
      '\tBus: primary=00, secondary=01, subordinate=01, sec-latency=0',
      '\tI/O behind bridge: 1000-1fff [size=4K] [16-bit]',
      '\tMemory behind bridge: fe000000-fe1fffff [size=2M] [32-bit]',
      '\tPrefetchable memory behind bridge: 00000000fff00000-00000000000fffff [disabled] [64-bit]',
      '\tSecondary status: 66MHz- FastB2B- ParErr- DEVSEL=fast >TAbort- <TAbort- <MAbort+ <SERR- <PERR-',
      '\tBridgeCtl: Parity- SERR+ NoISA- VGA- VGA16+ MAbort- >Reset- FastB2B-',
      '\t\tPriDiscTmr- SecDiscTmr- DiscTmrStat- DiscTmrSERREn-',
    ]);
  });
});

describe('extended capability blocks (ls-ecaps.c)', () => {
  it('ACS: ACSCap/ACSCtl flags are bits 0-6 of +4 and +6 (PCIe 6.0, 7.7.11.2/3)', () => {
    // "\t\tACSCap:\tSrcValid%c TransBlk%c ReqRedir%c CmpltRedir%c UpstreamFwd%c EgressCtrl%c
    // DirectTrans%c". Cap 0x005f: bits 0-4 and 6; Ctl 0x000d: bits 0, 2, 3.
    expect(
      withExtended(0x000d, (s) => {
        put(s, 0x104, 2, 0x005f);
        put(s, 0x106, 2, 0x000d);
      }),
    ).toEqual([
      '\tCapabilities: [100 v1] Access Control Services',
      '\t\tACSCap:\tSrcValid+ TransBlk+ ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl- DirectTrans+',
      '\t\tACSCtl:\tSrcValid+ TransBlk- ReqRedir+ CmpltRedir+ UpstreamFwd- EgressCtrl- DirectTrans-',
    ]);
  });

  it('ARI: Next Function Number [15:8] of +4, Function Group [6:4] of +6 (7.8.7)', () => {
    // "\t\tARICap:\tMFVC%c ACS%c, Next Function: %d" / "\t\tARICtl:\tMFVC%c ACS%c, Function
    // Group: %d". Cap 0x0402: ACS (bit 1), next function 4; Ctl 0x0021: MFVC, group 2.
    expect(
      withExtended(0x000e, (s) => {
        put(s, 0x104, 2, 0x0402);
        put(s, 0x106, 2, 0x0021);
      }),
    ).toEqual([
      '\tCapabilities: [100 v1] Alternative Routing-ID Interpretation (ARI)',
      '\t\tARICap:\tMFVC- ACS+, Next Function: 4',
      '\t\tARICtl:\tMFVC+ ACS-, Function Group: 2',
    ]);
  });

  it('ATS: Invalidate Queue Depth [4:0], Enable bit 15 and STU [4:0] (10.5.1.2/3)', () => {
    // "\t\tATSCap:\tInvalidate Queue Depth: %02x" / "\t\tATSCtl:\tEnable%c, Smallest
    // Translation Unit: %02x". Cap 0x0020 (page aligned, depth 0); Ctl 0x8005.
    expect(
      withExtended(0x000f, (s) => {
        put(s, 0x104, 2, 0x0020);
        put(s, 0x106, 2, 0x8005);
      }),
    ).toEqual([
      '\tCapabilities: [100 v1] Address Translation Service (ATS)',
      '\t\tATSCap:\tInvalidate Queue Depth: 00',
      '\t\tATSCtl:\tEnable+, Smallest Translation Unit: 05',
    ]);
  });

  it('PRI: control +4, status +6 (RF 0, UPRGI 1, Stopped 8), capacity +8, allocation +0xc', () => {
    // "\t\tPRICtl: Enable%c Reset%c", "\t\tPRISta: RF%c UPRGI%c Stopped%c", "\t\tPage Request
    // Capacity: %08x, " "Page Request Allocation: %08x".
    expect(
      withExtended(0x0013, (s) => {
        put(s, 0x104, 2, 0x0001);
        put(s, 0x106, 2, 0x0102);
        put(s, 0x108, 4, 0x200);
        put(s, 0x10c, 4, 0x20);
      }),
    ).toEqual([
      '\tCapabilities: [100 v1] Page Request Interface (PRI)',
      '\t\tPRICtl: Enable+ Reset-',
      '\t\tPRISta: RF- UPRGI+ Stopped+',
      '\t\tPage Request Capacity: 00000200, Page Request Allocation: 00000020',
    ]);
  });

  it('LTR: value [9:0] times 2^(5*scale [12:10]) ns (7.8.2)', () => {
    // "\t\tMax snoop latency: %lluns". Snoop 0x1003: value 3, scale 4 -> 3 * 2^20 = 3145728;
    // no-snoop 0x0c01: value 1, scale 3 -> 2^15 = 32768.
    expect(
      withExtended(0x0018, (s) => {
        put(s, 0x104, 2, 0x1003);
        put(s, 0x106, 2, 0x0c01);
      }),
    ).toEqual([
      '\tCapabilities: [100 v1] Latency Tolerance Reporting',
      '\t\tMax snoop latency: 3145728ns',
      '\t\tMax no snoop latency: 32768ns',
    ]);
  });

  it('L1 PM Substates: the L1.2 timing lines print when either L1.2 is supported (7.8.3)', () => {
    // Cap 0x0031281f: all five supported bits, Common_Mode_Restore_Time 0x28 = 40 us [15:8],
    // T_POWER_ON scale 1 (10 us) [17:16] x value 6 [23:19] = 60 us. Ctl1 0x4040280f: all four
    // enables, T_CommonMode 40 us, LTR_L1.2_THRESHOLD value 0x40 [25:16] x scale 2 [31:29]
    // (2^10) = 65536 ns. Ctl2 0x28: scale 0 (2 us) x value 5 [7:3] = 10 us.
    expect(
      withExtended(0x001e, (s) => {
        put(s, 0x104, 4, 0x0031281f);
        put(s, 0x108, 4, 0x4040280f);
        put(s, 0x10c, 4, 0x00000028);
      }),
    ).toEqual([
      '\tCapabilities: [100 v1] L1 PM Substates',
      '\t\tL1SubCap: PCI-PM_L1.2+ PCI-PM_L1.1+ ASPM_L1.2+ ASPM_L1.1+ L1_PM_Substates+',
      '\t\t\t  PortCommonModeRestoreTime=40us PortTPowerOnTime=60us',
      '\t\tL1SubCtl1: PCI-PM_L1.2+ PCI-PM_L1.1+ ASPM_L1.2+ ASPM_L1.1+',
      '\t\t\t   T_CommonMode=40us LTR1.2_Threshold=65536ns',
      '\t\tL1SubCtl2: T_PwrOn=10us',
    ]);
  });

  it('L1 PM Substates without L1.2: no timing lines, "L1SubCtl2:" alone', () => {
    expect(withExtended(0x001e, (s) => put(s, 0x104, 4, 0x0000000a))).toEqual([
      '\tCapabilities: [100 v1] L1 PM Substates',
      '\t\tL1SubCap: PCI-PM_L1.2- PCI-PM_L1.1+ ASPM_L1.2- ASPM_L1.1+ L1_PM_Substates-',
      '\t\tL1SubCtl1: PCI-PM_L1.2- PCI-PM_L1.1- ASPM_L1.2- ASPM_L1.1-',
      '\t\tL1SubCtl2:',
    ]);
  });

  it('DPC: capability +4, control +6, status +8, source +0xa (7.9.14), 3.9 wording', () => {
    // Cap 0x04a3: message 3 [4:0], RP Extensions bit 5, SW triggering bit 7, RP PIO log 4
    // [11:8]. Ctl 0x000a: trigger enable 2 [1:0], interrupt enable bit 3. Status 0x0003:
    // trigger status bit 0, reason 1 [2:1]. Source 0x0100.
    expect(
      withExtended(0x001d, (s) => {
        put(s, 0x104, 2, 0x04a3);
        put(s, 0x106, 2, 0x000a);
        put(s, 0x108, 2, 0x0003);
        put(s, 0x10a, 2, 0x0100);
      }),
    ).toEqual([
      '\tCapabilities: [100 v1] Downstream Port Containment',
      '\t\tDpcCap:\tINT Msg #3, RPExt+ PoisonedTLP- SwTrigger+ RP PIO Log 4, DL_ActiveErr-',
      '\t\tDpcCtl:\tTrigger:2 Cmpl- INT+ ErrCor- PoisonedTLP- SwTrigger- DL_ActiveErr-',
      '\t\tDpcSta:\tTrigger+ Reason:01 INT- RPBusy- TriggerExt:00 RP PIO ErrPtr:00',
      '\t\tSource:\t0100',
    ]);
  });

  it('TPH: one line per supported mode, then the ST table location [10:9] (7.9.13.2)', () => {
    // Cap 0x00000306: interrupt vector mode (bit 1), device specific (bit 2), extended
    // requester (bit 8), location 1 (in the capability).
    expect(withExtended(0x0017, (s) => put(s, 0x104, 4, 0x00000306))).toEqual([
      '\tCapabilities: [100 v1] Transaction Processing Hints',
      '\t\tInterrupt vector mode supported',
      '\t\tDevice specific mode supported',
      '\t\tExtended requester support',
      '\t\tSteering table in TPH capability structure',
    ]);
  });

  it("AER: a Root Port's block ends with RootCmd, RootSta and ErrorSrc (7.8.4.9-11)", () => {
    // cap_aer for PCI_EXP_TYPE_ROOT_PORT: "\t\tRootCmd: CERptEn%c NFERptEn%c FERptEn%c",
    // "\t\tRootSta: CERcvd%c MultCERcvd%c UERcvd%c MultUERcvd%c\n\t\t\t FirstFatal%c
    // NonFatalMsg%c FatalMsg%c IntMsg %d", "\t\tErrorSrc: ERR_COR: %04x " "ERR_FATAL/NONFATAL:
    // %04x". Cmd 0x5; status 0x28000015: bits 0, 2, 4 and message number 5 [31:27]; sources
    // 0x0010 / 0x0020.
    const root = withExtended(
      0x0001,
      (s) => {
        put(s, 0x12c, 4, 0x5);
        put(s, 0x130, 4, 0x28000015);
        put(s, 0x134, 4, 0x00200010);
      },
      4,
    );
    expect(root.slice(-4)).toEqual([
      '\t\tRootCmd: CERptEn+ NFERptEn- FERptEn+',
      '\t\tRootSta: CERcvd+ MultCERcvd- UERcvd+ MultUERcvd-',
      '\t\t\t FirstFatal+ NonFatalMsg- FatalMsg- IntMsg 5',
      '\t\tErrorSrc: ERR_COR: 0010 ERR_FATAL/NONFATAL: 0020',
    ]);
    const endpoint = withExtended(0x0001, (s) => put(s, 0x130, 4, 0x28000015));
    expect(endpoint.at(-1)).toMatch(/^\t\tHeaderLog: /);
  });
});

describe('Resizable BAR and RCEC Endpoint Association blocks (ls-ecaps.c cap_rebar, cap_rcec)', () => {
  it('Physical Resizable BAR: "BAR %d: current size:" and the supported sizes, 2^n MB each', () => {
    // Capability (+4) 0x7ff0: sizes bits 0-10 of [31:4] = 1 MB .. 1 GB. Control (+8) 0x0821:
    // BAR index 1 [2:0], one resizable BAR [7:5], current size 8 [13:8] = 256 MB.
    // print_rebar_range_size: " %dMB" below 2^10 MB, " %dGB" up to 2^20 MB.
    expect(
      withExtended(0x0015, (s) => {
        put(s, 0x104, 4, 0x7ff0);
        put(s, 0x108, 4, 0x0821);
      }),
    ).toEqual([
      '	Capabilities: [100 v1] Physical Resizable BAR',
      '		BAR 1: current size: 256MB, supported: 1MB 2MB 4MB 8MB 16MB 32MB 64MB 128MB 256MB 512MB 1GB',
    ]);
  });

  it('a Number of Resizable BARs outside 1-6 prints the error line and stops', () => {
    expect(withExtended(0x0015, (s) => put(s, 0x108, 4, 0x00e0))).toEqual([
      '	Capabilities: [100 v1] Physical Resizable BAR',
      '		<error in resizable BAR: num_bars=7 is out of specification>',
    ]);
  });

  it('RCEC: the bitmap as device ranges, and from version 2 the associated bus range', () => {
    // Bitmap (+4) 0x27: devices 0, 1, 2, 5 -> " 0", "-2", ", 5". Bus numbers (+8) 0x00030100:
    // next bus 01 [15:8], last bus 03 [23:16]: "AssociatedBusNumbers: %02x-%02x".
    const space = fn(4096, 0x00, 0x080700);
    pcie(space, 10);
    ecap(space, 0x100, 0x0007, 2, 0);
    put(space, 0x104, 4, 0x27);
    put(space, 0x108, 4, 0x00030100);
    expect(block(space, '\tCapabilities: [100 v2]')).toEqual([
      '\tCapabilities: [100 v2] Root Complex Event Collector Endpoint Association',
      '\t\tRCiEPBitmap: RCiEP at Device(s): 0-2, 5',
      '\t\tAssociatedBusNumbers: 01-03',
    ]);
  });
});

describe('RCEC with nothing associated (cap_rcec at verbose > 2)', () => {
  it('prints "00000000 [none]" and, for next bus ff / last bus 00, "ff-00 [none]"', () => {
    const space = fn(4096, 0x00, 0x080700);
    pcie(space, 10);
    ecap(space, 0x100, 0x0007, 2, 0);
    put(space, 0x108, 4, 0x0000ff00);
    expect(block(space, '\tCapabilities: [100 v2]').slice(1)).toEqual([
      '\t\tRCiEPBitmap: 00000000 [none]',
      '\t\tAssociatedBusNumbers: ff-00 [none]',
    ]);
  });
});

describe('PCI Express Slot and Root lines (ls-caps.c cap_express_slot/root)', () => {
  it('a Root Port with a slot prints SltCap/SltCtl/SltSta, then RootCap/RootCtl/RootSta', () => {
    // SltCap 0x00281fe0 (+0x14): HotPlug bit 6, Surprise bit 5, power limit value 0x3f [14:7]
    // scale 0 -> "63W", slot number 5 [31:19]. SltCtl 0x02e8 (+0x18): PresDet enable bit 3,
    // HPIrq bit 5, attention indicator 3 [7:6] "Off", power indicator 2 [9:8] "Blink". SltSta
    // 0x0148 (+0x1a): PresDet changed bit 3, presence state bit 6, DLL changed bit 8.
    // RootCtl 0x0008 (+0x1c): PME interrupt enable; RootCap 0x0001 (+0x1e); RootSta 0x00010100
    // (+0x20): requester 0100, PME status bit 16.
    const space = fn(4096, 0x01, 0x060400);
    pcie(space, 4, { slot: true });
    put(space, 0x54, 4, 0x00281fe0);
    put(space, 0x58, 2, 0x02e8);
    put(space, 0x5a, 2, 0x0148);
    put(space, 0x5c, 2, 0x0008);
    put(space, 0x5e, 2, 0x0001);
    put(space, 0x60, 4, 0x00010100);
    const express = block(space, '\tCapabilities: [40]');
    expect(express[0]).toBe('\tCapabilities: [40] Express (v2) Root Port (Slot+), MSI 00');
    const at = express.findIndex((l) => l.startsWith('\t\tSltCap:'));
    expect(express.slice(at, at + 9)).toEqual([
      '\t\tSltCap:\tAttnBtn- PwrCtrl- MRL- AttnInd- PwrInd- HotPlug+ Surprise+',
      '\t\t\tSlot #5, PowerLimit 63W; Interlock- NoCompl-',
      '\t\tSltCtl:\tEnable: AttnBtn- PwrFlt- MRL- PresDet+ CmdCplt- HPIrq+ LinkChg-',
      '\t\t\tControl: AttnInd Off, PwrInd Blink, Power- Interlock-',
      '\t\tSltSta:\tStatus: AttnBtn- PowerFlt- MRL- CmdCplt- PresDet+ Interlock-',
      '\t\t\tChanged: MRL- PresDet+ LinkState+',
      '\t\tRootCap: CRSVisible+',
      '\t\tRootCtl: ErrCorrectable- ErrNon-Fatal- ErrFatal- PMEIntEna+ CRSVisible-',
      '\t\tRootSta: PME ReqID 0100, PMEStatus+ PMEPending-',
    ]);
  });
});

describe('titles lspci gives (no longer a raw ID or <?>)', () => {
  const standard = (id: number, fill: (space: ConfigSpace) => void, headerType = 0) => {
    const space = fn(256, headerType, headerType === 1 ? 0x060400 : 0x020000);
    put(space, 0x34, 1, 0x40);
    cap(space, 0x40, id, 0);
    fill(space);
    return block(space, '\tCapabilities: [40]');
  };
  it.each([
    // cap_vpd: "Vital Product Data" (the VPD itself is read through the VPD registers, not here)
    ['VPD', 0x03, () => {}, ['\tCapabilities: [40] Vital Product Data']],
    // cap_slotid: "Slot ID: %d slots, First%c, chassis %02x"; +2 = 0x2a23: 3 slots, first, 0x2a
    [
      'Slot ID',
      0x04,
      (s: ConfigSpace) => put(s, 0x42, 2, 0x2a23),
      ['\tCapabilities: [40] Slot ID: 3 slots, First+, chassis 2a'],
    ],
    // cap_ht MSI mapping: type 10101b [15:11] = 0xa800, Enable bit 0, Fixed bit 1
    [
      'HyperTransport MSI mapping',
      0x08,
      (s: ConfigSpace) => put(s, 0x42, 2, 0xa803),
      ['\tCapabilities: [40] HyperTransport: MSI Mapping Enable+ Fixed+'],
    ],
    // cap_ht slave/primary: [15:13] = 000b
    [
      'HyperTransport primary',
      0x08,
      (s: ConfigSpace) => put(s, 0x42, 2, 0x0000),
      ['\tCapabilities: [40] HyperTransport: Slave or Primary Interface'],
    ],
    // cap_ht Revision ID: 10001b = 0x8800; "%u.%02u" of [7:5] and [4:0]: 0x23 -> 1.03
    [
      'HyperTransport revision',
      0x08,
      (s: ConfigSpace) => put(s, 0x42, 2, 0x8823),
      ['\tCapabilities: [40] HyperTransport: Revision ID: 1.03'],
    ],
    // cap_debug_port: "Debug port: BAR=%d offset=%04x", BAR [15:13], offset [12:0]: 0x20a0
    [
      'Debug port',
      0x0a,
      (s: ConfigSpace) => put(s, 0x42, 2, 0x20a0),
      ['\tCapabilities: [40] Debug port: BAR=1 offset=00a0'],
    ],
    // cap_af: "PCI Advanced Features", AFCap (+3) TP bit 0 FLR bit 1, AFCtrl (+4), AFStatus (+5)
    [
      'Advanced Features',
      0x13,
      (s: ConfigSpace) => {
        put(s, 0x43, 1, 0x03);
        put(s, 0x45, 1, 0x01);
      },
      [
        '\tCapabilities: [40] PCI Advanced Features',
        '\t\tAFCap: TP+ FLR+',
        '\t\tAFCtrl: FLR-',
        '\t\tAFStatus: TP+',
      ],
    ],
    // cap_ea: "Enhanced Allocation (EA): NumEntries=%u", Num Entries [5:0] of +2
    [
      'Enhanced Allocation',
      0x14,
      (s: ConfigSpace) => put(s, 0x42, 2, 0x0002),
      ['\tCapabilities: [40] Enhanced Allocation (EA): NumEntries=2'],
    ],
  ] as const)('%s', (_name, id, fill, expected) => {
    expect(standard(id, fill)).toEqual(expected);
  });

  it('SSVID on a bridge: "Subsystem:" with the IDs at +4/+6; EA adds the fixed bus numbers', () => {
    expect(standard(0x0d, (s) => put(s, 0x44, 4, 0x00011af4), 1)).toEqual([
      '\tCapabilities: [40] Subsystem: Device [1af4:0001]',
    ]);
    // cap_ea on a Type 1 header: ", secondary=%d, subordinate=%d" of the bytes at +4 and +5.
    const ea = standard(
      0x14,
      (s) => {
        put(s, 0x42, 2, 0x0001);
        put(s, 0x44, 2, 0x0302);
      },
      1,
    );
    expect(ea).toEqual([
      '\tCapabilities: [40] Enhanced Allocation (EA): NumEntries=1, secondary=2, subordinate=3',
    ]);
  });

  const extendedTitle = (id: number, fill: (space: ConfigSpace) => void = () => {}) =>
    withExtended(id, fill);
  it('DVSEC: "Vendor=%04x ID=%04x Rev=%d Len=%d", then " <?>", or ": CXL" for vendor 1e98', () => {
    // Header 1 (+4): vendor [15:0], revision [19:16], length [31:20]; Header 2 (+8): DVSEC ID.
    expect(extendedTitle(0x0023, (s) => put(s, 0x104, 4, 0x00c18086))).toEqual([
      '\tCapabilities: [100 v1] Designated Vendor-Specific: Vendor=8086 ID=0000 Rev=1 Len=12 <?>',
    ]);
    const cxl = extendedTitle(0x0023, (s) => {
      put(s, 0x104, 4, 0x03811e98); // CXL, rev 1, 56 bytes
      put(s, 0x108, 2, 0x0000);
    });
    expect(cxl).toEqual([
      '\tCapabilities: [100 v1] Designated Vendor-Specific: Vendor=1e98 ID=0000 Rev=1 Len=56: CXL',
    ]);
  });
  it.each([
    [0x0007, 'Root Complex Event Collector Endpoint Association'],
    [0x0015, 'Physical Resizable BAR'],
    [0x0024, 'Virtual Resizable BAR'],
    [0x002e, 'Data Object Exchange'],
  ])('extended ID %d is "%s"', (id, title) => {
    expect(extendedTitle(id)[0]).toBe(`\tCapabilities: [100 v1] ${title}`);
  });
});
