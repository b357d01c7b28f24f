// `irqlab serve`: the static server of the built page. Files under the root only (a path that
// climbs out is not found), GET and HEAD only, 127.0.0.1 by default, bad options are exit 2.

import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { serveWeb, webServer } from '../../src/cli/serve.js';
import { ROOT } from './cli-run-helpers.js';

const root = mkdtempSync(join(tmpdir(), 'irqlab-serve-'));
const site = join(root, 'site');
mkdirSync(join(site, 'assets'), { recursive: true });
writeFileSync(join(site, 'index.html'), '<!doctype html><title>t</title>');
writeFileSync(join(site, 'assets', 'a.js'), 'export {};');
writeFileSync(join(root, 'secret.txt'), 'not served');
const server = webServer(site);
let base = '';

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.close();
});

describe('irqlab serve', () => {
  it('serves the page and its assets with their content types', async () => {
    const index = await fetch(`${base}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await index.text()).toContain('<title>t</title>');
    const js = await fetch(`${base}/assets/a.js`);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
  });

  it('serves nothing outside its root, and only GET and HEAD', async () => {
    for (const path of [
      '/../secret.txt',
      '/%2e%2e/secret.txt',
      '/assets/../../secret.txt',
      '/nope',
    ]) {
      expect((await fetch(`${base}${path}`)).status, path).toBe(404);
    }
    expect((await fetch(`${base}/`, { method: 'POST', body: 'x' })).status).toBe(405);
    expect((await fetch(`${base}/`, { method: 'HEAD' })).status).toBe(200);
  });

  it('rejects a bad port with exit 2 and says why', async () => {
    const m = memoryIo();
    expect(await main(['serve', '--port', '70000'], m.io)).toBe(2);
    expect(m.stderr()).toBe('irqlab: --port: "70000" is not a port 0..65535 (0: any free port)\n');
  });

  it('binds 127.0.0.1 unless told otherwise, and says where', async () => {
    const help = memoryIo();
    await main(['serve', '--help'], help.io);
    expect(help.stdout()).toMatch(/--host <addr>.*\(default: "127\.0\.0\.1"\)/s);
    const m = memoryIo();
    const s = await serveWeb(m.io, { port: '0', host: '127.0.0.1', root: site });
    const a = s.address() as AddressInfo;
    s.close();
    expect(a.address).toBe('127.0.0.1');
    expect(m.stdout()).toBe(
      `irqlab: serving the page at http://127.0.0.1:${a.port}/ (Ctrl-C stops)\n`,
    );
  });

  it('says the page is not built when it is not', async () => {
    const m = memoryIo();
    await expect(serveWeb(m.io, { port: '0', host: '127.0.0.1', root })).rejects.toThrow(
      'the web page is not built',
    );
  });
});

describe('the web page and src/', () => {
  // One copy of the model: web/ imports src/, it never holds a copy of a src/ file.
  const files = (dir: string): string[] =>
    readdirSync(dir).flatMap((e) => {
      const p = join(dir, e);
      return statSync(p).isDirectory() ? files(p) : [p];
    });
  it('web/ holds no copy of a file of src/ and imports the model from src/', () => {
    const src = new Map(
      files(join(ROOT, 'src')).map((f) => [readFileSync(f, 'utf8'), relative(ROOT, f)]),
    );
    const web = files(join(ROOT, 'web'));
    for (const f of web) expect(src.get(readFileSync(f, 'utf8')), f).toBeUndefined();
    const imports = web.flatMap((f) =>
      [...readFileSync(f, 'utf8').matchAll(/from '(\.\.\/src\/[^']+)'/g)].map((m) => m[1]),
    );
    expect(imports).toContain('../src/scenario/load.js');
    expect(imports).toContain('../src/scenario/run-strategy.js');
  });
});
