// Pieces of view used by more than one page (the tablet's included: scripts/ensure-frontend
// copies this file there): FDMA timeline, request list, reasons, medical history.
import { el, fmtTime, localName, t, toast } from "./common.js";
import { intervalText, simulatedSpeed, simulatedText, timelineRows } from "./domain.js";

/** A recommendation's reasons as one readable line. Each reason is a stable
 * ``{code, params, text}`` from the server, translated by ``reason.<code>``; ``text``
 * (English) is shown only for a code this page does not know yet. */
export function reasonText(rec) {
  const reasons = rec.reasons || [];
  const items = (Array.isArray(reasons) ? reasons : [reasons]).map(oneReason).filter(Boolean);
  const hasStraightLine = (Array.isArray(reasons) ? reasons : []).some((r) => r?.code === "straight_line");
  if (rec.source === "straight_line" && !hasStraightLine) items.push(t("reason.straight_line"));
  return items.join(" · ");
}

// How each parameter is shown: codes become words of the current language.
const PARAM = {
  capabilities: (v) => (Array.isArray(v) ? v : [v]).map((c) => known(`capability.${c}`, c)).join("・"),
  category: (v) => known(`bed.${v}`, v),
  level: (v) => known(`level.${v}`, v),
  condition: (v) => known(`condition.${v}`, v),
  time: (v) => fmtTime(v),
  p: (v) => `${Math.round(Number(v) * 100)}%`,
};

function known(key, fallback) {
  const text = t(key);
  return text === key ? String(fallback) : text;
}

export function oneReason(r) {
  if (!r) return "";
  if (typeof r === "string") return r;
  const key = `reason.${r.code}`;
  const vars = {};
  for (const [name, value] of Object.entries(r.params || {})) vars[name] = PARAM[name] ? PARAM[name](value) : value;
  const text = t(key, vars);
  return text === key ? r.text || r.code : text;
}

/** One transport's FDMA timeline: each step's short name, its time and, under it, the
 * minutes since the step before at life pace; a fast-mode simulation says so above the steps, with its speed. */
export function renderTimeline(tr) {
  const steps = el(
    "ol",
    { class: "timeline", "aria-label": t("timeline.title") },
    ...timelineRows(tr).map((row) =>
      el(
        "li",
        { class: row.state },
        el("span", { class: "tl-dot", "aria-hidden": "true" }),
        // The field's short name (現着, "Scene"), the full one on hover and for readers:
        // eight steps share a side panel's width.
        el("abbr", { class: "tl-label", title: t(`timeline.${row.kind}`) }, t(`timeline_short.${row.kind}`)),
        el("span", { class: "tl-time" }, row.at ? fmtTime(row.at) : ""),
        el("span", { class: "tl-interval" }, intervalText(row.minutes, t)),
      ),
    ),
  );
  const note = simulatedText(simulatedSpeed(tr), t);
  if (!note) return steps;
  return el("div", { class: "timeline-box" }, el("p", { class: "tl-simulated", role: "note" }, note), steps);
}

/** A toast for a hospital's answer to an acceptance request (event ``request.accepted`` /
 * ``request.declined``), named from the page's hospital list when it knows the hospital;
 * ``about`` names the incident ("#12 胸痛") when the page knows it. */
export function toastAnswer(data, status, hospitals, about = "") {
  const h = hospitals.find((x) => x.id === data?.hospital_id);
  const name = localName(h) || data?.hospital_name || `#${data?.hospital_id}`;
  let message = t(`requests.toast_${status}`, { hospital: name });
  if (status === "declined" && data?.decline_reason) message += ` (${t(`decline.${data.decline_reason}`)})`;
  toast(about ? t(ABOUT, { about, message }) : message, status === "accepted" ? "ok" : "info");
}

// "#12 胸痛: …": only the server's pages name the incident (the tablet has one).
const ABOUT = "common.about";

