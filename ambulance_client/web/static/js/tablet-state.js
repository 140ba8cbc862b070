// The paramedic tablet's state: the crew's unit (and its move-up post, while the
// dispatcher has it wait at another station) and its current transport (with the
// incident), the hospital side of the transport (recommendations, requests, the
// crew's choice), the card flow and the patient's history, the requests for a doctor's
// instruction (asked, queued offline, answered), and the tablet's own link (online,
// queued steps, the stream) from the local service. Pure: an event or an
// answer in, the new state out (no DOM, no fetch, no globals); tablet.js draws it and
// fetches what ``needs`` lists.
//
// Every answer names the transport it belongs to, so an answer that comes back after
// the unit moved on to another transport (or to none) is ignored: no reload counter.
import {
  answered,
  doubt,
  emptyTable,
  listOf,
  patch,
  put,
  replaceAll,
  rowOf,
  rowsOf,
  stepTime,
  wanted,
} from "./shared/domain.js";
import { TIMELINE } from "./shared/generated/enums.js";

// call_received and dispatched are set by the command centre.
export const CREW_STEPS = TIMELINE.slice(2);
export const PIN_LENGTH = 4;

const IDLE_CARD = { step: "idle", pin: "", error: null, reader: {} }; // idle | pin | pinless | verifying | done

// The specified procedures the crew may ask for (the server's INSTRUCTION_PROCEDURES;
// one it does not list is refused there with unknown_procedure).
export const PROCEDURES = ["iv_fluids", "adrenaline", "supraglottic_airway", "intubation", "glucose"];
// procedure: the one tapped; key: the Idempotency-Key of the request being sent, kept
// after a failure so that sending again can never ask twice.
const IDLE_ASK = { procedure: null, note: "", key: null, sending: false, error: null };

export function initialState(unitId) {
  return {
    unitId,
    unit: null,
    transport: null,
    incident: null,
    ticks: {}, // unit / transport / incident: the tick of the last write
    hospitals: emptyTable(),
    requests: emptyTable(), // of the current transport
    recs: null, // { items, suggested, destinationNeeded } | { error } (scope=all: every open hospital)
    chosen: null, // hospital ids ticked, once the crew changed them
    manual: false, // the crew opened the list of every hospital to choose one by hand
    picked: null, // the hospital picked by hand
    alert: null, // { transport_id }: the server said nobody is left to ask
    notice: null, // { kind: "cancelled", incident_id }: what the crew must be told once
    record: null, // the identified patient's history
    card: IDLE_CARD,
    instructions: emptyTable(), // the current transport's requests for instruction
    ask: IDLE_ASK,
    queuedAsks: [], // { key, transport_id, procedure, note, at, pending, rejected }: held by the agent
    local: { online: true, queued: 0, pending: [], rejected: [], last_synced_at: null, stream: {} },
    book: {},
  };
}

const key = (what, id) => (id === undefined || id === null ? what : `${what}:${id}`);
export const currentTransportId = (state) => state.unit?.current_transport_id ?? null;

/** What the page lacks or holds in doubt, as ``{ key, what, id }``. */
export function needs(state) {
  const out = [];
  const ask = (what, id) => {
    const k = key(what, id);
    if (wanted(state.book, k)) out.push({ key: k, what, id });
  };
  if (!state.unitId) return out;
  ask("unit");
  const trId = currentTransportId(state);
  if (!trId) return out;
  ask("transport", trId);
  const tr = state.transport;
  if (!tr || tr.id !== trId) return out;
  ask("incident", tr.incident_id);
  ask("hospitals");
  ask("requests", trId);
  if (!tr.destination_hospital_id && !accepted(state)) ask("recs", trId);
  if ((tr.patient_id || state.card.step === "done") && !state.record) ask("record", trId);
  ask("instructions", trId);
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
      return { ...state, book: doubt(state.book, action.tick, action.keys) };
    case "local":
      return onLocal(state, action.data, action.tick);
    case "signed-in":
      return { ...state, unitId: action.unitId };
    case "local-lost":
      return { ...state, local: { ...state.local, online: false } };
    case "choose": {
      const now = new Set(chosenFor(state));
      if (action.on) now.add(action.hospitalId);
      else now.delete(action.hospitalId);
      return { ...state, chosen: [...now] };
    }
    case "manual":
      return { ...state, manual: Boolean(action.on), picked: action.on ? state.picked : null };
    case "pick":
      return { ...state, picked: action.hospitalId };
    case "notice-seen":
      return { ...state, notice: null };
    case "ask-pick":
    case "ask-sending":
    case "ask-sent":
    case "ask-queued":
    case "ask-failed":
      return onAsk(state, action);
    default:
      return onCard(state, action);
  }
}

