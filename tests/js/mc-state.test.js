// The MC doctor's console: open requests newest first with an alert until looked at,
// escalations sound again, the request on screen and what is fetched for it, the
// vitals trend read page by page, and the answer that lost to another doctor's.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  alertsBetween,
  answerPanel,
  clockText,
  history,
  initialState,
  needs,
  openRequests,
  reduce,
  selectedRequest,
  unseen,
  VITALS_PAGE,
  vitalsTrend,
  waitingSeconds,
} from "../../ems/web/static/js/mc-state.js";

const T0 = Date.parse("2026-06-01T03:00:00Z");
const iso = (s) => new Date(T0 + s * 1000).toISOString();

function req(over = {}) {
  return {
    id: 1,
    transport_id: 100,
    unit_id: 10,
    unit_call_sign: "八頭救急1",
    procedure: "adrenaline",
    note: "VF 継続",
    status: "open",
    requested_at: iso(0),
    requested_by_name: "隊員A",
    escalated_at: null,
    answered_at: null,
    answered_by_name: "",
    decision: null,
    detail: "",
    answer_s: null,
    ...over,
  };
}

let tick = 0;
const answer = (what, data, id) => ({ type: "answer", what, id, data, asOf: ++tick });
const event = (name, data) => ({ type: "event", name, data, tick: ++tick });
const run = (state, ...actions) => actions.reduce(reduce, state);

function loaded(open = [req()], done = []) {
  return run(initialState(), answer("open", open), answer("answered", done));
}

describe("the requests", () => {
  it("lists the open ones newest first, and the shift's answers by their answer's time", () => {
    const st = loaded(
      [req({ id: 1, requested_at: iso(0) }), req({ id: 2, requested_at: iso(30) })],
      [
        req({ id: 3, status: "answered", answered_at: iso(-100), decision: "declined" }),
        req({ id: 4, status: "answered", answered_at: iso(-10), decision: "instructed" }),
      ],
    );
    assert.deepEqual(openRequests(st).map((r) => r.id), [2, 1]);
    assert.deepEqual(history(st).map((r) => r.id), [4, 3]);
  });

  it("a new request arrives by event, on top, and sounds; an escalation sounds again", () => {
    const before = loaded();
    const after = reduce(before, event("instruction.requested", req({ id: 2, requested_at: iso(60) })));
    assert.deepEqual(openRequests(after).map((r) => r.id), [2, 1]);
    assert.deepEqual(alertsBetween(before, after), [2]);
    const escalated = reduce(after, event("instruction.escalated", req({ id: 1, escalated_at: iso(61) })));
    assert.deepEqual(alertsBetween(after, escalated), [1]);
    assert.equal(openRequests(escalated).find((r) => r.id === 1).escalated_at, iso(61));
    // Nothing new: silence.
    assert.deepEqual(alertsBetween(escalated, reduce(escalated, { type: "select", id: 1 })), []);
  });

  it("stays flagged as new until the doctor opens it", () => {
    const st = loaded([req({ id: 1 }), req({ id: 2, requested_at: iso(5) })]);
    assert.deepEqual(unseen(st).map((r) => r.id), [2, 1]);
    // Shown by default (the newest), but not yet looked at.
    assert.equal(selectedRequest(st).id, 2);
    const opened = reduce(st, { type: "select", id: 1 });
    assert.equal(selectedRequest(opened).id, 1);
    assert.deepEqual(unseen(opened).map((r) => r.id), [2]);
  });

  it("answered by someone else leaves the open list", () => {
    const st = reduce(reduce(loaded(), { type: "select", id: 1 }), event("instruction.answered", req({ status: "answered", answered_at: iso(40), decision: "instructed", answered_by_name: "Dr B" })));
    assert.deepEqual(openRequests(st), []);
    assert.deepEqual(history(st).map((r) => r.id), [1]);
    assert.equal(answerPanel(st, selectedRequest(st)).mode, "lost");
  });

  it("counts the waiting time up to now, or up to the answer", () => {
    assert.equal(waitingSeconds(req(), T0 + 42_500), 42);
    assert.equal(waitingSeconds(req({ answered_at: iso(75) }), T0 + 999_000), 75);
    assert.equal(clockText(42), "0:42");
    assert.equal(clockText(725), "12:05");
    assert.equal(clockText(3723), "1:02:03");
  });
});

