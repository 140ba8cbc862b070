// The MC doctor's console: requests for a doctor's instruction as they come in (newest
// first, with a visual and an audible alert, the escalated ones marked), and for the one
// on screen the procedure, the crew's note, the call, the patient's record, the vitals
// trend and the live picture and ECG (the relay's viewer module, loaded as the ER page
// loads it), with the three answers; the shift's answered requests below. The state and
// its rules are mc-state.js's; this draws it, turns taps, answers and live events into
// actions, and fetches what the state says it lacks.
import {
  api,
  callSign,
  currentLang,
  el,
  errorText,
  fill,
  fmtTime,
  fmtWhen,
  liveEvents,
  onLangChange,
  setCount,
  t,
  toast,
} from "./common.js";
import { isLive } from "./domain.js";
import {
  alertsBetween,
  answerPanel,
  clockText,
  history,
  incidentOf,
  initialState,
  needs,
  openRequests,
  recordOf,
  reduce,
  selectedRequest,
  transportOf,
  unseen,
  vitalsTrend,
  waitingSeconds,
} from "./mc-state.js";
import { startPage } from "./page.js";
import { renderHistory } from "./shared-views.js";
import { createStore, drawWhenChanged, follow } from "./store.js";
import { openTalk } from "./talk.js";

const s = await startPage();

const grid = document.querySelector(".mc-grid");
const relayUrl = grid.dataset.relayUrl;
// The relay serves its viewer module from its own origin (see ems/web/views.py).
const viewerUrl = grid.dataset.viewerUrl;

const store = createStore(reduce, initialState());
const dispatch = (action) => store.dispatch(action);
const state = () => store.state;

// --- what the state lacks, fetched -------------------------------------------------------
const SOURCES = {
  open: () => "/api/v1/instruction-requests?status=open",
  answered: () => "/api/v1/instruction-requests?status=answered",
  transport: (id) => `/api/v1/transports/${id}`,
  incident: (id) => `/api/v1/incidents/${id}`,
  record: (id) => `/api/v1/transports/${id}/patient-record`,
  vitals: (id, p) => `/api/v1/transports/${id}/vitals?after_seq=${p.after_seq}&limit=500`,
};

async function load(need, asOf) {
  try {
    return { type: "answer", what: need.what, id: need.id, data: await api(SOURCES[need.what](need.id, need.params)), asOf };
  } catch (error) {
    if (need.what === "open" || need.what === "answered") toast(errorText(error), "error");
    return { type: "failed", what: need.what, id: need.id, error, asOf };
  }
}

const fetcher = follow(store, (st) => needs(st), load, { delayMs: 80 });

// --- words --------------------------------------------------------------------------------
function known(k, fallback) {
  const text = t(k);
  return text === k ? String(fallback) : text;
}
const procedureName = (p) => known(`procedure.${p}`, p);
const decisionName = (d) => known(`decision.${d}`, d);

/** "胸痛 · 72歳 · 男性" from the call, when the page has it. */
function patientLine(inc) {
  if (!inc) return "";
  return [
    inc.chief_complaint,
    inc.patient_age !== undefined && inc.patient_age !== null ? t("incident.age_n", { n: inc.patient_age }) : null,
    inc.patient_sex ? t(`sex.${inc.patient_sex}`) : null,
  ]
    .filter(Boolean)
    .join(" · ");
}

// --- the audible alert ---------------------------------------------------------------------
// A browser starts sound only after a tap on the page: the toggle is that tap, and any
// tap later resumes a context the browser suspended. No sound file: Web Audio beeps.
const SOUND_KEY = "ems.mc.sound";
let audio = null;
let soundOn = localStorage.getItem(SOUND_KEY) !== "off";

function audioContext() {
  if (!audio) {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return null;
    audio = new Ctx();
  }
  if (audio.state === "suspended") audio.resume().catch(() => {});
  return audio;
}

/** Three short rising beeps (two for an escalation is not enough to tell apart: the
 * escalated one sounds lower and longer). */
