// ER dashboard: incoming acceptance requests (accept, or decline with a reason, in two taps),
// patients on their way with live video/ECG/vitals and their history, and the hospital's
// bed availability per category with its expiry.
import {
  coalesce,
  fill,
  api,
  BED_CATEGORIES,
  DECLINE_REASONS,
  el,
  errorText,
  fmtEta,
  fmtRelative,
  fmtTime,
  liveEvents,
  localName,
  onLangChange,
  startPage,
  t,
  toast,
} from "./common.js";
import { listOf, renderHistory, renderTimeline, stepTime } from "./shared-views.js";

const s = await startPage(["er_staff"]);

const grid = document.querySelector(".er-grid");
const relayUrl = grid.dataset.relayUrl;
const hospitalId = s.user.hospital_id ?? Number(new URLSearchParams(location.search).get("hospital_id"));

const state = {
  hospital: null,
  incoming: [],
  accepted: [],
  transports: new Map(),
  records: new Map(),
  declining: null,
  viewers: new Map(),
};

let viewerModule = null;
async function loadViewerModule() {
  if (viewerModule === null) {
    try {
      viewerModule = await import("/gateway/viewer.js");
    } catch (e) {
      console.warn("live viewer unavailable", e);
      viewerModule = false;
    }
  }
  return viewerModule;
}

// --- data ---------------------------------------------------------------------------
// A request carries the patient at a glance (urgency, complaint, condition, age, sex,
// unit, ETA), so incoming requests need no further call. Accepted patients load their
// transport for the FDMA timeline.
async function transportFor(req) {
  if (!state.transports.has(req.transport_id)) {
    let tr = { id: req.transport_id };
    try {
      tr = await api(`/api/v1/transports/${req.transport_id}`);
    } catch {
      /* the timeline stays empty; the card shows what the request carries */
    }
    state.transports.set(req.transport_id, tr);
  }
  return state.transports.get(req.transport_id);
}

function patientLine(req) {
  return [
    req.patient_age !== undefined && req.patient_age !== null ? t("incident.age_n", { n: req.patient_age }) : null,
    req.patient_sex ? t(`sex.${req.patient_sex}`) : null,
  ].filter(Boolean);
}

function conditionText(code) {
  const key = `condition.${code}`;
  const text = t(key);
  return text === key ? code : text;
}

async function loadHospital() {
  const hospitals = listOf(await api("/api/v1/hospitals"));
  state.hospital = hospitals.find((h) => h.id === hospitalId) || null;
  renderHospital();
}

async function loadRequests() {
  const [sent, accepted] = await Promise.all([
    api("/api/v1/hospital-requests?status=sent"),
    api("/api/v1/hospital-requests?status=accepted"),
  ]);
  state.incoming = listOf(sent).filter((r) => !hospitalId || r.hospital_id === hospitalId);
  const acc = listOf(accepted).filter((r) => !hospitalId || r.hospital_id === hospitalId);
  // Refresh the transports of accepted patients: their timeline moves on.
  for (const r of acc) state.transports.delete(r.transport_id);
  await Promise.all(acc.map(transportFor));
  state.accepted = acc.filter((r) => {
    const tr = state.transports.get(r.transport_id);
    const handover = stepTime(tr, "handover");
    return !tr || tr.status !== "completed" || !handover || Date.now() - new Date(handover) < 30 * 60000;
  });
  await Promise.all(state.accepted.map(loadRecord));
  renderIncoming();
  renderPatients();
}

async function loadRecord(req) {
  try {
    state.records.set(req.transport_id, await api(`/api/v1/transports/${req.transport_id}/patient-record`));
  } catch (e) {
    state.records.set(req.transport_id, { error: e });
  }
}

// --- incoming -------------------------------------------------------------------------
const URGENCY_RANK = { critical: 0, serious: 1, moderate: 2, minor: 3 };

function renderIncoming() {
  const list = document.getElementById("incoming-list");
  document.getElementById("incoming-count").textContent = String(state.incoming.length);
  const sorted = [...state.incoming].sort(
    (a, b) => (URGENCY_RANK[a.urgency] ?? 9) - (URGENCY_RANK[b.urgency] ?? 9) || a.id - b.id,
  );
  fill(list, ...sorted.map(requestCard));
  if (!sorted.length) list.append(el("li", { class: "empty" }, t("er.no_requests")));
}

