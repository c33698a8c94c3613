/**
 * The hospital-stay record as the form shows it, and its checks in Spanish.
 *
 * SECTIONS mirrors clinical/record.py (field names, enums, limits); validateRecord mirrors its rules
 * so a clinician sees what to fix next to the field before anything is generated, also offline.
 * The server stays the authority: its 422 answers are mapped onto the same fields by their `loc`
 * and translated by their stable `type` (serverErrors). Paths are dotted with list indexes
 * ("diagnoses.0.code"), as the server's `loc` after "body", "record".
 */
import { normaliseCie10, normaliseDatetime } from './contract.js';
import { checkIdentifier } from './identifiers.js';

const opts = (...values) => values.map((v) => (Array.isArray(v) ? v : [v, v]));

export const ROUTES = opts('oral', 'intravenosa', 'intramuscular', 'subcutánea', 'sublingual', 'inhalatoria',
  'nebulizada', 'tópica', 'transdérmica', 'rectal', 'vaginal', 'oftálmica', 'ótica', 'nasal', 'enteral');

const MEDICATION = [
  { key: 'name', label: 'Medicamento', type: 'text', required: true },
  // A number, or for a combination product one amount per component: "875/125" (clinical.record).
  { key: 'dose', label: 'Dosis', type: 'dose', required: true, gt: 0, places: 4 },
  { key: 'unit', label: 'Unidad', type: 'text', required: true, max: 20 },
  { key: 'route', label: 'Vía', type: 'select', required: true, options: ROUTES },
  { key: 'frequency', label: 'Frecuencia', type: 'text', required: true },
  { key: 'duration', label: 'Duración', type: 'text' },
];

/** Form sections in the record's order. kind: object (one group of fields), rows (a list of objects),
 * texts (a list of strings), text (one long text at the record's top level). */
