// Offline: the first visit caches every file of the export (precache.json lists them, and names the
// cache after their hash, so a new export replaces the old cache); later visits are served from it.
const sw = /** @type {ServiceWorkerGlobalScope} */ (/** @type {unknown} */ (self));
// caches of this page's folder only: other pages on the origin (a GitHub Pages user site) keep theirs
const PREFIX = `edgedigits ${sw.registration.scope} `;

/** @returns {Promise<{version: string, files: string[]}>} */
async function precacheList() {
  const response = await fetch('precache.json', { cache: 'no-store' });
  if (!response.ok) throw new Error(`precache.json: HTTP ${response.status}`);
  return response.json();
}

sw.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const list = await precacheList();
    const cache = await caches.open(PREFIX + list.version);
    await cache.addAll(list.files.map((f) => new Request(f, { cache: 'reload' })));
    await sw.skipWaiting();
  })());
});

sw.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    const list = await precacheList().catch(() => null);
    if (list) {
      for (const key of await caches.keys()) {
        if (key.startsWith(PREFIX) && key !== PREFIX + list.version) await caches.delete(key);
      }
    }
    await sw.clients.claim();
  })());
});

sw.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== sw.location.origin) return;
  // the page's own files from the cache (the query, e.g. ?image=, does not name another file)
  event.respondWith((async () => {
    const hit = await caches.match(event.request, { ignoreSearch: url.pathname.endsWith('/') || url.pathname.endsWith('.html') });
    return hit ?? fetch(event.request);
  })());
});
