/**
 * What went wrong with a translation, in Spanish, and beside which control of the translation page
 * it goes: the translation route's 422 types, its error codes (of an answer or of a failed job),
 * and the HTTP statuses and network failures every request can meet. The server's detail is English
 * and addressed to its administrator (settings, packages, commands): the page never shows it; the
 * administrator finds the remedy in the server log and the README.
 */
import { ApiError, Unreachable } from './api.js';

const atMost = (msg) => msg?.match(/at most (\d+)/)?.[1];

/** The 422 types of the translation route, in Spanish; ``msg`` is the server's (English) message. */
const FIELD_MESSAGES = {
  missing: (field) => (field === 'file' ? 'Elija un archivo PDF.' : 'Pegue el texto a traducir.'),
  string_too_short: () => 'El texto está vacío: pegue el documento a traducir.',
  value_error: () => 'El texto está vacío (solo espacios): pegue el documento a traducir.',
  too_long: (_field, msg) => `El documento supera el máximo${atMost(msg) ? ` de ${atMost(msg)} caracteres` : ''} `
    + 'que el servidor traduce por solicitud: divídalo en partes.',
  invalid_pdf: (_field, msg) => (/pages; at most/.test(msg ?? '')
    ? `El PDF tiene demasiadas páginas (máximo ${atMost(msg)} por solicitud): divídalo en partes.`
    : 'El archivo no es un PDF que el servidor pueda leer (¿dañado, protegido con contraseña o no es PDF?).'),
  no_text: () => 'El PDF no tiene texto que traducir.',
  literal_error: () => 'Elija México, Chile o España, o deje «Sin indicar».',
  extra_forbidden: () => 'La página envió un campo que el servidor no conoce: recárguela.',
};

const PLACEHOLDERS_LOST = 'El motor de traducción no conservó los marcadores que protegen los datos del paciente, '
  + 'así que por seguridad no se devolvió ninguna traducción. Vuelva a intentarlo; si se repite, '
  + 'avise al administrador: el motor del servidor no sirve para este texto.';
const UNREACHABLE = 'Sin conexión con el servidor: la traducción se hace en el servidor y necesita la red. '
  + 'El texto sigue aquí; vuelva a intentarlo cuando haya conexión.';

/**
 * Error codes (of an error answer, or of a failed job) to a message and where it goes: ``source``
 * is the text box or the file input, whichever was sent; '' is beside the Traducir button.
 */
const CODE_MESSAGES = {
  no_translation_engine: {
    message: 'El servidor no tiene ningún motor de traducción disponible, así que no puede traducir; '
      + 'el texto no se envió a ningún motor. Avise al administrador del servidor: las instrucciones '
      + 'para instalar el traductor están en el registro del servidor y en su documentación.',
  },
  no_engine_available: {
    message: 'Ningún motor de traducción pudo atender la solicitud (ocupados o sin respuesta): '
      + 'vuelva a intentarlo en un momento; si se repite, avise al administrador.',
  },
  placeholders_not_kept: { message: PLACEHOLDERS_LOST },
  empty_translation: { message: 'El motor de traducción respondió vacío; no se devolvió ninguna traducción. Avise al administrador.' },
  translation_truncated: {
    message: 'La respuesta del motor de traducción quedó cortada; no se devolvió ninguna traducción. Avise al administrador.',
  },
  translation_failed: { message: 'El motor de traducción dio una respuesta inutilizable; no se devolvió ninguna traducción.' },
  text_not_chunkable: {
    field: 'source',
    message: 'Un párrafo es demasiado largo para el motor de traducción: sepárelo en párrafos más cortos.',
  },
  invalid_document: { field: 'source', message: 'El documento no tiene texto que traducir, o tiene demasiado: divídalo en partes.' },
  invalid_pdf: { field: 'source', message: 'El servidor no pudo leer el PDF (¿dañado o protegido con contraseña?).' },
  ocr_unavailable: {
    field: 'source',
    message: 'El PDF tiene páginas escaneadas y este servidor no puede leerlas (falta el OCR en español). '
      + 'Avise al administrador, o pegue el texto.',
  },
  ocr_failed: { field: 'source', message: 'No se pudo leer el texto de las páginas escaneadas del PDF.' },
  pdf_output_unavailable: { field: 'pdf', message: 'El servidor no puede generar el PDF: copie el texto o avise al administrador.' },
  translation_not_ready: { field: 'pdf', message: 'La traducción aún no está terminada.' },
  translation_not_found: { message: 'Esa traducción ya no existe en el servidor.' },
  interrupted: { message: 'La traducción se interrumpió en el servidor (¿se reinició?): envíe el documento de nuevo.' },
  internal_error: { message: 'Error interno del servidor al traducir: envíe el documento de nuevo o avise al administrador.' },
  unsupported_media_type: { message: 'El servidor no aceptó el formato del envío: recargue la página.' },
};