export const SECTIONS = [
  { path: 'patient', title: 'Paciente', kind: 'object', fields: [
    { key: 'name', label: 'Nombre', type: 'text', required: true },
    { key: 'sex', label: 'Sexo', type: 'select', required: true,
      options: opts(['F', 'Femenino'], ['M', 'Masculino'], ['X', 'Otro / no consignado']) },
    { key: 'birth_date', label: 'Fecha de nacimiento', type: 'date' },
    { key: 'age_years', label: 'Edad (años)', type: 'int', min: 0, max: 130 },
    { key: 'weight_kg', label: 'Peso (kg)', type: 'decimal', gt: 0, max: 400, places: 3 },
  ] },
  { path: 'patient.identifiers', title: 'Identificadores del paciente', kind: 'rows', add: 'Agregar identificador', max: 10,
    fields: [
      { key: 'type', label: 'Tipo', type: 'select', required: true,
        options: opts('RUT', 'CURP', 'NSS', 'NHC', 'DNI', 'NIE', ['PASAPORTE', 'Pasaporte'], ['OTRO', 'Otro']) },
      { key: 'value', label: 'Número', type: 'text', required: true, max: 40 },
    ] },
  { path: 'admission', title: 'Ingreso', kind: 'object', fields: [
    { key: 'admitted_at', label: 'Fecha y hora de ingreso', type: 'datetime', required: true },
    { key: 'service', label: 'Servicio', type: 'text', required: true },
    { key: 'reason', label: 'Motivo de ingreso', type: 'longtext', required: true },
    { key: 'origin', label: 'Origen', type: 'select', default: 'urgencia',
      options: opts(['urgencia', 'Urgencia'], ['ambulatorio', 'Ambulatorio'], ['electivo', 'Electivo'],
        ['traslado', 'Traslado'], ['otro', 'Otro']) },
  ] },
  { path: 'discharge', title: 'Alta', kind: 'object', fields: [
    { key: 'discharged_on', label: 'Fecha de alta', type: 'date', required: true },
    { key: 'condition', label: 'Condición al alta', type: 'select', default: 'mejorado',
      options: opts('mejorado', 'estable', 'sin cambios', 'empeorado', 'fallecido') },
    { key: 'destination', label: 'Destino', type: 'select', default: 'domicilio',
      options: opts('domicilio', 'hospitalización domiciliaria', 'traslado a otro centro',
        'establecimiento de larga estadía', 'alta voluntaria', 'anatomía patológica') },
  ] },
  { path: 'allergies', title: 'Alergias', kind: 'rows', add: 'Agregar alergia', optional: true, fields: [
    { key: 'substance', label: 'Sustancia', type: 'text', required: true },
    { key: 'reaction', label: 'Reacción', type: 'text' },
  ] },
  { path: 'medical_history', title: 'Antecedentes médicos', kind: 'texts', add: 'Agregar antecedente', max: 50 },
  { path: 'surgical_history', title: 'Antecedentes quirúrgicos', kind: 'texts', add: 'Agregar antecedente', max: 50 },
  { path: 'diagnoses', title: 'Diagnósticos', kind: 'rows', add: 'Agregar diagnóstico', min: 1, max: 30, fields: [
    { key: 'code', label: 'CIE-10', type: 'cie10', required: true },
    { key: 'description', label: 'Descripción', type: 'text', required: true },
    { key: 'kind', label: 'Tipo', type: 'select', default: 'secundario',
      options: opts(['principal', 'Principal'], ['secundario', 'Secundario']) },
  ] },
  { path: 'procedures', title: 'Procedimientos', kind: 'rows', add: 'Agregar procedimiento', max: 50, fields: [
    { key: 'performed_on', label: 'Fecha', type: 'date', required: true },
    { key: 'description', label: 'Descripción', type: 'text', required: true },
    { key: 'code', label: 'Código', type: 'text', max: 20 },
  ] },
  { path: 'inpatient_medications', title: 'Tratamiento durante la hospitalización', kind: 'rows',
    add: 'Agregar medicamento', max: 60, fields: MEDICATION },
  { path: 'discharge_medications', title: 'Tratamiento al alta', kind: 'rows', add: 'Agregar medicamento', max: 40,
    fields: MEDICATION },
  { path: 'labs', title: 'Exámenes', kind: 'rows', add: 'Agregar examen', max: 200, fields: [
    { key: 'name', label: 'Examen', type: 'text', required: true },
    { key: 'value', label: 'Resultado', type: 'text', required: true, max: 60 },
    { key: 'unit', label: 'Unidad', type: 'text', max: 20 },
    { key: 'taken_on', label: 'Fecha', type: 'date', required: true },
    { key: 'abnormal', label: 'Alterado', type: 'checkbox', default: false },
  ] },
  { path: 'vital_signs', title: 'Controles de signos vitales', kind: 'rows', add: 'Agregar control', max: 200, fields: [
    { key: 'taken_at', label: 'Fecha y hora', type: 'datetime', required: true },
    { key: 'systolic_mmhg', label: 'PAS (mmHg)', type: 'int', min: 30, max: 300 },
    { key: 'diastolic_mmhg', label: 'PAD (mmHg)', type: 'int', min: 10, max: 200 },
    { key: 'heart_rate_bpm', label: 'FC (lpm)', type: 'int', min: 10, max: 300 },
    { key: 'respiratory_rate_rpm', label: 'FR (rpm)', type: 'int', min: 2, max: 80 },
    { key: 'temperature_c', label: 'T° (°C)', type: 'decimal', min: 25, max: 45, places: 1 },
    { key: 'spo2_percent', label: 'SpO₂ (%)', type: 'int', min: 30, max: 100 },
  ] },
  { path: 'evolution', title: 'Evolución', kind: 'text', max: 20000 },
  { path: 'discharge_instructions', title: 'Indicaciones al alta', kind: 'texts', add: 'Agregar indicación', max: 30 },
  { path: 'follow_ups', title: 'Controles posteriores al alta', kind: 'rows', add: 'Agregar control', max: 20, fields: [
    { key: 'specialty', label: 'Especialidad', type: 'text', required: true },
    { key: 'date', label: 'Fecha', type: 'date' },
    { key: 'place', label: 'Lugar', type: 'text' },
    { key: 'notes', label: 'Notas', type: 'text' },
  ] },
];

