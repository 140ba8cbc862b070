// ER dashboard: incoming acceptance requests (accept, or decline with a reason, in two taps),
// patients on their way with live video/ECG/vitals and their history, and the hospital's
// bed availability per category with its expiry. The state and its rules are
// er-state.js's; this draws it, turns taps, answers and live events into actions, and
// fetches what the state says it lacks.
import {
  api,
  callSign,
  el,
  errorText,
  fill,
  fmtEta,
  fmtRelative,
  fmtTime,
  fmtWhen,
  liveEvents,
  localName,
  once,
  onLangChange,
  onSubmit,
  setCount,
  t,
  toast,
} from "./common.js";
import { stepTime } from "./domain.js";
import {
  accepted,
  bedRows,
  hasLiveFeed,
  hospitalOf,
  incoming,
  initialState,
  needs,
  recordFor,
  reduce,
  transportFor,
} from "./er-state.js";
import { DECLINE_REASONS } from "./generated/enums.js";
import { startPage } from "./page.js";
import { renderHistory, renderTimeline } from "./shared-views.js";
import { createStore, drawWhenChanged, follow } from "./store.js";

const s = await startPage();

const grid = document.querySelector(".er-grid");
const relayUrl = grid.dataset.relayUrl;
// The relay serves its viewer module from its own origin (see ems/web/views.py).
const viewerUrl = grid.dataset.viewerUrl;
const hospitalId = s.user.hospital_id ?? null;
// How many hours after arrival a patient stays on the board: the server's setting, or
// the page's ?hours= (1..72).
const boardHours = Math.min(72, Math.max(1, Number(new URLSearchParams(location.search).get("hours")) || Number(grid.dataset.boardHours) || 6));

const store = createStore(reduce, initialState(hospitalId, { hours: boardHours }));
const dispatch = (action) => store.dispatch(action);
const state = () => store.state;

// --- what the state lacks, fetched -------------------------------------------------------
const SOURCES = {
  hospital: () => "/api/v1/hospitals",
  requests: (status) => `/api/v1/hospital-requests?status=${status}`,
  transports: () => `/api/v1/transports?current=true&hours=${boardHours}`,
  transport: (id) => `/api/v1/transports/${id}`,
  record: (id) => `/api/v1/transports/${id}/patient-record`,
};

async function load(need, asOf) {
  try {
    return { type: "answer", what: need.what, id: need.id, data: await api(SOURCES[need.what](need.id)), asOf };
  } catch (error) {
    // A request's card shows what the request carries; a history not found yet says so.
    if (need.what === "hospital" || need.what === "requests" || need.what === "transports") toast(errorText(error), "error");
    return { type: "failed", what: need.what, id: need.id, error, asOf };
  }
}

// Several events usually arrive together: what they put in doubt is asked once per burst.
const fetcher = follow(store, (st) => needs(st, Date.now()), load, { delayMs: 120 });

async function act(path, body, what) {
  const asOf = store.tick();
  const data = await api(path, { method: "POST", body });
  dispatch({ type: "answer", what, data, asOf });
  return data;
}

// --- the viewer module, from the relay -------------------------------------------------------
let viewerModule = null;
async function loadViewerModule() {
  if (viewerModule === null) {
    try {
      if (!viewerUrl) throw new Error("no relay configured");
      viewerModule = await import(viewerUrl);
    } catch (e) {
      console.warn("live viewer unavailable", e);
      viewerModule = false;
    }
  }
  return viewerModule;
}

function patientLine(req) {
  return [
    req.patient_age !== undefined && req.patient_age !== null ? t("incident.age_n", { n: req.patient_age }) : null,
    req.patient_sex ? t(`sex.${req.patient_sex}`) : null,
  ].filter(Boolean);
}

/** The request's patient in a few words, for a toast: "胸痛 (八頭救急1)". */
function patientName(req) {
  const unit = callSign(req?.unit_call_sign);
  return [req?.chief_complaint || t("er.patient"), unit ? `(${unit})` : ""].filter(Boolean).join(" ");
}

function conditionText(code) {
  const key = `condition.${code}`;
  const text = t(key);
  return text === key ? code : text;
}

// --- incoming -------------------------------------------------------------------------
const renderIncoming = drawWhenChanged(
  (st) => [st.book["requests:sent"], st.requests, st.declining],
  (st) => {
    if (!st.book["requests:sent"]) return; // not loaded yet
    const list = document.getElementById("incoming-list");
    const shown = incoming(st);
    setCount(document.getElementById("incoming-count"), shown.length);
    fill(list, ...shown.map((req) => requestCard(req, st.declining === req.id)));
    if (!shown.length) list.append(el("li", { class: "empty" }, t("er.no_requests")));
  },
);

