// The dispatcher console's state: live events update it from their payloads, answers
// that come back late do not undo newer state, and the page asks only for what an
// event put in doubt.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  alertFor,
  chosenFor,
  destinationAlerts,
  initialState,
  needs,
  pickerOptions,
  queue,
  reduce,
  requestsOf,
  selected,
  transportOf,
  unitBoard,
  unitsSummary,
} from "../../ems/web/static/js/dispatch-state.js";
import { rowOf } from "../../ems/web/static/js/domain.js";
import { clock, hospital, incident, request, run, transport, unit } from "./fixtures.js";

/** The console after its first load: one pending call, two units, one hospital. */
function loaded() {
  const c = clock();
  const asks = ["hospitals", "transports", "incidents", "units", "stats"].map((w) => c.ask(w));
  const state = run(
    reduce,
    initialState(),
    asks[0]([hospital()]),
    asks[1]([]),
    asks[2]([incident(), incident({ id: 2, urgency: "critical", status: "closed" })]),
    asks[3]([unit(), unit({ id: 11, call_sign: "みどり救急2", status: "out_of_service" })]),
    asks[4]({ completed: 0, intervals: [] }),
  );
  return { c, state };
}

const names = (list) => list.map((n) => n.key);

/** The console with call 1 assigned (transport 100, unit 10), looked at. */
function assigned() {
  const { c, state } = loaded();
  const next = run(
    reduce,
    state,
    c.event("incident.updated", incident({ status: "assigned", transport_id: 100 })),
    c.event("transport.updated", transport()),
    { type: "select", id: 1 },
  );
  return { c, state: next };
}

describe("the first load", () => {
  it("asks the lists, then nothing more until something is selected", () => {
    assert.deepEqual(names(needs(initialState())), ["hospitals", "transports", "incidents", "units", "stats"]);
    const { state } = loaded();
    assert.deepEqual(needs(state), []);
    const picked = reduce(state, { type: "select", id: 1 });
    assert.deepEqual(names(needs(picked)), ["unitRecs:1"]);
  });
});

describe("live events", () => {
  it("an incident.created adds the call to the queue without asking for the list", () => {
    const { c, state } = loaded();
    const next = reduce(state, c.event("incident.created", incident({ id: 3, urgency: "critical" })));
    assert.deepEqual(queue(next).map((i) => i.id), [3, 1]); // pending, most urgent first
    assert.deepEqual(needs(next), []);
  });

  it("an assignment (incident, unit and transport events) moves the call and the unit", () => {
    const { c, state } = loaded();
    const next = run(
      reduce,
      state,
      c.event("incident.updated", incident({ status: "assigned", transport_id: 100 })),
      c.event("unit.updated", unit({ status: "dispatched", current_transport_id: 100 })),
      c.event("transport.updated", { ...transport(), transport_id: 100 }),
    );
    const inc = rowOf(next.incidents, 1);
    assert.equal(transportOf(next, inc).id, 100);
    const board = unitBoard(next);
    assert.equal(board[0].unit.status, "dispatched"); // busy units first
    assert.equal(board[0].incident.id, 1);
    assert.deepEqual(unitsSummary(next), { available: 0, busy: 1, total: 2 });
    // Today's figures follow the transports.
    assert.deepEqual(names(needs(next)), ["stats"]);
  });

  it("a finished transport leaves the board of active transports", () => {
    const { c, state } = loaded();
    const next = run(
      reduce,
      state,
      c.event("transport.updated", transport()),
      c.event("transport.updated", transport({ status: "completed" })),
    );
    assert.equal(rowOf(next.transports, 100), undefined);
  });

  it("an accept cancels the transport's other open requests with it", () => {
    const { c, state } = loaded();
    const next = run(
      reduce,
      state,
      c.ask("requests", 100)([request(), request({ id: 1001, hospital_id: 6 })]),
      c.event("request.accepted", request({ status: "accepted", responded_at: "2026-05-01T10:08:00Z" })),
    );
    assert.deepEqual(
      requestsOf(next, 100).map((r) => [r.id, r.status]),
      [
        [1000, "accepted"],
        [1001, "cancelled"],
      ],
    );
  });

  it("a new round names its requests by id: the transport's requests are asked again", () => {
    const { c, state } = assigned();
    let next = run(
      reduce,
      state,
      c.ask("hospitalRecs", 100)({ hospitals: [], suggested: [] }),
      c.ask("requests", 100)([]),
      c.ask("stats")({}),
    );
    assert.deepEqual(needs(next), []);
    next = reduce(next, c.event("request.round", { transport_id: 100, round: 2, requests: [1002] }));
    assert.deepEqual(names(needs(next)), ["hospitalRecs:100", "requests:100"]);
  });

  it("once a hospital has accepted, no recommendations are asked: nobody is left to ask", () => {
    const { c, state } = assigned();
    assert.ok(names(needs(state)).includes("hospitalRecs:100"));
    const next = reduce(state, c.event("transport.updated", transport({ destination_hospital_id: 5 })));
    assert.ok(!names(needs(next)).includes("hospitalRecs:100"));
    assert.ok(names(needs(next)).includes("requests:100"));
  });

  it("a reconnection asks everything again", () => {
    const { c, state } = loaded();
    const next = reduce(state, { type: "resync", tick: c.tick() });
    assert.deepEqual(names(needs(next)), ["hospitals", "transports", "incidents", "units", "stats"]);
  });
});

