// The form's Spanish checks (src/schema.js) against the record schema's rules (clinical/record.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';

import { checkIdentifier } from '../src/identifiers.js';
import {
  MESSAGES, combinationProblem, isPerKg, serverErrors, validateRecord,
} from '../src/schema.js';

const TODAY = '2026-11-21'; // clinical.contract.GOLDEN_TODAY
const examplesDir = new URL('../../clinical/examples/', import.meta.url);
const examples = Object.fromEntries(readdirSync(examplesDir).filter((f) => f.endsWith('.json'))
  .map((f) => [f.replace(/\.json$/, ''), JSON.parse(readFileSync(new URL(f, examplesDir), 'utf-8'))]));
const paths = (errors) => errors.map((e) => e.path);

test('every shipped example passes', () => {
  assert.ok(Object.keys(examples).length >= 3);
  for (const [name, record] of Object.entries(examples)) assert.deepEqual(validateRecord(record, TODAY), [], name);
});

test('field rules: required, CIE-10, enums, ranges, decimals', () => {
  const r = structuredClone(examples.neumonia_chile);
  delete r.admission.service;
  r.diagnoses[1].code = 'diabetes';
  r.discharge_medications[0].route = 'por boca';
  r.discharge_medications[0].dose = 0;
  r.vital_signs[0].temperature_c = 38.65;
  const errors = validateRecord(r, TODAY);
  assert.deepEqual(paths(errors).sort(), ['admission.service', 'diagnoses.1.code', 'discharge_medications.0.dose',
    'discharge_medications.0.route', 'vital_signs.0.temperature_c']);
  assert.equal(errors.find((e) => e.path === 'admission.service').message, MESSAGES.missing);
  assert.equal(errors.find((e) => e.path === 'diagnoses.1.code').message, MESSAGES.cie10_invalid);
});

test('cross-field rules, once the fields are valid', () => {
  const r = structuredClone(examples.neumonia_chile);
  r.discharge.discharged_on = '2026-01-05';
  assert.deepEqual(validateRecord(r, TODAY), [{ path: 'discharge.discharged_on', message: MESSAGES.discharge_before_admission }]);
  const s = structuredClone(examples.neumonia_chile);
  s.diagnoses.forEach((d) => { d.kind = 'secundario'; });
  assert.deepEqual(paths(validateRecord(s, TODAY)), ['diagnoses']);
  const future = structuredClone(examples.minimo);
  assert.ok(paths(validateRecord(future, '2020-01-01')).includes('admission.admitted_at'));
  const age = structuredClone(examples.neumonia_chile);
  age.patient.age_years = 30;
  assert.deepEqual(paths(validateRecord(age, TODAY)), ['patient.age_years']);
});

test('vital signs need a measurement and both pressures', () => {
  const r = structuredClone(examples.neumonia_chile);
  r.vital_signs = [{ taken_at: r.admission.admitted_at }, { taken_at: r.admission.admitted_at, systolic_mmhg: 120 }];
  assert.deepEqual(validateRecord(r, TODAY).map((e) => [e.path, e.message]),
    [['vital_signs.0', MESSAGES.vitals_empty], ['vital_signs.1.diastolic_mmhg', MESSAGES.bp_incomplete]]);
});

test('identifier check digits agree with clinical/identifiers.py', () => {
  assert.equal(checkIdentifier('RUT', '7.654.321-6'), null);
  assert.match(checkIdentifier('RUT', '7.654.321-5'), /dígito verificador/);
  assert.equal(checkIdentifier('CURP', 'HEGJ700215HJCRNN08'), null);
  assert.match(checkIdentifier('CURP', 'HEGJ700215HJCRNN09'), /verificador/);
  assert.equal(checkIdentifier('NSS', '43987001526'), null);
  assert.match(checkIdentifier('NSS', '43987001527'), /NSS/);
  assert.equal(checkIdentifier('DNI', '12345678Z'), null);
  assert.match(checkIdentifier('DNI', '12345678A'), /letra/);
  assert.equal(checkIdentifier('NIE', 'X1234567L'), null);
  assert.equal(checkIdentifier('NHC', 'anything'), null);
});

test('server 422 locations map onto form paths, in Spanish', () => {
  const mapped = serverErrors([
    { loc: ['body', 'record', 'diagnoses', 0, 'code'], msg: 'x', type: 'cie10_invalid' },
    { loc: ['body', 'record', 'discharge', 'discharged_on'], msg: 'x', type: 'discharge_before_admission' },
    { loc: ['body', 'record'], msg: 'x', type: 'some_new_rule' },
  ]);
  assert.deepEqual(mapped.map((e) => e.path), ['diagnoses.0.code', 'discharge.discharged_on', '']);
  assert.equal(mapped[1].message, 'El alta es anterior al ingreso.');
  assert.equal(mapped[2].message, 'Valor no válido.');
});

test('combination doses, per-kg doses and control characters, as clinical/record.py rules them', () => {
  const r = structuredClone(examples.neumonia_pediatrica_chile);
  assert.equal(r.discharge_medications[0].dose, '400/57');
  assert.deepEqual(validateRecord(r, TODAY), []);
  r.discharge_medications[0].dose = '400/0';
  r.inpatient_medications[0].dose = '875/';
  r.admission.reason = 'Fiebre\u0000 de 4 días';
  r.medical_history[0] = 'SBO\u001b recurrente';
  assert.deepEqual(validateRecord(r, TODAY).map((e) => [e.path, e.message]), [
    ['admission.reason', MESSAGES.control_character],
    ['medical_history.0', MESSAGES.control_character],
    ['inpatient_medications.0.dose', MESSAGES.combination_dose_invalid],
    ['discharge_medications.0.dose', MESSAGES.combination_dose_invalid],
  ]);
  const tabs = structuredClone(examples.neumonia_pediatrica_chile);
  tabs.evolution = 'Línea 1\n\tLínea 2\r\n';
  assert.deepEqual(validateRecord(tabs, TODAY), []);

  const noWeight = structuredClone(examples.neumonia_pediatrica_chile);
  delete noWeight.patient.weight_kg;
  assert.deepEqual(paths(validateRecord(noWeight, TODAY)),
    ['inpatient_medications.0.unit', 'inpatient_medications.1.unit', 'discharge_medications.1.unit']);
  assert.equal(validateRecord(noWeight, TODAY)[0].message, MESSAGES.weight_missing);
  const heavy = structuredClone(examples.neumonia_pediatrica_chile);
  heavy.patient.weight_kg = 401;
  assert.deepEqual(paths(validateRecord(heavy, TODAY)), ['patient.weight_kg']);
  assert.ok(isPerKg('mcg/kg/min') && isPerKg('mg / KG') && !isPerKg('mg') && !isPerKg('kg'));
  assert.equal(combinationProblem('875 / 125,5'), null);
  assert.equal(combinationProblem('875/125/'), MESSAGES.combination_dose_invalid);
});

test('the server\'s new 422 types have Spanish messages', () => {
  const mapped = serverErrors([
    { loc: ['body', 'record', 'discharge_medications', 0, 'dose'], type: 'combination_dose_invalid' },
    { loc: ['body', 'record', 'inpatient_medications', 1, 'unit'], type: 'weight_missing' },
    { loc: ['body', 'record', 'patient', 'name'], type: 'control_character' },
  ]);
  assert.deepEqual(mapped.map((e) => [e.path, e.message]), [
    ['discharge_medications.0.dose', MESSAGES.combination_dose_invalid],
    ['inpatient_medications.1.unit', MESSAGES.weight_missing],
    ['patient.name', MESSAGES.control_character],
  ]);
});
