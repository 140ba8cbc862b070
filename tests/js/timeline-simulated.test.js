// One transport's FDMA timeline on the dispatcher's console and the ER board: under each
// step, the minutes since the step before at life pace; a transport the demo's fast mode
// ran ten times faster than life shows its intervals scaled back (as the server sends
// them) and says so, with its speed, in Japanese and in English.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";

import { intervalText, simulatedSpeed, simulatedText, timelineRows } from "../../ems/web/static/js/domain.js";
import { at, transport } from "./fixtures.js";

const dictionary = (lang) => JSON.parse(readFileSync(new URL(`../../ems/web/static/i18n/${lang}.json`, import.meta.url), "utf-8"));
const ja = dictionary("ja");
const en = dictionary("en");
const tr = (dict) => (key, vars = {}) => Object.entries(vars).reduce((s, [k, v]) => s.replaceAll(`{${k}}`, String(v)), dict[key] ?? key);

const DONE = ["call_received", "dispatched", "arrived_scene", "patient_contact"];

/** The intervals as the server reads them: on the clock, and at life pace. */
function intervals(clock, speed = 1) {
  return [
    ["call_received", "dispatched"],
    ["dispatched", "arrived_scene"],
    ["arrived_scene", "patient_contact"],
    ["patient_contact", "loaded"],
  ].map(([start, end], i) => ({ start, end, seconds: clock[i] ?? null, life_seconds: clock[i] === undefined ? null : clock[i] * speed }));
}

// The same run at life pace, and at ×10: six seconds to dispatch, a 42-second drive, 12 s to the patient.
const life = transport({ done: DONE, intervals: intervals([60, 420, 120]), simulated_speed: null });
const fast = transport({ done: DONE, intervals: intervals([6, 42, 12], 10), simulated_speed: 10 });

describe("one transport's timeline", () => {
  it("shows the minutes of each step since the one before, none for the first and the steps to come", () => {
    const rows = timelineRows(life);
    assert.deepEqual(
      rows.map((r) => [r.kind, r.state, r.minutes]),
      [
        ["call_received", "done", null],
        ["dispatched", "done", 1],
        ["arrived_scene", "done", 7],
        ["patient_contact", "done", 2],
        ["loaded", "next", null],
        ["departed_scene", "todo", null],
        ["arrived_hospital", "todo", null],
        ["handover", "todo", null],
      ],
    );
    assert.equal(rows[2].at, at(2));
  });

  it("shows a fast-mode run at life pace: a 42-second drive reads as the 7 minutes it stands for", () => {
    assert.deepEqual(
      timelineRows(fast).map((r) => r.minutes),
      timelineRows(life).map((r) => r.minutes),
    );
    assert.equal(intervalText(timelineRows(fast)[2].minutes, tr(ja)), "+7.0 分");
    assert.equal(intervalText(timelineRows(fast)[2].minutes, tr(en)), "+7.0 min");
    assert.equal(intervalText(timelineRows(fast)[0].minutes, tr(en)), "");
  });

  it("marks a fast-mode run as simulated with its speed, and a life-pace one not at all", () => {
    assert.equal(simulatedSpeed(fast), 10);
    assert.equal(simulatedText(simulatedSpeed(fast), tr(ja)), "模擬・高速 ×10（間隔は実時間に換算）");
    assert.equal(simulatedText(simulatedSpeed(fast), tr(en)), "Simulated at ×10: intervals scaled to real minutes");
    assert.equal(simulatedSpeed(life), null);
    assert.equal(simulatedText(simulatedSpeed(life), tr(ja)), "");
    // A transport read before the server said its speed, or at life pace.
    assert.equal(simulatedSpeed(transport()), null);
    assert.equal(simulatedSpeed({ ...fast, simulated_speed: 1 }), null);
    assert.equal(simulatedText(simulatedSpeed({ ...fast, simulated_speed: 2.5 }), tr(en)), "Simulated at ×2.5: intervals scaled to real minutes");
  });

  it("has no interval to show for a step whose interval the server has not measured", () => {
    assert.deepEqual(
      timelineRows(transport({ done: DONE })).map((r) => r.minutes),
      [null, null, null, null, null, null, null, null],
    );
    assert.deepEqual(timelineRows(null).map((r) => r.state), ["next", "todo", "todo", "todo", "todo", "todo", "todo", "todo"]);
  });
});