describe("what the page asks for the request on screen", () => {
  it("the lists first, then its transport, call, record and vitals", () => {
    assert.deepEqual(needs(initialState()).map((n) => n.key), ["open", "answered"]);
    let st = loaded();
    assert.deepEqual(needs(st).map((n) => n.key), ["transport:100", "record:100", "vitals:100"]);
    st = reduce(st, answer("transport", { id: 100, incident_id: 7, status: "active" }, 100));
    assert.deepEqual(needs(st).map((n) => n.key), ["incident:7", "record:100", "vitals:100"]);
    assert.deepEqual(needs(st).find((n) => n.what === "vitals").params, { after_seq: 0 });
  });

  it("reads the vitals page by page, keeps the trend and asks only for what is newer", () => {
    const rows = (from, n) => Array.from({ length: n }, (_, i) => ({ seq: from + i, measured_at: iso(from + i), hr: 100 + ((from + i) % 7), spo2: 95, bp_sys: null }));
    let st = reduce(loaded(), answer("vitals", { transport_id: 100, vitals: rows(1, VITALS_PAGE) }, 100));
    // A full page: the next one is asked, after the last reading.
    assert.deepEqual(needs(st).find((n) => n.what === "vitals").params, { after_seq: VITALS_PAGE });
    st = reduce(st, answer("vitals", { transport_id: 100, vitals: rows(VITALS_PAGE + 1, 3) }, 100));
    assert.equal(needs(st).find((n) => n.what === "vitals"), undefined);
    const trend = vitalsTrend(st, 100);
    assert.equal(trend.hr.latest, 100 + ((VITALS_PAGE + 3) % 7));
    assert.equal(trend.spo2.delta, 0);
    assert.equal(trend.bp_sys.latest, null);
    assert.ok(trend.hr.points.length <= 240);
  });

  it("a record that is not there yet is said so, not retried in a loop", () => {
    const st = reduce(loaded(), { type: "failed", what: "record", id: 100, error: { status: 404, code: "record_not_found" }, asOf: ++tick });
    assert.equal(st.records[100].error.status, 404);
    assert.ok(!needs(st).some((n) => n.what === "record"));
  });
});

describe("the answer", () => {
  it("one on its way disables the buttons; the server's answer keeps the request on screen", () => {
    let st = reduce(loaded(), { type: "sending", id: 1 });
    assert.deepEqual(answerPanel(st, selectedRequest(st)), { mode: "open", sending: true, error: null });
    st = reduce(st, answer("decision", req({ status: "answered", decision: "instructed", detail: "1mg IV", answered_at: iso(50) })));
    // No other open request: the answered one stays shown once chosen.
    st = reduce(st, { type: "select", id: 1 });
    assert.equal(answerPanel(st, selectedRequest(st)).mode, "answered");
    assert.equal(st.sending, null);
  });

  it("409 instruction_answered says another doctor answered, and reads the lists again", () => {
    let st = reduce(loaded(), { type: "sending", id: 1 });
    st = reduce(st, { type: "answer-failed", id: 1, error: { status: 409, code: "instruction_answered" }, tick: ++tick });
    assert.equal(answerPanel(st, selectedRequest(st)).mode, "lost");
    assert.deepEqual(needs(st).map((n) => n.key).slice(0, 2), ["open", "answered"]);
  });

  it("any other failure leaves the buttons to try again, with the error", () => {
    let st = reduce(loaded(), { type: "sending", id: 1 });
    st = reduce(st, { type: "answer-failed", id: 1, error: { status: 0, code: "network_error" }, tick: ++tick });
    const panel = answerPanel(st, selectedRequest(st));
    assert.equal(panel.mode, "open");
    assert.equal(panel.sending, false);
    assert.equal(panel.error.code, "network_error");
  });
});
