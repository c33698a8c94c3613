/**
 * The draft as the clinician reviews it: the text with the output checks' findings highlighted at
 * their character spans, and the list of findings beside it.
 */
export const FINDING_LABELS = {
  missing_diagnosis: 'Diagnóstico ausente en el texto',
  missing_procedure: 'Procedimiento ausente en el texto',
  missing_discharge_medication: 'Medicamento al alta ausente en el texto',
  unknown_drug: 'Fármaco que no está en el registro',
  unknown_dose: 'Dosis que no está en el registro',
  unknown_date: 'Fecha que no está en el registro',
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

/** ``text`` as nodes, each finding with a span wrapped in <mark data-finding=i>. */
export function highlighted(text, findings) {
  const spans = findings
    .map((f, i) => ({ ...f, i }))
    .filter((f) => Number.isInteger(f.start) && Number.isInteger(f.end) && f.end > f.start)
    .map((f) => ({ ...f, from: codePointToUtf16(text, f.start), to: codePointToUtf16(text, f.end) }))
    .sort((a, b) => a.from - b.from);
  const nodes = [];
  let at = 0;
  for (const span of spans) {
    if (span.from < at) continue; // overlapping spans: the first one is shown
    nodes.push(document.createTextNode(text.slice(at, span.from)));
    const mark = document.createElement('mark');
    mark.className = `finding ${span.kind}`;
    mark.dataset.finding = String(span.i);
    mark.title = FINDING_LABELS[span.kind] ?? span.kind;
    mark.textContent = text.slice(span.from, span.to);
    nodes.push(mark);
    at = span.to;
  }
  nodes.push(document.createTextNode(text.slice(at)));
  return nodes;
}

/** One <li> per finding, in the server's order (missing items first, then unknown ones). */
export function findingItems(findings, onSelect) {
  return findings.map((f, i) => {
    const li = document.createElement('li');
    li.className = `finding-item ${f.kind}`;
    li.dataset.kind = f.kind;
    const label = document.createElement('strong');
    label.textContent = FINDING_LABELS[f.kind] ?? f.kind;
    li.append(label, document.createTextNode(`: ${f.text}`));
    if (Number.isInteger(f.start)) {
      li.tabIndex = 0;
      li.addEventListener('click', () => onSelect(i));
    }
    return li;
  });
}
