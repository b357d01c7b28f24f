import type { Command } from 'commander';
import type { CliIo } from './io.js';

export function registerDecodeIrte(_decode: Command, _io: CliIo): void {}