/** Spanish messages for the server's error `type`s (pydantic's and clinical.record's own). */
export const MESSAGES = {
  missing: 'Campo obligatorio.',
  string_too_short: 'No puede quedar vacío.',
  string_too_long: 'El texto es demasiado largo.',
  string_type: 'Debe ser texto.',
  extra_forbidden: 'Campo desconocido: revise el nombre del campo.',
  enum: 'Elija una de las opciones.',
  literal_error: 'Elija una de las opciones.',
  date_parsing: 'Fecha no válida (AAAA-MM-DD).',
  date_from_datetime_parsing: 'Fecha no válida (AAAA-MM-DD).',
  date_from_datetime_inexact: 'Indique solo la fecha, sin hora.',
  date_type: 'Fecha no válida (AAAA-MM-DD).',
  datetime_parsing: 'Fecha y hora no válidas.',
  datetime_from_date_parsing: 'Fecha y hora no válidas.',
  datetime_type: 'Fecha y hora no válidas.',
  int_parsing: 'Debe ser un número entero.',
  int_from_float: 'Debe ser un número entero.',
  int_type: 'Debe ser un número entero.',
  decimal_parsing: 'Debe ser un número.',
  decimal_type: 'Debe ser un número.',
  float_parsing: 'Debe ser un número.',
  bool_parsing: 'Debe ser sí o no.',
  greater_than: 'Debe ser mayor que cero.',
  greater_than_equal: 'Valor por debajo del mínimo permitido.',
  less_than_equal: 'Valor por encima del máximo permitido.',
  decimal_max_places: 'Demasiados decimales.',
  decimal_max_digits: 'Demasiados dígitos.',
  too_short: 'Agregue al menos uno.',
  too_long: 'Demasiados elementos.',
  list_type: 'Debe ser una lista.',
  model_type: 'Debe ser un objeto con sus campos.',
  dict_type: 'Debe ser un objeto con sus campos.',
  json_invalid: 'JSON no válido.',
  cie10_invalid: 'Código CIE-10 no válido: una letra, dos dígitos y, opcionalmente, punto y 1 a 4 caracteres (ej. J18.9).',
  identifier_invalid: 'Identificador no válido: revise el formato y el dígito verificador.',
  age_missing: 'Indique la fecha de nacimiento o la edad.',
  date_in_future: 'La fecha no puede ser futura.',
  discharge_before_admission: 'El alta es anterior al ingreso.',
  birth_after_admission: 'La fecha de nacimiento es posterior al ingreso.',
  age_mismatch: 'La edad no coincide con la fecha de nacimiento al ingreso.',
  principal_missing: 'Marque un diagnóstico como principal.',
  principal_repeated: 'Solo un diagnóstico puede ser principal.',
  outside_stay: 'La fecha está fuera de la hospitalización.',
  follow_up_before_discharge: 'El control es anterior al alta.',
  deceased_with_plan: 'Paciente fallecido: quite los medicamentos al alta y los controles.',
  vitals_empty: 'Registre al menos una medición.',
  bp_incomplete: 'La presión arterial necesita sistólica y diastólica.',
  bp_inverted: 'La diastólica debe ser menor que la sistólica.',
  control_character: 'El texto tiene un carácter de control (NUL u otro invisible): bórrelo y vuelva a escribir el texto.',
  combination_dose_invalid: 'Dosis no válida: un número mayor que cero o, en un medicamento combinado, una cantidad por componente separadas por «/» (ej. 875/125).',
  weight_missing: 'Una dosis por kg necesita el peso del paciente: complete «Peso (kg)».',
};
const FALLBACK = 'Valor no válido.';

