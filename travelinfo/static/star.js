/* My lines: the star on each board row, kept in this browser only (no account).
   Without JavaScript the star is a form posting to /mylines, which writes the `mylines` cookie
   and sends the reader back; the server then lists those lines first on the board and on `/`.
   With JavaScript this script takes the form over: the same cookie (and a localStorage copy,
   for a cookie the browser dropped) is written here, the rows move at once, the button keeps
   its label and says its state with aria-pressed, and the list on `/` is fetched again
   (live.js listens to "travelinfo:mylines"). The cookie, when present, is the newer truth:
   the no-JavaScript form writes only it. */
(function () {
  "use strict";
  var KEY = "travelinfo.mylines";
  var YEAR = 31536000;
  function current() {
    return document.cookie.split("; ").filter(function (c) { return c.indexOf("mylines=") === 0; })[0];
  }
  function fromCookie() {  // null: no cookie at all (an empty one is an empty list)
    var c = current();
    if (c === undefined) { return null; }
    try {
      var value = decodeURIComponent(c.slice("mylines=".length));
      return value ? value.split(",") : [];
    } catch (e) { return []; }
  }
  function fromStorage() {
    try {
      var kept = JSON.parse(window.localStorage.getItem(KEY));
      return Array.isArray(kept) ? kept.filter(function (k) { return typeof k === "string"; }) : [];
    } catch (e) { return []; }
  }
  function load() {
    var c = fromCookie();
    return c === null ? fromStorage() : c;
  }
  function cookie(keys) {  // whether the cookie changed
    var value = encodeURIComponent(keys.join(","));
    if (current() === "mylines=" + value) { return false; }
    document.cookie = "mylines=" + value + "; path=/; max-age=" + YEAR + "; SameSite=Lax";
    return true;
  }
  function store(keys) {
    try { window.localStorage.setItem(KEY, JSON.stringify(keys)); } catch (e) { /* private mode */ }
  }
  function changed() { document.dispatchEvent(new CustomEvent("travelinfo:mylines")); }
  var mine = load();
  store(mine);
  var list = document.getElementById("list");
  // Stars kept before the cookie existed (or a dropped cookie): the server learns them now.
  if (cookie(mine) && list && list.getAttribute("data-mine") !== mine.join(",")) { changed(); }
  var board = document.querySelector("table.board tbody");
  if (!board) { return; }
  var head = board.querySelector("tr.grp.mine");
  var only = head.querySelector("a.only-mine");
  var lang = document.documentElement.lang;
  function onlyHref(keys) {  // the server's filters.mine_qs
    function part(name, prefix) {
      var names = keys.filter(function (k) { return k.indexOf(prefix) === 0; })
        .map(function (k) { return encodeURIComponent(k.slice(prefix.length)); });
      return names.length ? [name + "=" + names.join(",")] : [];
    }
    return "/?" + part("line", "line:").concat(part("road", "road:"), ["lang=" + encodeURIComponent(lang)]).join("&");
  }
  function order(tr) { return Number(tr.getAttribute("data-order")); }
  function place() {
    var rows = Array.prototype.slice.call(board.querySelectorAll("tr.row"));
    var groups = Array.prototype.slice.call(board.querySelectorAll("tr.grp:not(.mine)"));
    var starred = rows.filter(function (r) { return mine.indexOf(r.getAttribute("data-key")) >= 0; });
    var anchor = head;
    starred.sort(function (a, b) { return order(a) - order(b); }).forEach(function (r) {
      board.insertBefore(r, anchor.nextSibling);
      anchor = r;
    });
    groups.sort(function (a, b) { return order(a) - order(b); }).forEach(function (g) {
      board.insertBefore(g, anchor.nextSibling);
      anchor = g;
      var own = rows.filter(function (r) {
        return starred.indexOf(r) < 0 && r.getAttribute("data-group-order") === g.getAttribute("data-order");
      }).sort(function (a, b) { return order(a) - order(b); });
      own.forEach(function (r) { board.insertBefore(r, anchor.nextSibling); anchor = r; });
      g.hidden = own.length === 0;
    });
    head.hidden = starred.length === 0;
    only.href = onlyHref(starred.map(function (r) { return r.getAttribute("data-key"); }));
    rows.forEach(function (r) {
      var on = starred.indexOf(r) >= 0;
      var button = r.querySelector("button.star");
      button.setAttribute("aria-pressed", on ? "true" : "false");
      button.setAttribute("aria-label", button.getAttribute("data-add"));  // a toggle keeps its name
      button.value = on ? "remove" : "add";
      button.textContent = on ? "\u2605" : "\u2606";
    });
  }
  board.querySelectorAll("tr.row form.star").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var key = form.closest("tr").getAttribute("data-key");
      mine = load();
      var at = mine.indexOf(key);
      if (at >= 0) { mine.splice(at, 1); } else { mine.push(key); }
      store(mine);
      cookie(mine);
      place();
      form.querySelector("button").focus();  // moving the row must not lose the reader's place
      changed();
    });
  });
  place();
})();
