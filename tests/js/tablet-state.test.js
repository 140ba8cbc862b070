// The paramedic tablet's state: the assignment follows the unit's live events, answers
// for a transport the unit has left are ignored (no reload counter), the timeline
// buttons follow the FDMA order and the offline queue, and the card flow.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";

import {
  accepted,
  analysisLines,
  analysisOf,
  askPanel,
  chosenFor,
  destinationNeeded,
  hospitalPanel,
  initialState,
  instructionsOf,
  latestAnswer,
  needs,
  PROCEDURES,
  reduce,
  requestsOf,
  steps,
  streamOf,
} from "../../ambulance_client/web/static/js/tablet-state.js";
import { at, clock, hospital, incident, request, run, transport, unit } from "./fixtures.js";

const names = (list) => list.map((n) => n.key);
const assigned = unit({ status: "dispatched", current_transport_id: 100 });

/** A signed-in crew whose unit works transport 100 of incident 1, everything loaded. */
function working() {
  const c = clock();
  const state = run(
    reduce,
    initialState(10),
    c.ask("unit")(assigned),
    c.ask("transport", 100)(transport()),
    c.ask("incident", 1)(incident({ status: "assigned", transport_id: 100 })),
    c.ask("hospitals")([hospital()]),
    c.ask("requests", 100)([]),
    c.ask("recs", 100)({ hospitals: [{ hospital_id: 5 }, { hospital_id: 6 }], suggested: [5] }),
    c.ask("instructions", 100)([]),
  );
  return { c, state };
}

describe("the assignment", () => {
  it("is asked step by step: the unit, its transport, then the incident and the hospital side", () => {
    const c = clock();
    assert.deepEqual(needs(initialState(null)), []); // not signed in
    let state = initialState(10);
    assert.deepEqual(names(needs(state)), ["unit"]);
    state = reduce(state, c.ask("unit")(assigned));
    assert.deepEqual(names(needs(state)), ["transport:100"]);
    state = reduce(state, c.ask("transport", 100)(transport()));
    assert.deepEqual(names(needs(state)), ["incident:1", "hospitals", "requests:100", "recs:100", "instructions:100"]);
    assert.deepEqual(needs(working().state), []);
  });

  it("a unit.updated to a new transport starts afresh; an answer for the old one is ignored", () => {
    const { c, state } = working();
    const late = c.ask("transport", 100); // asked while the unit still worked transport 100
    let next = run(
      reduce,
      state,
      c.ask("record", 100)({ summary: { allergies: [] } }),
      c.event("unit.updated", unit({ status: "dispatched", current_transport_id: 200 })),
    );
    assert.equal(next.transport, null);
    assert.equal(next.record, null);
    assert.equal(next.card.step, "idle");
    next = reduce(next, late(transport({ done: ["call_received", "dispatched", "arrived_scene"] })));
    assert.equal(next.transport, null);
    assert.deepEqual(names(needs(next)), ["transport:200"]);
  });

  it("after the handover the assignment ends, and a late answer does not bring it back", () => {
    const { c, state } = working();
    const late = c.ask("unit");
    const done = ["call_received", "dispatched", "arrived_scene", "patient_contact", "loaded", "departed_scene", "arrived_hospital", "handover"];
    const next = run(
      reduce,
      state,
      c.event("transport.updated", transport({ status: "completed", done })),
      c.event("unit.updated", unit({ status: "available", current_transport_id: null })),
      late(assigned),
    );
    assert.equal(next.transport, null);
    assert.equal(next.incident, null);
    assert.equal(next.unit.status, "available");
  });

  it("a transport.updated with a destination closes the hospital choice", () => {
    const { c, state } = working();
    const next = reduce(state, c.event("transport.updated", transport({ destination_hospital_id: 5 })));
    assert.equal(next.transport.destination_hospital_id, 5);
    assert.deepEqual(needs(next), []);
  });
});

