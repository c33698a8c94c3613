/**
 * Which dtype this device runs, or why it must not run any: pure functions over the bundle list
 * (GET /api/v1/bundles: each shipped dtype with its download size) and what the browser says about
 * the device. engine.js gathers the facts; main.js shows the refusals; test/device_policy.test.js
 * holds the rules.
 *
 * The orders are measurements (benchmarks/browser_bench.py, Chromium WASM, 2 threads, README):
 * - WASM: fp32 when the device says it holds it, else q8. ONNX Runtime Web's WASM build has no MLAS
 *   4-bit kernel (no QNBitGemm dispatch for WASM), so MatMulNBits (q4, q4f16) dequantises the whole
 *   weight matrix to fp32 on every call: one 896x4864 MatMul at M=1 takes 14.9 ms as q4 against 1.9 ms
 *   as q8 and 1.8 ms as fp32 (one thread; native ONNX Runtime: q4 0.14 ms). WASM SIMD is 128 bits
 *   wide, so int8 gains little over float there: on the Qwen2.5-0.5B shape, trimmed vocabulary,
 *   genai-built graph, fp32 (1,509 MB) decodes 10.4 tok/s, the same tokens as Python, and q8 (dynamic
 *   int8, 386 MB) 11.8; q4 1.2. fp32 is the model itself, with no quantisation to trust, so it goes
 *   first where it fits; q8 serves the devices and models it does not fit (the 1.5B: 3.5 tok/s).
 *   When the browser does not say its memory, q8 goes first: its download is a quarter of fp32's.
 *   Then fp16 (widened to fp32 on load), then 4-bit.
 * - WebGPU: q4f16 (the WebGPU MatMulNBits shaders), then q4, fp16, fp32. Not measured here: the
 *   machine's headless Chromium has no GPU.
 */
export const WASM_ORDER = ['fp32', 'q8', 'fp16', 'q4', 'q4f16'];
export const WASM_ORDER_UNSIZED = ['q8', 'fp32', 'fp16', 'q4', 'q4f16'];
export const WEBGPU_ORDER = ['q4f16', 'q4', 'fp16', 'fp32'];

/**
 * WASM threads for a model of ``bytes``: one below SMALL_MODEL_BYTES, where a decode step is hundreds
 * of tiny kernels and handing each to a second thread costs more than it saves (the 2.6M demo bundle,
 * Chromium, 2 cores: 75 tok/s on one thread, 30 on two); else up to four (ONNX Runtime Web's cap),
 * where the MatMuls gain.
 */
export const SMALL_MODEL_BYTES = 64 * 1024 ** 2;
export function wasmThreads(bytes, cores) {
  if (bytes < SMALL_MODEL_BYTES) return 1;
  return Math.max(1, Math.min(4, Number(cores) || 2));
}

/** Decode speed below which the page says the device is too slow and offers the server (tokens/s). */
export const MIN_TOKENS_PER_S = 3;

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

/**
 * Memory a dtype takes while it loads and writes, as a multiple of its download size. In WASM the
 * graph's bytes are fetched into JS memory and copied into the WASM heap (which never shrinks), where
 * ONNX Runtime also pre-packs weights (q8) or widens fp16 to fp32. Measured (benchmarks/browser_bench.py,
 * renderer peak RSS): genai-built q8 1,146 MB for 386 MB (0.5B trimmed, 3.0x), 2,844 MB for 1,047 MB
 * (0.5B, 2.7x), 1,783 MB for 1,361 MB (1.5B trimmed, 1.3x); fp32 3,717 MB for 1,509 MB (0.5B trimmed,
 * 2.5x); q4 2,829 MB for 854 MB (3.3x); the 1.5B q4f16 reached 4.8 GB for about 1.2 GB (4x). fp16 is
 * not measured at that size here: it widens to fp32. WebGPU uploads the weights and drops the CPU copy
 * (not measured: no GPU here).
 */
const WASM_FACTOR = { q8: 3.0, fp32: 2.5, fp16: 4.5, q4: 3.4, q4f16: 4.1 };
const WEBGPU_FACTOR = 1.5;
const OVERHEAD = 300 * MiB; // the WASM runtime, tokenizer, KV cache and activations of a long draft

/** A 32-bit WASM heap cannot pass 4 GiB, whatever the device has; the weights live there once, with
 * room for ONNX Runtime's packed copies and arena. */
export const WASM_HEAP_LIMIT = 4 * GiB;
const WASM_HEAP_SHARE = 1.3;

/** Share of the device's memory a page may take for the model: the OS and the browser need the rest.
 * Chromium reports at most 8 (GiB), so 8 means "8 or more". */
export const DEVICE_SHARE = 0.6;

export function memoryNeeded(bytes, dtype, device) {
  const factor = device === 'webgpu' ? WEBGPU_FACTOR : (WASM_FACTOR[dtype] ?? 3);
  return Math.round(bytes * factor + OVERHEAD);
}

/**
 * Bytes this page may use for a model, or null when the browser does not say. navigator.deviceMemory
 * (Chromium; GiB, rounded down to a power of two and capped at 8) is the only capacity a page can
 * read: performance.memory.jsHeapSizeLimit is V8's JS heap cap, which neither WASM memory nor array
 * buffers count against, and measureUserAgentSpecificMemory() reports use, not capacity.
 */
