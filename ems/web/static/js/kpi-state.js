// The KPI panel's figures from today's statistics (GET /api/v1/stats/today): the
// call→hospital mean and p90 against the 39.3-minute FDMA baseline, and the mean of
// each FDMA interval as the segments of one stacked bar. Pure: the answer in, the
// figures out; kpi.js draws them. The answer itself is kept by the page's state
// (dispatch-state.js), which asks again after every transport.updated.
import { TIMELINE } from "./generated/enums.js";

// FDMA's 2013/2016 national mean, used when the server does not say.
export const BASELINE_MIN = 39.3;

/** One tile: the figure, how far from the baseline and whether that is good. */
function tile(value, baseline) {
  if (value === null || value === undefined) return { value: null, delta: null, good: null };
  const delta = Number(value) - baseline;
  return { value: Number(value), delta, good: delta <= 0 };
}

/** The intervals in timeline order, each with its share of the bar in percent. */
export function segments(intervals) {
  const known = (intervals || [])
    .filter((r) => r && r.mean_min !== null && r.mean_min !== undefined)
    .map((r) => ({ start: r.start, end: r.end, minutes: Number(r.mean_min) }))
    .sort((a, b) => TIMELINE.indexOf(a.start) - TIMELINE.indexOf(b.start));
  const total = known.reduce((acc, s) => acc + s.minutes, 0);
  return known.map((s) => ({ ...s, widthPct: total > 0 ? (100 * s.minutes) / total : 0 }));
}

/** Everything the panel shows, or ``null`` when there are no figures to show. */
export function kpiModel(stats) {
  if (!stats) return null;
  const baseline = stats.baseline_call_to_hospital_min ?? BASELINE_MIN;
  return {
    baseline,
    completed: stats.completed ?? null,
    transports: stats.transports ?? stats.completed ?? 0,
    active: stats.active ?? 0,
    mean: tile(stats.call_to_hospital_min_mean, baseline),
    p90: tile(stats.call_to_hospital_min_p90, baseline),
    segments: segments(stats.intervals),
  };
}
