// Pure helpers over the API's records, shared by every page's state module (and copied
// to the tablet's page by scripts/ensure-frontend): no DOM, no fetch, no globals.
//
// Ordering without generation counters: every input of a page is stamped with a tick
// from one counter that only grows (store.js): a live event with the tick it arrived
// at, an answer with the tick its request left at (``asOf``). A record remembers the
// tick of its last write, and an answer asked for before that write is not applied to
// it, so an answer that was overtaken by a newer event or a newer answer can land late
// without undoing anything.
import { TIMELINE, URGENCIES } from "./generated/enums.js";

/** Accept either a bare list or an object wrapping one (``items``, or ``key``). */
export function listOf(value, key) {
  if (Array.isArray(value)) return value;
  if (!value) return [];
  if (key && Array.isArray(value[key])) return value[key];
  for (const k of ["items", "results", "data"]) if (Array.isArray(value[k])) return value[k];
  return [];
}

export const byId = (list, id) => list.find((x) => x.id === id);

/** Index of an urgency, most urgent first; unknown ones last. */
export function urgencyRank(urgency) {
  const i = URGENCIES.indexOf(urgency);
  return i < 0 ? URGENCIES.length : i;
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

/** How many times faster than life a simulation ran this transport (the demo's fast
 * mode, the server's ``simulated_speed``); null at life pace. */
export function simulatedSpeed(tr) {
  const speed = Number(tr?.simulated_speed);
  return Number.isFinite(speed) && speed > 1 ? speed : null;
}

/** One transport's FDMA timeline, a row per step: its time, done / next / todo, and the
 * minutes since the step before at life pace. The server scales a fast-mode run's
 * intervals back to life (``life_seconds``), so a page shows them as they are. */
export function timelineRows(tr) {
  const next = nextStep(tr);
  const life = new Map((tr?.intervals || []).map((i) => [i.end, i.life_seconds]));
  return TIMELINE.map((kind) => {
    const at = stepTime(tr, kind);
    const seconds = at ? life.get(kind) : null;
    return {
      kind,
      at,
      state: at ? "done" : kind === next ? "next" : "todo",
      minutes: typeof seconds === "number" && Number.isFinite(seconds) ? seconds / 60 : null,
    };
  });
}

/** A step's interval as the row shows it ("+5.0 分"); "" for none. */
export function intervalText(minutes, translate) {
  return minutes === null || minutes === undefined ? "" : translate("timeline.interval", { n: minutes.toFixed(1) });
}

/** The note on a fast-mode transport's timeline ("模擬 ×10 …"); "" at life pace. */
export function simulatedText(speed, translate) {
  return speed ? translate("timeline.simulated", { n: String(Math.round(speed * 10) / 10) }) : "";
}

/** How a hospital reads on the map: ok, low (1–2 free beds), full (or closed to
 * ambulances) or stale (every figure expired), at ``now`` (ms since the epoch). */
export function availabilityClass(hospital, now) {
  if (!hospital) return "stale";
  if (hospital.diversion === "closed_to_ambulances") return "full";
  const beds = hospital.beds || [];
  const fresh = beds.filter((b) => !isExpired(b, now));
  if (beds.length && !fresh.length) return "stale";
  const free = fresh.reduce((n, b) => n + (b.available || 0), 0);
  if (free === 0) return "full";
  if (free <= 2) return "low";
  return "ok";
}

/** A bed figure past its expiry (or flagged stale by the server) at ``now``. */
export function isExpired(bed, now) {
  return Boolean(bed.stale || (bed.expires_at && new Date(bed.expires_at).getTime() < now));
}

// --- tables: records by id that remember the tick of their last write ----------------

export const emptyTable = () => ({ rows: {}, ticks: {} });

const writable = (table, id, tick) => !((table.ticks[id] ?? -Infinity) > tick);

/** ``table`` with ``row`` written at ``tick``, unless the row was written later. */
export function put(table, row, tick) {
  if (!row || row.id === undefined || row.id === null || !writable(table, row.id, tick)) return table;
  return { rows: { ...table.rows, [row.id]: row }, ticks: { ...table.ticks, [row.id]: tick } };
}

/** ``table`` with the fields of ``changes`` merged into row ``id`` (if it has one). */
export function patch(table, id, changes, tick) {
  const row = table.rows[id];
  if (!row) return table;
  return put(table, { ...row, ...changes }, tick);
}

/** ``table`` without row ``id``; the removal keeps its tick, so that an answer asked for
 * before it cannot bring the row back. */
export function drop(table, id, tick) {
  if (!writable(table, id, tick)) return table;
  const rows = { ...table.rows };
  delete rows[id];
  return { rows, ticks: { ...table.ticks, [id]: tick } };
}

/** ``table`` after a complete answer for the rows that satisfy ``within``: its rows are
 * written, and rows ``within`` that it lacks are removed, each only if not written
 * after ``asOf``. */
export function replaceAll(table, rows, asOf, within = () => true) {
  let out = table;
  const seen = new Set();
  for (const row of rows) {
    seen.add(String(row.id));
    out = put(out, row, asOf);
  }
  for (const [id, row] of Object.entries(table.rows)) {
    if (!seen.has(id) && within(row)) out = drop(out, row.id, asOf);
  }
  return out;
}

export const rowsOf = (table) => Object.values(table.rows);
export const rowOf = (table, id) => (id === null || id === undefined ? undefined : table.rows[id]);

// --- the book of answers: what the page has asked and whether it still holds ---------

/** ``book`` after the answer to ``key`` (asked for at ``asOf``) came back. An older
 * answer than the one the book has changes nothing. */
export function answered(book, key, asOf) {
  const entry = book[key];
  if (entry && entry.asOf > asOf) return book;
  return { ...book, [key]: { asOf, staleAt: entry?.staleAt ?? -Infinity } };
}

/** ``book`` with the answers to ``keys`` (all of them when ``keys`` is omitted) in
 * doubt since ``tick``: a live event changed what they were computed from, or the page
 * reconnected and may have missed events. */
export function doubt(book, tick, keys) {
  let out = book;
  for (const key of keys ?? Object.keys(book)) {
    if (out[key]) out = { ...out, [key]: { ...out[key], staleAt: tick } };
  }
  return out;
}

/** Whether the page should ask ``key`` (again): never answered, or in doubt since. */
export function wanted(book, key) {
  const entry = book[key];
  return !entry || entry.staleAt > entry.asOf;
}

/** The answers of ``book`` whose key starts with ``prefix``. */
export const keysLike = (book, prefix) => Object.keys(book).filter((k) => k.startsWith(prefix));

// --- words for the user ------------------------------------------------------------

/** The message for an API error (``{ code, status }``) in the page's language, through
 * ``translate(key)`` (which answers the key itself when it has no text): the code's own
 * ``error.<code>``, else a sentence for its HTTP status class, else a general one. The
 * raw code is never shown. */
export function errorMessage(err, translate) {
  const known = (key) => {
    const text = translate(key);
    return text && text !== key ? text : null;
  };
  const code = err?.code;
  const status = typeof err?.status === "number" ? err.status : null;
  let klass = null;
  if (status === 0) klass = "network";
  else if (status >= 500) klass = "5xx";
  else if (status === 429) klass = "429";
  else if (status >= 400) klass = "4xx";
  return (
    (code && known(`error.${code}`)) ||
    (klass && known(`error.status_${klass}`)) ||
    known("error.generic") ||
    "Something went wrong. Please try again."
  );
}

/** Whether ``a`` and ``b`` (ms) fall on the same day in the viewer's time zone. */
export function sameDay(a, b) {
  const x = new Date(a);
  const y = new Date(b);
  return x.getFullYear() === y.getFullYear() && x.getMonth() === y.getMonth() && x.getDate() === y.getDate();
}

/** A time for a card: "14:05" today, "5/12 14:05" (ja) or "12 May 14:05" (en) on another
 * day, with the year when it is not this year's. */
export function whenText(iso, now, lang) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "—";
  const locale = lang === "en" ? "en-GB" : "ja-JP";
  const time = d.toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit" });
  if (sameDay(d.getTime(), now)) return time;
  const opts = { month: "numeric", day: "numeric" };
  if (lang === "en") opts.month = "short";
  if (d.getFullYear() !== new Date(now).getFullYear()) opts.year = "numeric";
  return `${d.toLocaleDateString(locale, opts)} ${time}`;
}

