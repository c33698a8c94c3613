/**
 * The draft as the clinician reviews it against the record: the text with every fact span the
 * server's review found (findings strongly, facts traced to a record field lightly), the source of
 * a selected fact (the record field and its value), the findings grouped by kind, and what the
 * review does and does not guarantee, in Spanish.
 *
 * The pure functions here (no DOM) are tested by test/draft.test.js; highlighted() and
 * findingItems() build the nodes main.js shows.
 */
import { SECTIONS } from './schema.js';

/** One Spanish heading per fact kind (the API's `kind`); findings are grouped under them. */
export const KIND_LABELS = {
  identity: 'Identificación del paciente',
  date: 'Fechas',
  stay: 'Estadía',
  medication: 'Medicamentos',
  diagnosis: 'Diagnósticos',
  procedure: 'Procedimientos',
  allergy: 'Alergias',
  discharge: 'Condición y destino al alta',
  follow_up: 'Controles posteriores al alta',
  lab: 'Exámenes',
  vital_sign: 'Signos vitales',
  number: 'Otras cifras',
};
const OTHER_KIND = 'Otros hallazgos';

/** Record fields the review names that are not form fields (derived from the record). */
const DERIVED_LABELS = {
  length_of_stay_days: 'Días de estadía (del ingreso al alta)',
  'patient.age': 'Paciente › edad al ingreso',
  'patient.age_at_admission': 'Paciente › edad al ingreso',
};

/**
 * Python counts characters in code points, JavaScript strings in UTF-16 units: a span after an
 * emoji or another astral character would be off by one per such character without this.
 */
export function codePointToUtf16(text, index) {
  let units = 0;
  let points = 0;
  for (const ch of text) {
    if (points === index) return units;
    units += ch.length;
    points += 1;
  }
  return units;
}

