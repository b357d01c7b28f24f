// The web page's build: web/ bundled with the model code it imports from src/ into dist/web/,
// which `irqlab serve` serves. Everything is bundled (the editor, the charts, Graphviz's
// WebAssembly inlined by @viz-js/viz): the page fetches nothing but its own files.

import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    chunkSizeWarningLimit: 4096,
    reportCompressedSize: false,
  },
  worker: { format: 'es' },
});