function requestCard(req, declining) {
  const urgency = req.urgency || "moderate";
  const patient = patientLine(req);
  const card = el(
    "li",
    { class: `request-card u-${urgency}${req.early ? " request-early" : ""}`, id: `request-${req.id}`, dataset: { requestId: req.id, early: String(Boolean(req.early)) } },
    el(
      "div",
      { class: "rc-top" },
      el("span", { class: `badge urg-${urgency}` }, t(`urgency.${urgency}`)),
      req.early ? el("span", { class: "badge badge-early", id: `early-${req.id}` }, t("er.early")) : null,
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
      req.unit_call_sign ? el("span", { class: "rc-unit" }, callSign(req.unit_call_sign)) : null,
    ),
    (req.round || 1) > 1 ? el("div", { class: "rc-note" }, t("er.round", { n: req.round })) : null,
    // Asked from the 119 call while the unit drives: what is known so far, and whether
    // the crew has confirmed it on scene.
    req.early
      ? el("div", { class: "rc-note rc-early" }, t(req.early_outcome === "confirmed" ? "er.early_confirmed" : "er.early_pending"))
      : null,
  );
  if (!declining) {
    card.append(
      el(
        "div",
        { class: "rc-actions" },
        el("button", { type: "button", class: "btn btn-accept btn-xl", id: `accept-${req.id}`, onclick: (ev) => accept(req, ev.currentTarget) }, t("er.accept")),
        el(
          "button",
          {
            type: "button",
            class: "btn btn-decline btn-xl",
            id: `decline-${req.id}`,
            "aria-expanded": "false",
            onclick: () => {
              dispatch({ type: "decline-start", id: req.id });
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
              { type: "button", class: "btn reason-btn", dataset: { reason }, onclick: (ev) => decline(req, reason, note.value, ev.currentTarget.closest(".reason-box")) },
              t(`decline.${reason}`),
            ),
          ),
        ),
        note,
        el("button", { type: "button", class: "btn btn-ghost-dark", onclick: () => dispatch({ type: "decline-cancel" }) }, t("common.back")),
      ),
    );
  }
  return card;
}

function accept(req, button) {
  return once(button, async () => {
    try {
      await act(`/api/v1/hospital-requests/${req.id}/accept`, {}, "accept");
      toast(t("er.accepted_toast", { patient: patientName(req) }), "ok");
    } catch (e) {
      toast(t("er.about", { patient: patientName(req), message: errorText(e) }), "error");
      // Taken by another hospital meanwhile, most likely: see what is left.
      dispatch({ type: "resync", tick: store.tick(), keys: ["requests:sent", "requests:accepted"] });
    }
  });
}

function decline(req, reason, note, box) {
  return once(box, async () => {
    for (const b of box.querySelectorAll("button")) b.disabled = true;
    try {
      await act(`/api/v1/hospital-requests/${req.id}/decline`, { reason, note: note || "" }, "decline");
      toast(t("er.declined_toast", { reason: t(`decline.${reason}`), patient: patientName(req) }), "info");
    } catch (e) {
      toast(t("er.about", { patient: patientName(req), message: errorText(e) }), "error");
      for (const b of box.querySelectorAll("button")) b.disabled = false;
    }
  });
}

// --- patients ----------------------------------------------------------------------------
// One viewer per accepted transport, kept across redraws (its socket and canvases live on).
const viewers = new Map();

const renderPatients = drawWhenChanged(
  (st, now) => [
    st.book["requests:accepted"],
    accepted(st, now)
      .map((r) => r.id)
      .join(","),
    st.requests,
    st.transports,
    st.records,
  ],
  (st, now) => {
    if (!st.book["requests:accepted"]) return; // not loaded yet
    const box = document.getElementById("patients");
    const shown = accepted(st, now);
    const seen = new Set(shown.map((r) => r.transport_id));
    for (const [id, v] of viewers) {
      if (!seen.has(id)) {
        v.viewer?.destroy?.();
        v.viewer?.close?.();
        viewers.delete(id);
      }
    }
    fill(box, ...shown.map((req) => patientCard(st, req)));
    if (!shown.length) box.append(el("p", { class: "empty" }, t("er.no_patients")));
  },
);

