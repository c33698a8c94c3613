/**
 * The translation page (#traduccion): a Spanish clinical text or PDF in, its English translation
 * out, through POST /api/v1/translations (backend/api/routes/translations.py). Small inputs come
 * back at once (201); larger ones are a job (202) whose ``self`` link is polled with backoff.
 *
 * The source and the translation are patient data. They live in this page's memory and DOM only:
 * nothing here writes them to localStorage, sessionStorage, IndexedDB, the URL or the console, and
 * the service worker never caches API answers (sw.js). Both text boxes have autocomplete="off", so
 * the browser keeps no form state of them for session restore, and the source has
 * spellcheck="false", so no browser spelling service is sent the note. A failed request never
 * clears the source: the clinician can send it again.
 *
 * The pure helpers (progress, backoff, facts) are exported for node tests (test/translate.test.js);
 * the Spanish error messages are in translation_errors.js.
 */
import { Unreachable, call, fetchFile, session } from './api.js';
import { jobErrors, translationErrors } from './translation_errors.js';

export const TRANSLATIONS_URL = '/api/v1/translations';

/** Polling a job: first after ``firstMs``, then ``factor`` times longer up to ``maxMs`` while nothing moves. */
export const POLL = { firstMs: 400, factor: 1.6, maxMs: 5000 };

/** The wait before the next poll: back to the first delay when the job moved, else a longer one. */
export function nextPollDelay(previousMs, advanced) {
  if (advanced || previousMs == null) return POLL.firstMs;
  return Math.min(POLL.maxMs, Math.round(previousMs * POLL.factor));
}

/** What a job is doing, in Spanish, from its status and progress. */
export function progressText(job) {
  if (job.status === 'queued') return 'En cola en el servidor…';
  const { chunks_done: done, chunks_total: total, chunks_cached: cached } = job.progress;
  if (!total) return job.source.kind === 'pdf' ? 'Leyendo el PDF y protegiendo los datos del paciente…' : 'Protegiendo los datos del paciente…';
  const reused = cached ? ` (${cached} ya traducido${cached === 1 ? '' : 's'} antes)` : '';
  return `Traduciendo: ${done} de ${total} fragmento${total === 1 ? '' : 's'}${reused}`;
}

const PERCENT = new Intl.NumberFormat('es', { style: 'percent', maximumFractionDigits: 1 });

/** The glossary metric as the page shows it ("100 %"), or a dash when the server gave none. */
export function accuracyText(termAccuracy) {
  return typeof termAccuracy === 'number' ? PERCENT.format(termAccuracy) : '—';
}

/** What the page says over a translation written by Apertium, the rule-based floor. */
export const RULE_BASED_NOTICE = 'Traducción automática basada en reglas (Apertium), hecha sin un modelo de '
  + 'traducción: puede equivocar el sentido, el orden de las palabras y los términos que no están en el '
  + 'glosario. Revísela con especial cuidado antes de usarla.';

/** Whether the translation was written by the rule-based engine (Apertium). */
export function isRuleBased(provenance) {
  return provenance?.engine === 'apertium';
}

/** Who wrote the translation, and which engines were passed over first. */
export function provenanceText(provenance) {
  if (!provenance) return '';
  const model = [provenance.model, provenance.model_version].filter(Boolean).join(' ');
  const passed = (provenance.fallbacks ?? []).map((f) => f.engine);
  return `Traducido por ${provenance.engine}${model ? ` (${model})` : ''}`
    + (isRuleBased(provenance) ? ' · traducción automática basada en reglas' : '')
    + (passed.length ? ` · antes falló: ${passed.join(', ')}` : '');
}

// --- the page ------------------------------------------------------------------------------

const $ = (id) => document.getElementById(id);

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(timer); reject(signal.reason); }, { once: true });
  });
}

/**
 * Wires the translation view. ``status(text, kind)`` is the page's status line; ``hook`` is the
 * test/benchmark object (window.alta), given the translation's id, status and progress, never its text.
 */
