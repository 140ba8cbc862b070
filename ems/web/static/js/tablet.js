// Paramedic tablet, served by the ambulance's local service: it proxies /api/* to the
// server (same origin), holds the card reader and the stream, and queues timeline
// events while the ambulance is offline (/local/*).
import {
  fill,
  api,
  applyI18n,
  clearSession,
  el,
  errorText,
  fmtEta,
  fmtRelative,
  fmtTime,
  initHeader,
  initI18n,
  liveEvents,
  localName,
  onLangChange,
  saveSession,
  session,
  t,
  TIMELINE,
  toast,
} from "./common.js";
import { listOf, reasonText, renderHistory, renderRequests, stepTime, toastAnswer } from "./shared-views.js";

await initI18n();

const state = {
  unit: null,
  transport: null,
  incident: null,
  local: { online: true, queued: 0, pending: [], last_synced_at: null, card: {}, stream: {} },
  pin: "",
  cardStep: "idle", // idle | pin | pinless | verifying | done
  cardError: null,
  record: null,
  recs: null,
  requests: [],
  hospitals: [],
  chosen: null,
};

async function local(path, body) {
  const s = session();
  const resp = await fetch(`/local/${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { "Content-Type": "application/json", ...(s ? { Authorization: `Bearer ${s.token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const err = new Error(data.detail || data.code || `HTTP ${resp.status}`);
    err.code = data.code;
    err.status = resp.status;
    err.tries_left = data.tries_left;
    throw err;
  }
  return data;
}

// --- sign-in ------------------------------------------------------------------------------
const loginView = document.getElementById("login-view");
const workView = document.getElementById("work-view");

function showLogin() {
  loginView.hidden = false;
  workView.hidden = true;
  loginView.querySelector("input").focus();
}

document.getElementById("tab-login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.target;
  const err = form.querySelector(".form-error");
  err.hidden = true;
  try {
    const body = await api("/api/v1/auth/token", {
      method: "POST",
      body: { username: form.username.value.trim(), password: form.password.value },
    });
    if (body.user.role !== "paramedic") {
      err.textContent = t("tablet.paramedics_only");
      err.hidden = false;
      return;
    }
    saveSession(body.access_token, body.user);
    await start();
  } catch (e) {
    err.textContent = e.status === 401 ? t("login.invalid") : errorText(e);
    err.hidden = false;
  }
});

// --- connection state (from the local service) ---------------------------------------------
function renderNet() {
  const L = state.local;
  const net = document.getElementById("net");
  net.className = `net ${L.online ? "online" : "offline"}`;
  net.dataset.state = L.online ? "online" : "offline";
  net.textContent = L.online ? t("tablet.online") : t("tablet.offline");
  const q = document.getElementById("queued");
  q.hidden = !L.queued;
  q.textContent = t("tablet.queued", { n: L.queued });
  document.getElementById("synced").textContent = L.last_synced_at
    ? t("tablet.last_synced", { time: fmtTime(L.last_synced_at), ago: fmtRelative(L.last_synced_at) })
    : t("tablet.never_synced");
}

function followLocalStatus() {
  const src = new EventSource("/local/status/stream");
  src.addEventListener("status", async (ev) => {
    const before = state.local;
    state.local = JSON.parse(ev.data);
    renderNet();
    renderSteps();
    renderStream();
    // Back online with everything replayed: fetch what changed meanwhile.
    if (!before.online && state.local.online) await reload();
    else if (before.queued && !state.local.queued) await reload();
  });
  src.addEventListener("error", () => {
    state.local = { ...state.local, online: false };
    renderNet();
  });
}

// --- assignment -----------------------------------------------------------------------------
// Several events in a row start several reloads, and their answers can come back out
// of order: only the latest may change what the crew sees, or an older answer would
// bring back an assignment that has just ended.
let reloadGen = 0;

async function reload() {
  const s = session();
  if (!s) return;
  const gen = ++reloadGen;
  const stale = () => gen !== reloadGen;
  let unit;
  try {
    unit = await api(`/api/v1/units/${s.user.unit_id}`);
  } catch (e) {
    if (e.code === "network_error" || e.status === 503 || e.status === 502) return; // offline: keep what we show
    throw e;
  }
  if (stale()) return;
  const trId = unit.current_transport_id;
  if (trId) {
    const changed = state.transport?.id !== trId;
    const transport = await api(`/api/v1/transports/${trId}`);
    if (stale()) return;
    const incident =
      changed || !state.incident ? await api(`/api/v1/incidents/${transport.incident_id}`) : state.incident;
    if (stale()) return;
    state.unit = unit;
    state.transport = transport;
    state.incident = incident;
    if (changed) {
      state.record = null;
      state.cardStep = "idle";
      state.recs = null;
      state.chosen = null;
    }
    await Promise.all([loadHospitalSide(), loadRecord()]);
    if (stale()) return;
  } else {
    state.unit = unit;
    state.transport = null;
    state.incident = null;
  }
  renderAll();
}

