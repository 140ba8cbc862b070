// The offline region map: Leaflet with no tile server. The region's roads and towns come
// as GeoJSON from the server; units, incidents and hospitals are drawn on top. Markers
// that would cover one another are moved apart a little (hospitals stay put, then
// incidents, then units; labels.js), then the labels are placed so that none overlaps
// another or a marker: unit call signs first, then hospital names, then towns; a label
// with no free spot is hidden and its marker keeps its tooltip. Both are done again
// after every zoom, pan and redraw.
/* global L */
import { api, callSign, localName, t } from "./common.js";
import { availabilityClass } from "./domain.js";
import { mapName, placeLabels, spreadMarkers } from "./labels.js";

const ROAD_STYLE = {
  trunk: { color: "#e09a2b", weight: 5, opacity: 1 },
  secondary: { color: "#f3c76b", weight: 3.5, opacity: 1 },
  local: { color: "#ffffff", weight: 2.5, opacity: 1 },
  street: { color: "#ffffff", weight: 1.2, opacity: 0.9 },
};

// Marker radii in pixels, kept clear of labels (see app.css).
const RADIUS = { unit: 6, hospital: 12, town: 2, incident: 15 };

export async function createMap(container, { onClick } = {}) {
  const map = L.map(container, {
    zoomControl: true,
    attributionControl: false,
    preferCanvas: false,
    zoomSnap: 0.25,
  });
  const region = await api("/api/v1/region/roads.geojson");
  const roads = L.geoJSON(region, {
    filter: (f) => f.geometry.type !== "Point",
    style: (f) => ROAD_STYLE[f.properties?.class] || ROAD_STYLE.local,
    interactive: false,
  }).addTo(map);
  const towns = L.layerGroup().addTo(map);
  const townFeatures = region.features.filter((f) => f.geometry.type === "Point");
  const layers = {
    towns,
    hospitals: L.layerGroup().addTo(map),
    incidents: L.layerGroup().addTo(map),
    units: L.layerGroup().addTo(map),
    pick: L.layerGroup().addTo(map),
  };
  const ctx = { map, layers, towns: townFeatures, redrawTowns: null, relayout: null };
  let frame = 0;
  ctx.relayout = () => {
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(() => layoutLabels(ctx));
  };
  ctx.redrawTowns = () => {
    towns.clearLayers();
    // The biggest towns get their labels first.
    const byPopulation = [...townFeatures].sort((a, b) => (b.properties.population || 0) - (a.properties.population || 0));
    for (const f of byPopulation) {
      const [lon, lat] = f.geometry.coordinates;
      L.marker([lat, lon], {
        icon: L.divIcon({
          className: "town-label",
          html: `<i class="town-dot"></i><span class="map-label">${escapeHtml(localName(f.properties))}</span>`,
          iconSize: null,
        }),
        interactive: false,
        keyboard: false,
      }).addTo(towns);
    }
    ctx.relayout();
  };
  ctx.redrawTowns();
  const bbox = region.bbox;
  if (bbox) map.fitBounds([[bbox[1], bbox[0]], [bbox[3], bbox[2]]], { padding: [10, 10] });
  else map.fitBounds(roads.getBounds());
  if (onClick) map.on("click", (ev) => onClick(ev.latlng));
  map.on("zoomend moveend resize", ctx.relayout);
  return ctx;
}

/** Move overlapping markers apart, measure every label, place them (labels.js) and
 * move each to its spot. */