// --- the unit and its transport -------------------------------------------------------

const newer = (state, what, tick) => !((state.ticks[what] ?? -Infinity) > tick);
const stamp = (state, what, tick) => ({ ...state.ticks, [what]: tick });

/** The unit as the server sent it; a new (or no) transport starts the crew's screen afresh. */
function withUnit(state, unit, tick) {
  if (unit.id !== state.unitId || !newer(state, "unit", tick)) return state;
  const next = { ...state, unit, ticks: stamp(state, "unit", tick), book: answered(state.book, "unit", tick) };
  const trId = unit.current_transport_id ?? null;
  if ((state.transport?.id ?? null) === trId) return next;
  return {
    ...next,
    transport: null,
    incident: null,
    requests: emptyTable(),
    recs: null,
    chosen: null,
    manual: false,
    picked: null,
    alert: null,
    record: null,
    card: IDLE_CARD,
    instructions: emptyTable(),
    ask: IDLE_ASK,
    queuedAsks: [],
    // A new assignment replaces what the crew was told about the last one.
    notice: trId ? null : state.notice,
  };
}

function withTransport(state, tr, tick) {
  if (!tr || tr.id !== currentTransportId(state)) return state; // not (or no longer) ours
  if (state.transport?.id === tr.id && !newer(state, "transport", tick)) return state;
  let book = answered(state.book, key("transport", tr.id), tick);
  // Identified since we last asked: the history can be read now.
  if (tr.patient_id && !state.record) book = doubt(book, tick, [key("record", tr.id)]);
  // Cancelled by the command centre (a call no hospital would take, for one): said once.
  const notice =
    tr.status === "cancelled" && state.transport?.status !== "cancelled"
      ? { kind: "cancelled", incident_id: tr.incident_id, transport_id: tr.id }
      : state.notice;
  return { ...state, transport: tr, ticks: stamp(state, "transport", tick), book, notice };
}

function withIncident(state, incident, tick) {
  if (!incident || incident.id !== state.transport?.incident_id || !newer(state, "incident", tick)) return state;
  return {
    ...state,
    incident,
    ticks: stamp(state, "incident", tick),
    book: answered(state.book, key("incident", incident.id), tick),
  };
}

function onEvent(state, name, data, tick) {
  const trId = currentTransportId(state);
  const ours = trId !== null && data.transport_id === trId;
  const inDoubt = (...what) => doubt(state.book, tick, what.map((w) => key(w, trId)));
  switch (name) {
    case "unit.updated":
      return withUnit(state, data, tick);
    case "transport.updated":
      return withTransport(state, data, tick);
    case "incident.updated":
    case "incident.created":
      return withIncident(state, data, tick);
    case "hospital.updated":
      return { ...state, hospitals: put(state.hospitals, data, tick), book: inDoubt("recs") };
    case "request.accepted":
      return ours ? { ...state, requests: acceptedOne(state.requests, data, tick) } : state;
    case "request.created":
    case "request.declined":
      return ours ? { ...state, requests: put(state.requests, data, tick), book: inDoubt("recs") } : state;
    case "request.cancelled":
      return ours ? { ...state, requests: patch(state.requests, data.id, { status: "cancelled" }, tick) } : state;
    case "request.round":
    case "request.exhausted":
      // A round names its requests by id only: they are asked again, with the ranking.
      return ours ? { ...state, book: inDoubt("requests", "recs") } : state;
    case "instruction.requested":
    case "instruction.answered":
    case "instruction.escalated":
      return ours ? withInstruction(state, data, tick) : state;
    case "transport.destination_needed":
      // Nobody is left to ask: every hospital is offered to choose one by hand.
      return ours ? { ...state, alert: { transport_id: trId }, manual: true, book: inDoubt("requests", "recs") } : state;
    default:
      return state;
  }
}

