// The move-up panel's pure part: lines as the dispatcher reads them, and a refresh only
// when idle units or their posts change (not on every position fix).
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { applyBody, pct, suggestionRows, unitsSignature } from "../../ems/web/static/js/moveup-state.js";

const READ = {
  basis: "abc123",
  suggestions: [
    {
      unit_id: 3,
      call_sign: "みどり救急3",
      from_station_id: 1,
      from_station_name: "中央消防署",
      to_station_id: 4,
      to_station_name: "智頭出張所",
      drive_s: 1250,
      before: { covered: 0.8213, expected: 0.7 },
      after: { covered: 0.8791, expected: 0.75 },
    },
    {
      unit_id: 5,
      call_sign: "みどり救急5",
      from_station_id: 1,
      from_station_name: "中央消防署",
      to_station_id: 2,
      to_station_name: "岩美出張所",
      drive_s: null,
      before: { covered: 0.8213, expected: 0.7 },
      after: { covered: 0.8213, expected: 0.72 },
    },
  ],
};

describe("move-up rows", () => {
  it("reads as unit → station with coverage before and after, in whole percent", () => {
    const [first, second] = suggestionRows(READ);
    assert.equal(first.callSign, "みどり救急3");
    assert.equal(first.stationName, "智頭出張所");
    assert.deepEqual([first.before, first.after], [82, 88]);
    assert.equal(first.coveredMoves, true);
    assert.equal(first.driveMin, 21);
    // Double cover: the covered share stays, the expected one rises.
    assert.equal(second.coveredMoves, false);
    assert.deepEqual([second.expectedBefore, second.expectedAfter], [70, 72]);
    assert.equal(second.driveMin, null);
  });

  it("applies one row with the basis the list was made on", () => {
    const [first] = suggestionRows(READ);
    assert.deepEqual(applyBody(READ, first), { unit_id: 3, station_id: 4, basis: "abc123" });
  });

  it("has nothing to show for no answer or an error", () => {
    assert.deepEqual(suggestionRows(null), []);
    assert.deepEqual(suggestionRows({ error: new Error("403") }), []);
    assert.equal(pct(undefined), 0);
  });
});

describe("when to ask again", () => {
  const units = [
    { id: 2, status: "available", lat: 35.1, lon: 134.2, post_station_id: null },
    { id: 1, status: "dispatched", lat: 35.2, lon: 134.3, post_station_id: null },
  ];
  it("ignores position fixes and order", () => {
    const moved = [{ ...units[1], lat: 35.3 }, { ...units[0], lon: 134.25 }];
    assert.equal(unitsSignature(moved), unitsSignature(units));
  });
  it("changes with a status or a post", () => {
    assert.notEqual(unitsSignature([{ ...units[0], status: "dispatched" }, units[1]]), unitsSignature(units));
    assert.notEqual(unitsSignature([{ ...units[0], post_station_id: 4 }, units[1]]), unitsSignature(units));
  });
});