describe("out-of-order answers", () => {
  it("a list asked for before an event does not undo it", () => {
    const { c, state } = loaded();
    const late = c.ask("units"); // a reload leaves...
    const next = run(
      reduce,
      state,
      c.event("unit.updated", unit({ status: "dispatched", current_transport_id: 100 })), // ...an event overtakes it...
      late([unit(), unit({ id: 11, call_sign: "みどり救急2", status: "out_of_service" })]), // ...and it lands.
    );
    assert.equal(rowOf(next.units, 10).status, "dispatched");
  });

  it("of two reloads, the older one landing last changes nothing", () => {
    const { c, state } = loaded();
    const first = c.ask("incidents");
    const second = c.ask("incidents");
    const next = run(reduce, state, second([incident({ status: "assigned" })]), first([incident()]));
    assert.equal(rowOf(next.incidents, 1).status, "assigned");
  });

  it("recommendations for a state that has moved on do not replace newer ones", () => {
    const { c, state } = loaded();
    const older = c.ask("unitRecs", 1);
    const newer = c.ask("unitRecs", 1);
    const next = run(
      reduce,
      state,
      newer([{ unit_id: 11, call_sign: "みどり救急2", eta_s: 300, reasons: [] }]),
      older([{ unit_id: 10, call_sign: "みどり救急1", eta_s: 200, reasons: [] }]),
    );
    assert.equal(next.unitRecs[1].items[0].unit_id, 11);
  });
});

describe("the hospitals ticked for a round", () => {
  it("start from the server's suggestion and then follow the dispatcher", () => {
    const { c, state } = loaded();
    let next = reduce(
      state,
      c.ask("hospitalRecs", 100)({
        hospitals: [{ hospital_id: 5 }, { hospital_id: 6 }, { hospital_id: 7 }, { hospital_id: 8 }],
        suggested: [5, 6],
      }),
    );
    assert.deepEqual(chosenFor(next, 100), [5, 6]);
    next = reduce(next, { type: "choose", transportId: 100, hospitalId: 8, on: true });
    next = reduce(next, { type: "choose", transportId: 100, hospitalId: 5, on: false });
    assert.deepEqual(chosenFor(next, 100), [6, 8]);
  });
});

describe("the queue", () => {
  it("hides closed calls unless asked for all of them", () => {
    const { state } = loaded();
    assert.deepEqual(queue(state).map((i) => i.id), [1]);
    assert.deepEqual(queue(reduce(state, { type: "filter", filter: "all" })).map((i) => i.id), [1, 2]);
  });

  it("knows the selected call", () => {
    const { state } = loaded();
    assert.equal(selected(reduce(state, { type: "select", id: 1 })).chief_complaint, "胸痛、冷汗");
  });
});

describe("no dead ends: a transport no hospital is left to ask for", () => {
  const needed = { transport_id: 100, incident_id: 1, unit_id: 10, unit_call_sign: "みどり救急1", declined: [5] };

  it("the event raises an alert naming the incident, and asks the transport's requests again", () => {
    const { c, state } = assigned();
    const next = reduce(state, c.event("transport.destination_needed", needed));
    const [alert] = destinationAlerts(next);
    assert.equal(alert.incident_id, 1);
    assert.equal(alert.incident.chief_complaint, "胸痛、冷汗");
    assert.equal(alert.unit_call_sign, "みどり救急1");
    assert.ok(names(needs(next)).includes("requests:100"));
  });

  it("a console opened later learns it from the recommendations", () => {
    const { c, state } = assigned();
    const next = reduce(state, c.ask("hospitalRecs", 100)({ destination_needed: true, hospitals: [], suggested: [] }));
    assert.equal(alertFor(next, 100).incident_id, 1);
  });

  it("the picker asks every open hospital, recommended first, then by ETA", () => {
    const { c, state } = assigned();
    let next = run(reduce, state, c.event("transport.destination_needed", needed), { type: "pick-open", transportId: 100, tick: c.tick() });
    assert.ok(names(needs(next)).includes("allHospitals:100"));
    assert.equal(pickerOptions(next, 100), null);
    next = reduce(
      next,
      c.ask("allHospitals", 100)({
        hospitals: [
          { hospital_id: 7, name: "遠い病院", eta_s: 1500, eta_min: 25, recommended: false },
          { hospital_id: 6, name: "近い病院", eta_s: 400, eta_min: 7, recommended: false },
          { hospital_id: 5, name: "推奨病院", eta_s: 900, eta_min: 15, recommended: true },
        ],
      }),
    );
    assert.deepEqual(pickerOptions(next, 100).items.map((h) => h.hospital_id), [5, 6, 7]);
    assert.deepEqual(names(needs(next)).filter((k) => k.startsWith("allHospitals")), []);
  });

  it("a destination set (here or by the crew) ends the alert and closes the picker", () => {
    const { c, state } = assigned();
    let next = run(reduce, state, c.event("transport.destination_needed", needed), { type: "pick-open", transportId: 100, tick: c.tick() });
    next = reduce(next, c.ask("transport")(transport({ destination_hospital_id: 6 })));
    assert.deepEqual(destinationAlerts(next), []);
    assert.equal(next.picking, null);
    // A call cancelled ends it too.
    next = run(reduce, next, c.event("transport.destination_needed", needed), c.event("incident.updated", incident({ status: "cancelled" })));
    assert.deepEqual(destinationAlerts(next), []);
  });
});