/** A current patient at ``now`` (what ``GET /transports?current=true&hours=`` answers):
 * not cancelled, and arrived at the hospital, or (not arrived yet) called in, less than
 * ``hours`` ago. */
export function isCurrentTransport(tr, now, hours) {
  if (!tr || tr.status === "cancelled") return false;
  const since = stepTime(tr, "arrived_hospital") || stepTime(tr, "call_received") || tr.created_at;
  if (!since) return true;
  return now - new Date(since).getTime() < hours * 3600000;
}

/** Whether a transport's card can have a live stream and a record to ask for: only
 * while it is active and not handed over. */
export function isLive(tr) {
  return Boolean(tr) && tr.status === "active" && !stepTime(tr, "handover");
}

/** The text of ``key`` in ``dict`` (the page's language, ``lang``), else in ``fallback``
 * (Japanese), else the key itself, with ``{name}`` placeholders filled from ``vars``.
 * A count ``vars.n`` picks the language's plural form where the dictionary has one
 * (English "1 bed free" under ``<key>_one``); Japanese has none. */
export function translate(dict, fallback, lang, key, vars = {}) {
  const n = Number(vars.n);
  const form =
    "n" in vars && Number.isFinite(n)
      ? dict[`${key}_${new Intl.PluralRules(lang === "en" ? "en" : "ja").select(n)}`]
      : undefined;
  let text = form ?? dict[key] ?? fallback[key] ?? key;
  for (const [name, value] of Object.entries(vars)) {
    text = text.replaceAll(`{${name}}`, String(value));
  }
  return text;
}
