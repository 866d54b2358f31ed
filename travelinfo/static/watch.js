/* The "Bevaka"/"Watch" page: asks for notification permission only on the explicit click,
   registers /sw.js, subscribes with the VAPID key and posts the choices to the API. */
"use strict";
(function () {
  const form = document.getElementById("watch-form");
  if (!form) return;
  const status = document.getElementById("watch-status");
  const stop = document.getElementById("watch-stop-button");
  const T = JSON.parse(document.getElementById("watch-texts").textContent);
  const KEY = "travelinfo.push";
  const say = (msg) => { status.textContent = msg; };

  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
    say(T.unsupported);
    document.getElementById("watch-submit").disabled = true;
    return;
  }
  const registration = navigator.serviceWorker.register("/sw.js", { scope: "/" });

  function bytes(b64) {
    const s = atob(b64.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((b64.length + 3) % 4));
    return Uint8Array.from(s, (c) => c.charCodeAt(0));
  }

  function choices(sub) {
    const data = new FormData(form);
    const filters = {};
    for (const name of ["route", "road", "stop"]) {
      const v = String(data.get(name) || "").trim();
      if (v) filters[name] = v;
    }
    const modes = data.getAll("mode");
    if (modes.length) filters.mode = modes;
    const days = data.getAll("day");
    const froms = data.getAll("from"), tos = data.getAll("to");
    const windows = [];
    froms.forEach((f, i) => { if (f && tos[i] && days.length) windows.push({ days: days, from: f, to: tos[i] }); });
    return {
      subscription: sub,
      filters: filters,
      windows: windows,
      lang: form.dataset.lang,
      min_severity: data.get("min_severity"),
      planned: data.get("planned") === "1",
      ahead: data.get("planned") === "1" && data.get("ahead") ? String(data.get("ahead")) : null,
    };
  }

  function saved() {
    try { return JSON.parse(localStorage.getItem(KEY) || "null"); } catch (e) { return null; }
  }

  function showStop(on) { stop.hidden = !on; }
  showStop(Boolean(saved()));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const permission = await Notification.requestPermission();
      if (permission !== "granted") { say(T.denied); return; }
      const reg = await registration;
      const key = await (await fetch("/api/v1/push/vapid-public-key")).json();
      let sub = await reg.pushManager.getSubscription();
      const old = saved();
      if (sub && old && old.key !== key.public_key) { await sub.unsubscribe(); sub = null; }
      if (!sub) {
        sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: bytes(key.public_key) });
      }
      const resp = await fetch("/api/v1/push/subscriptions", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(choices(sub.toJSON())),
      });
      const data = await resp.json();
      if (!resp.ok) { say(T.failed + " " + (data.error || resp.status)); return; }
      localStorage.setItem(KEY, JSON.stringify({ id: data.id, secret: data.secret, key: key.public_key }));
      showStop(true);
      say(T.done);
    } catch (e) {
      say(T.failed + " " + (e && e.message ? e.message : String(e)));
    }
  });

  stop.addEventListener("click", async () => {
    const old = saved();
    try {
      if (old) {
        await fetch("/api/v1/push/subscriptions/" + encodeURIComponent(old.id), {
          method: "DELETE", headers: { Authorization: "Bearer " + old.secret },
        });
      }
      const reg = await registration;
      const sub = await reg.pushManager.getSubscription();
      if (sub) await sub.unsubscribe();
      localStorage.removeItem(KEY);
      showStop(false);
      say(T.stopped);
    } catch (e) {
      say(T.failed + " " + (e && e.message ? e.message : String(e)));
    }
  });
})();
