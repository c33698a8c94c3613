/**
 * The page's side of the in-browser engine: picks the bundle and dtype, starts the worker and
 * speaks its protocol (see worker.js for the message table).
 *
 * Device and dtype: WebGPU when the adapter offers shader-f16 and the bundle ships q4f16; else WASM
 * with fp32 when shipped (on the tiny and 4.7M-parameter probes fp32 decodes 3-5x faster than q4 in
 * WASM: MatMulNBits dequantises per call, and at these sizes the memory saved buys nothing), then
 * the catalog's own dtype. benchmarks/browser_bench.py measures this on a bundle.
 */
const WASM_ORDER = ['fp32', 'q8', 'fp16', 'q4', 'q4f16'];

export async function chooseDevice(bundle, params = new URLSearchParams()) {
  // ?device=wasm&dtype=q4 pins the choice (benchmarks, support); an unknown value is ignored.
  const pinnedDevice = ['wasm', 'webgpu'].includes(params.get('device')) ? params.get('device') : null;
  const pinnedDtype = bundle.dtypes[params.get('dtype')] ? params.get('dtype') : null;
  if (pinnedDevice === 'wasm' || (pinnedDtype && pinnedDevice !== 'webgpu')) {
    return { device: 'wasm', dtype: pinnedDtype ?? WASM_ORDER.find((d) => bundle.dtypes[d]) ?? bundle.dtype };
  }
  if (pinnedDevice === 'webgpu') return { device: 'webgpu', dtype: pinnedDtype ?? 'q4f16' };
  try {
    if (navigator.gpu && bundle.dtypes.q4f16) {
      const adapter = await navigator.gpu.requestAdapter();
      if (adapter?.features.has('shader-f16')) return { device: 'webgpu', dtype: 'q4f16' };
    }
  } catch {
    // no usable WebGPU: WASM below
  }
  const dtype = WASM_ORDER.find((d) => bundle.dtypes[d]) ?? bundle.dtype;
  return { device: 'wasm', dtype };
}

export class BrowserEngine {
  constructor() {
    this.worker = null;
    this.info = null;
    this.pending = new Map();
    this.onProgress = () => {};
    // The stop flag the worker reads on every token (needs cross-origin isolation).
    this.flag = globalThis.crossOriginIsolated ? new SharedArrayBuffer(4) : null;
    this.loadPromise = null;
  }

  start() {
    if (this.worker) return;
    this.worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'alta-engine' });
    this.worker.onmessage = ({ data }) => this.receive(data);
    this.worker.onerror = (event) => {
      for (const { reject } of this.pending.values()) reject(new Error(event.message || 'el motor del navegador falló'));
      this.pending.clear();
    };
  }

  receive(data) {
    if (data.type === 'progress') return this.onProgress(data);
    const key = data.type === 'ready' || (data.type === 'error' && data.id === undefined) ? 'load' : data.id;
    const waiter = this.pending.get(key);
    if (!waiter) return undefined;
    if (data.type === 'token') return waiter.onToken?.(data.text);
    this.pending.delete(key);
    return data.type === 'error' ? waiter.reject(new Error(data.message)) : waiter.resolve(data);
  }

  /** Loads ``bundle`` (an entry of GET /api/v1/bundles) with the best device and dtype here. */
  load(bundle, choice) {
    this.start();
    const key = `${bundle.name}/${choice.dtype}/${choice.device}`;
    if (this.loadPromise && this.loadKey === key) return this.loadPromise;
    this.loadKey = key;
    this.loadPromise = new Promise((resolve, reject) => {
      this.pending.set('load', { resolve, reject });
      this.worker.postMessage({
        // bundle.url is /models/<name>/<version>/: the version in the path keeps caches honest.
        type: 'load', model: bundle.name, modelId: bundle.url.replace(/^\/models\//, '').replace(/\/$/, ''),
        dtype: choice.dtype, device: choice.device, modelsUrl: '/models/', wasmUrl: '/ort/',
        abortFlag: this.flag,
      });
    }).then((info) => { this.info = { ...info, version: bundle.version }; return this.info; },
      (err) => { this.loadPromise = null; throw err; });
    return this.loadPromise;
  }

  /** Writes from ``prompt``; ``onToken(text)`` as it goes. Resolves with the worker's `done` message.
   * ``grammar``: the record's grammar (EBNF from the server, clinical/grammar.py), which holds the draft to it. */
  generate(prompt, { maxNewTokens = 1536, onToken, stopAtEos = true, grammar = null } = {}) {
    const id = `g${Date.now()}${Math.random().toString(16).slice(2, 6)}`;
    if (this.flag) Atomics.store(new Int32Array(this.flag), 0, 0);
    this.current = id;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onToken });
      this.worker.postMessage({
        type: 'generate', id, prompt, max_new_tokens: maxNewTokens, stop_at_eos: stopAtEos, grammar,
      });
    });
  }

  abort() {
    if (this.flag) Atomics.store(new Int32Array(this.flag), 0, 1);
    this.worker?.postMessage({ type: 'abort', id: this.current });
  }
}