async function loadRecord() {
  if (!state.transport || state.record) return;
  if (!state.transport.patient_id) return;
  try {
    state.record = await api(`/api/v1/transports/${state.transport.id}/patient-record`);
    state.cardStep = "done";
  } catch {
    /* not identified yet */
  }
}

async function loadHospitalSide() {
  if (!state.transport) return;
  const id = state.transport.id;
  const jobs = [
    api("/api/v1/hospitals").then((h) => (state.hospitals = listOf(h))).catch(() => {}),
    api(`/api/v1/hospital-requests?transport_id=${id}`).then((r) => (state.requests = listOf(r))).catch(() => {}),
  ];
  if (!state.transport.destination_hospital_id) {
    jobs.push(
      api(`/api/v1/transports/${id}/hospital-recommendations`)
        .then((r) => {
          state.recs = listOf(r, "hospitals");
          state.suggested = r?.suggested || [];
        })
        .catch((e) => (state.recs = { error: e })),
    );
  }
  await Promise.all(jobs);
}

function renderAll() {
  renderUnit();
  renderAssignment();
  renderSteps();
  renderCard();
  renderHospitals();
  renderStream();
}

function renderUnit() {
  if (!state.unit) return;
  document.getElementById("unit-name").textContent = `${state.unit.call_sign}`;
  document.getElementById("unit-status").textContent = t(`status.${state.unit.status}`);
}

function renderAssignment() {
  const body = document.getElementById("assign-body");
  const inc = state.incident;
  if (!inc) {
    fill(body, el("p", { class: "empty" }, t("tablet.no_assignment")));
    document.getElementById("assign-meta").textContent = "";
    return;
  }
  document.getElementById("assign-meta").textContent = `#${inc.id} · ${fmtTime(inc.received_at)}`;
  const patient = [
    inc.patient_age !== null && inc.patient_age !== undefined ? t("incident.age_n", { n: inc.patient_age }) : null,
    inc.patient_sex ? t(`sex.${inc.patient_sex}`) : null,
  ].filter(Boolean);
  const dest = state.hospitals.find((h) => h.id === state.transport?.destination_hospital_id);
  fill(body, 
    el("span", { class: `badge urg-${inc.urgency}` }, t(`urgency.${inc.urgency}`)),
    el("span", { class: "complaint" }, inc.chief_complaint),
    el("span", { class: "addr" }, `${inc.address || "—"}`),
    patient.length ? el("span", { class: "addr" }, patient.join(" · ")) : null,
    dest ? el("span", { class: "badge req-badge-accepted", dataset: { testid: "destination" } }, `${localName(dest)}`) : null,
  );
}

// --- timeline buttons -------------------------------------------------------------------------
const CREW_STEPS = TIMELINE.slice(2); // call_received and dispatched are set by the command centre

function pendingFor(kind) {
  return (state.local.pending || []).find((p) => p.transport_id === state.transport?.id && p.kind === kind);
}

function renderSteps() {
  const box = document.getElementById("steps");
  const tr = state.transport;
  if (!tr) {
    delete box.dataset.signature;
    fill(box, el("p", { class: "empty" }, t("tablet.no_assignment")));
    return;
  }
  const doneAt = (k) => stepTime(tr, k) || pendingFor(k)?.at || null;
  const next = TIMELINE.find((k) => !doneAt(k));
  // Re-render only on a change: a button replaced under the finger loses the tap.
  const signature = JSON.stringify([document.documentElement.lang, tr.id, tr.destination_hospital_id, CREW_STEPS.map((k) => [doneAt(k), Boolean(pendingFor(k))])]);
  if (box.dataset.signature === signature) return;
  box.dataset.signature = signature;
  fill(box, 
    ...CREW_STEPS.map((kind) => {
      const at = doneAt(kind);
      const queued = !stepTime(tr, kind) && pendingFor(kind);
      const blockedNoDest = kind === "arrived_hospital" && !tr.destination_hospital_id;
      const cls = at ? (queued ? "queued" : "done") : kind === next ? "next" : "todo";
      return el(
        "button",
        {
          type: "button",
          class: `btn step-btn ${cls}`,
          disabled: Boolean(at) || kind !== next || blockedNoDest,
          dataset: { step: kind, state: cls },
          "aria-label": `${t(`timeline.${kind}`)}${at ? ` ${fmtTime(at)}` : ""}${queued ? ` (${t("tablet.step_queued")})` : ""}`,
          onclick: (ev) => recordStep(kind, ev.currentTarget),
        },
        el("span", {}, t(`timeline.${kind}`)),
        el("small", {}, at ? `${fmtTime(at)}${queued ? ` · ${t("tablet.step_queued")}` : ""}` : blockedNoDest && kind === next ? t("tablet.need_destination") : ""),
      );
    }),
  );
}

