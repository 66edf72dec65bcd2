/* The office map (sync_server/web/office/map_views.py): facilities as dots coloured by state.
 * Reads its data from <script type="application/json" id="map-data">; no inline code, no
 * request to any other host unless the office configured a tile server (office.tile_url).
 * Names come from the database, so they are put into the page as text, never as HTML. */
(function () {
  "use strict";
  var source = document.getElementById("map-data");
  var box = document.getElementById("map");
  if (!source || !box || typeof L === "undefined") {
    return;
  }
  var data = JSON.parse(source.textContent);
  if (!data.points.length) {
    return;
  }
  box.hidden = false;

  function text(s) {
    var div = document.createElement("div");
    div.textContent = s;
    return div.innerHTML;
  }

  function label(s) {
    var span = document.createElement("span");
    span.textContent = s;
    return span;
  }

  function popup(p) {
    var root = document.createElement("div");
    root.className = "map-popup";
    var title = document.createElement("strong");
    title.textContent = p.name;
    root.appendChild(title);
    if (p.address) {
      var addr = document.createElement("div");
      addr.textContent = p.address;
      root.appendChild(addr);
    }
    var state = document.createElement("span");
    state.className = "state state-" + p.state;
    state.textContent = p.state_label;
    root.appendChild(state);
    var link = document.createElement("a");
    link.href = p.url;
    link.textContent = data.strings.open + " " + p.code;
    root.appendChild(document.createElement("br"));
    root.appendChild(link);
    return root;
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

  // The view first: Leaflet only draws (and gives elements to) layers of a map with a view.
  var latlngs = data.points.map(function (p) {
    return [p.lat, p.lon];
  });
  if (latlngs.length === 1) {
    map.setView(latlngs[0], 12);
  } else {
    map.fitBounds(L.latLngBounds(latlngs), { padding: [30, 30], maxZoom: 14 });
  }
  // Without a tile server the dots have no streets around them: name them all while there
  // are few enough to read (a province's facilities); past that, names show on hover.
  var named = !data.tiles && data.points.length <= 40;
  data.points.forEach(function (p, i) {
    var marker = L.circleMarker(latlngs[i], {
      radius: 9,
      weight: 2,
      color: "#ffffff",
      fillColor: p.colour,
      fillOpacity: 0.95,
      className: "fac-marker fac-" + p.state,
    })
      .bindTooltip(label(p.name), { permanent: named, direction: "right", offset: [8, 0] })
      .bindPopup(popup(p))
      .addTo(map);
    marker.getElement().setAttribute("data-facility", p.code);
  });
})();
