/**
 * Alta's clinician page: enter a stay, write the epicrisis here or on the server, see the server's
 * review of it against the record (findings, and the record field behind every fact), edit, save,
 * sign and print; and, in its second view (#traduccion, translate.js),
 * translate a Spanish document into English. See README.md (webapp/) for the flow.
 */
import './style.css';
import contract from '../../models/contract/contract.json';
import { ApiError, Unreachable, call, refreshSession, session, signIn, signOut, streamEpicrisis } from './api.js';
import { UnknownFieldError, canonicalRecord, epicrisisPrompt } from './contract.js';
import {
  attributionText, checksSummary, findingItems, highlighted, printBanner, printBlock, sourceOf, utcDate,
} from './draft.js';
import { MIN_TOKENS_PER_S, slowMessage, storageRefusal, tooSlow } from './device_policy.js';
import { BrowserEngine, chooseDevice } from './engine.js';
import { StayForm } from './form.js';
import { newId, outbox, syncOutbox } from './outbox.js';
import { serverErrors, validateRecord } from './schema.js';
import { setupTranslation } from './translate.js';
import { setupViews, showInEpicrisis } from './views.js';

const EXAMPLES = Object.fromEntries(
  Object.entries(import.meta.glob('../../clinical/examples/*.json', { eager: true, import: 'default' }))
    .map(([path, record]) => [path.split('/').at(-1).replace(/\.json$/, ''), record]),
);
const ENGINE_STORAGE = 'alta.engine';
const HOSPITAL_STORAGE = 'alta.hospital';
const $ = (id) => document.getElementById(id);

/** What tests and the benchmark read: the last in-browser run (ids, timings) and the loaded model. */
const alta = { lastRun: null, model: null, bundles: null, engine: null, serverChunks: 0 };
window.alta = alta;

const form = new StayForm($('record-form'));
const engine = new BrowserEngine();
alta.engine = engine;
let bundles = { default: null, models: [] };
let doc = null; // the document on screen, as the server returned it
let running = null; // {stop()} while a draft is being written
let awaitedDraft = null; // id of the draft this page wrote and shows until the server has stored it
let pendingDraft = null; // that draft while it is on screen unreviewed (offline, or not yet sent)
let revealed = false; // the draft being written has been scrolled to with its first text

const today = () => {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
};

function status(text, kind = '') {
  const el = $('status');
  el.textContent = text;
  el.className = kind;
}

function engineChoice() {
  return document.querySelector('input[name="engine"]:checked').value;
}

function currentBundle() {
  return bundles.models.find((m) => m.name === bundles.default) ?? bundles.models[0] ?? null;
}

// --- the stay ------------------------------------------------------------------------------

function setupExamples() {
  const select = $('example');
  for (const name of Object.keys(EXAMPLES)) select.append(new Option(name.replaceAll('_', ' '), name));
  $('load-example').addEventListener('click', () => {
    form.render(structuredClone(EXAMPLES[select.value]));
    form.showErrors([]);
  });
  $('toggle-json').addEventListener('click', () => {
    $('json-box').hidden = !$('json-box').hidden;
    if (!$('json-box').hidden) $('json-input').value = JSON.stringify(form.read(), null, 2);
  });
  $('json-apply').addEventListener('click', applyJson);
  $('clear-form').addEventListener('click', () => { form.render({}); form.showErrors([]); });
}

function applyJson() {
  let record;
  $('json-error').textContent = '';
  try {
    record = JSON.parse($('json-input').value);
    if (record && typeof record === 'object' && 'record' in record && Object.keys(record).length <= 2) record = record.record;
    canonicalRecord(record, contract); // refuses keys the schema lacks, as the server does
  } catch (err) {
    $('json-error').textContent = err instanceof UnknownFieldError
      ? `Campo desconocido «${err.path}»: el servidor lo rechazaría. Corrija el nombre o quítelo.`
      : `JSON no válido: ${err.message}`;
    return;
  }
  form.render(record);
  form.showErrors(validateRecord(record, today()));
  $('json-box').hidden = true;
}

/** The form's record when it passes the client-side checks; else null, with the errors shown. */
function checkedRecord() {
  const record = form.read();
  const errors = validateRecord(record, today());
  form.showErrors(errors);
  if (errors.length) {
    status(`Corrija ${errors.length === 1 ? 'el campo marcado' : `los ${errors.length} campos marcados`} antes de redactar.`, 'error');
    return null;
  }
  return record;
}

// --- writing the draft ---------------------------------------------------------------------