function requestCard(req) {
  const urgency = req.urgency || "moderate";
  const patient = patientLine(req);
  const declining = state.declining === req.id;
  const card = el(
    "li",
    { class: `request-card u-${urgency}`, dataset: { requestId: req.id } },
    el(
      "div",
      { class: "rc-top" },
      el("span", { class: `badge urg-${urgency}` }, t(`urgency.${urgency}`)),
      el("span", { class: "rc-eta" }, el("small", {}, t("er.eta")), " ", fmtEta(req.eta_s)),
      el("span", { class: "muted" }, fmtRelative(req.sent_at)),
    ),
    el("div", { class: "rc-complaint" }, req.chief_complaint || "—"),
    el(
      "div",
      { class: "rc-meta" },
      patient.length ? el("span", {}, patient.join(" · ")) : null,
      req.suspected_condition ? el("span", { class: "rc-condition" }, conditionText(req.suspected_condition)) : null,
      req.bed_category ? el("span", {}, t("er.bed", { cat: t(`bed.${req.bed_category}`) })) : null,
      req.unit_call_sign ? el("span", { class: "rc-unit" }, req.unit_call_sign) : null,
    ),
    (req.round || 1) > 1 ? el("div", { class: "rc-note" }, t("er.round", { n: req.round })) : null,
  );
  if (!declining) {
    card.append(
      el(
        "div",
        { class: "rc-actions" },
        el("button", { type: "button", class: "btn btn-accept btn-xl", onclick: (ev) => accept(req, ev.currentTarget) }, t("er.accept")),
        el(
          "button",
          {
            type: "button",
            class: "btn btn-decline btn-xl",
            "aria-expanded": "false",
            onclick: () => {
              state.declining = req.id;
              renderIncoming();
              document.querySelector(`[data-request-id="${req.id}"] .reason-btn`)?.focus();
            },
          },
          t("er.decline"),
        ),
      ),
    );
  } else {
    const note = el("input", { type: "text", class: "reason-note", maxlength: 500, "aria-label": t("er.note"), placeholder: t("er.note") });
    card.append(
      el(
        "div",
        { class: "reason-box", role: "group", "aria-label": t("er.decline_reason") },
        el("p", { class: "reason-title" }, t("er.decline_reason")),
        el(
          "div",
          { class: "reason-grid" },
          ...DECLINE_REASONS.map((reason) =>
            el(
              "button",
              { type: "button", class: "btn reason-btn", dataset: { reason }, onclick: (ev) => decline(req, reason, note.value, ev.currentTarget) },
              t(`decline.${reason}`),
            ),
          ),
        ),
        note,
        el("button", { type: "button", class: "btn btn-ghost-dark", onclick: () => ((state.declining = null), renderIncoming()) }, t("common.back")),
      ),
    );
  }
  return card;
}

async function accept(req, button) {
  button.disabled = true;
  try {
    await api(`/api/v1/hospital-requests/${req.id}/accept`, { method: "POST", body: {} });
    toast(t("er.accepted_toast"), "ok");
    await loadRequests();
  } catch (e) {
    toast(errorText(e), "error");
    button.disabled = false;
    await loadRequests();
  }
}

async function decline(req, reason, note, button) {
  button.disabled = true;
  try {
    await api(`/api/v1/hospital-requests/${req.id}/decline`, { method: "POST", body: { reason, note: note || "" } });
    state.declining = null;
    toast(t("er.declined_toast", { reason: t(`decline.${reason}`) }), "info");
    await loadRequests();
  } catch (e) {
    toast(errorText(e), "error");
    button.disabled = false;
  }
}

// --- patients ----------------------------------------------------------------------------
function renderPatients() {
  const box = document.getElementById("patients");
  const seen = new Set();
  const cards = state.accepted.map((req) => {
    seen.add(req.transport_id);
    return patientCard(req);
  });
  for (const [id, v] of state.viewers) {
    if (!seen.has(id)) {
      v.viewer?.destroy?.();
      v.viewer?.close?.();
      state.viewers.delete(id);
    }
  }
  fill(box, ...cards);
  if (!cards.length) box.append(el("p", { class: "empty" }, t("er.no_patients")));
}