function beep({ escalated = false } = {}) {
  if (!soundOn) return;
  const ctx = audioContext();
  if (!ctx || ctx.state !== "running") return;
  const start = ctx.currentTime + 0.02;
  const tones = escalated ? [660, 660, 660] : [880, 988, 1175];
  tones.forEach((hz, i) => {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    const at = start + i * (escalated ? 0.32 : 0.2);
    const len = escalated ? 0.24 : 0.14;
    osc.type = "sine";
    osc.frequency.value = hz;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.3, at + 0.01);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + len);
    osc.connect(gain).connect(ctx.destination);
    osc.start(at);
    osc.stop(at + len + 0.02);
  });
}

const soundButton = document.getElementById("mc-sound");
function drawSound() {
  const running = soundOn && audio?.state === "running";
  soundButton.setAttribute("aria-pressed", String(soundOn));
  soundButton.dataset.state = !soundOn ? "off" : running ? "on" : "blocked";
  soundButton.textContent = t(!soundOn ? "mc.sound_off" : running ? "mc.sound_on" : "mc.sound_tap");
}
soundButton.addEventListener("click", () => {
  soundOn = !(soundOn && audio?.state === "running");
  localStorage.setItem(SOUND_KEY, soundOn ? "on" : "off");
  if (soundOn) {
    const ctx = audioContext();
    ctx?.resume?.().then(() => {
      drawSound();
      beep();
    });
  }
  drawSound();
});
document.addEventListener(
  "pointerdown",
  () => {
    if (soundOn) audioContext()?.resume?.().then(drawSound, drawSound);
  },
  { capture: true },
);

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

// One viewer at a time, for the transport on screen; kept across redraws.
let live = null; // { transportId, node, viewer }

function closeViewer() {
  live?.viewer?.destroy?.();
  live?.viewer?.close?.();
  live = null;
}

function viewerSlot(st, req) {
  const tr = transportOf(st, req);
  if (!tr || !isLive(tr)) {
    if (live?.transportId === req.transport_id) closeViewer();
    return el("div", { class: "viewer-slot viewer-off", id: "mc-live" }, el("p", { class: "muted" }, t(tr ? "er.stream_ended" : "common.loading")));
  }
  if (live?.transportId === req.transport_id) return live.node;
  closeViewer();
  const node = el("div", { class: "viewer-slot", id: "mc-live", dataset: { transportId: req.transport_id } }, el("p", { class: "muted" }, t("er.stream_waiting")));
  const entry = { transportId: req.transport_id, node, viewer: null };
  live = entry;
  loadViewerModule().then((mod) => {
    if (live !== entry) return;
    if (!mod || !mod.mountViewer) {
      fill(node, el("p", { class: "muted" }, t("er.viewer_unavailable")));
      return;
    }
    fill(node);
    // The viewer speaks the page's language: our dictionaries carry its viewer.* keys.
    entry.viewer = mod.mountViewer(node, { relayUrl, transportId: req.transport_id, token: s.token, t, lang: () => document.documentElement.lang });
  });
  return node;
}

// --- talk-back with the crew -------------------------------------------------------------------
// One call at a time, for the transport on screen, opened by the doctor's tap (which also
// lets the page play the crew's voice) and kept across redraws; the text answer below
// works whatever the voice line does.
let talk = null; // { transportId, node, line, drawn, stats }

const talkStats = (st) => t("talk.stats", { sent: st.sent, heard: st.decoded, ms: st.latencyMs === null ? "—" : `${Math.round(st.latencyMs)} ms` });

function closeTalk() {
  talk?.line?.close();
  talk = null;
}

