// Dispatcher console: incident queue and new-call form, unit board, offline map,
// recommendations with one-click assignment, parallel hospital requests and the live KPI panel.
import {
  coalesce,
  fill,
  api,
  el,
  errorText,
  fmtEta,
  fmtMinutes,
  fmtRelative,
  fmtTime,
  liveEvents,
  localName,
  onLangChange,
  startPage,
  t,
  TIMELINE,
  toast,
} from "./common.js";
import { availabilityClass, createMap, drawHospitals, drawIncidents, drawUnits } from "./map.js";
import { renderKpi } from "./kpi.js";
import { listOf, reasonText, renderRequests, renderTimeline, toastAnswer } from "./shared-views.js";

const s = await startPage(["dispatcher"]);

const CONDITIONS = [
  "",
  "cardiac_arrest",
  "chest_pain_stemi",
  "stroke",
  "major_trauma",
  "burns",
  "respiratory",
  "paediatric",
  "obstetric",
  "psychiatric",
  "other",
];

const state = {
  incidents: [],
  units: [],
  hospitals: [],
  transports: [],
  stations: new Map(),
  selectedId: null,
  filter: "open",
  unitRecs: new Map(),
  hospitalRecs: new Map(),
  requests: new Map(),
  chosenHospitals: new Map(),
  suggested: new Map(),
  stats: null,
};

const byId = (list, id) => list.find((x) => x.id === id);
const transportOf = (incident) =>
  state.transports.find((tr) => tr.incident_id === incident.id) ||
  (incident.transport_id ? byId(state.transports, incident.transport_id) : undefined);

// --- map -------------------------------------------------------------------------
const mapCtx = await createMap(document.getElementById("map"), {
  onClick: (latlng) => {
    const form = document.getElementById("new-call");
    if (form.hidden) return;
    setPickedLocation(latlng.lat, latlng.lng);
  },
});

function setPickedLocation(lat, lon) {
  const form = document.getElementById("new-call");
  form.lat.value = lat.toFixed(5);
  form.lon.value = lon.toFixed(5);
  mapCtx.layers.pick.clearLayers();
  L.circleMarker([lat, lon], { radius: 9, color: "#d7263d", weight: 3, fillOpacity: 0.3 }).addTo(
    mapCtx.layers.pick,
  );
  document.getElementById("location-hint").textContent = t("dispatch.location_set", {
    lat: lat.toFixed(4),
    lon: lon.toFixed(4),
  });
}

function redrawMap() {
  drawHospitals(mapCtx, state.hospitals);
  drawUnits(mapCtx, state.units);
  drawIncidents(
    mapCtx,
    state.incidents.filter((i) => i.status === "pending" || i.status === "assigned"),
    { selectedId: state.selectedId, onSelect: select },
  );
}

// --- loading -----------------------------------------------------------------------
async function loadIncidents() {
  state.incidents = listOf(await api("/api/v1/incidents"));
  renderQueue();
}
async function loadUnits() {
  state.units = listOf(await api("/api/v1/units"));
  renderUnits();
}
async function loadHospitals() {
  state.hospitals = listOf(await api("/api/v1/hospitals"));
}
async function loadTransports() {
  state.transports = listOf(await api("/api/v1/transports?active=true"));
}
async function loadStats() {
  try {
    state.stats = await api("/api/v1/stats/today");
  } catch {
    state.stats = null;
  }
  renderKpi(document.getElementById("kpi-body"), state.stats, document.getElementById("kpi-count"));
}

async function loadAll() {
  await Promise.all([loadHospitals(), loadTransports()]);
  await Promise.all([loadIncidents(), loadUnits(), loadStats()]);
  redrawMap();
  if (state.selectedId) await loadDetail(state.selectedId);
}

// --- queue ---------------------------------------------------------------------------
const URGENCY_RANK = { critical: 0, serious: 1, moderate: 2, minor: 3 };