describe("hospital requests", () => {
  it("an accept cancels the other open requests; the answer's hospital is the destination", () => {
    const { c, state } = working();
    const next = run(
      reduce,
      state,
      c.ask("round")({ requests: [request(), request({ id: 1001, hospital_id: 6 })] }),
      c.event("request.accepted", request({ status: "accepted", responded_at: at(8) })),
    );
    assert.equal(accepted(next).hospital_id, 5);
    assert.deepEqual(requestsOf(next).map((r) => r.status), ["accepted", "cancelled"]);
  });

  it("a new round after a decline asks the requests and the ranking again", () => {
    const { c, state } = working();
    const next = reduce(state, c.event("request.round", { transport_id: 100, round: 2, requests: [1002] }));
    assert.deepEqual(names(needs(next)), ["requests:100", "recs:100"]);
  });

  it("another transport's events are not ours", () => {
    const { c, state } = working();
    assert.equal(reduce(state, c.event("request.accepted", request({ transport_id: 999, status: "accepted" }))), state);
  });

  it("the crew's ticks start from the suggestion", () => {
    const { state } = working();
    assert.deepEqual(chosenFor(state), [5]);
    assert.deepEqual(chosenFor(reduce(state, { type: "choose", hospitalId: 6, on: true })), [5, 6]);
  });
});

describe("timeline buttons", () => {
  it("only the next step is enabled, and arriving at hospital needs a destination", () => {
    const { state } = working();
    const byKind = Object.fromEntries(steps(state).map((s) => [s.kind, s]));
    assert.equal(byKind.arrived_scene.cls, "next");
    assert.equal(byKind.arrived_scene.disabled, false);
    assert.ok(steps(state).filter((s) => s.kind !== "arrived_scene").every((s) => s.disabled));
    const far = transport({ done: ["call_received", "dispatched", "arrived_scene", "patient_contact", "loaded", "departed_scene"] });
    const onTheWay = reduce(state, { type: "answer", what: "transport", data: far, asOf: 99 });
    const arrive = steps(onTheWay).find((s) => s.kind === "arrived_hospital");
    assert.ok(arrive.next && arrive.blockedNoDest && arrive.disabled);
  });

  it("a step tapped offline shows as queued with the tap's time, then done once sent", () => {
    const { c, state } = working();
    const offline = { online: false, queued: 1, pending: [{ transport_id: 100, kind: "arrived_scene", at: at(3) }], stream: {} };
    let next = reduce(state, { type: "local", data: offline, tick: c.tick() });
    const queued = steps(next).find((s) => s.kind === "arrived_scene");
    assert.equal(queued.cls, "queued");
    assert.equal(queued.at, at(3));
    assert.equal(steps(next).find((s) => s.kind === "patient_contact").cls, "next");
    // Back online with the queue sent: the server may have moved on, so everything is asked again.
    next = reduce(next, { type: "local", data: { online: true, queued: 0, pending: [], stream: {} }, tick: c.tick() });
    assert.ok(names(needs(next)).includes("unit") && names(needs(next)).includes("transport:100"));
  });

  it("the answer to a step moves the timeline and asks for the unit, whose status follows", () => {
    const { c, state } = working();
    const res = {
      status: "sent",
      transport: transport({ done: ["call_received", "dispatched", "arrived_scene"] }),
      local: { online: true, queued: 0, pending: [], stream: {} },
    };
    const next = reduce(state, c.ask("step")(res));
    assert.equal(steps(next).find((s) => s.kind === "arrived_scene").cls, "done");
    assert.deepEqual(names(needs(next)), ["unit"]);
  });
});