function drawTalkBox() {
  if (!talk) return;
  const { node, line, transportId } = talk;
  const st = line?.state;
  // The counters change fifty times a second: they alone never rebuild the buttons.
  const signature = JSON.stringify([currentLang(), Boolean(line), st?.status, st?.code, st?.peers, st?.mic, st?.unavailable, st?.needsTap]);
  if (st && signature === talk.drawn && talk.stats) {
    talk.stats.textContent = talkStats(st);
    return;
  }
  talk.drawn = signature;
  talk.stats = st ? el("p", { class: "muted small" }, talkStats(st)) : null;
  const open = Boolean(line) && st.status !== "closed";
  const status = !st
    ? null
    : st.status === "refused"
      ? t("talk.refused", { reason: errorText({ code: st.code || "generic", status: 0 }) })
      : st.status !== "open"
        ? t("talk.connecting")
        : st.peers.length
          ? [...new Set(st.peers)].map((role) => t(`talk.peer_${role}`)).join(" · ")
          : t("talk.nobody");
  fill(
    node,
    el(
      "div",
      { class: "mc-talk-row" },
      el(
        "button",
        {
          type: "button",
          class: `btn ${open ? "btn-decline" : "btn-accept"}`,
          id: "mc-talk-toggle",
          "aria-pressed": open ? "true" : "false",
          onclick: () => toggleTalk(transportId),
        },
        t(open ? "talk.stop" : "talk.start"),
      ),
      status ? el("span", { class: "mc-talk-status", id: "mc-talk-status" }, status) : null,
    ),
    st?.mic === "on" ? el("p", { class: "mc-talk-live" }, t("talk.mic_live")) : st?.mic === "opening" ? el("p", { class: "muted" }, t("talk.mic_opening")) : null,
    st?.needsTap ? el("button", { type: "button", class: "btn btn-ghost", id: "mc-talk-tap", onclick: () => line.resume() }, t("talk.tap_to_hear")) : null,
    st?.unavailable ? el("p", { class: "notice", id: "mc-talk-unavailable", role: "status" }, t(`talk.unavailable_${st.unavailable}`), " ", t("talk.text_works")) : null,
    talk.stats,
  );
}

async function toggleTalk(transportId) {
  if (!talk || talk.transportId !== transportId) return;
  if (talk.line && talk.line.state.status !== "closed") {
    talk.line.close();
    talk.line = null;
    drawTalkBox();
    return;
  }
  const entry = talk;
  entry.line = openTalk({ relayUrl, transportId, token: s.token, element: entry.node, onChange: () => talk === entry && drawTalkBox() });
  drawTalkBox();
  await entry.line.setMic(true);
}

function talkSlot(st, req) {
  const tr = transportOf(st, req);
  if (!relayUrl || !tr || !isLive(tr)) {
    if (talk?.transportId === req.transport_id) closeTalk();
    return null;
  }
  if (talk?.transportId === req.transport_id) return talk.node;
  closeTalk();
  talk = { transportId: req.transport_id, node: el("div", { class: "mc-talk-box", id: "mc-talk", dataset: { transportId: req.transport_id } }), line: null };
  drawTalkBox();
  return talk.node;
}

// --- the queue --------------------------------------------------------------------------------
function waitingNode(req) {
  return el("span", { class: "mc-waiting", dataset: { since: req.requested_at, until: req.answered_at || "" } }, clockText(waitingSeconds(req, Date.now())));
}

