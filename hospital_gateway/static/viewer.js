// The ER viewer of one transport's live stream: video (H.264 through WebCodecs,
// or JPEG), the ECG drawn on a canvas, the latest vitals, the latency and whether
// the stream is live. It reconnects with backoff, except after a refusal (1008).
//
//   import { mountViewer } from "/viewer/viewer.js";
//   const viewer = mountViewer(element, { relayUrl, transportId, token, lang: "ja" });
//   (``codes: true`` adds the relay's refusal code to the sentence, for operators)
//   viewer.close();
//
// The relay's patient analysis (``analysis`` messages) is shown under the status
// line: the rhythm with its confidence, the heart rate from the R peaks, NEWS2 and the
// shock index with trend arrows, and each alert with its reason, all labelled as
// decision support, never as a diagnosis.
//
// The status line, vital labels and analysis speak Japanese or English (``lang``,
// default English). A page with its own dictionaries passes ``t(key, vars)`` instead: the
// keys are the ``viewer.*`` ones below; a key it does not know falls back to ours.
// A refusal is said as a sentence (``viewer.refused_<code>``, else the page's
// ``error.<code>``, else a general one), never as the relay's raw code.
//
// The binary frame header (32 bytes, big-endian) is documented in docs/streaming.md.

const HEADER_SIZE = 32;
const KIND = { 1: "video_h264", 2: "video_jpeg", 3: "ecg", 4: "vitals", 5: "control", 6: "event" };
const STALE_AFTER_MS = 3000;
const ECG_SECONDS = 5;

function parseHeader(buf) {
  if (buf.byteLength < HEADER_SIZE) return null;
  const v = new DataView(buf);
  if (v.getUint8(0) !== 0x45 || v.getUint8(1) !== 0x56 || v.getUint8(2) !== 1) return null;
  const length = v.getUint32(28);
  if (HEADER_SIZE + length !== buf.byteLength) return null;
  return {
    kind: KIND[v.getUint8(3)] || "unknown",
    keyframe: (v.getUint8(4) & 1) === 1,
    transportId: v.getUint32(8),
    seq: Number(v.getBigUint64(12)),
    captureUs: Number(v.getBigUint64(20)),
    payload: new Uint8Array(buf, HEADER_SIZE, length),
  };
}

