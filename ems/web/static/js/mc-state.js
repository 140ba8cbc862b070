// The MC doctor's console state: the requests for instruction this doctor answers for
// (open ones and the shift's answered ones), the one on screen, what the page knows of
// its transport (the call, the patient's record, the stored vitals), the answer on its
// way and the one that lost to another doctor's. Pure: an event or an answer in, the
// new state out (no DOM, no fetch, no clock but the ``now`` passed in); mc.js draws it
// and fetches what ``needs`` lists.
import { answered, doubt, emptyTable, put, replaceAll, rowOf, rowsOf, wanted } from "./domain.js";

// The vitals are read in pages (GET …/vitals?after_seq=&limit=): a full page means more.
export const VITALS_PAGE = 500;
// How many readings the trend keeps per transport (at one every few seconds, the
// last quarter of an hour or so).
export const TREND_KEEP = 240;
export const DECISIONS = ["instructed", "declined", "more_information"];

export function initialState() {
  return {
    requests: emptyTable(),
    book: {},
    selected: null, // the request the doctor chose; else the newest open one is shown
    seen: {}, // request id → true once the doctor has looked at it (the alert stops)
    transports: {}, // transport id → the transport
    incidents: {}, // incident id → the call (complaint, age, sex; never the caller)
    records: {}, // transport id → { record } | { error }
    vitals: {}, // transport id → { rows, lastSeq }
    sending: null, // request id whose answer is on its way
    outcome: {}, // request id → { kind: "lost" | "error", error }
  };
}

const key = (what, id) => (id === undefined || id === null ? what : `${what}:${id}`);
const time = (iso) => (iso ? new Date(iso).getTime() : 0);

// --- what the page shows --------------------------------------------------------------

/** The open requests, newest first. */
export function openRequests(state) {
  return rowsOf(state.requests)
    .filter((r) => r.status === "open")
    .sort((a, b) => time(b.requested_at) - time(a.requested_at) || b.id - a.id);
}

/** The shift's answered requests, the latest answer first. */
export function history(state) {
  return rowsOf(state.requests)
    .filter((r) => r.status === "answered")
    .sort((a, b) => time(b.answered_at) - time(a.answered_at) || b.id - a.id);
}

/** The request on screen: the doctor's choice, else the newest open one. */
export function selectedRequest(state) {
  const chosen = rowOf(state.requests, state.selected);
  return chosen || openRequests(state)[0] || null;
}

/** Open requests the doctor has not looked at yet: the visual alert. */
export function unseen(state) {
  return openRequests(state).filter((r) => !state.seen[r.id]);
}

/** Seconds a request has waited (until its answer, or ``now``). */
export function waitingSeconds(req, now) {
  if (!req?.requested_at) return 0;
  const end = req.answered_at ? time(req.answered_at) : now;
  return Math.max(0, Math.floor((end - time(req.requested_at)) / 1000));
}

