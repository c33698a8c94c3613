/**
 * The page's side of the in-browser engine: picks the bundle's device and dtype (device_policy.js,
 * by measurement), starts the worker and speaks its protocol (see worker.js for the message table).
 */
import { planDevice, wasmThreads } from './device_policy.js';

/** What this browser says about its device: a WebGPU adapter with shader-f16, and navigator.deviceMemory. */
export async function deviceFacts() {
  let webgpu = false;
  try {
    if (navigator.gpu) webgpu = Boolean((await navigator.gpu.requestAdapter())?.features.has('shader-f16'));
  } catch {
    // no usable WebGPU: WASM
  }
  return { webgpu, deviceMemory: navigator.deviceMemory };
}

/** The device and dtype to load for ``bundle`` here, or a refusal ({refused, message}); see planDevice. */
export async function chooseDevice(bundle, params = new URLSearchParams()) {
  const pinned = params.get('device');
  const facts = pinned === 'wasm' || (params.get('dtype') && pinned !== 'webgpu')
    ? { webgpu: false, deviceMemory: navigator.deviceMemory } : await deviceFacts();
  const choice = planDevice(bundle, facts, params);
  // WASM threads by model size (wasmThreads); ?threads=N pins them (benchmarks: one thread against two)
  const threads = Number.parseInt(params.get('threads') ?? '', 10);
  if (Number.isInteger(threads) && threads > 0) choice.threads = Math.min(threads, 16);
  else if (choice.device === 'wasm' && !choice.refused) choice.threads = wasmThreads(choice.bytes, navigator.hardwareConcurrency);
  if (['plain', 'asyncify'].includes(params.get('ort'))) choice.ortBuild = params.get('ort');
  return choice;
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
    if (data.type === 'speed') return waiter.onSpeed?.(data);
    this.pending.delete(key);
    return data.type === 'error' ? waiter.reject(new Error(data.message)) : waiter.resolve(data);
  }

  /** Loads ``bundle`` (an entry of GET /api/v1/bundles) with the best device and dtype here. */
  load(bundle, choice) {
    this.start();
    const key = `${bundle.name}/${choice.dtype}/${choice.device}/${choice.threads ?? ''}/${choice.ortBuild ?? ''}`;
    if (this.loadPromise && this.loadKey === key) return this.loadPromise;
    this.loadKey = key;
    this.loadPromise = new Promise((resolve, reject) => {
      this.pending.set('load', { resolve, reject });
      this.worker.postMessage({
        // bundle.url is /models/<name>/<version>/: the version in the path keeps caches honest.
        type: 'load', model: bundle.name, modelId: bundle.url.replace(/^\/models\//, '').replace(/\/$/, ''),
        dtype: choice.dtype, device: choice.device, modelsUrl: '/models/', wasmUrl: '/ort/',
        abortFlag: this.flag, threads: choice.threads, ortBuild: choice.ortBuild,
      });
    }).then((info) => { this.info = { ...info, version: bundle.version }; return this.info; },
      (err) => { this.loadPromise = null; throw err; });
    return this.loadPromise;
  }

  /** Writes from ``prompt``; ``onToken(text)`` as it goes, ``onSpeed({tokens, decode_ms})`` every few tokens.
   * Resolves with the worker's `done` message.
   * ``grammar``: the record's grammar (EBNF from the server, clinical/grammar.py), which holds the draft to it. */
  generate(prompt, { maxNewTokens = 1536, onToken, onSpeed, stopAtEos = true, grammar = null } = {}) {
    const id = `g${Date.now()}${Math.random().toString(16).slice(2, 6)}`;
    if (this.flag) Atomics.store(new Int32Array(this.flag), 0, 0);
    this.current = id;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onToken, onSpeed });
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
