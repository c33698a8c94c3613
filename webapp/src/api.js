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

/** An answer other than 2xx: ``status`` and the server's ``detail`` / ``code`` (never patient data). */
export class ApiError extends Error {
  constructor(status, body) {
    super(typeof body?.detail === 'string' ? body.detail : `HTTP ${status}`);
    this.status = status;
    this.detail = body?.detail;
    this.code = body?.code;
  }
}

/** The network or the server could not be reached: the request may be retried. */
export class Unreachable extends Error {}

function headers(extra = {}) {
  const key = apiKey.get();
  return { 'Content-Type': 'application/json', ...(key ? { Authorization: `Bearer ${key}` } : {}), ...extra };
}

export async function call(method, path, body, { signal } = {}) {
  let response;
  try {
    response = await fetch(path, {
      method, headers: headers(), body: body === undefined ? undefined : JSON.stringify(body), signal, cache: 'no-store',
    });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new Unreachable(String(err));
  }
  const payload = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, payload);
  return { status: response.status, body: payload };
}

/**
 * POST /api/v1/epicrisis/stream: calls ``onEvent(name, data)`` for start, chunk, fallback, done and
 * error as they arrive. Aborting ``signal`` stops reading (the server stops decoding for nobody).
 */
export async function streamEpicrisis(record, onEvent, signal) {
  let response;
  try {
    response = await fetch('/api/v1/epicrisis/stream', {
      method: 'POST', headers: headers({ Accept: 'text/event-stream' }), body: JSON.stringify({ record }), signal,
    });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new Unreachable(String(err));
  }
  if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
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
