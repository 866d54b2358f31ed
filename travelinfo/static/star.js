/* My lines: a star on each board row, kept in this browser only (localStorage, no account).
   Starred rows are moved to a "My lines" group at the top of the board. The keys are also
   written to the `mylines` cookie, so that the server lists their disruptions first on `/`
   (list and map) on every later load, with or without JavaScript; a change re-fetches the
   list (live.js listens to "travelinfo:mylines"). Without JavaScript every line name is still
   a plain link to the filtered list. */
(function () {
  "use strict";
  var KEY = "travelinfo.mylines";
  function current() {
    return document.cookie.split("; ").filter(function (c) { return c.indexOf("mylines=") === 0; })[0] || "";
  }
  function load() {  // localStorage; the cookie where storage is refused (private mode)
    try {
      var kept = window.localStorage.getItem(KEY);
      if (kept !== null) { return JSON.parse(kept); }
    } catch (e) { /* fall through */ }
    try {
      var value = decodeURIComponent(current().slice("mylines=".length));
      return value ? value.split(",") : [];
    } catch (e) { return []; }
  }
  function cookie(keys) {
    var value = encodeURIComponent(keys.join(","));
    var now = current();
    if (now === "mylines=" + value || (!keys.length && !now)) { return false; }
    document.cookie = "mylines=" + value + "; path=/; max-age=" + (keys.length ? 31536000 : 0) + "; SameSite=Lax";
    return true;
  }
  function changed() { document.dispatchEvent(new CustomEvent("travelinfo:mylines")); }
  function save(keys) {
    try { window.localStorage.setItem(KEY, JSON.stringify(keys)); } catch (e) { /* private mode */ }
    cookie(keys);
    changed();
  }
  var list = document.getElementById("list");
  // Stars kept before the cookie existed (or a cleared cookie): the server learns them now.
  if (cookie(load()) && list && list.getAttribute("data-mine") !== load().join(",")) { changed(); }
  var board = document.querySelector("table.board tbody");
  if (!board) { return; }
  var table = board.closest("table");
  var head = document.createElement("tr");
  head.className = "grp mine";
  head.hidden = true;
  var th = document.createElement("th");
  th.setAttribute("scope", "rowgroup");
  th.colSpan = 2;
  th.textContent = table.getAttribute("data-my-lines");
  head.appendChild(th);
  board.insertBefore(head, board.firstChild);
  var homes = {};
  function place() {
    var mine = load();
    var anchor = head;
    head.hidden = mine.length === 0;
    board.querySelectorAll("tr.row").forEach(function (row) {
      var key = row.getAttribute("data-key");
      var on = mine.indexOf(key) >= 0;
      var button = row.querySelector("button.star");
      button.setAttribute("aria-pressed", on ? "true" : "false");
      button.setAttribute("aria-label", (on ? table.getAttribute("data-unstar") : table.getAttribute("data-star"))
        .replace("{name}", row.querySelector("th a").textContent));
      button.textContent = on ? "\u2605" : "\u2606";
      if (on) {
        anchor.parentNode.insertBefore(row, anchor.nextSibling);
        anchor = row;
      } else if (homes[key] && row.previousSibling !== homes[key].prev) {
        homes[key].parent.insertBefore(row, homes[key].next);
      }
    });
  }
  board.querySelectorAll("tr.row").forEach(function (row) {
    homes[row.getAttribute("data-key")] = { parent: row.parentNode, prev: row.previousSibling, next: row.nextSibling };
    var button = document.createElement("button");
    button.type = "button";
    button.className = "star";
    button.addEventListener("click", function () {
      var mine = load();
      var key = row.getAttribute("data-key");
      var at = mine.indexOf(key);
      if (at >= 0) { mine.splice(at, 1); } else { mine.push(key); }
      save(mine);
      place();
      button.focus();
    });
    row.querySelector("th").insertBefore(button, row.querySelector("th").firstChild);
  });
  place();
})();
