// The Advanced Error Reporting Extended Capability (PCI Express Base Spec 6.0, section 7.8.4
// "Advanced Error Reporting Extended Capability"): error status, mask and severity registers, the
// capabilities/control register and the header log. irqlab does not model PCIe errors; AER is
// decoded because real PCIe functions (e1000e, nvme) carry it, so a dump walks and prints as lspci
// prints it, and writes follow the spec's attributes (the status registers are RW1CS).
// Root Ports and Root Complex Event Collectors also have Root Error Command, Root Error Status
// and Error Source Identification (0x2c-0x37), decoded only for those (`decodeAerRootRegisters`).
// Not modelled: the TLP Prefix Log, error signalling itself.

import { type Decoded, decode, defineLayout } from '../bits.js';
import { InputError } from '../errors.js';
import { type ConfigRegister, defineRegister } from './config-register.js';
import {
  type ConfigSpace,
  checkStructureFits,
  readConfigDword,
  readRegisterFields,
} from './config-space.js';

/** Bytes the decoder reads: through the 4-DWORD Header Log (0x1c-0x2b). */
export const AER_CAPABILITY_SIZE = 0x2c;
export const AER_HEADER_LOG_DWORDS = 4;

const UNCORRECTABLE_FIELDS = {
  undefined0: [0, 0, 'Undefined (was Link Training Error)'],
  reserved: [3, 1, 'Reserved'],
  dataLinkProtocolError: [4, 4, 'Data Link Protocol Error'],
  surpriseDownError: [5, 5, 'Surprise Down Error'],
  reservedMid: [11, 6, 'Reserved'],
  poisonedTlpReceived: [12, 12, 'Poisoned TLP Received'],
  flowControlProtocolError: [13, 13, 'Flow Control Protocol Error'],
  completionTimeout: [14, 14, 'Completion Timeout'],
  completerAbort: [15, 15, 'Completer Abort'],
  unexpectedCompletion: [16, 16, 'Unexpected Completion'],
  receiverOverflow: [17, 17, 'Receiver Overflow'],
  malformedTlp: [18, 18, 'Malformed TLP'],
  ecrcError: [19, 19, 'ECRC Error'],
  unsupportedRequestError: [20, 20, 'Unsupported Request Error'],
  acsViolation: [21, 21, 'ACS Violation'],
  otherUncorrectable: [31, 22, 'Internal Error, MC Blocked TLP, AtomicOp Egress Blocked, ...'],
} as const;

const CORRECTABLE_FIELDS = {
  receiverError: [0, 0, 'Receiver Error'],
  reserved: [5, 1, 'Reserved'],
  badTlp: [6, 6, 'Bad TLP'],
  badDllp: [7, 7, 'Bad DLLP'],
  replayNumRollover: [8, 8, 'REPLAY_NUM Rollover'],
  reservedMid: [11, 9, 'Reserved'],
  replayTimerTimeout: [12, 12, 'Replay Timer Timeout'],
  advisoryNonFatalError: [13, 13, 'Advisory Non-Fatal Error'],
  otherCorrectable: [31, 14, 'Corrected Internal Error, Header Log Overflow, ...'],
} as const;

const uncorrectable = (name: string, section: string) =>
  defineLayout(name, 32, `PCIe Base Spec 6.0, ${section}`, UNCORRECTABLE_FIELDS, {
    complete: true,
  });
const correctable = (name: string, section: string) =>
  defineLayout(name, 32, `PCIe Base Spec 6.0, ${section}`, CORRECTABLE_FIELDS, { complete: true });

type Attributes<F> = Record<keyof F & string, 'RW1C' | 'RW' | 'RO' | 'RsvdZ' | 'RsvdP'>;
const all = <F extends object>(fields: F, attribute: 'RW1C' | 'RW', reserved: 'RsvdZ' | 'RsvdP') =>
  Object.fromEntries(
    Object.keys(fields).map((name) => [
      name,
      name.startsWith('reserved') || name.startsWith('undefined') ? reserved : attribute,
    ]),
  ) as Attributes<F>;

