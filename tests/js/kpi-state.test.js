// The KPI panel's figures from today's statistics.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { BASELINE_MIN, kpiModel } from "../../ems/web/static/js/kpi-state.js";

const stats = {
  date: "2026-05-01",
  timezone: "Asia/Tokyo",
  transports: 5,
  active: 2,
  completed: 3,
  cancelled: 0,
  call_to_scene_min_mean: 8.1,
  call_to_hospital_min_mean: 35.2,
  call_to_hospital_min_p90: 44.0,
  baseline_call_to_hospital_min: 39.3,
  vs_baseline_min: -4.1,
  intervals: [
    { start: "dispatched", end: "arrived_scene", mean_min: 6, n: 3 },
    { start: "call_received", end: "dispatched", mean_min: 2, n: 3 },
    { start: "arrived_scene", end: "patient_contact", mean_min: null, n: 0 },
  ],
};

describe("the KPI panel", () => {
  it("compares the mean and the p90 with the FDMA baseline", () => {
    const m = kpiModel(stats);
    assert.equal(m.baseline, 39.3);
    assert.equal(m.mean.good, true);
    assert.equal(Math.round(m.mean.delta * 10) / 10, -4.1);
    assert.equal(m.p90.good, false);
    assert.deepEqual([m.completed, m.transports, m.active], [3, 5, 2]);
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
    assert.deepEqual(m.mean, { value: null, delta: null, good: null });
    assert.deepEqual(m.segments, []);
    assert.equal(kpiModel(null), null);
  });
});
