/**
 * The stay form: renders schema.js's SECTIONS, reads the record back, and shows errors next to
 * their field. Every input carries its record path (data-path="diagnoses.0.code"), which is how
 * client-side and server-side (422 `loc`) errors find their place.
 */
import { SECTIONS } from './schema.js';

const h = (tag, attrs = {}, ...children) => {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  el.append(...children.filter(Boolean));
  return el;
};

let uid = 0;

function input(field, path, value) {
  const id = `f${++uid}`;
  let control;
  if (field.type === 'select') {
    control = h('select', { id, 'data-path': path, 'data-type': 'select' },
      ...(field.default === undefined ? [h('option', { value: '', text: '—' })] : []),
      ...field.options.map(([v, label]) => h('option', { value: v, text: label })));
    control.value = value ?? field.default ?? '';
  } else if (field.type === 'longtext') {
    control = h('textarea', { id, rows: 3, 'data-path': path, 'data-type': 'text' });
    control.value = value ?? '';
  } else if (field.type === 'checkbox') {
    control = h('input', { id, type: 'checkbox', 'data-path': path, 'data-type': 'checkbox' });
    control.checked = Boolean(value ?? field.default);
  } else {
    const types = { date: 'date', datetime: 'datetime-local', int: 'text', decimal: 'text', dose: 'text' };
    control = h('input', {
      id, type: types[field.type] ?? 'text', 'data-path': path, 'data-type': field.type,
      inputmode: field.type === 'int' ? 'numeric' : field.type === 'decimal' ? 'decimal' : undefined,
      step: field.type === 'datetime' ? '1' : undefined, autocomplete: 'off',
      placeholder: field.type === 'dose' ? 'ej. 500 o 875/125' : undefined,
    });
    control.value = value === undefined || value === null ? ''
      : field.type === 'datetime' ? String(value).slice(0, 19) : String(value);
  }
  return h('div', { class: `field field-${field.type}${field.required ? ' required' : ''}` },
    h('label', { for: id, text: field.label }), control,
    h('small', { class: 'error', 'data-error-for': path, role: 'alert' }));
}

function rowsSection(section, items, form) {
  const list = h('div', { class: 'rows', 'data-list': section.path });
  const rerender = (next) => form.replaceSection(section, next);
  items.forEach((item, i) => {
    const path = `${section.path}.${i}`;
    const fields = section.kind === 'texts'
      ? [input({ type: 'text', label: `${i + 1}.` }, path, item)]
      : section.fields.map((f) => input(f, `${path}.${f.key}`, item?.[f.key]));
    list.append(h('div', { class: 'row', 'data-row': path }, ...fields,
      h('button', { type: 'button', class: 'remove', title: 'Quitar', 'aria-label': `Quitar fila ${i + 1}`,
        onclick: () => rerender(form.readSection(section).filter((_, j) => j !== i)), text: '✕' }),
      h('small', { class: 'error', 'data-error-for': path, role: 'alert' })));
  });
  const add = h('button', { type: 'button', class: 'add', 'data-add': section.path, text: `+ ${section.add}`,
    onclick: () => rerender([...form.readSection(section), section.kind === 'texts' ? '' : {}]) });
  return [list, add];
}

/** The form bound to ``root``: render(record), read() -> record, showErrors([{path, message}]). */
export class StayForm {
  constructor(root) {
    this.root = root;
    this.sections = new Map();
  }

  render(record = {}) {
    this.root.replaceChildren();
    for (const section of SECTIONS) {
      const box = h('fieldset', { class: `section section-${section.kind}`, 'data-section': section.path });
      this.root.append(box);
      this.sections.set(section.path, box);
      this.fill(section, valueAt(record, section.path));
    }
  }

