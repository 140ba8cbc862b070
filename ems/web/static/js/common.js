// Shared by every page, the tablet's included (scripts/ensure-frontend copies it there):
// language, session, API calls, live events, small formatters and DOM helpers.
// Japanese is the default language; the choice is kept in localStorage.
import { errorMessage, translate, whenText } from "./domain.js";

const LANG_KEY = "ems.lang";
const TOKEN_KEY = "ems.token";
const USER_KEY = "ems.user";

const dictionaries = {};
let lang = localStorage.getItem(LANG_KEY) === "en" ? "en" : "ja";
const langListeners = [];

export function currentLang() {
  return lang;
}

async function loadDictionary(code) {
  if (!dictionaries[code]) {
    const resp = await fetch(`/static/i18n/${code}.json`, { cache: "no-cache" });
    dictionaries[code] = await resp.json();
  }
  return dictionaries[code];
}

/** Translate ``key``; ``{name}`` placeholders are filled from ``vars``. */
export function t(key, vars = {}) {
  return translate(dictionaries[lang] || {}, dictionaries.ja || {}, lang, key, vars);
}

/** Fill every element marked with data-i18n (text), data-i18n-placeholder,
 * data-i18n-aria-label or data-i18n-title under ``root``. */
export function applyI18n(root = document) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) {
    el.setAttribute("placeholder", t(el.dataset.i18nPlaceholder));
  }
  for (const el of root.querySelectorAll("[data-i18n-aria-label]")) {
    el.setAttribute("aria-label", t(el.dataset.i18nAriaLabel));
  }
  for (const el of root.querySelectorAll("[data-i18n-title]")) {
    el.setAttribute("title", t(el.dataset.i18nTitle));
  }
  for (const btn of root.querySelectorAll("[data-lang-toggle]")) {
    btn.textContent = lang === "ja" ? "English" : "日本語";
    btn.setAttribute("lang", lang === "ja" ? "en" : "ja");
    btn.setAttribute("aria-label", t("common.switch_language"));
  }
  const title = document.querySelector("[data-i18n-doc-title]");
  if (title) document.title = `${t(title.dataset.i18nDocTitle)} — ${t("app.name")}`;
}

export async function initI18n() {
  await Promise.all([loadDictionary("ja"), loadDictionary(lang)]);
  applyI18n();
  for (const btn of document.querySelectorAll("[data-lang-toggle]")) {
    btn.addEventListener("click", () => setLang(lang === "ja" ? "en" : "ja"));
  }
}

export async function setLang(code) {
  lang = code === "en" ? "en" : "ja";
  localStorage.setItem(LANG_KEY, lang);
  await loadDictionary(lang);
  applyI18n();
  for (const fn of langListeners) fn(lang);
}

/** Called again after every language switch, to re-render dynamic parts. */
export function onLangChange(fn) {
  langListeners.push(fn);
}

// Every unit's call sign and station in English (GET /api/v1/region/names), once
// ``loadNames()`` has answered; until then (and for an unknown unit) names stay as sent.
const unitNames = new Map();

export async function loadNames() {
  try {
    const rows = await api("/api/v1/region/names");
    for (const row of rows || []) unitNames.set(row.call_sign, row);
  } catch {
    /* the Japanese names the data carries are shown instead */
  }
}

/** A unit's call sign in the current language ("八頭救急1" / "Yazu Ambulance 1"). */
export function callSign(sign) {
  if (!sign) return "";
  const row = unitNames.get(sign);
  return lang === "en" && row?.call_sign_en ? row.call_sign_en : sign;
}

/** A unit's station in the current language, from a unit record or its call sign. */
export function stationName(unit) {
  const row = unitNames.get(unit?.call_sign);
  if (lang === "en" && row?.station_en) return row.station_en;
  return row?.station || unit?.station_name || "";
}

/** A station in the current language, from its Japanese name (a move-up post, say):
 * the names of a unit of that station carry its English name; a station without units
 * keeps the name it was sent with. */
export function stationNamed(name) {
  if (!name || lang !== "en") return name || "";
  for (const row of unitNames.values()) if (row.station === name && row.station_en) return row.station_en;
  return name;
}

