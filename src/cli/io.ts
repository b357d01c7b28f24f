// How commands talk to the outside world: output sinks and file reading, injectable so that tests
// can run the command in-process as well as through the real binary.

import { readFileSync } from 'node:fs';
import { InputError } from '../hw/errors.js';

export const EXIT = { ok: 0, propertyFailed: 1, badInput: 2, bug: 3 } as const;

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  readFile(path: string): Uint8Array;
  /** The exit code a command asked for (e.g. 1 when a checked property failed); 0 if none. */
  exitCode(): number;
  setExitCode(code: number): void;
  isTty: boolean;
}

export function readFileOrThrow(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new InputError(path, `cannot read file (${reason})`);
  }
}

export function nodeIo(): CliIo {
  let requestedExit = 0;
  return {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    readFile: readFileOrThrow,
    exitCode: () => requestedExit,
    setExitCode: (code) => {
      requestedExit = code;
    },
    isTty: Boolean(process.stderr.isTTY),
  };
}

/** An in-memory CliIo for tests. */
export function memoryIo(files: Record<string, Uint8Array | string> = {}) {
  let stdout = '';
  let stderr = '';
  let code = 0;
  const io: CliIo = {
    out: (text) => {
      stdout += text;
    },
    err: (text) => {
      stderr += text;
    },
    readFile: (path) => {
      const content = files[path];
      if (content === undefined) return readFileOrThrow(path);
      return typeof content === 'string' ? new TextEncoder().encode(content) : content;
    },
    exitCode: () => code,
    setExitCode: (c) => {
      code = c;
    },
    isTty: false,
  };
  return { io, stdout: () => stdout, stderr: () => stderr };
}