export function setupTranslation({ status, hook }) {
  let running = null; // AbortController of the request or polling in progress
  let shown = null; // the finished translation on screen: {id, links}
  const state = { id: null, status: null, polls: 0, progress: [] };
  hook.translation = state;

  const sourceKind = () => document.querySelector('input[name="translation-source"]:checked').value;

  function setState(name) {
    state.status = name;
    document.body.dataset.translation = name;
  }

  function clearErrors() {
    for (const el of document.querySelectorAll('[data-error-for^="translation"]')) el.replaceChildren();
    for (const id of ['translation-text', 'translation-file', 'translation-variant']) $(id).removeAttribute('aria-invalid');
  }

  function showErrors(errors) {
    const targets = { text: 'translation-text', file: 'translation-file', source_variant: 'translation-variant' };
    for (const { field, message, detail } of errors) {
      const box = document.querySelector(`[data-error-for="${field ? `translation.${field}` : 'translation'}"]`);
      const line = document.createElement('span');
      line.textContent = message;
      box.append(line);
      if (detail) {
        const small = document.createElement('small');
        small.className = 'server-detail';
        small.textContent = `Detalle del servidor: ${detail}`;
        box.append(small);
      }
      if (targets[field]) $(targets[field]).setAttribute('aria-invalid', 'true');
    }
  }

  function showProgress(job, offline = false) {
    $('translation-progress').hidden = false;
    const bar = $('translation-progress-bar');
    const total = job?.progress?.chunks_total ?? 0;
    if (total) {
      bar.max = total;
      bar.value = job.progress.chunks_done;
    } else {
      bar.removeAttribute('value'); // indeterminate
    }
    $('translation-progress-text').textContent = (job ? progressText(job) : 'Enviando al servidor…')
      + (offline ? ' · sin conexión con el servidor, reintentando…' : '');
  }

  function showResult(job) {
    shown = { id: job.id, links: job.links };
    $('translation-result').value = job.text;
    $('translation-meta').textContent = provenanceText(job.provenance);
    ruleBasedNotice().hidden = !isRuleBased(job.provenance);
    const pages = job.source.kind === 'pdf'
      ? `PDF de ${job.source.pages} página${job.source.pages === 1 ? '' : 's'}${job.source.ocr_pages ? ` (${job.source.ocr_pages} escaneada${job.source.ocr_pages === 1 ? '' : 's'}, leída${job.source.ocr_pages === 1 ? '' : 's'} con OCR)` : ''}`
      : 'Texto pegado';
    $('translation-source-info').textContent = `${pages} · ${job.progress.chunks_total} fragmento${job.progress.chunks_total === 1 ? '' : 's'}`;
    $('translation-accuracy').textContent = accuracyText(job.term_accuracy);
    $('translation-output').hidden = false;
  }

  // The notice sits over the translation; made here so the page's markup needs no change.
  function ruleBasedNotice() {
    let notice = $('translation-rule-based');
    if (!notice) {
      notice = document.createElement('p');
      notice.id = 'translation-rule-based';
      notice.className = 'warning';
      notice.setAttribute('role', 'note');
      notice.lang = 'es';
      notice.textContent = RULE_BASED_NOTICE;
      $('translation-result-label').before(notice);
    }
    return notice;
  }

  function hideResult() {
    shown = null;
    $('translation-output').hidden = true;
    $('translation-result').value = '';
    $('translation-copied').textContent = '';
  }

  async function waitForJob(first, signal) {
    let job = first;
    let delay = nextPollDelay(null, false);
    while (job.status === 'queued' || job.status === 'running') {
      await sleep(delay, signal);
      try {
        const { body } = await call('GET', job.links.self, undefined, { signal });
        const advanced = body.status !== job.status || body.progress.chunks_done > job.progress.chunks_done;
        job = body;
        state.polls += 1;
        state.progress.push([job.progress.chunks_done, job.progress.chunks_total]);
        showProgress(job);
        delay = nextPollDelay(delay, advanced);
      } catch (err) {
        if (!(err instanceof Unreachable)) throw err;
        showProgress(job, true); // the job goes on on the server: keep asking, slowly
        delay = POLL.maxMs;
      }
    }
    return job;
  }

  /** The request body for what the form holds, or null with the reason shown next to its control. */
  function request() {
    const variant = $('translation-variant').value;
    if (sourceKind() === 'pdf') {
      const file = $('translation-file').files[0];
      if (!file) {
        showErrors([{ field: 'file', message: 'Elija un archivo PDF.' }]);
        return null;
      }
      const form = new FormData();
      form.append('file', file, file.name);
      if (variant) form.append('source_variant', variant);
      return form;
    }
    const text = $('translation-text').value;
    if (!text.trim()) {
      showErrors([{ field: 'text', message: 'Pegue el texto a traducir.' }]);
      return null;
    }
    return variant ? { text, source_variant: variant } : { text };
  }

  async function translate(event) {
    event.preventDefault();
    clearErrors();
    if (!session.signedIn()) {
      showErrors([{ field: '', message: 'Inicie sesión (arriba) para traducir en el servidor.' }]);
      setState('invalid');
      $('signin-username').focus();
      return;
    }
    const body = request();
    if (!body) {
      setState('invalid');
      return;
    }
    const kind = sourceKind();
    running?.abort();
    const controller = new AbortController();
    running = controller;
    hideResult();
    Object.assign(state, { id: null, polls: 0, progress: [] });
    setState('sending');
    $('translate-btn').disabled = true;
    showProgress(null);
    status('Traduciendo en el servidor…');
    try {
      const { status: code, body: first } = await call('POST', TRANSLATIONS_URL, body, { signal: controller.signal });
      state.id = first.id;
      if (code === 202) {
        setState('waiting');
        showProgress(first);
      }
      const job = await waitForJob(first, controller.signal);
      if (job.status === 'failed') {
        showErrors(jobErrors(job));
        setState('failed');
        status('La traducción falló: vea el mensaje junto al formulario.', 'error');
        return;
      }
      showResult(job);
      setState('done');
      status('Traducción lista: revísela antes de usarla.', 'ok');
    } catch (err) {
      if (err.name === 'AbortError') return;
      showErrors(translationErrors(err, kind));
      setState('failed');
      status(err instanceof Unreachable ? 'Sin conexión con el servidor.' : 'La traducción no se pudo hacer: vea el mensaje junto al formulario.', 'error');
    } finally {
      if (running === controller) {
        running = null;
        $('translate-btn').disabled = false;
        $('translation-progress').hidden = true;
      }
    }
  }

  async function downloadPdf() {
    if (!shown) return;
    const button = $('translation-pdf');
    document.querySelector('[data-error-for="translation.pdf"]').replaceChildren();
    button.disabled = true;
    try {
      const { blob, filename } = await fetchFile(shown.links.pdf);
      const url = URL.createObjectURL(blob);
      const link = document.createElement('a');
      link.href = url;
      link.download = filename ?? `traduccion-${shown.id}.pdf`;
      document.body.append(link);
      link.click();
      link.remove();
      // The PDF holds patient data: the object URL lives only as long as the download needs it.
      setTimeout(() => URL.revokeObjectURL(url), 30_000);
      status('PDF descargado.', 'ok');
    } catch (err) {
      const errors = translationErrors(err).map((e) => ({ ...e, field: 'pdf' }));
      showErrors(errors);
    } finally {
      button.disabled = false;
    }
  }

  async function copyResult() {
    const box = $('translation-result');
    try {
      await navigator.clipboard.writeText(box.value);
      $('translation-copied').textContent = 'Copiada al portapapeles.';
    } catch {
      box.focus();
      box.select();
      $('translation-copied').textContent = 'Texto seleccionado: cópielo con Ctrl+C.';
    }
  }

  function chooseSource() {
    const pdf = sourceKind() === 'pdf';
    $('translation-text-box').hidden = pdf;
    $('translation-file-box').hidden = !pdf;
  }

  function clearAll() {
    running?.abort();
    running = null;
    $('translate-btn').disabled = false;
    $('translation-progress').hidden = true;
    $('translation-form').reset();
    chooseSource();
    clearErrors();
    hideResult();
    Object.assign(state, { id: null, polls: 0, progress: [] });
    setState('empty');
  }

  $('translation-form').addEventListener('submit', translate);
  $('translation-clear').addEventListener('click', clearAll);
  $('translation-pdf').addEventListener('click', downloadPdf);
  $('translation-copy').addEventListener('click', copyResult);
  for (const radio of document.querySelectorAll('input[name="translation-source"]')) radio.addEventListener('change', chooseSource);
  chooseSource();
  setState('empty');
}