const renderQueue = drawWhenChanged(
  (st) => [st.book.open, st.requests, st.selected, st.seen],
  (st) => {
    if (!st.book.open) return; // not loaded yet
    const open = openRequests(st);
    const shown = selectedRequest(st);
    const fresh = unseen(st);
    setCount(document.getElementById("mc-open-count"), open.length);
    const alert = document.getElementById("mc-alert");
    alert.hidden = !fresh.length;
    fill(
      alert,
      fresh.length
        ? el("button", { type: "button", class: "mc-alert-btn", id: "mc-alert-open", onclick: () => select(fresh[0].id) }, t("mc.alert_new", { n: fresh.length }))
        : null,
    );
    document.body.classList.toggle("mc-alerting", fresh.length > 0);
    const list = document.getElementById("mc-requests");
    fill(
      list,
      ...open.map((req) =>
        el(
          "li",
          {
            class: ["mc-req", req.escalated_at ? "escalated" : "", !st.seen[req.id] ? "unseen" : "", shown?.id === req.id ? "selected" : ""].filter(Boolean).join(" "),
            id: `mc-request-${req.id}`,
            dataset: { requestId: req.id },
          },
          el(
            "button",
            { type: "button", class: "mc-req-btn", "aria-current": shown?.id === req.id ? "true" : null, onclick: () => select(req.id) },
            el(
              "span",
              { class: "mc-req-top" },
              el("strong", { class: "mc-req-proc" }, procedureName(req.procedure)),
              req.escalated_at ? el("span", { class: "badge badge-escalated", dataset: { testid: "escalated" } }, t("mc.escalated")) : null,
            ),
            el("span", { class: "mc-req-meta" }, el("span", { class: "mc-req-unit" }, callSign(req.unit_call_sign)), el("span", { class: "muted" }, fmtTime(req.requested_at)), waitingNode(req)),
            req.note ? el("span", { class: "mc-req-note" }, req.note) : null,
          ),
        ),
      ),
    );
    if (!open.length) list.append(el("li", { class: "empty" }, t("mc.no_requests")));
  },
);

const renderHistoryList = drawWhenChanged(
  (st) => [st.book.answered, st.requests, st.selected],
  (st) => {
    const list = document.getElementById("mc-history");
    const done = history(st);
    const shown = selectedRequest(st);
    fill(
      list,
      ...done.map((req) =>
        el(
          "li",
          { class: `mc-hist dec-${req.decision}${shown?.id === req.id ? " selected" : ""}`, id: `mc-history-${req.id}`, dataset: { requestId: req.id } },
          el(
            "button",
            { type: "button", class: "mc-req-btn", onclick: () => select(req.id) },
            el(
              "span",
              { class: "mc-req-top" },
              el("span", { class: "muted" }, fmtWhen(req.answered_at)),
              el("strong", {}, procedureName(req.procedure)),
              el("span", { class: `badge decision-${req.decision}` }, decisionName(req.decision)),
            ),
            el(
              "span",
              { class: "mc-req-meta" },
              el("span", {}, callSign(req.unit_call_sign)),
              req.answered_by_name ? el("span", { class: "muted" }, req.answered_by_name) : null,
              el("span", { class: "muted" }, t("mc.answered_in", { time: clockText(req.answer_s ?? waitingSeconds(req, Date.now())) })),
            ),
            req.detail ? el("span", { class: "mc-req-note" }, req.detail) : null,
          ),
        ),
      ),
    );
    if (!done.length) list.append(el("li", { class: "empty" }, t("mc.no_history")));
  },
);

// One column (a tablet, a narrow window): the request sits below the list. A touch screen:
// focusing the answer box would lay the on-screen keyboard over the picture.
const ONE_COLUMN = window.matchMedia("(max-width: 1100px)");
const TOUCH = window.matchMedia("(pointer: coarse)");

function select(id) {
  dispatch({ type: "select", id });
  // The doctor first reads the request's head (procedure, unit, wait) and watches the
  // picture; the answer box is at the foot and must not pull the page down to it.
  if (ONE_COLUMN.matches) document.getElementById("mc-selected")?.scrollIntoView({ block: "start" });
  if (!TOUCH.matches) document.getElementById("mc-detail")?.focus({ preventScroll: true });
}

// --- the request on screen ---------------------------------------------------------------------
// Built once per request shown (the viewer and the typed detail live on across redraws);
// its parts are redrawn when what they show changes.
let shownId = null;
let parts = null;

