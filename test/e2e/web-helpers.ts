// The web page's browser tests: the page built (Vite, into dist/web), `irqlab serve` on a free
// port, and Debian's Chromium driven by playwright-core (Playwright's own browser download is
// not used). A browser that cannot start fails the test with the reason, within a bound time.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { ensureBuilt, newestSource, ROOT } from './cli-run-helpers.js';

export const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];
const LAUNCH_TIMEOUT_MS = 30_000;
/** The window sizes the views are checked at: the 1280x800, and a narrow one. */
export const WIDE = { width: 1280, height: 800 };
export const NARROW = { width: 420, height: 860 };
const SERVE_TIMEOUT_MS = 15_000;

/** Where the screenshots go (not committed): $IRQLAB_WEB_SHOTS, else a folder under the tmpdir. */
export const SHOTS = process.env.IRQLAB_WEB_SHOTS ?? join(tmpdir(), 'irqlab-web-shots');

/** Builds the CLI and the page when either is older than what it is built from. */
export function ensureWebBuilt(): void {
  ensureBuilt();
  const index = join(ROOT, 'dist/web/index.html');
  const newest = Math.max(newestSource(join(ROOT, 'web')), newestSource(join(ROOT, 'src')));
  if (existsSync(index) && statSync(index).mtimeMs >= newest) return;
  const r = spawnSync(
    'npx',
    ['vite', 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn'],
    {
      cwd: ROOT,
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`vite build failed:\n${r.stdout}${r.stderr}`);
}

export interface Served {
  readonly url: string;
  readonly child: ChildProcess;
}

/** `irqlab serve --port 0`; resolves with the URL it prints. */
export function serve(): Promise<Served> {
  const child = spawn(process.execPath, ['bin/irqlab.js', 'serve', '--port', '0'], { cwd: ROOT });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`irqlab serve printed no URL in ${SERVE_TIMEOUT_MS} ms: ${out}`));
    }, SERVE_TIMEOUT_MS);
    const read = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /http:\/\/127\.0\.0\.1:\d+\//.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[0], child });
      }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`irqlab serve exited (${code}): ${out}`));
    });
  });
}

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `no browser at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium; .ci/run does)`,
    );
  }
  try {
    return await chromium.launch({
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS,
      timeout: LAUNCH_TIMEOUT_MS,
    });
  } catch (e) {
    throw new Error(
      `Chromium at ${CHROMIUM} did not start: ${(e as Error).message.split('\n')[0]}`,
    );
  }
}

/** Every request the page makes, to check none leaves the serving host. */
export function recordRequests(page: Page): string[] {
  const urls: string[] = [];
  page.on('request', (r) => urls.push(r.url()));
  return urls;
}

export function shot(page: Page, name: string): Promise<Buffer> {
  mkdirSync(SHOTS, { recursive: true });
  return page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });
}