async function recordStep(kind, button) {
  button.disabled = true;
  try {
    const res = await local("timeline", { transport_id: state.transport.id, kind });
    if (res.transport) state.transport = res.transport;
    state.local = res.local || state.local;
    if (res.status === "queued") toast(t("tablet.step_saved_offline", { step: t(`timeline.${kind}`) }), "alert");
    renderNet();
    renderSteps();
    if (res.status === "sent") await reload();
  } catch (e) {
    toast(`${t(`timeline.${kind}`)}: ${t(`error.${e.code}`) === `error.${e.code}` ? e.message : t(`error.${e.code}`)}`, "error");
    delete document.getElementById("steps").dataset.signature;
    renderSteps();
  }
}

// --- card ----------------------------------------------------------------------------------
const PINLESS_REASONS = ["unconscious", "cannot_enter_pin", "minor_or_assisted", "other"];

function renderCard() {
  const body = document.getElementById("card-body");
  if (!state.transport) {
    fill(body, el("p", { class: "empty" }, t("tablet.card_after_assignment")));
    return;
  }
  if (state.cardStep === "done" && state.record) {
    fill(body, renderHistory(state.record));
    return;
  }
  const parts = [];
  if (state.cardStep === "idle") {
    parts.push(
      el("p", { class: "hint" }, t("tablet.card_hint")),
      el("button", { type: "button", class: "btn btn-primary btn-block", id: "card-tap", onclick: tapCard }, `${t("tablet.card_tap")}`),
    );
  }
  if (state.cardStep === "pin" || state.cardStep === "verifying") {
    const card = state.local.card || {};
    parts.push(
      el("p", {}, t("tablet.pin_prompt")),
      el("div", { class: "pin-dots", "aria-hidden": "true" }, ...[0, 1, 2, 3].map((i) => el("i", { class: i < state.pin.length ? "on" : "" }))),
      el("p", { class: "sr-only", "aria-live": "polite" }, t("tablet.pin_digits", { n: state.pin.length })),
      card.tries_left !== undefined && card.tries_left !== null && card.tries_left < 3
        ? el("p", { class: "tries" }, t("tablet.tries_left", { n: card.tries_left }))
        : null,
      pinPad(),
      el(
        "button",
        { type: "button", class: "btn btn-block", onclick: () => ((state.cardStep = "pinless"), (state.cardError = null), renderCard()) },
        t("tablet.pinless_path"),
      ),
    );
  }
  if (state.cardStep === "pinless") parts.push(pinlessForm());
  if (state.cardError) parts.push(el("p", { class: state.cardError.locked ? "locked" : "form-error", role: "alert" }, state.cardError.text));
  fill(body, ...parts);
}

function pinPad() {
  const keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "clear", "0", "ok"];
  return el(
    "div",
    { class: "pinpad", role: "group", "aria-label": t("tablet.pin_pad") },
    ...keys.map((k) =>
      el(
        "button",
        {
          type: "button",
          class: k === "ok" ? "btn btn-primary" : "btn",
          dataset: { key: k },
          disabled: state.cardStep === "verifying" || (k === "ok" && state.pin.length !== 4),
          "aria-label": k === "clear" ? t("tablet.pin_clear") : k === "ok" ? t("tablet.pin_ok") : k,
          onclick: () => pinKey(k),
        },
        k === "clear" ? "⌫" : k === "ok" ? t("tablet.pin_ok") : k,
      ),
    ),
  );
}