function renderQueue() {
  const list = document.getElementById("incident-list");
  const shown = state.incidents
    .filter((i) => state.filter === "all" || i.status === "pending" || i.status === "assigned")
    .sort((a, b) => {
      const pa = a.status === "pending" ? 0 : 1;
      const pb = b.status === "pending" ? 0 : 1;
      return pa - pb || URGENCY_RANK[a.urgency] - URGENCY_RANK[b.urgency] || b.id - a.id;
    });
  fill(list, 
    ...shown.map((i) => {
      const tr = transportOf(i);
      const unit = tr ? byId(state.units, tr.unit_id) : i.unit_id ? byId(state.units, i.unit_id) : null;
      return el(
        "li",
        {},
        el(
          "button",
          {
            type: "button",
            class: `incident-card u-${i.urgency}${i.id === state.selectedId ? " selected" : ""}`,
            "aria-current": i.id === state.selectedId ? "true" : null,
            dataset: { incidentId: i.id },
            onclick: () => select(i.id),
          },
          el(
            "div",
            { class: "ic-top" },
            el("span", { class: `badge urg-${i.urgency}` }, t(`urgency.${i.urgency}`)),
            el("span", { class: "ic-id" }, `#${i.id}`),
            el("span", { class: `badge st-inc-${i.status}` }, t(`incident_status.${i.status}`)),
            el("span", { class: "ic-time" }, fmtRelative(i.received_at)),
          ),
          el("div", { class: "ic-complaint" }, i.chief_complaint),
          el(
            "div",
            { class: "ic-meta" },
            el("span", {}, i.address || "—"),
            unit ? el("span", { class: "ic-unit" }, `${unit.call_sign}`) : null,
          ),
        ),
      );
    }),
  );
  if (!shown.length) list.append(el("li", { class: "empty" }, t("dispatch.no_incidents")));
}

for (const chip of document.querySelectorAll("[data-filter]")) {
  chip.addEventListener("click", () => {
    state.filter = chip.dataset.filter;
    for (const c of document.querySelectorAll("[data-filter]")) {
      c.classList.toggle("active", c === chip);
      c.setAttribute("aria-pressed", String(c === chip));
    }
    renderQueue();
  });
}

// --- new call --------------------------------------------------------------------------
const form = document.getElementById("new-call");
const toggle = document.getElementById("new-call-toggle");

function fillSelects() {
  const cond = document.getElementById("condition-select");
  const chosen = cond.value;
  fill(cond, 
    ...CONDITIONS.map((c) => el("option", { value: c }, t(c ? `condition.${c}` : "condition.unknown"))),
  );
  cond.value = chosen;
  const town = document.getElementById("town-select");
  const chosenTown = town.value;
  fill(town, 
    el("option", { value: "" }, t("incident.town_pick")),
    ...mapCtx.towns.map((f, idx) => el("option", { value: String(idx) }, localName(f.properties))),
  );
  town.value = chosenTown;
}
fillSelects();

document.getElementById("town-select").addEventListener("change", (ev) => {
  const f = mapCtx.towns[Number(ev.target.value)];
  if (!f || ev.target.value === "") return;
  const [lon, lat] = f.geometry.coordinates;
  setPickedLocation(lat, lon);
  if (!form.address.value) form.address.value = localName(f.properties);
  mapCtx.map.panTo([lat, lon]);
});

function openForm(open) {
  form.hidden = !open;
  toggle.setAttribute("aria-expanded", String(open));
  if (open) form.chief_complaint.focus();
  else mapCtx.layers.pick.clearLayers();
}
toggle.addEventListener("click", () => openForm(form.hidden));
document.getElementById("new-call-cancel").addEventListener("click", () => openForm(false));

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const err = form.querySelector(".form-error");
  err.hidden = true;
  if (!form.chief_complaint.value.trim() || !form.address.value.trim() || !form.lat.value) {
    err.textContent = t("dispatch.form_incomplete");
    err.hidden = false;
    return;
  }
  const body = {
    chief_complaint: form.chief_complaint.value.trim(),
    urgency: form.urgency.value,
    address: form.address.value.trim(),
    lat: Number(form.lat.value),
    lon: Number(form.lon.value),
  };
  if (form.suspected_condition.value) body.suspected_condition = form.suspected_condition.value;
  if (form.patient_age.value) body.patient_age = Number(form.patient_age.value);
  if (form.patient_sex.value) body.patient_sex = form.patient_sex.value;
  if (form.caller_name.value.trim()) body.caller_name = form.caller_name.value.trim();
  if (form.caller_phone.value.trim()) body.caller_phone = form.caller_phone.value.trim();
  if (form.caller_account.value.trim()) body.caller_account = form.caller_account.value.trim();
  try {
    const created = await api("/api/v1/incidents", { method: "POST", body });
    form.reset();
    openForm(false);
    toast(t("dispatch.call_registered", { id: created.id }), "ok");
    await loadIncidents();
    redrawMap();
    await select(created.id);
  } catch (e) {
    err.textContent = errorText(e);
    err.hidden = false;
  }
});

// --- detail ------------------------------------------------------------------------------
async function select(id) {
  state.selectedId = id;
  renderQueue();
  redrawMap();
  await loadDetail(id);
}

