/**
 * The in-browser engine: Transformers.js in a Web Worker, so the page never freezes while a model
 * loads or writes. Everything it loads comes from the Alta server that served the page (the bundle
 * under /models/, ONNX Runtime's WASM under /ort/); it never asks a CDN or the Hugging Face Hub,
 * so it works on a hospital network without Internet, and offline once the service worker has
 * cached the files.
 *
 * Message protocol (page -> worker, then worker -> page):
 *
 * | in          | fields                                              | out, in order                                   |
 * |-------------|-----------------------------------------------------|-------------------------------------------------|
 * | `load`      | model (catalog name), modelId (path under modelsUrl:| `progress` {file, loaded, total}*, then `ready` |
 * |             | "<name>/<version>"), dtype, device ("webgpu"/"wasm"),| {model, dtype, device, threads, runtime,        |
 * |             | modelsUrl, wasmUrl, abortFlag? (SharedArrayBuffer), |  load_ms}                                       |
 * |             | threads? (WASM threads; default: up to 4),          |                                                 |
 * |             | ortBuild? ("asyncify" pins that build for WASM)     |                                                 |
 * |             |                                                     | or `error` {message}                            |
 * | `generate`  | id, prompt (the contract's ChatML text),            | `token` {id, text}* as text is written, then    |
 * |             | max_new_tokens, stop_at_eos (default true),         | `done` {id, text, prompt_ids, token_ids,        |
 * |             | grammar? (the record's EBNF, clinical/grammar.py)   | aborted, ttft_ms, decode_ms, total_ms,          |
 * |             |                                                     | constrained, mask_ms, grammar_compile_ms}       |
 * |             |                                                     | / `error`                                       |
 * | `abort`     | id                                                  | the running `generate` ends with `done`         |
 * |             |                                                     | {aborted: true} at its next token               |
 *
 * `token_ids` are the new tokens without the end-of-turn token, as the Python OnnxEngine's
 * generate_ids returns them; tests compare the two. Decoding is greedy: the same record gives the
 * same draft as the server's ONNX engine on the same bundle and dtype.
 *
 * Grammar: with `grammar`, each step's logits go through a logits processor that gives every token
 * the record's grammar forbids -Infinity (web-xgrammar; see grammar.js), so the draft can hold only
 * the record's identity, codes, drugs, doses and dates. Token by token, as the Python engine with
 * ALTA_ONNX_CONSTRAIN_JUMP_FORWARD=false: the same greedy tokens. `mask_ms` is the time the masks took
 * during decoding, `grammar_compile_ms` the time before it (the tokenizer's tables, once per model, and
 * the record's grammar).
 *
 * Abort: `generate` runs ONNX Runtime in a loop that may not yield to this worker's message queue
 * between tokens, so an `abort` message could arrive only after the draft is finished. The page
 * therefore also shares a SharedArrayBuffer flag (available under cross-origin isolation, which the
 * server enables); the stopping criterion reads it on every token.
 */
import {
  AutoModelForCausalLM, AutoTokenizer, InterruptableStoppingCriteria, LogitsProcessor, TextStreamer, env,
} from '@huggingface/transformers';

import { grammarCompiler, maskLogits } from './grammar.js';

env.allowRemoteModels = false;
env.allowLocalModels = true;
// The service worker caches bundle and WASM files by URL; a second copy in Transformers.js's own
// Cache Storage would double the disk a 1 GB model takes, and blob-URL WASM factories need a CSP
// exception. So the library's own caches are off and every file is a plain same-origin fetch.
env.useBrowserCache = false;
env.useWasmCache = false;

let loaded = null; // {key, model, tokenizer, info, tokenizerUrl, grammars?}
let loading = null;
let abortFlag = null; // Int32Array over the page's SharedArrayBuffer, when cross-origin isolated
let running = null; // {id, criteria}

const post = (message) => self.postMessage(message);

/** Stops on the page's shared flag or on an `abort` message, whichever the worker sees first. */
class AbortCriteria extends InterruptableStoppingCriteria {
  _call(inputIds) {
    if (abortFlag && Atomics.load(abortFlag, 0) === 1) this.interrupt();
    return super._call(inputIds);
  }
}

/** Holds a draft to its record's grammar: forbidden tokens get -Infinity before the greedy pick. */
class GrammarLogitsProcessor extends LogitsProcessor {
  constructor(matcher, vocabSize, promptLength) {
    super();
    this.matcher = matcher;
    this.vocabSize = vocabSize;
    this.next = promptLength; // the first token of input_ids not yet accepted by the matcher
    this.ms = 0;
  }

  _call(inputIds, logits) {
    const started = performance.now();
    const ids = inputIds[0];
    for (; this.next < ids.length; this.next++) {
      if (!this.matcher.acceptToken(Number(ids[this.next]))) throw new Error('a token outside the record grammar was picked');
    }
    maskLogits(this.matcher, logits[0].data, this.vocabSize);
    this.ms += performance.now() - started;
    return logits;
  }
}

