// The live KPI panel: draws kpi-state.js's figures (today's call→hospital mean and p90
// against FDMA's latest national mean (labelled with its year), the mean of each FDMA interval as one stacked bar, the
// doctor's instruction p50/p90, and a note when simulated transports are counted).
import { el, fill, fmtMinutes, t } from "./common.js";
import { kpiModel } from "./kpi-state.js";

function intervalLabel(seg) {
  return `${t(`timeline_short.${seg.start}`)} → ${t(`timeline_short.${seg.end}`)}`;
}

function tileNode(label, figure, id) {
  return el(
    "div",
    { class: `kpi-tile ${figure.good === null ? "" : figure.good ? "good" : "bad"}`, id },
    el("div", { class: "kpi-label" }, label),
    el("div", { class: "kpi-value" }, figure.value === null ? "—" : figure.value.toFixed(1), el("small", {}, t("unit.min"))),
    el(
      "div",
      { class: "kpi-delta" },
      figure.note && figure.value !== null
        ? t(figure.note)
        : figure.delta === null
        ? t("kpi.no_data")
        : t(figure.good ? "kpi.below" : "kpi.above", { n: Math.abs(figure.delta).toFixed(1) }),
    ),
  );
}

function instructionTable(figures) {
  const cell = (v) => el("td", { class: "kpi-num" }, v === null ? "—" : fmtMinutes(v));
  const row = (id, label, f) => el("tr", { id }, el("th", { scope: "row" }, label), cell(f.p50), cell(f.p90));
  return el(
    "table",
    { class: "table kpi-instr", id: "kpi-instruction" },
    el("caption", { class: "kpi-sub" }, t("kpi.instruction_title", { n: figures.count })),
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, ""), el("th", { scope: "col" }, "p50"), el("th", { scope: "col" }, "p90"))),
    el(
      "tbody",
      {},
      row("kpi-call-to-instruction", t("kpi.call_to_instruction"), figures.callToInstruction),
      row("kpi-request-to-instruction", t("kpi.request_to_instruction"), figures.requestToInstruction),
    ),
  );
}

export function renderKpi(container, stats, countNode) {
  const model = kpiModel(stats);
  if (!model) {
    fill(container, el("p", { class: "empty" }, t("kpi.unavailable")));
    return;
  }
  if (countNode) {
    countNode.textContent =
      model.completed !== null
        ? t("kpi.count", { n: model.completed, total: model.transports, active: model.active })
        : "";
  }
  const bar = el("div", { class: "stack", role: "img", "aria-label": t("kpi.breakdown") });
  const legend = el("ul", { class: "stack-legend" });
  model.segments.forEach((seg, idx) => {
    bar.append(el("span", { class: `seg-${idx}`, style: `width:${seg.widthPct}%`, title: `${intervalLabel(seg)} ${fmtMinutes(seg.minutes)}` }));
    legend.append(el("li", {}, el("i", { class: `seg-${idx}` }), el("span", {}, intervalLabel(seg)), el("b", {}, fmtMinutes(seg.minutes))));
  });
  fill(
    container,
    // Said first: every figure below counts these transports' minutes scaled back.
    model.simulated ? el("p", { class: "kpi-simulated", id: "kpi-simulated", role: "note" }, t("kpi.simulated", { n: model.simulated.n })) : null,
    el(
      "div",
      { class: "kpi-tiles" },
      tileNode(t("kpi.mean"), model.mean, "kpi-mean"),
      tileNode(t("kpi.p90"), model.p90, "kpi-p90"),
      el(
        "div",
        { class: "kpi-tile baseline" },
        el("div", { class: "kpi-label" }, t("kpi.baseline", { year: model.baselineYear })),
        el("div", { class: "kpi-value" }, Number(model.baseline).toFixed(1), el("small", {}, t("unit.min"))),
        el("div", { class: "kpi-delta" }, t("kpi.baseline_src", { source: model.baselineSource, year: model.baselineYear })),
      ),
    ),
    el("h3", { class: "kpi-sub" }, t("kpi.breakdown")),
    model.segments.length ? bar : el("p", { class: "empty" }, t("kpi.no_data")),
    model.segments.length ? legend : null,
    instructionTable(model.instruction),
  );
}