/** The first accept wins: the transport's other open requests are cancelled with it. */
function acceptedOne(requests, accepted, tick) {
  let out = put(requests, accepted, tick);
  for (const r of rowsOf(out)) {
    if (r.transport_id === accepted.transport_id && r.id !== accepted.id && r.status === "sent") {
      out = patch(out, r.id, { status: "cancelled" }, tick);
    }
  }
  return out;
}

function onAnswer(state, { what, id, data, asOf }) {
  const trId = currentTransportId(state);
  switch (what) {
    case "unit":
      return withUnit(state, data, asOf);
    case "transport":
      return withTransport(state, data, asOf);
    case "incident":
      return withIncident(state, data, asOf);
    case "hospitals":
      return {
        ...state,
        hospitals: replaceAll(state.hospitals, listOf(data), asOf),
        book: answered(state.book, "hospitals", asOf),
      };
    case "requests":
      if (id !== trId) return state;
      return {
        ...state,
        requests: replaceAll(state.requests, listOf(data), asOf, (r) => r.transport_id === id),
        book: answered(state.book, key("requests", id), asOf),
      };
    case "recs":
      if (id !== trId || state.book[key("recs", id)]?.asOf > asOf) return state;
      return {
        ...state,
        recs: {
          items: listOf(data, "hospitals"),
          suggested: data?.suggested || [],
          destinationNeeded: Boolean(data?.destination_needed),
        },
        book: answered(state.book, key("recs", id), asOf),
      };
    case "instructions": {
      if (id !== trId) return state;
      const rows = listOf(data);
      return {
        ...state,
        instructions: replaceAll(state.instructions, rows, asOf, (r) => r.transport_id === id),
        queuedAsks: rows.reduce(settleQueued, state.queuedAsks),
        book: answered(state.book, key("instructions", id), asOf),
      };
    }
    case "record":
      if (id !== trId) return state;
      return { ...state, record: data, card: { ...IDLE_CARD, step: "done" }, book: answered(state.book, key("record", id), asOf) };
    // The answers to the crew's own actions.
    case "step": {
      const next = { ...state, local: data.local || state.local };
      const moved = data.transport ? withTransport(next, data.transport, asOf) : next;
      // Sent: the unit's status follows the step.
      return data.status === "sent" ? { ...moved, book: doubt(moved.book, asOf, ["unit"]) } : moved;
    }
    case "round": {
      let requests = state.requests;
      for (const r of listOf(data, "requests")) if (r.transport_id === trId) requests = put(requests, r, asOf);
      return { ...state, requests, book: doubt(state.book, asOf, [key("recs", trId)]) };
    }
    case "stream":
      return { ...state, local: { ...state.local, stream: data.stream || data } };
    default:
      return state;
  }
}

function onFailed(state, { what, id, error, asOf }) {
  const k = key(what, id);
  if (state.book[k]?.asOf > asOf) return state;
  const book = answered(state.book, k, asOf);
  if (what === "recs" && id === currentTransportId(state)) return { ...state, recs: { error }, book };
  // Offline, or not identified yet: what the crew sees stays; the next event or the
  // link coming back asks again.
  return { ...state, book };
}

/** The local service's status: back online, or every queued step sent, means the
 * server may have moved on meanwhile: everything is asked again. */
