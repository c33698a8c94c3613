/**
 * Alta's service worker: after one visit, the page opens and writes drafts with the network off.
 *
 * - The app shell and ONNX Runtime's WASM files are precached at install (the build writes their
 *   list into this file, see vite.config.js).
 * - Bundle files (/models/...) are cached the first time the browser engine loads them, and served
 *   from the cache afterwards: their URLs are immutable (the server sends a year-long cache).
 * - Pages are network-first, falling back to the cached shell offline.
 * - GET /api/v1/bundles (public, no patient data) is network-first with a cached fallback, so the
 *   page knows its model offline. No other API response is ever cached: they carry patient data.
 */
const SHELL = self.__ALTA_SHELL__;
const VERSION = self.__ALTA_VERSION__;
const SHELL_CACHE = `alta-shell-${VERSION}`;
const MODELS_CACHE = 'alta-models-v1';
const CATALOG_URL = '/api/v1/bundles';

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(SHELL_CACHE);
    await cache.addAll([...SHELL, CATALOG_URL]);
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith('alta-shell-') && key !== SHELL_CACHE) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

async function networkFirst(request, cacheName, fallbackUrl) {
  const cache = await caches.open(cacheName);
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(fallbackUrl ?? request, response.clone());
    return response;
  } catch (err) {
    const cached = await cache.match(fallbackUrl ?? request);
    if (cached) return cached;
    throw err;
  }
}

async function cacheFirst(request, cacheName) {
  const cache = await caches.open(cacheName);
  const cached = await cache.match(request, { ignoreVary: true });
  if (cached) return cached;
  const response = await fetch(request);
  // Only whole files: a 206 (range) answer must not stand in for the file.
  if (response.status === 200) await cache.put(request, response.clone());
  return response;
}

self.addEventListener('fetch', (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (request.headers.has('range')) return;
  if (request.mode === 'navigate') {
    event.respondWith(networkFirst(request, SHELL_CACHE, '/'));
  } else if (url.pathname.startsWith('/models/')) {
    event.respondWith(cacheFirst(request, MODELS_CACHE));
  } else if (url.pathname === CATALOG_URL) {
    event.respondWith(networkFirst(request, SHELL_CACHE));
  } else if (url.pathname.startsWith('/assets/') || url.pathname.startsWith('/ort/')) {
    event.respondWith(cacheFirst(request, SHELL_CACHE));
  }
  // Everything else (the API) goes to the network untouched and is never cached.
});
