// Dispatcher console: incident queue and new-call form, unit board, offline map,
// recommendations with one-click assignment, parallel hospital requests and the live KPI
// panel. The state and its rules are dispatch-state.js's; this draws it, turns clicks,
// answers and live events into actions, and fetches what the state says it lacks.
/* global L */
import {
  api,
  callSign,
  el,
  errorText,
  fill,
  fmtEta,
  fmtRelative,
  fmtWhen,
  liveEvents,
  localName,
  once,
  onLangChange,
  onSubmit,
  stationName,
  t,
  toast,
} from "./common.js";
import {
  alertFor,
  chosenFor,
  destinationAlerts,
  initialState,
  mapIncidents,
  needs,
  pickerOptions,
  queue,
  reduce,
  requestsOf,
  selected,
  transportOf,
  unitBoard,
  unitOf,
  unitsSummary,
} from "./dispatch-state.js";
import { availabilityClass, rowOf, rowsOf } from "./domain.js";
import { BED_CATEGORIES, CONDITIONS, TIME_CRITICAL } from "./generated/enums.js";
import { renderKpi } from "./kpi.js";
import { createMap, drawHospitals, drawIncidents, drawUnits } from "./map.js";
import { startMoveUp } from "./moveup.js";
import { startPage } from "./page.js";
import { reasonText, renderRequests, renderTimeline, toastAnswer } from "./shared-views.js";
import { createStore, drawWhenChanged, follow } from "./store.js";

await startPage();

const store = createStore(reduce, initialState());
const dispatch = (action) => store.dispatch(action);
const state = () => store.state;

// --- what the state lacks, fetched -------------------------------------------------------
const SOURCES = {
  hospitals: () => "/api/v1/hospitals",
  transports: () => "/api/v1/transports?active=true",
  incidents: () => "/api/v1/incidents",
  units: () => "/api/v1/units",
  stats: () => "/api/v1/stats/today",
  unitRecs: (id) => `/api/v1/dispatch/unit-recommendations?incident_id=${id}`,
  hospitalRecs: (id) => `/api/v1/transports/${id}/hospital-recommendations`,
  allHospitals: (id) => `/api/v1/transports/${id}/hospital-recommendations?scope=all`,
  requests: (id) => `/api/v1/hospital-requests?transport_id=${id}`,
};
const QUIET = new Set(["stats", "unitRecs", "hospitalRecs", "requests", "allHospitals"]); // the panel says it

async function load(need, asOf) {
  try {
    return { type: "answer", what: need.what, id: need.id, data: await api(SOURCES[need.what](need.id)), asOf };
  } catch (error) {
    if (!QUIET.has(need.what)) toast(errorText(error), "error");
    return { type: "failed", what: need.what, id: need.id, error, asOf };
  }
}

// Several events usually arrive together (assignment → incident, unit, transport): what
// they put in doubt is asked once per burst.
const fetcher = follow(store, needs, load, { delayMs: 150 });

/** POST (or ``method``) one of the dispatcher's actions; its answer goes into the state
 * as ``what``. */
async function act(path, body, what, method = "POST") {
  const asOf = store.tick();
  const data = await api(path, { method, body });
  dispatch({ type: "answer", what, data, asOf });
  return data;
}

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

/** An incident in a few words, for a toast or an alert: "#12 胸痛". */
function incidentName(incidentId) {
  const i = rowOf(state().incidents, incidentId);
  if (incidentId === null || incidentId === undefined) return t("dispatch.incident_unknown");
  return i?.chief_complaint ? `#${incidentId} ${i.chief_complaint}` : `#${incidentId}`;
}

const redrawMap = drawWhenChanged(
  (st) => [st.hospitals, st.units, st.incidents, st.selectedId],
  (st) => {
    drawHospitals(mapCtx, rowsOf(st.hospitals));
    drawUnits(mapCtx, rowsOf(st.units));
    drawIncidents(mapCtx, mapIncidents(st), { selectedId: st.selectedId, onSelect: select });
  },
);