function viewerSlot(transportId) {
  let entry = state.viewers.get(transportId);
  if (!entry) {
    const node = el("div", { class: "viewer-slot", dataset: { transportId } }, el("p", { class: "muted" }, t("er.stream_waiting")));
    entry = { node, viewer: null };
    state.viewers.set(transportId, entry);
    loadViewerModule().then((mod) => {
      if (!mod || !mod.mountViewer) {
        fill(node, el("p", { class: "muted" }, t("er.viewer_unavailable")));
        return;
      }
      fill(node, );
      // The viewer speaks the page's language: our dictionaries carry its viewer.* keys.
      entry.viewer = mod.mountViewer(node, { relayUrl, transportId, token: s.token, t, lang: () => document.documentElement.lang });
    });
  }
  return entry.node;
}

function patientCard(req) {
  const tr = state.transports.get(req.transport_id) || {};
  const urgency = req.urgency || "moderate";
  const record = state.records.get(req.transport_id);
  let history;
  if (!record) history = el("p", { class: "muted" }, t("common.loading"));
  else if (record.error) {
    history = el("p", { class: "muted" }, record.error.status === 404 ? t("er.no_record_yet") : errorText(record.error));
  } else history = renderHistory(record);
  return el(
    "article",
    { class: `patient-card u-${urgency}`, dataset: { transportId: req.transport_id } },
    el(
      "header",
      { class: "pc-head" },
      el("span", { class: `badge urg-${urgency}` }, t(`urgency.${urgency}`)),
      el("h3", {}, req.chief_complaint || "—"),
      el("span", { class: "pc-eta" }, stepTime(tr, "handover") ? t("er.handed_over") : stepTime(tr, "arrived_hospital") ? t("er.arrived") : `${t("er.eta")} ${fmtEta(req.eta_s)}`),
      req.unit_call_sign ? el("span", { class: "muted" }, req.unit_call_sign) : null,
      el("span", { class: "muted" }, t("er.accepted_at", { time: fmtTime(req.responded_at) })),
    ),
    el(
      "div",
      { class: "pc-body" },
      el("div", { class: "pc-live" }, el("h4", {}, t("er.live")), viewerSlot(req.transport_id)),
      el("div", { class: "pc-history" }, el("h4", {}, t("er.history")), history),
    ),
    el("div", { class: "pc-timeline" }, renderTimeline(tr)),
  );
}

// --- availability ----------------------------------------------------------------------
const form = document.getElementById("avail-form");
let edits = new Map();

function renderHospital() {
  const h = state.hospital;
  document.getElementById("hospital-name").textContent = h ? localName(h) : "";
  const pill = document.getElementById("diversion-pill");
  const div = h?.diversion || "open";
  pill.textContent = t(`diversion.${div}`);
  pill.className = `diversion-pill div-${div}`;
  if (!h) return;
  const tbody = document.getElementById("avail-body");
  const beds = [...(h.beds || [])].sort((a, b) => BED_CATEGORIES.indexOf(a.category) - BED_CATEGORIES.indexOf(b.category));
  fill(tbody, 
    ...beds.map((b) => {
      const value = edits.has(b.category) ? edits.get(b.category) : b.available;
      const expired = b.stale || (b.expires_at && new Date(b.expires_at) < new Date());
      const input = el("input", {
        type: "number",
        min: 0,
        max: b.capacity || 999,
        value,
        inputmode: "numeric",
        class: "num",
        "aria-label": t("er.available_for", { cat: t(`bed.${b.category}`) }),
        dataset: { category: b.category },
        oninput: (ev) => edits.set(b.category, Number(ev.target.value)),
      });
      const step = (d) => () => {
        const v = Math.max(0, Math.min(b.capacity || 999, Number(input.value || 0) + d));
        input.value = String(v);
        edits.set(b.category, v);
      };
      return el(
        "tr",
        { class: expired ? "stale" : "" },
        el("th", { scope: "row" }, t(`bed.${b.category}`)),
        el(
          "td",
          {},
          el(
          "div",
          { class: "stepper" },
          el("button", { type: "button", class: "btn btn-step", onclick: step(-1), "aria-label": t("er.minus", { cat: t(`bed.${b.category}`) }) }, "−"),
          input,
          el("button", { type: "button", class: "btn btn-step", onclick: step(1), "aria-label": t("er.plus", { cat: t(`bed.${b.category}`) }) }, "+"),
          el("span", { class: "cap" }, `/ ${b.capacity}`),
          ),
        ),
        el(
          "td",
          { class: expired ? "expiry expired" : "expiry" },
          expired ? el("strong", {}, t("er.expired")) : fmtTime(b.expires_at),
          el("small", {}, expired ? t("er.updated", { when: fmtRelative(b.updated_at) }) : fmtRelative(b.expires_at)),
        ),
      );
    }),
  );
  const select = document.getElementById("diversion-select");
  if (!form.dataset.dirty) select.value = div;
  renderDiverted();
}

