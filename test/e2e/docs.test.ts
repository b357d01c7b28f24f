// The docs quote `irqlab compare` output in command blocks (```\n$ irqlab <args>\n...```); each
// block must be what the command prints now (regenerate with `node scripts/docs-compare.mjs`
// after `npm run build`). Run in-process through the CLI's own entry point.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';

const DOCS = new URL('../../docs/', import.meta.url);
const BLOCK = /```\n\$ irqlab ([^\n]+)\n([\s\S]*?)```/g;

const blocks = readdirSync(DOCS)
  .filter((f) => f.endsWith('.md'))
  .flatMap((f) =>
    [...readFileSync(new URL(f, DOCS), 'utf8').matchAll(BLOCK)].map((m) => ({
      doc: f,
      args: m[1].trim(),
      quoted: m[2].trimEnd(),
    })),
  );

describe('command output quoted in docs/', () => {
  it('quotes at least one compare of a shipped scenario', () => {
    expect(blocks.some((b) => b.args.startsWith('compare scenarios/'))).toBe(true);
  });
  it.each(blocks)('$doc: irqlab $args', async ({ args, quoted }) => {
    const m = memoryIo();
    const code = await main(args.split(/\s+/), m.io);
    expect(code).toBe(0);
    expect(m.stdout().trimEnd()).toBe(quoted);
  });
});
