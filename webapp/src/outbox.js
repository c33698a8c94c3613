/**
 * Drafts written in the browser wait here (IndexedDB) until the server has stored them.
 *
 * Nothing lost: a draft is written to IndexedDB before the first attempt to send it, and removed
 * only after the server answered 200/201 for its id. Nothing sent twice: the id is the browser's
 * UUID and POST /api/v1/documents is idempotent on it, so a retry after a lost answer returns the
 * stored document instead of a second one; within this page one sync runs at a time.
 * The drafts are patient data on this machine until they are sent: they are never logged, and
 * they leave IndexedDB as soon as the server has them.
 */
import { ApiError, Unreachable, call, session } from './api.js';

const DB = 'alta';
const STORE = 'outbox';

function open() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: 'id' });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function tx(mode, work) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const t = db.transaction(STORE, mode);
      const result = work(t.objectStore(STORE));
      t.oncomplete = () => resolve(result?.result ?? result);
      t.onerror = () => reject(t.error);
      t.onabort = () => reject(t.error);
    });
  } finally {
    db.close();
  }
}

/** A v4 UUID; crypto.randomUUID needs a secure context, getRandomValues does not. */
export function newId() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export const outbox = {
  put: (draft) => tx('readwrite', (s) => s.put(draft)),
  remove: (id) => tx('readwrite', (s) => s.delete(id)),
  all: () => tx('readonly', (s) => s.getAll()),
};

/**
 * Sends every waiting draft once; calls ``onStored(draft, document)`` for each the server stored and
 * ``onRejected(draft, error)`` for one it refused (kept, with the reason, for the clinician to see).
 * Returns how many are still waiting.
 */
let syncing = null;
export function syncOutbox({ onStored, onRejected } = {}) {
  syncing ??= (async () => {
    try {
      for (const draft of await outbox.all()) {
        if (draft.rejected || !session.may('generate')) continue;
        const { id, record, text, provenance } = draft;
        try {
          const { body } = await call('POST', '/api/v1/documents', { id, record, text, provenance });
          await outbox.remove(id);
          onStored?.(draft, body);
        } catch (err) {
          if (err instanceof Unreachable || (err instanceof ApiError && (err.status >= 500 || err.status === 401))) {
            break; // the network, the server or the session: try again later, in order
          }
          if (err instanceof ApiError) {
            await outbox.put({ ...draft, rejected: { status: err.status, detail: err.detail, code: err.code } });
            onRejected?.(draft, err);
          } else {
            throw err;
          }
        }
      }
      return (await outbox.all()).length;
    } finally {
      syncing = null;
    }
  })();
  return syncing;
}
