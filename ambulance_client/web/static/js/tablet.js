// Paramedic tablet, served by the ambulance's local service: it proxies /api/* to the
// server (same origin), holds the card reader and the stream, and queues timeline
// events while the ambulance is offline (/local/*). The state and its rules are
// tablet-state.js's; this draws it, turns taps, answers and live events into actions,
// and fetches what the state says it lacks. shared/ holds the modules the server's
// pages use too, copied here by scripts/ensure-frontend.
import { earlyRound } from "./ask-ahead-state.js";
import {
  api,
  ApiError,
  applyI18n,
  armSubmit,
  callSign,
  clearSession,
  el,
  fill,
  fmtEta,
  fmtRelative,
  fmtTime,
  initHeader,
  initI18n,
  liveEvents,
  loadNames,
  localName,
  onLangChange,
  saveSession,
  session,
  setLoginUrl,
  stationNamed,
  t,
  toast,
} from "./shared/common.js";
import { reasonText, renderHistory, renderRequests, toastAnswer } from "./shared/shared-views.js";
import { createStore, drawWhenChanged, follow } from "./shared/store.js";
import {
  analysisLines,
  analysisOf,
  askPanel,
  destination,
  hospitalPanel,
  hospitalsOf,
  initialState,
  instructionsOf,
  needs,
  PIN_LENGTH,
  postLine,
  postMoved,
  postName,
  postOf,
  reduce,
  requestsOf,
  steps,
  streamOf,
} from "./tablet-state.js";
import { followTalk } from "./tablet-talk.js";

// Preset reasons for a look-up without PIN (the server takes the reason as text).
const PINLESS_REASONS = ["unconscious", "cannot_enter_pin", "minor_or_assisted", "other"];

setLoginUrl("/"); // the crew signs in on this page
await initI18n();

// The agent's token for this page: every write to /local/* carries it, which a page of
// another origin cannot read.
const TABLET_TOKEN = document.querySelector('meta[name="tablet-token"]')?.content || "";

async function local(path, body) {
  const s = session();
  const resp = await fetch(`/local/${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: {
      "Content-Type": "application/json",
      "X-Tablet-Token": TABLET_TOKEN,
      ...(s ? { Authorization: `Bearer ${s.token}` } : {}),
    },
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

/** Any error in the crew's words and the page's language: its code through the
 * dictionary (``error.<code>``), else a sentence; never the raw code or the server's
 * English ``detail``. */
function say(e, vars = {}) {
  const code = e?.code || (e instanceof ApiError ? "http_error" : "");
  const key = `error.${code}`;
  const text = code ? t(key, vars) : key;
  return text === key ? t("error.fallback") : text;
}

/** Double-submit guard: while ``name`` runs, another tap of it does nothing (and its
 * button, if given, is disabled), whatever re-renders meanwhile. */
const running = new Set();
async function once(name, button, fn) {
  if (running.has(name)) return;
  running.add(name);
  if (button) button.disabled = true;
  try {
    await fn();
  } finally {
    running.delete(name);
    if (button?.isConnected) button.disabled = false;
  }
}

// --- sign-in ------------------------------------------------------------------------------
const loginView = document.getElementById("login-view");
const workView = document.getElementById("work-view");

// Signing out is offered only to a signed-in crew.
const logoutButtons = () => document.querySelectorAll("[data-logout]");

function showLogin() {
  loginView.hidden = false;
  workView.hidden = true;
  for (const btn of logoutButtons()) btn.hidden = true;
  loginView.querySelector("input").focus();
}

const loginForm = document.getElementById("tab-login");

/** The sign-in form's own messages, in the page's language (``novalidate``: no
 * browser-language bubbles). */
function loginError(form, message, field) {
  const err = form.querySelector(".form-error");
  err.textContent = message;
  err.hidden = !message;
  for (const input of form.querySelectorAll("input")) input.setAttribute("aria-invalid", String(input === field));
  field?.focus();
}

loginForm.addEventListener("submit", (ev) => {
  ev.preventDefault();
  const form = ev.currentTarget;
  const username = form.username.value.trim();
  const password = form.password.value;
  if (!username || !password) {
    loginError(form, t("login.missing"), !username ? form.username : form.password);
    return;
  }
  loginError(form, "", null);
  once("login", form.querySelector("button[type=submit]"), async () => {
    try {
      const body = await api("/api/v1/auth/token", { method: "POST", body: { username, password } });
      if (body.user.role !== "paramedic") {
        loginError(form, t("tablet.paramedics_only"), form.username);
        return;
      }
      saveSession(body.access_token, body.user);
      form.password.value = "";
      await start();
    } catch (e) {
      loginError(form, loginErrorText(e), form.username);
    }
  });
});
armSubmit(loginForm);

function loginErrorText(e) {
  if (e.status === 401) return t("login.invalid");
  if (e.code === "tablet_paramedics_only") return t("tablet.paramedics_only");
  if (e.code === "tablet_other_unit") {
    const unit = callSign(e.problem?.tablet_call_sign) || (e.problem?.tablet_unit_id ? `#${e.problem.tablet_unit_id}` : "");
    return t("error.tablet_other_unit", { unit: unit || t("tablet.another_unit") });
  }
  return say(e);
}