function onLocal(state, local, tick) {
  const before = state.local;
  let next = { ...state, local: { ...local, stream: local.stream || {} } };
  const caughtUp = (!before.online && local.online) || (before.queued && !local.queued);
  const asks = queuedFromLocal(state.queuedAsks, local);
  if (asks !== state.queuedAsks) {
    next = { ...next, queuedAsks: asks };
    // A request left the agent's queue: the server has it now (or refused it).
    if (asks.length < state.queuedAsks.length) next = { ...next, book: doubt(next.book, tick, [key("instructions", currentTransportId(state))]) };
  }
  return caughtUp ? { ...next, book: doubt(next.book, tick) } : next;
}

// --- the doctor's instruction -------------------------------------------------------

/** A request as the server sent it (its answer, or a live event), for our transport. */
function withInstruction(state, row, tick) {
  if (!row || row.id === undefined || row.id === null) return state;
  return { ...state, instructions: put(state.instructions, row, tick), queuedAsks: settleQueued(state.queuedAsks, row) };
}

/** The queued asks once the server shows ``row``: the one it is (same procedure and
 * note, asked no earlier than queued, give or take a minute of clock) is no longer queued. */
function settleQueued(queued, row) {
  const i = queued.findIndex(
    (q) =>
      q.transport_id === row.transport_id &&
      q.procedure === row.procedure &&
      (q.note || "") === (row.note || "") &&
      Date.parse(row.requested_at || 0) >= Date.parse(q.at || 0) - 60000,
  );
  return i < 0 ? queued : [...queued.slice(0, i), ...queued.slice(i + 1)];
}

/** The queued asks after the agent's status: one it reports pending is marked so; one
 * it reported pending and no longer does was sent (dropped here: the server's list and
 * events show it), unless the agent says the server refused it. */
function queuedFromLocal(queued, local) {
  if (!queued.length || !Array.isArray(local.requests_pending)) return queued;
  const pending = new Set(local.requests_pending.map((p) => p.idempotency_key));
  const refused = new Map((local.requests_rejected || []).map((r) => [r.idempotency_key, r]));
  let changed = false;
  const out = [];
  for (const q of queued) {
    if (refused.has(q.key) && !q.rejected) {
      changed = true;
      out.push({ ...q, pending: false, rejected: { code: refused.get(q.key).code || "rejected", status: refused.get(q.key).status } });
    } else if (pending.has(q.key) && !q.pending) {
      changed = true;
      out.push({ ...q, pending: true });
    } else if (!pending.has(q.key) && q.pending && !q.rejected) {
      changed = true; // sent
    } else out.push(q);
  }
  return changed ? out : queued;
}

function onAsk(state, action) {
  const ask = state.ask;
  switch (action.type) {
    case "ask-pick":
      if (ask.sending) return state;
      // Another procedure is another request: a new key.
      return { ...state, ask: { ...IDLE_ASK, procedure: ask.procedure === action.procedure ? null : action.procedure } };
    case "ask-sending":
      if (ask.sending || !ask.procedure || !state.transport) return state;
      // The same request again keeps its key; another note makes it another request.
      return {
        ...state,
        ask: { ...ask, key: ask.key && ask.note === (action.note || "") ? ask.key : action.key, note: action.note || "", sending: true, error: null },
      };
    case "ask-sent":
      return { ...withInstruction(state, action.data, action.asOf), ask: IDLE_ASK };
    case "ask-queued": {
      const q = {
        key: action.key,
        transport_id: action.transport_id,
        procedure: action.procedure,
        note: action.note || "",
        at: action.at,
        pending: false,
        rejected: null,
      };
      return { ...state, ask: IDLE_ASK, queuedAsks: [...state.queuedAsks.filter((x) => x.key !== q.key), q] };
    }
    case "ask-failed":
      // The key stays: sending again repeats this request, never a second one.
      return { ...state, ask: { ...ask, sending: false, error: action.error } };
    default:
      return state;
  }
}

// --- the card ----------------------------------------------------------------------

const cardError = (error) => ({
  code: error?.code || "error",
  message: error?.message || "",
  tries_left: error?.tries_left ?? null,
  locked: error?.code === "card_locked",
});