function startDraftView(title, { demo = false } = {}) {
  doc = null;
  pendingDraft = null;
  $('draft').hidden = false;
  $('draft-title').textContent = title;
  $('draft-view').replaceChildren();
  $('draft-meta').textContent = '';
  $('draft-notice').hidden = true;
  $('draft-notice').textContent = '';
  $('draft-notice').title = '';
  $('review-badge').hidden = true;
  $('demo-mark').hidden = !demo;
  $('checks-list').replaceChildren();
  $('checks-summary').textContent = 'La revisión frente al registro se hace cuando el borrador termina.';
  delete $('checks-summary').dataset.state;
  $('checks-attribution').textContent = '';
  $('fact-source').hidden = true;
  $('versions').replaceChildren();
  $('draft-error').textContent = '';
  setDraftActions({ editable: false, signable: false });
  $('ack').parentElement.hidden = true;
  setPrint('No se puede imprimir: el borrador aún no está terminado ni revisado.');
  delete document.body.dataset.review;
  revealed = false;
  revealDraft();
}

/**
 * The clinician follows the text as it is written, wherever the form left the page scrolled: the
 * draft is scrolled to when it starts and once more when its first text arrives (an empty draft at
 * the bottom of the page cannot be scrolled to the top of the window).
 */
function revealDraft(withText = false) {
  if (revealed) return;
  $('draft').scrollIntoView({ block: 'start' });
  revealed = withText;
}

/** Whether a demo model (not a clinical one) wrote a draft: the server says so, or the catalog does. */
function isDemo(provenance) {
  if (!provenance) return false;
  if (provenance.demo) return true;
  return bundles.models.some((m) => m.demo && m.name === provenance.model);
}

function appendText(text) {
  $('draft-view').append(document.createTextNode(text));
  revealDraft(true);
}

function setRunning(stop) {
  running = stop ? { stop } : null;
  $('generate-btn').disabled = Boolean(stop);
  $('stop-btn').disabled = !stop;
}

async function generate() {
  const record = checkedRecord();
  if (!record) return;
  if (engineChoice() === 'server') await generateOnServer(record);
  else await generateInBrowser(record);
}

async function generateOnServer(record) {
  if (!session.signedIn()) {
    status('Inicie sesión para redactar en el servidor.', 'error');
    $('signin-username').focus();
    return;
  }
  if (!session.may('generate')) {
    status('Su rol no permite redactar epicrisis: lo hace un médico.', 'error');
    return;
  }
  const controller = new AbortController();
  setRunning(() => controller.abort());
  startDraftView('Borrador (servidor)');
  status('Redactando en el servidor…');
  alta.streamEvents = []; // event names only (tests read them); the texts are patient data
  try {
    await streamEpicrisis(record, (event, data) => {
      alta.streamEvents.push(event);
      if (event === 'start') {
        $('draft-meta').textContent = `${data.engine} · ${data.model}`;
        $('demo-mark').hidden = !isDemo(data);
      } else if (event === 'chunk') {
        alta.serverChunks += 1;
        appendText(data.text);
      } else if (event === 'review') {
        $('checks-summary').textContent = data.ok ? 'Revisión frente al registro: sin hallazgos. Guardando…'
          : `Revisión frente al registro: ${data.findings} hallazgo${data.findings === 1 ? '' : 's'}.`
            + `${data.replaced ? ' El borrador del modelo se descarta.' : ' Guardando…'}`;
      } else if (event === 'fallback') {
        // before any text: the chain passes to its next engine (the server's reason is for the log)
        $('draft-notice').textContent = `El motor «${data.engine}» no pudo redactar; lo hace el siguiente motor configurado.`;
        $('draft-notice').hidden = false;
      } else if (event === 'replaced') {
        showReplacement(data);
      } else if (event === 'done') {
        showDocument(data);
        status(alta.streamEvents.includes('replaced')
          ? 'Borrador de reemplazo guardado en el servidor: vea por qué arriba del texto.' : 'Borrador guardado en el servidor.', 'ok');
      } else if (event === 'error') {
        $('draft-error').textContent = `El motor falló a mitad del borrador; no se guardó nada. ${data.detail}`;
      }
    }, controller.signal);
  } catch (err) {
    if (err.name === 'AbortError') status('Redacción detenida: el borrador parcial no se guardó.', 'warn');
    else reportApiError(err);
  } finally {
    setRunning(null);
  }
}