/** The server's 422 ``detail`` as form errors: [{path, message, type}]. */
export function serverErrors(detail) {
  if (!Array.isArray(detail)) return [{ path: '', message: String(detail ?? FALLBACK), type: 'error' }];
  return detail.map((e) => {
    const loc = (e.loc ?? []).slice(e.loc?.[0] === 'body' ? 1 : 0);
    const inRecord = loc[0] === 'record' ? loc.slice(1) : loc;
    return { path: inRecord.join('.'), message: MESSAGES[e.type] ?? FALLBACK, type: e.type };
  });
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const CIE10 = /^[A-Z][0-9]{2}(?:\.[0-9A-Z]{1,4})?$/;

function validDate(value) {
  if (!DATE.test(value)) return false;
  const d = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === value;
}

function validDatetime(value) {
  const norm = normaliseDatetime(value);
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/.test(norm) && validDate(norm.slice(0, 10))
    && Number(norm.slice(11, 13)) < 24 && Number(norm.slice(14, 16)) < 60 && Number(norm.slice(17, 19)) < 60;
}

// C0 controls (NUL, escape...) and DEL, as clinical.record refuses them; tab and newlines are whitespace.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;
const COMBINATION = /^\s*\d+(?:[.,]\d+)?(?:\s*\/\s*\d+(?:[.,]\d+)?)+\s*$/;

/** Whether a dose unit is per kilogram of body weight ("mg/kg", "mcg/kg/min"): clinical.record.is_per_kg. */
export function isPerKg(unit) {
  return typeof unit === 'string' && /\/\s*kg\b/i.test(unit);
}

/** The problem with a combination dose ("875/125"), or null: one positive amount per component. */
export function combinationProblem(value) {
  const text = String(value);
  if (text.length > 40 || !COMBINATION.test(text)) return MESSAGES.combination_dose_invalid;
  const parts = text.match(/\d+(?:[.,]\d+)?/g).map((p) => Number(p.replace(',', '.')));
  return parts.every((p) => p > 0) ? null : MESSAGES.combination_dose_invalid;
}

const isBlank = (v) => v === undefined || v === null || (typeof v === 'string' && v.trim() === '');

function decimalPlaces(value) {
  const text = String(value);
  const dot = text.indexOf('.');
  return dot < 0 ? 0 : text.length - dot - 1;
}

/** The problem with one field's value, or null. */
function checkField(field, value) {
  if (isBlank(value)) return field.required ? MESSAGES.missing : null;
  if (typeof value === 'string' && CONTROL.test(value)) return MESSAGES.control_character;
  if (field.type === 'dose') {
    if (typeof value === 'string' && value.includes('/')) return combinationProblem(value);
    return checkField({ ...field, type: 'decimal' }, value);
  }
  switch (field.type) {
    case 'text': case 'longtext': {
      const max = field.max ?? (field.type === 'longtext' ? 20000 : 500);
      return String(value).trim().length > max ? MESSAGES.string_too_long : null;
    }
    case 'select':
      return field.options.some(([v]) => v === value) ? null : MESSAGES.enum;
    case 'date':
      return validDate(String(value).trim()) ? null : MESSAGES.date_parsing;
    case 'datetime':
      return validDatetime(String(value)) ? null : MESSAGES.datetime_parsing;
    case 'cie10':
      return CIE10.test(normaliseCie10(String(value))) ? null : MESSAGES.cie10_invalid;
    case 'int': case 'decimal': {
      const n = typeof value === 'number' ? value : Number(String(value).trim());
      if (!Number.isFinite(n)) return field.type === 'int' ? MESSAGES.int_parsing : MESSAGES.decimal_parsing;
      if (field.type === 'int' && !Number.isInteger(n)) return MESSAGES.int_parsing;
      if (field.gt !== undefined && !(n > field.gt)) return MESSAGES.greater_than;
      if (field.min !== undefined && n < field.min) return `${MESSAGES.greater_than_equal} (mínimo ${field.min})`;
      if (field.max !== undefined && n > field.max) return `${MESSAGES.less_than_equal} (máximo ${field.max})`;
      if (field.places !== undefined && decimalPlaces(n) > field.places) return MESSAGES.decimal_max_places;
      return null;
    }
    case 'checkbox':
      return typeof value === 'boolean' ? null : MESSAGES.bool_parsing;
    default:
      return null;
  }
}

function get(record, path) {
  return path.split('.').reduce((v, k) => (v == null ? undefined : v[k]), record);
}

const dateOf = (value) => normaliseDatetime(String(value ?? '')).slice(0, 10);

function yearsBetween(born, on) {
  const [by, bm, bd] = born.split('-').map(Number);
  const [oy, om, od] = on.split('-').map(Number);
  return oy - by - ((om < bm || (om === bm && od < bd)) ? 1 : 0);
}

/**
 * Every problem the schema would report, as [{path, message}], in Spanish. ``today`` is
 * "YYYY-MM-DD" (the clinician's date: no date may be in the future).
 */
export function validateRecord(record, today) {
  const errors = [];
  const add = (path, message) => errors.push({ path, message });
  for (const section of SECTIONS) {
    const value = get(record, section.path);
    if (section.kind === 'object') {
      for (const field of section.fields) {
        const problem = checkField(field, value?.[field.key]);
        if (problem) add(`${section.path}.${field.key}`, problem);
      }
    } else if (section.kind === 'rows' || section.kind === 'texts') {
      const items = value ?? [];
      if (section.min && items.length < section.min) add(section.path, MESSAGES.too_short);
      if (section.max && items.length > section.max) add(section.path, MESSAGES.too_long);
      items.forEach((item, i) => {
        if (section.kind === 'texts') {
          const problem = checkField({ type: 'text', required: true }, item);
          if (problem) add(`${section.path}.${i}`, problem);
          return;
        }
        for (const field of section.fields) {
          const problem = checkField(field, item?.[field.key]);
          if (problem) add(`${section.path}.${i}.${field.key}`, problem);
        }
      });
    } else if (section.kind === 'text') {
      const problem = checkField({ type: 'longtext', max: section.max }, value);
      if (problem) add(section.path, problem);
    }
  }
  (record.patient?.identifiers ?? []).forEach((id, i) => {
    if (!isBlank(id?.value) && id?.type) {
      const problem = checkIdentifier(id.type, id.value);
      if (problem) add(`patient.identifiers.${i}.value`, problem);
    }
  });
  (record.vital_signs ?? []).forEach((vs, i) => {
    const measured = ['systolic_mmhg', 'diastolic_mmhg', 'heart_rate_bpm', 'respiratory_rate_rpm', 'temperature_c', 'spo2_percent'];
    if (measured.every((k) => isBlank(vs?.[k]))) add(`vital_signs.${i}`, MESSAGES.vitals_empty);
    else if (isBlank(vs.systolic_mmhg) !== isBlank(vs.diastolic_mmhg)) add(`vital_signs.${i}.diastolic_mmhg`, MESSAGES.bp_incomplete);
    else if (!isBlank(vs.systolic_mmhg) && Number(vs.diastolic_mmhg) >= Number(vs.systolic_mmhg)) {
      add(`vital_signs.${i}.diastolic_mmhg`, MESSAGES.bp_inverted);
    }
  });
  if (isBlank(record.patient?.birth_date) && isBlank(record.patient?.age_years)) add('patient.birth_date', MESSAGES.age_missing);
  if (errors.length) return errors; // the rules below compare dates that must first be valid

  const admitted = dateOf(record.admission.admitted_at);
  const discharged = record.discharge.discharged_on.trim();
  if (today && admitted > today) add('admission.admitted_at', MESSAGES.date_in_future);
  if (today && discharged > today) add('discharge.discharged_on', MESSAGES.date_in_future);
  if (discharged < admitted) add('discharge.discharged_on', MESSAGES.discharge_before_admission);
  const born = record.patient.birth_date?.trim();
  if (born) {
    if (born > admitted) add('patient.birth_date', MESSAGES.birth_after_admission);
    else if (!isBlank(record.patient.age_years) && yearsBetween(born, admitted) !== Number(record.patient.age_years)) {
      add('patient.age_years', MESSAGES.age_mismatch);
    }
  }
  const principals = record.diagnoses.filter((d) => (d.kind ?? 'secundario') === 'principal').length;
  if (principals === 0) add('diagnoses', MESSAGES.principal_missing);
  if (principals > 1) add('diagnoses', MESSAGES.principal_repeated);
  const inside = (d) => admitted <= d && d <= discharged;
  if (discharged < admitted) return errors; // every date would be "outside the stay": say the cause only
  (record.procedures ?? []).forEach((p, i) => { if (!inside(p.performed_on.trim())) add(`procedures.${i}.performed_on`, MESSAGES.outside_stay); });
  (record.labs ?? []).forEach((l, i) => { if (!inside(l.taken_on.trim())) add(`labs.${i}.taken_on`, MESSAGES.outside_stay); });
  (record.vital_signs ?? []).forEach((v, i) => { if (!inside(dateOf(v.taken_at))) add(`vital_signs.${i}.taken_at`, MESSAGES.outside_stay); });
  (record.follow_ups ?? []).forEach((f, i) => {
    if (!isBlank(f.date) && f.date.trim() < discharged) add(`follow_ups.${i}.date`, MESSAGES.follow_up_before_discharge);
  });
  if (isBlank(record.patient.weight_kg)) {
    for (const group of ['inpatient_medications', 'discharge_medications']) {
      (record[group] ?? []).forEach((m, i) => { if (isPerKg(m?.unit)) add(`${group}.${i}.unit`, MESSAGES.weight_missing); });
    }
  }
  if (record.discharge.condition === 'fallecido'
      && ((record.discharge_medications ?? []).length || (record.follow_ups ?? []).length)) {
    add('discharge.condition', MESSAGES.deceased_with_plan);
  }
  return errors;
}