function viewerSlot(st, transportId) {
  // A transport handed over or closed has no stream to watch: no socket is opened.
  if (!hasLiveFeed(st, transportId)) {
    const entry = viewers.get(transportId);
    if (entry) {
      entry.viewer?.close?.();
      viewers.delete(transportId);
    }
    const tr = transportFor(st, transportId);
    return el("div", { class: "viewer-slot viewer-off", dataset: { transportId } }, el("p", { class: "muted" }, t(tr ? "er.stream_ended" : "common.loading")));
  }
  let entry = viewers.get(transportId);
  if (!entry) {
    const node = el("div", { class: "viewer-slot", dataset: { transportId } }, el("p", { class: "muted" }, t("er.stream_waiting")));
    entry = { node, viewer: null };
    viewers.set(transportId, entry);
    loadViewerModule().then((mod) => {
      if (!mod || !mod.mountViewer) {
        fill(node, el("p", { class: "muted" }, t("er.viewer_unavailable")));
        return;
      }
      fill(node);
      // The viewer speaks the page's language: our dictionaries carry its viewer.* keys.
      entry.viewer = mod.mountViewer(node, { relayUrl, transportId, token: s.token, t, lang: () => document.documentElement.lang });
    });
  }
  return entry.node;
}

function patientCard(st, req) {
  const tr = transportFor(st, req.transport_id) || {};
  const urgency = req.urgency || "moderate";
  const record = recordFor(st, req.transport_id);
  let history;
  if (!record && tr.id && !hasLiveFeed(st, req.transport_id)) history = el("p", { class: "muted" }, t("er.record_after_handover"));
  else if (!record) history = el("p", { class: "muted" }, t("common.loading"));
  else if (record.error) {
    history = el("p", { class: "muted" }, record.error.status === 404 ? t("er.no_record_yet") : errorText(record.error));
  } else history = renderHistory(record.record);
  return el(
    "article",
    { class: `patient-card u-${urgency}`, id: `patient-${req.transport_id}`, dataset: { transportId: req.transport_id } },
    el(
      "header",
      { class: "pc-head" },
      el("span", { class: `badge urg-${urgency}` }, t(`urgency.${urgency}`)),
      el("h3", {}, req.chief_complaint || "—"),
      el("span", { class: "pc-eta" }, stepTime(tr, "handover") ? t("er.handed_over") : stepTime(tr, "arrived_hospital") ? t("er.arrived") : `${t("er.eta")} ${fmtEta(req.eta_s)}`),
      req.unit_call_sign ? el("span", { class: "muted pc-unit" }, callSign(req.unit_call_sign)) : null,
      el("span", { class: "muted pc-accepted" }, t("er.accepted_at", { time: fmtWhen(req.responded_at) })),
    ),
    el(
      "div",
      { class: "pc-body" },
      el("div", { class: "pc-live" }, el("h4", {}, t("er.live")), viewerSlot(st, req.transport_id)),
      el("div", { class: "pc-history" }, el("h4", {}, t("er.history")), history),
    ),
    el("div", { class: "pc-timeline" }, renderTimeline(tr)),
  );
}

// --- availability ----------------------------------------------------------------------
const form = document.getElementById("avail-form");

const renderHospital = drawWhenChanged(
  // Not on the staff's own edits: the input already shows what they typed.
  (st, now) => [st.hospitals, Math.floor(now / 30000)],
  (st, now) => {
    const h = hospitalOf(st);
    document.getElementById("hospital-name").textContent = h ? localName(h) : "";
    const pill = document.getElementById("diversion-pill");
    const div = h?.diversion || "open";
    pill.textContent = t(`diversion.${div}`);
    pill.className = `diversion-pill div-${div}`;
    if (!h) return;
    const tbody = document.getElementById("avail-body");
    fill(
      tbody,
      ...bedRows(st, now).map((b) => {
        const input = el("input", {
          type: "number",
          min: 0,
          max: b.capacity || 999,
          value: b.value,
          inputmode: "numeric",
          class: "num",
          "aria-label": t("er.available_for", { cat: t(`bed.${b.category}`) }),
          dataset: { category: b.category },
          oninput: (ev) => dispatch({ type: "edit-bed", category: b.category, value: Number(ev.target.value) }),
        });
        const step = (d) => () => {
          const v = Math.max(0, Math.min(b.capacity || 999, Number(input.value || 0) + d));
          input.value = String(v);
          dispatch({ type: "edit-bed", category: b.category, value: v });
        };
        return el(
          "tr",
          { class: b.expired ? "stale" : "" },
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
            { class: b.expired ? "expiry expired" : "expiry" },
            b.expired ? el("strong", {}, t("er.expired")) : fmtTime(b.expires_at),
            el("small", {}, b.expired ? t("er.updated", { when: fmtRelative(b.updated_at) }) : fmtRelative(b.expires_at)),
          ),
        );
      }),
    );
    const select = document.getElementById("diversion-select");
    if (!form.dataset.dirty) select.value = div;
    renderDiverted(h);
  },
);

