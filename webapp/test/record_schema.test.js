// The form's rules (src/schema.js SECTIONS) against the record's JSON Schema, field by field.
// The schema is HospitalStay.model_json_schema(), published by `python -m clinical.contract write-golden`
// as models/contract/record.schema.json; a field renamed, an option added or a limit changed on one
// side only fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { SECTIONS } from '../src/schema.js';

const schema = JSON.parse(readFileSync(new URL('../../models/contract/record.schema.json', import.meta.url), 'utf-8'));

const deref = (node) => (node && node.$ref ? schema.$defs[node.$ref.split('/').pop()] : node);
/** The non-null branch of an optional field (the first one with constraints, for number-or-string). */
const concrete = (node) => {
  const n = deref(node);
  if (!n.anyOf) return n;
  const branches = n.anyOf.map(deref).filter((b) => b.type !== 'null');
  return branches.find((b) => b.enum || b.maxLength !== undefined || b.minimum !== undefined
    || b.maximum !== undefined || b.exclusiveMinimum !== undefined) || branches[0];
};

/** The schema object at a dotted form path ("patient.identifiers" -> Identifier), and the array around it. */
function at(path) {
  let node = schema;
  let array = null;
  for (const key of path.split('.')) {
    const prop = deref(node).properties[key];
    assert.ok(prop, `the form's section ${path} has no field ${key} in the record schema`);
    const c = concrete(prop);
    if (c.type === 'array') {
      array = c;
      node = deref(c.items);
    } else {
      array = null;
      node = c;
    }
  }
  return { node: deref(node), array };
}

function checkField(path, field, object) {
  const where = `${path}.${field.key}`;
  const prop = object.properties[field.key];
  assert.ok(prop, `${where}: the form has it, the record schema does not`);
  const c = concrete(prop);
  assert.equal(Boolean(field.required), (object.required || []).includes(field.key), `${where}: required`);
  if (field.options) {
    assert.deepEqual(field.options.map(([value]) => value).sort(), [...c.enum].sort(), `${where}: options`);
  }
  if (field.type === 'text' && field.max !== undefined) assert.equal(field.max, c.maxLength, `${where}: max length`);
  if (['int', 'decimal'].includes(field.type)) {
    if (field.min !== undefined) assert.equal(field.min, c.minimum, `${where}: minimum`);
    if (field.max !== undefined) assert.equal(field.max, c.maximum, `${where}: maximum`);
    if (field.gt !== undefined) assert.equal(field.gt, c.exclusiveMinimum, `${where}: greater than`);
  }
  if (field.default !== undefined && deref(prop).default !== undefined) {
    assert.equal(field.default, deref(prop).default, `${where}: default`);
  }
}

test('every form section is a field of the record, with the record\'s limits', () => {
  for (const section of SECTIONS) {
    const { node, array } = at(section.path);
    if (section.kind === 'rows' || section.kind === 'texts') {
      assert.ok(array, `${section.path}: the form shows a list, the record schema has no array`);
      if (section.max !== undefined) assert.equal(section.max, array.maxItems, `${section.path}: most items`);
      if (section.min !== undefined) assert.equal(section.min, array.minItems, `${section.path}: fewest items`);
    }
    if (section.kind === 'text' && section.max !== undefined) {
      assert.equal(section.max, node.maxLength, `${section.path}: max length`);
    }
    for (const field of section.fields || []) checkField(section.path, field, node);
  }
});

test('every field of the record is on the form', () => {
  const paths = new Set(SECTIONS.map((s) => s.path));
  const missing = [];
  const walk = (prefix, object) => {
    const section = SECTIONS.find((s) => s.path === prefix);
    const shown = new Set((section?.fields || []).map((f) => f.key));
    for (const key of Object.keys(object.properties)) {
      const path = prefix ? `${prefix}.${key}` : key;
      if (shown.has(key) || paths.has(path)) {
        const nested = concrete(object.properties[key]);
        if (paths.has(path) && nested.type !== 'array' && deref(nested).properties) walk(path, deref(nested));
        continue;
      }
      missing.push(path);
    }
  };
  walk('', schema);
  assert.deepEqual(missing, []);
});