function skeleton(req) {
  const detail = el("input", {
    type: "text",
    id: "mc-detail",
    class: "mc-detail-input",
    maxlength: 500,
    autocomplete: "off",
    placeholder: t("mc.detail_placeholder"),
    "aria-label": t("mc.detail"),
  });
  const answer = (decision, id, cls) =>
    el("button", { type: "button", class: `btn btn-xl ${cls}`, id, dataset: { decision }, onclick: (ev) => sendAnswer(req.id, decision, ev.currentTarget) }, t(`mc.do_${decision}`));
  const buttons = el(
    "div",
    { class: "mc-answer-buttons" },
    answer("instructed", "mc-answer-instructed", "btn-accept"),
    answer("more_information", "mc-answer-more", "btn-ghost-dark"),
    answer("declined", "mc-answer-declined", "btn-decline"),
  );
  const form = el(
    "div",
    { class: "mc-answer-form", id: "mc-answer-form", role: "group", "aria-label": t("mc.answer") },
    el("label", { class: "field grow" }, el("span", {}, t("mc.detail")), detail),
    buttons,
  );
  const p = {
    head: el("div", { class: "mc-head" }),
    note: el("div", { class: "mc-note", id: "mc-note" }),
    live: el("div", { class: "mc-live-box" }),
    talk: el("div", { class: "mc-talk" }),
    record: el("div", { class: "mc-record", id: "mc-record" }),
    vitals: el("div", { class: "mc-vitals", id: "mc-vitals" }),
    result: el("div", { class: "mc-result", id: "mc-answer-result", "aria-live": "polite" }),
    form,
    detail,
  };
  fill(
    document.getElementById("mc-detail-body"),
    p.head,
    p.note,
    el(
      "div",
      { class: "mc-columns" },
      // The voice line above the picture: at 1366×768 the video fills the column's height.
      el("div", { class: "mc-col-live" }, el("h4", {}, t("talk.title")), p.talk, el("h4", {}, t("er.live")), p.live),
      el("div", { class: "mc-col-side" }, el("h4", {}, t("mc.vitals_trend")), p.vitals, el("h4", {}, t("er.history")), p.record),
    ),
    el("div", { class: "mc-answer", id: "mc-answer" }, p.result, p.form),
  );
  return p;
}

const drawHead = drawWhenChanged(
  (st, req) => [req, st.transports, st.incidents],
  (st, req) => {
    const inc = incidentOf(st, req);
    fill(
      parts.head,
      el(
        "div",
        { class: "mc-head-main" },
        el("h3", { class: "mc-procedure", id: "mc-procedure" }, procedureName(req.procedure)),
        req.escalated_at ? el("span", { class: "badge badge-escalated" }, t("mc.escalated")) : null,
        req.status === "answered" ? el("span", { class: `badge decision-${req.decision}` }, decisionName(req.decision)) : null,
      ),
      el(
        "dl",
        { class: "mc-facts" },
        el("div", {}, el("dt", {}, t("mc.unit")), el("dd", { id: "mc-unit" }, callSign(req.unit_call_sign))),
        el("div", {}, el("dt", {}, t("mc.requested_at")), el("dd", {}, fmtTime(req.requested_at), req.requested_by_name ? el("small", {}, ` ${req.requested_by_name}`) : null)),
        el(
          "div",
          { class: req.status === "open" ? "mc-wait-live" : "" },
          el("dt", {}, t(req.status === "open" ? "mc.waiting" : "mc.answered_after")),
          el("dd", { id: "mc-waiting" }, waitingNode(req)),
        ),
        el("div", { class: "mc-fact-wide" }, el("dt", {}, t("mc.patient")), el("dd", { id: "mc-patient" }, patientLine(inc) || "—")),
      ),
    );
    fill(parts.note, el("span", { class: "mc-note-label" }, t("mc.crew_note")), req.note ? el("q", {}, req.note) : el("span", { class: "muted" }, t("mc.no_note")));
  },
);

const drawLive = drawWhenChanged(
  (st, req) => [req.transport_id, st.transports[req.transport_id]],
  (st, req) => fill(parts.live, viewerSlot(st, req)),
);

const drawTalk = drawWhenChanged(
  (st, req) => [req.transport_id, st.transports[req.transport_id]],
  (st, req) => {
    const slot = talkSlot(st, req);
    fill(parts.talk, slot || el("p", { class: "muted" }, t("talk.text_works")));
  },
);

