// Pieces of view used by more than one page: FDMA timeline, request list, reasons.
import { el, fmtTime, localName, t, TIMELINE } from "./common.js";

/** Accept either a bare list or an object wrapping one (``items``, or ``key``). */
export function listOf(value, key) {
  if (Array.isArray(value)) return value;
  if (!value) return [];
  if (key && Array.isArray(value[key])) return value[key];
  for (const k of ["items", "results", "data"]) if (Array.isArray(value[k])) return value[k];
  return [];
}

/** A recommendation's reasons as one readable line. Reasons may be codes with
 * parameters ({code, ...}) or plain text from the server. */
export function reasonText(rec) {
  const reasons = rec.reasons || [];
  const items = (Array.isArray(reasons) ? reasons : [reasons]).map(oneReason).filter(Boolean);
  if (rec.source === "straight_line" && !items.some((x) => x === t("reason.straight_line"))) {
    items.push(t("reason.straight_line"));
  }
  return items.join(" · ");
}

function oneReason(r) {
  if (typeof r !== "string") return r?.text || r?.code || "";
  let m = r.match(/^rank (\d+) by ETA/);
  if (m) return t("reason.rank", { n: m[1] });
  m = r.match(/^available since (.+)$/);
  if (m) return t("reason.available_since", { time: fmtTime(m[1]) });
  if (r.startsWith("ETA is a straight-line")) return t("reason.straight_line");
  m = r.match(/^([a-z_]+): (.*)$/);
  if (m) {
    const key = `reason.${m[1]}`;
    const tr = t(key, { detail: translateDetail(m[1], m[2]) });
    return tr === key ? r : tr;
  }
  return r;
}

function translateDetail(code, detail) {
  if (code === "capability_match") return detail.split(", ").map((c) => t(`capability.${c}`)).join("・");
  if (code === "beds_available") {
    const [n, cat] = detail.split(" ");
    return `${t(`bed.${cat}`)} ${n}`;
  }
  if (code === "acceptance_probability") return `${Math.round(Number(detail) * 100)}%`;
  if (code === "level") return t(`level.${detail}`);
  if (code === "below_preferred_level") return t(`level.${detail.split(" ")[0]}`);
  if (code === "beds_unknown" || code === "beds_stale") {
    const cat = detail.match(/(?:no )?([a-z_]+) figure/);
    return cat ? t(`bed.${cat[1]}`) : detail;
  }
  return detail;
}

/** Timestamp of one FDMA step, whatever the transport's shape. */
export function stepTime(tr, kind) {
  if (!tr) return null;
  if (tr[`${kind}_at`]) return tr[`${kind}_at`];
  if (tr.timeline && !Array.isArray(tr.timeline) && tr.timeline[kind]) return tr.timeline[kind];
  if (Array.isArray(tr.timeline)) return tr.timeline.find((e) => e.kind === kind)?.at || null;
  if (Array.isArray(tr.events)) return tr.events.find((e) => e.kind === kind)?.at || null;
  return null;
}

export function nextStep(tr) {
  return TIMELINE.find((k) => !stepTime(tr, k)) || null;
}

export function renderTimeline(tr) {
  const next = nextStep(tr);
  return el(
    "ol",
    { class: "timeline", "aria-label": t("timeline.title") },
    ...TIMELINE.map((kind) => {
      const at = stepTime(tr, kind);
      return el(
        "li",
        { class: at ? "done" : kind === next ? "next" : "todo" },
        el("span", { class: "tl-dot", "aria-hidden": "true" }),
        el("span", { class: "tl-label" }, t(`timeline.${kind}`)),
        el("span", { class: "tl-time" }, at ? fmtTime(at) : ""),
      );
    }),
  );
}

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

function itemText(item) {
  if (item === null || item === undefined) return "";
  if (typeof item !== "object") return String(item);
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
  return [main, extra && `(${extra})`, date && `— ${String(date).slice(0, 10)}`].filter(Boolean).join(" ");
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
        ? el("ul", {}, ...list.map((i) => el("li", {}, itemText(i))))
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
