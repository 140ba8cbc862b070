// The ER dashboard's state: this hospital's acceptance requests (incoming and
// accepted), the transports and medical-history summaries of its current patients, its
// bed figures and the staff's unsaved edits. Pure: an event or an answer in, the new
// state out (no DOM, no fetch, no globals); er.js draws it and fetches what ``needs``
// lists.
//
// Current patients only: those en route, or arrived less than ``hours`` ago (the
// server's ``GET /transports?current=true&hours=``, asked once, then followed live). An
// accepted request of last month is neither shown nor asked about, and only a live
// transport (active, not handed over) has its history asked and a stream watched.
import {
  answered,
  doubt,
  drop,
  emptyTable,
  isCurrentTransport,
  isExpired,
  isLive,
  listOf,
  put,
  replaceAll,
  rowOf,
  rowsOf,
  stepTime,
  urgencyRank,
  wanted,
} from "./domain.js";
import { BED_CATEGORIES } from "./generated/enums.js";

// How many hours after arrival a patient stays on the board (the server's
// ER_BOARD_HOURS, sent in the page).
export const BOARD_HOURS_DEFAULT = 6;

/** ``hospitalId``: the signed-in ER's hospital (null for an admin, who sees them all). */
export function initialState(hospitalId, { hours = BOARD_HOURS_DEFAULT } = {}) {
  return {
    hospitalId: hospitalId ?? null,
    hours: Number(hours) > 0 ? Number(hours) : BOARD_HOURS_DEFAULT,
    hospitals: emptyTable(), // this hospital only
    requests: emptyTable(), // the requests addressed to it
    transports: emptyTable(), // of its accepted patients
    records: emptyTable(), // transport id → { id, record } | { id, error, patientId }
    book: {},
    declining: null, // the request whose decline reasons are open
    edits: {}, // bed category → the figure typed, not yet saved
  };
}

const key = (what, id) => (id === undefined || id === null ? what : `${what}:${id}`);
const mine = (state, r) => state.hospitalId === null || r.hospital_id === state.hospitalId;

/** What the page lacks or holds in doubt, as ``{ key, what, id }``. */
export function needs(state, now) {
  const out = [];
  const ask = (what, id) => {
    const k = key(what, id);
    if (wanted(state.book, k)) out.push({ key: k, what, id });
  };
  ask("hospital");
  ask("requests", "sent");
  ask("requests", "accepted");
  ask("transports", "current");
  // A patient accepted since the list was asked: their transport alone.
  if (!wanted(state.book, key("transports", "current"))) {
    for (const r of rowsOf(state.requests)) {
      if (r.status === "accepted" && mine(state, r) && !rowOf(state.transports, r.transport_id) && recent(state, r, now)) {
        ask("transport", r.transport_id);
      }
    }
  }
  for (const r of accepted(state, now)) {
    if (isLive(rowOf(state.transports, r.transport_id))) ask("record", r.transport_id);
  }
  return out;
}

/** Answered within the board's hours: a request whose transport may still be current. */
function recent(state, r, now) {
  const when = r.responded_at || r.sent_at;
  return Boolean(when) && now - new Date(when).getTime() < state.hours * 3600000;
}

export function reduce(state, action) {
  switch (action.type) {
    case "event":
      return onEvent(state, action.name, action.data || {}, action.tick);
    case "answer":
      return onAnswer(state, action);
    case "failed":
      return onFailed(state, action);
    case "resync":
      return { ...state, book: doubt(state.book, action.tick, action.keys) };
    case "decline-start":
      return { ...state, declining: action.id };
    case "decline-cancel":
      return { ...state, declining: null };
    case "edit-bed":
      return { ...state, edits: { ...state.edits, [action.category]: action.value } };
    default:
      return state;
  }
}

function onEvent(state, name, data, tick) {
  switch (name) {
    case "request.created":
    case "request.accepted":
    case "request.declined":
      return mine(state, data) ? { ...state, requests: put(state.requests, data, tick) } : state;
    case "request.cancelled":
      return { ...state, requests: drop(state.requests, data.id, tick) };
    case "transport.updated":
      return onTransport(state, data, tick);
    case "hospital.updated":
      return data.id === state.hospitalId
        ? { ...state, hospitals: put(state.hospitals, data, tick), book: answered(state.book, "hospital", tick) }
        : state;
    default:
      return state;
  }
}