function onCard(state, action) {
  const card = state.card;
  const set = (changes) => ({ ...state, card: { ...card, ...changes } });
  switch (action.type) {
    case "card-read": {
      const reader = action.data || {};
      return reader.locked
        ? set({ reader, step: "pinless", pin: "", error: { code: "card_locked", locked: true } })
        : set({ reader, step: "pin", pin: "", error: null });
    }
    case "card-read-failed":
      return set({ pin: "", error: cardError(action.error) });
    case "pin-key":
      if (card.step !== "pin") return state;
      if (action.key === "clear") return set({ pin: card.pin.slice(0, -1) });
      if (/^\d$/.test(action.key) && card.pin.length < PIN_LENGTH) return set({ pin: card.pin + action.key });
      return state;
    case "pin-verify":
      return card.step === "pin" && card.pin.length === PIN_LENGTH ? set({ step: "verifying" }) : state;
    case "pin-failed": {
      const error = cardError(action.error);
      return set({
        step: error.locked ? "pinless" : "pin",
        pin: "",
        reader: { ...card.reader, tries_left: error.tries_left, locked: error.locked },
        error,
      });
    }
    case "pinless-open":
      return set({ step: "pinless", error: null });
    case "card-back":
      return set({ step: "idle", error: null });
    case "face-required":
      return set({ error: { code: "face_required" } });
    case "pinless-failed":
      return set({ error: cardError(action.error) });
    case "identified": {
      // The answer carries the history, or the page reads it next (needs: record).
      const res = action.data || {};
      const record = res.summary || res.record?.summary ? res : null;
      return {
        ...state,
        record,
        card: { ...IDLE_CARD, reader: card.reader, step: "done" },
        book: record ? state.book : doubt(state.book, action.tick, [key("record", currentTransportId(state))]),
      };
    }
    default:
      return state;
  }
}

// --- what the page shows ------------------------------------------------------------

export const accepted = (state) => rowsOf(state.requests).find((r) => r.status === "accepted") || null;
export const requestsOf = (state) => rowsOf(state.requests);
export const hospitalsOf = (state) => rowsOf(state.hospitals);
export const destination = (state) => rowOf(state.hospitals, state.transport?.destination_hospital_id) || null;

/** The hospitals to ask: those the server recommends (``scope=all`` lists the others
 * too, flagged ``recommended: false``). */
export const recommendedOf = (state) => (state.recs?.items || []).filter((r) => r.recommended !== false);

/** The hospitals ticked for the next round, among the recommended: the crew's choice, or
 * else the server's suggestion, or else the three best. */
export function chosenFor(state) {
  const ids = new Set(recommendedOf(state).map((r) => r.hospital_id));
  if (state.chosen) return state.chosen.filter((id) => ids.has(id));
  const recs = state.recs;
  if (!recs?.items) return [];
  const suggested = (recs.suggested || []).filter((id) => ids.has(id));
  return suggested.length ? suggested : [...ids].slice(0, 3);
}

/** Nobody is left to ask and no destination is set: every request was declined (or
 * withdrawn) and none is open, the server said so, or no hospital is recommended at all. */
export function destinationNeeded(state) {
  const tr = state.transport;
  if (!tr || tr.status !== "active" || tr.destination_hospital_id || accepted(state)) return false;
  const requests = requestsOf(state);
  if (requests.some((r) => r.status === "sent")) return false;
  if (state.alert?.transport_id === tr.id || state.recs?.destinationNeeded) return true;
  const allClosed = requests.length > 0 && requests.every((r) => r.status === "declined" || r.status === "cancelled");
  const noneLeft = Boolean(state.recs?.items) && recommendedOf(state).length === 0;
  return allClosed || noneLeft;
}

/** What the hospital panel offers: ask the recommended (never "ask 0 hospitals"), wait
 * for the answers, or choose any hospital by hand (with its ETA). */
