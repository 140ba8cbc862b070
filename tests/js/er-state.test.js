// The ER dashboard's state: requests arrive and leave live, an accepted patient is
// followed while current (en route, or arrived in the board's hours; not re-routed
// elsewhere), newest first; old patients are neither shown nor asked about, and late
// answers do not bring back what live events removed.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  accepted,
  bedRows,
  hasLiveFeed,
  hospitalOf,
  incoming,
  initialState,
  needs,
  recordFor,
  reduce,
  transportFor,
} from "../../ems/web/static/js/er-state.js";
import { at, clock, hospital, request, run, T0, transport } from "./fixtures.js";

const HOSPITAL = 5;
const NOW = T0 + 10 * 60000;
const names = (list) => list.map((n) => n.key);

/** The board of hospital 5 after its first load: nothing waiting, nobody accepted. */
function loaded() {
  const c = clock();
  const [h, sent, acc, cur] = [c.ask("hospital"), c.ask("requests", "sent"), c.ask("requests", "accepted"), c.ask("transports", "current")];
  const state = run(
    reduce,
    initialState(HOSPITAL),
    h([hospital(), hospital({ id: 6, name: "日南病院" })]),
    sent([]),
    acc([]),
    cur([]),
  );
  return { c, state };
}

/** The board with one accepted patient (transport 100) whose transport and history are loaded. */
function withPatient() {
  const { c, state } = loaded();
  const next = run(
    reduce,
    state,
    c.ask("accept")({ request: request({ status: "accepted", responded_at: at(8) }) }),
    c.ask("transport", 100)(transport({ destination_hospital_id: HOSPITAL, patient_id: 42 })),
    c.ask("record", 100)({ summary: { allergies: [] } }),
  );
  return { c, state: next };
}

describe("incoming requests", () => {
  it("a request.created adds the card, most urgent first; another hospital's is not ours", () => {
    const { c, state } = loaded();
    const next = run(
      reduce,
      state,
      c.event("request.created", request({ id: 1, urgency: "moderate" })),
      c.event("request.created", request({ id: 2, urgency: "critical", transport_id: 101 })),
      c.event("request.created", request({ id: 3, hospital_id: 6, transport_id: 102 })),
    );
    assert.deepEqual(incoming(next).map((r) => r.id), [2, 1]);
    // The request carries the patient at a glance: nothing more to ask.
    assert.deepEqual(needs(next, NOW), []);
  });

  it("a request.cancelled (accepted elsewhere) removes the card", () => {
    const { c, state } = loaded();
    const next = run(
      reduce,
      state,
      c.event("request.created", request()),
      c.event("request.cancelled", { id: 1000, transport_id: 100, reason: "accepted_elsewhere" }),
    );
    assert.deepEqual(incoming(next), []);
  });

  it("a reload that left before the request came does not remove it when it lands", () => {
    const { c, state } = loaded();
    const late = c.ask("requests", "sent");
    const next = run(reduce, state, c.event("request.created", request()), late([]));
    assert.deepEqual(incoming(next).map((r) => r.id), [1000]);
  });

  it("a reload that left before the cancellation does not bring the card back", () => {
    const { c, state } = loaded();
    const created = reduce(state, c.event("request.created", request()));
    const late = c.ask("requests", "sent");
    const next = run(reduce, created, c.event("request.cancelled", { id: 1000, transport_id: 100 }), late([request()]));
    assert.deepEqual(incoming(next), []);
  });

  it("decline in two taps: the reasons open, the answer closes them and the card goes", () => {
    const { c, state } = loaded();
    let next = run(reduce, state, c.event("request.created", request()), { type: "decline-start", id: 1000 });
    assert.equal(next.declining, 1000);
    next = reduce(next, c.ask("decline")({ request: request({ status: "declined", decline_reason: "beds_full" }) }));
    assert.equal(next.declining, null);
    assert.deepEqual(incoming(next), []);
  });
});

