// The dispatcher console's state: incidents, units, hospitals, active transports, the
// hospital requests of the transport looked at, the server's recommendations, today's
// figures and the dispatcher's own choices. Pure: an event or an answer in, the new
// state out (no DOM, no fetch, no globals); dispatch.js draws it and fetches what
// ``needs`` lists.
import {
  answered,
  doubt,
  drop,
  emptyTable,
  keysLike,
  listOf,
  patch,
  put,
  replaceAll,
  rowOf,
  rowsOf,
  urgencyRank,
  wanted,
} from "./domain.js";
import { UNIT_STATUSES } from "./generated/enums.js";

export function initialState() {
  return {
    incidents: emptyTable(),
    units: emptyTable(),
    hospitals: emptyTable(),
    transports: emptyTable(), // the active ones: the board shows no other
    requests: emptyTable(),
    unitRecs: {}, // incident id → { items } | { error }
    hospitalRecs: {}, // transport id → { items, suggested } | { error }
    stats: null,
    statsError: null,
    book: {}, // what has been asked: see domain.js
    selectedId: null,
    filter: "open", // open | all
    chosen: {}, // transport id → the hospital ids ticked, once the dispatcher changed them
    alerts: {}, // transport id → { transport_id, incident_id, unit_call_sign }: no hospital left to ask
    picking: null, // the transport whose destination the dispatcher is choosing by hand
    allHospitals: {}, // transport id → { items } | { error }: every open hospital (scope=all)
  };
}

const key = (what, id) => (id === undefined || id === null ? what : `${what}:${id}`);

/** What the page lacks or holds in doubt, as ``{ key, what, id }``. */
export function needs(state) {
  const out = [];
  const ask = (what, id) => {
    const k = key(what, id);
    if (wanted(state.book, k)) out.push({ key: k, what, id });
  };
  for (const what of ["hospitals", "transports", "incidents", "units", "stats"]) ask(what);
  const incident = selected(state);
  if (incident) {
    if (incident.status === "pending") ask("unitRecs", incident.id);
    const tr = transportOf(state, incident);
    if (tr) {
      // Once a hospital has accepted there is nobody more to ask: the requests show
      // where the patient goes.
      if (!tr.destination_hospital_id) ask("hospitalRecs", tr.id);
      ask("requests", tr.id);
    }
  }
  if (state.picking !== null) ask("allHospitals", state.picking);
  return out;
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
      // Events may have been missed while the stream was down: everything is in doubt.
      return { ...state, book: doubt(state.book, action.tick, action.keys) };
    case "select":
      return { ...state, selectedId: action.id };
    case "filter":
      return { ...state, filter: action.filter };
    case "pick-open":
      // Chosen by hand from every open hospital: the list is asked afresh each time.
      return {
        ...state,
        picking: action.transportId,
        book: doubt(state.book, action.tick ?? Infinity, [key("allHospitals", action.transportId)]),
      };
    case "pick-close":
      return { ...state, picking: null };
    case "choose": {
      const now = new Set(chosenFor(state, action.transportId));
      if (action.on) now.add(action.hospitalId);
      else now.delete(action.hospitalId);
      return { ...state, chosen: { ...state.chosen, [action.transportId]: [...now] } };
    }
    default:
      return state;
  }
}

function onEvent(state, name, data, tick) {
  const inDoubt = (...keys) => doubt(state.book, tick, keys.flat());
  switch (name) {
    case "incident.created":
    case "incident.updated": {
      const next = { ...state, incidents: put(state.incidents, data, tick), book: inDoubt(key("unitRecs", data.id)) };
      return isOpen(data) ? next : resolved(next, (a) => a.incident_id === data.id);
    }
    case "transport.destination_needed":
      return {
        ...raise(state, data),
        book: inDoubt(key("hospitalRecs", data.transport_id), key("requests", data.transport_id)),
      };
    case "unit.updated":
      // Availability and positions change every unit's ETA, and the ETAs from this
      // unit's position to the hospitals.
      return {
        ...state,
        units: put(state.units, data, tick),
        book: inDoubt(keysLike(state.book, "unitRecs:"), key("hospitalRecs", data.current_transport_id)),
      };
    case "transport.updated": {
      const transports =
        data.status === "active" ? put(state.transports, data, tick) : drop(state.transports, data.id, tick);
      return settle({ ...state, transports, book: inDoubt("stats", key("hospitalRecs", data.id)) }, data);
    }
    case "hospital.updated":
      return {
        ...state,
        hospitals: put(state.hospitals, data, tick),
        book: inDoubt(keysLike(state.book, "hospitalRecs:")),
      };
    case "request.created":
    case "request.declined":
      return {
        ...state,
        requests: put(state.requests, data, tick),
        book: inDoubt(key("hospitalRecs", data.transport_id)),
      };
    case "request.accepted":
      return {
        ...state,
        requests: acceptedOne(state.requests, data, tick),
        book: inDoubt(key("hospitalRecs", data.transport_id)),
      };
    case "request.cancelled":
      return {
        ...state,
        requests: patch(state.requests, data.id, { status: "cancelled" }, tick),
        book: inDoubt(key("hospitalRecs", data.transport_id)),
      };
    case "request.round":
    case "request.exhausted":
      // A round names its requests by id only: the transport's requests are asked again.
      return { ...state, book: inDoubt(key("requests", data.transport_id), key("hospitalRecs", data.transport_id)) };
    default:
      return state;
  }
}