function renderDiverted(h) {
  const box = document.getElementById("diverted-box");
  const select = document.getElementById("diversion-select");
  box.hidden = select.value !== "category_diversion";
  const chosen = new Set(h?.diverted_categories || []);
  const current = [...document.querySelectorAll("#diverted-list input:checked")].map((x) => x.value);
  if (form.dataset.dirty) for (const c of current) chosen.add(c);
  fill(
    document.getElementById("diverted-list"),
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
  renderDiverted(hospitalOf(state()));
});

/** The figures typed, or what is wrong with the first one that cannot be sent. */
function readBeds(ttl) {
  const beds = [];
  for (const input of document.querySelectorAll("#avail-body input[data-category]")) {
    input.removeAttribute("aria-invalid");
    const max = Number(input.max) || 999;
    const raw = input.value.trim();
    const value = Number(raw);
    if (raw === "" || !Number.isInteger(value) || value < 0 || value > max) {
      input.setAttribute("aria-invalid", "true");
      return { input, message: t("er.bed_out_of_range", { cat: t(`bed.${input.dataset.category}`), max }) };
    }
    beds.push({ category: input.dataset.category, available: value, ttl_min: ttl });
  }
  return { beds };
}

onSubmit(form, async () => {
  const err = form.querySelector(".form-error");
  err.hidden = true;
  const ttl = Number(form.ttl_min.value);
  const { beds, input, message } = readBeds(ttl);
  if (!beds) {
    err.textContent = message;
    err.hidden = false;
    input.focus();
    return;
  }
  const diversion = form.diversion.value;
  const diverted = diversion === "category_diversion" ? [...document.querySelectorAll("#diverted-list input:checked")].map((x) => x.value) : [];
  if (diversion === "category_diversion" && !diverted.length) {
    err.textContent = t("error.diverted_categories_required");
    err.hidden = false;
    return;
  }
  try {
    const asOf = store.tick();
    const saved = await api(`/api/v1/hospitals/${hospitalId}/availability`, {
      method: "PATCH",
      body: { beds, diversion, diverted_categories: diverted },
    });
    delete form.dataset.dirty;
    dispatch({ type: "answer", what: "availability", data: saved, asOf });
    toast(t("er.saved", { time: fmtTime(new Date(Date.now() + ttl * 60000).toISOString()) }), "ok");
  } catch (e) {
    err.textContent = errorText(e);
    err.hidden = false;
  }
});

// --- drawing and live updates ----------------------------------------------------------
const render = ({ timer = false } = {}) => {
  const now = Date.now();
  // The countdown of the expiry column waits while the staff edit the figures.
  if (!timer || !document.activeElement?.closest?.("#avail-form")) renderHospital(state(), now);
  renderIncoming(state());
  renderPatients(state(), now);
};
store.subscribe(() => render());

const event = (name) => (data) => dispatch({ type: "event", name, data, tick: store.tick() });

liveEvents(
  {
    "request.created": (data) => {
      event("request.created")(data);
      if (data.hospital_id === hospitalId) toast(t("er.new_request", { patient: patientName(data) }), "alert");
    },
    "request.cancelled": event("request.cancelled"),
    // The crew confirmed on scene what the call said: the same request, updated.
    "request.early_confirmed": event("request.created"),
    "request.accepted": event("request.accepted"),
    "request.declined": event("request.declined"),
    "transport.updated": event("transport.updated"),
    "hospital.updated": event("hospital.updated"),
  },
  // Events may have been missed while the stream was down: ask everything again.
  { onResync: () => dispatch({ type: "resync", tick: store.tick() }) },
);

onLangChange(() => {
  for (const draw of [renderHospital, renderIncoming, renderPatients]) draw.reset();
  render();
  for (const v of viewers.values()) v.viewer?.relabel?.();
});

// The expiry column counts down, and a patient handed over long ago leaves the board.
setInterval(() => render({ timer: true }), 30000);

render();
await fetcher.settled();
document.body.dataset.ready = "true";
