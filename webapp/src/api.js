/**
 * The Alta API as the page uses it: the key, JSON calls with typed errors, and the SSE stream.
 *
 * The API key lives in sessionStorage: it is gone when the tab closes, which is what a shared
 * ward workstation needs (the next user of the machine does not inherit the key), and it is never
 * written to disk by the page. Drafts waiting for the network are kept (IndexedDB) without the key
 * and are sent once a key is entered again.
 */
const KEY_STORAGE = 'alta.apiKey';

export const apiKey = {
  get: () => sessionStorage.getItem(KEY_STORAGE) ?? '',
  set: (value) => sessionStorage.setItem(KEY_STORAGE, value.trim()),
  clear: () => sessionStorage.removeItem(KEY_STORAGE),
};

/**
 * An answer other than 2xx: ``status``, the server's ``detail`` / ``code`` (never patient data) and,
 * on 429 and 503, how many seconds ``Retry-After`` asks to wait (else null).
 */
export class ApiError extends Error {
  constructor(status, body, retryAfter = null) {
    super(typeof body?.detail === 'string' ? body.detail : `HTTP ${status}`);
    this.status = status;
    this.detail = body?.detail;
    this.code = body?.code;
    this.retryAfter = retryAfter;
  }
}

/** The network or the server could not be reached: the request may be retried. */
export class Unreachable extends Error {}

const JSON_BODY = { 'Content-Type': 'application/json' };

function headers(extra = {}) {
  const key = apiKey.get();
  return { ...(key ? { Authorization: `Bearer ${key}` } : {}), ...extra };
}

async function apiError(response) {
  const seconds = Number.parseInt(response.headers.get('Retry-After') ?? '', 10);
  return new ApiError(response.status, await response.json().catch(() => null), Number.isNaN(seconds) ? null : seconds);
}

async function send(path, init) {
  try {
    return await fetch(path, { ...init, cache: 'no-store' });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new Unreachable(String(err));
  }
}

/** A JSON call; ``body`` may be a FormData (multipart, e.g. a PDF), which the browser encodes itself. */
export async function call(method, path, body, { signal } = {}) {
  const form = typeof FormData !== 'undefined' && body instanceof FormData;
  const response = await send(path, {
    method, headers: headers(form ? {} : JSON_BODY), signal,
    body: form ? body : body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw await apiError(response);
  return { status: response.status, body: response.status === 204 ? null : await response.json().catch(() => null) };
}

/** GET a file (a PDF) with the key: its bytes as a Blob, never written anywhere by this function. */
export async function fetchFile(path, { signal } = {}) {
  const response = await send(path, { method: 'GET', headers: headers(), signal });
  if (!response.ok) throw await apiError(response);
  const filename = (response.headers.get('Content-Disposition') ?? '').match(/filename="([^"/\\]+)"/)?.[1] ?? null;
  return { blob: await response.blob(), filename };
}

/**
 * POST /api/v1/epicrisis/stream: calls ``onEvent(name, data)`` for start, chunk, fallback, done and
 * error as they arrive. Aborting ``signal`` stops reading (the server stops decoding for nobody).
 */
export async function streamEpicrisis(record, onEvent, signal) {
  const response = await send('/api/v1/epicrisis/stream', {
    method: 'POST', headers: headers({ ...JSON_BODY, Accept: 'text/event-stream' }), body: JSON.stringify({ record }), signal,
  });
  if (!response.ok) throw await apiError(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let cut;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length) onEvent(event, JSON.parse(data.join('\n')));
    }
  }
}