/** The first accept wins: the transport's other open requests are cancelled with it. */
export function acceptedOne(requests, accepted, tick) {
  let out = put(requests, accepted, tick);
  for (const r of rowsOf(out)) {
    if (r.transport_id === accepted.transport_id && r.id !== accepted.id && r.status === "sent") {
      out = patch(out, r.id, { status: "cancelled" }, tick);
    }
  }
  return out;
}

const LISTS = new Set(["incidents", "units", "hospitals", "transports"]);

function onAnswer(state, { what, id, data, asOf }) {
  const k = key(what, id);
  const fresher = !(state.book[k]?.asOf > asOf);
  const book = answered(state.book, k, asOf);
  if (LISTS.has(what)) return { ...state, [what]: replaceAll(state[what], listOf(data), asOf), book };
  switch (what) {
    case "stats":
      return fresher ? { ...state, stats: data, statsError: null, book } : state;
    case "unitRecs":
      return fresher ? { ...state, unitRecs: { ...state.unitRecs, [id]: { items: listOf(data) } }, book } : state;
    case "hospitalRecs": {
      if (!fresher) return state;
      const next = {
        ...state,
        hospitalRecs: {
          ...state.hospitalRecs,
          [id]: { items: listOf(data, "hospitals"), suggested: data?.suggested || [] },
        },
        book,
      };
      // The dead end is also seen by looking: a console opened after the event says so.
      if (data?.destination_needed) {
        const tr = rowOf(state.transports, id);
        return raise(next, { transport_id: id, incident_id: tr?.incident_id ?? null, unit_call_sign: "" });
      }
      return next;
    }
    case "allHospitals":
      return fresher
        ? { ...state, allHospitals: { ...state.allHospitals, [id]: { items: listOf(data, "hospitals") } }, book }
        : state;
    case "requests":
      return { ...state, requests: replaceAll(state.requests, listOf(data), asOf, (r) => r.transport_id === id), book };
    // The answers to the dispatcher's own actions: one record each.
    case "incident":
      return { ...state, incidents: put(state.incidents, data, asOf) };
    case "unit":
      return { ...state, units: put(state.units, data, asOf) };
    case "transport":
      return settle(
        {
          ...state,
          transports:
            data.status === "active" ? put(state.transports, data, asOf) : drop(state.transports, data.id, asOf),
        },
        data,
      );
    case "round": {
      let requests = state.requests;
      for (const r of listOf(data, "requests")) requests = put(requests, r, asOf);
      return { ...state, requests };
    }
    default:
      return state;
  }
}

function onFailed(state, { what, id, error, asOf }) {
  const k = key(what, id);
  if (state.book[k]?.asOf > asOf) return state;
  const book = answered(state.book, k, asOf);
  switch (what) {
    case "stats":
      return { ...state, stats: null, statsError: error, book };
    case "unitRecs":
      return { ...state, unitRecs: { ...state.unitRecs, [id]: { error } }, book };
    case "hospitalRecs":
      return { ...state, hospitalRecs: { ...state.hospitalRecs, [id]: { error } }, book };
    case "allHospitals":
      return { ...state, allHospitals: { ...state.allHospitals, [id]: { error } }, book };
    default:
      // What the page shows stays; the next event or reconnection asks again.
      return { ...state, book };
  }
}

// --- no dead ends: a transport no hospital is left to ask for ------------------------

/** ``state`` with the alert for ``data.transport_id`` raised (kept if already there). */
function raise(state, data) {
  const id = data?.transport_id;
  if (id === undefined || id === null) return state;
  const before = state.alerts[id];
  const alert = {
    transport_id: id,
    incident_id: data.incident_id ?? before?.incident_id ?? null,
    unit_call_sign: data.unit_call_sign || before?.unit_call_sign || "",
  };
  if (before && before.incident_id === alert.incident_id && before.unit_call_sign === alert.unit_call_sign) return state;
  return { ...state, alerts: { ...state.alerts, [id]: alert } };
}

/** ``state`` without the alerts ``which`` picks (and their picker, if open). */
function resolved(state, which) {
  const gone = Object.values(state.alerts).filter(which);
  if (!gone.length) return state;
  const alerts = { ...state.alerts };
  for (const a of gone) delete alerts[a.transport_id];
  const picking = gone.some((a) => a.transport_id === state.picking) ? null : state.picking;
  return { ...state, alerts, picking };
}

