// The shared pure helpers: tables that keep the newest write, the book of answers,
// FDMA steps and the availability colour of a hospital.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  answered,
  availabilityClass,
  doubt,
  drop,
  emptyTable,
  errorMessage,
  isCurrentTransport,
  isLive,
  nextStep,
  put,
  replaceAll,
  rowsOf,
  stepTime,
  urgencyRank,
  wanted,
  whenText,
} from "../../ems/web/static/js/domain.js";
import { at, hospital, T0, transport, unit } from "./fixtures.js";

describe("tables", () => {
  it("keep the newer of two writes of a record, whatever order they land in", () => {
    const older = unit({ status: "available" });
    const newer = unit({ status: "dispatched" });
    const inOrder = put(put(emptyTable(), older, 1), newer, 2);
    const late = put(put(emptyTable(), newer, 2), older, 1);
    assert.equal(inOrder.rows[10].status, "dispatched");
    assert.equal(late.rows[10].status, "dispatched");
  });

  it("do not let an older answer bring back a removed record", () => {
    const removed = drop(put(emptyTable(), unit(), 1), 10, 3);
    assert.deepEqual(rowsOf(replaceAll(removed, [unit()], 2)), []);
    // An answer asked for after the removal may.
    assert.equal(rowsOf(replaceAll(removed, [unit()], 4)).length, 1);
  });

  it("remove what a complete answer lacks, within its scope only", () => {
    let table = put(emptyTable(), { id: 1, transport_id: 7 }, 1);
    table = put(table, { id: 2, transport_id: 8 }, 1);
    const after = replaceAll(table, [], 2, (r) => r.transport_id === 7);
    assert.deepEqual(rowsOf(after).map((r) => r.id), [2]);
  });

  it("keep a record written after the answer was asked for, though the answer lacks it", () => {
    const table = put(emptyTable(), { id: 1 }, 5);
    assert.equal(rowsOf(replaceAll(table, [], 4)).length, 1);
  });

  it("return the same table when nothing changes, so that drawings can be skipped", () => {
    const table = put(emptyTable(), unit(), 5);
    assert.equal(put(table, unit({ status: "on_scene" }), 4), table);
  });
});

describe("the book of answers", () => {
  it("wants what was never answered, and what an event put in doubt since", () => {
    let book = {};
    assert.ok(wanted(book, "units"));
    book = answered(book, "units", 3);
    assert.ok(!wanted(book, "units"));
    book = doubt(book, 4, ["units"]);
    assert.ok(wanted(book, "units"));
    // An answer asked for before the doubt does not settle it.
    assert.ok(wanted(answered(book, "units", 3.5), "units"));
    assert.ok(!wanted(answered(book, "units", 5), "units"));
  });

  it("doubts everything on a reconnection", () => {
    const book = doubt(answered(answered({}, "a", 1), "b", 2), 3);
    assert.ok(wanted(book, "a") && wanted(book, "b"));
  });
});

describe("FDMA steps", () => {
  it("read a step's time and find the next one", () => {
    const tr = transport({ done: ["call_received", "dispatched", "arrived_scene"] });
    assert.equal(stepTime(tr, "arrived_scene"), at(2));
    assert.equal(stepTime(tr, "loaded"), null);
    assert.equal(nextStep(tr), "patient_contact");
  });

  it("order urgencies most urgent first, unknown ones last", () => {
    assert.ok(urgencyRank("critical") < urgencyRank("minor"));
    assert.ok(urgencyRank("minor") < urgencyRank("unheard_of"));
  });
});

describe("hospital availability on the map", () => {
  const now = T0 + 5 * 60000;
  it("is ok with beds, low with one or two, full with none or when closed", () => {
    assert.equal(availabilityClass(hospital(), now), "ok");
    const two = hospital({ beds: [{ category: "icu", available: 2, expires_at: at(60) }] });
    assert.equal(availabilityClass(two, now), "low");
    assert.equal(availabilityClass(hospital({ diversion: "closed_to_ambulances" }), now), "full");
  });

  it("is stale once every figure has expired", () => {
    assert.equal(availabilityClass(hospital(), T0 + 61 * 60000), "stale");
  });
});

describe("words for the user", () => {
  const dict = {
    "error.login_rate_limited": "ログインの試行回数が多すぎます。",
    "error.status_4xx": "受け付けられませんでした。",
    "error.status_5xx": "サーバーで問題が発生しました。",
    "error.status_network": "接続できません。",
    "error.generic": "エラー",
  };
  const tr = (key) => dict[key] ?? key;

  it("an error reads as its code's sentence, else its status's, never the code", () => {
    assert.equal(errorMessage({ code: "login_rate_limited", status: 429 }, tr), "ログインの試行回数が多すぎます。");
    assert.equal(errorMessage({ code: "brand_new_code", status: 409 }, tr), "受け付けられませんでした。");
    assert.equal(errorMessage({ code: "brand_new_code", status: 503 }, tr), "サーバーで問題が発生しました。");
    assert.equal(errorMessage({ code: "network_error", status: 0 }, tr), "接続できません。");
    assert.equal(errorMessage({}, tr), "エラー");
    assert.equal(errorMessage({ code: "x" }, (k) => k), "Something went wrong. Please try again.");
  });

  it("a time carries its date when it is not today's", () => {
    const now = new Date(2026, 4, 12, 15, 0).getTime();
    assert.equal(whenText(new Date(2026, 4, 12, 9, 5).toISOString(), now, "en"), "09:05");
    assert.match(whenText(new Date(2026, 4, 1, 9, 5).toISOString(), now, "ja"), /^5\/1 09:05$/);
    assert.match(whenText(new Date(2026, 4, 1, 9, 5).toISOString(), now, "en"), /^1 May 09:05$/);
    assert.match(whenText(new Date(2025, 11, 30, 9, 5).toISOString(), now, "ja"), /2025/);
    assert.equal(whenText(null, now, "ja"), "—");
  });

  it("a current patient: en route, or arrived within the hours; never cancelled", () => {
    const now = T0 + 3 * 3600000;
    assert.equal(isCurrentTransport(transport(), now, 6), true);
    assert.equal(isCurrentTransport(transport(), T0 + 7 * 3600000, 6), false);
    const arrived = transport({ done: ["call_received", "dispatched", "arrived_hospital"] });
    assert.equal(isCurrentTransport(arrived, Date.parse(at(6)) + 5 * 3600000, 6), true);
    assert.equal(isCurrentTransport(transport({ status: "cancelled" }), now, 6), false);
    assert.equal(isLive(transport()), true);
    assert.equal(isLive(transport({ status: "completed" })), false);
    assert.equal(isLive(transport({ done: ["call_received", "handover"] })), false);
  });
});
