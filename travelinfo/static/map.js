/* Maps with Leaflet (served from the XStatic-Leaflet package): the list stays the primary view.
   #map carries its features as JSON in data-features; a base map only when a tile URL is set. */
(function () {
  "use strict";
  var COLOURS = { SEVERE: "#a4000f", WARNING: "#8a4b00", INFO: "#205e2f" };
  var NETWORK = { metro: "#4a6fa5", rail: "#6b5b95", tram: "#5b8a72", ferry: "#3f88a8", bus: "#8c8c8c" };

  /* The reference network as a faint base layer in its own pane under the items: lines
     (class ti-network) and stops (ti-stop), never counted as the items' features. */
  function network(el, map) {
    var url = el.getAttribute("data-network");
    if (!url || !window.fetch) { return; }
    map.createPane("network").style.zIndex = 350;
    window.fetch(url, { credentials: "same-origin" }).then(function (r) {
      return r.ok ? r.json() : null;
    }).then(function (doc) {
      if (!doc || !doc.features) { return; }
      var STOP = { radius: 3, color: "#5a5a5a", weight: 1, opacity: 0.6, fillColor: "#ffffff", fillOpacity: 0.8,
                   className: "ti-stop", interactive: false, pane: "network" };
      L.geoJSON(doc, {
        pane: "network",
        interactive: false,
        style: function (f) {  // Leaflet applies it to the stops' markers too
          var p = f.properties || {};
          if (p.kind === "stop") { return STOP; }
          return { color: p.colour || NETWORK[p.mode] || "#767676", weight: 3, opacity: 0.45,
                   className: "ti-network", interactive: false, pane: "network" };
        },
        pointToLayer: function (_, latlng) { return L.circleMarker(latlng, STOP); }
      }).addTo(map);
      el.classList.add("network-drawn");
    }).catch(function () { /* the items are drawn without their context */ });
  }

  function draw(el) {
    if (!window.L || el.getAttribute("data-drawn")) { return; }
    el.setAttribute("data-drawn", "1");
    var features = JSON.parse(el.getAttribute("data-features") || "[]");
    var tiles = el.getAttribute("data-tiles");
    var map = L.map(el, { scrollWheelZoom: false, attributionControl: !!tiles, zoomSnap: 0.5 });
    if (tiles) {
      L.tileLayer(tiles, { attribution: el.getAttribute("data-attribution") || "", maxZoom: 18 }).addTo(map);
    }
    network(el, map);
    var group = L.featureGroup().addTo(map);
    // "My lines" (listed first) are drawn last, on top, with a heavier stroke.
    features.filter(function (f) { return !f.mine; }).concat(features.filter(function (f) { return f.mine; }))
      .forEach(function (f) {
      var style = {
        color: f.ended ? "#767676" : (COLOURS[f.severity] || "#0b57a4"),
        weight: f.mine ? 7 : 4, opacity: 0.9, fillOpacity: 0.25, interactive: false,
        className: f.mine ? "ti-feature mine" : "ti-feature"
      };
      L.geoJSON(f.geometry, {
        style: function () { return style; },
        pointToLayer: function (_, latlng) { return L.circleMarker(latlng, L.extend({ radius: 8 }, style)); }
      }).addTo(group);
    });
    var bounds = group.getBounds();
    if (bounds.isValid()) { map.fitBounds(bounds.pad(0.2), { maxZoom: 15 }); } else { map.setView([59.33, 18.07], 10); }
    el.classList.add("drawn");
    var sketch = document.querySelector(".sketch");
    if (sketch) { sketch.hidden = true; }
  }

  var el = document.getElementById("map");
  if (!el) { return; }
  el.hidden = false;
  var box = el.closest("details");
  if (box) {
    if (box.open) { draw(el); }
    box.addEventListener("toggle", function () { if (box.open) { draw(el); } });
  } else {
    draw(el);
  }
})();