const drawRecord = drawWhenChanged(
  (st, req) => [recordOf(st, req)],
  (st, req) => {
    const rec = recordOf(st, req);
    let body;
    if (!rec) body = el("p", { class: "muted" }, t("common.loading"));
    else if (rec.error) body = el("p", { class: "muted" }, rec.error.status === 404 ? t("mc.no_record") : errorText(rec.error));
    else body = renderHistory(rec.record);
    fill(parts.record, body);
  },
);

const VITAL_ROWS = [
  ["hr", "viewer.hr", 0],
  ["spo2", "viewer.spo2", 0],
  ["bp_sys", "viewer.bp_sys", 0],
  ["bp_dia", "viewer.bp_dia", 0],
  ["rr", "viewer.rr", 0],
  ["temp_c", "viewer.temp_c", 1],
];
const SVG = "http://www.w3.org/2000/svg";

function sparkline(points) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 120 28");
  svg.setAttribute("class", "spark");
  svg.setAttribute("aria-hidden", "true");
  if (points.length < 2) return svg;
  const xs = points.map((p) => p.at);
  const vs = points.map((p) => p.v);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [v0, v1] = [Math.min(...vs), Math.max(...vs)];
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute(
    "points",
    points.map((p) => `${(((p.at - x0) / (x1 - x0 || 1)) * 118 + 1).toFixed(1)},${(26 - ((p.v - v0) / (v1 - v0 || 1)) * 24).toFixed(1)}`).join(" "),
  );
  svg.append(line);
  return svg;
}

const drawVitals = drawWhenChanged(
  (st, req) => [st.vitals[req.transport_id], currentLang()],
  (st, req) => {
    const trend = vitalsTrend(st, req.transport_id);
    const any = VITAL_ROWS.some(([name]) => trend[name].latest !== null);
    if (!any) {
      fill(parts.vitals, el("p", { class: "muted" }, t(st.vitals[req.transport_id] ? "mc.no_vitals" : "common.loading")));
      return;
    }
    const latestAt = Math.max(...VITAL_ROWS.map(([name]) => trend[name].at || 0));
    fill(
      parts.vitals,
      el(
        "table",
        { class: "table mc-vitals-table" },
        el(
          "tbody",
          {},
          ...VITAL_ROWS.filter(([name]) => trend[name].latest !== null).map(([name, label, digits]) => {
            const f = trend[name];
            const arrow = f.delta === null || f.delta === 0 ? "→" : f.delta > 0 ? "↑" : "↓";
            return el(
              "tr",
              { dataset: { vital: name } },
              el("th", { scope: "row" }, t(label)),
              el("td", { class: "mc-vital-now" }, f.latest.toFixed(digits)),
              el("td", { class: "mc-vital-delta", title: t("mc.delta_5min") }, f.delta === null ? "" : `${arrow} ${f.delta > 0 ? "+" : ""}${f.delta.toFixed(digits)}`),
              el("td", { class: "mc-vital-spark" }, sparkline(f.points)),
            );
          }),
        ),
      ),
      el("p", { class: "muted small" }, t("mc.vitals_at", { time: fmtTime(new Date(latestAt).toISOString()) })),
    );
  },
);

const drawAnswer = drawWhenChanged(
  (st, req) => [req, st.sending, st.outcome[req.id]],
  (st, req) => {
    const panel = answerPanel(st, req);
    parts.form.hidden = panel.mode !== "open";
    for (const b of parts.form.querySelectorAll("button")) b.disabled = Boolean(panel.sending);
    parts.detail.disabled = Boolean(panel.sending);
    if (panel.mode === "open") {
      fill(parts.result, panel.error ? el("p", { class: "form-error", role: "alert", id: "mc-answer-error" }, errorText(panel.error)) : null);
      return;
    }
    const r = panel.req;
    fill(
      parts.result,
      panel.mode === "lost" ? el("p", { class: "notice", id: "mc-answer-conflict", role: "alert" }, t("mc.answered_elsewhere")) : null,
      r.status === "answered"
        ? el(
            "div",
            { class: `mc-decision decision-${r.decision}` },
            el("strong", {}, decisionName(r.decision)),
            r.detail ? el("span", { class: "mc-decision-detail" }, r.detail) : null,
            el("span", { class: "muted" }, t("mc.answered_by", { name: r.answered_by_name || "—", time: fmtTime(r.answered_at) })),
          )
        : null,
    );
  },
);