/** The grammar compiler for the loaded bundle's tokenizer (built on first use, kept with the model). */
async function grammars(model) {
  if (!loaded.grammars) {
    const response = await fetch(loaded.tokenizerUrl);
    if (!response.ok) throw new Error(`the bundle's tokenizer.json did not load (${response.status})`);
    loaded.grammars = grammarCompiler(await response.json(), eosIds(model));
  }
  return loaded.grammars;
}

/**
 * Bundle downloads as `progress` messages. Transformers.js's own progress_callback is not used: with
 * it, from_pretrained first GETs every model file once just to learn its size (local model paths
 * have no HEAD/Range probe) and drops the body, which for a 1 GB model means downloading it twice.
 */
function countingFetch(baseFetch) {
  return async (input, init) => {
    const response = await baseFetch(input, init);
    const url = String(input?.url ?? input);
    const at = url.indexOf('/models/');
    if (at < 0 || !response.body || !response.ok) return response;
    const file = url.slice(at + '/models/'.length);
    const total = Number(response.headers.get('content-length')) || 0;
    let loaded = 0;
    let lastPost = 0;
    const counter = new TransformStream({
      transform(chunk, controller) {
        loaded += chunk.byteLength;
        const now = performance.now();
        if (now - lastPost > 100 || loaded === total) {
          lastPost = now;
          post({ type: 'progress', file, loaded, total });
        }
        controller.enqueue(chunk);
      },
      flush() { post({ type: 'progress', file, loaded, total: total || loaded }); },
    });
    return new Response(response.body.pipeThrough(counter), {
      status: response.status, statusText: response.statusText, headers: response.headers,
    });
  };
}
env.fetch = countingFetch(env.fetch);

/** Time spent inside ONNX Runtime's session.run (inputs into WASM, kernels, outputs out), so the `done`
 * message can tell the runtime's share of a step from Transformers.js's own per-token work. */
const ortTime = { ms: 0, calls: 0 };
function timeSessions(lm) {
  for (const session of Object.values(lm.sessions ?? {})) {
    const run = session.run.bind(session);
    session.run = async (...args) => {
      const started = performance.now();
      try {
        return await run(...args);
      } finally {
        ortTime.ms += performance.now() - started;
        ortTime.calls += 1;
      }
    };
  }
}

async function load({ model, modelId, dtype, device, modelsUrl, wasmUrl, abortFlag: flag, threads = null, ortBuild = null }) {
  const key = `${modelId}/${dtype}/${device}/${threads ?? ''}/${ortBuild ?? ''}`;
  if (flag) abortFlag = new Int32Array(flag);
  if (loaded?.key === key) return loaded.info;
  if (loading?.key === key) return loading.promise;
  // A path, not a URL: Transformers.js looks local files up (and checks they exist) only by path.
  env.localModelPath = modelsUrl;
  const wasm = env.backends.onnx.wasm;
  // WASM runs ONNX Runtime Web's plain build; WebGPU needs the asyncify one. At real sizes the plain
  // build decodes faster (0.5B trimmed, 2 threads: fp32 10.4 tok/s against 9.7, q8 11.8 against 11.3;
  // on the 2.6M demo they were level). ?ort=asyncify pins the asyncify build for WASM (benchmarks).
  const build = device === 'wasm' && ortBuild !== 'asyncify' ? 'ort-wasm-simd-threaded' : 'ort-wasm-simd-threaded.asyncify';
  wasm.wasmPaths = {
    mjs: new URL(`${wasmUrl}${build}.mjs`, self.location.origin).href,
    wasm: new URL(`${wasmUrl}${build}.wasm`, self.location.origin).href,
  };
  // The page's choice (device_policy.js wasmThreads: one for small models, else up to four), and one
  // when the page is not cross-origin isolated (no SharedArrayBuffer, so no WASM threads).
  wasm.numThreads = !self.crossOriginIsolated ? 1
    : threads ?? Math.max(1, Math.min(4, navigator.hardwareConcurrency || 2));
  const started = performance.now();
  const promise = (async () => {
    const tokenizer = await AutoTokenizer.from_pretrained(modelId);
    const lm = await AutoModelForCausalLM.from_pretrained(modelId, { dtype, device });
    timeSessions(lm);
    const info = {
      model, dtype, device, threads: device === 'wasm' ? wasm.numThreads : 0, runtime: build,
      isolated: self.crossOriginIsolated, load_ms: performance.now() - started,
    };
    loaded = { key, model: lm, tokenizer, info, tokenizerUrl: `${modelsUrl}${modelId}/tokenizer.json` };
    return info;
  })();
  loading = { key, promise };
  try {
    return await promise;
  } finally {
    loading = null;
  }
}