/** The default chain threw the model's draft away (it failed the review): show the replacement and why. */
function showReplacement(data) {
  $('draft-view').replaceChildren(document.createTextNode(data.text));
  revealDraft(true);
  const by = data.by ?? {};
  const n = data.findings;
  $('draft-notice').textContent = `Se descartó el borrador del motor «${data.engine}»: no pasó la revisión frente al `
    + `registro (${n} hallazgo${n === 1 ? '' : 's'}), así que no se guardó. El texto que se muestra lo redactó el motor `
    + `«${by.engine ?? '?'}» (${by.model ?? '?'}) a partir del mismo registro, y también se revisó.`;
  $('draft-notice').title = data.reason ?? ''; // the server's own summary
  $('draft-notice').hidden = false;
  $('draft-meta').textContent = `${by.engine ?? ''} · ${by.model ?? ''}`;
  $('demo-mark').hidden = !isDemo(by);
}

function reportApiError(err) {
  if (err instanceof ApiError && err.status === 422) {
    form.showErrors(serverErrors(err.detail));
    status('El servidor rechazó el registro: corrija los campos marcados.', 'error');
  } else if (err instanceof ApiError && err.status === 401) {
    status('Su sesión terminó o no ha iniciado sesión: inicie sesión de nuevo.', 'error');
  } else if (err instanceof ApiError && err.status === 403) {
    status('Su rol no tiene permiso para esta acción.', 'error');
  } else if (err instanceof Unreachable) {
    status('Sin conexión con el servidor.', 'error');
  } else {
    status(`Error: ${err.message}`, 'error');
  }
}

/** This device cannot (or should not) draft with the bundle: the page says why and offers the server. */
class DeviceRefusal extends Error {}

/** Shows ``message`` with a button that switches to the server (and hides it once the server is chosen). */
function offerServer(message) {
  $('engine-refusal-text').textContent = message;
  $('engine-refusal').hidden = false;
  document.body.dataset.refusal = 'shown';
  status(message, 'error');
}

function useServer() {
  document.querySelector('input[name="engine"][value="server"]').checked = true;
  localStorage.setItem(ENGINE_STORAGE, 'server');
  $('engine-refusal').hidden = true;
  delete document.body.dataset.refusal;
  status('Se redactará en el servidor.', 'ok');
}

/** Whether the bundle file the choice needs is already in the service worker's model cache. */
async function isCached(bundle, choice) {
  try {
    return Boolean(await caches.match(new URL(`${bundle.url}${bundle.dtypes[choice.dtype].file}`, location.origin).href));
  } catch {
    return false;
  }
}

/** Refuses, before any download, a bundle this device cannot hold in memory or in storage. */
async function checkDevice(bundle, choice) {
  if (choice.refused) throw new DeviceRefusal(choice.message);
  if (!navigator.storage?.estimate) return;
  const refusal = storageRefusal(choice.bytes, await navigator.storage.estimate(), await isCached(bundle, choice));
  if (refusal) throw new DeviceRefusal(refusal);
}

function minTokensPerS() {
  // ?min_tok_s= moves the threshold (support: a clinic that accepts slower drafts; tests)
  const pinned = Number(new URLSearchParams(location.search).get('min_tok_s'));
  return Number.isFinite(pinned) && pinned > 0 ? pinned : MIN_TOKENS_PER_S;
}

async function loadBrowserModel() {
  const bundle = currentBundle();
  if (!bundle) throw new Error('el servidor no ofrece ningún modelo para el navegador');
  const choice = await chooseDevice(bundle, new URLSearchParams(location.search));
  alta.choice = choice;
  await checkDevice(bundle, choice);
  const total = bundle.dtypes[choice.dtype].bytes;
  const files = new Map();
  engine.onProgress = ({ file, loaded, total: fileTotal }) => {
    files.set(file, { loaded, total: fileTotal });
    const done = [...files.values()].reduce((s, f) => s + f.loaded, 0);
    $('progress').hidden = done >= total;
    $('progress-bar').value = Math.min(100, (100 * done) / Math.max(total, 1));
    $('progress-text').textContent = `Descargando el modelo: ${(done / 1e6).toFixed(1)} de ${(total / 1e6).toFixed(1)} MB`;
  };
  status(`Cargando el modelo ${bundle.name} (${choice.dtype}, ${choice.device === 'webgpu' ? 'WebGPU' : 'WASM'})…`);
  const info = await engine.load(bundle, choice);
  $('progress').hidden = true;
  alta.model = info;
  document.body.dataset.model = 'ready';
  $('model-info').textContent = `Modelo ${bundle.name} ${bundle.version} · ${info.dtype} · `
    + `${info.device === 'webgpu' ? 'WebGPU' : `WASM, ${info.threads} hilo${info.threads === 1 ? '' : 's'}`}`;
  status('Modelo listo en este equipo.', 'ok');
  return info;
}

/** The page's answer when the browser model cannot load: a refusal with the server offered, or the error. */
function loadFailed(err) {
  document.body.dataset.model = 'failed'; // for scripts driving the page (benchmarks/browser_bench.py)
  if (err instanceof DeviceRefusal) offerServer(err.message);
  else status(`No se pudo cargar el modelo: ${err.message}`, 'error');
}