describe("the card", () => {
  it("tap, four digits, verify; a wrong PIN says the tries left; a locked card goes PIN-less", () => {
    const { state } = working();
    let next = reduce(state, { type: "card-read", data: { present: true, tries_left: 3, locked: false } });
    assert.equal(next.card.step, "pin");
    for (const key of ["1", "2", "9", "9", "9"]) next = reduce(next, { type: "pin-key", key });
    assert.equal(next.card.pin, "1299"); // four digits at most
    next = reduce(next, { type: "pin-key", key: "clear" });
    next = reduce(next, { type: "pin-key", key: "4" });
    next = reduce(next, { type: "pin-verify" });
    assert.equal(next.card.step, "verifying");
    next = reduce(next, { type: "pin-failed", error: { code: "wrong_pin", tries_left: 2 } });
    assert.deepEqual([next.card.step, next.card.pin, next.card.reader.tries_left], ["pin", "", 2]);
    next = reduce(next, { type: "pin-failed", error: { code: "card_locked", tries_left: 0 } });
    assert.equal(next.card.step, "pinless");
    assert.ok(next.card.error.locked);
  });

  it("an identification that carries the history shows it; one that does not asks for it", () => {
    const { c, state } = working();
    const shown = reduce(state, { type: "identified", data: { summary: { allergies: [] } }, tick: c.tick() });
    assert.equal(shown.card.step, "done");
    assert.ok(shown.record);
    const bare = reduce(state, { type: "identified", data: { patient_id: 42 }, tick: c.tick() });
    assert.deepEqual(names(needs(bare)), ["record:100"]);
  });
});

describe("the stream", () => {
  it("runs for this transport only", () => {
    const { c, state } = working();
    const local = (transport_id) => ({ online: true, queued: 0, pending: [], stream: { running: true, transport_id, stats: { sent_frames: 12 } } });
    assert.deepEqual(streamOf(reduce(state, { type: "local", data: local(100), tick: c.tick() })), { running: true, frames: 12, error: "" });
    assert.equal(streamOf(reduce(state, { type: "local", data: local(7), tick: c.tick() })).running, false);
  });
});

describe("no dead ends", () => {
  // The ranking with scope=all: two recommended, one that is not (already asked).
  const everyHospital = (over = {}) => ({
    hospitals: [
      { hospital_id: 5, eta_s: 540, recommended: true },
      { hospital_id: 6, eta_s: 700, recommended: true },
      { hospital_id: 7, eta_s: 300, recommended: false },
    ],
    suggested: [5],
    destination_needed: false,
    ...over,
  });

  it("asks the recommended only, and never a round of no hospital", () => {
    const { c, state } = working();
    let next = reduce(state, c.ask("recs", 100)(everyHospital()));
    let panel = hospitalPanel(next);
    assert.equal(panel.mode, "ask");
    assert.deepEqual(panel.recommended.map((r) => r.hospital_id), [5, 6]);
    assert.deepEqual(panel.chosen, [5]);
    assert.equal(panel.canSend, true);
    next = reduce(next, { type: "choose", hospitalId: 5, on: false });
    panel = hospitalPanel(next);
    assert.deepEqual(panel.chosen, []);
    assert.equal(panel.canSend, false, "no 'ask 0 hospitals'");
    // A hospital that is not recommended cannot be ticked into a round.
    next = reduce(next, { type: "choose", hospitalId: 7, on: true });
    assert.deepEqual(chosenFor(next), []);
  });

  it("while a round is open the crew waits: no second round", () => {
    const { c, state } = working();
    const next = run(reduce, state, c.ask("recs", 100)(everyHospital()), c.ask("requests", 100)([request()]));
    const panel = hospitalPanel(next);
    assert.equal(panel.open, true);
    assert.equal(panel.canSend, false);
  });

  it("every request declined: the situation is shown and every hospital offered by hand", () => {
    const { c, state } = working();
    const declined = [request({ status: "declined", decline_reason: "beds_full" })];
    const none = everyHospital({
      hospitals: [{ hospital_id: 5, eta_s: 540, recommended: false }, { hospital_id: 7, eta_s: 300, recommended: false }],
      suggested: [],
      destination_needed: true,
    });
    let next = run(reduce, state, c.ask("requests", 100)(declined), c.ask("recs", 100)(none));
    assert.equal(destinationNeeded(next), true);
    let panel = hospitalPanel(next);
    assert.equal(panel.mode, "manual");
    assert.equal(panel.needed, true);
    assert.equal(panel.canSend, false);
    assert.deepEqual(panel.all.map((r) => r.hospital_id), [5, 7]);
    assert.equal(panel.canSet, false);
    next = reduce(next, { type: "pick", hospitalId: 7 });
    panel = hospitalPanel(next);
    assert.equal(panel.canSet, true);
    // Once the destination is set, "arrived at hospital" unlocks.
    const before = steps(next).find((b) => b.kind === "arrived_hospital");
    assert.equal(before.blockedNoDest, true);
    next = reduce(next, c.ask("transport", 100)(transport({ destination_hospital_id: 7, done: ["call_received", "dispatched", "arrived_scene", "patient_contact", "loaded", "departed_scene"] })));
    assert.equal(destinationNeeded(next), false);
    assert.equal(hospitalPanel(next).mode, "placed");
    const after = steps(next).find((b) => b.kind === "arrived_hospital");
    assert.equal(after.blockedNoDest, false);
    assert.equal(after.disabled, false);
  });

  it("the server's destination_needed event opens the choice by hand and asks again", () => {
    const { c, state } = working();
    const next = reduce(state, c.event("transport.destination_needed", { transport_id: 100, incident_id: 1, unit_call_sign: "みどり救急1" }));
    assert.deepEqual(next.alert, { transport_id: 100 });
    assert.equal(next.manual, true);
    assert.deepEqual(names(needs(next)), ["requests:100", "recs:100"]);
    assert.equal(destinationNeeded(next), true);
    const other = reduce(state, c.event("transport.destination_needed", { transport_id: 999 }));
    assert.equal(other, state);
  });

  it("a call cancelled by the command centre is said once, until the next assignment", () => {
    const { c, state } = working();
    let next = run(
      reduce,
      state,
      c.event("transport.updated", transport({ status: "cancelled" })),
      c.event("unit.updated", unit({ status: "available", current_transport_id: null })),
    );
    assert.equal(next.transport, null);
    assert.deepEqual(next.notice, { kind: "cancelled", incident_id: 1, transport_id: 100 });
    next = reduce(next, c.event("unit.updated", unit({ status: "dispatched", current_transport_id: 200 })));
    assert.equal(next.notice, null);
  });
});

