// The browser's prompt contract against the Python one: every golden vector, byte for byte.
// Run: node --test test/   (pytest runs it too: tests/unit/test_contract_js.py)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import {
  UnknownFieldError, canonicalJson, epicrisisMessages, epicrisisPrompt, normaliseCie10, normaliseCombinationDose,
  normaliseDatetime,
} from '../src/contract.js';

const read = (rel) => JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf-8'));
const spec = read('../../models/contract/contract.json');
const golden = read('../../models/contract/golden.json');

/** The same record with every object's keys in a different order (seeded, so failures repeat). */
function shuffled(value, seed = { s: 7 }) {
  const next = () => { seed.s = (seed.s * 1103515245 + 12345) % 2147483648; return seed.s / 2147483648; };
  if (Array.isArray(value)) return value.map((v) => shuffled(v, seed));
  if (value && typeof value === 'object') {
    const entries = Object.entries(value);
    for (let i = entries.length - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [entries[i], entries[j]] = [entries[j], entries[i]];
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, shuffled(v, seed)]));
  }
  return value;
}

test('there are golden vectors to check', () => {
  assert.ok(golden.length >= 3);
});

for (const vector of golden) {
  test(`golden ${vector.name}: canonical JSON, messages and prompt are byte-identical`, () => {
    assert.equal(canonicalJson(vector.record, spec), vector.canonical_json);
    assert.deepEqual(epicrisisMessages(vector.record, spec), vector.messages);
    const prompt = epicrisisPrompt(vector.record, spec);
    assert.equal(prompt, vector.prompt);
    assert.deepEqual(Buffer.from(prompt, 'utf-8'), Buffer.from(vector.prompt, 'utf-8'));
  });

  test(`golden ${vector.name}: key order in the input does not change the prompt`, () => {
    assert.equal(epicrisisPrompt(shuffled(vector.record), spec), vector.prompt);
  });
}

test('what the schema normalises, the browser normalises the same way', () => {
  // Written by clinical.contract.canonical_json for a record with padded strings, "j189",
  // a datetime without seconds and numbers sent as strings.
  const loose = read('./fixtures/loose_record.json');
  assert.equal(canonicalJson(loose.record, spec), loose.canonical_json);
});

test('unknown keys are refused with their path, as the server refuses them', () => {
  const record = structuredClone(golden[0].record);
  record.diagnoses[0].severity = 'grave';
  assert.throws(() => canonicalJson(record, spec), (err) => err instanceof UnknownFieldError && err.path === 'diagnoses[].severity');
});

test('absent optionals are dropped, defaults filled, empty lists kept', () => {
  const minimal = golden.find((v) => v.name === 'minimo');
  const text = canonicalJson(minimal.record, spec);
  assert.ok(text.includes('"procedures":[]'));
  assert.ok(!text.includes('"allergies"'));
  assert.ok(!text.includes('null'));
  assert.ok(text.includes('"origin":"urgencia"'));
});

test('CIE-10 and datetime normalisation', () => {
  assert.equal(normaliseCie10(' j189 '), 'J18.9');
  assert.equal(normaliseCie10('E11.65'), 'E11.65');
  assert.equal(normaliseDatetime('2026-01-10T14:35'), '2026-01-10T14:35:00');
  assert.equal(normaliseDatetime('2026-01-10 14:35:07Z'), '2026-01-10T14:35:07');
});

test('doses: numbers as numbers, combination products written as clinical.record writes them', () => {
  assert.equal(normaliseCombinationDose(' 875 / 125,50 '), '875/125.5');
  assert.equal(normaliseCombinationDose('0400/057'), '400/57');
  assert.equal(normaliseCombinationDose('1000/62.50'), '1000/62.5');
  assert.equal(normaliseCombinationDose('875/'), '875/');
  const record = structuredClone(golden.find((g) => g.name === 'neumonia_pediatrica_chile')?.record ?? golden[0].record);
  record.discharge_medications[0].dose = ' 400 / 57,0 ';
  record.patient.weight_kg = '16.5';
  const canonical = JSON.parse(canonicalJson(record, spec));
  assert.equal(canonical.discharge_medications[0].dose, '400/57');
  assert.equal(canonical.patient.weight_kg, 16.5);
});