function pinKey(k) {
  if (k === "clear") state.pin = state.pin.slice(0, -1);
  else if (k === "ok") return verifyPin();
  else if (state.pin.length < 4) state.pin += k;
  renderCard();
  if (k !== "ok") document.querySelector(`.pinpad [data-key="${state.pin.length === 4 ? "ok" : k}"]`)?.focus();
}

async function tapCard() {
  state.cardError = null;
  try {
    const card = await local("card/read", {});
    state.local.card = card;
    if (card.locked) {
      state.cardError = { text: t("tablet.card_locked"), locked: true };
      state.cardStep = "pinless";
    } else state.cardStep = "pin";
  } catch (e) {
    state.cardError = { text: t(`error.${e.code}`) === `error.${e.code}` ? e.message : t(`error.${e.code}`) };
  }
  state.pin = "";
  renderCard();
  document.querySelector('.pinpad [data-key="1"]')?.focus();
}

async function verifyPin() {
  state.cardStep = "verifying";
  renderCard();
  try {
    const res = await local("card/verify", { transport_id: state.transport.id, pin: state.pin });
    await identified(res);
  } catch (e) {
    state.cardStep = e.code === "card_locked" ? "pinless" : "pin";
    state.local.card = { ...(state.local.card || {}), tries_left: e.tries_left, locked: e.code === "card_locked" };
    state.cardError = {
      text: e.code === "wrong_pin" ? t("tablet.wrong_pin", { n: e.tries_left ?? "?" }) : e.code === "card_locked" ? t("tablet.card_locked") : t(`error.${e.code}`) === `error.${e.code}` ? e.message : t(`error.${e.code}`),
      locked: e.code === "card_locked",
    };
    state.pin = "";
    renderCard();
  }
}

function pinlessForm() {
  const reason = el(
    "select",
    { id: "pinless-reason", name: "reason" },
    ...PINLESS_REASONS.map((r) => el("option", { value: r }, t(`pinless.${r}`))),
  );
  const face = el("input", { type: "checkbox", id: "face-match" });
  const go = el(
    "button",
    {
      type: "button",
      class: "btn btn-primary btn-block",
      id: "pinless-go",
      onclick: async () => {
        if (!face.checked) {
          state.cardError = { text: t("tablet.face_required") };
          renderCard();
          return;
        }
        go.disabled = true;
        try {
          const res = await local("card/pinless", { transport_id: state.transport.id, reason: reason.value, face_match_confirmed: true });
          await identified(res);
        } catch (e) {
          state.cardError = { text: t(`error.${e.code}`) === `error.${e.code}` ? e.message : t(`error.${e.code}`) };
          renderCard();
        }
      },
    },
    t("tablet.pinless_go"),
  );
  return el(
    "div",
    { class: "form" },
    el("p", { class: "hint" }, t("tablet.pinless_hint")),
    el("label", { class: "field" }, el("span", {}, t("tablet.pinless_reason")), reason),
    el("label", { class: "check-lg" }, face, el("span", {}, t("tablet.face_match"))),
    go,
    el("button", { type: "button", class: "btn btn-block", onclick: () => ((state.cardStep = "idle"), (state.cardError = null), renderCard()) }, t("common.back")),
  );
}

async function identified(res) {
  state.pin = "";
  state.cardError = null;
  state.record = res.record || res.summary ? res : null;
  if (!state.record || !(res.summary || res.record?.summary)) {
    state.record = await api(`/api/v1/transports/${state.transport.id}/patient-record`);
  }
  state.cardStep = "done";
  toast(t("tablet.identified"), "ok");
  renderCard();
}