/** A transport with a destination, or no longer active, needs no alert nor picker. */
function settle(state, tr) {
  if (!tr || (tr.status === "active" && !tr.destination_hospital_id)) return state;
  const next = resolved(state, (a) => a.transport_id === tr.id);
  return next.picking === tr.id ? { ...next, picking: null } : next;
}

/** The open alerts, newest call first, each with its incident when the page has it. */
export function destinationAlerts(state) {
  return Object.values(state.alerts)
    .map((a) => {
      const tr = rowOf(state.transports, a.transport_id);
      const incidentId = a.incident_id ?? tr?.incident_id ?? null;
      return { ...a, incident_id: incidentId, incident: rowOf(state.incidents, incidentId) || null, transport: tr || null };
    })
    .sort((a, b) => (b.incident_id ?? 0) - (a.incident_id ?? 0));
}

export const alertFor = (state, transportId) => state.alerts[transportId] || null;

/** The hand picker's hospitals: recommended first, then by ETA; ``eta_min`` always
 * set. ``null`` while not loaded, ``{ error }`` when the list failed. */
export function pickerOptions(state, transportId) {
  const entry = state.allHospitals[transportId];
  if (!entry) return null;
  if (entry.error) return entry;
  const items = entry.items.map((h) => ({
    ...h,
    recommended: h.recommended !== false,
    eta_min: h.eta_min ?? (h.eta_s !== null && h.eta_s !== undefined ? Math.max(1, Math.round(h.eta_s / 60)) : null),
  }));
  items.sort(
    (a, b) => Number(b.recommended) - Number(a.recommended) || (a.eta_min ?? Infinity) - (b.eta_min ?? Infinity) || a.hospital_id - b.hospital_id,
  );
  return { items };
}

// --- what the page shows ------------------------------------------------------------

export const selected = (state) => rowOf(state.incidents, state.selectedId);

export function transportOf(state, incident) {
  if (!incident) return undefined;
  return (
    rowsOf(state.transports).find((tr) => tr.incident_id === incident.id) ||
    rowOf(state.transports, incident.transport_id)
  );
}

export const isOpen = (incident) => incident.status === "pending" || incident.status === "assigned";

/** The incident queue: pending first, then by urgency, newest first. */
export function queue(state) {
  return rowsOf(state.incidents)
    .filter((i) => state.filter === "all" || isOpen(i))
    .sort((a, b) => {
      const pa = a.status === "pending" ? 0 : 1;
      const pb = b.status === "pending" ? 0 : 1;
      return pa - pb || urgencyRank(a.urgency) - urgencyRank(b.urgency) || b.id - a.id;
    });
}

/** The unit working ``incident``, if any. */
export function unitOf(state, incident) {
  const tr = transportOf(state, incident);
  if (tr) return rowOf(state.units, tr.unit_id) || null;
  return incident.unit_id ? rowOf(state.units, incident.unit_id) || null : null;
}

// Busy units first (in the order of their status), then the available, then those out
// of service.
function unitRank(status) {
  if (status === "available") return UNIT_STATUSES.length;
  if (status === "out_of_service") return UNIT_STATUSES.length + 1;
  return UNIT_STATUSES.indexOf(status);
}

export function unitBoard(state) {
  return rowsOf(state.units)
    .sort((a, b) => unitRank(a.status) - unitRank(b.status) || a.call_sign.localeCompare(b.call_sign))
    .map((unit) => {
      const tr = unit.current_transport_id ? rowOf(state.transports, unit.current_transport_id) : null;
      const incident = tr ? rowOf(state.incidents, tr.incident_id) || null : null;
      const actions = [];
      if (unit.status === "available") actions.push(["out_of_service", "unit.set_oos"]);
      if (unit.status === "out_of_service") actions.push(["available", "unit.set_available"]);
      return { unit, incident, actions };
    });
}

export function unitsSummary(state) {
  const units = rowsOf(state.units);
  const count = (st) => units.filter((u) => u.status === st).length;
  return {
    available: count("available"),
    busy: units.length - count("available") - count("out_of_service"),
    total: units.length,
  };
}

export const requestsOf = (state, transportId) =>
  rowsOf(state.requests).filter((r) => r.transport_id === transportId);

/** The hospitals ticked for the next round: the dispatcher's choice, or else the
 * server's suggestion, or else the three best. */
export function chosenFor(state, transportId) {
  if (state.chosen[transportId]) return state.chosen[transportId];
  const recs = state.hospitalRecs[transportId];
  if (!recs?.items) return [];
  return recs.suggested?.length ? recs.suggested : recs.items.slice(0, 3).map((r) => r.hospital_id);
}

export const mapIncidents = (state) => rowsOf(state.incidents).filter(isOpen);
