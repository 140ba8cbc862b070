// Paramedic tablet, served by the ambulance's local service: it proxies /api/* to the
// server (same origin), holds the card reader and the stream, and queues timeline
// events while the ambulance is offline (/local/*). The state and its rules are
// tablet-state.js's; this draws it, turns taps, answers and live events into actions,
// and fetches what the state says it lacks. shared/ holds the modules the server's
// pages use too, copied here by scripts/ensure-frontend.
import {
  api,
  applyI18n,
  el,
  errorText,
  fill,
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
  setLoginUrl,
  t,
  toast,
} from "./shared/common.js";
import { reasonText, renderHistory, renderRequests, toastAnswer } from "./shared/shared-views.js";
import { createStore, drawWhenChanged, follow } from "./shared/store.js";
import {
  accepted,
  chosenFor,
  destination,
  hospitalsOf,
  initialState,
  needs,
  PIN_LENGTH,
  reduce,
  requestsOf,
  steps,
  streamOf,
} from "./tablet-state.js";

// Preset reasons for a look-up without PIN (the server takes the reason as text).
const PINLESS_REASONS = ["unconscious", "cannot_enter_pin", "minor_or_assisted", "other"];

setLoginUrl("/"); // the crew signs in on this page
await initI18n();

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

/** A local error in the crew's words when the dictionary has its code. */
function localErrorText(e) {
  const key = `error.${e.code}`;
  return t(key) === key ? e.message : t(key);
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

// --- the state, and what it lacks fetched ------------------------------------------------
const store = createStore(reduce, initialState(null));
const dispatch = (action) => store.dispatch(action);

const SOURCES = {
  unit: () => `/api/v1/units/${store.state.unitId}`,
  transport: (id) => `/api/v1/transports/${id}`,
  incident: (id) => `/api/v1/incidents/${id}`,
  hospitals: () => "/api/v1/hospitals",
  requests: (id) => `/api/v1/hospital-requests?transport_id=${id}`,
  recs: (id) => `/api/v1/transports/${id}/hospital-recommendations`,
  record: (id) => `/api/v1/transports/${id}/patient-record`,
};

async function load(need, asOf) {
  try {
    return { type: "answer", what: need.what, id: need.id, data: await api(SOURCES[need.what](need.id)), asOf };
  } catch (error) {
    // Offline (503 from the local service) or not identified yet: keep what we show.
    const quiet = error.code === "network_error" || [502, 503, 404].includes(error.status) || need.what !== "unit";
    if (!quiet) toast(errorText(error), "error");
    return { type: "failed", what: need.what, id: need.id, error, asOf };
  }
}

// --- connection state (from the local service) ---------------------------------------------
const renderNet = drawWhenChanged(
  (st) => [st.local.online, st.local.queued, st.local.last_synced_at],
  (st) => {
    const L = st.local;
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
  },
);

function followLocalStatus() {
  const src = new EventSource("/local/status/stream");
  src.addEventListener("status", (ev) => dispatch({ type: "local", data: JSON.parse(ev.data), tick: store.tick() }));
  src.addEventListener("error", () => dispatch({ type: "local-lost" }));
}

// --- assignment -----------------------------------------------------------------------------
const renderUnit = drawWhenChanged(
  (st) => [st.unit],
  (st) => {
    if (!st.unit) return;
    document.getElementById("unit-name").textContent = `${st.unit.call_sign}`;
    document.getElementById("unit-status").textContent = t(`status.${st.unit.status}`);
  },
);

const renderAssignment = drawWhenChanged(
  (st) => [st.incident, st.transport?.destination_hospital_id, st.hospitals],
  (st) => {
    const body = document.getElementById("assign-body");
    const inc = st.incident;
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
    const dest = destination(st);
    fill(
      body,
      el("span", { class: `badge urg-${inc.urgency}` }, t(`urgency.${inc.urgency}`)),
      el("span", { class: "complaint" }, inc.chief_complaint),
      el("span", { class: "addr" }, `${inc.address || "—"}`),
      patient.length ? el("span", { class: "addr" }, patient.join(" · ")) : null,
      dest ? el("span", { class: "badge req-badge-accepted", dataset: { testid: "destination" } }, `${localName(dest)}`) : null,
    );
  },
);

// --- timeline buttons -------------------------------------------------------------------------
function renderSteps(st) {
  const box = document.getElementById("steps");
  const tr = st.transport;
  if (!tr) {
    delete box.dataset.signature;
    fill(box, el("p", { class: "empty" }, t("tablet.no_assignment")));
    return;
  }
  const buttons = steps(st);
  // Re-render only on a change: a button replaced under the finger loses the tap.
  const signature = JSON.stringify([
    document.documentElement.lang,
    tr.id,
    tr.destination_hospital_id,
    buttons.map((b) => [b.at, b.queued]),
  ]);
  if (box.dataset.signature === signature) return;
  box.dataset.signature = signature;
  fill(
    box,
    ...buttons.map((b) =>
      el(
        "button",
        {
          type: "button",
          class: `btn step-btn ${b.cls}`,
          disabled: b.disabled,
          dataset: { step: b.kind, state: b.cls },
          "aria-label": `${t(`timeline.${b.kind}`)}${b.at ? ` ${fmtTime(b.at)}` : ""}${b.queued ? ` (${t("tablet.step_queued")})` : ""}`,
          onclick: (ev) => recordStep(b.kind, ev.currentTarget),
        },
        el("span", {}, t(`timeline.${b.kind}`)),
        el(
          "small",
          {},
          b.at
            ? `${fmtTime(b.at)}${b.queued ? ` · ${t("tablet.step_queued")}` : ""}`
            : b.blockedNoDest && b.next
              ? t("tablet.need_destination")
              : "",
        ),
      ),
    ),
  );
}

async function recordStep(kind, button) {
  button.disabled = true;
  try {
    const asOf = store.tick();
    const res = await local("timeline", { transport_id: store.state.transport.id, kind });
    if (res.status === "queued") toast(t("tablet.step_saved_offline", { step: t(`timeline.${kind}`) }), "alert");
    dispatch({ type: "answer", what: "step", data: res, asOf });
  } catch (e) {
    toast(`${t(`timeline.${kind}`)}: ${localErrorText(e)}`, "error");
    delete document.getElementById("steps").dataset.signature;
    renderSteps(store.state);
  }
}

// --- card ----------------------------------------------------------------------------------
const renderCard = drawWhenChanged(
  (st) => [st.transport?.id ?? null, st.card, st.record],
  (st) => {
    const body = document.getElementById("card-body");
    const card = st.card;
    if (!st.transport) {
      fill(body, el("p", { class: "empty" }, t("tablet.card_after_assignment")));
      return;
    }
    if (card.step === "done" && st.record) {
      fill(body, renderHistory(st.record));
      return;
    }
    const parts = [];
    if (card.step === "done") parts.push(el("p", { class: "muted" }, t("common.loading")));
    if (card.step === "idle") {
      parts.push(
        el("p", { class: "hint" }, t("tablet.card_hint")),
        el("button", { type: "button", class: "btn btn-primary btn-block", id: "card-tap", onclick: tapCard }, `${t("tablet.card_tap")}`),
      );
    }
    if (card.step === "pin" || card.step === "verifying") {
      const tries = card.reader.tries_left;
      parts.push(
        el("p", {}, t("tablet.pin_prompt")),
        el("div", { class: "pin-dots", "aria-hidden": "true" }, ...[0, 1, 2, 3].map((i) => el("i", { class: i < card.pin.length ? "on" : "" }))),
        el("p", { class: "sr-only", "aria-live": "polite" }, t("tablet.pin_digits", { n: card.pin.length })),
        tries !== undefined && tries !== null && tries < 3 ? el("p", { class: "tries" }, t("tablet.tries_left", { n: tries })) : null,
        pinPad(card),
        el("button", { type: "button", class: "btn btn-block", onclick: () => dispatch({ type: "pinless-open" }) }, t("tablet.pinless_path")),
      );
    }
    if (card.step === "pinless") parts.push(pinlessForm());
    if (card.error) {
      parts.push(el("p", { class: card.error.locked ? "locked" : "form-error", role: "alert" }, cardErrorText(card.error)));
    }
    fill(body, ...parts);
  },
);

function cardErrorText(error) {
  if (error.code === "wrong_pin") return t("tablet.wrong_pin", { n: error.tries_left ?? "?" });
  if (error.code === "card_locked") return t("tablet.card_locked");
  if (error.code === "face_required") return t("tablet.face_required");
  return localErrorText(error);
}

function pinPad(card) {
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
          disabled: card.step === "verifying" || (k === "ok" && card.pin.length !== PIN_LENGTH),
          "aria-label": k === "clear" ? t("tablet.pin_clear") : k === "ok" ? t("tablet.pin_ok") : k,
          onclick: () => pinKey(k),
        },
        k === "clear" ? "⌫" : k === "ok" ? t("tablet.pin_ok") : k,
      ),
    ),
  );
}