/** The record's grammar from the server (the same one its engines are held to), or null offline:
 * then the draft is written unconstrained, and it is reviewed like any other when it is saved. */
async function recordGrammar(record) {
  // ?grammar=off: a diagnostic run of the bare model (what the review must catch), never the default.
  if (new URLSearchParams(location.search).get('grammar') === 'off') return null;
  try {
    const { body } = await call('POST', '/api/v1/epicrisis/grammar', { record });
    return body.grammar;
  } catch (err) {
    if (err instanceof Unreachable) {
      status('Sin conexión: el borrador se redacta sin la gramática del registro y se revisará al guardarlo.', 'warn');
      return null;
    }
    throw err;
  }
}

async function generateInBrowser(record) {
  setRunning(() => engine.abort());
  try {
    const info = await loadBrowserModel();
    startDraftView('Borrador (en este equipo)', { demo: Boolean(currentBundle()?.demo) });
    $('draft-meta').textContent = `transformers.js · ${info.model} · ${info.dtype}`;
    status('Redactando en este equipo…');
    const started = performance.now();
    const grammar = await recordGrammar(record);
    const threshold = minTokensPerS();
    let slow = null;
    const onSpeed = ({ tokens, decode_ms: decodeMs }) => {
      if (slow === null && (slow = tooSlow(tokens, decodeMs, threshold)) !== null) engine.abort();
    };
    const run = await engine.generate(epicrisisPrompt(record, contract),
      { onToken: appendText, onSpeed, maxNewTokens: bundles.max_new_tokens ?? 1536, grammar });
    alta.lastRun = { ...run, model: info.model, dtype: info.dtype, device: info.device, wall_ms: performance.now() - started,
      grammar: Boolean(grammar) };
    document.body.dataset.runs = String(Number(document.body.dataset.runs ?? 0) + 1);
    if (slow !== null) {
      alta.lastRun.too_slow_tok_s = slow;
      offerServer(`${slowMessage(slow, info.model, threshold)} El borrador parcial no se guardó.`);
      return;
    }
    if (run.aborted) {
      status('Redacción detenida: el borrador parcial no se guardó.', 'warn');
      return;
    }
    const draft = {
      id: newId(), record, text: run.text, created_at: new Date().toISOString(),
      provenance: { engine: 'transformers.js', model: info.model, model_version: info.version, dtype: info.dtype,
        device: info.device, latency_ms: Math.round(run.total_ms * 1000) / 1000 },
    };
    awaitedDraft = draft.id;
    await outbox.put(draft); // on disk before the first send: nothing lost if the tab closes now
    showPending(draft);
    status('Borrador escrito en este equipo; enviándolo al servidor para revisarlo frente al registro…');
    await sync();
  } catch (err) {
    if (err instanceof DeviceRefusal) offerServer(err.message);
    else status(`El motor del navegador falló: ${err.message}`, 'error');
  } finally {
    setRunning(null);
  }
}

/** A draft written here that the server has not reviewed yet: shown, marked "Sin revisar", not signable or printable. */
function showPending(draft) {
  doc = null;
  pendingDraft = draft;
  $('draft').hidden = false;
  $('draft-title').textContent = 'Borrador (en este equipo)';
  $('review-badge').hidden = false;
  $('demo-mark').hidden = !isDemo(draft.provenance);
  $('draft-view').replaceChildren(document.createTextNode(draft.text));
  const summary = checksSummary(null, { pending: true });
  $('checks-summary').textContent = summary.text;
  $('checks-summary').dataset.state = summary.state;
  $('checks-attribution').textContent = '';
  $('checks-list').replaceChildren();
  $('fact-source').hidden = true;
  setDraftActions({ editable: false, signable: false });
  $('ack').parentElement.hidden = true;
  setPrint(printBlock(null, { pending: true }));
  $('print-signature').textContent = 'Borrador sin revisar ni firmar';
  document.body.dataset.review = 'pending';
}

// --- offline outbox ------------------------------------------------------------------------

