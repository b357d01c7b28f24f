// The Type 1 header lines of `lspci -vvv` (lspci.c show_htype1, pciutils 3.9): the bus numbers,
// the three windows, Secondary status and, after the ROM line, BridgeCtl. A window prints as
// show_range does since pciutils 3.8 at -vvv: " %0*llx-%0*llx" with (bits+3)/4 digits, then its
// size or " [disabled]" when the base is above the limit, then " [16-bit]"/"[32-bit]"/"[64-bit]".
// Values come from hw/pci/type1-header.ts, i.e. the config registers (what `lspci -F` uses).
// Not modelled: the windows the kernel reports through sysfs (PCI_FILL_BRIDGE_BASES), which lspci
// prefers on a live system; the CardBus header lines (show_htype2).

import type { ConfigSpace } from '../hw/pci/config-space.js';
import {
  decodeType1Header,
  IO_ADDRESSING,
  PREFETCHABLE_ADDRESSING,
} from '../hw/pci/type1-header.js';
import { flag, hex } from './lspci-format.js';

/** I/O windows are 4 KiB granular, memory windows 1 MiB: the limit's implied low bits. */
const IO_GRANULE = 0x1000;
const MEMORY_GRANULE = 0x100000;
const DEVSEL = ['fast', 'medium', 'slow', '??'];

/** lspci.c show_size(): " [size=%u%s]" in the largest of K/M/G/T that divides it. */
export function showSize(bytes: number): string {
  if (bytes === 0) return '';
  const suffix = ['', 'K', 'M', 'G', 'T'];
  let x = bytes;
  let i = 0;
  for (; i < suffix.length - 1; i++) {
    if (x % 1024 !== 0) break;
    x /= 1024;
  }
  return ` [size=${x}${suffix[i]}]`;
}

/** show_range() at verbose 3 (-vvv), for a window of `bits` address bits. */
function showRange(prefix: string, base: number, limit: number, bits: number): string {
  const width = Math.floor((bits + 3) / 4);
  const size = base <= limit ? showSize(limit - base + 1) : ' [disabled]';
  return `${prefix}: ${hexWide(base, width)}-${hexWide(limit, width)}${size} [${bits}-bit]`;
}

/** printf("%0*llx"): values past 32 bits too (a 64-bit window). */
const hexWide = (value: number, width: number) => value.toString(16).padStart(width, '0');

/** Bus, window and Secondary status lines: what show_htype1 prints before the ROM line. */
export function bridgeWindowLines(space: ConfigSpace): string[] {
  const h = decodeType1Header(space);
  const lines = [
    `\tBus: primary=${hex(h.primaryBus, 2)}, secondary=${hex(h.secondaryBus, 2)}, subordinate=${hex(h.subordinateBus, 2)}, sec-latency=${h.secondaryLatencyTimer}`,
  ];
  const ioType = h.ioBase.addressingCapability;
  if (
    ioType !== h.ioLimit.addressingCapability ||
    (ioType !== IO_ADDRESSING.bits16 && ioType !== IO_ADDRESSING.bits32)
  ) {
    lines.push(
      `\t!!! Unknown I/O range types ${h.raw.ioBase.toString(16)}/${h.raw.ioLimit.toString(16)}`,
    );
  } else {
    const upper = ioType === IO_ADDRESSING.bits32;
    const base = h.ioBase.address * IO_GRANULE + (upper ? h.ioBaseUpper16 * 0x10000 : 0);
    const limit = h.ioLimit.address * IO_GRANULE + (upper ? h.ioLimitUpper16 * 0x10000 : 0);
    const bits = upper ? 32 : 16;
    lines.push(showRange('\tI/O behind bridge', base, limit + IO_GRANULE - 1, bits));
  }
  const memType = h.memoryBase.addressingCapability;
  if (memType !== h.memoryLimit.addressingCapability || memType !== 0) {
    lines.push(
      `\t!!! Unknown memory range types ${h.raw.memoryBase.toString(16)}/${h.raw.memoryLimit.toString(16)}`,
    );
  } else {
    const base = h.memoryBase.address * MEMORY_GRANULE;
    const limit = h.memoryLimit.address * MEMORY_GRANULE;
    lines.push(showRange('\tMemory behind bridge', base, limit + MEMORY_GRANULE - 1, 32));
  }
  const prefType = h.prefetchableBase.addressingCapability;
  if (
    prefType !== h.prefetchableLimit.addressingCapability ||
    (prefType !== PREFETCHABLE_ADDRESSING.bits32 && prefType !== PREFETCHABLE_ADDRESSING.bits64)
  ) {
    lines.push(
      `\t!!! Unknown prefetchable memory range types ${h.raw.prefetchableBase.toString(16)}/${h.raw.prefetchableLimit.toString(16)}`,
    );
  } else {
    const is64 = prefType === PREFETCHABLE_ADDRESSING.bits64;
    const high = (upper32: number) => (is64 ? upper32 * 2 ** 32 : 0);
    const base = high(h.prefetchableBaseUpper32) + h.prefetchableBase.address * MEMORY_GRANULE;
    const limit = high(h.prefetchableLimitUpper32) + h.prefetchableLimit.address * MEMORY_GRANULE;
    lines.push(
      showRange(
        '\tPrefetchable memory behind bridge',
        base,
        limit + MEMORY_GRANULE - 1,
        is64 ? 64 : 32,
      ),
    );
  }
  const s = h.secondaryStatus;
  lines.push(
    `\tSecondary status: 66MHz${flag(s.capable66Mhz)} FastB2B${flag(s.fastBackToBackCapable)} ParErr${flag(s.masterDataParityError)} DEVSEL=${DEVSEL[s.devselTiming]} >TAbort${flag(s.signaledTargetAbort)} <TAbort${flag(s.receivedTargetAbort)} <MAbort${flag(s.receivedMasterAbort)} <SERR${flag(s.signaledSystemError)} <PERR${flag(s.detectedParityError)}`,
  );
  return lines;
}

/** The two BridgeCtl lines show_htype1 prints after the ROM line. */
export function bridgeControlLines(space: ConfigSpace): string[] {
  const b = decodeType1Header(space).bridgeControl;
  return [
    `\tBridgeCtl: Parity${flag(b.parityErrorResponseEnable)} SERR${flag(b.serrEnable)} NoISA${flag(b.isaEnable)} VGA${flag(b.vgaEnable)} VGA16${flag(b.vga16BitDecode)} MAbort${flag(b.masterAbortMode)} >Reset${flag(b.secondaryBusReset)} FastB2B${flag(b.fastBackToBackEnable)}`,
    `\t\tPriDiscTmr${flag(b.primaryDiscardTimeout)} SecDiscTmr${flag(b.secondaryDiscardTimeout)} DiscTmrStat${flag(b.discardTimerStatus)} DiscTmrSERREn${flag(b.discardTimerSerrEnable)}`,
  ];
}