export function renderRequests(requests, hospitals) {
  if (!requests.length) return el("p", { class: "empty" }, t("requests.none"));
  const list = el("ul", { class: "req-list" });
  for (const r of [...requests].sort((a, b) => (a.round || 1) - (b.round || 1) || a.id - b.id)) {
    const h = hospitals.find((x) => x.id === r.hospital_id) || r.hospital || {};
    list.append(
      el(
        "li",
        { class: `req req-${r.status}`, dataset: { requestId: r.id, status: r.status } },
        el("span", { class: "req-name" }, localName(r.hospital || h) || r.hospital_name || `#${r.hospital_id}`),
        el("span", { class: `badge req-badge-${r.status}` }, t(`requests.status_${r.status}`)),
        r.early ? el("span", { class: "badge badge-early" }, t("requests.early")) : null,
        el(
          "span",
          { class: "req-meta muted" },
          r.status === "declined" && r.decline_reason
            ? t(`decline.${r.decline_reason}`) + (r.note ? ` — ${r.note}` : "")
            : fmtTime(r.responded_at || r.sent_at),
        ),
      ),
    );
  }
  return list;
}

/** A history item as [what, when]: "ワルファリン… (1mg · …)", "— 2016-09-20" (or ""). */
function itemParts(item) {
  if (item === null || item === undefined) return ["", ""];
  if (typeof item !== "object") return [String(item), ""];
  const main =
    item.substance || item.medication || item.condition || item.procedure || item.observation ||
    item.display || item.name || item.kind || "";
  const reactions = Array.isArray(item.reactions) ? item.reactions.join(", ") : item.reaction;
  const extra = [
    item.value,
    reactions,
    item.criticality === "high" ? t("history.high_risk") : null,
    item.dosage,
    item.reason,
    item.provider,
  ]
    .filter(Boolean)
    .join(" · ");
  const date = item.date || item.since || item.onset || "";
  return [[main, extra && `(${extra})`].filter(Boolean).join(" "), date ? `— ${String(date).slice(0, 10)}` : ""];
}

/** An item's line, its date kept whole ("2005-06-01", never "2005-06- / 01"). */
function itemNodes(item) {
  const [what, when] = itemParts(item);
  if (!when) return [what];
  return [what ? `${what} ` : "", el("span", { class: "history-date" }, when)];
}

const FIRST = ["allergies", "medications"];
const LATER = ["conditions", "surgeries", "observations", "encounters"];

/** The medical-history summary: allergies and medication first, then the rest. */
export function renderHistory(record) {
  const summary = record?.summary || record || {};
  const box = el("div", { class: "history", dataset: { testid: "history" } });
  const assurance = record?.assurance || record?.assurance_level;
  box.append(
    el(
      "div",
      { class: "history-head" },
      el("span", { class: "badge badge-info" }, t("history.synthetic")),
      assurance
        ? el("span", { class: `badge assurance-${assurance}`, title: record.assurance_notice || "" }, t(`assurance.${assurance}`))
        : null,
      record?.released_at ? el("span", { class: "muted" }, t("history.released", { time: fmtTime(record.released_at) })) : null,
    ),
  );
  const patient = record?.patient || summary.patient;
  if (patient) {
    const bits = [patient.name, patient.age !== undefined && patient.age !== null ? t("incident.age_n", { n: patient.age }) : null, patient.sex ? t(`sex.${patient.sex}`) : null, patient.birth_date];
    box.append(el("p", { class: "history-patient" }, bits.filter(Boolean).join(" · ")));
  }
  const section = (key, critical) => {
    const items = summary[key];
    if (items === undefined) return null;
    const list = Array.isArray(items) ? items : [items];
    return el(
      "section",
      { class: `history-sec${critical ? " critical" : ""}`, dataset: { section: key } },
      el("h5", {}, t(`history.${key}`)),
      list.length
        ? el("ul", {}, ...list.map((i) => el("li", {}, ...itemNodes(i))))
        : el("p", { class: "muted" }, t(key === "allergies" ? "history.no_known_allergies" : "history.none")),
    );
  };
  for (const key of FIRST) {
    const sec = section(key, true);
    box.append(sec || el("section", { class: "history-sec critical" }, el("h5", {}, t(`history.${key}`)), el("p", { class: "muted" }, t("history.none"))));
  }
  for (const key of LATER) {
    const sec = section(key, false);
    if (sec) box.append(sec);
  }
  return box;
}