export const UNCORRECTABLE_ERROR_STATUS = defineRegister(
  'Uncorrectable Error Status',
  0x04,
  4,
  uncorrectable('aer-uncorrectable-error-status', '7.8.4.2 Uncorrectable Error Status Register'),
  all(UNCORRECTABLE_FIELDS, 'RW1C', 'RsvdZ'),
);
export const UNCORRECTABLE_ERROR_MASK = defineRegister(
  'Uncorrectable Error Mask',
  0x08,
  4,
  uncorrectable('aer-uncorrectable-error-mask', '7.8.4.3 Uncorrectable Error Mask Register'),
  all(UNCORRECTABLE_FIELDS, 'RW', 'RsvdP'),
);
export const UNCORRECTABLE_ERROR_SEVERITY = defineRegister(
  'Uncorrectable Error Severity',
  0x0c,
  4,
  uncorrectable(
    'aer-uncorrectable-error-severity',
    '7.8.4.4 Uncorrectable Error Severity Register',
  ),
  all(UNCORRECTABLE_FIELDS, 'RW', 'RsvdP'),
);
export const CORRECTABLE_ERROR_STATUS = defineRegister(
  'Correctable Error Status',
  0x10,
  4,
  correctable('aer-correctable-error-status', '7.8.4.5 Correctable Error Status Register'),
  all(CORRECTABLE_FIELDS, 'RW1C', 'RsvdZ'),
);
export const CORRECTABLE_ERROR_MASK = defineRegister(
  'Correctable Error Mask',
  0x14,
  4,
  correctable('aer-correctable-error-mask', '7.8.4.6 Correctable Error Mask Register'),
  all(CORRECTABLE_FIELDS, 'RW', 'RsvdP'),
);

export const AER_CAPABILITIES_CONTROL = defineRegister(
  'Advanced Error Capabilities and Control',
  0x18,
  4,
  defineLayout(
    'aer-capabilities-control',
    32,
    'PCIe Base Spec 6.0, 7.8.4.7 Advanced Error Capabilities and Control Register',
    {
      firstErrorPointer: [4, 0, 'First Error Pointer'],
      ecrcGenerationCapable: [5, 5, 'ECRC Generation Capable'],
      ecrcGenerationEnable: [6, 6, 'ECRC Generation Enable'],
      ecrcCheckCapable: [7, 7, 'ECRC Check Capable'],
      ecrcCheckEnable: [8, 8, 'ECRC Check Enable'],
      multipleHeaderRecordingCapable: [9, 9, 'Multiple Header Recording Capable'],
      multipleHeaderRecordingEnable: [10, 10, 'Multiple Header Recording Enable'],
      tlpPrefixLogPresent: [11, 11, 'TLP Prefix Log Present'],
      completionTimeoutPrefixHeaderLogCapable: [12, 12, 'Completion Timeout Prefix/Header Log'],
      reserved: [31, 13, 'Reserved'],
    },
    { complete: true },
  ),
  {
    firstErrorPointer: 'RO',
    ecrcGenerationCapable: 'RO',
    ecrcGenerationEnable: 'RW',
    ecrcCheckCapable: 'RO',
    ecrcCheckEnable: 'RW',
    multipleHeaderRecordingCapable: 'RO',
    multipleHeaderRecordingEnable: 'RW',
    tlpPrefixLogPresent: 'RO',
    completionTimeoutPrefixHeaderLogCapable: 'RO',
    reserved: 'RsvdP',
  },
);

/** Root Error Command through Error Source Identification. */
export const AER_ROOT_SIZE = 0x38;

export const ROOT_ERROR_COMMAND = defineRegister(
  'Root Error Command',
  0x2c,
  4,
  defineLayout(
    'aer-root-error-command',
    32,
    'PCIe Base Spec 6.0, 7.8.4.9 Root Error Command Register',
    {
      correctableErrorReportingEnable: [0, 0, 'Correctable Error Reporting Enable'],
      nonFatalErrorReportingEnable: [1, 1, 'Non-Fatal Error Reporting Enable'],
      fatalErrorReportingEnable: [2, 2, 'Fatal Error Reporting Enable'],
      reserved: [31, 3, 'Reserved'],
    },
    { complete: true },
  ),
  {
    correctableErrorReportingEnable: 'RW',
    nonFatalErrorReportingEnable: 'RW',
    fatalErrorReportingEnable: 'RW',
    reserved: 'RsvdP',
  },
);

export const ROOT_ERROR_STATUS = defineRegister(
  'Root Error Status',
  0x30,
  4,
  defineLayout(
    'aer-root-error-status',
    32,
    'PCIe Base Spec 6.0, 7.8.4.10 Root Error Status Register',
    {
      errCorReceived: [0, 0, 'ERR_COR Received'],
      multipleErrCorReceived: [1, 1, 'Multiple ERR_COR Received'],
      errFatalNonFatalReceived: [2, 2, 'ERR_FATAL/NONFATAL Received'],
      multipleErrFatalNonFatalReceived: [3, 3, 'Multiple ERR_FATAL/NONFATAL Received'],
      firstUncorrectableFatal: [4, 4, 'First Uncorrectable Fatal'],
      nonFatalErrorMessagesReceived: [5, 5, 'Non-Fatal Error Messages Received'],
      fatalErrorMessagesReceived: [6, 6, 'Fatal Error Messages Received'],
      reserved: [26, 7, 'Reserved (bits 8:7: ERR_COR Subclass)'],
      advancedErrorInterruptMessageNumber: [31, 27, 'Advanced Error Interrupt Message Number'],
    },
    { complete: true },
  ),
  {
    errCorReceived: 'RW1C',
    multipleErrCorReceived: 'RW1C',
    errFatalNonFatalReceived: 'RW1C',
    multipleErrFatalNonFatalReceived: 'RW1C',
    firstUncorrectableFatal: 'RW1C',
    nonFatalErrorMessagesReceived: 'RW1C',
    fatalErrorMessagesReceived: 'RW1C',
    reserved: 'RsvdZ',
    advancedErrorInterruptMessageNumber: 'RO',
  },
);

