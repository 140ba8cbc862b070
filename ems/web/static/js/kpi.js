// The live KPI panel: today's call→hospital mean and p90 against the 39.3-minute
// FDMA baseline, and the mean of each FDMA interval as one stacked bar.
import { fill, el, fmtMinutes, t } from "./common.js";

const BASELINE_MIN = 39.3;
const INTERVALS = [
  "call_to_dispatch",
  "dispatch_to_scene",
  "scene_to_contact",
  "contact_to_departure",
  "departure_to_hospital",
  "hospital_to_handover",
];

function pick(obj, ...keys) {
  for (const k of keys) {
    const parts = k.split(".");
    let v = obj;
    for (const p of parts) v = v?.[p];
    if (v !== undefined && v !== null) return v;
  }
  return null;
}

/** Interval means as [[name, minutes]] from the shapes the stats endpoint may use. */
function intervalsOf(stats) {
  const raw = pick(stats, "intervals", "interval_means_min", "interval_means");
  if (!raw) return [];
  if (Array.isArray(raw)) {
    return raw.map((r) => [r.name || r.interval || `${r.start}__${r.end}`, r.mean_min ?? r.minutes ?? r.mean]);
  }
  const entries = Object.entries(raw).map(([k, v]) => [k, typeof v === "object" && v ? v.mean_min ?? v.mean : v]);
  entries.sort((a, b) => {
    const ia = INTERVALS.indexOf(a[0]);
    const ib = INTERVALS.indexOf(b[0]);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
  });
  return entries;
}

function intervalLabel(name) {
  if (name.includes("__")) {
    const [a, b] = name.split("__");
    return `${t(`timeline_short.${a}`)} → ${t(`timeline_short.${b}`)}`;
  }
  const key = `interval.${name}`;
  const tr = t(key);
  return tr === key ? name.replaceAll("_", " ") : tr;
}

export function renderKpi(container, stats, countNode) {
  if (!stats) {
    fill(container, el("p", { class: "empty" }, t("kpi.unavailable")));
    return;
  }
  const baseline = pick(stats, "baseline_call_to_hospital_min", "baseline_min") ?? BASELINE_MIN;
  const mean = pick(stats, "call_to_hospital_min_mean", "mean_call_to_hospital_min");
  const p90 = pick(stats, "call_to_hospital_min_p90", "p90_call_to_hospital_min");
  const n = pick(stats, "completed", "count");
  if (countNode) countNode.textContent = n !== null ? t("kpi.count", { n, total: stats.transports ?? n, active: stats.active ?? 0 }) : "";
  const tile = (label, value, id) => {
    const delta = value === null ? null : value - baseline;
    return el(
      "div",
      { class: `kpi-tile ${delta === null ? "" : delta <= 0 ? "good" : "bad"}`, id },
      el("div", { class: "kpi-label" }, label),
      el("div", { class: "kpi-value" }, value === null ? "—" : Number(value).toFixed(1), el("small", {}, t("unit.min"))),
      el(
        "div",
        { class: "kpi-delta" },
        delta === null ? t("kpi.no_data") : t(delta <= 0 ? "kpi.below" : "kpi.above", { n: Math.abs(delta).toFixed(1) }),
      ),
    );
  };
  const intervals = intervalsOf(stats).filter(([, v]) => v !== null && v !== undefined);
  const total = intervals.reduce((acc, [, v]) => acc + Number(v), 0);
  const bar = el("div", { class: "stack", role: "img", "aria-label": t("kpi.breakdown") });
  const legend = el("ul", { class: "stack-legend" });
  intervals.forEach(([name, v], idx) => {
    const width = total > 0 ? (100 * Number(v)) / total : 0;
    bar.append(el("span", { class: `seg-${idx}`, style: `width:${width}%`, title: `${intervalLabel(name)} ${fmtMinutes(v)}` }));
    legend.append(
      el("li", {}, el("i", { class: `seg-${idx}` }), el("span", {}, intervalLabel(name)), el("b", {}, fmtMinutes(v))),
    );
  });
  fill(container, 
    el(
      "div",
      { class: "kpi-tiles" },
      tile(t("kpi.mean"), mean, "kpi-mean"),
      tile(t("kpi.p90"), p90, "kpi-p90"),
      el(
        "div",
        { class: "kpi-tile baseline" },
        el("div", { class: "kpi-label" }, t("kpi.baseline")),
        el("div", { class: "kpi-value" }, Number(baseline).toFixed(1), el("small", {}, t("unit.min"))),
        el("div", { class: "kpi-delta" }, t("kpi.baseline_src")),
      ),
    ),
    el("h3", { class: "kpi-sub" }, t("kpi.breakdown")),
    intervals.length ? bar : el("p", { class: "empty" }, t("kpi.no_data")),
    intervals.length ? legend : null,
  );
}
