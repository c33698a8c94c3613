// The translation page's pure helpers: polling backoff and progress (src/translate.js), and the Spanish
// messages for the API's errors, placed next to the control they are about (src/translation_errors.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { ApiError, Unreachable } from '../src/api.js';
import {
  POLL, RULE_BASED_NOTICE, accuracyText, isRuleBased, nextPollDelay, progressText, provenanceText,
} from '../src/translate.js';
import { jobErrors, translationErrors } from '../src/translation_errors.js';
import { viewFor } from '../src/views.js';

const job = (status, done, total, extra = {}) => ({
  status, source: { kind: 'text' }, progress: { chunks_done: done, chunks_total: total, chunks_cached: 0 }, ...extra,
});

test('polling backs off while a job stands still and starts over when it moves', () => {
  const delays = [nextPollDelay(null, false)];
  for (let i = 0; i < 8; i += 1) delays.push(nextPollDelay(delays.at(-1), false));
  assert.equal(delays[0], POLL.firstMs);
  assert.ok(delays.every((d, i) => i === 0 || d >= delays[i - 1]));
  assert.equal(delays.at(-1), POLL.maxMs);
  assert.equal(nextPollDelay(POLL.maxMs, true), POLL.firstMs);
});

test('progress and facts in Spanish', () => {
  assert.equal(progressText(job('queued', 0, 0)), 'En cola en el servidor…');
  assert.match(progressText(job('running', 0, 0)), /Protegiendo los datos/);
  assert.match(progressText({ ...job('running', 0, 0), source: { kind: 'pdf' } }), /Leyendo el PDF/);
  assert.equal(progressText(job('running', 3, 8)), 'Traduciendo: 3 de 8 fragmentos');
  const cached = job('running', 2, 5);
  cached.progress.chunks_cached = 1;
  assert.equal(progressText(cached), 'Traduciendo: 2 de 5 fragmentos (1 ya traducido antes)');
  assert.match(accuracyText(1), /^100\s%$/u);
  assert.match(accuracyText(0.875), /^87[.,]5\s%$/u);
  assert.equal(accuracyText(null), '—');
  assert.equal(provenanceText({ engine: 'vllm', model: 'translation', model_version: 'v2', fallbacks: [] }),
    'Traducido por vllm (translation v2)');
  assert.match(provenanceText({ engine: 'onnx', model: 'm', model_version: '1', fallbacks: [{ engine: 'vllm' }] }),
    /antes falló: vllm$/);
});

test('422s go next to the field they name, in Spanish', () => {
  const err = new ApiError(422, { detail: [
    { type: 'string_too_short', field: 'text', msg: 'String should have at least 1 character' },
    { type: 'literal_error', field: 'source_variant', msg: "Input should be 'es-MX', 'es-CL' or 'es-ES'" },
    { type: 'extra_forbidden', field: 'engine', msg: 'Extra inputs are not permitted' },
  ] });
  const errors = translationErrors(err);
  assert.deepEqual(errors.map((e) => e.field), ['text', 'source_variant', '']);
  assert.match(errors[0].message, /vacío/);
  assert.match(errors[1].message, /México, Chile o España/);
  const tooLong = translationErrors(new ApiError(422, { detail: [{ type: 'too_long', field: 'file',
    msg: "the PDF's text has 9000 characters; at most 5000 per request (ALTA_TRANSLATION_MAX_CHARS): split the document" }] }));
  assert.deepEqual(tooLong.map((e) => e.field), ['file']);
  assert.match(tooLong[0].message, /máximo de 5000 caracteres/);
  const pages = translationErrors(new ApiError(422, { detail: [{ type: 'invalid_pdf', field: 'file',
    msg: 'the PDF has 120 pages; at most 100 per request (ALTA_TRANSLATION_MAX_PAGES)' }] }));
  assert.match(pages[0].message, /demasiadas páginas \(máximo 100/);
});

test('server-side failures: what to do, where, in Spanish, never the server detail (no shell commands)', () => {
  const detail = 'no configured engine does translation (configured: template (epicrisis)); install Apertium '
    + '(scripts/system-deps.sh run) ... `python -m export bundle --checkpoint DIR`';
  const [none] = translationErrors(new ApiError(503, { code: 'no_translation_engine', detail }, 5));
  assert.equal(none.field, '');
  assert.match(none.message, /ningún motor de traducción/);
  assert.match(none.message, /administrador/);
  assert.equal(none.detail, '');
  const shown = JSON.stringify(translationErrors(new ApiError(503, { code: 'no_translation_engine', detail })));
  assert.doesNotMatch(shown, /python|scripts\/|ALTA_|apt-get|`/);
  assert.match(translationErrors(new ApiError(503, { code: 'no_engine_available', detail: 'x' }, 7))[0].message,
    /vuelva a intentarlo en 7 s/);

  const [lost] = translationErrors(new ApiError(502, { code: 'placeholders_not_kept', detail: 'chunk 1 of 3: ...' }));
  assert.match(lost.message, /marcadores que protegen los datos del paciente/);
  assert.match(lost.message, /no se devolvió ninguna traducción/);
  assert.equal(lost.detail, '');

  assert.deepEqual(translationErrors(new ApiError(413, { detail: 'the body is over ALTA_MAX_BODY_BYTES' }), 'pdf')
    .map((e) => e.field), ['file']);
  assert.match(translationErrors(new ApiError(429, { detail: 'rate' }, 12))[0].message, /en 12 s/);
  assert.match(translationErrors(new ApiError(503, { code: 'overloaded', detail: 'busy' }, 3))[0].message, /ocupado.*en 3 s/);
  const [offline] = translationErrors(new Unreachable('TypeError: Failed to fetch'));
  assert.match(offline.message, /necesita la red/);
  assert.match(offline.message, /El texto sigue aquí/);
  const [ocr] = translationErrors(new ApiError(503, { code: 'ocr_unavailable', detail: 'tesseract missing' }), 'pdf');
  assert.equal(ocr.field, 'file');
});

test('a failed job says why, beside the button or the document it is about', () => {
  const failed = (code, kind = 'text') => jobErrors({ status: 'failed', source: { kind }, error: { code, detail: 'x' } });
  assert.match(failed('placeholders_not_kept')[0].message, /marcadores/);
  assert.match(failed('interrupted')[0].message, /envíe el documento de nuevo/);
  assert.equal(failed('ocr_failed', 'pdf')[0].field, 'file');
  assert.equal(failed('text_not_chunkable')[0].field, 'text');
  assert.equal(failed('something_new')[0].detail, '');
});

test('the hash picks the view; documents stay in the epicrisis view', () => {
  assert.equal(viewFor('#traduccion'), 'traduccion');
  assert.equal(viewFor(''), 'epicrisis');
  assert.equal(viewFor('#/documento/0b6f3c1e-2a4d-4c8e-9f10-1a2b3c4d5e6f'), 'epicrisis');
});

test('an Apertium translation says, in Spanish, that it is rule-based and needs careful review', () => {
  const provenance = { engine: 'apertium', model: 'apertium-spa-eng (rule-based)', model_version: 'spa-eng', fallbacks: [] };
  assert.ok(isRuleBased(provenance));
  assert.ok(!isRuleBased({ engine: 'vllm' }) && !isRuleBased(null));
  assert.match(provenanceText(provenance), /basada en reglas/);
  assert.match(RULE_BASED_NOTICE, /automática basada en reglas/);
  assert.match(RULE_BASED_NOTICE, /Revísela con especial cuidado/);
});
