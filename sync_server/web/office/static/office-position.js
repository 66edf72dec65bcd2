/* The facility form's position picker (sync_server/web/office/fleet_views.py, map_views.py):
 * a click on the map (or dragging the pin) writes the latitude and longitude fields; typing in
 * the fields moves the pin. Without JavaScript the map stays hidden and the typed fields work
 * alone. Data from <script type="application/json" id="position-map-data">; no inline code, no
 * request to any other host unless the office configured a tile server (office.tile_url). */
(function () {
  "use strict";
  var source = document.getElementById("position-map-data");
  var wrap = document.getElementById("position-pick");
  var box = document.getElementById("position-map");
  var form = box && box.closest("form");
  if (!source || !wrap || !form || typeof L === "undefined") {
    return;
  }
  var latField = form.elements.namedItem("lat");
  var lonField = form.elements.namedItem("lon");
  if (!latField || !lonField) {
    return;
  }
  var data = JSON.parse(source.textContent);
  // Without tiles or known facilities the map would be an empty field: Vietnam's middle then.
  var COUNTRY = [16.2, 106.3];
  wrap.hidden = false;

  function text(s) {
    var div = document.createElement("div");
    div.textContent = s;
    return div.innerHTML;
  }

  function degrees(field, limit) {
    // The server accepts a decimal comma too (fleet.py _degrees).
    var raw = field.value.trim().replace(",", ".");
    if (!raw) {
      return null;
    }
    var x = Number(raw);
    return isFinite(x) && Math.abs(x) <= limit ? x : null;
  }

  function typed() {
    var lat = degrees(latField, 90);
    var lon = degrees(lonField, 180);
    return lat === null || lon === null ? null : L.latLng(lat, lon);
  }

  var map = L.map(box, {
    zoomSnap: 0.5,
    maxZoom: 18,
    attributionControl: Boolean(data.tiles),
  });
  if (data.tiles) {
    // The attribution control renders HTML: pass the configured text escaped.
    L.tileLayer(data.tiles.url, {
      maxZoom: 18,
      attribution: text(data.tiles.attribution || ""),
    }).addTo(map);
  }
  L.control.scale({ imperial: false }).addTo(map);

  var here = typed();
  var others = data.others.map(function (o) {
    return [o.lat, o.lon];
  });
  if (here) {
    map.setView(here, 13);
  } else if (others.length === 1) {
    map.setView(others[0], 11);
  } else if (others.length) {
    map.fitBounds(L.latLngBounds(others), { padding: [30, 30], maxZoom: 13 });
  } else {
    map.setView(COUNTRY, 5);
  }

  // The other facilities, for orientation on a plain background; clicks pass through them.
  var named = !data.tiles && others.length <= 40;
  data.others.forEach(function (o, i) {
    var label = document.createElement("span");
    label.textContent = o.name;
    L.circleMarker(others[i], {
      radius: 6,
      weight: 2,
      color: "#ffffff",
      fillColor: "#7a7a7a",
      fillOpacity: 0.9,
      interactive: false,
      className: "pick-other",
    })
      .bindTooltip(label, { permanent: named, direction: "right", offset: [6, 0] })
      .addTo(map);
  });

  var pin = null;

  function place(latlng) {
    if (pin) {
      pin.setLatLng(latlng);
      return;
    }
    pin = L.marker(latlng, {
      draggable: true,
      alt: wrap.getAttribute("data-pin") || "",
      icon: new L.Icon.Default({ className: "pick-pin" }),
    }).addTo(map);
    pin.on("dragend", function () {
      write(pin.getLatLng());
    });
  }

  function write(latlng) {
    var p = latlng.wrap();
    // Six decimals: about 0.1 m, finer than a phone's GPS.
    latField.value = p.lat.toFixed(6);
    lonField.value = p.lng.toFixed(6);
    latField.removeAttribute("aria-invalid");
    lonField.removeAttribute("aria-invalid");
  }

  if (here) {
    place(here);
  }
  map.on("click", function (e) {
    write(e.latlng);
    place(e.latlng.wrap());
  });
  function follow() {
    var p = typed();
    if (!p) {
      return;
    }
    place(p);
    if (!map.getBounds().contains(p)) {
      map.panTo(p);
    }
  }
  latField.addEventListener("input", follow);
  lonField.addEventListener("input", follow);
})();