async function sync() {
  let waiting;
  try {
    waiting = await syncOutbox({
      onStored: (draft, stored) => {
        if (draft.id === awaitedDraft) {
          showDocument(stored);
          status('Borrador del equipo guardado y revisado en el servidor.', 'ok');
        } else {
          status('Un borrador que esperaba en este equipo quedó guardado y revisado en el servidor.', 'ok');
        }
      },
      onRejected: (draft, err) => {
        status(`El servidor rechazó un borrador guardado en el equipo: ${err.message}`, 'error');
        if (draft.id === awaitedDraft) {
          $('draft-error').textContent = 'El servidor rechazó este borrador: sigue sin revisar y no se puede firmar.';
        }
      },
    });
  } catch (err) {
    status(`No se pudo leer la bandeja local: ${err.message}`, 'error');
    return;
  }
  const box = $('outbox');
  box.hidden = waiting === 0;
  box.textContent = waiting
    ? `Sin revisar: ${waiting} borrador${waiting === 1 ? '' : 'es'} en este equipo esperando conexión`
      + `${session.may('generate') ? '' : ' y que inicie sesión un médico'}; se enviarán solos y el servidor los revisará frente al registro.`
    : '';
  box.dataset.waiting = String(waiting);
  if (waiting) {
    status('Sin conexión: el borrador queda guardado en este equipo, sin revisar, y se enviará al volver la conexión.', 'warn');
  }
}

// --- the stored document -------------------------------------------------------------------

function setDraftActions({ editable, signable }) {
  $('edit-btn').hidden = !editable;
  $('sign-btn').hidden = !signable;
  $('sign-box').hidden = !signable;
  $('save-btn').hidden = true;
  $('cancel-edit').hidden = true;
  $('draft-edit').hidden = true;
  $('draft-view').hidden = false;
}

/**
 * Enables printing, or disables it with the reason beside the button; ``banner`` goes on top of any
 * printout the browser's own print makes anyway.
 */
function setPrint(reason, banner = reason ? printBanner(null, { pending: true }) : null) {
  $('print-btn').disabled = Boolean(reason);
  $('print-note').hidden = !reason;
  $('print-note').textContent = reason ?? '';
  $('print-banner').hidden = !banner;
  $('print-banner').textContent = banner ?? '';
}

function showDocument(document_) {
  doc = document_;
  pendingDraft = null;
  if (awaitedDraft === doc.id) awaitedDraft = null;
  showInEpicrisis(`#/documento/${doc.id}`);
  $('draft').hidden = false;
  $('draft-error').textContent = ''; // every success clears the last failure
  $('review-badge').hidden = doc.checks.reviewed !== false;
  const signed = doc.status === 'signed';
  $('draft-title').textContent = signed ? 'Epicrisis firmada' : `Borrador · versión ${doc.version}`;
  const p = doc.provenance;
  const passedOver = (p?.fallbacks ?? []).map((f) => f.engine).join(', ');
  $('draft-meta').textContent = p
    ? `Redactado por ${p.engine} (${p.model} ${p.model_version})${passedOver ? ` · descartados: ${passedOver}` : ''}` : '';
  $('demo-mark').hidden = !isDemo(p);
  $('draft-view').replaceChildren(...highlighted(doc.text, doc.checks));
  const summary = checksSummary(doc.checks);
  $('checks-summary').textContent = summary.text;
  $('checks-summary').dataset.state = summary.state;
  $('checks-attribution').textContent = attributionText(doc.checks);
  $('fact-source').hidden = true;
  $('checks-list').replaceChildren(...findingItems(doc.checks.findings, (i) => {
    const mark = document.querySelector(`#draft-view mark[data-finding="${i}"]`);
    if (!mark) return;
    mark.scrollIntoView({ block: 'center' });
    selectMark(mark);
    mark.focus({ preventScroll: true });
  }));
  $('versions').replaceChildren(...doc.versions.map((v) => {
    const li = document.createElement('li');
    const link = document.createElement('button');
    link.type = 'button';
    link.className = 'link';
    link.textContent = `v${v.version} · ${v.source === 'engine' ? 'motor' : 'edición'} · ${v.author} · ${utcDate(v.created_at).toLocaleString('es')}`;
    link.addEventListener('click', () => showVersion(v.version));
    li.append(link);
    if (v.version === doc.version) li.classList.add('current');
    return li;
  }));
  $('ack').checked = false;
  $('ack').parentElement.hidden = doc.checks.ok || signed;
  setDraftActions({ editable: !signed && session.may('generate'),
    signable: !signed && doc.checks.reviewed !== false && session.may('sign') });
  setPrint(printBlock(doc), printBanner(doc));
  $('print-meta').textContent = printMeta(doc);
  $('print-signature').textContent = signed ? signatureLine(doc) : 'Borrador sin firmar';
  document.body.classList.toggle('signed', signed);
  Object.assign(document.body.dataset, {
    document: doc.id, version: String(doc.version), docStatus: doc.status,
    review: doc.checks.reviewed === false ? 'pending' : doc.checks.ok ? 'ok' : 'findings',
  });
}

