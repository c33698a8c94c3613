/**
 * The Alta API as the page uses it: the signed-in session, JSON calls with typed errors, and the SSE stream.
 *
 * The page authenticates with the server's session cookie (HttpOnly: this code never sees it). Every
 * write echoes the session's CSRF token in X-CSRF-Token; the token is kept in memory only and fetched
 * again from /api/v1/auth/me after a reload. Who is signed in (name, role, permissions: no secret) is
 * kept in sessionStorage so a reload without network still knows whose drafts wait in the outbox;
 * it is gone when the tab closes, as a shared ward workstation needs.
 */
const USER_STORAGE = 'alta.user';
const SAFE = new Set(['GET', 'HEAD']);
let csrf = null;

export const session = {
  /** The signed-in user ({name, role, role_label, permissions, ...}) as last seen, or null. */
  user: () => JSON.parse(sessionStorage.getItem(USER_STORAGE) ?? 'null'),
  signedIn: () => sessionStorage.getItem(USER_STORAGE) !== null,
  may: (permission) => (session.user()?.permissions ?? []).includes(permission),
  set(body) {
    csrf = body.csrf_token;
    sessionStorage.setItem(USER_STORAGE, JSON.stringify(body.user));
  },
  clear() {
    csrf = null;
    sessionStorage.removeItem(USER_STORAGE);
    window.dispatchEvent(new Event('alta:signed-out'));
  },
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

async function headers(method, extra = {}) {
  if (SAFE.has(method)) return extra;
  if (!csrf && session.signedIn()) await refreshSession(); // after a reload: the token is in memory only
  return { ...(csrf ? { 'X-CSRF-Token': csrf } : {}), ...extra };
}

async function apiError(response) {
  if (response.status === 401 && session.signedIn()) session.clear(); // expired, signed out elsewhere, disabled
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
    method, headers: await headers(method, form ? {} : JSON_BODY), signal,
    body: form ? body : body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw await apiError(response);
  return { status: response.status, body: response.status === 204 ? null : await response.json().catch(() => null) };
}

/** Who is signed in, from the server (sets the CSRF token); null when nobody is. Throws Unreachable offline. */
export async function refreshSession() {
  const response = await send('/api/v1/auth/session', { method: 'GET' });
  if (!response.ok) throw await apiError(response);
  const body = await response.json();
  if (body === null) {
    if (session.signedIn()) session.clear();
    return null;
  }
  session.set(body);
  return body;
}

/** Signs in; the server sets the session cookie. Throws ApiError 401 (wrong) or 429 (locked). */
export async function signIn(username, password) {
  const response = await send('/api/v1/auth/login', {
    method: 'POST', headers: JSON_BODY, body: JSON.stringify({ username, password }),
  });
  if (!response.ok) throw await apiError(response);
  const body = await response.json();
  session.set(body);
  return body;
}

/** Signs out: the server ends the session; the page forgets who was signed in. */
export async function signOut() {
  try {
    await send('/api/v1/auth/logout', { method: 'POST', headers: csrf ? { 'X-CSRF-Token': csrf } : {} });
  } finally {
    session.clear();
  }
}

/** GET a file (a PDF) with the session: its bytes as a Blob, never written anywhere by this function. */
export async function fetchFile(path, { signal } = {}) {
  const response = await send(path, { method: 'GET', headers: await headers('GET'), signal });
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
    method: 'POST', headers: await headers('POST', { ...JSON_BODY, Accept: 'text/event-stream' }), body: JSON.stringify({ record }), signal,
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
