// `irqlab serve [--port N] [--host ADDR]`: serves the built web page (web/, bundled by Vite into
// dist/web/ with the model code of src/) over HTTP, on 127.0.0.1 unless told otherwise. The
// page runs the model itself, in a Web Worker: the server only hands out its static files, so
// nothing a user types is sent anywhere. Not here: building the page (`npm run web` builds and
// serves; `npm run build:web` only builds).

import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { InputError } from '../hw/errors.js';
import type { CliIo } from './io.js';

/** dist/web beside dist/src/cli/serve.js. */
export const WEB_ROOT = fileURLToPath(new URL('../../web/', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** The file a request path names under `root`, or null (outside it, or not a file). */
function fileFor(root: string, url: string): string | null {
  const pathname = decodeURIComponent(new URL(url, 'http://localhost').pathname);
  const path = normalize(join(root, pathname === '/' ? 'index.html' : pathname));
  if (!path.startsWith(root.endsWith(sep) ? root : root + sep)) return null;
  return existsSync(path) && statSync(path).isFile() ? path : null;
}

export function webServer(root: string): Server {
  return createServer((req, res) => {
    const path =
      req.method === 'GET' || req.method === 'HEAD' ? fileFor(root, req.url ?? '/') : null;
    if (path === null) {
      res.writeHead(req.method === 'GET' || req.method === 'HEAD' ? 404 : 405, {
        'content-type': 'text/plain',
      });
      res.end('not found\n');
      return;
    }
    res.writeHead(200, {
      'content-type': CONTENT_TYPES[extname(path)] ?? 'application/octet-stream',
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
    });
    res.end(req.method === 'HEAD' ? undefined : readFileSync(path));
  });
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || n > 65535) {
    throw new InputError('--port', `"${value}" is not a port 0..65535 (0: any free port)`);
  }
  return n;
}

/** Listens on `opts.host`:`opts.port` and says where; the server runs until closed. */
export async function serveWeb(
  io: CliIo,
  opts: { port: string; host: string; root?: string },
): Promise<Server> {
  const root = opts.root ?? WEB_ROOT;
  if (!existsSync(join(root, 'index.html'))) {
    throw new InputError(
      root,
      'the web page is not built: run `npm run build:web` (or `npm run web`)',
    );
  }
  const port = parsePort(opts.port);
  const server = webServer(root);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new InputError(`${opts.host}:${port}`, `cannot listen (${e.code ?? e.message})`)),
    );
    server.listen(port, opts.host, resolve);
  });
  const address = server.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  io.out(`irqlab: serving the page at http://${host}:${actual}/ (Ctrl-C stops)\n`);
  return server;
}

export function registerServe(program: Command, io: CliIo): void {
  program
    .command('serve')
    .description('serve the web page (edit and run scenarios in the browser) on 127.0.0.1')
    .option('--port <n>', 'TCP port (0: any free port)', '8035')
    .option('--host <addr>', 'address to bind (the default keeps it to this machine)', '127.0.0.1')
    .addHelpText(
      'after',
      '\nExamples:\n  irqlab serve                 # then open http://127.0.0.1:8035/\n' +
        '  irqlab serve --port 0        # any free port (printed)\n' +
        '  npm run web                  # build the page, then serve it',
    )
    .action(async (opts: { port: string; host: string }) => {
      const server = await serveWeb(io, opts);
      await new Promise<void>((resolve) => server.once('close', resolve));
    });
}