export function hospitalPanel(state) {
  const tr = state.transport;
  if (!tr) return { mode: "none" };
  if (tr.destination_hospital_id || accepted(state)) return { mode: "placed" };
  if (state.recs?.error) return { mode: "error", error: state.recs.error };
  if (!state.recs) return { mode: "loading" };
  const open = requestsOf(state).some((r) => r.status === "sent");
  const recommended = recommendedOf(state);
  const needed = destinationNeeded(state);
  const manual = state.manual || needed || (!open && recommended.length === 0);
  const chosen = chosenFor(state);
  return {
    mode: manual ? "manual" : "ask",
    needed,
    open,
    recommended,
    all: state.recs.items,
    chosen,
    // A round asks at least one hospital, and only once the last one is answered.
    canSend: !open && chosen.length > 0,
    canManual: !manual,
    picked: state.picked,
    canSet: state.picked !== null && state.recs.items.some((r) => r.hospital_id === state.picked),
  };
}

/** The step the crew tapped while offline and the local service still holds. */
export function pendingFor(state, kind) {
  return (state.local.pending || []).find((p) => p.transport_id === state.transport?.id && p.kind === kind) || null;
}

/** The crew's timeline buttons: done (recorded, or queued offline with the tap's time),
 * next (the one legal step, yellow) or todo; "arrived at hospital" only with a destination. */
export function steps(state) {
  const tr = state.transport;
  if (!tr) return [];
  const doneAt = (k) => stepTime(tr, k) || pendingFor(state, k)?.at || null;
  const next = TIMELINE.find((k) => !doneAt(k)) || null;
  return CREW_STEPS.map((kind) => {
    const at = doneAt(kind);
    const queued = !stepTime(tr, kind) && Boolean(pendingFor(state, kind));
    const blockedNoDest = kind === "arrived_hospital" && !tr.destination_hospital_id;
    return {
      kind,
      at,
      queued,
      next: kind === next,
      blockedNoDest,
      cls: at ? (queued ? "queued" : "done") : kind === next ? "next" : "todo",
      disabled: Boolean(at) || kind !== next || blockedNoDest,
    };
  });
}

/** The crew's requests for instruction on this transport, newest first: the server's,
 * then those the agent still holds (``status: "queued"``, or ``"rejected"``). */
export function instructionsOf(state) {
  const trId = state.transport?.id;
  const rows = rowsOf(state.instructions)
    .filter((r) => r.transport_id === trId)
    .sort((a, b) => Date.parse(b.requested_at) - Date.parse(a.requested_at) || b.id - a.id);
  const queued = state.queuedAsks
    .filter((q) => q.transport_id === trId)
    .map((q) => ({ id: `q-${q.key}`, key: q.key, procedure: q.procedure, note: q.note, requested_at: q.at, status: q.rejected ? "rejected" : "queued", rejected: q.rejected }))
    .reverse();
  return [...queued, ...rows];
}

/** The doctor's latest answer on this transport (what the crew reads at arm's length). */
export function latestAnswer(state) {
  return (
    instructionsOf(state)
      .filter((r) => r.status === "answered")
      .sort((a, b) => Date.parse(b.answered_at) - Date.parse(a.answered_at))[0] || null
  );
}

/** The ask panel: the procedures, the one tapped, whether it can be sent now. */
export function askPanel(state) {
  if (!state.transport || state.transport.status !== "active") return { mode: "none" };
  const { procedure, sending, error } = state.ask;
  return { mode: "ask", procedures: PROCEDURES, procedure, sending, error, canSend: Boolean(procedure) && !sending };
}

/** Where the unit waits while the dispatcher has moved it up to another station (the
 * console's move-up: ``post_station_id`` on the unit, UnitRead): ``{ stationId, name,
 * at }``, the name as the server sent it (Japanese), ``at`` when the post began if the
 * record says so; null at its own station (no post, or posted back home). */
export function postOf(state) {
  const unit = state.unit;
  const id = unit?.post_station_id ?? null;
  if (id === null || id === unit.station_id) return null;
  return { stationId: id, name: unit.post_station_name || "", at: unit.posted_at || null };
}

