/**
 * The prompt contract in JavaScript: the exact prompt text clinical/contract.py builds, byte for byte.
 *
 * A fine-tuned model only behaves when it sees at run time what it saw in training, so the browser
 * rebuilds the prompt from models/contract/contract.json (schema key order, defaults, system prompts)
 * instead of from its own idea of the record. Like the Python side, it also normalises what the
 * record schema normalises (whitespace, CIE-10 codes written without the dot, datetimes without
 * seconds, numbers sent as strings), so a record typed in the form gives the same prompt as the same
 * record validated by the server. test/contract.test.js checks every golden vector under models/contract.
 */

/** Value kinds the schema converts (everything else is a string, a boolean or a nested object). */
export const FIELD_KINDS = {
  'patient.birth_date': 'date',
  'patient.age_years': 'number',
  'patient.weight_kg': 'number',
  'admission.admitted_at': 'datetime',
  'discharge.discharged_on': 'date',
  'diagnoses[].code': 'cie10',
  'procedures[].performed_on': 'date',
  'inpatient_medications[].dose': 'dose',
  'discharge_medications[].dose': 'dose',
  'labs[].taken_on': 'date',
  'labs[].abnormal': 'boolean',
  'vital_signs[].taken_at': 'datetime',
  'vital_signs[].systolic_mmhg': 'number',
  'vital_signs[].diastolic_mmhg': 'number',
  'vital_signs[].heart_rate_bpm': 'number',
  'vital_signs[].respiratory_rate_rpm': 'number',
  'vital_signs[].temperature_c': 'number',
  'vital_signs[].spo2_percent': 'number',
  'follow_ups[].date': 'date',
};

/** A record key the schema does not know: the server rejects it, so the browser does too. */
export class UnknownFieldError extends Error {
  constructor(path) {
    super(`campo desconocido: ${path}`);
    this.path = path;
  }
}

/** "J189" -> "J18.9", as clinical.record.Diagnosis does (validation of the pattern is schema.js's job). */
export function normaliseCie10(value) {
  if (typeof value !== 'string') return value;
  let code = value.trim().toUpperCase();
  if (!code.includes('.') && code.length > 3) code = `${code.slice(0, 3)}.${code.slice(3)}`;
  return code;
}

/** "2026-01-10T14:35" or "2026-01-10 14:35:00Z" -> "2026-01-10T14:35:00" (wall-clock time, zone dropped). */
export function normaliseDatetime(value) {
  if (typeof value !== 'string') return value;
  const m = value.trim().match(/^(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?$/);
  return m ? `${m[1]}T${m[2]}:${m[3]}:${m[4] ?? '00'}` : value.trim();
}

/** "0875,50" -> "875.5": a decimal amount as Python's format(Decimal(x).normalize(), "f") writes it. */
function normaliseAmount(text) {
  const [whole, fraction = ''] = text.replace(',', '.').split('.');
  const digits = whole.replace(/^0+(?=\d)/, '');
  const decimals = fraction.replace(/0+$/, '');
  return decimals ? `${digits}.${decimals}` : digits;
}

/**
 * A combination product's dose as clinical.record writes it: "875 / 125,0" -> "875/125". A string
 * that is not a combination is left trimmed (the schema refuses it; schema.js says why).
 */
export function normaliseCombinationDose(value) {
  const text = value.trim();
  if (!/^\d+(?:[.,]\d+)?(?:\s*\/\s*\d+(?:[.,]\d+)?)+$/.test(text)) return text;
  return text.match(/\d+(?:[.,]\d+)?/g).map(normaliseAmount).join('/');
}

function normaliseScalar(value, kind) {
  if (typeof value === 'string') {
    if (kind === 'dose') {
      if (value.includes('/')) return normaliseCombinationDose(value);
      return normaliseScalar(value, 'number');
    }
    if (kind === 'cie10') return normaliseCie10(value);
    if (kind === 'datetime') return normaliseDatetime(value);
    if (kind === 'number' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
    return value.trim();
  }
  return value;
}

/**
 * The record as the contract serialises it: schema key order, defaults filled, nulls dropped,
 * strings trimmed. Throws UnknownFieldError for a key the schema lacks.
 */
export function canonicalRecord(value, spec, path = '') {
  if (Array.isArray(value)) return value.map((item) => canonicalRecord(item, spec, `${path}[]`));
  if (value !== null && typeof value === 'object') {
    const keys = spec.field_order[path];
    if (!keys) throw new UnknownFieldError(path);
    for (const key of Object.keys(value)) {
      if (!keys.includes(key)) throw new UnknownFieldError(path ? `${path}.${key}` : key);
    }
    const filled = { ...(spec.field_defaults[path] ?? {}), ...value };
    const out = {};
    for (const key of keys) {
      const child = path ? `${path}.${key}` : key;
      if (filled[key] === null || filled[key] === undefined) continue;
      out[key] = canonicalRecord(filled[key], spec, child);
    }
    return out;
  }
  return normaliseScalar(value, FIELD_KINDS[path]);
}

/** The one serialisation every prompt is built from (compact separators, UTF-8, no ASCII escaping). */
export function canonicalJson(record, spec) {
  return JSON.stringify(canonicalRecord(record, spec));
}

/** Chat messages for writing the epicrisis of ``record`` (clinical.contract.epicrisis_messages). */
export function epicrisisMessages(record, spec) {
  return [
    { role: 'system', content: spec.system_prompts.epicrisis },
    { role: 'user', content: spec.epicrisis_user_prefix + canonicalJson(record, spec) },
  ];
}

/** Qwen2.5's ChatML, with the assistant turn opened (clinical.contract.render_chatml). */
export function renderChatml(messages, addGenerationPrompt = true) {
  const text = messages.map((m) => `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`).join('');
  return text + (addGenerationPrompt ? '<|im_start|>assistant\n' : '');
}

/** The full prompt text the model sees for ``record``. */
export function epicrisisPrompt(record, spec) {
  if (spec.chat_template !== 'chatml') throw new Error(`contract chat_template ${spec.chat_template} is not chatml`);
  return renderChatml(epicrisisMessages(record, spec));
}
