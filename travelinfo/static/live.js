// Live list: re-fetch the server-rendered list fragment when the store changes.
// Listens to /api/v1/stream (SSE); until that answers, long-polls the fragment itself.
// No framework, no inline script (the page's CSP forbids it); the page works without this file.
(function () {
  "use strict";
  var list = document.getElementById("list");
  var status = document.getElementById("live-status");
  if (!list || !window.fetch) { return; }

  var params = new URLSearchParams(window.location.search);
  params.delete("fragment");
  params.delete("after");
  var busy = false;
  var again = false;

  function ids(root) {
    var out = {};
    root.querySelectorAll("[data-id]").forEach(function (el) {
      out[el.getAttribute("data-id")] = el.getAttribute("data-updated");
    });
    return out;
  }

  function announce(fresh) {
    if (!status) { return; }
    var msg = fresh > 0 ? status.getAttribute(fresh === 1 ? "data-msg-new-one" : "data-msg-new").replace("{n}", String(fresh))
                        : status.getAttribute("data-msg-updated");
    status.textContent = msg;
  }

  function swap(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var next = doc.getElementById("list");
    if (!next) { return false; }
    var before = ids(list);
    var after = ids(next);
    var fresh = 0;
    Object.keys(after).forEach(function (id) { if (before[id] !== after[id]) { fresh += 1; } });
    var changed = list.getAttribute("data-seq") !== next.getAttribute("data-seq");
    list.replaceWith(next);
    list = next;
    if (changed) { announce(fresh); }
    return true;
  }

  function fragmentUrl(after) {
    var q = new URLSearchParams(params);
    q.set("fragment", "1");
    if (after) { q.set("after", after); }
    return "/?" + q.toString();
  }

  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(fragmentUrl(""), { cache: "no-cache", credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (html) { if (html) { swap(html); } })
      .catch(function () {})
      .then(function () { busy = false; if (again) { again = false; refresh(); } });
  }

  // Starred lines changed (star.js wrote the cookie): the server lists them first.
  document.addEventListener("travelinfo:mylines", refresh);

  // Fallback: long-poll the fragment (the server answers when the change log moves).
  var polling = false;
  function longPoll() {
    if (polling) { return; }
    polling = true;
    document.documentElement.setAttribute("data-live", "poll");
    var delay = 1000;
    (function loop() {
      fetch(fragmentUrl(list.getAttribute("data-seq") || "0"), { cache: "no-cache", credentials: "same-origin" })
        .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.text(); })
        .then(function (html) { swap(html); delay = 1000; window.setTimeout(loop, 50); })
        .catch(function () { delay = Math.min(delay * 2, 60000); window.setTimeout(loop, delay); });
    })();
  }

  if (!window.EventSource) { longPoll(); return; }
  var opened = false;
  var source = new EventSource("/api/v1/stream");
  var timer = null;
  function onChange() {
    // Several changes often arrive together: one re-fetch for the burst.
    if (timer) { window.clearTimeout(timer); }
    timer = window.setTimeout(refresh, 150);
  }
  source.addEventListener("open", function () {
    opened = true;
    document.documentElement.setAttribute("data-live", "sse");
  });
  ["created", "updated", "ended", "reset"].forEach(function (type) { source.addEventListener(type, onChange); });
  source.addEventListener("error", function () {
    if (!opened || source.readyState === EventSource.CLOSED) {
      // Never answered (not deployed yet) or refused for good: long-poll instead.
      source.close();
      longPoll();
    }
  });
})();