async function loadDetail(id) {
  const incident = byId(state.incidents, id);
  if (!incident) return;
  const tr = transportOf(incident);
  const jobs = [];
  if (incident.status === "pending") {
    jobs.push(
      api(`/api/v1/dispatch/unit-recommendations?incident_id=${id}`)
        .then((r) => state.unitRecs.set(id, listOf(r, "hospitals")))
        .catch((e) => state.unitRecs.set(id, { error: e })),
    );
  }
  if (tr) {
    jobs.push(
      api(`/api/v1/transports/${tr.id}/hospital-recommendations`)
        .then((r) => {
          state.hospitalRecs.set(tr.id, listOf(r, "hospitals"));
          state.suggested.set(tr.id, r?.suggested || []);
        })
        .catch((e) => state.hospitalRecs.set(tr.id, { error: e })),
    );
    jobs.push(loadRequests(tr.id));
  }
  await Promise.all(jobs);
  if (state.selectedId === id) renderDetail();
}

async function loadRequests(transportId) {
  try {
    const detail = await api(`/api/v1/transports/${transportId}`);
    const idx = state.transports.findIndex((x) => x.id === transportId);
    if (idx >= 0) state.transports[idx] = { ...state.transports[idx], ...detail };
    state.requests.set(transportId, listOf(await api(`/api/v1/hospital-requests?transport_id=${transportId}`)));
  } catch {
    /* the panel shows what it has; the next event reloads it */
  }
}

function renderDetail() {
  const body = document.getElementById("detail-body");
  const incident = byId(state.incidents, state.selectedId);
  if (!incident) {
    fill(body, el("p", { class: "empty" }, t("dispatch.select_incident")));
    return;
  }
  const tr = transportOf(incident);
  const parts = [
    el(
      "div",
      { class: `detail-head u-${incident.urgency}` },
      el(
        "div",
        { class: "detail-badges" },
        el("span", { class: `badge urg-${incident.urgency}` }, t(`urgency.${incident.urgency}`)),
        el("span", { class: `badge st-inc-${incident.status}` }, t(`incident_status.${incident.status}`)),
        el("span", { class: "muted" }, `#${incident.id} · ${fmtTime(incident.received_at)} (${fmtRelative(incident.received_at)})`),
      ),
      el("h3", { class: "detail-title" }, incident.chief_complaint),
      el("p", { class: "detail-addr" }, incident.address || "—"),
      el(
        "dl",
        { class: "facts" },
        factRow(t("incident.patient"), patientText(incident)),
        incident.suspected_condition
          ? factRow(t("incident.suspected_condition"), t(`condition.${incident.suspected_condition}`))
          : null,
        incident.caller_account ? factRow(t("incident.caller_account"), incident.caller_account) : null,
      ),
    ),
  ];
  if (incident.status === "pending") parts.push(renderUnitRecs(incident));
  if (tr) {
    const unit = byId(state.units, tr.unit_id);
    parts.push(
      el(
        "section",
        { class: "sub" },
        el("h4", {}, t("dispatch.transport"), " ", el("span", { class: "muted" }, unit ? `${unit.call_sign}` : "")),
        renderTimeline(tr),
      ),
    );
    parts.push(renderHospitalRecs(tr));
    parts.push(
      el(
        "section",
        { class: "sub" },
        el("h4", {}, t("requests.title")),
        renderRequests(state.requests.get(tr.id) || [], state.hospitals),
      ),
    );
  }
  if (incident.status === "pending" || incident.status === "assigned") {
    parts.push(
      el(
        "div",
        { class: "detail-actions" },
        el("button", { type: "button", class: "btn btn-danger-outline", onclick: () => cancelIncident(incident) }, t("dispatch.cancel_incident")),
      ),
    );
  }
  fill(body, ...parts);
}

function factRow(label, value) {
  return el("div", { class: "fact" }, el("dt", {}, label), el("dd", {}, value));
}

function patientText(i) {
  const bits = [];
  if (i.patient_age !== null && i.patient_age !== undefined) bits.push(t("incident.age_n", { n: i.patient_age }));
  if (i.patient_sex) bits.push(t(`sex.${i.patient_sex}`));
  return bits.join(" · ") || t("sex.unknown");
}