export const ERROR_SOURCE_IDENTIFICATION = defineRegister(
  'Error Source Identification',
  0x34,
  4,
  defineLayout(
    'aer-error-source-identification',
    32,
    'PCIe Base Spec 6.0, 7.8.4.11 Error Source Identification Register',
    {
      errCorSourceIdentification: [15, 0, 'ERR_COR Source Identification'],
      errFatalNonFatalSourceIdentification: [31, 16, 'ERR_FATAL/NONFATAL Source Identification'],
    },
    { complete: true },
  ),
  { errCorSourceIdentification: 'RO', errFatalNonFatalSourceIdentification: 'RO' },
);

export interface AerRootRegisters {
  rootErrorCommand: Decoded<typeof ROOT_ERROR_COMMAND.layout.fields>;
  rootErrorStatus: Decoded<typeof ROOT_ERROR_STATUS.layout.fields>;
  errorSourceIdentification: Decoded<typeof ERROR_SOURCE_IDENTIFICATION.layout.fields>;
}

/** The Root Port / Event Collector registers of the AER capability at `offset`. */
export function decodeAerRootRegisters(space: ConfigSpace, offset: number): AerRootRegisters {
  checkStructureFits(space, offset, AER_ROOT_SIZE, 'AER capability (Root registers)');
  return {
    rootErrorCommand: readRegisterFields(space, offset, ROOT_ERROR_COMMAND),
    rootErrorStatus: readRegisterFields(space, offset, ROOT_ERROR_STATUS),
    errorSourceIdentification: readRegisterFields(space, offset, ERROR_SOURCE_IDENTIFICATION),
  };
}

export const AER_REGISTERS: readonly ConfigRegister[] = [
  UNCORRECTABLE_ERROR_STATUS,
  UNCORRECTABLE_ERROR_MASK,
  UNCORRECTABLE_ERROR_SEVERITY,
  CORRECTABLE_ERROR_STATUS,
  CORRECTABLE_ERROR_MASK,
  AER_CAPABILITIES_CONTROL,
];

export interface AerCapability {
  offset: number;
  uncorrectableErrorStatus: Decoded<typeof UNCORRECTABLE_FIELDS>;
  uncorrectableErrorMask: Decoded<typeof UNCORRECTABLE_FIELDS>;
  uncorrectableErrorSeverity: Decoded<typeof UNCORRECTABLE_FIELDS>;
  correctableErrorStatus: Decoded<typeof CORRECTABLE_FIELDS>;
  correctableErrorMask: Decoded<typeof CORRECTABLE_FIELDS>;
  capabilitiesControl: Decoded<typeof AER_CAPABILITIES_CONTROL.layout.fields>;
  headerLog: number[];
}

export function decodeAerCapability(space: ConfigSpace, offset: number): AerCapability {
  if (offset + AER_CAPABILITY_SIZE > space.bytes.length) {
    throw new InputError(
      `AER capability at 0x${offset.toString(16)}`,
      'runs past the end of the config space',
    );
  }
  const read = <F extends typeof UNCORRECTABLE_FIELDS | typeof CORRECTABLE_FIELDS>(
    register: ConfigRegister<F>,
  ) => decode(register.layout, [readConfigDword(space, offset + register.offset)]);
  return {
    offset,
    uncorrectableErrorStatus: read(UNCORRECTABLE_ERROR_STATUS),
    uncorrectableErrorMask: read(UNCORRECTABLE_ERROR_MASK),
    uncorrectableErrorSeverity: read(UNCORRECTABLE_ERROR_SEVERITY),
    correctableErrorStatus: read(CORRECTABLE_ERROR_STATUS),
    correctableErrorMask: read(CORRECTABLE_ERROR_MASK),
    capabilitiesControl: decode(AER_CAPABILITIES_CONTROL.layout, [
      readConfigDword(space, offset + AER_CAPABILITIES_CONTROL.offset),
    ]),
    headerLog: Array.from({ length: AER_HEADER_LOG_DWORDS }, (_, i) =>
      readConfigDword(space, offset + 0x1c + 4 * i),
    ),
  };
}