// --- queue ---------------------------------------------------------------------------
const renderQueue = drawWhenChanged(
  (st) => [st.book.incidents, st.incidents, st.transports, st.units, st.selectedId, st.filter, st.alerts],
  (st) => {
    if (!st.book.incidents) return; // not loaded yet
    const list = document.getElementById("incident-list");
    const shown = queue(st);
    fill(
      list,
      ...shown.map((i) => {
        const unit = unitOf(st, i);
        return el(
          "li",
          {},
          el(
            "button",
            {
              type: "button",
              class: `incident-card u-${i.urgency}${i.id === st.selectedId ? " selected" : ""}`,
              "aria-current": i.id === st.selectedId ? "true" : null,
              dataset: { incidentId: i.id },
              onclick: () => select(i.id),
            },
            el(
              "div",
              { class: "ic-top" },
              el("span", { class: `badge urg-${i.urgency}` }, t(`urgency.${i.urgency}`)),
              el("span", { class: "ic-id" }, `#${i.id}`),
              el("span", { class: `badge st-inc-${i.status}` }, t(`incident_status.${i.status}`)),
              alertFor(st, transportOf(st, i)?.id) ? el("span", { class: "badge badge-alert" }, t("dispatch.no_destination_badge")) : null,
              el("span", { class: "ic-time" }, fmtRelative(i.received_at)),
            ),
            el("div", { class: "ic-complaint" }, i.chief_complaint),
            el(
              "div",
              { class: "ic-meta" },
              el("span", {}, i.address || "—"),
              unit ? el("span", { class: "ic-unit" }, callSign(unit.call_sign)) : null,
            ),
          ),
        );
      }),
    );
    if (!shown.length) list.append(el("li", { class: "empty" }, t("dispatch.no_incidents")));
  },
);

for (const chip of document.querySelectorAll("[data-filter]")) {
  chip.addEventListener("click", () => {
    for (const c of document.querySelectorAll("[data-filter]")) {
      c.classList.toggle("active", c === chip);
      c.setAttribute("aria-pressed", String(c === chip));
    }
    dispatch({ type: "filter", filter: chip.dataset.filter });
  });
}

// --- new call --------------------------------------------------------------------------
const form = document.getElementById("new-call");
const toggle = document.getElementById("new-call-toggle");