describe("asking the doctor", () => {
  const instr = (over = {}) => ({
    id: 7,
    transport_id: 100,
    unit_id: 10,
    unit_call_sign: "みどり救急1",
    procedure: "adrenaline",
    note: "",
    status: "open",
    requested_at: at(20),
    requested_by_name: "隊員",
    escalated_at: null,
    answered_at: null,
    answered_by_name: "",
    decision: null,
    detail: "",
    answer_s: null,
    ...over,
  });

  it("is two taps: a procedure, then send; the same procedure tapped again is unpicked", () => {
    const { state } = working();
    assert.deepEqual(askPanel(state).procedures, PROCEDURES);
    assert.equal(askPanel(state).canSend, false);
    const picked = reduce(state, { type: "ask-pick", procedure: "adrenaline" });
    assert.equal(askPanel(picked).procedure, "adrenaline");
    assert.equal(askPanel(picked).canSend, true);
    assert.equal(askPanel(reduce(picked, { type: "ask-pick", procedure: "adrenaline" })).procedure, null);
  });

  it("sends once: a second tap while sending does nothing, and a retry keeps its Idempotency-Key", () => {
    const { state } = working();
    let st = run(reduce, state, { type: "ask-pick", procedure: "glucose" }, { type: "ask-sending", key: "k1", note: "BS 40" });
    assert.equal(askPanel(st).canSend, false);
    assert.equal(reduce(st, { type: "ask-sending", key: "k2", note: "BS 40" }), st);
    st = reduce(st, { type: "ask-failed", error: { code: "network_error" } });
    assert.equal(askPanel(st).error.code, "network_error");
    // Sent again: the same request, the same key.
    assert.equal(reduce(st, { type: "ask-sending", key: "k3", note: "BS 40" }).ask.key, "k1");
    // Another note is another request: a new key.
    assert.equal(reduce(st, { type: "ask-sending", key: "k4", note: "BS 35" }).ask.key, "k4");
    // Another procedure, too.
    const other = run(reduce, st, { type: "ask-pick", procedure: "iv_fluids" }, { type: "ask-sending", key: "k5", note: "BS 40" });
    assert.equal(other.ask.key, "k5");
  });

  it("shows the server's answer, then follows the live events to the doctor's answer", () => {
    const { c, state } = working();
    let st = run(reduce, state, { type: "ask-pick", procedure: "adrenaline" }, { type: "ask-sending", key: "k1", note: "" });
    st = reduce(st, { type: "ask-sent", data: instr(), asOf: c.tick() });
    assert.equal(askPanel(st).procedure, null); // ready for the next one
    assert.deepEqual(instructionsOf(st).map((r) => [r.id, r.status]), [[7, "open"]]);
    st = reduce(st, c.event("instruction.escalated", instr({ escalated_at: at(21) })));
    assert.equal(instructionsOf(st)[0].escalated_at, at(21));
    st = reduce(st, c.event("instruction.answered", instr({ status: "answered", answered_at: at(22), decision: "instructed", detail: "1mg IV", answered_by_name: "MC医師" })));
    const answer = latestAnswer(st);
    assert.deepEqual([answer.decision, answer.detail, answer.requested_at, answer.answered_at], ["instructed", "1mg IV", at(20), at(22)]);
    // Another transport's request is not ours.
    const other = reduce(st, c.event("instruction.requested", instr({ id: 8, transport_id: 200 })));
    assert.equal(instructionsOf(other).length, 1);
  });

  it("queued by the agent while offline: shown as queued until the server has it", () => {
    const { c, state } = working();
    let st = run(reduce, state, { type: "ask-pick", procedure: "iv_fluids" }, { type: "ask-sending", key: "k1", note: "ルート確保困難" });
    st = reduce(st, { type: "ask-queued", key: "k1", transport_id: 100, procedure: "iv_fluids", note: "ルート確保困難", at: at(30) });
    assert.deepEqual(instructionsOf(st).map((r) => [r.status, r.procedure]), [["queued", "iv_fluids"]]);
    const local = (pending, rejected = []) => ({ type: "local", data: { online: false, queued: 0, pending: [], requests_pending: pending, requests_rejected: rejected }, tick: c.tick() });
    st = reduce(st, local([{ idempotency_key: "k1", transport_id: 100 }]));
    assert.equal(instructionsOf(st)[0].status, "queued");
    // Sent on reconnection: the agent no longer holds it; the list is asked again and has it.
    st = reduce(st, local([]));
    assert.ok(needs(st).some((n) => n.key === "instructions:100"));
    st = reduce(st, c.ask("instructions", 100)([instr({ id: 9, procedure: "iv_fluids", note: "ルート確保困難", requested_at: at(31) })]));
    assert.deepEqual(instructionsOf(st).map((r) => [r.id, r.status]), [[9, "open"]]);
  });

  it("a queued request the server refused on replay says so", () => {
    const { c, state } = working();
    let st = reduce(state, { type: "ask-queued", key: "k1", transport_id: 100, procedure: "glucose", note: "", at: at(30) });
    st = reduce(st, { type: "local", data: { online: true, queued: 0, requests_pending: [], requests_rejected: [{ idempotency_key: "k1", status: 409, code: "transport_closed" }] }, tick: c.tick() });
    assert.deepEqual(instructionsOf(st).map((r) => [r.status, r.rejected.code]), [["rejected", "transport_closed"]]);
  });

  it("a new transport starts with no request and nothing picked", () => {
    const { c, state } = working();
    let st = run(reduce, state, { type: "ask-pick", procedure: "adrenaline" }, c.event("instruction.requested", instr()));
    st = reduce(st, c.event("unit.updated", unit({ status: "dispatched", current_transport_id: 200 })));
    assert.deepEqual(instructionsOf(st), []);
    assert.equal(st.ask.procedure, null);
  });
});

