// The tablet's view of an early round (ask ahead): offered while the crew has not said.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { earlyRound } from "../../ambulance_client/web/static/js/ask-ahead-state.js";

const tr = { id: 7, status: "active", arrived_hospital_at: null };
const req = (id, over = {}) => ({ id, transport_id: 7, hospital_id: id, status: "sent", early: true, early_outcome: null, ...over });

describe("earlyRound", () => {
  it("is absent without early requests", () => {
    assert.equal(earlyRound([], tr), null);
    assert.equal(earlyRound([req(1, { early: false })], tr), null);
    assert.equal(earlyRound([req(1, { transport_id: 8 })], tr), null);
  });

  it("offers confirm and withdraw until the crew has said", () => {
    const round = earlyRound([req(1), req(2, { status: "declined" })], tr);
    assert.equal(round.open, 1);
    assert.equal(round.canConfirm, true);
    assert.equal(round.canWithdraw, true);
    const settled = earlyRound([req(1, { early_outcome: "confirmed" })], tr);
    assert.equal(settled.outcome, "confirmed");
    assert.equal(settled.canConfirm || settled.canWithdraw, false);
  });

  it("knows the accepted hospital, and withdraws nothing once at a hospital", () => {
    const round = earlyRound([req(1, { status: "accepted" })], { ...tr, arrived_hospital_at: "2026-12-07T01:00:00Z" });
    assert.equal(round.accepted.id, 1);
    assert.equal(round.canConfirm, true);
    assert.equal(round.canWithdraw, false);
    assert.equal(earlyRound([req(1)], { ...tr, status: "completed" }).canConfirm, false);
  });
});
