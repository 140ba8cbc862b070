// The KPI panel's figures from today's statistics.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { BASELINE_MIN, kpiModel, NATIONAL_MEAN } from "../../ems/web/static/js/kpi-state.js";

const stats = {
  date: "2026-05-01",
  timezone: "Asia/Tokyo",
  transports: 5,
  active: 2,
  completed: 3,
  cancelled: 0,
  call_to_scene_min_mean: 8.1,
  call_to_hospital_min_mean: 35.2,
  call_to_hospital_min_p90: 52.0,
  // What the server sends: FDMA's 2013/2016 mean, with no year.
  baseline_call_to_hospital_min: 39.3,
  vs_baseline_min: -4.1,
  intervals: [
    { start: "dispatched", end: "arrived_scene", mean_min: 6, n: 3 },
    { start: "call_received", end: "dispatched", mean_min: 2, n: 3 },
    { start: "arrived_scene", end: "patient_contact", mean_min: null, n: 0 },
  ],
};

describe("the KPI panel", () => {
  it("compares the mean with FDMA's latest national mean, 45.6 min in 2023, and not the p90", () => {
    const m = kpiModel(stats);
    assert.deepEqual([m.baseline, m.baselineYear, m.baselineSource], [45.6, 2023, "FDMA"]);
    assert.equal(m.mean.good, true);
    assert.equal(Math.round(m.mean.delta * 10) / 10, -10.4);
    // A p90 is not a mean: it is shown with what it means, never as "slower than" one.
    assert.deepEqual(m.p90, { value: 52.0, delta: null, good: null, note: "kpi.p90_note" });
    assert.deepEqual([m.completed, m.transports, m.active], [3, 5, 2]);
  });

  it("takes the server's national mean only when it names a year as recent", () => {
    assert.equal(kpiModel({ ...stats, baseline_year: 2016 }).baseline, NATIONAL_MEAN.minutes);
    const newer = kpiModel({ ...stats, baseline_call_to_hospital_min: 44.9, baseline_year: 2024 });
    assert.deepEqual([newer.baseline, newer.baselineYear], [44.9, 2024]);
    assert.equal(Math.round(newer.mean.delta * 10) / 10, -9.7);
  });

  it("stacks the known intervals in timeline order, sized by their share", () => {
    const m = kpiModel(stats);
    assert.deepEqual(
      m.segments.map((s) => [s.start, s.widthPct]),
      [
        ["call_received", 25],
        ["dispatched", 75],
      ],
    );
  });

  it("has no figure without data, and no panel without an answer", () => {
    const m = kpiModel({ completed: 0, intervals: [], call_to_hospital_min_mean: null });
    assert.equal(m.baseline, BASELINE_MIN);
    assert.equal(m.baselineYear, 2023);
    assert.deepEqual(m.mean, { value: null, delta: null, good: null });
    assert.deepEqual(m.segments, []);
    assert.equal(kpiModel(null), null);
  });
});

describe("the doctor's instruction and simulated runs on the KPI panel", () => {
  it("shows the call → instruction and request → instruction p50 and p90", () => {
    const m = kpiModel({
      ...stats,
      instructed: 4,
      call_to_instruction_min_p50: 18.5,
      call_to_instruction_min_p90: 27,
      request_to_instruction_min_p50: 1.2,
      request_to_instruction_min_p90: 3.4,
    });
    assert.deepEqual(m.instruction, {
      count: 4,
      callToInstruction: { p50: 18.5, p90: 27 },
      requestToInstruction: { p50: 1.2, p90: 3.4 },
    });
  });

  it("has no instruction figure without one today, nor from a server that does not send them", () => {
    const none = { count: 0, callToInstruction: { p50: null, p90: null }, requestToInstruction: { p50: null, p90: null } };
    assert.deepEqual(kpiModel(stats).instruction, none);
    assert.deepEqual(kpiModel({ ...stats, instructed: 0, call_to_instruction_min_p50: null }).instruction, none);
  });

  it("says how many transports were simulated in fast mode, and nothing when none were", () => {
    assert.deepEqual(kpiModel({ ...stats, simulated: 3 }).simulated, { n: 3 });
    assert.equal(kpiModel({ ...stats, simulated: 0 }).simulated, null);
    assert.equal(kpiModel(stats).simulated, null);
  });
});