describe("the relay's analysis on the crew's screen", () => {
  const ja = JSON.parse(readFileSync(new URL("../../ambulance_client/web/static/i18n/ja.json", import.meta.url), "utf-8"));
  const en = JSON.parse(readFileSync(new URL("../../ambulance_client/web/static/i18n/en.json", import.meta.url), "utf-8"));
  const tr = (dict) => (key, vars = {}) => Object.entries(vars).reduce((s, [k, v]) => s.replaceAll(`{${k}}`, String(v)), dict[key] ?? key);
  const analysis = {
    transport_id: 100,
    at: "2026-12-07T01:00:00+00:00",
    ecg: { rhythm: "vf", heart_rate_bpm: null, shockable: true, confidence: 0.77 },
    vitals: { news2: 8, news2_trend: [3, 8], shock_index: 1.174, shock_index_trend: [0.8, 1.17] },
    alerts: [
      { at: "2026-12-07T00:59:50+00:00", reason: "news2_emergency", message: "NEWS2 8", values: { news2: 8, threshold: 7 } },
      { at: "2026-12-07T01:00:00+00:00", reason: "shockable_rhythm", message: "Shockable", values: { rhythm: "vf" } },
      { at: "2026-12-07T01:00:00+00:00", reason: "brand_new", message: "As the relay says", values: {} },
    ],
    label: "decision support",
  };

  it("is shown only while this transport streams and something was analysed", () => {
    const { c, state } = working();
    const local = (over) => ({ online: true, queued: 0, pending: [], stream: { running: true, transport_id: 100, ...over } });
    assert.equal(analysisOf(reduce(state, { type: "local", data: local({}), tick: c.tick() })), null);
    assert.deepEqual(analysisOf(reduce(state, { type: "local", data: local({ analysis }), tick: c.tick() })), analysis);
    assert.equal(analysisOf(reduce(state, { type: "local", data: local({ analysis, transport_id: 7 }), tick: c.tick() })), null);
    assert.equal(analysisOf(reduce(state, { type: "local", data: local({ analysis, running: false }), tick: c.tick() })), null);
  });

  it("says the rhythm as decision support, NEWS2, the shock index and the alerts newest first, in ja and en", () => {
    const e = analysisLines(analysis, tr(en));
    assert.equal(e.rhythm, "ventricular fibrillation · shockable · confidence 77% · decision support, not a diagnosis");
    assert.equal(e.shockable, true);
    assert.equal(e.news2, "NEWS2 8");
    assert.equal(e.shockIndex, "Shock index 1.17");
    assert.deepEqual(e.alerts.map((a) => a.text), ["As the relay says", "Shockable rhythm: ventricular fibrillation", "NEWS2 8: emergency response threshold (7) reached"]);
    const j = analysisLines(analysis, tr(ja));
    assert.equal(j.rhythm, "心室細動 · 電気ショック適応 · 確信度 77% · 判断支援（診断ではありません）");
    assert.equal(j.alerts[1].text, "電気ショック適応の波形：心室細動");
    assert.equal(e.partial, null);
    const pulseless = analysisLines({ ...analysis, vitals: { ...analysis.vitals, news2: 1, news2_missing: ["spo2", "systolic_bp", "pulse"] } }, tr(en));
    assert.equal(pulseless.partial, "NEWS2 is partial: SpO₂, systolic BP, pulse not measured");
    assert.equal(analysisLines({ ...analysis, vitals: { ...analysis.vitals, news2_missing: ["pulse"] } }, tr(ja)).partial, "NEWS2 は一部のみ：脈拍 が未測定");
    const unknown = analysisLines({ ecg: { rhythm: "unknown", shockable: false, confidence: 0.3 }, vitals: null, alerts: [] }, tr(en));
    assert.ok(!unknown.rhythm.includes("shockable"));
    assert.equal(unknown.news2, null);
  });
});