function fillSelects() {
  const cond = document.getElementById("condition-select");
  const chosen = cond.value;
  fill(
    cond,
    ...["", ...CONDITIONS].map((c) => el("option", { value: c }, t(c ? `condition.${c}` : "condition.unknown"))),
  );
  cond.value = chosen;
  const town = document.getElementById("town-select");
  const chosenTown = town.value;
  fill(
    town,
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

/** What is wrong with the new call, in the page's language: ``{ message, field }``
 * for the first problem, or null. */
function newCallProblem() {
  if (!form.chief_complaint.value.trim()) return { message: t("dispatch.need_complaint"), field: form.chief_complaint };
  if (!form.address.value.trim()) return { message: t("dispatch.need_address"), field: form.address };
  if (!form.lat.value) return { message: t("dispatch.need_location"), field: form.town };
  const age = form.patient_age.value.trim();
  if (age && !(/^\d+$/.test(age) && Number(age) <= 130)) return { message: t("dispatch.bad_age"), field: form.patient_age };
  return null;
}

onSubmit(form, async () => {
  const err = form.querySelector(".form-error");
  err.hidden = true;
  // By the buttons, unless a field's problem moves it (the server's refusals show here).
  form.querySelector(".form-actions").before(err);
  for (const f of form.querySelectorAll("[aria-invalid]")) {
    f.removeAttribute("aria-invalid");
    f.removeAttribute("aria-describedby");
  }
  const problem = newCallProblem();
  if (problem) {
    err.textContent = problem.message;
    err.hidden = false;
    // Right under the field it is about: the form scrolls, and by the buttons at its
    // foot the message was out of sight once the field took the focus.
    (problem.field.closest(".field-row") || problem.field.closest(".field")).after(err);
    problem.field.setAttribute("aria-invalid", "true");
    problem.field.setAttribute("aria-describedby", err.id);
    problem.field.focus();
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
    const created = await act("/api/v1/incidents", body, "incident");
    form.reset();
    openForm(false);
    toast(t("dispatch.call_registered", { id: created.id }), "ok");
    select(created.id);
  } catch (e) {
    err.textContent = errorText(e);
    err.hidden = false;
  }
});

// --- detail ------------------------------------------------------------------------------
function select(id) {
  dispatch({ type: "select", id });
  fetcher.request(0);
}

const renderDetail = drawWhenChanged(
  (st) => {
    const incident = selected(st);
    const tr = transportOf(st, incident);
    return [
      incident,
      tr,
      tr ? rowOf(st.units, tr.unit_id) : null,
      incident ? st.unitRecs[incident.id] : null,
      tr ? st.hospitalRecs[tr.id] : null,
      tr ? st.chosen[tr.id] : null,
      st.requests,
      st.hospitals,
      tr ? alertFor(st, tr.id) : null,
      st.picking,
      tr ? st.allHospitals[tr.id] : null,
    ];
  },
  (st) => {
    const body = document.getElementById("detail-body");
    // A tick in the hospital list redraws it: the focus stays on the same control.
    const focused = body.contains(document.activeElement) ? document.activeElement.id : "";
    fill(body, ...detailParts(st));
    if (focused) document.getElementById(focused)?.focus();
  },
);

function detailParts(st) {
  const incident = selected(st);
  if (!incident) return [el("p", { class: "empty" }, t("dispatch.select_incident"))];
  const tr = transportOf(st, incident);
  const parts = [
    el(
      "div",
      { class: `detail-head u-${incident.urgency}` },
      el(
        "div",
        { class: "detail-badges" },
        el("span", { class: `badge urg-${incident.urgency}` }, t(`urgency.${incident.urgency}`)),
        el("span", { class: `badge st-inc-${incident.status}` }, t(`incident_status.${incident.status}`)),
        el("span", { class: "muted" }, `#${incident.id} · ${fmtWhen(incident.received_at)} (${fmtRelative(incident.received_at)})`),
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
  if (incident.status === "pending") parts.push(renderUnitRecs(st, incident));
  if (tr) {
    const unit = rowOf(st.units, tr.unit_id);
    if (alertFor(st, tr.id) || st.picking === tr.id) parts.push(renderPicker(st, incident, tr));
    parts.push(
      el(
        "section",
        { class: "sub" },
        el("h4", {}, t("dispatch.transport"), " ", el("span", { class: "muted" }, unit ? callSign(unit.call_sign) : "")),
        renderTimeline(tr),
      ),
    );
    const askAhead = renderAskAhead(st, incident, tr);
    if (askAhead) parts.push(askAhead);
    if (!tr.destination_hospital_id) parts.push(renderHospitalRecs(st, tr));
    parts.push(
      el(
        "section",
        { class: "sub" },
        el("h4", {}, t("requests.title")),
        renderRequests(requestsOf(st, tr.id), rowsOf(st.hospitals)),
      ),
    );
  }
  if (incident.status === "pending" || incident.status === "assigned") {
    parts.push(
      el(
        "div",
        { class: "detail-actions" },
        tr && !tr.destination_hospital_id && st.picking !== tr.id && !alertFor(st, tr.id)
          ? el("button", { type: "button", class: "btn", id: "destination-open", onclick: () => openPicker(tr.id) }, t("dispatch.set_destination"))
          : null,
        el("button", { type: "button", class: "btn btn-danger-outline", id: "incident-cancel", onclick: (ev) => cancelIncident(incident, ev.currentTarget) }, t("dispatch.cancel_incident")),
      ),
    );
  }
  return parts;
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

function renderUnitRecs(st, incident) {
  const recs = st.unitRecs[incident.id];
  const section = el("section", { class: "sub" }, el("h4", {}, t("dispatch.recommended_units")));
  if (!recs) {
    section.append(el("p", { class: "muted" }, t("common.loading")));
    return section;
  }
  if (recs.error) {
    section.append(el("p", { class: "form-error" }, errorText(recs.error)));
    return section;
  }
  if (!recs.items.length) {
    section.append(el("p", { class: "empty" }, t("dispatch.no_units")));
    return section;
  }
  const list = el("ol", { class: "rec-list" });
  recs.items.slice(0, 4).forEach((r, idx) => {
    const unit = rowOf(st.units, r.unit_id) || {};
    const unitName = callSign(r.call_sign || unit.call_sign) || `#${r.unit_id}`;
    list.append(
      el(
        "li",
        { class: `rec${idx === 0 ? " rec-top" : ""}` },
        el(
          "div",
          { class: "rec-main" },
          idx === 0 ? el("span", { class: "badge badge-accent" }, t("dispatch.best")) : null,
          el("strong", { class: "rec-name" }, unitName),
          el("span", { class: "rec-eta" }, fmtEta(r.eta_s ?? r.eta_seconds)),
        ),
        el("div", { class: "rec-reasons" }, reasonText(r)),
        el(
          "button",
          {
            type: "button",
            class: idx === 0 ? "btn btn-primary btn-assign" : "btn btn-assign",
            dataset: { assignUnit: r.unit_id },
            "aria-label": t("dispatch.assign", { unit: unitName }),
            onclick: (ev) => assign(incident, r.unit_id, unitName, ev.currentTarget),
          },
          t("dispatch.assign_short"),
        ),
      ),
    );
  });
  section.append(list);
  return section;
}

function assign(incident, unitId, unitName, button) {
  return once(button, async () => {
    try {
      // The incident, the unit and the transport then arrive as live events.
      await act(`/api/v1/incidents/${incident.id}/assign`, { unit_id: unitId }, "transport");
      toast(t("dispatch.assigned", { unit: unitName, id: incident.id }), "ok");
    } catch (e) {
      toast(t("common.about", { about: incidentName(incident.id), message: errorText(e) }), "error");
    }
  });
}

function cancelIncident(incident, button) {
  if (!confirm(t("dispatch.confirm_cancel", { id: incident.id }))) return undefined;
  return once(button, async () => {
    try {
      await act(`/api/v1/incidents/${incident.id}/cancel`, {}, "incident");
      toast(t("dispatch.cancelled", { id: incident.id }), "ok");
    } catch (e) {
      toast(t("common.about", { about: incidentName(incident.id), message: errorText(e) }), "error");
    }
  });
}

// --- no dead ends: choosing a destination by hand -----------------------------------------
function openPicker(transportId) {
  dispatch({ type: "pick-open", transportId, tick: store.tick() });
  fetcher.request(0);
}

function renderPicker(st, incident, tr) {
  const alert = alertFor(st, tr.id);
  const section = el(
    "section",
    { class: `sub picker${alert ? " picker-alert" : ""}`, id: "destination-picker", "aria-labelledby": "destination-picker-title" },
    el("h4", { id: "destination-picker-title" }, t("dispatch.pick_destination")),
    alert ? el("p", { class: "picker-why" }, t("dispatch.destination_needed_detail")) : null,
  );
  if (st.picking !== tr.id) {
    section.append(
      el(
        "div",
        { class: "form-actions" },
        el("button", { type: "button", class: "btn btn-primary", id: "destination-open", onclick: () => openPicker(tr.id) }, t("dispatch.choose_hospital")),
        el("button", { type: "button", class: "btn btn-danger-outline", id: "destination-cancel-call", onclick: (ev) => cancelIncident(incident, ev.currentTarget) }, t("dispatch.cancel_incident")),
      ),
    );
    return section;
  }
  const options = pickerOptions(st, tr.id);
  if (!options) {
    section.append(el("p", { class: "muted" }, t("common.loading")));
    return section;
  }
  if (options.error) {
    section.append(el("p", { class: "form-error" }, errorText(options.error)));
    return section;
  }
  const pickForm = el("form", { class: "form picker-form", id: "destination-form", novalidate: true });
  const list = el("ul", { class: "picker-list", role: "radiogroup", "aria-labelledby": "destination-picker-title" });
  for (const h of options.items) {
    const hospital = rowOf(st.hospitals, h.hospital_id);
    const id = `dest-${tr.id}-${h.hospital_id}`;
    list.append(
      el(
        "li",
        { class: `picker-item${h.recommended ? " picker-rec" : ""}` },
        el("input", { type: "radio", name: "destination", id, value: h.hospital_id }),
        el(
          "label",
          { for: id, class: "rec-main" },
          el("i", { class: `avail-dot h-${availabilityClass(hospital, Date.now())}`, "aria-hidden": "true" }),
          el("strong", { class: "rec-name" }, localName(hospital) || h.name || `#${h.hospital_id}`),
          h.recommended ? el("span", { class: "badge badge-accent" }, t("dispatch.recommended")) : null,
          el("span", { class: "rec-eta" }, h.eta_min !== null ? t("unit.eta_minutes", { n: h.eta_min }) : "—"),
        ),
        h.reasons?.length ? el("div", { class: "rec-reasons" }, reasonText(h)) : null,
      ),
    );
  }
  if (!options.items.length) list.append(el("li", { class: "empty" }, t("dispatch.no_open_hospital")));
  const bed = el(
    "select",
    { name: "bed_category", id: "destination-bed" },
    el("option", { value: "" }, t("dispatch.bed_any")),
    ...BED_CATEGORIES.map((c) => el("option", { value: c }, t(`bed.${c}`))),
  );
  bed.value = tr.bed_category || "";
  const error = el("p", { class: "form-error", id: "destination-error", role: "alert", hidden: true });
  pickForm.append(
    list,
    el("label", { class: "field" }, el("span", {}, t("dispatch.bed_category")), bed),
    error,
    el(
      "div",
      { class: "form-actions" },
      el("button", { type: "button", class: "btn", id: "destination-close", onclick: () => dispatch({ type: "pick-close" }) }, t("common.back")),
      el("button", { type: "button", class: "btn btn-danger-outline", id: "destination-cancel-call", onclick: (ev) => cancelIncident(incident, ev.currentTarget) }, t("dispatch.cancel_incident")),
      el("button", { type: "submit", class: "btn btn-primary", id: "destination-submit" }, t("dispatch.set_destination_go")),
    ),
  );
  onSubmit(pickForm, async () => {
    error.hidden = true;
    const chosen = pickForm.querySelector("input[name=destination]:checked");
    if (!chosen) {
      error.textContent = t("dispatch.pick_one_hospital");
      error.hidden = false;
      return;
    }
    const body = { hospital_id: Number(chosen.value) };
    if (bed.value) body.bed_category = bed.value;
    const hospital = rowOf(st.hospitals, body.hospital_id);
    try {
      await act(`/api/v1/transports/${tr.id}/destination`, body, "transport", "PUT");
      toast(t("dispatch.destination_set", { about: incidentName(incident.id), hospital: localName(hospital) || `#${body.hospital_id}` }), "ok");
    } catch (e) {
      error.textContent = errorText(e);
      error.hidden = false;
    }
  });
  section.append(pickForm);
  return section;
}

// The alerts: one per transport no hospital is left to ask for, above the queue.
const renderAlerts = drawWhenChanged(
  (st) => [st.alerts, st.incidents, st.transports],
  (st) => {
    const box = document.getElementById("destination-alerts");
    const alerts = destinationAlerts(st);
    box.hidden = !alerts.length;
    fill(
      box,
      ...alerts.map((a) =>
        el(
          "div",
          { class: "dest-alert", id: `destination-alert-${a.transport_id}`, dataset: { transportId: a.transport_id, incidentId: a.incident_id ?? "" } },
          el(
            "p",
            { class: "dest-alert-text" },
            el("strong", {}, t("dispatch.destination_needed", { about: incidentName(a.incident_id) })),
            a.unit_call_sign ? el("span", { class: "muted" }, ` ${callSign(a.unit_call_sign)}`) : null,
          ),
          el(
            "button",
            {
              type: "button",
              class: "btn btn-small btn-primary",
              id: `destination-alert-open-${a.transport_id}`,
              onclick: () => {
                if (a.incident_id !== null) select(a.incident_id);
                openPicker(a.transport_id);
              },
            },
            t("dispatch.choose_hospital"),
          ),
        ),
      ),
    );
  },
);

function renderHospitalRecs(st, tr) {
  const recs = st.hospitalRecs[tr.id];
  const section = el("section", { class: "sub" }, el("h4", {}, t("dispatch.recommended_hospitals")));
  if (!recs) return section;
  if (recs.error) {
    section.append(el("p", { class: "form-error" }, errorText(recs.error)));
    return section;
  }
  const chosen = new Set(chosenFor(st, tr.id));
  const accepted = requestsOf(st, tr.id).some((r) => r.status === "accepted");
  const list = el("ul", { class: "rec-list" });
  for (const r of recs.items.slice(0, 6)) {
    const h = rowOf(st.hospitals, r.hospital_id) || r.hospital || {};
    const name = localName(r.hospital || h) || localName(r) || `#${r.hospital_id}`;
    const cls = availabilityClass(h, Date.now());
    const id = `h-${tr.id}-${r.hospital_id}`;
    list.append(
      el(
        "li",
        { class: "rec rec-h" },
        el("input", {
          type: "checkbox",
          id,
          checked: chosen.has(r.hospital_id),
          onchange: (ev) =>
            dispatch({ type: "choose", transportId: tr.id, hospitalId: r.hospital_id, on: ev.target.checked }),
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
        id: "send-requests",
        disabled: accepted || !chosen.size,
        onclick: (ev) => sendRequests(tr, [...chosen], ev.currentTarget),
      },
      t("requests.send_parallel", { n: chosen.size }),
    ),
  );
  return section;
}

// --- ask ahead: early requests for a time-critical call while the unit drives ---------------
/** The "ask ahead" section: one tap for a time-critical call nobody has asked a hospital
 * about yet; once asked, the hospitals asked ahead and the crew's word on scene. */
function renderAskAhead(st, incident, tr) {
  if (!TIME_CRITICAL.includes(incident.suspected_condition)) return null;
  const requests = requestsOf(st, tr.id);
  const early = requests.filter((r) => r.early);
  const names = (rows) =>
    rows.map((r) => localName(rowOf(st.hospitals, r.hospital_id) || {}) || r.hospital_name || `#${r.hospital_id}`).join("、");
  if (early.length) {
    const outcome = early.find((r) => r.early_outcome)?.early_outcome;
    return el(
      "section",
      { class: "sub ask-ahead", id: "ask-ahead" },
      el("h4", {}, el("span", { class: "badge badge-early" }, t("requests.early")), " ", t("dispatch.asked_ahead", { hospitals: names(early) })),
      el("p", { class: "muted", id: "ask-ahead-state" }, t(outcome ? `dispatch.ask_ahead_${outcome}` : "dispatch.ask_ahead_awaiting")),
    );
  }
  if (requests.length || tr.destination_hospital_id) return null;
  return el(
    "section",
    { class: "sub ask-ahead", id: "ask-ahead" },
    el("p", { class: "muted" }, t("dispatch.ask_ahead_hint")),
    el(
      "button",
      { type: "button", class: "btn btn-primary", id: "ask-ahead-send", onclick: (ev) => askAhead(incident, tr, ev.currentTarget) },
      t("dispatch.ask_ahead"),
    ),
  );
}

function askAhead(incident, tr, button) {
  return once(button, async () => {
    try {
      const round = await act(`/api/v1/incidents/${incident.id}/ask-ahead`, undefined, "round");
      const hospitals = round.requests.map((r) => localName(rowOf(state().hospitals, r.hospital_id) || {}) || r.hospital_name).join("、");
      toast(t("dispatch.ask_ahead_sent", { about: incidentName(tr.incident_id), hospitals }), "ok");
    } catch (e) {
      toast(t("common.about", { about: incidentName(incident.id), message: errorText(e) }), "error");
    }
  });
}

function sendRequests(tr, hospitalIds, button) {
  if (!hospitalIds.length) {
    toast(t("requests.pick_one"), "error");
    return undefined;
  }
  return once(button, async () => {
    try {
      await act(`/api/v1/transports/${tr.id}/hospital-requests`, { hospital_ids: hospitalIds }, "round");
      toast(t("requests.sent_about", { n: hospitalIds.length, about: incidentName(tr.incident_id) }), "ok");
    } catch (e) {
      toast(t("common.about", { about: incidentName(tr.incident_id), message: errorText(e) }), "error");
    }
  });
}

// --- unit board ---------------------------------------------------------------------------
const renderUnits = drawWhenChanged(
  (st) => [st.book.units, st.units, st.transports, st.incidents],
  (st) => {
    if (!st.book.units) return; // not loaded yet
    const tbody = document.querySelector("#unit-table tbody");
    fill(
      tbody,
      ...unitBoard(st).map(({ unit: u, incident, actions }) =>
        el(
          "tr",
          { dataset: { unitId: u.id } },
          el("th", { scope: "row" }, el("span", { class: "unit-name" }, callSign(u.call_sign)), el("span", { class: "unit-sub" }, stationName(u))),
          el(
            "td",
            { class: "unit-status" },
            el("span", { class: `badge st-${u.status}` }, t(`status.${u.status}`)),
            el("span", { class: "unit-sub" }, fmtRelative(u.status_at)),
          ),
          el(
            "td",
            { class: "unit-task" },
            incident
              ? el("button", { type: "button", class: "link", onclick: () => select(incident.id) }, `#${incident.id} ${incident.chief_complaint}`)
              : null,
            ...actions.map(([status, key]) =>
              el("button", { type: "button", class: "btn btn-small", onclick: (ev) => setUnitStatus(u, status, ev.currentTarget) }, t(key)),
            ),
          ),
        ),
      ),
    );
    document.getElementById("units-summary").textContent = t("dispatch.units_summary", unitsSummary(st));
  },
);

function setUnitStatus(unit, status, button) {
  return once(button, async () => {
    try {
      await act(`/api/v1/units/${unit.id}/status`, { status }, "unit");
    } catch (e) {
      toast(t("common.about", { about: callSign(unit.call_sign), message: errorText(e) }), "error");
    }
  });
}

// --- KPI -----------------------------------------------------------------------------------
const drawKpi = drawWhenChanged(
  (st) => [st.stats, st.book.stats?.asOf],
  (st) => {
    if (!st.book.stats) return; // not asked yet: nothing to say
    renderKpi(document.getElementById("kpi-body"), st.stats, document.getElementById("kpi-count"));
  },
);

// --- drawing and live updates ----------------------------------------------------------
const renderers = [renderAlerts, renderQueue, renderUnits, redrawMap, renderDetail, drawKpi];
const render = () => {
  for (const draw of renderers) draw(state());
};
store.subscribe(render);
startMoveUp({ store, node: document.getElementById("moveup") });

const event = (name) => (data) => dispatch({ type: "event", name, data, tick: store.tick() });
const incidentOfTransport = (transportId) => rowOf(state().transports, transportId)?.incident_id ?? null;
const answer = (name, status) => (data) => {
  toastAnswer(data, status, rowsOf(state().hospitals), incidentName(incidentOfTransport(data.transport_id)));
  event(name)(data);
};

liveEvents(
  {
    "incident.created": event("incident.created"),
    "incident.updated": event("incident.updated"),
    "unit.updated": event("unit.updated"),
    "transport.updated": event("transport.updated"),
    "hospital.updated": event("hospital.updated"),
    "request.created": event("request.created"),
    "request.round": event("request.round"),
    "request.cancelled": event("request.cancelled"),
    "request.exhausted": event("request.exhausted"),
    // The crew's word on an early round: its requests are asked again.
    "ask_ahead.sent": (data) => event("request.round")(data),
    "ask_ahead.confirmed": (data) => event("request.round")(data),
    "ask_ahead.withdrawn": (data) => event("request.round")(data),
    "request.accepted": answer("request.accepted", "accepted"),
    "transport.destination_needed": (data) => {
      event("transport.destination_needed")(data);
      toast(t("dispatch.destination_needed", { about: incidentName(data.incident_id) }), "alert");
    },
    "request.declined": answer("request.declined", "declined"),
  },
  // Events may have been missed while the stream was down: ask everything again.
  { onResync: () => dispatch({ type: "resync", tick: store.tick() }) },
);

onLangChange(() => {
  fillSelects();
  mapCtx.redrawTowns();
  for (const draw of renderers) draw.reset();
  render();
});

render();
await fetcher.settled();
document.body.dataset.ready = "true";
