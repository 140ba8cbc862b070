// The KPI panel's figures from today's statistics (GET /api/v1/stats/today): the
// call→hospital mean and p90 against FDMA's latest national mean (2023: 45.6 min), the mean of each
// FDMA interval as the segments of one stacked bar, the doctor's instruction (119 call
// → instruction and request → instruction, p50 and p90), and how many of the day's
// transports were simulated ones run faster than life (their minutes scaled back). Pure: the answer in, the
// figures out; kpi.js draws them. The answer itself is kept by the page's state
// (dispatch-state.js), which asks again after every transport.updated.
import { TIMELINE } from "./generated/enums.js";

// The latest national mean of 119 call → hospital FDMA gives (救急・救助の現況, 2023:
// 45.6 min; 2022 was the record 47.2). The server's figure counts only when it says
// which year it is: a bare 39.3 is FDMA's 2013/2016 mean, a decade old.
export const NATIONAL_MEAN = Object.freeze({ minutes: 45.6, year: 2023, source: "FDMA" });
export const BASELINE_MIN = NATIONAL_MEAN.minutes;

/** The national mean to compare with: the server's when it names a year as recent as
 * ours, else ours. */
export function nationalMean(stats) {
  const minutes = stats?.baseline_call_to_hospital_min;
  const year = Number(stats?.baseline_year);
  if (minutes !== null && minutes !== undefined && Number.isFinite(year) && year >= NATIONAL_MEAN.year) {
    return { minutes: Number(minutes), year, source: stats.baseline_source || NATIONAL_MEAN.source };
  }
  return { ...NATIONAL_MEAN };
}

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

/** A minute figure the server may leave out (an older server) or null (no data). */
const minutes = (value) => (value === null || value === undefined || Number.isNaN(Number(value)) ? null : Number(value));

/** The doctor's instruction today: two rows of p50 / p90 minutes, and how many
 * requests were answered "instructed". */
export function instructionFigures(stats) {
  return {
    count: stats?.instructed ?? 0,
    callToInstruction: { p50: minutes(stats?.call_to_instruction_min_p50), p90: minutes(stats?.call_to_instruction_min_p90) },
    requestToInstruction: { p50: minutes(stats?.request_to_instruction_min_p50), p90: minutes(stats?.request_to_instruction_min_p90) },
  };
}

/** The note on simulated transports: null when none today; else how many, for the
 * "N simulated transports (fast mode), scaled to real minutes" line. */
export function simulatedNote(stats) {
  const n = Number(stats?.simulated) || 0;
  return n > 0 ? { n } : null;
}

/** Everything the panel shows, or ``null`` when there are no figures to show. */
export function kpiModel(stats) {
  if (!stats) return null;
  const national = nationalMean(stats);
  const baseline = national.minutes;
  return {
    baseline,
    baselineYear: national.year,
    baselineSource: national.source,
    completed: stats.completed ?? null,
    transports: stats.transports ?? stats.completed ?? 0,
    active: stats.active ?? 0,
    mean: tile(stats.call_to_hospital_min_mean, baseline),
    // A p90 is not comparable with a national mean: it says what it is instead.
    p90: { ...tile(stats.call_to_hospital_min_p90, baseline), delta: null, good: null, note: "kpi.p90_note" },
    segments: segments(stats.intervals),
    instruction: instructionFigures(stats),
    simulated: simulatedNote(stats),
  };
}