describe("accepted patients", () => {
  it("an accept moves the card to the patients, whose transport, then history, are asked", () => {
    const { c, state } = loaded();
    let next = run(
      reduce,
      state,
      c.event("request.created", request()),
      c.ask("accept")({ request: request({ status: "accepted", responded_at: at(8) }) }),
    );
    assert.deepEqual(incoming(next), []);
    assert.deepEqual(accepted(next, NOW).map((r) => r.id), [1000]);
    assert.deepEqual(names(needs(next, NOW)), ["transport:100"]);
    next = reduce(next, c.ask("transport", 100)(transport({ destination_hospital_id: HOSPITAL })));
    assert.deepEqual(names(needs(next, NOW)), ["record:100"]);
  });

  it("last month's accepted patients are not shown, nor is anything asked about them", () => {
    const c = clock();
    const old = (id) => request({ id, transport_id: id, status: "accepted", sent_at: at(-40000), responded_at: at(-40000 + id) });
    const state = run(
      reduce,
      initialState(HOSPITAL),
      c.ask("hospital")([hospital()]),
      c.ask("requests", "sent")([]),
      c.ask("requests", "accepted")([old(1), old(2), request({ id: 3, transport_id: 100, status: "accepted", responded_at: at(8) })]),
      // The server's current list has only the patient of today.
      c.ask("transports", "current")([transport({ destination_hospital_id: HOSPITAL, patient_id: 42 })]),
    );
    assert.deepEqual(accepted(state, NOW).map((r) => r.id), [3]);
    assert.deepEqual(names(needs(state, NOW)), ["record:100"]);
  });

  it("the newest call comes first", () => {
    const { c, state } = loaded();
    const next = run(
      reduce,
      state,
      c.ask("requests", "accepted")([
        request({ id: 1, transport_id: 100, status: "accepted", responded_at: at(8) }),
        request({ id: 2, transport_id: 101, status: "accepted", responded_at: at(9) }),
      ]),
      c.ask("transports", "current")([
        transport({ id: 100, destination_hospital_id: HOSPITAL }),
        transport({ id: 101, destination_hospital_id: HOSPITAL, timeline: [{ kind: "call_received", at: at(3) }] }),
      ]),
    );
    assert.deepEqual(accepted(next, NOW).map((r) => r.id), [2, 1]);
  });

  it("a handed-over patient has no stream nor history asked", () => {
    const { c, state } = loaded();
    const done = ["call_received", "dispatched", "arrived_scene", "patient_contact", "loaded", "departed_scene", "arrived_hospital", "handover"];
    const next = run(
      reduce,
      state,
      c.ask("requests", "accepted")([request({ status: "accepted", responded_at: at(8) })]),
      c.ask("transports", "current")([transport({ destination_hospital_id: HOSPITAL, status: "completed", done })]),
    );
    assert.equal(accepted(next, NOW).length, 1);
    assert.equal(hasLiveFeed(next, 100), false);
    assert.deepEqual(needs(next, NOW), []);
  });

  it("a colleague's accept (seen as the transport coming here) asks the lists again", () => {
    const { c, state } = loaded();
    const next = run(
      reduce,
      state,
      c.event("request.created", request()),
      c.event("transport.updated", transport({ destination_hospital_id: HOSPITAL })),
    );
    assert.deepEqual(names(needs(next, NOW)), ["requests:sent", "requests:accepted"]);
    const moved = run(
      reduce,
      next,
      c.ask("requests", "sent")([]),
      c.ask("requests", "accepted")([request({ status: "accepted", responded_at: at(8) })]),
    );
    assert.deepEqual(incoming(moved), []);
    assert.deepEqual(accepted(moved, NOW).map((r) => r.id), [1000]);
  });

  it("a transport.updated moves the timeline on from its payload", () => {
    const { c, state } = withPatient();
    const next = reduce(
      state,
      c.event("transport.updated", transport({ destination_hospital_id: HOSPITAL, done: ["call_received", "dispatched", "arrived_scene"] })),
    );
    assert.equal(transportFor(next, 100).timeline[2].at, at(2));
    assert.deepEqual(needs(next, NOW), []);
  });

  it("a transport.updated after a re-route removes the card from the old hospital's board", () => {
    const { c, state } = withPatient();
    assert.equal(accepted(state, NOW).length, 1);
    const next = reduce(state, c.event("transport.updated", transport({ destination_hospital_id: 6, patient_id: 42 })));
    assert.deepEqual(accepted(next, NOW), []);
    // Nor is the patient's history kept, or asked for again.
    assert.equal(recordFor(next, 100), null);
    assert.deepEqual(needs(next, NOW), []);
  });

  it("an arrived patient stays for the board's hours, then leaves it", () => {
    const { c, state } = withPatient();
    const done = ["call_received", "dispatched", "arrived_scene", "patient_contact", "loaded", "departed_scene", "arrived_hospital", "handover"];
    const next = reduce(state, c.event("transport.updated", transport({ destination_hospital_id: HOSPITAL, status: "completed", done })));
    const arrival = Date.parse(at(6));
    assert.equal(accepted(next, arrival + 5.9 * 3600000).length, 1);
    assert.equal(accepted(next, arrival + 6.1 * 3600000).length, 0);
    const longer = { ...next, hours: 12 };
    assert.equal(accepted(longer, arrival + 6.1 * 3600000).length, 1);
  });

  it("a history not found yet is asked again once the transport moves", () => {
    const { c, state } = loaded();
    let next = run(
      reduce,
      state,
      c.ask("accept")({ request: request({ status: "accepted" }) }),
      c.ask("transport", 100)(transport({ destination_hospital_id: HOSPITAL })),
    );
    const record = c.ask("record", 100);
    next = reduce(next, { ...record(null), type: "failed", error: { status: 404, code: "no_record" } });
    assert.equal(recordFor(next, 100).error.status, 404);
    assert.deepEqual(needs(next, NOW), []); // no asking in a loop
    next = reduce(next, c.event("transport.updated", transport({ destination_hospital_id: HOSPITAL, patient_id: 42 })));
    assert.deepEqual(names(needs(next, NOW)), ["record:100"]);
  });
});

describe("bed availability", () => {
  it("another hospital's update is not ours; ours replaces the figures", () => {
    const { c, state } = loaded();
    const other = reduce(state, c.event("hospital.updated", hospital({ id: 6, diversion: "closed_to_ambulances" })));
    assert.equal(other, state);
    const ours = reduce(state, c.event("hospital.updated", hospital({ diversion: "category_diversion" })));
    assert.equal(hospitalOf(ours).diversion, "category_diversion");
  });

  it("keeps the staff's unsaved edits through a live update, and drops them once saved", () => {
    const { c, state } = loaded();
    let next = run(reduce, state, { type: "edit-bed", category: "icu", value: 2 }, c.event("hospital.updated", hospital()));
    assert.deepEqual(bedRows(next, NOW).map((b) => [b.category, b.value]), [
      ["general", 5],
      ["icu", 2],
    ]);
    next = reduce(next, c.ask("availability")(hospital({ beds: [{ category: "icu", available: 2, capacity: 8, expires_at: at(70) }] })));
    assert.deepEqual(next.edits, {});
    assert.equal(bedRows(next, NOW)[0].value, 2);
  });

  it("marks expired figures", () => {
    const { state } = loaded();
    assert.ok(bedRows(state, T0 + 61 * 60000).every((b) => b.expired));
    assert.ok(bedRows(state, NOW).every((b) => !b.expired));
  });
});