// The built-in dictionaries; the ER pages carry the same keys in ems/web/static/i18n.
export const MESSAGES = {
  en: {
    "viewer.connecting": "connecting…",
    "viewer.live": "LIVE",
    "viewer.stale": "stale",
    "viewer.refused": "Not shown: {reason}",
    "viewer.refused_other": "the relay refused this stream.",
    "viewer.refused_unauthenticated": "sign in again.",
    "viewer.refused_invalid_token": "your session has ended; sign in again.",
    "viewer.refused_role_forbidden": "your role may not watch live streams.",
    "viewer.refused_record_forbidden": "your role may not see medical data.",
    "viewer.refused_not_your_hospital": "this patient is not coming to your hospital.",
    "viewer.refused_off_duty": "you are off duty.",
    "viewer.refused_transport_ended": "the transport has ended.",
    "viewer.refused_transport_completed": "the patient has been handed over.",
    "viewer.refused_transport_cancelled": "the transport was cancelled.",
    "viewer.refused_record_grace_expired": "the transport ended too long ago.",
    "viewer.refused_transport_not_found": "no such transport.",
    "viewer.refused_access_revoked": "your access to this stream has ended.",
    "viewer.refused_relay_unavailable": "the relay cannot check access now; try again later.",
    "viewer.latency": "latency {ms}",
    "viewer.frames": "{n} frames",
    "viewer.frames_one": "{n} frame",
    "viewer.hr": "HR",
    "viewer.spo2": "SpO₂ %",
    "viewer.bp_sys": "BP sys",
    "viewer.bp_dia": "BP dia",
    "viewer.rr": "RR",
    "viewer.temp_c": "Temp °C",
    "viewer.decision_support": "decision support, not a diagnosis",
    "viewer.rhythm_sinus": "sinus rhythm",
    "viewer.rhythm_af": "atrial fibrillation",
    "viewer.rhythm_vt": "ventricular tachycardia",
    "viewer.rhythm_vf": "ventricular fibrillation",
    "viewer.rhythm_asystole": "asystole",
    "viewer.rhythm_unknown": "rhythm unclear (noisy signal)",
    "viewer.shockable": "shockable",
    "viewer.not_shockable": "not shockable",
    "viewer.confidence": "confidence {pct}%",
    "viewer.analysis_hr": "HR (ECG)",
    "viewer.news2": "NEWS2",
    "viewer.news2_partial": "NEWS2 is partial: {parameters} not measured",
    "viewer.shock_index": "Shock index",
    "viewer.trend_up": "rising",
    "viewer.trend_down": "falling",
    "viewer.trend_flat": "steady",
    "viewer.alert_news2_urgent": "NEWS2 {news2}: urgent response threshold ({threshold}) reached",
    "viewer.alert_news2_emergency": "NEWS2 {news2}: emergency response threshold ({threshold}) reached",
    "viewer.alert_news2_red_parameter": "A single NEWS2 parameter scored 3: {parameters}",
    "viewer.alert_shock_index_rising": "Shock index {shock_index} (≥ {threshold}), rising from {lowest_recent}",
    "viewer.alert_shockable_rhythm": "Shockable rhythm: {rhythm_name}",
    "viewer.param_respiration_rate": "respiration rate",
    "viewer.param_spo2": "SpO₂",
    "viewer.param_systolic_bp": "systolic BP",
    "viewer.param_pulse": "pulse",
    "viewer.param_temperature": "temperature",
    "viewer.param_consciousness": "consciousness",
    "viewer.param_supplemental_oxygen": "supplemental oxygen",
  },
  ja: {
    "viewer.connecting": "接続中…",
    "viewer.live": "ライブ",
    "viewer.stale": "途絶",
    "viewer.refused": "表示できません：{reason}",
    "viewer.refused_other": "中継サーバーがこの映像の表示を拒否しました。",
    "viewer.refused_unauthenticated": "もう一度ログインしてください。",
    "viewer.refused_invalid_token": "ログインの有効期限が切れました。もう一度ログインしてください。",
    "viewer.refused_role_forbidden": "この役割ではライブ映像を見られません。",
    "viewer.refused_record_forbidden": "この役割では医療情報を見られません。",
    "viewer.refused_not_your_hospital": "この患者は貴院への搬送ではありません。",
    "viewer.refused_off_duty": "勤務時間外です。",
    "viewer.refused_transport_ended": "搬送は終了しました。",
    "viewer.refused_transport_completed": "患者は引き継ぎ済みです。",
    "viewer.refused_transport_cancelled": "搬送は取り消されました。",
    "viewer.refused_record_grace_expired": "搬送の終了から時間が経ちすぎています。",
    "viewer.refused_transport_not_found": "該当する搬送がありません。",
    "viewer.refused_access_revoked": "この映像を見る権限がなくなりました。",
    "viewer.refused_relay_unavailable": "中継サーバーが権限を確認できません。しばらくしてから再度お試しください。",
    "viewer.latency": "遅延 {ms}",
    "viewer.frames": "{n} フレーム",
    "viewer.hr": "心拍数",
    "viewer.spo2": "SpO₂ %",
    "viewer.bp_sys": "収縮期血圧",
    "viewer.bp_dia": "拡張期血圧",
    "viewer.rr": "呼吸数",
    "viewer.temp_c": "体温 °C",
    "viewer.decision_support": "判断支援（診断ではありません）",
    "viewer.rhythm_sinus": "洞調律",
    "viewer.rhythm_af": "心房細動",
    "viewer.rhythm_vt": "心室頻拍",
    "viewer.rhythm_vf": "心室細動",
    "viewer.rhythm_asystole": "心静止",
    "viewer.rhythm_unknown": "判定できません（ノイズ）",
    "viewer.shockable": "電気ショック適応",
    "viewer.not_shockable": "電気ショック非適応",
    "viewer.confidence": "確信度 {pct}%",
    "viewer.analysis_hr": "心拍数（心電図）",
    "viewer.news2": "NEWS2",
    "viewer.news2_partial": "NEWS2 は一部のみ：{parameters} が未測定",
    "viewer.shock_index": "ショック指数",
    "viewer.trend_up": "上昇",
    "viewer.trend_down": "低下",
    "viewer.trend_flat": "横ばい",
    "viewer.alert_news2_urgent": "NEWS2 {news2}：緊急対応の基準（{threshold}）に達しました",
    "viewer.alert_news2_emergency": "NEWS2 {news2}：救急対応の基準（{threshold}）に達しました",
    "viewer.alert_news2_red_parameter": "NEWS2 の単一項目が 3 点：{parameters}",
    "viewer.alert_shock_index_rising": "ショック指数 {shock_index}（{threshold} 以上）、{lowest_recent} から上昇中",
    "viewer.alert_shockable_rhythm": "電気ショック適応の波形：{rhythm_name}",
    "viewer.param_respiration_rate": "呼吸数",
    "viewer.param_spo2": "SpO₂",
    "viewer.param_systolic_bp": "収縮期血圧",
    "viewer.param_pulse": "脈拍",
    "viewer.param_temperature": "体温",
    "viewer.param_consciousness": "意識レベル",
    "viewer.param_supplemental_oxygen": "酸素投与",
  },
};