/** "0:42", "12:05", "1:02:03". */
export function clockText(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

/** Requests that should sound now: open ones the page did not have open before, and
 * ones newly escalated to this doctor (the first doctor did not answer in time). */
export function alertsBetween(before, after) {
  const was = before.requests.rows;
  return openRequests(after)
    .filter((r) => {
      const old = was[r.id];
      return !old || old.status !== "open" || (r.escalated_at && !old.escalated_at);
    })
    .map((r) => r.id);
}

const VITALS = ["hr", "spo2", "bp_sys", "bp_dia", "rr", "temp_c"];

/** The vitals trend of a transport: per measure, its points (oldest first), the latest
 * value, and its change against the first reading of the last ``windowS`` seconds. */
export function vitalsTrend(state, transportId, windowS = 300) {
  const rows = state.vitals[transportId]?.rows || [];
  const out = {};
  for (const name of VITALS) {
    const points = rows.filter((r) => r[name] !== null && r[name] !== undefined).map((r) => ({ at: time(r.measured_at), v: Number(r[name]) }));
    const latest = points.at(-1) || null;
    const since = latest ? points.find((p) => p.at >= latest.at - windowS * 1000) : null;
    out[name] = {
      points,
      latest: latest ? latest.v : null,
      at: latest ? latest.at : null,
      delta: latest && since && since !== latest ? Math.round((latest.v - since.v) * 10) / 10 : null,
    };
  }
  return out;
}

export const transportOf = (state, req) => (req ? state.transports[req.transport_id] || null : null);
export const incidentOf = (state, req) => {
  const tr = transportOf(state, req);
  return tr ? state.incidents[tr.incident_id] || null : null;
};
export const recordOf = (state, req) => (req ? state.records[req.transport_id] || null : null);

/** What the answer area offers for ``req``: the buttons, or why not. */
export function answerPanel(state, req) {
  if (!req) return { mode: "none" };
  const outcome = state.outcome[req.id];
  const elsewhere = outcome?.kind === "lost" || outcome?.kind === "answered_elsewhere";
  if (req.status === "answered" || outcome?.kind === "lost") return { mode: elsewhere ? "lost" : "answered", req };
  return { mode: "open", sending: state.sending === req.id, error: outcome?.kind === "error" ? outcome.error : null };
}

// --- what the page lacks ---------------------------------------------------------------

/** What the page lacks or holds in doubt, as ``{ key, what, id, params? }``. */
export function needs(state) {
  const out = [];
  const ask = (what, id, params) => {
    const k = key(what, id);
    if (wanted(state.book, k)) out.push(params ? { key: k, what, id, params } : { key: k, what, id });
  };
  ask("open");
  ask("answered");
  const req = selectedRequest(state);
  if (!req) return out;
  const tid = req.transport_id;
  ask("transport", tid);
  const tr = state.transports[tid];
  if (tr?.incident_id) ask("incident", tr.incident_id);
  ask("record", tid);
  ask("vitals", tid, { after_seq: state.vitals[tid]?.lastSeq ?? 0 });
  return out;
}

// --- the reducer ----------------------------------------------------------------------

export function reduce(state, action) {
  switch (action.type) {
    case "answer":
      return onAnswer(state, action);
    case "failed":
      return onFailed(state, action);
    case "event":
      return onEvent(state, action.name, action.data || {}, action.tick);
    case "resync":
      return { ...state, book: doubt(state.book, action.tick, action.keys) };
    case "select": {
      const req = rowOf(state.requests, action.id);
      if (!req) return state;
      return { ...state, selected: req.id, seen: { ...state.seen, [req.id]: true } };
    }
    case "seen":
      return state.seen[action.id] ? state : { ...state, seen: { ...state.seen, [action.id]: true } };
    case "sending":
      return { ...state, sending: action.id, outcome: withoutKey(state.outcome, action.id) };
    case "answer-failed": {
      const lost = action.error?.status === 409 && action.error?.code === "instruction_answered";
      const outcome = { ...state.outcome, [action.id]: { kind: lost ? "lost" : "error", error: action.error } };
      // Lost to another doctor: the request and the lists are read again.
      const book = lost ? doubt(state.book, action.tick, ["open", "answered"]) : state.book;
      return { ...state, sending: null, outcome, book };
    }
    default:
      return state;
  }
}

function withoutKey(obj, k) {
  if (!(k in obj)) return obj;
  const out = { ...obj };
  delete out[k];
  return out;
}

function onAnswer(state, { what, id, data, asOf }) {
  switch (what) {
    case "open":
    case "answered":
      return {
        ...state,
        requests: replaceAll(state.requests, data || [], asOf, (r) => r.status === what),
        book: answered(state.book, what, asOf),
      };
    case "transport":
      return { ...state, transports: { ...state.transports, [id]: data }, book: answered(state.book, key("transport", id), asOf) };
    case "incident":
      return { ...state, incidents: { ...state.incidents, [id]: data }, book: answered(state.book, key("incident", id), asOf) };
    case "record":
      return { ...state, records: { ...state.records, [id]: { record: data } }, book: answered(state.book, key("record", id), asOf) };
    case "vitals": {
      const before = state.vitals[id] || { rows: [], lastSeq: 0 };
      const fresh = (data?.vitals || []).filter((r) => r.seq > before.lastSeq);
      const rows = [...before.rows, ...fresh].slice(-TREND_KEEP);
      const lastSeq = fresh.length ? fresh.at(-1).seq : before.lastSeq;
      let book = answered(state.book, key("vitals", id), asOf);
      // A full page: the readings after it are asked next.
      if ((data?.vitals || []).length >= VITALS_PAGE) book = doubt(book, asOf + 0.5, [key("vitals", id)]);
      return { ...state, vitals: { ...state.vitals, [id]: { rows, lastSeq } }, book };
    }
    case "decision": {
      // The doctor's own answer: the request is answered, and stays on screen.
      const requests = put(state.requests, data, asOf);
      return { ...state, requests, sending: null, outcome: withoutKey(state.outcome, data.id), seen: { ...state.seen, [data.id]: true } };
    }
    default:
      return state;
  }
}

function onFailed(state, { what, id, error, asOf }) {
  const k = key(what, id);
  if (state.book[k]?.asOf > asOf) return state;
  const book = answered(state.book, k, asOf);
  if (what === "record") return { ...state, records: { ...state.records, [id]: { error } }, book };
  // A list, the call or the vitals: what is shown stays; the next event asks again.
  return { ...state, book };
}

function onEvent(state, name, data, tick) {
  switch (name) {
    case "instruction.requested":
    case "instruction.escalated":
    case "instruction.answered": {
      if (data.id === undefined || data.id === null) return state;
      const before = rowOf(state.requests, data.id);
      const next = { ...state, requests: put(state.requests, data, tick) };
      // Answered by another doctor while on screen: say so, not "answered" silently.
      if (name === "instruction.answered" && before?.status === "open" && state.sending !== data.id) {
        return { ...next, outcome: { ...state.outcome, [data.id]: { kind: "answered_elsewhere" } } };
      }
      return next;
    }
    case "transport.updated": {
      const tid = data.transport_id ?? data.id;
      if (!state.transports[tid]) return state;
      // Its steps (a handover ends the live picture).
      return { ...state, transports: { ...state.transports, [tid]: { ...state.transports[tid], ...data } } };
    }
    default:
      return state;
  }
}