/** Pick the name in the current language from objects with name / name_en. */
export function localName(obj) {
  if (!obj) return "";
  return lang === "en" && obj.name_en ? obj.name_en : obj.name || obj.name_en || "";
}

// --- session ---------------------------------------------------------------

export function session() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const raw = sessionStorage.getItem(USER_KEY);
  return token && raw ? { token, user: JSON.parse(raw) } : null;
}

export function saveSession(token, user) {
  sessionStorage.setItem(TOKEN_KEY, token);
  sessionStorage.setItem(USER_KEY, JSON.stringify(user));
}

export function clearSession() {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(USER_KEY);
}

// Where a page goes when its session is over: the server's pages sign in at /login,
// the tablet on its own page.
let loginUrl = "/login";

export function setLoginUrl(url) {
  loginUrl = url;
}

/** Send the browser to the sign-in page, which comes back here afterwards. */
export function toLogin() {
  location.replace(`${loginUrl}?next=${encodeURIComponent(location.pathname)}`);
}

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem?.code || "http_error";
    this.problem = problem || {};
  }
}

/** Call the JSON API with the session's bearer token. */
export async function api(path, { method = "GET", body, signal, headers = {} } = {}) {
  const s = session();
  const init = { method, headers: { Accept: "application/json", ...headers }, signal };
  if (s) init.headers.Authorization = `Bearer ${s.token}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, { code: "network_error", detail: String(err) });
  }
  if (resp.status === 204) return null;
  const text = await resp.text();
  let data;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: text };
  }
  if (!resp.ok) {
    if (resp.status === 401 && s && path !== "/api/v1/auth/token") sessionExpired();
    throw new ApiError(resp.status, data);
  }
  return data;
}

/** The session is over (signed out elsewhere, expired, account disabled): back to
 * the login page, which returns here afterwards. */
function sessionExpired() {
  clearSession();
  toLogin();
}

/** A readable message for an API error, in the current language: the code's own
 * sentence, else one for its status, never the raw code or the server's English. */
export function errorText(err) {
  if (err instanceof ApiError || err?.code) return errorMessage(err, t);
  return errorMessage({ code: "generic", status: -1 }, t);
}

// --- live updates ------------------------------------------------------------

const LIVE_RETRY_MS = 2000; // until the server's `retry:` field says otherwise
const LIVE_MAX_RETRY_MS = 10000;
const LIVE_BUSY_RETRY_MS = 30000; // 429 without a Retry-After header
const LIVE_OFF_DUTY_RETRY_MS = 60000; // back on duty: live again within a minute

/** A parser of the server-sent event format: feed it decoded text as it arrives; it
 * calls ``onEvent(type, data)`` per complete event and ``onRetry(ms)`` per retry field.
 * Lines end with LF, CRLF or CR; lines starting with ":" are comments (keep-alives). */
function sseParser(onEvent, onRetry) {
  let buffer = "";
  let type = "";
  let data = [];
  const line = (text) => {
    if (text === "") {
      // A blank line ends the event.
      if (data.length) onEvent(type || "message", data.join("\n"));
      type = "";
      data = [];
      return;
    }
    if (text.startsWith(":")) return;
    const colon = text.indexOf(":");
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? "" : text.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") type = value;
    else if (field === "data") data.push(value);
    else if (field === "retry" && /^\d+$/.test(value)) onRetry(Number(value));
  };
  return (chunk) => {
    buffer += chunk;
    for (;;) {
      const i = buffer.search(/[\r\n]/);
      // A CR at the very end may be the first half of a CRLF still on its way.
      if (i === -1 || (buffer[i] === "\r" && i === buffer.length - 1)) return;
      line(buffer.slice(0, i));
      buffer = buffer.slice(buffer[i] === "\r" && buffer[i + 1] === "\n" ? i + 2 : i + 1);
    }
  };
}

/** ``ms`` give or take a quarter, so that pages cut off together do not all come back
 * in the same instant. */
const jitter = (ms) => Math.round(ms * (0.75 + Math.random() / 2));

/** Subscribe to the server's events. ``handlers`` maps event types to callbacks, each
 * called with the parsed JSON data and the type; ``onResync`` runs after every
 * reconnection, since events may have been missed. The stream is read with ``fetch``
 * so that the token travels in the Authorization header, never in the URL.
 * Returns ``{ close() }``. */
export function liveEvents(handlers, { onResync, url } = {}) {
  const indicator = document.querySelector("[data-live]");
  const setState = (state) => {
    if (!indicator) return;
    indicator.dataset.live = state;
    indicator.textContent = t(`live.${state}`);
  };
  let closed = false;
  let everOpened = false;
  let controller = null;
  let timer = null;
  let retryMs = LIVE_RETRY_MS;
  let failures = 0;
  let toldOffDuty = false;

  const stop = () => {
    closed = true;
    clearTimeout(timer);
    controller?.abort();
  };
  const later = (ms) => {
    if (closed) return;
    setState("reconnecting");
    clearTimeout(timer);
    timer = setTimeout(connect, ms);
  };
  // 2 s after a drop, doubling up to 10 s while the server stays out of reach.
  const backoff = () => jitter(Math.min(LIVE_MAX_RETRY_MS, retryMs * 2 ** Math.min(failures++, 4)));
  const offDuty = () => {
    if (!toldOffDuty) toast(t("error.off_duty"), "error");
    toldOffDuty = true;
    later(jitter(LIVE_OFF_DUTY_RETRY_MS));
  };
  const deliver = (type, raw) => {
    const fn = handlers[type];
    if (!fn) return;
    let data = {};
    try {
      data = JSON.parse(raw);
    } catch {
      /* a malformed event is ignored; the next resync repairs the view */
    }
    try {
      fn(data, type);
    } catch (err) {
      // One failing handler must not end the stream; the error is still reported.
      setTimeout(() => {
        throw err;
      });
    }
  };

  async function connect() {
    timer = null;
    const s = session();
    if (closed) return;
    if (!s) {
      stop();
      sessionExpired();
      return;
    }
    controller = new AbortController();
    let resp;
    try {
      resp = await fetch(url || "/api/v1/events", {
        headers: { Accept: "text/event-stream", Authorization: `Bearer ${s.token}` },
        cache: "no-store",
        signal: controller.signal,
      });
    } catch {
      later(backoff());
      return;
    }
    if (!resp.ok || !resp.body) {
      let problem = {};
      try {
        problem = await resp.json();
      } catch {
        /* not problem+json: the status says enough */
      }
      if (resp.status === 401) {
        stop();
        setState("reconnecting");
        sessionExpired();
      } else if (resp.status === 429) {
        const seconds = Number(resp.headers.get("Retry-After"));
        const wait = seconds > 0 ? seconds * 1000 : LIVE_BUSY_RETRY_MS;
        later(Math.max(jitter(wait), backoff()));
      } else if (resp.status === 403 && problem?.code === "off_duty") {
        offDuty();
      } else {
        later(backoff());
      }
      return;
    }
    failures = 0;
    toldOffDuty = false;
    setState("connected");
    if (everOpened && onResync) onResync();
    everOpened = true;
    let closedWith = null;
    const feed = sseParser(
      (type, raw) => {
        if (type === "stream.closed") {
          try {
            closedWith = JSON.parse(raw).code || "closed";
          } catch {
            closedWith = "closed";
          }
        }
        deliver(type, raw);
      },
      (ms) => {
        retryMs = ms;
      },
    );
    const reader = resp.body.getReader();
    const decoder = new TextDecoder();
    try {
      while (!closedWith) {
        const { value, done } = await reader.read();
        if (done) break;
        feed(decoder.decode(value, { stream: true }));
      }
    } catch {
      /* the connection dropped, or close() aborted it */
    }
    reader.cancel().catch(() => {});
    if (closed) return;
    // The server ended the stream and said why: signed out, off duty, or access changed.
    if (closedWith === "invalid_token") {
      stop();
      setState("reconnecting");
      sessionExpired();
    } else if (closedWith === "off_duty") {
      offDuty();
    } else {
      later(backoff());
    }
  }

  onLangChange(() => setState(indicator?.dataset.live || "reconnecting"));
  connect();
  return { close: stop };
}

// --- formatting --------------------------------------------------------------

export function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return d.toLocaleTimeString(lang === "en" ? "en-GB" : "ja-JP", {
    hour: "2-digit",
    minute: "2-digit",
  });
}

/** A time with its date when it is not today's ("14:05", "5/12 14:05"). */
export function fmtWhen(iso, now = Date.now()) {
  return whenText(iso, now, lang);
}

/** Minutes as "12.3 分" / "12.3 min". */
export function fmtMinutes(min) {
  if (min === null || min === undefined || Number.isNaN(min)) return "—";
  return t("unit.minutes", { n: Number(min).toFixed(1) });
}

/** Seconds of an ETA as whole minutes. */
export function fmtEta(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  return t("unit.eta_minutes", { n: Math.max(1, Math.round(seconds / 60)) });
}

/** "3 分前" / "in 12 min" relative to now. */
export function fmtRelative(iso) {
  if (!iso) return "—";
  const diffMin = Math.round((new Date(iso).getTime() - Date.now()) / 60000);
  if (Math.abs(diffMin) < 1) return t("time.now");
  return diffMin > 0 ? t("time.in_min", { n: diffMin }) : t("time.min_ago", { n: -diffMin });
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Announce a short message to everyone, screen readers included. */
export function toast(message, kind = "info") {
  let box = document.getElementById("toasts");
  if (!box) {
    box = el("div", { id: "toasts", class: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(box);
  }
  const item = el("div", { class: `toast toast-${kind}` }, message);
  box.append(item);
  setTimeout(() => item.remove(), kind === "error" ? 8000 : 4000);
}

export function startClock(node) {
  const tick = () => {
    node.textContent = new Date().toLocaleTimeString(lang === "en" ? "en-GB" : "ja-JP", {
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
  };
  tick();
  setInterval(tick, 1000);
}

/** Header: user name, role, clock and sign-out. */
export function initHeader(s, { logoutUrl = "/login" } = {}) {
  const name = document.querySelector("[data-user-name]");
  if (name) name.textContent = s.user.display_name || s.user.username;
  const clock = document.querySelector("[data-clock]");
  if (clock) startClock(clock);
  for (const btn of document.querySelectorAll("[data-logout]")) {
    btn.addEventListener("click", async () => {
      try {
        await api("/api/v1/auth/token", { method: "DELETE" });
      } catch {
        /* signing out locally is enough when the server is unreachable */
      }
      clearSession();
      location.replace(logoutUrl);
    });
  }
}

/** Run ``fn`` once at a time: while it runs, ``button`` (and every submit button of
 * ``form``) is disabled and further calls are ignored, so that a double click sends
 * one request. Resolves to ``fn``'s result (undefined when ignored). */
export async function once(target, fn) {
  if (target.dataset.busy === "1") return undefined;
  target.dataset.busy = "1";
  const buttons = target.tagName === "FORM" ? [...target.querySelectorAll("button[type=submit], button:not([type])")] : [target];
  const before = buttons.map((b) => b.disabled);
  for (const b of buttons) b.disabled = true;
  target.setAttribute("aria-busy", "true");
  try {
    return await fn();
  } finally {
    delete target.dataset.busy;
    target.removeAttribute("aria-busy");
    buttons.forEach((b, i) => {
      if (b.isConnected) b.disabled = before[i];
    });
  }
}

/** A form's submit handler guarded by ``once``: the browser's own validation bubbles
 * are off (``novalidate``: the page says what is wrong, in its language). */
export function onSubmit(form, handler) {
  form.noValidate = true;
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    once(form, () => handler(ev));
  });
  armSubmit(form);
}

/** Enable a form's submit buttons that the page ships disabled (``data-until-ready``):
 * until its handler is attached, a click would submit the form natively. */
export function armSubmit(form) {
  for (const b of form.querySelectorAll("button[data-until-ready]")) {
    b.disabled = false;
    b.removeAttribute("data-until-ready");
  }
}

// A count badge: its number, and data-count for the style (nothing waiting is no alarm).
export function setCount(node, n) {
  if (!node) return;
  node.textContent = String(n);
  node.dataset.count = String(n);
}

/** Replace a node's children, skipping null/false (replaceChildren would print "null"). */
export function fill(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}