/** The post's station in the page's language (``station``: its Japanese name → the
 * name to show); its id when the record carried no name. */
export const postName = (post, station = (name) => name) => station(post.name) || `#${post.stationId}`;

/** What the header says of a post, through the page's ``t``: the station (see
 * ``postName``), and since when (``time``: the page's clock format) when the post's
 * start is known. */
export function postLine(post, t, { station = (name) => name, time = (iso) => iso } = {}) {
  if (!post) return "";
  const line = t("tablet.posted_at", { station: postName(post, station) });
  return post.at ? `${line} · ${t("tablet.posted_since", { time: time(post.at) })}` : line;
}

/** What the crew is told when a unit record moved the post, from the state before and
 * after it: "posted" (to another station), "home" (back to wait at its own station), or
 * null: no change, or the post ended because the unit left to work (dispatched, out of
 * service), which the status and the assignment say. */
export function postMoved(before, after) {
  if (!before.unit || !after.unit) return null; // nothing known before: no news, the header says it
  const was = postOf(before);
  const now = postOf(after);
  if ((was?.stationId ?? null) === (now?.stationId ?? null)) return null;
  if (now) return "posted";
  return after.unit?.status === "available" ? "home" : null;
}

/** The stream as the crew sees it for the current transport. */
export function streamOf(state) {
  const st = state.local.stream || {};
  const running = Boolean(st.running && st.transport_id === state.transport?.id);
  return { running, frames: running ? st.stats?.sent_frames : undefined, error: st.error || "" };
}

/** The relay's analysis of this transport's stream, as the agent keeps it (null while
 * nothing streams for the transport or nothing was analysed yet). */
export function analysisOf(state) {
  const st = state.local.stream || {};
  if (!st.running || st.transport_id !== state.transport?.id || !st.analysis) return null;
  return st.analysis;
}

/** What the crew reads of an analysis, through the page's ``t``: the rhythm line (with
 * shockable, confidence and the decision-support label), NEWS2 and the shock index,
 * and the alerts newest first, each said from its reason and values (the relay's
 * English message only for a reason this page does not know). */
export function analysisLines(analysis, t) {
  const out = { rhythm: null, shockable: false, news2: null, shockIndex: null, partial: null, alerts: [] };
  const ecg = analysis?.ecg;
  if (ecg) {
    const parts = [t(`viewer.rhythm_${ecg.rhythm}`)];
    if (ecg.rhythm !== "unknown") parts.push(t(ecg.shockable ? "viewer.shockable" : "viewer.not_shockable"));
    parts.push(t("viewer.confidence", { pct: Math.round(ecg.confidence * 100) }), t("viewer.decision_support"));
    out.rhythm = parts.join(" · ");
    out.shockable = Boolean(ecg.shockable);
  }
  const vitals = analysis?.vitals;
  if (vitals) {
    out.news2 = `${t("viewer.news2")} ${vitals.news2}`;
    if (vitals.shock_index !== null && vitals.shock_index !== undefined) out.shockIndex = `${t("viewer.shock_index")} ${vitals.shock_index.toFixed(2)}`;
    // Parameters the monitor could not read score nothing: the total is a partial one.
    const missing = vitals.news2_missing || [];
    if (missing.length) out.partial = t("viewer.news2_partial", { parameters: missing.map((p) => t(`viewer.param_${p}`)).join(", ") });
  }
  out.alerts = [...(analysis?.alerts || [])].reverse().map((alert) => {
    const key = `viewer.alert_${alert.reason}`;
    const vars = { ...(alert.values || {}) };
    if (Array.isArray(vars.parameters)) vars.parameters = vars.parameters.map((p) => t(`viewer.param_${p}`)).join(", ");
    if (vars.rhythm) vars.rhythm_name = t(`viewer.rhythm_${vars.rhythm}`);
    const text = t(key, vars);
    return { at: alert.at, reason: alert.reason, text: text === key ? alert.message : text };
  });
  return out;
}