function renderUnitRecs(incident) {
  const recs = state.unitRecs.get(incident.id);
  const section = el("section", { class: "sub" }, el("h4", {}, t("dispatch.recommended_units")));
  if (!recs) {
    section.append(el("p", { class: "muted" }, t("common.loading")));
    return section;
  }
  if (recs.error) {
    section.append(el("p", { class: "form-error" }, errorText(recs.error)));
    return section;
  }
  if (!recs.length) {
    section.append(el("p", { class: "empty" }, t("dispatch.no_units")));
    return section;
  }
  const list = el("ol", { class: "rec-list" });
  recs.slice(0, 4).forEach((r, idx) => {
    const unit = byId(state.units, r.unit_id) || {};
    const callSign = r.call_sign || unit.call_sign || `#${r.unit_id}`;
    list.append(
      el(
        "li",
        { class: `rec${idx === 0 ? " rec-top" : ""}` },
        el(
          "div",
          { class: "rec-main" },
          idx === 0 ? el("span", { class: "badge badge-accent" }, t("dispatch.best")) : null,
          el("strong", { class: "rec-name" }, callSign),
          el("span", { class: "rec-eta" }, fmtEta(r.eta_s ?? r.eta_seconds)),
        ),
        el("div", { class: "rec-reasons" }, reasonText(r)),
        el(
          "button",
          {
            type: "button",
            class: idx === 0 ? "btn btn-primary btn-assign" : "btn btn-assign",
            dataset: { assignUnit: r.unit_id },
            "aria-label": t("dispatch.assign", { unit: callSign }),
            onclick: (ev) => assign(incident, r.unit_id, callSign, ev.currentTarget),
          },
          t("dispatch.assign_short"),
        ),
      ),
    );
  });
  section.append(list);
  return section;
}

async function assign(incident, unitId, callSign, button) {
  button.disabled = true;
  try {
    await api(`/api/v1/incidents/${incident.id}/assign`, { method: "POST", body: { unit_id: unitId } });
    toast(t("dispatch.assigned", { unit: callSign, id: incident.id }), "ok");
    await Promise.all([loadTransports(), loadUnits()]);
    await loadIncidents();
    redrawMap();
    await loadDetail(incident.id);
  } catch (e) {
    toast(errorText(e), "error");
    button.disabled = false;
  }
}

async function cancelIncident(incident) {
  if (!confirm(t("dispatch.confirm_cancel", { id: incident.id }))) return;
  try {
    await api(`/api/v1/incidents/${incident.id}/cancel`, { method: "POST", body: {} });
    toast(t("dispatch.cancelled", { id: incident.id }), "ok");
    await loadAll();
  } catch (e) {
    toast(errorText(e), "error");
  }
}

function renderHospitalRecs(tr) {
  const recs = state.hospitalRecs.get(tr.id);
  const section = el("section", { class: "sub" }, el("h4", {}, t("dispatch.recommended_hospitals")));
  if (!recs) return section;
  if (recs.error) {
    section.append(el("p", { class: "form-error" }, errorText(recs.error)));
    return section;
  }
  const suggested = state.suggested.get(tr.id) || [];
  const chosen =
    state.chosenHospitals.get(tr.id) ||
    new Set(suggested.length ? suggested : recs.slice(0, 3).map((r) => r.hospital_id));
  state.chosenHospitals.set(tr.id, chosen);
  const open = (state.requests.get(tr.id) || []).filter((r) => r.status === "sent" || r.status === "accepted");
  const list = el("ul", { class: "rec-list" });
  for (const r of recs.slice(0, 6)) {
    const h = byId(state.hospitals, r.hospital_id) || r.hospital || {};
    const name = localName(r.hospital || h) || localName(r) || `#${r.hospital_id}`;
    const cls = availabilityClass(h);
    const id = `h-${tr.id}-${r.hospital_id}`;
    list.append(
      el(
        "li",
        { class: "rec rec-h" },
        el("input", {
          type: "checkbox",
          id,
          checked: chosen.has(r.hospital_id),
          onchange: (ev) => (ev.target.checked ? chosen.add(r.hospital_id) : chosen.delete(r.hospital_id)),
        }),
        el(
          "label",
          { for: id, class: "rec-main" },
          el("i", { class: `avail-dot h-${cls}`, title: t(`map.h_${cls}`) }),
          el("strong", { class: "rec-name" }, name),
          el("span", { class: "rec-eta" }, fmtEta(r.eta_s ?? r.eta_seconds)),
        ),
        el("div", { class: "rec-reasons" }, reasonText(r)),
      ),
    );
  }
  section.append(list);
  section.append(
    el(
      "button",
      {
        type: "button",
        class: "btn btn-primary",
        disabled: open.some((r) => r.status === "accepted"),
        onclick: (ev) => sendRequests(tr, [...chosen], ev.currentTarget),
      },
      t("requests.send_parallel", { n: chosen.size }),
    ),
  );
  return section;
}

