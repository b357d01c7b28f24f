// Regenerates every command block in docs/*.md that starts with `$ irqlab <args>`: the block's
// lines after the command are replaced by what `node bin/irqlab.js <args>` prints now, so the
// numbers quoted in the docs are the model's, reproducibly. Run after `npm run build`:
//   node scripts/docs-compare.mjs            rewrite the docs
//   node scripts/docs-compare.mjs --check    exit 1 if any block is out of date
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

const check = process.argv.includes('--check');
const BLOCK = /```\n\$ irqlab ([^\n]+)\n[\s\S]*?```/g;
let stale = 0;
for (const name of readdirSync('docs').filter((f) => f.endsWith('.md'))) {
  const path = `docs/${name}`;
  const text = readFileSync(path, 'utf8');
  const next = text.replace(BLOCK, (_block, args) => {
    const out = execFileSync('node', ['bin/irqlab.js', ...args.trim().split(/\s+/)], {
      encoding: 'utf8',
    });
    return `\`\`\`\n$ irqlab ${args}\n${out.trimEnd()}\n\`\`\``;
  });
  if (next !== text) {
    stale++;
    if (!check) writeFileSync(path, next);
    console.log(`${check ? 'out of date' : 'updated'}: ${path}`);
  }
}
if (check && stale > 0) process.exit(1);
