// The offline region map: Leaflet with no tile server. The region's roads and towns come
// as GeoJSON from the server; units, incidents and hospitals are drawn on top.
/* global L */
import { api, localName, t } from "./common.js";
import { availabilityClass } from "./domain.js";

const ROAD_STYLE = {
  trunk: { color: "#e09a2b", weight: 5, opacity: 1 },
  secondary: { color: "#f3c76b", weight: 3.5, opacity: 1 },
  local: { color: "#ffffff", weight: 2.5, opacity: 1 },
  street: { color: "#ffffff", weight: 1.2, opacity: 0.9 },
};

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
  const drawTowns = () => {
    towns.clearLayers();
    for (const f of townFeatures) {
      const [lon, lat] = f.geometry.coordinates;
      L.marker([lat, lon], {
        icon: L.divIcon({ className: "town-label", html: `<span>${escapeHtml(localName(f.properties))}</span>`, iconSize: null }),
        interactive: false,
        keyboard: false,
      }).addTo(towns);
    }
  };
  drawTowns();
  const bbox = region.bbox;
  if (bbox) map.fitBounds([[bbox[1], bbox[0]], [bbox[3], bbox[2]]], { padding: [10, 10] });
  else map.fitBounds(roads.getBounds());
  if (onClick) map.on("click", (ev) => onClick(ev.latlng));
  const layers = {
    hospitals: L.layerGroup().addTo(map),
    incidents: L.layerGroup().addTo(map),
    units: L.layerGroup().addTo(map),
    pick: L.layerGroup().addTo(map),
  };
  return { map, layers, towns: townFeatures, redrawTowns: drawTowns };
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
        html: `<span class="h-mark">H</span><span class="h-name">${escapeHtml(localName(h))}</span>`,
        iconSize: null,
      }),
      title: `${localName(h)} — ${t(`map.h_${cls}`)}`,
      keyboard: false,
    });
    marker.bindTooltip(`${escapeHtml(localName(h))}<br>${t(`map.h_${cls}`)} · ${t("hospital.free_beds", { n: free })}`);
    marker.addTo(ctx.layers.hospitals);
  }
}

export function drawUnits(ctx, units, { onSelect } = {}) {
  ctx.layers.units.clearLayers();
  for (const u of units) {
    const marker = L.marker([u.lat, u.lon], {
      icon: L.divIcon({
        className: `map-unit mu-${u.status}`,
        html: `<span>${escapeHtml(u.call_sign)}</span>`,
        iconSize: null,
      }),
      title: `${u.call_sign} — ${t(`status.${u.status}`)}`,
      keyboard: false,
      zIndexOffset: 500,
    });
    if (onSelect) marker.on("click", () => onSelect(u));
    marker.addTo(ctx.layers.units);
  }
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
}