export function memoryBudget(deviceMemoryGiB) {
  const gib = Number(deviceMemoryGiB);
  return Number.isFinite(gib) && gib > 0 ? gib * GiB * DEVICE_SHARE : null;
}

export function formatBytes(bytes) {
  return bytes >= GiB ? `${(bytes / GiB).toFixed(1).replace('.', ',')} GB` : `${Math.round(bytes / MiB)} MB`;
}

/**
 * The device and dtype to load, or a refusal.
 *
 * ``facts``: {webgpu (an adapter with shader-f16 was found), deviceMemory (navigator.deviceMemory or
 * undefined)}. ``params``: the page's URL parameters; ?device=wasm|webgpu and ?dtype= pin the choice
 * (benchmarks, support), but a pinned dtype the device cannot hold is refused all the same.
 *
 * Returns {device, dtype, bytes, need, budget} or {refused: 'memory', device, dtype, need, budget, message}.
 */
export function planDevice(bundle, facts, params = new URLSearchParams()) {
  const shipped = (d) => Boolean(bundle.dtypes?.[d]);
  const pinnedDevice = ['wasm', 'webgpu'].includes(params.get('device')) ? params.get('device') : null;
  const pinnedDtype = shipped(params.get('dtype')) ? params.get('dtype') : null;
  let device = pinnedDevice ?? (pinnedDtype ? 'wasm' : null);
  if (!device) device = facts.webgpu && WEBGPU_ORDER.some(shipped) ? 'webgpu' : 'wasm';

  const budget = memoryBudget(facts.deviceMemory);
  const wasmOrder = budget === null ? WASM_ORDER_UNSIZED : WASM_ORDER;
  const order = pinnedDtype ? [pinnedDtype] : (device === 'webgpu' ? WEBGPU_ORDER : wasmOrder).filter(shipped);
  const candidates = order.length ? order : [bundle.dtype].filter(shipped);
  const sized = candidates.map((dtype) => {
    const bytes = bundle.dtypes[dtype].bytes ?? 0;
    return { device, dtype, bytes, need: memoryNeeded(bytes, dtype, device), budget };
  });
  const heapFits = (c) => device !== 'wasm' || c.bytes * WASM_HEAP_SHARE <= WASM_HEAP_LIMIT;
  const fits = sized.find((c) => c.need <= (budget ?? Infinity) && heapFits(c));
  if (fits) return fits;
  const smallest = sized.reduce((a, b) => (b.need < a.need ? b : a), sized[0]);
  if (!smallest) return { refused: 'memory', device, dtype: null, need: 0, budget, message: 'El modelo no trae ningún formato que este navegador pueda cargar.' };
  const has = budget === null ? '' : `; este equipo declara ${formatBytes(budget / DEVICE_SHARE)} de memoria y una página no debe usar más de ${formatBytes(budget)}`;
  const heap = heapFits(smallest) ? '' : '; el motor WASM del navegador no puede pasar de 4 GB';
  return {
    ...smallest,
    refused: 'memory',
    message: `Este equipo no tiene memoria suficiente para el modelo ${bundle.name}: necesita unos ${formatBytes(smallest.need)}${has}${heap}. `
      + 'Redacte en el servidor.',
  };
}

/**
 * Whether the browser may store the model's download: ``estimate`` is navigator.storage.estimate()'s
 * answer ({quota, usage}), ``cached`` whether the graph is already in the page's cache (then nothing
 * new is stored). Returns null when it fits, else the Spanish message.
 */
export function storageRefusal(bytes, estimate, cached = false) {
  if (cached || !estimate || !Number.isFinite(estimate.quota)) return null;
  const free = Math.max(0, estimate.quota - (estimate.usage ?? 0));
  if (free >= bytes) return null;
  return `No hay espacio para guardar el modelo en este navegador: la descarga ocupa ${formatBytes(bytes)} y quedan `
    + `${formatBytes(free)} libres. Libere espacio en el navegador o redacte en el servidor.`;
}

/**
 * Whether decoding so far shows the device too slow: judged after 8 decode steps, or after 5 s with
 * at least 2 steps (a slow device must not make the clinician wait for 8). Returns the rate (tokens/s)
 * when too slow, else null.
 */
export function tooSlow(tokens, decodeMs, minTokensPerS = MIN_TOKENS_PER_S) {
  const steps = tokens - 1; // the first token is the prompt's (TTFT), not decoding
  if (steps < 2 || (steps < 8 && decodeMs < 5000)) return null;
  const rate = (steps * 1000) / Math.max(decodeMs, 1);
  return rate < minTokensPerS ? rate : null;
}

export function slowMessage(rate, bundleName, minTokensPerS = MIN_TOKENS_PER_S) {
  const shown = rate.toFixed(rate < 10 ? 1 : 0).replace('.', ',');
  return `Este equipo es demasiado lento para redactar con el modelo ${bundleName}: escribe ${shown} tokens por segundo `
    + `y hacen falta al menos ${String(minTokensPerS).replace('.', ',')}. Redacte en el servidor.`;
}
