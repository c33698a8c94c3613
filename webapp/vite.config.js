// Builds webapp/dist, which the backend serves at /: the app, its worker, the service worker with
// the list of files to precache, and ONNX Runtime's WASM files copied from node_modules (the
// browser must never fetch them from a CDN: hospital networks often have no Internet).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The plain build runs WASM (faster at real sizes), the asyncify build WebGPU (src/worker.js).
const ORT_FILES = ['ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm',
  'ort-wasm-simd-threaded.asyncify.mjs', 'ort-wasm-simd-threaded.asyncify.wasm'];
const ortDir = new URL('./node_modules/onnxruntime-web/dist/', import.meta.url);

/** Copies ONNX Runtime's WASM build into dist/ort/ and writes dist/sw.js with the precache list. */
function altaOffline() {
  return {
    name: 'alta-offline',
    generateBundle(_options, bundle) {
      // ONNX Runtime's bundle names its WASM with new URL(..., import.meta.url), so Vite copies it
      // into assets/ too; the worker loads the ort/ copy (env.backends.onnx.wasm.wasmPaths), so this
      // second 27 MB file would only be precached for nothing.
      for (const [name, item] of Object.entries(bundle)) {
        if (item.type === 'asset' && name.startsWith('assets/') && name.endsWith('.wasm')) delete bundle[name];
      }
      for (const name of ORT_FILES) {
        this.emitFile({ type: 'asset', fileName: `ort/${name}`, source: readFileSync(new URL(name, ortDir)) });
      }
      const files = Object.keys(bundle).filter((f) => !f.endsWith('.map')).sort();
      const shell = [...new Set(['/', ...files.filter((f) => f !== 'index.html').map((f) => `/${f}`), ...ORT_FILES.map((f) => `/ort/${f}`)])];
      const version = createHash('sha256').update(files.join('\n')).update(JSON.stringify(shell)).digest('hex').slice(0, 16);
      const source = readFileSync(fileURLToPath(new URL('./src/sw.js', import.meta.url)), 'utf-8')
        .replace('self.__ALTA_SHELL__', JSON.stringify(shell))
        .replace('self.__ALTA_VERSION__', JSON.stringify(version));
      this.emitFile({ type: 'asset', fileName: 'sw.js', source });
    },
  };
}

export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 2000,
  },
  worker: { format: 'es' },
  server: { fs: { allow: ['..'] } },
  plugins: [altaOffline()],
});
