// Running the real `irqlab` binary (bin/irqlab.js runs dist/, built by `npm run build`; built here
// when missing or older than the sources it runs).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SHIPPED = ['idxd-siov.yaml', 'mlx5-vf.yaml', 'mixed.yaml'].map(
  (f) => `scenarios/${f}`,
);

export function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

export function ensureBuilt(): void {
  const built = `${ROOT}dist/src/cli/run.js`;
  if (existsSync(built) && statSync(built).mtimeMs >= newestSource(`${ROOT}src`)) return;
  spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT });
}

export const bin = (...args: string[]) =>
  spawnSync(process.execPath, ['bin/irqlab.js', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
