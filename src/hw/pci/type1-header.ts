// The Type 1 (PCI-to-PCI bridge) configuration header's own registers (PCI Express Base Spec 6.0,
// section 7.5.1.3 "Type 1 Configuration Space Header"; PCI-to-PCI Bridge Architecture 1.2,
// 3.2.5): bus numbers, the I/O, memory and prefetchable memory windows forwarded to the secondary
// side, Secondary Status and Bridge Control. A window is [base, limit] with the low address bits
// implied: I/O 4 KiB granular (bits 11:0 of the base 0, of the limit 1), memory 1 MiB granular.
// Invariants: a window whose base exceeds its limit forwards nothing.
// Not modelled: forwarding itself, VGA and ISA decode.

import { type Decoded, defineLayout } from '../bits.js';
import { type ConfigRegister, defineRegister } from './config-register.js';
import { type ConfigSpace, readRegister, readRegisterFields, STATUS } from './config-space.js';

const byteRegister = (name: string, offset: number, meaning: string) =>
  defineRegister(
    name,
    offset,
    1,
    defineLayout(
      name.toLowerCase().replaceAll(' ', '-'),
      32,
      `PCIe Base Spec 6.0, 7.5.1.3 ${name}`,
      {
        value: [7, 0, meaning],
      },
      { complete: false },
    ),
    { value: 'RW' },
  );

export const PRIMARY_BUS_NUMBER = byteRegister('Primary Bus Number', 0x18, 'Primary Bus Number');
export const SECONDARY_BUS_NUMBER = byteRegister(
  'Secondary Bus Number',
  0x19,
  'Secondary Bus Number',
);
export const SUBORDINATE_BUS_NUMBER = byteRegister(
  'Subordinate Bus Number',
  0x1a,
  'Subordinate Bus Number',
);
export const SECONDARY_LATENCY_TIMER = byteRegister(
  'Secondary Latency Timer',
  0x1b,
  'Secondary Latency Timer (PCIe: hardwired 0)',
);

/** I/O Base and I/O Limit: address bits 15:12 in [7:4], the addressing capability in [3:0]. */
const IO_WINDOW = defineLayout(
  'io-base-limit',
  32,
  'PCIe Base Spec 6.0, 7.5.1.3.6 I/O Base/Limit Registers',
  {
    addressingCapability: [3, 0, '0 = 16-bit I/O, 1 = 32-bit I/O'],
    address: [7, 4, 'I/O address bits 15:12'],
  },
  { complete: false },
);
export const IO_BASE = defineRegister('I/O Base', 0x1c, 1, IO_WINDOW, {
  addressingCapability: 'RO',
  address: 'RW',
});
export const IO_LIMIT = defineRegister('I/O Limit', 0x1d, 1, IO_WINDOW, {
  addressingCapability: 'RO',
  address: 'RW',
});

/** Secondary Status has Status' layout (bit 14 is Received System Error on this side). */
export const SECONDARY_STATUS = defineRegister('Secondary Status', 0x1e, 2, STATUS.layout, {
  ...STATUS.attributes,
});

/** Memory and Prefetchable Base/Limit: address bits 31:20 in [15:4], the type in [3:0]. */
const MEMORY_WINDOW = defineLayout(
  'memory-base-limit',
  32,
  'PCIe Base Spec 6.0, 7.5.1.3.8/9 (Prefetchable) Memory Base/Limit Registers',
  {
    addressingCapability: [3, 0, 'Memory: 0; Prefetchable: 0 = 32-bit, 1 = 64-bit'],
    address: [15, 4, 'Memory address bits 31:20'],
  },
  { complete: false },
);
const windowAttributes = { addressingCapability: 'RO', address: 'RW' } as const;
export const MEMORY_BASE = defineRegister('Memory Base', 0x20, 2, MEMORY_WINDOW, windowAttributes);
export const MEMORY_LIMIT = defineRegister(
  'Memory Limit',
  0x22,
  2,
  MEMORY_WINDOW,
  windowAttributes,
);
export const PREFETCHABLE_BASE = defineRegister(
  'Prefetchable Memory Base',
  0x24,
  2,
  MEMORY_WINDOW,
  windowAttributes,
);
export const PREFETCHABLE_LIMIT = defineRegister(
  'Prefetchable Memory Limit',
  0x26,
  2,
  MEMORY_WINDOW,
  windowAttributes,
);

const upper = (name: string, offset: number, size: 2 | 4) =>
  defineRegister(
    name,
    offset,
    size,
    defineLayout(
      name.toLowerCase().replaceAll(' ', '-'),
      32,
      `PCIe Base Spec 6.0, 7.5.1.3 ${name}`,
      {
        value: [size * 8 - 1, 0, name],
      },
      { complete: false },
    ),
    { value: 'RW' },
  );
export const PREFETCHABLE_BASE_UPPER_32 = upper('Prefetchable Base Upper 32 Bits', 0x28, 4);
export const PREFETCHABLE_LIMIT_UPPER_32 = upper('Prefetchable Limit Upper 32 Bits', 0x2c, 4);
export const IO_BASE_UPPER_16 = upper('I/O Base Upper 16 Bits', 0x30, 2);
export const IO_LIMIT_UPPER_16 = upper('I/O Limit Upper 16 Bits', 0x32, 2);

