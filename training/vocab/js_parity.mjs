// Encode texts with Transformers.js (the webapp's pinned @huggingface/transformers) from a saved
// tokenizer folder, so Python can check the browser gets the very same ids.
// Usage: node training/vocab/js_parity.mjs TOKENIZER_DIR TEXTS.json  ->  stdout: [[ids...], ...]
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const here = new URL('.', import.meta.url).pathname;
const webapp = join(here, '..', '..', 'webapp');
const entry = createRequire(join(webapp, 'package.json')).resolve('@huggingface/transformers');
const { PreTrainedTokenizer } = await import(pathToFileURL(entry.replace(/\.cjs$/, '.mjs')).href);

const [dir, textsFile] = process.argv.slice(2);
const json = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf-8'));
const config = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf-8'));
const tokenizer = new PreTrainedTokenizer(json, config);
const texts = JSON.parse(readFileSync(textsFile, 'utf-8'));
const ids = texts.map((t) => tokenizer.encode(t, { add_special_tokens: false }));
const decoded = ids.map((i) => tokenizer.decode(i, { skip_special_tokens: false }));
process.stdout.write(JSON.stringify({ ids, decoded }));
