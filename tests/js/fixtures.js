// Records shaped like the API's answers and the live events' payloads (IncidentRead,
// UnitRead, TransportRead, HospitalRead, HospitalRequestRead), for the state modules'
// tests. Each builder takes the fields a test cares about.
import { TIMELINE } from "../../ems/web/static/js/generated/enums.js";

export const T0 = Date.parse("2026-05-01T10:00:00Z");
export const at = (minutes) => new Date(T0 + minutes * 60000).toISOString();

export function incident(over = {}) {
  return {
    id: 1,
    received_at: at(0),
    lat: 35.49,
    lon: 134.2,
    address: "みどり市 本町 2-14",
    caller_name: "",
    caller_phone: "",
    caller_account: "",
    chief_complaint: "胸痛、冷汗",
    suspected_condition: "chest_pain_stemi",
    urgency: "serious",
    patient_age: 67,
    patient_sex: "male",
    status: "pending",
    created_by: 2,
    transport_id: null,
    ...over,
  };
}

export function unit(over = {}) {
  return {
    id: 10,
    call_sign: "みどり救急1",
    station_id: 1,
    station_name: "みどり消防署",
    status: "available",
    crew: ["medic"],
    lat: 35.5,
    lon: 134.22,
    position_at: at(0),
    status_at: at(0),
    current_transport_id: null,
    post_station_id: null, // a move-up post (another station to wait at)
    post_station_name: "",
    ...over,
  };
}

/** A transport with the steps of ``done`` recorded, one minute apart. */
export function transport({ done = ["call_received", "dispatched"], ...over } = {}) {
  return {
    id: 100,
    incident_id: 1,
    unit_id: 10,
    patient_id: null,
    destination_hospital_id: null,
    bed_category: "ccu",
    status: "active",
    created_at: at(1),
    timeline: TIMELINE.map((kind, i) => ({ kind, at: done.includes(kind) ? at(i) : null })),
    intervals: [],
    call_to_scene_s: null,
    call_to_hospital_s: null,
    ...over,
  };
}

export function hospital(over = {}) {
  return {
    id: 5,
    name: "みどり県立救命救急センター",
    name_en: "Midori Prefectural Emergency and Critical Care Center",
    lat: 35.48,
    lon: 134.23,
    level: "tertiary",
    capabilities: ["pci"],
    diversion: "open",
    diverted_categories: [],
    beds: [
      { category: "icu", available: 4, capacity: 8, updated_at: at(0), expires_at: at(60), stale: false },
      { category: "general", available: 5, capacity: 12, updated_at: at(0), expires_at: at(60), stale: false },
    ],
    ...over,
  };
}

export function request(over = {}) {
  return {
    id: 1000,
    transport_id: 100,
    hospital_id: 5,
    hospital_name: "みどり県立救命救急センター",
    round: 1,
    status: "sent",
    bed_category: "ccu",
    eta_s: 540,
    sent_at: at(5),
    responded_at: null,
    decline_reason: null,
    note: "",
    urgency: "serious",
    chief_complaint: "胸痛、冷汗",
    suspected_condition: "chest_pain_stemi",
    patient_age: 67,
    patient_sex: "male",
    unit_id: 10,
    unit_call_sign: "みどり救急1",
    ...over,
  };
}

/** A page's inputs, stamped as store.js does: one clock for events and answers. */
export function clock() {
  let n = 0;
  return {
    tick: () => ++n,
    event: (name, data) => ({ type: "event", name, data, tick: ++n }),
    /** An answer asked for now, to be delivered later: ``ask(...)()`` */
    ask: (what, id) => {
      const asOf = ++n;
      return (data) => ({ type: "answer", what, id, data, asOf });
    },
  };
}

/** Apply ``actions`` in turn. */
export const run = (reduce, state, ...actions) => actions.reduce(reduce, state);