// --- hospitals --------------------------------------------------------------------------------
function renderHospitals() {
  const body = document.getElementById("hosp-body");
  const tr = state.transport;
  if (!tr) {
    fill(body, el("p", { class: "empty" }, t("tablet.no_assignment")));
    return;
  }
  const parts = [];
  const accepted = state.requests.find((r) => r.status === "accepted");
  if (!tr.destination_hospital_id && !accepted) {
    const recs = state.recs;
    if (recs?.error) parts.push(el("p", { class: "form-error" }, errorText(recs.error)));
    else if (recs) {
      if (!state.chosen) {
        const sug = state.suggested || [];
        state.chosen = new Set(sug.length ? sug : recs.slice(0, 3).map((r) => r.hospital_id));
      }
      const list = el("ul", { class: "rec-list" });
      for (const r of recs.slice(0, 5)) {
        const h = state.hospitals.find((x) => x.id === r.hospital_id) || r.hospital || {};
        const id = `tab-h-${r.hospital_id}`;
        list.append(
          el(
            "li",
            { class: "rec rec-h" },
            el("input", { type: "checkbox", id, checked: state.chosen.has(r.hospital_id), onchange: (ev) => (ev.target.checked ? state.chosen.add(r.hospital_id) : state.chosen.delete(r.hospital_id)) }),
            el("label", { for: id, class: "rec-main" }, el("strong", { class: "rec-name" }, localName(r.hospital || h) || localName(r) || `#${r.hospital_id}`), el("span", { class: "rec-eta" }, fmtEta(r.eta_s ?? r.eta_seconds))),
            el("div", { class: "rec-reasons" }, reasonText(r)),
          ),
        );
      }
      parts.push(list);
      const open = state.requests.some((r) => r.status === "sent");
      parts.push(
        el(
          "button",
          { type: "button", class: "btn btn-primary btn-block", id: "send-requests", onclick: sendRequests },
          open ? t("requests.send_more") : t("requests.send_parallel", { n: state.chosen.size }),
        ),
      );
    } else parts.push(el("p", { class: "muted" }, t("common.loading")));
  }
  parts.push(el("h3", { class: "kpi-sub" }, t("requests.title")), renderRequests(state.requests, state.hospitals));
  fill(body, ...parts);
}

async function sendRequests(ev) {
  ev.currentTarget.disabled = true;
  try {
    await api(`/api/v1/transports/${state.transport.id}/hospital-requests`, { method: "POST", body: { hospital_ids: [...state.chosen] } });
    toast(t("requests.sent", { n: state.chosen.size }), "ok");
    await loadHospitalSide();
  } catch (e) {
    toast(errorText(e), "error");
  }
  renderHospitals();
}

// --- stream ----------------------------------------------------------------------------------
function renderStream() {
  const box = document.getElementById("stream-box");
  const st = state.local.stream || {};
  if (!state.transport) {
    fill(box, el("p", { class: "empty" }, t("tablet.no_assignment")));
    return;
  }
  const running = st.running && st.transport_id === state.transport.id;
  fill(box, 
    running ? el("span", { class: "rec-dot", "aria-hidden": "true" }) : null,
    el("span", { dataset: { testid: "stream-state" } }, running ? t("tablet.stream_on") : t("tablet.stream_off")),
    running && st.stats?.sent_frames !== undefined ? el("span", { class: "muted" }, t("tablet.frames", { n: st.stats.sent_frames })) : null,
    el(
      "button",
      {
        type: "button",
        class: running ? "btn" : "btn btn-primary",
        id: "stream-toggle",
        "aria-pressed": String(Boolean(running)),
        onclick: async (ev) => {
          ev.currentTarget.disabled = true;
          try {
            const res = await local(running ? "stream/stop" : "stream/start", { transport_id: state.transport.id });
            state.local.stream = res.stream || res;
          } catch (e) {
            toast(e.message, "error");
          }
          renderStream();
        },
      },
      running ? t("tablet.stream_stop") : t("tablet.stream_start"),
    ),
    st.error ? el("p", { class: "form-error" }, st.error) : null,
  );
}

function answered(data, status, refresh) {
  toastAnswer(data, status, state.hospitals);
  refresh();
}

// --- start -----------------------------------------------------------------------------------
let started = false;
async function start() {
  const s = session();
  if (!s || s.user.role !== "paramedic") {
    showLogin();
    return;
  }
  loginView.hidden = true;
  workView.hidden = false;
  if (!started) {
    started = true;
    initHeader(s, { logoutUrl: "/" });
    followLocalStatus();
    const refresh = () => reload().catch((e) => toast(errorText(e), "error"));
    liveEvents(
      {
        "unit.updated": refresh,
        "transport.updated": refresh,
        "request.created": () => loadHospitalSide().then(renderHospitals),
        "request.round": () => loadHospitalSide().then(renderHospitals),
        "request.cancelled": () => loadHospitalSide().then(renderHospitals),
        "request.exhausted": () => loadHospitalSide().then(renderHospitals),
        "request.accepted": (data) => answered(data, "accepted", refresh),
        "request.declined": (data) => answered(data, "declined", refresh),
      },
      { onResync: refresh },
    );
  }
  await reload();
  document.body.dataset.ready = "true";
}

onLangChange(() => {
  renderNet();
  renderAll();
});
applyI18n();
renderNet();
await start();