/** The sentence for a refusal ``code``, through translator ``tr`` and the page's own
 * ``t`` (its ``error.<code>``), never the code itself. */
export function refusalText(code, tr, t) {
  const own = tr(`viewer.refused_${code}`);
  let reason = own !== `viewer.refused_${code}` ? own : null;
  if (!reason && typeof t === "function") {
    const text = t(`error.${code}`);
    if (text && text !== `error.${code}`) reason = text;
  }
  return tr("viewer.refused", { reason: reason || tr("viewer.refused_other") });
}

// A change smaller than this between the oldest and the newest reading of a trend
// is "steady": NEWS2 moves in whole points, the shock index jitters by ±0.06 on a
// moving ambulance (ems/analysis/vitals.py).
export const TREND_DEADBAND = { news2: 1, shock_index: 0.1 };

/** "up", "down" or "flat" for a trend (oldest first); nulls are skipped. */
export function trendOf(values, deadband) {
  const known = (values || []).filter((v) => typeof v === "number");
  if (known.length < 2) return "flat";
  const change = known[known.length - 1] - known[0];
  if (change >= deadband - 1e-9) return "up";
  if (change <= -deadband + 1e-9) return "down";
  return "flat";
}

export const TREND_ARROW = { up: "↑", down: "↓", flat: "→" };

/** The rhythm line: "ventricular fibrillation · shockable · confidence 64% · decision support…". */
export function rhythmText(ecg, tr) {
  const name = tr(`viewer.rhythm_${ecg.rhythm}`);
  const parts = [name];
  if (ecg.rhythm !== "unknown") parts.push(tr(ecg.shockable ? "viewer.shockable" : "viewer.not_shockable"));
  parts.push(tr("viewer.confidence", { pct: Math.round(ecg.confidence * 100) }), tr("viewer.decision_support"));
  return parts.join(" · ");
}

/** An alert in the page's language, from its ``reason`` and ``values``; the relay's
 * English ``message`` when the reason is new to this viewer. */
export function alertText(alert, tr) {
  const key = `viewer.alert_${alert.reason}`;
  const vars = { ...(alert.values || {}) };
  if (Array.isArray(vars.parameters)) vars.parameters = vars.parameters.map((p) => tr(`viewer.param_${p}`)).join(", ");
  if (vars.rhythm) vars.rhythm_name = tr(`viewer.rhythm_${vars.rhythm}`);
  const text = tr(key, vars);
  return text === key ? alert.message : text;
}

/** "NEWS2 is partial: pulse, SpO₂ not measured" when the reading lacked parameters
 * (they score nothing), else null. */
export function partialText(vitals, tr) {
  const missing = vitals?.news2_missing || [];
  if (!missing.length) return null;
  return tr("viewer.news2_partial", { parameters: missing.map((p) => tr(`viewer.param_${p}`)).join(", ") });
}

function fillIn(text, vars) {
  return text.replace(/\{(\w+)\}/g, (m, k) => (vars[k] ?? m));
}

/** A translator for ``lang`` that prefers the page's own ``t`` when it knows the key. */
export function translator({ lang, t } = {}) {
  return (key, vars = {}) => {
    if (typeof t === "function") {
      const text = t(key, vars);
      if (text && text !== key) return text;
    }
    const code = String((typeof lang === "function" ? lang() : lang) || "en").slice(0, 2);
    const table = MESSAGES[code] || MESSAGES.en;
    // A count picks the language's plural form where the table has one ("1 frame").
    const n = Number(vars.n);
    const form =
      "n" in vars && Number.isFinite(n)
        ? table[`${key}_${new Intl.PluralRules(MESSAGES[code] ? code : "en").select(n)}`]
        : undefined;
    return fillIn(form ?? table[key] ?? MESSAGES.en[key] ?? key, vars);
  };
}

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
}

