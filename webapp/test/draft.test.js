// The draft view's pure parts (src/draft.js): spans, record sources, summaries, print rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import {
  KIND_LABELS, attributedShare, attributionText, checksSummary, codePointToUtf16, fieldLabel, fieldSegments,
  findingGroups, formatValue, printBanner, printBlock, recordValue, sourceOf, spans, utcDate,
} from '../src/draft.js';

const record = JSON.parse(readFileSync(new URL('../../clinical/examples/neumonia_pediatrica_chile.json', import.meta.url), 'utf-8'));

test('record paths in Spanish, as the form names them', () => {
  assert.deepEqual(fieldSegments('discharge_medications[0].dose'), ['discharge_medications', 0, 'dose']);
  assert.deepEqual(fieldSegments('discharge_medications.0.dose'), ['discharge_medications', 0, 'dose']);
  assert.equal(fieldLabel('discharge_medications[0].dose'), 'Tratamiento al alta › 1 › dosis');
  assert.equal(fieldLabel('patient.name'), 'Paciente › nombre');
  assert.equal(fieldLabel('patient.identifiers[0].value'), 'Identificadores del paciente › 1 › número');
  assert.equal(fieldLabel('diagnoses[1].code'), 'Diagnósticos › 2 › CIE-10');
  assert.equal(fieldLabel('vital_signs[0].spo2_percent'), 'Controles de signos vitales › 1 › SpO₂ (%)');
  assert.equal(fieldLabel('medical_history[0]'), 'Antecedentes médicos › 1');
  assert.equal(fieldLabel('evolution'), 'Evolución');
  assert.equal(fieldLabel('length_of_stay_days'), 'Días de estadía (del ingreso al alta)');
  assert.equal(fieldLabel('something_new.x'), 'something_new › x');
  assert.equal(fieldLabel(null), '');
});

test('record values read by path and written on one line', () => {
  assert.equal(recordValue(record, 'discharge_medications[0].dose'), '400/57');
  assert.equal(recordValue(record, 'patient.identifiers.0.value'), '25.431.876-0');
  assert.equal(recordValue(record, 'procedures[3].description'), undefined);
  assert.equal(formatValue(recordValue(record, 'diagnoses[0]')), 'J18.1 · Neumonía lobar · principal');
  assert.equal(formatValue(recordValue(record, 'allergies')), '(lista vacía)');
  assert.equal(formatValue(true), 'sí');
  assert.equal(formatValue(16.5), '16.5');
  assert.equal(formatValue(undefined), '');
  // values the review derives from the record
  assert.equal(recordValue(record, 'length_of_stay_days'), '4 días');
  assert.equal(recordValue(record, 'patient.age'), '4 años');
  assert.equal(fieldLabel('patient.age'), 'Paciente › edad al ingreso');
  assert.equal(recordValue({ patient: { age_years: 70 } }, 'patient.age'), '70 años');
  assert.equal(recordValue({}, 'length_of_stay_days'), undefined);
});

test('spans: findings first, facts on the rest, code points turned into UTF-16 indexes', () => {
  const text = '🙂 Nombre: Ana Pérez. Dosis: 500 mg.';
  const name = [...text].join('').indexOf('Ana'); // UTF-16 index
  const namePoints = [...text.slice(0, name)].length;
  const findings = [{ kind: 'identity', start: namePoints, end: namePoints + 9, field: 'patient.name' },
    { kind: 'diagnosis', start: null, end: null, field: 'diagnoses[0]' }];
  const facts = [
    { kind: 'identity', start: namePoints, end: namePoints + 9, field: 'patient.name', traced: false },
    { kind: 'identity', start: namePoints + 4, end: namePoints + 9, field: 'patient.name', traced: true }, // overlaps
    { kind: 'medication', start: [...text].indexOf('5'), end: [...text].indexOf('5') + 3, field: 'discharge_medications[0].dose', traced: true },
  ];
  const out = spans(text, findings, facts);
  assert.equal(out.length, 2);
  assert.deepEqual({ ...out[0] }, { from: name, to: name + 9, finding: 0, kind: 'identity', fact: 0, traced: false });
  assert.equal(text.slice(out[0].from, out[0].to), 'Ana Pérez');
  assert.equal(text.slice(out[1].from, out[1].to), '500');
  assert.equal(out[1].fact, 2);
  assert.equal(codePointToUtf16(text, 1), 2);
});

test('attribution share: the server\'s, else counted; never rounded up to all', () => {
  assert.equal(attributedShare({ attributed_share: 0.93 }), 0.93);
  assert.equal(attributedShare({ facts: [{ traced: true }, { traced: false }] }), 0.5);
  assert.equal(attributedShare({ facts: [] }), null);
  assert.equal(attributionText({ attributed_share: 0.93 }), '93 % de los datos del texto tienen fuente en el registro.');
  assert.equal(attributionText({ attributed_share: 0.996, facts: Array(250).fill({ traced: true }).concat([{ traced: false }]) }),
    '99 % de los datos del texto tienen fuente en el registro (250 de 251).');
  assert.equal(attributionText({ attributed_share: 1 }), '100 % de los datos del texto tienen fuente en el registro.');
  assert.equal(attributionText({ findings: [] }), '');
});