// ``detail`` stays in what these functions return (the page has a place for it) but is always
// empty: the server's English, addressed to its administrator, is not for the clinician's page.
function byCode(code, fallback) {
  const known = CODE_MESSAGES[code];
  if (!known) return { field: '', message: fallback, detail: '' };
  return { field: known.field ?? '', message: known.message, detail: '' };
}

/**
 * What went wrong with a translation request, as ``[{field, message, detail}]`` for the page to show
 * next to its controls. ``field`` is 'text', 'file', 'source_variant', 'pdf' (the download) or ''
 * (beside the Traducir button); ``sourceKind`` ('text' | 'pdf') places errors about the document.
 */
export function translationErrors(err, sourceKind = 'text') {
  const source = sourceKind === 'pdf' ? 'file' : 'text';
  const place = (e) => ({ ...e, field: e.field === 'source' ? source : e.field });
  if (err instanceof Unreachable) return [{ field: '', message: UNREACHABLE, detail: '' }];
  if (!(err instanceof ApiError)) return [{ field: '', message: `Error en la página: ${err.message}`, detail: '' }];
  const wait = err.retryAfter ? ` en ${err.retryAfter} s` : ' en un momento';
  if (err.status === 422 && Array.isArray(err.detail)) {
    return err.detail.map((e) => {
      const field = e.field ?? (e.loc ?? []).slice(1).join('.');
      const known = ['text', 'file', 'source_variant'].includes(field);
      const message = FIELD_MESSAGES[e.type]?.(field, e.msg) ?? 'Valor no válido.';
      return { field: known ? field : '', message, detail: '' };
    });
  }
  if (err.code === 'no_engine_available') {
    return [{ field: '', message: CODE_MESSAGES.no_engine_available.message.replace(' en un momento', wait), detail: '' }];
  }
  if (err.code && CODE_MESSAGES[err.code]) return [place(byCode(err.code))];
  switch (err.status) {
    case 401: return [{ field: '', message: 'Clave de acceso ausente o no válida: ingrésela arriba.', detail: '' }];
    case 403: return [{ field: '', message: 'Su cuenta no tiene permiso para traducir: pida acceso a la administración del sistema.', detail: '' }];
    case 413: return [{ field: source, message: 'El documento es más grande de lo que el servidor acepta por solicitud: divídalo en partes.', detail: '' }];
    case 429: return [{ field: '', message: `Demasiadas solicitudes seguidas: vuelva a intentarlo${wait}.`, detail: '' }];
    case 502: return [{ field: '', message: PLACEHOLDERS_LOST, detail: '' }];
    case 503: return [{ field: '', message: `El servidor está ocupado o su motor de traducción no responde: vuelva a intentarlo${wait}.`, detail: '' }];
    default: return [place(byCode(err.code, `El servidor respondió con un error (HTTP ${err.status}).`))];
  }
}

/** The errors of a job that ended ``failed``, as :func:`translationErrors` gives them. */
export function jobErrors(job) {
  const source = job.source?.kind === 'pdf' ? 'file' : 'text';
  const { code } = job.error ?? {};
  const e = byCode(code, 'La traducción falló en el servidor.');
  return [{ ...e, field: e.field === 'source' ? source : e.field }];
}