function renderDiverted() {
  const h = state.hospital;
  const box = document.getElementById("diverted-box");
  const select = document.getElementById("diversion-select");
  box.hidden = select.value !== "category_diversion";
  const chosen = new Set(h?.diverted_categories || []);
  const current = [...document.querySelectorAll("#diverted-list input:checked")].map((x) => x.value);
  if (form.dataset.dirty) for (const c of current) chosen.add(c);
  fill(document.getElementById("diverted-list"), 
    ...(h?.beds || []).map((b) =>
      el(
        "label",
        { class: "check" },
        el("input", { type: "checkbox", value: b.category, checked: chosen.has(b.category) }),
        el("span", {}, t(`bed.${b.category}`)),
      ),
    ),
  );
}

document.getElementById("diversion-select").addEventListener("change", () => {
  form.dataset.dirty = "1";
  renderDiverted();
});

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const err = form.querySelector(".form-error");
  err.hidden = true;
  const ttl = Number(form.ttl_min.value);
  const beds = [...document.querySelectorAll("#avail-body input[data-category]")].map((input) => ({
    category: input.dataset.category,
    available: Number(input.value || 0),
    ttl_min: ttl,
  }));
  const diversion = form.diversion.value;
  const diverted = diversion === "category_diversion" ? [...document.querySelectorAll("#diverted-list input:checked")].map((x) => x.value) : [];
  try {
    state.hospital = await api(`/api/v1/hospitals/${hospitalId}/availability`, {
      method: "PATCH",
      body: { beds, diversion, diverted_categories: diverted },
    });
    edits = new Map();
    delete form.dataset.dirty;
    toast(t("er.saved", { time: fmtTime(new Date(Date.now() + ttl * 60000).toISOString()) }), "ok");
    await loadHospital();
  } catch (e) {
    err.textContent = errorText(e);
    err.hidden = false;
  }
});

// --- live -------------------------------------------------------------------------------
// Several events usually arrive together; one reload per burst is enough.
const schedule = coalesce(120, async (jobs) => {
  if (jobs.includes("hospital")) await loadHospital();
  if (jobs.includes("requests")) await loadRequests();
});

liveEvents(
  {
    "request.created": () => {
      schedule("requests");
      toast(t("er.new_request"), "alert");
    },
    "request.cancelled": () => schedule("requests"),
    "request.accepted": () => schedule("requests"),
    "request.declined": () => schedule("requests"),
    "request.round": () => schedule("requests"),
    "transport.updated": () => schedule("requests"),
    "hospital.updated": () => schedule("hospital"),
  },
  { onResync: () => Promise.all([loadHospital(), loadRequests()]) },
);

onLangChange(() => {
  renderHospital();
  renderIncoming();
  renderPatients();
  for (const v of state.viewers.values()) v.viewer?.relabel?.();
});

// The expiry column counts down while the page is open.
setInterval(() => {
  if (!document.activeElement?.closest?.("#avail-form")) renderHospital();
}, 30000);

await Promise.all([loadHospital(), loadRequests()]);
document.body.dataset.ready = "true";