async function sendRequests(tr, hospitalIds, button) {
  if (!hospitalIds.length) {
    toast(t("requests.pick_one"), "error");
    return;
  }
  button.disabled = true;
  try {
    await api(`/api/v1/transports/${tr.id}/hospital-requests`, {
      method: "POST",
      body: { hospital_ids: hospitalIds },
    });
    toast(t("requests.sent", { n: hospitalIds.length }), "ok");
    await loadRequests(tr.id);
    renderDetail();
  } catch (e) {
    toast(errorText(e), "error");
    button.disabled = false;
  }
}

// --- unit board ---------------------------------------------------------------------------
const UNIT_ORDER = ["dispatched", "on_scene", "transporting", "at_hospital", "available", "out_of_service"];

function renderUnits() {
  const tbody = document.querySelector("#unit-table tbody");
  const units = [...state.units].sort(
    (a, b) => UNIT_ORDER.indexOf(a.status) - UNIT_ORDER.indexOf(b.status) || a.call_sign.localeCompare(b.call_sign),
  );
  fill(tbody, 
    ...units.map((u) => {
      const tr = u.current_transport_id ? byId(state.transports, u.current_transport_id) : null;
      const incident = tr ? byId(state.incidents, tr.incident_id) : null;
      const actions = [];
      if (u.status === "available") actions.push(["out_of_service", "unit.set_oos"]);
      if (u.status === "out_of_service") actions.push(["available", "unit.set_available"]);
      return el(
        "tr",
        { dataset: { unitId: u.id } },
        el("th", { scope: "row" }, u.call_sign),
        el("td", {}, localName(u.station) || u.station_name || ""),
        el("td", {}, el("span", { class: `badge st-${u.status}` }, t(`status.${u.status}`))),
        el("td", { class: "muted" }, fmtRelative(u.status_at)),
        el(
          "td",
          {},
          incident
            ? el("button", { type: "button", class: "link", onclick: () => select(incident.id) }, `#${incident.id} ${incident.chief_complaint}`)
            : "",
        ),
        el(
          "td",
          { class: "actions" },
          ...actions.map(([status, key]) =>
            el("button", { type: "button", class: "btn btn-small", onclick: () => setUnitStatus(u, status) }, t(key)),
          ),
        ),
      );
    }),
  );
  const count = (st) => state.units.filter((u) => u.status === st).length;
  document.getElementById("units-summary").textContent = t("dispatch.units_summary", {
    available: count("available"),
    busy: state.units.length - count("available") - count("out_of_service"),
    total: state.units.length,
  });
}

async function setUnitStatus(unit, status) {
  try {
    await api(`/api/v1/units/${unit.id}/status`, { method: "POST", body: { status } });
    await loadUnits();
    redrawMap();
  } catch (e) {
    toast(errorText(e), "error");
  }
}

// --- live updates -----------------------------------------------------------------------
// Several events usually arrive together (assignment → incident, unit, transport);
// one reload per burst is enough.
const schedule = coalesce(150, async (jobs) => {
  try {
    if (jobs.includes("transports")) await loadTransports();
    if (jobs.includes("hospitals")) await loadHospitals();
    await Promise.all([
      jobs.includes("incidents") ? loadIncidents() : null,
      jobs.includes("units") || jobs.includes("transports") ? loadUnits() : null,
      jobs.includes("transports") ? loadStats() : null,
    ]);
    if (jobs.includes("transports")) renderQueue();
    redrawMap();
    if (state.selectedId) await loadDetail(state.selectedId);
  } catch (e) {
    toast(errorText(e), "error");
  }
});

function answered(data, status) {
  toastAnswer(data, status, state.hospitals);
  schedule("transports");
}

liveEvents(
  {
    "incident.created": () => schedule("incidents"),
    "incident.updated": () => schedule("incidents"),
    "unit.updated": () => schedule("units"),
    "transport.updated": () => schedule("transports"),
    "hospital.updated": () => schedule("hospitals"),
    "request.created": () => schedule("transports"),
    "request.round": () => schedule("transports"),
    "request.cancelled": () => schedule("transports"),
    "request.exhausted": () => schedule("transports"),
    "request.accepted": (data) => answered(data, "accepted"),
    "request.declined": (data) => answered(data, "declined"),
  },
  { onResync: loadAll },
);

onLangChange(() => {
  fillSelects();
  mapCtx.redrawTowns();
  renderQueue();
  renderUnits();
  renderDetail();
  redrawMap();
  renderKpi(document.getElementById("kpi-body"), state.stats, document.getElementById("kpi-count"));
});

await loadAll();
document.body.dataset.ready = "true";