const renderDetail = (st) => {
  const req = selectedRequest(st);
  const meta = document.getElementById("mc-selected-meta");
  if (!req) {
    if (shownId !== null || !parts) {
      closeViewer();
      closeTalk();
      shownId = null;
      parts = null;
      fill(document.getElementById("mc-detail-body"), el("p", { class: "empty" }, t(st.book.open ? "mc.none_selected" : "common.loading")));
      meta.textContent = "";
    }
    return;
  }
  if (req.id !== shownId || !parts) {
    shownId = req.id;
    parts = skeleton(req);
    for (const draw of [drawHead, drawLive, drawTalk, drawRecord, drawVitals, drawAnswer]) draw.reset();
  }
  meta.textContent = `#${req.id}`;
  drawHead(st, req);
  drawLive(st, req);
  drawTalk(st, req);
  drawRecord(st, req);
  drawVitals(st, req);
  drawAnswer(st, req);
};

async function sendAnswer(id, decision, button) {
  if (state().sending === id) return; // a double tap sends one answer
  const detail = parts?.detail.value.trim() || "";
  dispatch({ type: "sending", id });
  const asOf = store.tick();
  try {
    const data = await api(`/api/v1/instruction-requests/${id}/answer`, { method: "POST", body: { decision, detail } });
    dispatch({ type: "answer", what: "decision", data, asOf });
    toast(t("mc.sent", { decision: decisionName(decision) }), "ok");
  } catch (error) {
    dispatch({ type: "answer-failed", id, error, tick: store.tick() });
    if (error.status !== 409) button?.focus();
  }
}

// --- drawing and live updates --------------------------------------------------------------------
const render = () => {
  renderQueue(state());
  renderHistoryList(state());
  renderDetail(state());
};
store.subscribe((after, before) => {
  render();
  const ring = alertsBetween(before, after);
  if (ring.length) beep({ escalated: ring.some((id) => after.requests.rows[id]?.escalated_at) });
});

const event = (name) => (data) => dispatch({ type: "event", name, data, tick: store.tick() });

liveEvents(
  {
    "instruction.requested": (data) => {
      event("instruction.requested")(data);
      toast(t("mc.new_request", { procedure: procedureName(data.procedure), unit: callSign(data.unit_call_sign) }), "alert");
    },
    "instruction.escalated": (data) => {
      event("instruction.escalated")(data);
      toast(t("mc.escalated_toast", { procedure: procedureName(data.procedure), unit: callSign(data.unit_call_sign) }), "alert");
    },
    "instruction.answered": event("instruction.answered"),
    "transport.updated": event("transport.updated"),
  },
  // Events may have been missed while the stream was down: ask everything again.
  { onResync: () => dispatch({ type: "resync", tick: store.tick() }) },
);

onLangChange(() => {
  for (const draw of [renderQueue, renderHistoryList]) draw.reset();
  // The detail is built again in the new language; what the doctor typed stays.
  const typed = parts?.detail.value || "";
  parts = null;
  render();
  if (parts) parts.detail.value = typed;
  drawSound();
  live?.viewer?.relabel?.();
  drawTalkBox();
});

// The waiting times count up every second, without a redraw.
setInterval(() => {
  const now = Date.now();
  for (const node of document.querySelectorAll(".mc-waiting[data-since]")) {
    if (node.dataset.until) continue;
    node.textContent = clockText(waitingSeconds({ requested_at: node.dataset.since }, now));
  }
}, 1000);

// The vitals trend follows the stored readings while a request is on screen.
setInterval(() => {
  const req = selectedRequest(state());
  if (req) dispatch({ type: "resync", tick: store.tick(), keys: [`vitals:${req.transport_id}`] });
}, 10000);

drawSound();
render();
await fetcher.settled();
document.body.dataset.ready = "true";