function medianOf(values) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function eosIds(model) {
  const eos = model.generation_config?.eos_token_id ?? model.config.eos_token_id;
  return new Set((Array.isArray(eos) ? eos : [eos]).filter((x) => x !== undefined && x !== null).map(Number));
}

async function generate({ id, prompt, max_new_tokens: maxNewTokens = 1024, stop_at_eos: stopAtEos = true, grammar = null }) {
  if (!loaded) throw new Error('no model loaded: send `load` first');
  const { model, tokenizer } = loaded;
  if (abortFlag) Atomics.store(abortFlag, 0, 0);
  const criteria = new AbortCriteria();
  running = { id, criteria };
  // The prompt already carries ChatML's special tokens as text: tokenise it as the Python engine
  // does (add_special_tokens=False), not through apply_chat_template.
  const inputs = tokenizer(prompt, { add_special_tokens: false });
  const promptIds = Array.from(inputs.input_ids.data, Number);
  const started = performance.now();
  ortTime.ms = 0;
  ortTime.calls = 0;
  let firstTokenAt = null;
  let ortAtFirst = 0;
  let pieces = 0;
  let tokens = 0;
  let lastTokenAt = null;
  const stepMs = []; // wall time between consecutive tokens: the per-step cost the page pays
  const streamer = new TextStreamer(tokenizer, {
    skip_prompt: true,
    skip_special_tokens: true,
    callback_function: (text) => { if (text) post({ type: 'token', id, text, index: pieces++ }); },
    token_callback_function: () => {
      const now = performance.now();
      if (firstTokenAt === null) {
        firstTokenAt = now;
        ortAtFirst = ortTime.ms;
      }
      if (lastTokenAt !== null) stepMs.push(now - lastTokenAt);
      lastTokenAt = now;
      tokens += 1;
      // The page judges the device's speed from these (device_policy.js tooSlow).
      if (tokens > 1 && (tokens % 4 === 1 || now - firstTokenAt > 5000)) {
        post({ type: 'speed', id, tokens, decode_ms: now - firstTokenAt });
      }
    },
  });
  const eos = eosIds(model);
  let constraint = null;
  if (grammar) {
    const compileStarted = performance.now();
    const compiler = await grammars(model);
    constraint = new GrammarLogitsProcessor(await compiler.matcher(grammar), compiler.vocabSize, promptIds.length);
    constraint.compileMs = performance.now() - compileStarted; // the tokenizer's tables on first use, the grammar
  }
  const output = await model.generate({
    ...inputs,
    max_new_tokens: maxNewTokens,
    do_sample: false,
    // Greedy as the ONNX engine decodes: nothing from generation_config.json may reshape the logits.
    repetition_penalty: 1.0,
    no_repeat_ngram_size: 0,
    temperature: 1.0,
    top_k: 0,
    top_p: 1.0,
    min_new_tokens: null,
    min_length: 0,
    eos_token_id: stopAtEos ? [...eos] : [],
    stopping_criteria: [criteria],
    logits_processor: constraint ? [constraint] : null,
    streamer,
  });
  constraint?.matcher.dispose();
  const finished = performance.now();
  let tokenIds = Array.from(output.data, Number).slice(promptIds.length);
  if (stopAtEos && tokenIds.length && eos.has(tokenIds.at(-1))) tokenIds = tokenIds.slice(0, -1);
  running = null;
  return {
    id, prompt_ids: promptIds, token_ids: tokenIds, aborted: criteria.interrupted,
    text: tokenizer.decode(tokenIds, { skip_special_tokens: true }),
    ttft_ms: (firstTokenAt ?? finished) - started,
    decode_ms: finished - (firstTokenAt ?? finished),
    total_ms: finished - started,
    constrained: Boolean(constraint), mask_ms: constraint?.ms ?? 0, grammar_compile_ms: constraint?.compileMs ?? 0,
    step_ms: medianOf(stepMs), threads: loaded.info.threads,
    // decode steps' time inside session.run (the rest of decode_ms is Transformers.js's own work per token)
    ort_decode_ms: ortTime.ms - ortAtFirst, ort_calls: ortTime.calls,
  };
}

self.onmessage = async ({ data }) => {
  try {
    if (data.type === 'load') {
      post({ type: 'ready', ...(await load(data)) });
    } else if (data.type === 'generate') {
      post({ type: 'done', ...(await generate(data)) });
    } else if (data.type === 'abort') {
      if (running && (data.id === undefined || data.id === running.id)) running.criteria.interrupt();
    } else {
      throw new Error(`unknown message type ${data.type}; expected load, generate or abort`);
    }
  } catch (err) {
    running = null;
    post({ type: 'error', id: data.id, message: String(err?.message ?? err) });
  }
};