// --- the state, and what it lacks fetched ------------------------------------------------
const store = createStore(reduce, initialState(null));
const dispatch = (action) => store.dispatch(action);

const SOURCES = {
  unit: () => `/api/v1/units/${store.state.unitId}`,
  transport: (id) => `/api/v1/transports/${id}`,
  incident: (id) => `/api/v1/incidents/${id}`,
  hospitals: () => "/api/v1/hospitals",
  requests: (id) => `/api/v1/hospital-requests?transport_id=${id}`,
  // Every open hospital, the recommended ones flagged: one answer serves the round and
  // the choice by hand.
  recs: (id) => `/api/v1/transports/${id}/hospital-recommendations?scope=all`,
  record: (id) => `/api/v1/transports/${id}/patient-record`,
  instructions: (id) => `/api/v1/transports/${id}/instruction-requests`,
};

async function load(need, asOf) {
  try {
    return { type: "answer", what: need.what, id: need.id, data: await api(SOURCES[need.what](need.id)), asOf };
  } catch (error) {
    // Offline (503 from the local service) or not identified yet: keep what we show.
    const quiet = error.code === "network_error" || [502, 503, 404].includes(error.status) || need.what !== "unit";
    if (!quiet) toast(say(error), "error");
    return { type: "failed", what: need.what, id: need.id, error, asOf };
  }
}

// --- connection state (from the local service) ---------------------------------------------
const renderNet = drawWhenChanged(
  (st) => [st.local.online, st.local.queued, st.local.records_queued, st.local.requests_queued, st.local.last_synced_at],
  (st) => {
    const L = st.local;
    const net = document.getElementById("net");
    net.className = `net ${L.online ? "online" : "offline"}`;
    net.dataset.state = L.online ? "online" : "offline";
    net.textContent = L.online ? t("tablet.online") : t("tablet.offline");
    // What the agent holds on disk until the server and the relay have it: steps,
    // vital-sign and ECG records, requests for instruction.
    const q = document.getElementById("queued");
    const parts = [
      [L.queued, "tablet.queued"],
      [L.records_queued, "tablet.queued_records"],
      [L.requests_queued, "tablet.queued_requests"],
    ].filter(([n]) => Number(n) > 0);
    q.hidden = parts.length === 0;
    q.textContent = parts.map(([n, k]) => t(k, { n })).join(" · ");
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
    document.getElementById("unit-name").textContent = callSign(st.unit.call_sign);
    document.getElementById("unit-status").textContent = t(`status.${st.unit.status}`);
  },
);

// The move-up post: where the crew waits while the dispatcher has moved the unit away
// from its own station, in the header until it is posted back home.
const postText = (post) => postLine(post, t, { station: stationNamed, time: fmtTime });

const renderPost = drawWhenChanged(
  (st) => [st.unit?.post_station_id, st.unit?.station_id, st.unit?.post_station_name, st.unit?.posted_at],
  (st) => {
    const box = document.getElementById("unit-post");
    const post = postOf(st);
    box.hidden = !post;
    box.textContent = postText(post);
    box.title = box.textContent;
    box.dataset.station = post ? String(post.stationId) : "";
  },
);

/** A unit record from the live stream; the crew is told once when the dispatcher moves
 * the unit up to another station or back home. */
function onUnitEvent(data) {
  const before = store.state;
  event("unit.updated")(data);
  const moved = postMoved(before, store.state);
  if (moved === "posted") toast(t("tablet.posted_toast", { station: postName(postOf(store.state), stationNamed) }), "alert");
  if (moved === "home") toast(t("tablet.posted_home"), "ok");
}