test('the summary says the text matches the record only when the review is clean', () => {
  const clean = checksSummary({ ok: true, reviewed: true, findings: [] });
  assert.equal(clean.state, 'ok');
  assert.match(clean.text, /el texto recoge el registro/);
  assert.match(clean.text, /no juzga/);
  for (const checks of [{ ok: false, reviewed: true, findings: [{ kind: 'identity' }] }, null,
    { ok: true, reviewed: false, findings: [] }]) {
    assert.doesNotMatch(checksSummary(checks).text, /recoge el registro/);
  }
  assert.equal(checksSummary({ ok: true, findings: [] }, { pending: true }).state, 'pending');
  assert.match(checksSummary(null).text, /^Sin revisar/);
  assert.match(checksSummary({ ok: false, reviewed: true, findings: [{}, {}] }).text, /^2 hallazgos/);
  assert.doesNotMatch(JSON.stringify(Object.values(KIND_LABELS)), /"Controles"/);
});

test('findings grouped by kind in a fixed order, unknown kinds last', () => {
  const groups = findingGroups([
    { kind: 'medication', code: 'wrong_dose' }, { kind: 'identity', code: 'wrong_name' },
    { kind: 'missing_diagnosis' }, { kind: 'medication', code: 'wrong_route' },
  ]);
  assert.deepEqual(groups.map((g) => [g.kind, g.label, g.items.map((i) => i.index)]), [
    ['identity', 'Identificación del paciente', [1]],
    ['medication', 'Medicamentos', [0, 3]],
    ['other', 'Otros hallazgos', [2]],
  ]);
});

test('the source of a selected span comes from the document\'s record', () => {
  const doc = {
    record,
    checks: {
      ok: false, reviewed: true,
      findings: [{ code: 'wrong_name', kind: 'identity', text: 'Claudia', message: 'El nombre no coincide con el del registro.', field: 'patient.name', start: 0, end: 7 }],
      facts: [{ kind: 'medication', start: 10, end: 16, field: 'discharge_medications[0].dose', traced: true },
        { kind: 'number', start: 20, end: 22, field: null, traced: false }],
    },
  };
  assert.deepEqual(sourceOf(doc, { fact: 0 }), {
    message: null, kind: 'medication', field: 'discharge_medications[0].dose',
    label: 'Tratamiento al alta › 1 › dosis', value: '400/57', traced: true,
  });
  const finding = sourceOf(doc, { finding: 0 });
  assert.equal(finding.message, 'El nombre no coincide con el del registro.');
  assert.equal(finding.value, 'Tomás Ignacio Fuentes Rojas');
  assert.equal(finding.traced, false);
  assert.deepEqual(sourceOf(doc, { fact: 1 }), { message: null, kind: 'number', field: null, label: '', value: '', traced: false });
});

test('printing: never before the review, never with an identity finding', () => {
  assert.match(printBlock(null, { pending: true }), /no se ha revisado/);
  assert.match(printBlock({ checks: { reviewed: false, findings: [] } }), /no se ha revisado/);
  assert.match(printBlock({ checks: { reviewed: true, findings: [{ kind: 'identity', code: 'wrong_age' }] } }), /identificación/);
  assert.equal(printBlock({ checks: { reviewed: true, ok: false, findings: [{ kind: 'medication' }] } }), null);
  assert.equal(printBlock({ checks: { reviewed: true, ok: true, findings: [] } }), null);
});

test('the print-only banner says why a printout made anyway is not valid', () => {
  assert.match(printBanner(null, { pending: true }), /^BORRADOR SIN REVISAR/);
  assert.match(printBanner({ checks: { reviewed: true, findings: [{ kind: 'identity' }] } }), /^DOCUMENTO NO VÁLIDO/);
  assert.equal(printBanner({ checks: { reviewed: true, ok: true, findings: [] } }), null);
});

test('server timestamps carry their offset; one without is read as UTC', () => {
  assert.equal(utcDate('2026-01-15T08:00:00Z').toISOString(), '2026-01-15T08:00:00.000Z');
  assert.equal(utcDate('2026-01-15T08:00:00+00:00').toISOString(), '2026-01-15T08:00:00.000Z');
  assert.equal(utcDate('2026-01-15T08:00:00').toISOString(), '2026-01-15T08:00:00.000Z');
  assert.ok(!Number.isNaN(utcDate('2026-01-15T05:00:00-03:00').getTime()));
});