  fill(section, value) {
    const box = this.sections.get(section.path);
    const body = [h('legend', { text: section.title }),
      h('small', { class: 'error', 'data-error-for': section.path, role: 'alert' })];
    if (section.kind === 'object') {
      body.push(h('div', { class: 'grid' }, ...section.fields.map((f) => input(f, `${section.path}.${f.key}`, value?.[f.key]))));
    } else if (section.kind === 'text') {
      body.push(input({ type: 'longtext', label: section.title }, section.path, value));
    } else {
      if (section.optional) {
        // allergies: absent = not recorded; [] = no known allergies; rows = the list.
        const state = value === undefined || value === null ? 'unknown' : value.length ? 'list' : 'none';
        const select = h('select', { 'data-list-state': section.path, 'aria-label': section.title,
          onchange: () => this.replaceSection(section, select.value === 'unknown' ? undefined : select.value === 'none' ? [] : [{}]) },
        h('option', { value: 'unknown', text: 'No registradas' }),
        h('option', { value: 'none', text: 'Sin alergias conocidas' }),
        h('option', { value: 'list', text: 'Con alergias' }));
        select.value = state;
        body.push(select);
        if (state === 'list') body.push(...rowsSection(section, value, this));
      } else {
        body.push(...rowsSection(section, value ?? [], this));
      }
    }
    box.replaceChildren(...body);
  }

  replaceSection(section, value) {
    this.fill(section, value);
  }

  readSection(section) {
    const box = this.sections.get(section.path);
    if (section.optional) {
      const state = box.querySelector('[data-list-state]').value;
      if (state === 'unknown') return undefined;
      if (state === 'none') return [];
    }
    const rows = [...box.querySelectorAll('[data-row]')];
    if (section.kind === 'texts') return rows.map((row) => readControl(row.querySelector('[data-path]')) ?? '');
    return rows.map((row) => {
      const item = {};
      for (const control of row.querySelectorAll('[data-path]')) {
        const value = readControl(control);
        if (value !== undefined) item[control.dataset.path.split('.').at(-1)] = value;
      }
      return item;
    });
  }

  /** The record the form holds: blank fields left out, numbers as numbers, nothing the schema lacks. */
  read() {
    const record = {};
    for (const section of SECTIONS) {
      let value;
      if (section.kind === 'object') {
        value = {};
        for (const control of this.sections.get(section.path).querySelectorAll('[data-path]')) {
          const v = readControl(control);
          if (v !== undefined) value[control.dataset.path.split('.').at(-1)] = v;
        }
      } else if (section.kind === 'text') {
        value = readControl(this.sections.get(section.path).querySelector('[data-path]'));
      } else {
        value = this.readSection(section);
      }
      if (value !== undefined) setAt(record, section.path, value);
    }
    return record;
  }

  /** Clears every message, then puts each one next to its field (or the nearest section that has a slot). */
  showErrors(errors) {
    for (const el of document.querySelectorAll('[data-error-for]')) el.textContent = '';
    for (const el of this.root.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    for (const { path, message } of errors) {
      let p = path;
      let slot = null;
      while (slot === null) {
        slot = document.querySelector(`[data-error-for="${CSS.escape(p)}"]`);
        if (slot || p === '') break;
        p = p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : '';
      }
      slot ??= document.querySelector('[data-error-for=""]');
      slot.textContent = slot.textContent ? `${slot.textContent} ${message}` : message;
      this.root.querySelector(`[data-path="${CSS.escape(path)}"]`)?.setAttribute('aria-invalid', 'true');
    }
    const first = this.root.querySelector('[aria-invalid]');
    first?.scrollIntoView?.({ block: 'center' });
  }
}

function readControl(control) {
  if (!control) return undefined;
  const type = control.dataset.type;
  if (type === 'checkbox') return control.checked;
  const raw = control.value;
  if (raw.trim() === '') return undefined;
  if (type === 'dose' && raw.includes('/')) return raw.trim(); // a combination product: "875/125"
  if (type === 'int' || type === 'decimal' || type === 'dose') {
    const n = Number(raw.trim().replace(',', '.'));
    return Number.isFinite(n) ? n : raw;
  }
  if (type === 'datetime') return raw.length === 16 ? `${raw}:00` : raw;
  return raw;
}

function valueAt(record, path) {
  return path.split('.').reduce((v, k) => (v == null ? undefined : v[k]), record);
}

function setAt(record, path, value) {
  const keys = path.split('.');
  let target = record;
  for (const key of keys.slice(0, -1)) target = target[key] ??= {};
  target[keys.at(-1)] = value;
}