function pinKey(k) {
  if (k === "ok") {
    verifyPin();
    return;
  }
  dispatch({ type: "pin-key", key: k });
  const full = store.state.card.pin.length === PIN_LENGTH;
  document.querySelector(`.pinpad [data-key="${full ? "ok" : k}"]`)?.focus();
}

async function tapCard() {
  try {
    dispatch({ type: "card-read", data: await local("card/read", {}) });
  } catch (error) {
    dispatch({ type: "card-read-failed", error });
  }
  document.querySelector('.pinpad [data-key="1"]')?.focus();
}

async function verifyPin() {
  const { pin } = store.state.card;
  dispatch({ type: "pin-verify" });
  try {
    identified(await local("card/verify", { transport_id: store.state.transport.id, pin }));
  } catch (error) {
    dispatch({ type: "pin-failed", error });
  }
}

function identified(res) {
  dispatch({ type: "identified", data: res, tick: store.tick() });
  toast(t("tablet.identified"), "ok");
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
          dispatch({ type: "face-required" });
          return;
        }
        go.disabled = true;
        try {
          identified(
            await local("card/pinless", { transport_id: store.state.transport.id, reason: reason.value, face_match_confirmed: true }),
          );
        } catch (error) {
          dispatch({ type: "pinless-failed", error });
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
    el("button", { type: "button", class: "btn btn-block", onclick: () => dispatch({ type: "card-back" }) }, t("common.back")),
  );
}