const renderAssignment = drawWhenChanged(
  (st) => [st.incident, st.transport, st.hospitals, st.notice],
  (st) => {
    const body = document.getElementById("assign-body");
    const inc = st.incident;
    if (!inc || !st.transport) {
      fill(
        body,
        st.notice?.kind === "cancelled"
          ? el("p", { class: "notice", id: "call-cancelled", role: "alert" }, t("tablet.call_cancelled", { id: st.notice.incident_id }))
          : null,
        el("p", { class: "empty" }, t("tablet.no_assignment")),
      );
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
          id: `step-${b.kind}`,
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

function recordStep(kind, button) {
  // The button stays disabled until the answer (or the error) redraws the steps.
  return once(`step:${kind}`, button, async () => {
    try {
      const asOf = store.tick();
      const res = await local("timeline", { transport_id: store.state.transport.id, kind });
      if (res.status === "queued") toast(t("tablet.step_saved_offline", { step: t(`timeline.${kind}`) }), "alert");
      dispatch({ type: "answer", what: "step", data: res, asOf });
    } catch (e) {
      toast(`${t(`timeline.${kind}`)}: ${say(e)}`, "error");
      delete document.getElementById("steps").dataset.signature;
      renderSteps(store.state);
    }
  });
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
    const error = card.error
      ? el("p", { class: card.error.locked ? "locked" : "form-error", id: "card-error", role: "alert" }, cardErrorText(card.error))
      : null;
    if (card.step === "done") parts.push(el("p", { class: "muted" }, t("common.loading")));
    if (card.step === "idle") {
      parts.push(
        el("button", { type: "button", class: "btn btn-primary btn-block", id: "card-tap", onclick: (ev) => tapCard(ev.currentTarget) }, `${t("tablet.card_tap")}`),
        error,
        el("p", { class: "hint" }, t("tablet.card_hint")),
      );
    }
    if (card.step === "pin" || card.step === "verifying") {
      const tries = card.reader.tries_left;
      // Side by side, so that the PIN pad, its error and the tries left fit the panel
      // on a 1280×800 tablet without scrolling.
      parts.push(
        el(
          "div",
          { class: "pin-layout" },
          el(
            "div",
            { class: "pin-side" },
            el("p", { class: "pin-prompt" }, t("tablet.pin_prompt")),
            el("div", { class: "pin-dots", "aria-hidden": "true" }, ...[0, 1, 2, 3].map((i) => el("i", { class: i < card.pin.length ? "on" : "" }))),
            el("p", { class: "sr-only", "aria-live": "polite" }, t("tablet.pin_digits", { n: card.pin.length })),
            error,
            !error && tries !== undefined && tries !== null && tries < 3
              ? el("p", { class: "tries", id: "pin-tries" }, t("tablet.tries_left", { n: tries }))
              : null,
            el("button", { type: "button", class: "btn btn-block", id: "pinless-open", onclick: () => dispatch({ type: "pinless-open" }) }, t("tablet.pinless_path")),
          ),
          pinPad(card),
        ),
      );
    } else if (card.step === "pinless") {
      parts.push(error, pinlessForm());
    } else if (card.step !== "idle" && error) {
      parts.push(error);
    }
    fill(body, ...parts);
  },
);

function cardErrorText(error) {
  if (error.code === "wrong_pin") return t("tablet.wrong_pin", { n: error.tries_left ?? "?" });
  if (error.code === "card_locked") return t("tablet.card_locked");
  if (error.code === "face_required") return t("tablet.face_required");
  return say(error);
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

function tapCard(button) {
  return once("card-read", button, async () => {
    try {
      dispatch({ type: "card-read", data: await local("card/read", {}) });
    } catch (error) {
      dispatch({ type: "card-read-failed", error });
    }
    document.querySelector('.pinpad [data-key="1"]')?.focus();
  });
}

function verifyPin() {
  const { pin, step } = store.state.card;
  if (step !== "pin") return undefined; // already verifying: the pad is disabled
  return once("card-verify", null, async () => {
    dispatch({ type: "pin-verify" });
    try {
      identified(await local("card/verify", { transport_id: store.state.transport.id, pin }));
    } catch (error) {
      dispatch({ type: "pin-failed", error });
    }
  });
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
      onclick: () => {
        if (!face.checked) {
          dispatch({ type: "face-required" });
          return undefined;
        }
        return once("card-pinless", go, async () => {
          try {
            identified(
              await local("card/pinless", { transport_id: store.state.transport.id, reason: reason.value, face_match_confirmed: true }),
            );
          } catch (error) {
            dispatch({ type: "pinless-failed", error });
          }
        });
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
const hospitalName = (st, r) => {
  const h = hospitalsOf(st).find((x) => x.id === r.hospital_id) || {};
  return localName(h) || localName(r) || `#${r.hospital_id}`;
};

const renderHospitals = drawWhenChanged(
  (st) => [st.transport, st.recs, st.requests, st.hospitals, st.chosen, st.manual, st.picked, st.alert],
  (st) => {
    const body = document.getElementById("hosp-body");
    const panel = hospitalPanel(st);
    if (panel.mode === "none") {
      fill(body, el("p", { class: "empty" }, t("tablet.no_assignment")));
      return;
    }
    const parts = [];
    if (panel.mode === "error") parts.push(el("p", { class: "form-error", role: "alert" }, say(panel.error)));
    if (panel.mode === "loading") parts.push(el("p", { class: "muted" }, t("common.loading")));
    if (panel.needed) {
      parts.push(
        el(
          "div",
          { class: "dead-end", id: "destination-needed", role: "alert" },
          el("strong", {}, t("tablet.dead_end_title")),
          el("span", {}, t("tablet.dead_end_text")),
        ),
      );
    }
    const early = earlyRound(requestsOf(st), st.transport);
    if (early) parts.push(earlyParts(st, early));
    if (panel.mode === "ask") parts.push(...askParts(st, panel));
    if (panel.mode === "manual") parts.push(...manualParts(st, panel));
    parts.push(el("h3", { class: "kpi-sub" }, t("requests.title")), renderRequests(requestsOf(st), hospitalsOf(st)));
    // A tick redraws the list: the focus stays on the same control.
    const focused = body.contains(document.activeElement) ? document.activeElement.id : "";
    fill(body, ...parts);
    if (focused) document.getElementById(focused)?.focus();
  },
);

/** The recommended hospitals, ticked for one round; never a round of none. */
function askParts(st, panel) {
  const chosen = new Set(panel.chosen);
  const list = el("ul", { class: "rec-list", id: "rec-list" });
  for (const r of panel.recommended.slice(0, 5)) {
    const id = `tab-h-${r.hospital_id}`;
    list.append(
      el(
        "li",
        { class: "rec rec-h", dataset: { hospitalId: r.hospital_id } },
        el("input", {
          type: "checkbox",
          id,
          checked: chosen.has(r.hospital_id),
          disabled: panel.open,
          onchange: (ev) => dispatch({ type: "choose", hospitalId: r.hospital_id, on: ev.target.checked }),
        }),
        el("label", { for: id, class: "rec-main" }, el("strong", { class: "rec-name" }, hospitalName(st, r)), el("span", { class: "rec-eta" }, fmtEta(r.eta_s))),
        el("div", { class: "rec-reasons" }, reasonText(r)),
      ),
    );
  }
  // The send button and the way to pick by hand share one bar, kept at the foot of the
  // column while the list runs below it (tablet.css): sending never needs a scroll.
  let action;
  if (panel.open) action = el("p", { class: "hint", id: "waiting-answers" }, t("tablet.waiting_answers"));
  else if (panel.canSend) {
    action = el(
      "button",
      { type: "button", class: "btn btn-primary", id: "send-requests", onclick: (ev) => sendRequests(ev.currentTarget) },
      t("requests.send_parallel", { n: panel.chosen.length }),
    );
  } else action = el("p", { class: "hint", id: "pick-one" }, t("requests.pick_one"));
  return [
    list,
    el(
      "div",
      { class: "hosp-actions" },
      action,
      el("button", { type: "button", class: "btn", id: "manual-toggle", onclick: () => dispatch({ type: "manual", on: true }) }, t("tablet.manual_open")),
    ),
  ];
}

/** Every hospital open to ambulances, nearest first after the recommended, with its ETA:
 * one is picked by hand and becomes the destination. */
function manualParts(st, panel) {
  const list = el("ul", { class: "rec-list manual-list", id: "manual-list", role: "radiogroup", "aria-label": t("tablet.manual_title") });
  for (const r of panel.all) {
    const id = `manual-h-${r.hospital_id}`;
    list.append(
      el(
        "li",
        { class: `rec rec-h${r.recommended === false ? " not-recommended" : ""}`, dataset: { hospitalId: r.hospital_id } },
        el("input", {
          type: "radio",
          name: "manual-hospital",
          id,
          checked: panel.picked === r.hospital_id,
          onchange: () => dispatch({ type: "pick", hospitalId: r.hospital_id }),
        }),
        el(
          "label",
          { for: id, class: "rec-main" },
          el("strong", { class: "rec-name" }, hospitalName(st, r)),
          el("span", { class: `badge ${r.recommended === false ? "badge-muted" : "badge-info"}` }, t(r.recommended === false ? "tablet.not_recommended" : "tablet.recommended")),
          el("span", { class: "rec-eta" }, fmtEta(r.eta_s)),
        ),
        el("div", { class: "rec-reasons" }, reasonText(r)),
      ),
    );
  }
  const picked = panel.all.find((r) => r.hospital_id === panel.picked);
  return [
    el("h3", { class: "kpi-sub" }, t("tablet.manual_title")),
    panel.all.length ? list : el("p", { class: "empty" }, t("tablet.no_open_hospital")),
    el(
      "button",
      { type: "button", class: "btn btn-primary btn-block", id: "set-destination", disabled: !panel.canSet, onclick: (ev) => setDestination(ev.currentTarget) },
      picked ? t("tablet.set_destination", { hospital: hospitalName(st, picked) }) : t("tablet.set_destination_none"),
    ),
    !panel.needed && panel.recommended.length
      ? el("button", { type: "button", class: "btn btn-block", id: "manual-toggle", onclick: () => dispatch({ type: "manual", on: false }) }, t("tablet.manual_close"))
      : null,
  ];
}

/** The early round (asked ahead from the 119 call while the unit drove): on scene the
 * crew confirms it, or withdraws it when the call's guess was wrong. */
function earlyParts(st, early) {
  const names = early.requests.map((r) => hospitalName(st, r)).join("、");
  const box = el(
    "div",
    { class: "ask-ahead", id: "ask-ahead", role: "group", "aria-labelledby": "ask-ahead-title" },
    el("h3", { class: "kpi-sub", id: "ask-ahead-title" }, el("span", { class: "badge badge-early" }, t("requests.early")), " ", t("tablet.ask_ahead_title")),
    el("p", { class: "hint" }, t("tablet.ask_ahead_hospitals", { hospitals: names })),
  );
  if (early.outcome) {
    box.append(el("p", { class: "hint", id: "ask-ahead-outcome" }, t(`tablet.ask_ahead_${early.outcome}`)));
    return box;
  }
  box.append(
    el("p", { class: "hint" }, t("tablet.ask_ahead_hint")),
    el(
      "div",
      { class: "hosp-actions" },
      el("button", { type: "button", class: "btn btn-primary", id: "ask-ahead-confirm", disabled: !early.canConfirm, onclick: (ev) => settleEarly("confirm", ev.currentTarget) }, t("tablet.ask_ahead_confirm")),
      el("button", { type: "button", class: "btn", id: "ask-ahead-withdraw", disabled: !early.canWithdraw, onclick: (ev) => settleEarly("withdraw", ev.currentTarget) }, t("tablet.ask_ahead_withdraw")),
    ),
  );
  return box;
}

function settleEarly(word, button) {
  return once(`ask-ahead-${word}`, button, async () => {
    try {
      const asOf = store.tick();
      const res = await api(`/api/v1/transports/${store.state.transport.id}/ask-ahead/${word}`, { method: "POST" });
      dispatch({ type: "answer", what: "round", data: res, asOf });
      toast(t(`tablet.ask_ahead_${res.outcome}`), "ok");
    } catch (e) {
      toast(say(e), "error");
    }
  });
}

function sendRequests(button) {
  const chosen = hospitalPanel(store.state).chosen;
  if (!chosen.length) return undefined; // never "ask 0 hospitals"
  return once("send-requests", button, async () => {
    try {
      const asOf = store.tick();
      const round = await api(`/api/v1/transports/${store.state.transport.id}/hospital-requests`, { method: "POST", body: { hospital_ids: chosen } });
      dispatch({ type: "answer", what: "round", data: round, asOf });
      toast(t("requests.sent", { n: chosen.length }), "ok");
    } catch (e) {
      toast(say(e), "error");
    }
  });
}

function setDestination(button) {
  const hospitalId = store.state.picked;
  const picked = (store.state.recs?.items || []).find((r) => r.hospital_id === hospitalId);
  if (!picked) return undefined;
  return once("set-destination", button, async () => {
    try {
      const asOf = store.tick();
      const tr = await api(`/api/v1/transports/${store.state.transport.id}/destination`, { method: "PUT", body: { hospital_id: hospitalId } });
      dispatch({ type: "answer", what: "transport", data: tr, asOf });
      dispatch({ type: "manual", on: false });
      toast(t("tablet.destination_set", { hospital: hospitalName(store.state, picked) }), "ok");
    } catch (e) {
      toast(say(e), "error");
    }
  });
}

// --- the doctor's instruction ---------------------------------------------------------------
function known(k, fallback) {
  const text = t(k);
  return text === k ? String(fallback) : text;
}
const procedureName = (p) => known(`procedure.${p}`, p);
const decisionName = (d) => known(`decision.${d}`, d);

/** A random Idempotency-Key (a v4 UUID); crypto.randomUUID needs a secure context, which
 * the agent's plain-HTTP address on the ambulance's network may not be. */
function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function instructionItem(r) {
  const answered = r.status === "answered";
  const status = answered ? `decision.${r.decision}` : `tablet.instr_status_${r.status}`;
  return el(
    "li",
    { class: `instr instr-${r.status}${answered ? ` dec-${r.decision}` : ""}`, id: `instruction-${r.id}`, dataset: { status: r.status } },
    el(
      "div",
      { class: "instr-top" },
      el("strong", { class: "instr-proc" }, procedureName(r.procedure)),
      answered ? null : el("span", { class: `badge instr-badge-${r.status}` }, known(status, r.status)),
      r.escalated_at && !answered ? el("span", { class: "badge instr-badge-escalated" }, t("tablet.instr_escalated")) : null,
    ),
    el(
      "div",
      { class: "instr-times" },
      el("span", {}, t("tablet.instr_requested", { time: fmtTime(r.requested_at) })),
      r.answered_at ? el("span", {}, t("tablet.instr_answered", { time: fmtTime(r.answered_at) })) : null,
    ),
    r.note ? el("div", { class: "instr-note muted" }, r.note) : null,
    answered
      ? el(
          "div",
          { class: `instr-answer dec-${r.decision}`, id: `instruction-${r.id}-answer`, role: "status" },
          el("strong", { class: "instr-decision" }, decisionName(r.decision)),
          r.detail ? el("span", { class: "instr-detail" }, r.detail) : null,
          r.answered_by_name ? el("span", { class: "instr-by" }, r.answered_by_name) : null,
        )
      : null,
    r.status === "rejected" ? el("p", { class: "form-error" }, say(r.rejected || {})) : null,
  );
}

const renderAsk = drawWhenChanged(
  (st) => [st.transport, st.ask, st.instructions, st.queuedAsks],
  (st) => {
    const body = document.getElementById("ask-body");
    const panel = askPanel(st);
    const list = instructionsOf(st);
    if (panel.mode === "none") {
      fill(body, el("p", { class: "empty" }, t("tablet.no_assignment")), list.length ? el("ul", { class: "instr-list" }, ...list.map(instructionItem)) : null);
      return;
    }
    // What the crew typed and where the finger is stay across a redraw.
    const typed = document.getElementById("ask-note")?.value ?? "";
    const focused = body.contains(document.activeElement) ? document.activeElement.id : "";
    const note = el("input", {
      type: "text",
      id: "ask-note",
      maxlength: 500,
      autocomplete: "off",
      placeholder: t("tablet.ask_note_placeholder"),
      disabled: panel.sending,
    });
    note.value = typed;
    fill(
      body,
      el(
        "div",
        { class: "ask-procs", role: "group", "aria-label": t("tablet.ask_title") },
        ...panel.procedures.map((p) =>
          el(
            "button",
            {
              type: "button",
              class: `btn ask-proc${panel.procedure === p ? " picked" : ""}`,
              id: `ask-proc-${p}`,
              "aria-pressed": String(panel.procedure === p),
              disabled: panel.sending,
              onclick: () => dispatch({ type: "ask-pick", procedure: p }),
            },
            procedureName(p),
          ),
        ),
      ),
      // One row of procedures until one is picked: then the note and the send button.
      panel.procedure || panel.sending
        ? el(
            "div",
            { class: "ask-send-row" },
            el("label", { class: "field grow" }, el("span", {}, t("tablet.ask_note")), note),
            el(
              "button",
              { type: "button", class: "btn btn-primary ask-send", id: "ask-send", disabled: !panel.canSend, onclick: (ev) => sendAsk(ev.currentTarget) },
              panel.sending ? t("tablet.ask_sending") : t("tablet.ask_send", { procedure: procedureName(panel.procedure) }),
            ),
          )
        : null,
      panel.error ? el("p", { class: "form-error", id: "ask-error", role: "alert" }, say(panel.error)) : null,
      list.length ? el("ul", { class: "instr-list", id: "instructions" }, ...list.map(instructionItem)) : null,
    );
    if (focused) document.getElementById(focused)?.focus();
    // The second tap is in reach: the send button just shown scrolls into view.
    if (panel.procedure && !panel.sending) document.getElementById("ask-send")?.scrollIntoView({ block: "nearest" });
  },
);

/** The instruction's two times on the activity record, oldest first. */
const renderStepsInstructions = drawWhenChanged(
  (st) => [st.transport?.id ?? null, st.instructions, st.queuedAsks],
  (st) => {
    const box = document.getElementById("steps-instructions");
    const rows = instructionsOf(st).slice().reverse();
    box.hidden = !rows.length;
    fill(
      box,
      ...rows.flatMap((r) => [
        el(
          "li",
          { class: "tl-instr", dataset: { kind: "instruction_requested", requestId: r.id } },
          el("span", { class: "tl-instr-time" }, fmtTime(r.requested_at)),
          el("span", {}, t("tablet.tl_requested", { procedure: procedureName(r.procedure) })),
          r.status === "queued" ? el("span", { class: "badge instr-badge-queued" }, t("tablet.instr_status_queued")) : null,
        ),
        r.answered_at
          ? el(
              "li",
              { class: `tl-instr dec-${r.decision}`, dataset: { kind: "instruction_answered", requestId: r.id } },
              el("span", { class: "tl-instr-time" }, fmtTime(r.answered_at)),
              el("span", {}, t("tablet.tl_answered", { decision: decisionName(r.decision) })),
            )
          : null,
      ]),
    );
  },
);

function sendAsk(button) {
  if (!askPanel(store.state).canSend) return undefined; // nothing picked, or on its way
  // Sending again after a failure repeats that request (same key): never a second one.
  return once("ask-send", button, async () => {
    const note = (document.getElementById("ask-note")?.value || "").trim();
    dispatch({ type: "ask-sending", key: newKey(), note });
    const { key, procedure } = store.state.ask;
    const transportId = store.state.transport.id;
    try {
      const asOf = store.tick();
      const res = await api(`/api/v1/transports/${transportId}/instruction-requests`, {
        method: "POST",
        body: { procedure, note },
        headers: { "Idempotency-Key": key, "X-Tablet-Token": TABLET_TOKEN },
      });
      if (res?.queued) {
        dispatch({ type: "ask-queued", key: res.idempotency_key || key, transport_id: transportId, procedure, note, at: res.request?.queued_at || new Date().toISOString() });
        toast(t("tablet.ask_queued_toast", { procedure: procedureName(procedure) }), "alert");
      } else {
        dispatch({ type: "ask-sent", data: res, asOf });
        toast(t("tablet.ask_sent", { procedure: procedureName(procedure) }), "ok");
      }
      const input = document.getElementById("ask-note");
      if (input) input.value = "";
    } catch (e) {
      dispatch({ type: "ask-failed", error: e });
      toast(say(e), "error");
    }
  });
}

// --- stream ----------------------------------------------------------------------------------
// Drawn again only when what it shows changes (the agent's status arrives many times a
// second while the crew works): a button replaced under a tap loses the tap. The frame
// count is updated in place.
const renderStream = drawWhenChanged(
  (st) => {
    const { running, error } = streamOf(st);
    return [st.transport?.id ?? null, running, error];
  },
  (st) => {
    const box = document.getElementById("stream-box");
    if (!st.transport) {
      fill(box, el("p", { class: "empty" }, t("tablet.no_assignment")));
      return;
    }
    const { running, error } = streamOf(st);
    renderFrames.reset(); // the count goes into the new panel
    fill(
      box,
      running ? el("span", { class: "rec-dot", "aria-hidden": "true" }) : null,
      el("span", { dataset: { testid: "stream-state" } }, running ? t("tablet.stream_on") : t("tablet.stream_off")),
      running ? el("span", { class: "muted", id: "stream-frames" }) : null,
      el(
        "button",
        {
          type: "button",
          class: running ? "btn" : "btn btn-primary",
          id: "stream-toggle",
          "aria-pressed": String(running),
          onclick: (ev) =>
            once("stream", ev.currentTarget, async () => {
              try {
                const res = await local(running ? "stream/stop" : "stream/start", { transport_id: store.state.transport.id });
                dispatch({ type: "answer", what: "stream", data: res });
              } catch (e) {
                toast(`${t("tablet.stream_failed")}: ${say(e)}`, "error");
                renderStream.reset();
                renderStream(store.state);
              }
            }),
        },
        running ? t("tablet.stream_stop") : t("tablet.stream_start"),
      ),
      // The streamer's own words are for the log: the crew reads that it stopped.
      error ? el("p", { class: "form-error", id: "stream-error" }, t("tablet.stream_failed")) : null,
    );
  },
);

const renderFrames = drawWhenChanged(
  (st) => {
    const { running, frames } = streamOf(st);
    return [st.transport?.id ?? null, running, frames];
  },
  (st) => {
    const span = document.getElementById("stream-frames");
    if (!span) return;
    const { frames } = streamOf(st);
    span.textContent = frames !== undefined ? t("tablet.frames", { n: frames }) : "";
  },
);

// --- the relay's analysis of the patient (decision support) --------------------------------
const renderAnalysis = drawWhenChanged(
  (st) => [st.transport?.id ?? null, st.local.stream],
  (st) => {
    const box = document.getElementById("analysis-box");
    const running = streamOf(st).running;
    box.hidden = !running;
    if (!running) return;
    const analysis = analysisOf(st);
    const body = document.getElementById("analysis-body");
    if (!analysis) {
      fill(body, el("p", { class: "muted" }, t("tablet.analysis_waiting")));
      return;
    }
    const lines = analysisLines(analysis, t);
    fill(
      body,
      lines.rhythm
        ? el("p", { class: lines.shockable ? "analysis-rhythm shockable" : "analysis-rhythm", dataset: { testid: "analysis-rhythm", rhythm: analysis.ecg.rhythm } }, lines.rhythm)
        : null,
      lines.news2 || lines.shockIndex ? el("p", { class: "analysis-vitals" }, [lines.news2, lines.shockIndex].filter(Boolean).join(" · ")) : null,
      lines.partial ? el("p", { class: "analysis-partial muted", dataset: { testid: "analysis-partial" } }, lines.partial) : null,
      lines.alerts.length
        ? el(
            "ul",
            { class: "analysis-alerts", "aria-label": t("tablet.analysis_alerts") },
            lines.alerts.map((a) => el("li", { dataset: { reason: a.reason } }, el("time", { datetime: a.at }, fmtTime(a.at)), " ", a.text)),
          )
        : null,
    );
  },
);

// --- start -----------------------------------------------------------------------------------
const renderers = [renderNet, renderUnit, renderPost, renderAssignment, renderSteps, renderStepsInstructions, renderAsk, renderCard, renderHospitals, renderStream, renderFrames, renderAnalysis];
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
  // A session kept from before may be of another unit than this tablet's (sessions
  // outlive a restart of the local service): the tablet's binding decides.
  const bound = await local("status").catch(() => ({}));
  if (bound.unit_id && bound.unit_id !== s.user.unit_id) {
    clearSession();
    showLogin();
    loginError(loginForm, t("error.tablet_other_unit", { unit: callSign(bound.unit_call_sign) || `#${bound.unit_id}` }), null);
    return;
  }
  loginView.hidden = true;
  workView.hidden = false;
  for (const btn of logoutButtons()) btn.hidden = false;
  if (!store.state.unitId) {
    // The call signs in English (through the agent's /api proxy), before the header is drawn.
    await loadNames();
    dispatch({ type: "signed-in", unitId: s.user.unit_id });
    initHeader(s, { logoutUrl: "/" });
    followLocalStatus();
    liveEvents(
      {
        "unit.updated": onUnitEvent,
        "transport.updated": event("transport.updated"),
        "incident.updated": event("incident.updated"),
        "hospital.updated": event("hospital.updated"),
        "request.created": event("request.created"),
        "request.round": event("request.round"),
        "request.cancelled": event("request.cancelled"),
        "request.exhausted": event("request.exhausted"),
        // The dispatcher asked ahead, or the crew's word on it: the requests are asked again.
        "ask_ahead.sent": (data) => {
          if (data.transport_id === store.state.transport?.id) toast(t("tablet.ask_ahead_title"), "alert");
          event("request.round")(data);
        },
        "ask_ahead.confirmed": event("request.round"),
        "ask_ahead.withdrawn": event("request.round"),
        "transport.destination_needed": (data) => {
          if (data.transport_id === store.state.transport?.id) toast(t("tablet.dead_end_title"), "alert");
          event("transport.destination_needed")(data);
        },
        "instruction.requested": event("instruction.requested"),
        "instruction.escalated": event("instruction.escalated"),
        "instruction.answered": (data) => {
          if (data.transport_id === store.state.transport?.id) {
            toast(t("tablet.instr_answer_toast", { decision: decisionName(data.decision), procedure: procedureName(data.procedure) }), "alert");
          }
          event("instruction.answered")(data);
        },
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
// Talk-back with the MC doctor: its own panel, following the store (tablet-talk.js).
followTalk(store);
render();
await start();
