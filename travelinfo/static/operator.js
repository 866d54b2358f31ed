/* The operator form's map: clicks add "lat, lon" lines to the coordinates field, which stays
   the source of truth (the form works the same without this script). */
(function () {
  "use strict";
  var el = document.getElementById("opmap");
  var coords = document.getElementById("coords");
  var kind = document.getElementById("geometry_kind");
  if (!el || !coords || !kind || !window.L) { return; }
  el.hidden = false;
  var help = document.getElementById("map-help");
  if (help) { help.hidden = false; }
  var tiles = el.getAttribute("data-tiles");
  var map = L.map(el, { attributionControl: !!tiles }).setView([59.33, 18.07], 10);
  if (tiles) {
    L.tileLayer(tiles, { attribution: el.getAttribute("data-attribution") || "", maxZoom: 18 }).addTo(map);
  }
  var layer = L.layerGroup().addTo(map);

  function points() {
    return coords.value.split("\n").map(function (line) {
      var m = line.trim().match(/^([-+]?\d{1,3}(?:[.,]\d+)?)\s*[,; ]\s*([-+]?\d{1,3}(?:[.,]\d+)?)$/);
      return m ? [parseFloat(m[1].replace(",", ".")), parseFloat(m[2].replace(",", "."))] : null;
    }).filter(function (p) { return p; });
  }

  function redraw(fit) {
    layer.clearLayers();
    var pts = points();
    var style = { color: "#0b57a4", weight: 4, fillOpacity: 0.25 };
    if (kind.value === "line" && pts.length > 1) { L.polyline(pts, style).addTo(layer); }
    else if (kind.value === "area" && pts.length > 2) { L.polygon(pts, style).addTo(layer); }
    pts.forEach(function (p) { L.circleMarker(p, { radius: 6, color: "#0b57a4" }).addTo(layer); });
    if (fit && pts.length) { map.fitBounds(L.latLngBounds(pts).pad(0.3), { maxZoom: 15 }); }
  }

  map.on("click", function (e) {
    if (kind.value === "none") { kind.value = "point"; }
    var line = e.latlng.lat.toFixed(6) + ", " + e.latlng.lng.toFixed(6);
    if (kind.value === "point") { coords.value = line; }
    else { coords.value = (coords.value.trim() ? coords.value.trim() + "\n" : "") + line; }
    redraw(false);
  });
  coords.addEventListener("input", function () { redraw(false); });
  kind.addEventListener("change", function () { redraw(false); });
  var clear = document.createElement("button");
  clear.type = "button";
  clear.className = "secondary";
  clear.textContent = el.getAttribute("data-clear");
  clear.addEventListener("click", function () { coords.value = ""; redraw(false); });
  el.parentNode.insertBefore(clear, el.nextSibling);
  redraw(true);
})();