// --- hospitals --------------------------------------------------------------------------------
const renderHospitals = drawWhenChanged(
  (st) => [st.transport, st.recs, st.requests, st.hospitals, st.chosen],
  (st) => {
    const body = document.getElementById("hosp-body");
    const tr = st.transport;
    if (!tr) {
      fill(body, el("p", { class: "empty" }, t("tablet.no_assignment")));
      return;
    }
    const parts = [];
    const requests = requestsOf(st);
    if (!tr.destination_hospital_id && !accepted(st)) {
      const recs = st.recs;
      if (recs?.error) parts.push(el("p", { class: "form-error" }, errorText(recs.error)));
      else if (recs) {
        const chosen = new Set(chosenFor(st));
        const list = el("ul", { class: "rec-list" });
        for (const r of recs.items.slice(0, 5)) {
          const h = hospitalsOf(st).find((x) => x.id === r.hospital_id) || r.hospital || {};
          const id = `tab-h-${r.hospital_id}`;
          list.append(
            el(
              "li",
              { class: "rec rec-h" },
              el("input", {
                type: "checkbox",
                id,
                checked: chosen.has(r.hospital_id),
                onchange: (ev) => dispatch({ type: "choose", hospitalId: r.hospital_id, on: ev.target.checked }),
              }),
              el("label", { for: id, class: "rec-main" }, el("strong", { class: "rec-name" }, localName(r.hospital || h) || localName(r) || `#${r.hospital_id}`), el("span", { class: "rec-eta" }, fmtEta(r.eta_s ?? r.eta_seconds))),
              el("div", { class: "rec-reasons" }, reasonText(r)),
            ),
          );
        }
        parts.push(list);
        const open = requests.some((r) => r.status === "sent");
        parts.push(
          el(
            "button",
            { type: "button", class: "btn btn-primary btn-block", id: "send-requests", onclick: sendRequests },
            open ? t("requests.send_more") : t("requests.send_parallel", { n: chosen.size }),
          ),
        );
      } else parts.push(el("p", { class: "muted" }, t("common.loading")));
    }
    parts.push(el("h3", { class: "kpi-sub" }, t("requests.title")), renderRequests(requests, hospitalsOf(st)));
    // A tick redraws the list: the focus stays on the same control.
    const focused = body.contains(document.activeElement) ? document.activeElement.id : "";
    fill(body, ...parts);
    if (focused) document.getElementById(focused)?.focus();
  },
);