/** Marks ``mark`` as the selected fact and shows where it comes from in the record. */
function selectMark(mark) {
  for (const el of document.querySelectorAll('#draft-view mark.selected')) el.classList.remove('selected');
  mark.classList.add('selected');
  const at = (name) => (mark.dataset[name] === undefined ? null : Number(mark.dataset[name]));
  const source = sourceOf(doc, { finding: at('finding'), fact: at('fact') });
  const box = $('fact-source');
  const rows = [];
  const line = (label, text, className = '') => {
    const p = document.createElement('p');
    if (className) p.className = className;
    const b = document.createElement('strong');
    b.textContent = `${label}: `;
    p.append(b, text);
    rows.push(p);
  };
  const title = document.createElement('h4');
  title.textContent = source.message ? 'Hallazgo' : source.traced ? 'Fuente en el registro' : 'Sin fuente en el registro';
  rows.push(title);
  if (source.message) line('Problema', source.message, 'problem');
  line('Texto', `«${mark.textContent}»`);
  if (source.label) line('Campo del registro', source.label, 'field');
  if (source.field) line('Valor en el registro', source.value || '(sin dato en el registro)', 'value');
  else if (!source.traced) line('Registro', 'ningún campo del registro respalda este dato');
  box.replaceChildren(...rows);
  box.hidden = false;
}

function printMeta(d) {
  const r = d.record;
  const ids = (r.patient.identifiers ?? []).map((i) => `${i.type} ${i.value}`).join(' · ');
  return `${r.patient.name}${ids ? ` · ${ids}` : ''} · Ingreso ${r.admission.admitted_at.slice(0, 10)} · Alta ${r.discharge.discharged_on}`;
}

async function showVersion(version) {
  if (version === doc.version) return showDocument(doc);
  try {
    const { body } = await call('GET', `/api/v1/documents/${doc.id}/versions/${version}`);
    $('draft-view').replaceChildren(document.createTextNode(body.text));
    $('draft-title').textContent = `Versión ${version} (anterior, solo lectura)`;
    $('fact-source').hidden = true;
    setDraftActions({ editable: false, signable: false });
    setPrint('No se puede imprimir una versión anterior: vuelva a la versión actual.',
      'VERSIÓN ANTERIOR: no es el texto vigente de este documento. No la use como epicrisis.');
  } catch (err) {
    reportApiError(err);
  }
  return undefined;
}

async function openDocument(id) {
  try {
    const { body } = await call('GET', `/api/v1/documents/${id}`);
    showDocument(body);
  } catch (err) {
    reportApiError(err);
  }
}

/** The signed-in user's name, as the author of an edit; '' (and the reason shown) when nobody is signed in. */
function author() {
  const name = session.user()?.name ?? '';
  if (!name) {
    $('draft-error').textContent = 'Inicie sesión para editar o firmar.';
    $('signin-username').focus();
  }
  return name;
}

/** "Firmado por Dra. Ana Pérez (RNPI 123456) el …": the person, from the server's record of the signature. */
function signatureLine(d) {
  const s = d.signer;
  const registry = s?.registry_number ? ` (${s.registry_type ?? 'registro'} ${s.registry_number})` : '';
  const when = utcDate(d.signed_at);
  return `Firmado por ${d.signed_by}${registry} el ${when.toLocaleString('es')}`;
}

