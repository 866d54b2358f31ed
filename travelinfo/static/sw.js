/* travelinfo service worker: shows Web Push notifications, opens /d/{id}, unsubscribes.
   Notification text is set as text (never markup); links stay on this origin. */
"use strict";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

function samePath(value, fallback) {
  try {
    const url = new URL(String(value || ""), self.location.origin);
    return url.origin === self.location.origin ? url.pathname + url.search : fallback;
  } catch (e) {
    return fallback;
  }
}

function text(value, limit) {
  return typeof value === "string" ? value.slice(0, limit) : "";
}

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (e) {
    data = {};
  }
  const actions = data.actions || {};
  const unsub = data.unsubscribe || {};
  const options = {
    body: text(data.body, 500),
    lang: text(data.lang, 8),
    tag: text(data.tag, 64) || undefined,
    renotify: Boolean(data.tag),
    requireInteraction: data.severity === "SEVERE",
    data: {
      url: samePath(data.url, "/"),
      unsubscribe: { url: samePath(unsub.url, ""), secret: text(unsub.secret, 200) },
    },
    actions: [
      { action: "open", title: text(actions.open, 40) || "Open" },
      { action: "unsubscribe", title: text(actions.unsubscribe, 40) || "Unsubscribe" },
    ],
  };
  const title = text(data.title, 200) || "travelinfo";
  event.waitUntil(self.registration.showNotification(title, options));
});

async function unsubscribe(unsub) {
  if (unsub.url && unsub.secret) {
    await fetch(unsub.url, { method: "DELETE", headers: { Authorization: "Bearer " + unsub.secret } });
  }
  const sub = await self.registration.pushManager.getSubscription();
  if (sub) await sub.unsubscribe();
}

self.addEventListener("notificationclick", (event) => {
  const data = event.notification.data || {};
  event.notification.close();
  if (event.action === "unsubscribe") {
    event.waitUntil(unsubscribe(data.unsubscribe || {}));
    return;
  }
  event.waitUntil(self.clients.openWindow(data.url || "/"));
});
