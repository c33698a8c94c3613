/**
 * Record-constrained decoding in the browser: the grammar the server builds from a record
 * (clinical/grammar.py; golden copies in models/contract/grammars/) compiled with web-xgrammar (the
 * WASM build of the xgrammar the Python ONNX engine and vLLM use) for the bundle's tokenizer, and
 * applied to each step's logits by a Transformers.js logits processor. Tokens the grammar forbids get
 * -Infinity, so a greedy draft can only hold the record's identity, codes, drugs, doses and dates.
 *
 * The WASM is inlined in the package's JavaScript (a data: URI), so Vite bundles it into the worker:
 * nothing is fetched from a CDN.
 */
import * as bundled from '@mlc-ai/web-xgrammar';

/** web-xgrammar's classes. The package is a UMD bundle: Vite wraps it as CommonJS (its exports come
 * through the import); node loads it as a plain ES module, where it registers globalThis.xgrammar. */
export function xgrammar() {
  const xg = [bundled, bundled.default, globalThis.xgrammar].find((m) => m?.GrammarCompiler);
  if (!xg?.GrammarCompiler) throw new Error('web-xgrammar did not load: the record grammar cannot be applied');
  return xg;
}

/** The vocabulary of a tokenizer.json as xgrammar reads it: tokens by id, how bytes are spelt, size. */
export function vocabularyOf(tokenizerJson) {
  const ids = [...Object.entries(tokenizerJson.model.vocab), ...(tokenizerJson.added_tokens ?? []).map((t) => [t.content, t.id])];
  // A loop, not Math.max(...ids): spreading Qwen2.5's 151,665 ids overflows V8's call stack.
  const size = ids.reduce((max, [, id]) => Math.max(max, id), -1) + 1;
  const encoded = new Array(size).fill('');
  for (const [piece, id] of ids) encoded[id] = piece;
  // As backend/engines/constraint.py reads the decoder: GPT-2/Qwen2 byte level, SentencePiece byte fallback, raw.
  const decoder = JSON.stringify(tokenizerJson.decoder ?? {});
  const vocabType = decoder.includes('"ByteLevel"') ? 'byte_level' : decoder.includes('"ByteFallback"') ? 'byte_fallback' : 'raw';
  return { encoded, vocabType, size };
}

/** A compiler for one tokenizer; ``compile(grammarText)`` gives a fresh matcher per draft. */
export async function grammarCompiler(tokenizerJson, stopIds) {
  const xg = xgrammar();
  const { encoded, vocabType, size } = vocabularyOf(tokenizerJson);
  const info = await xg.TokenizerInfo.createTokenizerInfo(encoded, vocabType, false, size, [...stopIds]);
  const compiler = await xg.GrammarCompiler.createGrammarCompiler(info);
  return {
    vocabSize: size,
    async matcher(grammarText) {
      return xg.GrammarMatcher.createGrammarMatcher(await compiler.compileGrammar(grammarText));
    },
  };
}

/**
 * Sets the logits of every token ``matcher`` forbids now to -Infinity (in place; rows past the
 * tokenizer's vocabulary too). Synchronous, as Transformers.js calls logits processors: it reads the
 * bitmask through the matcher's binding handle (getNextTokenBitmask() is the same call behind an
 * await that only waits for the WASM, which compiling the grammar already loaded).
 */
export function maskLogits(matcher, data, vocabSize) {
  const words = matcher.handle.GetNextTokenBitmask(vocabSize);
  try {
    const n = Math.min(vocabSize, data.length);
    for (let w = 0; w * 32 < n; w++) {
      const word = words.get(w);
      if (word === -1) continue; // all 32 allowed
      for (let b = 0; b < 32 && w * 32 + b < n; b++) {
        if (((word >>> b) & 1) === 0) data[w * 32 + b] = -Infinity;
      }
    }
    for (let t = n; t < data.length; t++) data[t] = -Infinity;
  } finally {
    words.delete();
  }
}
