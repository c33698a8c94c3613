// The in-browser engine's device and dtype policy (src/device_policy.js): dtype by measured speed,
// refusal of bundles the device cannot hold or store, and the slow-device rule.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  MIN_TOKENS_PER_S, SMALL_MODEL_BYTES, WASM_HEAP_LIMIT, memoryBudget, memoryNeeded, planDevice, slowMessage, storageRefusal, tooSlow,
  wasmThreads,
} from '../src/device_policy.js';

const MB = 1024 ** 2;
const GB = 1024 ** 3;
// As GET /api/v1/bundles lists them: each shipped dtype with its download size.
const bundle = (sizes, name = 'alta-0.5b') => ({
  name, dtype: 'q4', dtypes: Object.fromEntries(Object.entries(sizes).map(([d, bytes]) => [d, { file: `onnx/${d}.onnx`, bytes }])),
});
const realShape = bundle({ fp32: 2480 * MB, q8: 640 * MB, q4: 860 * MB, q4f16: 560 * MB });

test('WASM takes q8 when fp32 does not fit: 4-bit has no MLAS kernel in ONNX Runtime Web and runs 10x slower', () => {
  const plan = planDevice(realShape, { webgpu: false, deviceMemory: 8 });
  assert.deepEqual([plan.device, plan.dtype, plan.bytes], ['wasm', 'q8', 640 * MB]);
});

test('the trimmed 0.5B (measured): fp32 on a device reporting 8 GB, q8 on 4 GB or when memory is unknown', () => {
  const trimmed = bundle({ fp32: 1509 * MB, q8: 386 * MB, q4f16: 215 * MB });
  const big = planDevice(trimmed, { webgpu: false, deviceMemory: 8 });
  assert.deepEqual([big.dtype, big.need < big.budget], ['fp32', true]); // about 4.0 GB of a 4.8 GB share
  assert.equal(planDevice(trimmed, { webgpu: false, deviceMemory: 4 }).dtype, 'q8');
  assert.equal(planDevice(trimmed, { webgpu: false, deviceMemory: undefined }).dtype, 'q8');
});

test('the trimmed 1.5B (measured): fp32 passes the WASM heap, q8 (1,361 MB, 1.8 GB renderer peak) fits 8 GB', () => {
  const large = bundle({ fp32: 5200 * MB, q8: 1361 * MB, q4f16: 822 * MB }, 'alta-1.5b');
  const plan = planDevice(large, { webgpu: false, deviceMemory: 8 });
  assert.deepEqual([plan.device, plan.dtype], ['wasm', 'q8']);
});

test('without q8, WASM takes fp32 when it fits, as the demo bundle ships', () => {
  const demo = bundle({ fp32: 11 * MB, fp16: 6 * MB, q4: 4 * MB, q4f16: 3 * MB }, 'demo-onnx');
  assert.equal(planDevice(demo, { webgpu: false, deviceMemory: 8 }).dtype, 'fp32');
});

test('the full-vocabulary 0.5B q8 (1,047 MB, 2.8 GB renderer peak measured) fits a device reporting 8 GB, not 4', () => {
  const measured = bundle({ fp32: 1977 * MB, q8: 1047 * MB, q4: 854 * MB });
  assert.equal(planDevice(measured, { webgpu: false, deviceMemory: 8 }).dtype, 'q8');
  // at 4 GB neither q8 (3.4 GB) nor q4 (3.2 GB) fits a 2.4 GB page; fp32 (5.2 GB) neither
  assert.equal(planDevice(measured, { webgpu: false, deviceMemory: 4 }).refused, 'memory');
});

test('WebGPU takes q4f16', () => {
  assert.deepEqual(Object.values(planDevice(realShape, { webgpu: true, deviceMemory: 8 })).slice(0, 2), ['webgpu', 'q4f16']);
});

test('a small device falls to the smaller dtype that fits, then refuses in Spanish', () => {
  // 4 GB declared: a page may take 2.4 GB; a 300 MB q8 needs about 1.5 GB. At 1 GB declared nothing fits.
  const small = planDevice(bundle({ fp32: 2480 * MB, q8: 300 * MB, q4: 860 * MB }), { webgpu: false, deviceMemory: 4 });
  assert.equal(small.dtype, 'q8');
  const refused = planDevice(realShape, { webgpu: false, deviceMemory: 1 });
  assert.equal(refused.refused, 'memory');
  assert.match(refused.message, /^Este equipo no tiene memoria suficiente para el modelo alta-0\.5b: necesita unos .* GB; este equipo declara 1,0 GB de memoria .* Redacte en el servidor\.$/);
});