function onTransport(state, tr, tick) {
  const ours = rowsOf(state.requests).filter((r) => r.transport_id === tr.id);
  const elsewhere =
    state.hospitalId !== null && tr.destination_hospital_id !== null && tr.destination_hospital_id !== state.hospitalId;
  if (elsewhere) {
    // Re-routed to another hospital: the patient is no longer ours to watch.
    let requests = state.requests;
    for (const r of ours) if (r.status === "accepted") requests = drop(requests, r.id, tick);
    return {
      ...state,
      requests,
      transports: drop(state.transports, tr.id, tick),
      records: drop(state.records, tr.id, tick),
    };
  }
  if (!ours.length && tr.destination_hospital_id !== state.hospitalId) return state;
  const record = rowOf(state.records, tr.id);
  let book = answered(state.book, key("transport", tr.id), tick);
  // Not identified when we asked: the crew may have read the card since.
  if (record?.error) book = doubt(book, tick, [key("record", tr.id)]);
  // Coming here while our request still reads "sent": a colleague accepted it (the ER is
  // not told request.accepted), so both lists are asked again.
  if (tr.destination_hospital_id === state.hospitalId && ours.some((r) => r.status === "sent")) {
    book = doubt(book, tick, [key("requests", "sent"), key("requests", "accepted")]);
  }
  return { ...state, transports: put(state.transports, tr, tick), book };
}

function onAnswer(state, { what, id, data, asOf }) {
  const book = answered(state.book, key(what, id), asOf);
  switch (what) {
    case "hospital": {
      const own = listOf(data).filter((h) => h.id === state.hospitalId);
      return { ...state, hospitals: replaceAll(state.hospitals, own, asOf), book };
    }
    case "requests": {
      const rows = listOf(data).filter((r) => mine(state, r));
      return { ...state, requests: replaceAll(state.requests, rows, asOf, (r) => r.status === id), book };
    }
    case "transports":
      return { ...state, transports: replaceAll(state.transports, listOf(data), asOf), book };
    case "transport":
      return { ...state, transports: put(state.transports, data, asOf), book };
    case "record":
      return { ...state, records: put(state.records, { id, record: data }, asOf), book };
    // The answers to the staff's own actions.
    case "accept":
      return { ...state, requests: put(state.requests, data.request, asOf) };
    case "decline":
      return { ...state, requests: put(state.requests, data.request, asOf), declining: null };
    case "availability":
      return { ...state, hospitals: put(state.hospitals, data, asOf), edits: {} };
    default:
      return state;
  }
}

function onFailed(state, { what, id, error, asOf }) {
  if (state.book[key(what, id)]?.asOf > asOf) return state;
  const book = answered(state.book, key(what, id), asOf);
  if (what === "record") {
    const patientId = rowOf(state.transports, id)?.patient_id ?? null;
    return { ...state, records: put(state.records, { id, error, patientId }, asOf), book };
  }
  return { ...state, book };
}

// --- what the page shows ------------------------------------------------------------

export const hospitalOf = (state) => rowOf(state.hospitals, state.hospitalId) || null;

/** Requests waiting for an answer, most urgent first. */
export function incoming(state) {
  return rowsOf(state.requests)
    .filter((r) => r.status === "sent" && mine(state, r))
    .sort((a, b) => urgencyRank(a.urgency) - urgencyRank(b.urgency) || a.id - b.id);
}

/** The patients on the board at ``now``, newest call first: accepted here, current
 * (en route, or arrived less than ``state.hours`` ago), not re-routed elsewhere. One
 * whose transport is not loaded yet shows when it was accepted recently. */
export function accepted(state, now) {
  return rowsOf(state.requests)
    .filter((r) => r.status === "accepted" && mine(state, r))
    .filter((r) => {
      const tr = rowOf(state.transports, r.transport_id);
      if (!tr) return recent(state, r, now);
      if (state.hospitalId !== null && tr.destination_hospital_id !== null && tr.destination_hospital_id !== state.hospitalId) {
        return false;
      }
      return isCurrentTransport(tr, now, state.hours);
    })
    .sort((a, b) => calledAt(state, b) - calledAt(state, a) || b.id - a.id);
}

function calledAt(state, r) {
  const tr = rowOf(state.transports, r.transport_id);
  const when = stepTime(tr, "call_received") || tr?.created_at || r.sent_at;
  return when ? new Date(when).getTime() : 0;
}

/** Whether the patient's card may watch a stream and ask for the history: the
 * transport is loaded, active and not handed over. */
export const hasLiveFeed = (state, transportId) => isLive(rowOf(state.transports, transportId));

export const transportFor = (state, transportId) => rowOf(state.transports, transportId) || null;
export const recordFor = (state, transportId) => rowOf(state.records, transportId) || null;

/** The bed table: one row per category in the server's order, with the figure shown
 * (the staff's edit, or the reported one) and whether it has expired at ``now``. */
export function bedRows(state, now) {
  const h = hospitalOf(state);
  return [...(h?.beds || [])]
    .sort((a, b) => BED_CATEGORIES.indexOf(a.category) - BED_CATEGORIES.indexOf(b.category))
    .map((b) => ({
      ...b,
      value: b.category in state.edits ? state.edits[b.category] : b.available,
      expired: isExpired(b, now),
    }));
}
