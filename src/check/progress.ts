// Progress of a running search for a terminal: one line (states, states/s, depth, memory, time)
// rewritten in place on stderr, only when stderr is a TTY (a pipe or a CI log gets nothing, so
// output stays byte-for-byte the same wherever it is captured).

import type { Progress } from './explore.js';

const MIB = 1024 * 1024;

export function formatProgress(p: Progress): string {
  const rate =
    p.statesPerSecond >= 1e6
      ? `${(p.statesPerSecond / 1e6).toFixed(2)} M`
      : `${Math.round(p.statesPerSecond / 1e3)} k`;
  return (
    `${p.states.toLocaleString('en-US')} states, ${rate} states/s, ` +
    `${p.transitions.toLocaleString('en-US')} transitions, depth ${p.depth}, ` +
    `${(p.bytes / MIB).toFixed(1)} MiB, ${p.seconds.toFixed(1)} s`
  );
}

export interface TtyProgress {
  readonly onProgress: ((p: Progress) => void) | undefined;
  /** Clears the line (call when the search returns). */
  done(): void;
}

export function ttyProgress(stream: NodeJS.WriteStream = process.stderr): TtyProgress {
  if (!stream.isTTY) return { onProgress: undefined, done() {} };
  let shown = false;
  return {
    onProgress(p) {
      stream.write(`\r\x1b[K${formatProgress(p)}`);
      shown = true;
    },
    done() {
      if (shown) stream.write('\r\x1b[K');
    },
  };
}