function setupDocumentActions() {
  $('edit-btn').addEventListener('click', () => {
    $('draft-edit').value = doc.text;
    $('draft-edit').hidden = false;
    $('draft-view').hidden = true;
    $('edit-btn').hidden = true;
    $('save-btn').hidden = false;
    $('cancel-edit').hidden = false;
    $('draft-edit').focus();
  });
  $('cancel-edit').addEventListener('click', () => showDocument(doc));
  $('save-btn').addEventListener('click', async () => {
    const name = author();
    if (!name) return;
    try {
      const { body } = await call('PUT', `/api/v1/documents/${doc.id}`, { text: $('draft-edit').value, base_version: doc.version, author: name });
      showDocument(body);
      status(`Versión ${body.version} guardada.`, 'ok');
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) $('draft-error').textContent = 'El documento cambió o ya está firmado: recárguelo antes de editar.';
      else reportApiError(err);
    }
  });
  $('sign-btn').addEventListener('click', async () => {
    if (!author()) return;
    // The password goes once, in this request; the server remembers for a few minutes that it was
    // entered (so a refused signature, e.g. findings not acknowledged, can be retried without it).
    const password = $('sign-password').value;
    $('sign-password').value = '';
    try {
      const { body } = await call('POST', `/api/v1/documents/${doc.id}/sign`,
        { version: doc.version, acknowledge_findings: $('ack').checked, ...(password ? { password } : {}) });
      showDocument(body); // clears the refused signature's error line
      status('Epicrisis firmada: ya no se puede editar.', 'ok');
    } catch (err) {
      if (err instanceof ApiError && err.code === 'reauth_required') {
        $('draft-error').textContent = 'Para firmar, escriba su contraseña en «Contraseña para firmar».';
        $('sign-password').focus();
      } else if (err instanceof ApiError && err.code === 'wrong_password') {
        $('draft-error').textContent = 'Contraseña incorrecta: no se firmó.';
        $('sign-password').focus();
      } else if (err instanceof ApiError && err.code === 'account_locked') {
        $('draft-error').textContent = 'Demasiadas contraseñas incorrectas: espere unos minutos o pida al administrador que la restablezca.';
      } else if (err instanceof ApiError && err.code === 'sign_not_allowed') {
        $('draft-error').textContent = 'Su rol no permite firmar: firma un médico.';
      } else if (err instanceof ApiError && err.code === 'unresolved_findings') {
        $('draft-error').textContent = 'La revisión frente al registro tiene hallazgos: corríjalos o marque «Revisé los hallazgos señalados» para firmar.';
      } else if (err instanceof ApiError && err.status === 409) {
        $('draft-error').textContent = 'El documento cambió o ya está firmado: recárguelo.';
      } else {
        reportApiError(err);
      }
    }
  });
  $('print-btn').addEventListener('click', async () => {
    const reason = pendingDraft ? printBlock(null, { pending: true }) : printBlock(doc);
    if (reason) { $('draft-error').textContent = reason; return; }
    try {
      await call('POST', `/api/v1/documents/${doc.id}/print`); // the audit trail records who printed
    } catch (err) {
      reportApiError(err);
      return;
    }
    window.print();
  });
  const selectFrom = (event) => {
    const mark = event.target.closest?.('#draft-view mark');
    if (mark && doc) selectMark(mark);
  };
  $('draft-view').addEventListener('click', selectFrom);
  $('draft-view').addEventListener('keydown', (event) => { if (event.key === 'Enter') selectFrom(event); });
  $('hospital').value = localStorage.getItem(HOSPITAL_STORAGE) ?? '';
  $('print-hospital').textContent = $('hospital').value || 'Hospital';
  $('hospital').addEventListener('input', () => {
    localStorage.setItem(HOSPITAL_STORAGE, $('hospital').value);
    $('print-hospital').textContent = $('hospital').value || 'Hospital';
  });
}

// --- start ---------------------------------------------------------------------------------

const BUNDLES_STORAGE = 'alta.bundles';

async function loadBundles() {
  // The catalog holds no patient data: a copy is kept for opening the page offline without a
  // service worker (plain-HTTP installations, where browsers allow none).
  try {
    const response = await fetch('/api/v1/bundles');
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    bundles = await response.json();
    localStorage.setItem(BUNDLES_STORAGE, JSON.stringify(bundles));
  } catch {
    bundles = JSON.parse(localStorage.getItem(BUNDLES_STORAGE) ?? 'null') ?? { default: null, models: [] };
  }
  alta.bundles = bundles;
  const browser = document.querySelector('input[name="engine"][value="browser"]');
  browser.disabled = bundles.models.length === 0;
  const bundle = currentBundle();
  $('model-info').textContent = bundle
    ? `Modelo para este equipo: ${bundle.name} ${bundle.version}`
    : 'El servidor no ofrece un modelo para redactar en este equipo.';
}

function setupEngineChoice() {
  const saved = localStorage.getItem(ENGINE_STORAGE);
  const radio = saved && document.querySelector(`input[name="engine"][value="${saved}"]`);
  if (radio && !radio.disabled) radio.checked = true;
  for (const input of document.querySelectorAll('input[name="engine"]')) {
    input.addEventListener('change', () => {
      localStorage.setItem(ENGINE_STORAGE, engineChoice());
      if (engineChoice() === 'browser') loadBrowserModel().catch(loadFailed);
      else $('engine-refusal').hidden = true;
    });
  }
  $('use-server-btn').addEventListener('click', useServer);
  // The choice is remembered: load the model now, so it is cached for offline use after this visit.
  if (engineChoice() === 'browser') loadBrowserModel().catch(loadFailed);
}

/** The header: the sign-in form, or who is signed in with "Cerrar sesión"; what the role may do. */
function renderSession() {
  const user = session.user();
  $('signin-form').hidden = Boolean(user);
  $('session-box').hidden = !user;
  $('session-user').textContent = user ? `${user.name} · ${user.role_label}` : '';
  $('signer').textContent = user && session.may('sign')
    ? `Firma: ${user.name}${user.registry_number ? ` (${user.registry_type} ${user.registry_number})` : ''}` : '';
  $('audit').hidden = !session.may('admin');
  document.body.dataset.auth = user ? 'in' : 'out';
  document.body.dataset.role = user?.role ?? '';
  if (doc && !pendingDraft) { // the actions follow the role
    const signed = doc.status === 'signed';
    setDraftActions({ editable: !signed && session.may('generate'),
      signable: !signed && doc.checks.reviewed !== false && session.may('sign') });
  }
}