export const BRIDGE_CONTROL = defineRegister(
  'Bridge Control',
  0x3e,
  2,
  defineLayout(
    'bridge-control',
    32,
    'PCIe Base Spec 6.0, 7.5.1.3.13 Bridge Control Register; PCI-to-PCI Bridge 1.2, 3.2.5.18',
    {
      parityErrorResponseEnable: [0, 0, 'Parity Error Response Enable'],
      serrEnable: [1, 1, 'SERR# Enable'],
      isaEnable: [2, 2, 'ISA Enable'],
      vgaEnable: [3, 3, 'VGA Enable'],
      vga16BitDecode: [4, 4, 'VGA 16-bit Decode'],
      masterAbortMode: [5, 5, 'Master Abort Mode'],
      secondaryBusReset: [6, 6, 'Secondary Bus Reset'],
      fastBackToBackEnable: [7, 7, 'Fast Back-to-Back Transactions Enable'],
      primaryDiscardTimeout: [8, 8, 'Primary Discard Timeout'],
      secondaryDiscardTimeout: [9, 9, 'Secondary Discard Timeout'],
      discardTimerStatus: [10, 10, 'Discard Timer Status'],
      discardTimerSerrEnable: [11, 11, 'Discard Timer SERR# Enable'],
      reserved: [15, 12, 'Reserved'],
    },
    { complete: false },
  ),
  {
    parityErrorResponseEnable: 'RW',
    serrEnable: 'RW',
    isaEnable: 'RW',
    vgaEnable: 'RW',
    vga16BitDecode: 'RW',
    masterAbortMode: 'RO',
    secondaryBusReset: 'RW',
    fastBackToBackEnable: 'RO',
    primaryDiscardTimeout: 'RO',
    secondaryDiscardTimeout: 'RO',
    discardTimerStatus: 'RO',
    discardTimerSerrEnable: 'RO',
    reserved: 'RsvdP',
  },
);

export const TYPE1_REGISTERS: readonly ConfigRegister[] = [
  PRIMARY_BUS_NUMBER,
  SECONDARY_BUS_NUMBER,
  SUBORDINATE_BUS_NUMBER,
  SECONDARY_LATENCY_TIMER,
  IO_BASE,
  IO_LIMIT,
  SECONDARY_STATUS,
  MEMORY_BASE,
  MEMORY_LIMIT,
  PREFETCHABLE_BASE,
  PREFETCHABLE_LIMIT,
  PREFETCHABLE_BASE_UPPER_32,
  PREFETCHABLE_LIMIT_UPPER_32,
  IO_BASE_UPPER_16,
  IO_LIMIT_UPPER_16,
  BRIDGE_CONTROL,
];

/** Window addressing capabilities (the low nibble of the base and limit registers). */
export const IO_ADDRESSING = { bits16: 0, bits32: 1 } as const;
export const PREFETCHABLE_ADDRESSING = { bits32: 0, bits64: 1 } as const;

type Window = Decoded<typeof IO_WINDOW.fields>;
type MemoryWindow = Decoded<typeof MEMORY_WINDOW.fields>;

export interface Type1Header {
  primaryBus: number;
  secondaryBus: number;
  subordinateBus: number;
  secondaryLatencyTimer: number;
  ioBase: Window;
  ioLimit: Window;
  ioBaseUpper16: number;
  ioLimitUpper16: number;
  memoryBase: MemoryWindow;
  memoryLimit: MemoryWindow;
  prefetchableBase: MemoryWindow;
  prefetchableLimit: MemoryWindow;
  prefetchableBaseUpper32: number;
  prefetchableLimitUpper32: number;
  secondaryStatus: Decoded<typeof STATUS.layout.fields>;
  bridgeControl: Decoded<typeof BRIDGE_CONTROL.layout.fields>;
  /** Raw window registers, as lspci prints them when their types are unknown. */
  raw: {
    ioBase: number;
    ioLimit: number;
    memoryBase: number;
    memoryLimit: number;
    prefetchableBase: number;
    prefetchableLimit: number;
  };
}

export function decodeType1Header(space: ConfigSpace): Type1Header {
  const value = (register: ConfigRegister) => readRegister(space, 0, register);
  return {
    primaryBus: value(PRIMARY_BUS_NUMBER),
    secondaryBus: value(SECONDARY_BUS_NUMBER),
    subordinateBus: value(SUBORDINATE_BUS_NUMBER),
    secondaryLatencyTimer: value(SECONDARY_LATENCY_TIMER),
    ioBase: readRegisterFields(space, 0, IO_BASE),
    ioLimit: readRegisterFields(space, 0, IO_LIMIT),
    ioBaseUpper16: value(IO_BASE_UPPER_16),
    ioLimitUpper16: value(IO_LIMIT_UPPER_16),
    memoryBase: readRegisterFields(space, 0, MEMORY_BASE),
    memoryLimit: readRegisterFields(space, 0, MEMORY_LIMIT),
    prefetchableBase: readRegisterFields(space, 0, PREFETCHABLE_BASE),
    prefetchableLimit: readRegisterFields(space, 0, PREFETCHABLE_LIMIT),
    prefetchableBaseUpper32: value(PREFETCHABLE_BASE_UPPER_32),
    prefetchableLimitUpper32: value(PREFETCHABLE_LIMIT_UPPER_32),
    secondaryStatus: readRegisterFields(space, 0, SECONDARY_STATUS),
    bridgeControl: readRegisterFields(space, 0, BRIDGE_CONTROL),
    raw: {
      ioBase: value(IO_BASE),
      ioLimit: value(IO_LIMIT),
      memoryBase: value(MEMORY_BASE),
      memoryLimit: value(MEMORY_LIMIT),
      prefetchableBase: value(PREFETCHABLE_BASE),
      prefetchableLimit: value(PREFETCHABLE_LIMIT),
    },
  };
}