async function sendRequests(ev) {
  const button = ev.currentTarget;
  button.disabled = true;
  const chosen = chosenFor(store.state);
  try {
    const asOf = store.tick();
    const round = await api(`/api/v1/transports/${store.state.transport.id}/hospital-requests`, { method: "POST", body: { hospital_ids: chosen } });
    dispatch({ type: "answer", what: "round", data: round, asOf });
    toast(t("requests.sent", { n: chosen.length }), "ok");
  } catch (e) {
    toast(errorText(e), "error");
    button.disabled = false;
  }
}

// --- stream ----------------------------------------------------------------------------------
const renderStream = drawWhenChanged(
  (st) => [st.transport?.id ?? null, st.local.stream],
  (st) => {
    const box = document.getElementById("stream-box");
    if (!st.transport) {
      fill(box, el("p", { class: "empty" }, t("tablet.no_assignment")));
      return;
    }
    const { running, frames, error } = streamOf(st);
    fill(
      box,
      running ? el("span", { class: "rec-dot", "aria-hidden": "true" }) : null,
      el("span", { dataset: { testid: "stream-state" } }, running ? t("tablet.stream_on") : t("tablet.stream_off")),
      running && frames !== undefined ? el("span", { class: "muted" }, t("tablet.frames", { n: frames })) : null,
      el(
        "button",
        {
          type: "button",
          class: running ? "btn" : "btn btn-primary",
          id: "stream-toggle",
          "aria-pressed": String(running),
          onclick: async (ev) => {
            ev.currentTarget.disabled = true;
            try {
              const res = await local(running ? "stream/stop" : "stream/start", { transport_id: store.state.transport.id });
              dispatch({ type: "answer", what: "stream", data: res });
            } catch (e) {
              toast(e.message, "error");
              renderStream.reset();
              renderStream(store.state);
            }
          },
        },
        running ? t("tablet.stream_stop") : t("tablet.stream_start"),
      ),
      error ? el("p", { class: "form-error" }, error) : null,
    );
  },
);

// --- start -----------------------------------------------------------------------------------
const renderers = [renderNet, renderUnit, renderAssignment, renderSteps, renderCard, renderHospitals, renderStream];
const render = () => {
  for (const draw of renderers) draw(store.state);
};

const event = (name) => (data) => dispatch({ type: "event", name, data, tick: store.tick() });
const answer = (name, status) => (data) => {
  toastAnswer(data, status, hospitalsOf(store.state));
  event(name)(data);
};

store.subscribe(render);
const fetcher = follow(store, needs, load, { delayMs: 100 });

async function start() {
  const s = session();
  if (!s || s.user.role !== "paramedic") {
    showLogin();
    return;
  }
  loginView.hidden = true;
  workView.hidden = false;
  if (!store.state.unitId) {
    dispatch({ type: "signed-in", unitId: s.user.unit_id });
    initHeader(s, { logoutUrl: "/" });
    followLocalStatus();
    liveEvents(
      {
        "unit.updated": event("unit.updated"),
        "transport.updated": event("transport.updated"),
        "incident.updated": event("incident.updated"),
        "hospital.updated": event("hospital.updated"),
        "request.created": event("request.created"),
        "request.round": event("request.round"),
        "request.cancelled": event("request.cancelled"),
        "request.exhausted": event("request.exhausted"),
        "request.accepted": answer("request.accepted", "accepted"),
        "request.declined": answer("request.declined", "declined"),
      },
      // Events may have been missed while the stream was down: ask everything again.
      { onResync: () => dispatch({ type: "resync", tick: store.tick() }) },
    );
  }
  await fetcher.settled();
  document.body.dataset.ready = "true";
}

onLangChange(() => {
  for (const draw of renderers) draw.reset?.();
  delete document.getElementById("steps").dataset.signature;
  render();
});
applyI18n();
render();
await start();