function layoutLabels(ctx) {
  const { map, layers } = ctx;
  const size = map.getSize();
  // Every marker with its point, most important (and never moved) first.
  const markers = [];
  const gather = (layer, kind, fixed) => {
    let n = 0;
    layer.eachLayer((marker) => {
      const element = marker.getElement?.();
      if (!element) return;
      const p = map.latLngToContainerPoint(marker.getLatLng());
      markers.push({ id: `${kind}-${n++}`, kind, element, x: p.x, y: p.y, r: RADIUS[kind], fixed });
    });
  };
  gather(layers.hospitals, "hospital", true);
  gather(layers.incidents, "incident", false);
  gather(layers.units, "unit", false);
  gather(layers.towns, "town", true);
  // Towns are only dots: nothing is moved off them.
  const moved = spreadMarkers(markers.filter((m) => m.kind !== "town"));
  const labels = [];
  const obstacles = [];
  const nodes = new Map();
  for (const m of markers) {
    const { dx, dy } = moved[m.id] || { dx: 0, dy: 0 };
    // ``translate`` adds to the transform Leaflet positions the marker with.
    m.element.style.translate = dx || dy ? `${dx}px ${dy}px` : "";
    const x = m.x + dx;
    const y = m.y + dy;
    obstacles.push({ left: x - m.r, top: y - m.r, width: 2 * m.r, height: 2 * m.r });
    const node = m.element.querySelector(".map-label");
    if (!node || !node.textContent.trim()) {
      if (node) node.style.visibility = "hidden"; // never an empty box
      continue;
    }
    nodes.set(m.id, node);
    const busy = m.kind === "unit" && !m.element.matches(".mu-available, .mu-out_of_service");
    labels.push({ id: m.id, kind: m.kind, busy, x, y, w: node.offsetWidth, h: node.offsetHeight, r: m.r });
  }
  // Busy units' call signs first, then the hospitals (landmarks the crews drive to),
  // then the units waiting at their stations, then the towns.
  const rank = (l) => (l.kind === "unit" ? (l.busy ? 0 : 2) : l.kind === "hospital" ? 1 : 3);
  labels.sort((a, b) => rank(a) - rank(b));
  const placed = placeLabels(labels, { obstacles, bounds: { width: size.x, height: size.y } });
  for (const [id, node] of nodes) {
    const spot = placed[id];
    node.dataset.side = spot.side;
    if (spot.side === "hidden") {
      node.style.visibility = "hidden";
      continue;
    }
    node.style.visibility = "";
    node.style.left = `${Math.round(spot.left)}px`;
    node.style.top = `${Math.round(spot.top)}px`;
  }
}

export function escapeHtml(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

export function drawHospitals(ctx, hospitals) {
  ctx.layers.hospitals.clearLayers();
  for (const h of hospitals) {
    const cls = availabilityClass(h, Date.now());
    const free = (h.beds || []).filter((b) => !b.stale).reduce((n, b) => n + (b.available || 0), 0);
    const marker = L.marker([h.lat, h.lon], {
      icon: L.divIcon({
        className: `map-hospital h-${cls}`,
        html: `<span class="h-mark">H</span><span class="h-name map-label">${escapeHtml(mapName(localName(h)))}</span>`,
        iconSize: null,
      }),
      title: `${localName(h)} — ${t(`map.h_${cls}`)}`,
      keyboard: false,
    });
    marker.bindTooltip(`${escapeHtml(localName(h))}<br>${t(`map.h_${cls}`)} · ${t("hospital.free_beds", { n: free })}`);
    marker.addTo(ctx.layers.hospitals);
  }
  ctx.relayout?.();
}

// Busy units' labels are placed first, then the available ones', then those out of service.
const unitPriority = (status) => (status === "available" ? 1 : status === "out_of_service" ? 2 : 0);

export function drawUnits(ctx, units, { onSelect } = {}) {
  ctx.layers.units.clearLayers();
  const ordered = [...units].sort((a, b) => unitPriority(a.status) - unitPriority(b.status));
  for (const u of ordered) {
    const name = callSign(u.call_sign);
    const marker = L.marker([u.lat, u.lon], {
      icon: L.divIcon({
        className: `map-unit mu-${u.status}`,
        html: `<i class="unit-dot"></i><span class="map-label">${escapeHtml(name)}</span>`,
        iconSize: null,
      }),
      title: `${name} — ${t(`status.${u.status}`)}`,
      keyboard: false,
      zIndexOffset: 500,
    });
    if (onSelect) marker.on("click", () => onSelect(u));
    marker.addTo(ctx.layers.units);
  }
  ctx.relayout?.();
}

export function drawIncidents(ctx, incidents, { selectedId, onSelect } = {}) {
  ctx.layers.incidents.clearLayers();
  for (const i of incidents) {
    const marker = L.marker([i.lat, i.lon], {
      icon: L.divIcon({
        className: `map-incident u-${i.urgency}${i.id === selectedId ? " selected" : ""}`,
        html: `<span class="pulse"></span><span class="dot">${i.id}</span>`,
        iconSize: [28, 28],
        iconAnchor: [14, 14],
      }),
      title: `#${i.id} ${i.chief_complaint}`,
      keyboard: false,
      zIndexOffset: 1000,
    });
    if (onSelect) marker.on("click", () => onSelect(i.id));
    marker.addTo(ctx.layers.incidents);
  }
  ctx.relayout?.();
}