function setupSession() {
  $('signin-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const username = $('signin-username').value.trim();
    const password = $('signin-password').value;
    $('signin-password').value = '';
    $('signin-error').textContent = '';
    if (!username || !password) {
      $('signin-error').textContent = 'Escriba su usuario y su contraseña.';
      return;
    }
    try {
      await signIn(username, password);
      $('signin-username').value = '';
      renderSession();
      status(`Sesión iniciada: ${session.user().name}.`, 'ok');
      sync();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) $('signin-error').textContent = 'Usuario o contraseña incorrectos.';
      else if (err instanceof ApiError && err.status === 429) {
        $('signin-error').textContent = 'Demasiados intentos fallidos: espere unos minutos o pida al administrador que restablezca su contraseña.';
      } else if (err instanceof Unreachable) $('signin-error').textContent = 'Sin conexión con el servidor.';
      else $('signin-error').textContent = 'No se pudo iniciar sesión.';
      $('signin-password').focus();
    }
  });
  $('signout-btn').addEventListener('click', async () => {
    await signOut().catch(() => {});
    status('Sesión cerrada.');
  });
  window.addEventListener('alta:signed-out', () => {
    renderSession();
    if (document.body.dataset.ready === 'true') status('Su sesión terminó: inicie sesión de nuevo.', 'warn');
  });
  $('audit-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    $('audit-error').textContent = '';
    const id = $('audit-document').value.trim();
    if (!/^[0-9a-f-]{36}$/.test(id)) {
      $('audit-error').textContent = 'Escriba el identificador del documento (36 caracteres).';
      return;
    }
    try {
      const { body } = await call('GET', `/api/v1/documents/${id}/audit`);
      const labels = { create: 'creó', read: 'leyó', list: 'vio en una lista', edit: 'editó', sign: 'firmó', print: 'imprimió' };
      $('audit-rows').replaceChildren(...body.map((e) => {
        const tr = document.createElement('tr');
        const who = e.user_name ? `${e.user_name}${e.user_registry ? ` (${e.user_registry})` : ''}` : `clave API ${e.actor}`;
        for (const text of [new Date(e.at).toLocaleString('es'), labels[e.action] ?? e.action, who, e.detail ?? '']) {
          const td = document.createElement('td');
          td.textContent = text;
          tr.append(td);
        }
        tr.dataset.action = e.action;
        return tr;
      }));
      $('audit-table').hidden = false;
    } catch (err) {
      $('audit-table').hidden = true;
      $('audit-error').textContent = err instanceof ApiError && err.status === 404 ? 'No hay un documento con ese identificador.'
        : err instanceof ApiError && err.status === 403 ? 'Solo un administrador ve la auditoría.' : 'No se pudo leer la auditoría.';
    }
  });
}

async function registerServiceWorker() {
  if (!('serviceWorker' in navigator) || !window.isSecureContext) return null;
  try {
    await navigator.serviceWorker.register('/sw.js', { scope: '/' });
    return await navigator.serviceWorker.ready;
  } catch (err) {
    status(`Sin modo sin conexión: ${err.message}`, 'warn');
    return null;
  }
}

async function main() {
  setupViews();
  setupTranslation({ status, hook: alta });
  form.render({});
  setupExamples();
  setupSession();
  setupDocumentActions();
  $('generate-btn').addEventListener('click', generate);
  $('stop-btn').addEventListener('click', () => running?.stop());
  window.addEventListener('online', () => { status('Conexión restablecida.'); sync(); });
  window.addEventListener('offline', () => status('Sin conexión: puede seguir redactando en este equipo.', 'warn'));
  setInterval(() => { if (navigator.onLine) sync(); }, 20_000);
  registerServiceWorker().then((registration) => {
    alta.serviceWorker = registration;
    if (registration) document.body.dataset.offlineReady = 'true';
  });
  await refreshSession().catch(() => null); // offline: the last known user stays (their drafts wait in the outbox)
  renderSession();
  await loadBundles();
  setupEngineChoice();
  await sync();
  const match = location.hash.match(/^#\/documento\/([0-9a-f-]{36})$/);
  if (match && session.may('read')) await openDocument(match[1]);
  document.body.dataset.ready = 'true';
}

alta.ready = main();
