// The record grammars the Python builder wrote (models/contract/grammars/) compile with web-xgrammar
// for the shipped demo tokenizer, and hold a draft to its record. Run: node --test test/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

// web-xgrammar is an Emscripten UMD bundle: under node it reaches for CommonJS's require and __filename.
globalThis.require ??= createRequire(import.meta.url);
globalThis.__filename ??= fileURLToPath(import.meta.url);
const { grammarCompiler, maskLogits, vocabularyOf } = await import('../src/grammar.js');

const root = new URL('../../models/', import.meta.url);
const read = (rel) => readFileSync(new URL(rel, root), 'utf-8');
const golden = JSON.parse(read('contract/golden.json'));
const tokenizerPath = new URL('demo-onnx/tokenizer.json', root);
const EOS = 2; // the demo tokenizer's <|im_end|>

test('there is a golden grammar for every golden record, and no other', () => {
  const files = readdirSync(new URL('contract/grammars/', root)).filter((f) => f.endsWith('.ebnf')).sort();
  assert.deepEqual(files, golden.map((v) => `${v.name}.ebnf`).sort());
});

test('the vocabulary is read as the Python engine reads it', { skip: !existsSync(tokenizerPath) }, () => {
  const { encoded, vocabType, size } = vocabularyOf(JSON.parse(readFileSync(tokenizerPath, 'utf-8')));
  assert.equal(vocabType, 'byte_level');
  assert.equal(size, 4096);
  assert.equal(encoded[EOS], '<|im_end|>');
});

test("a vocabulary the size of Qwen2.5's (151,665 tokens) is read without overflowing the stack", () => {
  const vocab = Object.fromEntries(Array.from({ length: 151_643 }, (_, id) => [`t${id}`, id]));
  const added = Array.from({ length: 22 }, (_, i) => ({ content: `<|added${i}|>`, id: 151_643 + i }));
  const { encoded, size } = vocabularyOf({ model: { vocab }, added_tokens: added, decoder: { type: 'ByteLevel' } });
  assert.equal(size, 151_665);
  assert.equal(encoded[151_664], '<|added21|>');
});

/** GPT-2's byte-to-character table: a byte-level vocabulary has one token per byte, spelt this way. */
function byteCharacters() {
  const printable = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  let extra = 0;
  return Array.from({ length: 256 }, (_, b) => String.fromCodePoint(printable.includes(b) ? b : 256 + extra++));
}

/** ``text`` as single-byte tokens of the demo vocabulary (any spelling of the text is as good to a grammar). */
function byteTokens(text) {
  const vocab = JSON.parse(readFileSync(tokenizerPath, 'utf-8')).model.vocab;
  const chars = byteCharacters();
  return [...new TextEncoder().encode(text)].map((b) => vocab[chars[b]]);
}

const compilerPromise = existsSync(tokenizerPath)
  ? grammarCompiler(JSON.parse(readFileSync(tokenizerPath, 'utf-8')), [EOS]) : null;

for (const vector of golden) {
  test(`grammar ${vector.name}: compiles, takes the record's identity, refuses another name`,
    { skip: !compilerPromise }, async () => {
      const compiler = await compilerPromise;
      const grammar = read(`contract/grammars/${vector.name}.ebnf`);
      const matcher = await compiler.matcher(grammar);
      const accepts = async (text) => {
        const m = await compiler.matcher(grammar);
        const ok = byteTokens(text).every((id) => m.acceptToken(id));
        m.dispose();
        return ok;
      };
      assert.equal(await accepts(`IDENTIFICACIÓN\nNombre: ${vector.record.patient.name}\n`), true);
      assert.equal(await accepts('IDENTIFICACIÓN\nNombre: Juan Pérez'), false);

      const logits = new Float32Array(compiler.vocabSize).fill(0);
      maskLogits(matcher, logits, compiler.vocabSize);
      const allowed = logits.reduce((n, x) => n + (x === 0), 0);
      assert.ok(allowed > 0 && allowed < 64, `${allowed} tokens allowed at the start`);
      assert.equal(logits[EOS], -Infinity); // a draft cannot end before it begins
      matcher.dispose();
    });
}