test('a browser that does not say its memory is not refused for it, but WASM cannot pass 4 GB', () => {
  assert.equal(planDevice(realShape, { webgpu: false, deviceMemory: undefined }).dtype, 'q8');
  const huge = planDevice(bundle({ q8: 3.5 * GB }, 'alta-7b'), { webgpu: false, deviceMemory: undefined });
  assert.equal(huge.refused, 'memory');
  assert.match(huge.message, /el motor WASM del navegador no puede pasar de 4 GB/);
  assert.ok(3.5 * GB * 1.3 > WASM_HEAP_LIMIT);
});

test('URL pins choose device and dtype, but a pinned dtype the device cannot hold is still refused', () => {
  assert.equal(planDevice(realShape, { webgpu: true, deviceMemory: 8 }, new URLSearchParams('device=wasm&dtype=q4')).dtype, 'q4');
  assert.equal(planDevice(realShape, { webgpu: true, deviceMemory: 8 }, new URLSearchParams('dtype=q4')).device, 'wasm');
  assert.equal(planDevice(realShape, { webgpu: false, deviceMemory: 8 }, new URLSearchParams('dtype=nope')).dtype, 'q8');
  assert.equal(planDevice(realShape, { webgpu: false, deviceMemory: 2 }, new URLSearchParams('dtype=fp32')).refused, 'memory');
});

test('memory estimates grow with the download and a page may take 60% of the declared memory', () => {
  assert.ok(memoryNeeded(1 * GB, 'q8', 'wasm') > memoryNeeded(1 * GB, 'q8', 'webgpu'));
  assert.ok(memoryNeeded(2 * GB, 'q8', 'wasm') > 2 * memoryNeeded(0.9 * GB, 'q8', 'wasm'));
  assert.equal(memoryBudget(8), 8 * GB * 0.6);
  assert.equal(memoryBudget(undefined), null);
  assert.equal(memoryBudget(0), null);
});

test('storage: refused when the quota left is under the download, unless the model is already cached', () => {
  assert.equal(storageRefusal(600 * MB, { quota: 10 * GB, usage: 1 * GB }), null);
  const message = storageRefusal(600 * MB, { quota: 1 * GB, usage: 700 * MB });
  assert.equal(message, 'No hay espacio para guardar el modelo en este navegador: la descarga ocupa 600 MB y quedan '
    + '324 MB libres. Libere espacio en el navegador o redacte en el servidor.');
  assert.equal(storageRefusal(600 * MB, { quota: 1 * GB, usage: 700 * MB }, true), null);
  assert.equal(storageRefusal(600 * MB, undefined), null); // no estimate API: nothing to judge by
});

test('slow device: judged after 8 decode steps, or 5 s with 2 steps, against 3 tokens/s', () => {
  assert.equal(MIN_TOKENS_PER_S, 3);
  assert.equal(tooSlow(1, 10_000), null); // only the first token: that is prefill
  assert.equal(tooSlow(5, 2000), null); // too early to say
  assert.equal(tooSlow(9, 1000), null); // 8 steps/s
  assert.ok(Math.abs(tooSlow(9, 4000) - 2) < 1e-9); // 8 steps in 4 s
  assert.ok(Math.abs(tooSlow(3, 6000) - 1 / 3) < 1e-9); // a very slow device is told after 5 s
  assert.equal(tooSlow(9, 4000, 1.5), null); // the threshold moves
  assert.equal(slowMessage(0.42, 'alta-1.5b'), 'Este equipo es demasiado lento para redactar con el modelo alta-1.5b: '
    + 'escribe 0,4 tokens por segundo y hacen falta al menos 3. Redacte en el servidor.');
});

test('WASM threads: one for a small model (thread hand-offs cost more than its kernels), else up to four', () => {
  assert.equal(wasmThreads(11 * MB, 8), 1);
  assert.equal(wasmThreads(SMALL_MODEL_BYTES, 2), 2);
  assert.equal(wasmThreads(640 * MB, 16), 4);
  assert.equal(wasmThreads(640 * MB, undefined), 2);
});