/** "discharge_medications[0].dose" or "discharge_medications.0.dose" -> ["discharge_medications", 0, "dose"]. */
export function fieldSegments(field) {
  if (typeof field !== 'string' || field === '') return [];
  return field.replace(/\[(\d+)\]/g, '.$1').split('.').filter(Boolean)
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** "Dosis" -> "dosis", but "CIE-10", "PAS (mmHg)" and "SpO₂ (%)" keep their capitals. */
function lowerFirst(label) {
  const first = label.split(' ')[0];
  return /[A-ZÁÉÍÓÚÑ]/.test(first.slice(1)) || !/[a-záéíóúñ]/.test(first.slice(1)) ? label
    : label[0].toLowerCase() + label.slice(1);
}

/** The record path in Spanish, as the form names it: "Tratamiento al alta › 1 › dosis". */
export function fieldLabel(field) {
  if (DERIVED_LABELS[field]) return DERIVED_LABELS[field];
  const segments = fieldSegments(field);
  if (!segments.length) return '';
  const section = SECTIONS
    .filter((s) => s.path.split('.').every((part, i) => segments[i] === part))
    .sort((a, b) => b.path.length - a.path.length)[0];
  if (!section) return segments.map((s) => (typeof s === 'number' ? String(s + 1) : s)).join(' › ');
  const parts = [section.title];
  let rest = segments.slice(section.path.split('.').length);
  if ((section.kind === 'rows' || section.kind === 'texts') && typeof rest[0] === 'number') {
    parts.push(String(rest[0] + 1));
    rest = rest.slice(1);
  }
  for (const key of rest) {
    const known = section.fields?.find((f) => f.key === key);
    parts.push(known ? lowerFirst(known.label) : String(typeof key === 'number' ? key + 1 : key));
  }
  return parts.join(' › ');
}

const dayNumber = (isoDate) => Date.UTC(...isoDate.slice(0, 10).split('-').map((n, i) => Number(n) - (i === 1 ? 1 : 0)));

/** Values the review derives from the record (clinical.record.HospitalStay's properties). */
const DERIVED_VALUES = {
  length_of_stay_days: (r) => {
    const days = Math.round((dayNumber(r.discharge.discharged_on) - dayNumber(r.admission.admitted_at)) / 86_400_000);
    return `${days} día${days === 1 ? '' : 's'}`;
  },
  'patient.age': (r) => {
    const born = r.patient.birth_date;
    if (!born) return r.patient.age_years === undefined ? undefined : `${r.patient.age_years} años`;
    const [by, bm, bd] = born.split('-').map(Number);
    const [ay, am, ad] = r.admission.admitted_at.slice(0, 10).split('-').map(Number);
    return `${ay - by - ((am < bm || (am === bm && ad < bd)) ? 1 : 0)} años`;
  },
};
DERIVED_VALUES['patient.age_at_admission'] = DERIVED_VALUES['patient.age'];

/** The record's value at ``field`` (undefined when the record has none there). */
export function recordValue(record, field) {
  if (DERIVED_VALUES[field]) {
    try {
      return DERIVED_VALUES[field](record);
    } catch {
      return undefined; // a record without the dates it needs
    }
  }
  return fieldSegments(field).reduce((v, k) => (v == null ? undefined : v[k]), record);
}

const YES_NO = { true: 'sí', false: 'no' };

/** A record value as one line: a row's values joined ("J18.9 · Neumonía · principal"), a list by "; ". */
export function formatValue(value) {
  if (value === undefined || value === null || value === '') return '';
  if (typeof value === 'boolean') return YES_NO[value];
  if (Array.isArray(value)) return value.length ? value.map(formatValue).join('; ') : '(lista vacía)';
  if (typeof value === 'object') {
    return Object.values(value).filter((v) => v !== null && typeof v !== 'object').map(formatValue).join(' · ');
  }
  return String(value);
}

/**
 * The spans to mark in ``text``, in order and without overlaps: every finding with a span first
 * (a fact with the same span is linked to it), then every fact span that overlaps none of them.
 * Offsets are the server's code points; from/to are UTF-16 indexes into ``text``.
 */
export function spans(text, findings = [], facts = []) {
  const valid = (s) => Number.isInteger(s.start) && Number.isInteger(s.end) && s.end > s.start;
  const at = (s) => ({ from: codePointToUtf16(text, s.start), to: codePointToUtf16(text, s.end) });
  const taken = [];
  const overlaps = (a) => taken.some((b) => a.from < b.to && b.from < a.to);
  findings.forEach((f, i) => {
    if (!valid(f)) return;
    const span = { ...at(f), finding: i, kind: f.kind, fact: null, traced: false };
    if (!overlaps(span)) taken.push(span);
  });
  facts.forEach((f, j) => {
    if (!valid(f)) return;
    const span = { ...at(f), finding: null, kind: f.kind, fact: j, traced: Boolean(f.traced) };
    const same = taken.find((t) => t.finding !== null && t.fact === null && t.from === span.from && t.to === span.to);
    if (same) same.fact = j;
    else if (!overlaps(span)) taken.push(span);
  });
  return taken.sort((a, b) => a.from - b.from);
}

/** The share (0..1) of fact spans traced to a record field: the server's, else counted; null when no facts. */
export function attributedShare(checks) {
  if (typeof checks?.attributed_share === 'number') return checks.attributed_share;
  const facts = checks?.facts ?? [];
  return facts.length ? facts.filter((f) => f.traced).length / facts.length : null;
}

/** "93 % de los datos del texto tienen fuente en el registro (40 de 43)." or '' when nothing was counted. */
export function attributionText(checks) {
  const share = attributedShare(checks);
  if (share === null) return '';
  const facts = checks?.facts ?? [];
  const counted = facts.length ? ` (${facts.filter((f) => f.traced).length} de ${facts.length})` : '';
  const percent = share >= 1 ? 100 : Math.floor(share * 100); // never rounds 99.6 % up to "all"
  return `${percent} % de los datos del texto tienen fuente en el registro${counted}.`;
}

const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

/**
 * The checks panel's one-line summary: {state, text}. state is "pending" (the server has not
 * reviewed this text yet), "findings" or "ok". Only "ok" says the text matches the record, and it
 * says what that covers and what it does not.
 */
export function checksSummary(checks, { pending = false } = {}) {
  if (pending || !checks || checks.reviewed === false) {
    return {
      state: 'pending',
      text: 'Sin revisar: este texto todavía no se ha comparado con el registro. El servidor lo revisa al '
        + 'guardarlo; hasta entonces no se puede firmar ni imprimir.',
    };
  }
  const n = (checks.findings ?? []).length;
  if (checks.ok && n === 0) {
    return {
      state: 'ok',
      text: 'Sin hallazgos: cada dato que la revisión reconoce en el texto (identificación, fechas, diagnósticos y '
        + 'códigos, medicamentos con dosis, vía, frecuencia y duración, alergias, exámenes, signos vitales, alta y '
        + 'controles) coincide con el registro, y están todos los que el registro exige; en esos datos, el texto '
        + 'recoge el registro. La revisión no juzga la redacción ni el razonamiento clínico: lea el texto completo '
        + 'antes de firmar.',
    };
  }
  return {
    state: 'findings',
    text: `${plural(n, 'hallazgo', 'hallazgos')}: el texto contradice el registro o le falta algo que el registro exige. `
      + 'Corrija el texto o, si está bien, marque que revisó los hallazgos antes de firmar.',
  };
}

/** Findings grouped by kind, in KIND_LABELS' order: [{kind, label, items: [{index, finding}]}]. */
export function findingGroups(findings = []) {
  const order = Object.keys(KIND_LABELS);
  const groups = new Map();
  findings.forEach((finding, index) => {
    const kind = KIND_LABELS[finding.kind] ? finding.kind : 'other';
    if (!groups.has(kind)) groups.set(kind, { kind, label: KIND_LABELS[kind] ?? OTHER_KIND, items: [] });
    groups.get(kind).items.push({ index, finding });
  });
  const rank = (k) => (order.includes(k) ? order.indexOf(k) : order.length);
  return [...groups.values()].sort((a, b) => rank(a.kind) - rank(b.kind));
}

/** What a selected span rests on: {message, field, label, value, traced} from the document's record. */
export function sourceOf(doc, { finding = null, fact = null } = {}) {
  const f = finding === null ? null : doc.checks.findings[finding];
  const t = fact === null ? null : (doc.checks.facts ?? [])[fact];
  const field = t?.field ?? f?.field ?? null;
  const value = field ? recordValue(doc.record, field) : undefined;
  return {
    message: f?.message ?? null,
    kind: (t ?? f)?.kind ?? null,
    field,
    label: field ? fieldLabel(field) : '',
    value: formatValue(value),
    traced: Boolean(t?.traced) && !f,
  };
}

/**
 * Why this document may not be printed, in Spanish, or null. A draft the server has not reviewed
 * is not printed as if it were, and a text whose identity disagrees with the record is never
 * printed under the record's header.
 */
export function printBlock(doc, { pending = false } = {}) {
  if (pending || !doc || doc.checks?.reviewed === false) {
    return 'No se puede imprimir: el borrador aún no se ha revisado frente al registro.';
  }
  if ((doc.checks?.findings ?? []).some((f) => f.kind === 'identity')) {
    return 'No se puede imprimir: los datos de identificación del texto no coinciden con los del registro, y el '
      + 'encabezado y el cuerpo nombrarían a personas distintas. Corrija la identificación con «Editar».';
  }
  return null;
}

/** The print-only banner for a document printBlock() refuses (the browser's own print still works), or null. */
export function printBanner(doc, { pending = false } = {}) {
  if (!printBlock(doc, { pending })) return null;
  if (pending || !doc || doc.checks?.reviewed === false) {
    return 'BORRADOR SIN REVISAR: este texto no se ha comparado con el registro. No lo use como epicrisis.';
  }
  return 'DOCUMENTO NO VÁLIDO: la identificación escrita en el texto no coincide con la del registro que figura en '
    + 'el encabezado. No lo use como epicrisis.';
}

/** ``text`` as nodes, each span of spans() wrapped in a focusable <mark>. */
export function highlighted(text, checks = {}) {
  const findings = checks.findings ?? [];
  const nodes = [];
  let at = 0;
  for (const span of spans(text, findings, checks.facts ?? [])) {
    nodes.push(document.createTextNode(text.slice(at, span.from)));
    const mark = document.createElement('mark');
    mark.tabIndex = 0;
    mark.dataset.kind = span.kind ?? '';
    if (span.finding !== null) {
      mark.className = 'finding';
      mark.dataset.finding = String(span.finding);
      mark.title = findings[span.finding].message ?? KIND_LABELS[span.kind] ?? OTHER_KIND;
    } else {
      mark.className = `fact ${span.traced ? 'traced' : 'untraced'}`;
      mark.title = span.traced ? 'Dato con fuente en el registro: selecciónelo para verla' : 'Dato sin fuente en el registro';
    }
    if (span.fact !== null) mark.dataset.fact = String(span.fact);
    mark.textContent = text.slice(span.from, span.to);
    nodes.push(mark);
    at = span.to;
  }
  nodes.push(document.createTextNode(text.slice(at)));
  return nodes;
}

/** The findings as one <li> per kind group, each with its findings; onSelect(index) for those with a span. */
export function findingItems(findings, onSelect) {
  return findingGroups(findings).map((group) => {
    const li = document.createElement('li');
    li.className = 'finding-group';
    li.dataset.kind = group.kind;
    const heading = document.createElement('strong');
    heading.textContent = `${group.label} (${group.items.length})`;
    const list = document.createElement('ul');
    for (const { index, finding: f } of group.items) {
      const item = document.createElement('li');
      item.className = `finding-item${Number.isInteger(f.start) ? '' : ' missing'}`;
      Object.assign(item.dataset, { kind: f.kind ?? '', code: f.code ?? '', finding: String(index) });
      const message = document.createElement('span');
      message.className = 'message';
      message.textContent = f.message ?? 'Dato que no coincide con el registro.';
      item.append(message);
      if (f.text) {
        const quoted = document.createElement('q');
        quoted.textContent = f.text;
        item.append(' ', quoted);
      }
      if (f.field) {
        const where = document.createElement('small');
        where.className = 'field';
        where.textContent = `Registro: ${fieldLabel(f.field)}`;
        item.append(where);
      }
      if (Number.isInteger(f.start)) {
        item.tabIndex = 0;
        item.addEventListener('click', () => onSelect(index));
        item.addEventListener('keydown', (e) => { if (e.key === 'Enter') onSelect(index); });
      }
      list.append(item);
    }
    li.append(heading, list);
    return li;
  });
}

/** A server timestamp as a Date. Timestamps carry their UTC offset ("…Z"); one without is read as UTC. */
export function utcDate(value) {
  return new Date(/(Z|[+-]\d\d:?\d\d)$/.test(value) ? value : `${value}Z`);
}