export function mountViewer(element, { relayUrl, transportId, token, lang, t, codes = false } = {}) {
  const tr = translator({ lang, t });
  const root = el("div", { class: "ems-viewer" });
  const status = el("div", { class: "ems-viewer-status", "data-state": "connecting" }, tr("viewer.connecting"));
  const video = el("canvas", { class: "ems-viewer-video", width: "640", height: "360" });
  const ecg = el("canvas", { class: "ems-viewer-ecg", width: "640", height: "120" });
  const vitals = el("dl", { class: "ems-viewer-vitals" });
  // The analysis, prominent: alerts first, then the rhythm and the scores.
  const alerts = el("ul", { class: "ems-viewer-alerts", role: "alert", "aria-live": "assertive" });
  const analysis = el("div", { class: "ems-viewer-analysis", hidden: "" });
  root.append(status, alerts, analysis, video, ecg, vitals);
  element.replaceChildren(root);

  const videoCtx = video.getContext("2d");
  const ecgCtx = ecg.getContext("2d");
  const state = {
    framesDecoded: 0,
    framesReceived: 0,
    latencyMs: null,
    live: false,
    lastFrameAt: 0,
    codec: "avc1.4d001f",
    ecgRate: 250,
    ecg: [],
    closed: false,
    refused: null,
    analysis: null,
    alerts: [], // newest first, each {alert, at}
  };
  let ws = null;
  let decoder = null;
  let waitKey = true;
  let backoff = 500;
  let rafId = 0;

  function publish() {
    element.dataset.framesDecoded = String(state.framesDecoded);
    element.dataset.state = state.refused ? "refused" : state.live ? "live" : "stale";
    element.dataset.latencyMs = state.latencyMs == null ? "" : String(Math.round(state.latencyMs));
    status.dataset.state = element.dataset.state;
    const lat = state.latencyMs == null ? "–" : `${Math.round(state.latencyMs)} ms`;
    element.dataset.refusedCode = state.refused || "";
    // ``codes``: the operators' standalone page adds the relay's code for diagnosis.
    status.textContent = state.refused
      ? refusalText(state.refused, tr, t) + (codes ? ` (${state.refused})` : "")
      : [state.live ? tr("viewer.live") : tr("viewer.stale"), tr("viewer.latency", { ms: lat }), tr("viewer.frames", { n: state.framesDecoded })].join(" · ");
    const code = typeof lang === "function" ? lang() : lang;
    if (code) status.lang = String(code);
  }

  function shown(captureUs) {
    state.framesDecoded += 1;
    // Capture clock (tablet) vs. display clock (ER): both NTP-synchronised.
    state.latencyMs = Date.now() - captureUs / 1000;
    publish();
  }

  function draw(image, captureUs) {
    const w = image.displayWidth || image.width;
    const h = image.displayHeight || image.height;
    if (w && (video.width !== w || video.height !== h)) {
      video.width = w;
      video.height = h;
    }
    videoCtx.drawImage(image, 0, 0, video.width, video.height);
    shown(captureUs);
  }

  function newDecoder() {
    if (typeof VideoDecoder === "undefined") return null;
    const d = new VideoDecoder({
      output: (frame) => {
        draw(frame, frame.timestamp);
        frame.close();
      },
      error: () => {
        // A broken stream: start again on the next keyframe.
        decoder = null;
        waitKey = true;
      },
    });
    d.configure({ codec: state.codec, optimizeForLatency: true });
    return d;
  }

  function onH264(f) {
    if (waitKey && !f.keyframe) return;
    if (!decoder || decoder.state === "closed") {
      if (!f.keyframe) return;
      decoder = newDecoder();
      if (!decoder) return;
    }
    // A decoder that fell behind drops its backlog and restarts at a keyframe.
    if (decoder.decodeQueueSize > 8) {
      if (!f.keyframe) return;
      decoder.reset();
      decoder.configure({ codec: state.codec, optimizeForLatency: true });
    }
    waitKey = false;
    decoder.decode(
      new EncodedVideoChunk({ type: f.keyframe ? "key" : "delta", timestamp: f.captureUs, data: f.payload }),
    );
  }

  async function onJpeg(f) {
    const bitmap = await createImageBitmap(new Blob([f.payload], { type: "image/jpeg" }));
    draw(bitmap, f.captureUs);
    bitmap.close();
  }

  function onEcg(f) {
    const v = new DataView(f.payload.buffer, f.payload.byteOffset, f.payload.byteLength);
    if (v.byteLength < 4) return;
    state.ecgRate = v.getUint16(0, true);
    const n = v.getUint16(2, true);
    for (let i = 0; i < n && 4 + 2 * i + 1 < v.byteLength; i++) state.ecg.push(v.getInt16(4 + 2 * i, true));
    const keep = state.ecgRate * ECG_SECONDS;
    if (state.ecg.length > keep) state.ecg.splice(0, state.ecg.length - keep);
  }

  function onVitals(f) {
    const values = JSON.parse(new TextDecoder().decode(f.payload));
    state.vitals = values;
    renderVitals();
  }

  function renderVitals() {
    const values = state.vitals;
    if (!values) return;
    vitals.replaceChildren();
    for (const key of ["hr", "spo2", "bp_sys", "bp_dia", "rr", "temp_c"]) {
      // One <div> per label and figure (allowed in a <dl>): the layout keeps them together.
      const pair = el("div", { class: "ems-viewer-vital" });
      pair.append(el("dt", { title: tr(`viewer.${key}`) }, tr(`viewer.${key}`)), el("dd", { "data-vital": key }, values[key] == null ? "–" : String(values[key])));
      vitals.append(pair);
    }
  }

  const MAX_ALERTS = 5;

  function onAnalysis(msg) {
    state.analysis = msg;
    for (const alert of msg.alerts || []) state.alerts.unshift({ alert, at: msg.at });
    state.alerts.splice(MAX_ALERTS);
    // The alert list (role=alert) is rebuilt only when it changed: a screen reader
    // announces it anew each time.
    renderAnalysis((msg.alerts || []).length > 0);
  }

  function renderAnalysis(withAlerts = true) {
    const a = state.analysis;
    if (!a) return;
    element.dataset.rhythm = a.ecg ? a.ecg.rhythm : "";
    element.dataset.shockable = a.ecg ? String(a.ecg.shockable) : "";
    element.dataset.news2 = a.vitals ? String(a.vitals.news2) : "";
    analysis.hidden = false;
    analysis.dataset.shockable = element.dataset.shockable;
    const rows = [];
    if (a.ecg) {
      const line = el("p", { class: "ems-viewer-rhythm", "data-rhythm": a.ecg.rhythm }, rhythmText(a.ecg, tr));
      if (a.ecg.shockable) line.style.cssText = "color:#fff;background:#b00020;font-weight:bold;padding:.2em .4em";
      rows.push(line);
    }
    const figures = el("dl", { class: "ems-viewer-scores" });
    const figure = (key, value, arrow, trendKey) => {
      const pair = el("div", { class: "ems-viewer-vital" });
      const dd = el("dd", { "data-analysis": key }, value == null ? "–" : String(value));
      if (arrow) {
        const span = el("span", { class: "ems-viewer-trend", "data-trend": arrow, title: tr(`viewer.trend_${trendKey}`) }, ` ${TREND_ARROW[arrow]}`);
        dd.append(span);
      }
      pair.append(el("dt", {}, tr(`viewer.${key}`)), dd);
      figures.append(pair);
    };
    if (a.ecg) figure("analysis_hr", a.ecg.heart_rate_bpm, null);
    if (a.vitals) {
      const n = trendOf(a.vitals.news2_trend, TREND_DEADBAND.news2);
      const si = trendOf(a.vitals.shock_index_trend, TREND_DEADBAND.shock_index);
      figure("news2", a.vitals.news2, n, n);
      figure("shock_index", a.vitals.shock_index == null ? null : a.vitals.shock_index.toFixed(2), si, si);
    }
    rows.push(figures);
    const partial = partialText(a.vitals, tr);
    if (partial) rows.push(el("p", { class: "ems-viewer-partial", "data-analysis": "news2_missing" }, partial));
    if (!a.ecg) rows.push(el("p", { class: "ems-viewer-label" }, tr("viewer.decision_support")));
    analysis.replaceChildren(...rows);
    if (!withAlerts) return;
    alerts.replaceChildren(
      ...state.alerts.map(({ alert, at }) => {
        const time = new Date(at).toLocaleTimeString(typeof lang === "function" ? lang() : lang || "en", { hour: "2-digit", minute: "2-digit" });
        const item = el("li", { class: "ems-viewer-alert", "data-reason": alert.reason }, `${time} ${alertText(alert, tr)} (${tr("viewer.decision_support")})`);
        item.style.cssText = "color:#fff;background:#b00020;font-weight:bold;padding:.3em .5em;margin:.2em 0;list-style:none";
        return item;
      }),
    );
  }

  function onControl(f) {
    const info = JSON.parse(new TextDecoder().decode(f.payload));
    if (info.codec && info.codec !== "jpeg" && info.codec !== state.codec) {
      state.codec = info.codec;
      if (decoder && decoder.state !== "closed") decoder.close();
      decoder = null;
      waitKey = true;
    }
  }

  function drawEcg() {
    const w = ecg.width;
    const h = ecg.height;
    ecgCtx.fillStyle = "#001a00";
    ecgCtx.fillRect(0, 0, w, h);
    const samples = state.ecg;
    if (samples.length > 1) {
      const span = state.ecgRate * ECG_SECONDS;
      ecgCtx.strokeStyle = "#33ff66";
      ecgCtx.lineWidth = 1.5;
      ecgCtx.beginPath();
      // ±1.5 mV fills the strip.
      samples.forEach((uv, i) => {
        const x = (i / span) * w;
        const y = h / 2 - (uv / 1500) * (h / 2);
        if (i === 0) ecgCtx.moveTo(x, y);
        else ecgCtx.lineTo(x, y);
      });
      ecgCtx.stroke();
    }
    const live = Date.now() - state.lastFrameAt < STALE_AFTER_MS;
    if (live !== state.live) {
      state.live = live;
      publish();
    }
    rafId = requestAnimationFrame(drawEcg);
  }

  function onFrame(buf) {
    const f = parseHeader(buf);
    if (!f || f.transportId !== Number(transportId)) return;
    state.framesReceived += 1;
    state.lastFrameAt = Date.now();
    if (f.kind === "video_h264") onH264(f);
    else if (f.kind === "video_jpeg") onJpeg(f);
    else if (f.kind === "ecg") onEcg(f);
    else if (f.kind === "vitals") onVitals(f);
    else if (f.kind === "control") onControl(f);
  }

  let lastError = "";

  function connect() {
    if (state.closed) return;
    ws = new WebSocket(`${relayUrl.replace(/\/$/, "")}/v1/transports/${transportId}/view`);
    ws.binaryType = "arraybuffer";
    ws.onopen = () => ws.send(JSON.stringify({ type: "hello", token }));
    ws.onmessage = (ev) => {
      if (typeof ev.data === "string") {
        const msg = JSON.parse(ev.data);
        if (msg.type === "welcome") backoff = 500;
        if (msg.type === "analysis") onAnalysis(msg);
        // A refusal is an error event followed by a close with 1008 (policy): the
        // code is the access policy's own, whatever rule it was.
        if (msg.type === "error") lastError = msg.code;
        return;
      }
      onFrame(ev.data);
    };
    ws.onclose = (ev) => {
      waitKey = true;
      if (ev.code === 1008) {
        state.refused = lastError || "refused";
        publish();
        return;
      }
      if (state.closed) return;
      setTimeout(connect, backoff * (0.5 + Math.random()));
      backoff = Math.min(backoff * 2, 10000);
    };
  }

  publish();
  connect();
  rafId = requestAnimationFrame(drawEcg);
  // Keep the live/stale flag honest even when the tab does not paint.
  const staleTimer = setInterval(() => {
    const live = Date.now() - state.lastFrameAt < STALE_AFTER_MS;
    if (live !== state.live) {
      state.live = live;
      publish();
    }
  }, 500);

  return {
    state,
    /** Redraw the labels, e.g. after the page switched language. */
    relabel() {
      publish();
      renderVitals();
      renderAnalysis();
    },
    close() {
      state.closed = true;
      clearInterval(staleTimer);
      cancelAnimationFrame(rafId);
      if (decoder && decoder.state !== "closed") decoder.close();
      if (ws) ws.close(1000);
    },
  };
}
