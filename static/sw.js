// Offline support for the declaration page: network first, the last good copy when the
// network is gone. With it a reload while offline still shows the page, and the editor
// restores the edits that were not yet confirmed from localStorage.

const CACHE = "erklaerung-offline-v1";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

function cacheable(url, request) {
  if (url.origin !== self.location.origin) return false;
  if (url.pathname.startsWith("/static/")) return true;
  return request.mode === "navigate" && /^\/erklaerungen\/[a-z0-9-]+$/.test(url.pathname);
}

async function remember(request, response) {
  if (response.ok && response.type === "basic") {
    const cache = await caches.open(CACHE);
    await cache.put(request, response);
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (!cacheable(url, request)) return;
  event.respondWith((async () => {
    try {
      const response = await fetch(request);
      event.waitUntil(remember(request, response.clone()));
      return response;
    } catch (error) {
      const cached = await caches.match(request, { ignoreVary: true });
      if (cached) return cached;
      throw error;
    }
  })());
});

// The page that registered us was loaded before we were in control: it tells us which
// addresses to keep (itself and its assets).
self.addEventListener("message", (event) => {
  const urls = event.data && Array.isArray(event.data.cache) ? event.data.cache : [];
  event.waitUntil((async () => {
    for (const address of urls) {
      const url = new URL(address, self.location.origin);
      if (url.origin !== self.location.origin) continue;
      try {
        const request = new Request(url.href, { credentials: "same-origin" });
        await remember(request, await fetch(request));
      } catch (error) {
        // offline right now: it will be cached on the next visit
      }
    }
  })());
});
