// Talk-back on the tablet: while the unit's transport is under way, the page keeps the
// transport's voice line to the relay open (shared/talk.js), so that the MC doctor's
// voice plays hands-free as soon as the doctor speaks; the crew's own mic opens with
// one tap and closes with another. What does not work (no WebCodecs Opus, no mic
// permission, no relay) is said in the panel, with the reminder that the doctor's text
// answer arrives as always. The line follows the store: a new transport, a handover or
// signing out closes it.
import { currentLang, el, errorText, fill, onLangChange, session, t } from "./shared/common.js";
import { isLive } from "./shared/domain.js";
import { openTalk } from "./shared/talk.js";

const RELAY_URL = document.querySelector('meta[name="relay-url"]')?.content || "";

let line = null; // { transportId, talk }
let panel = null;
let box = null;
let drawn = ""; // what the panel shows now, but for the counters
let statsNode = null;

function roleText(peers) {
  if (!peers.length) return t("talk.nobody");
  return [...new Set(peers)].map((role) => t(`talk.peer_${role}`)).join(" · ");
}

function refusal(code) {
  const reason = errorText({ code: code || "generic", status: 0 });
  return t("talk.refused", { reason });
}

function statsText(st) {
  return t("talk.stats", { sent: st.sent, heard: st.decoded, ms: st.latencyMs === null ? "—" : `${Math.round(st.latencyMs)} ms` });
}

function draw() {
  if (!box) return;
  if (!line) {
    panel.hidden = true;
    fill(box);
    drawn = "";
    return;
  }
  panel.hidden = false;
  if (!line.talk) return; // opening: drawn once ``openTalk`` returns
  const st = line.talk.state;
  const talk = line.talk;
  // The counters change fifty times a second: they alone never rebuild the buttons
  // (a tap must not land on a button that is being replaced).
  const signature = JSON.stringify([currentLang(), st.status, st.code, st.peers, st.mic, st.unavailable, st.needsTap]);
  if (signature === drawn && statsNode) {
    statsNode.textContent = statsText(st);
    return;
  }
  drawn = signature;
  const unavailable = st.unavailable ? el("p", { class: "notice talk-unavailable", id: "talk-unavailable", role: "status" }, t(`talk.unavailable_${st.unavailable}`), " ", t("talk.text_works")) : null;
  let status;
  if (st.status === "refused") status = refusal(st.code);
  else if (st.status !== "open") status = t("talk.connecting");
  else status = roleText(st.peers);
  const micOn = st.mic === "on";
  fill(
    box,
    el("p", { class: "talk-status", id: "talk-status", dataset: { testid: "talk-status" } }, status),
    st.status === "open" ? el("p", { class: "muted small" }, t("talk.hands_free")) : null,
    el(
      "button",
      {
        type: "button",
        class: `btn btn-xl ${micOn ? "btn-decline" : "btn-primary"}`,
        id: "talk-mic",
        "aria-pressed": micOn ? "true" : "false",
        disabled: st.status !== "open" || st.mic === "opening" || st.unavailable === "webcodecs",
        onclick: () => talk.setMic(!micOn),
      },
      st.mic === "opening" ? t("talk.mic_opening") : micOn ? t("talk.mic_off") : t("talk.mic_on"),
    ),
    micOn ? el("p", { class: "talk-live", role: "status" }, t("talk.mic_live")) : null,
    st.needsTap ? el("button", { type: "button", class: "btn btn-ghost", id: "talk-tap", onclick: () => talk.resume() }, t("talk.tap_to_hear")) : null,
    unavailable,
    (statsNode = el("p", { class: "muted small talk-stats" }, statsText(st))),
  );
}

function close() {
  line?.talk.close();
  line = null;
}

/** Keep the voice line of the unit's live transport open; ``store`` is the page's. */
export function followTalk(store) {
  panel = document.getElementById("talk-panel");
  box = document.getElementById("talk-box");
  if (!panel || !box) return;
  // Any tap lets the doctor's voice play where the browser held sound back.
  document.addEventListener("pointerdown", () => line?.talk.state.needsTap && line.talk.resume(), { capture: true });
  let lang = currentLang();
  const follow = () => {
    const tr = store.state.transport;
    const s = session();
    const wanted = RELAY_URL && s && tr && isLive(tr) ? tr.id : null;
    if ((line?.transportId ?? null) !== wanted) {
      close();
      if (wanted !== null) {
        const transportId = wanted;
        line = { transportId, talk: null };
        line.talk = openTalk({ relayUrl: RELAY_URL, transportId, token: s.token, element: panel, onChange: draw });
      }
      draw();
    }
  };
  store.subscribe(follow);
  onLangChange(() => {
    if (lang !== currentLang()) {
      lang = currentLang();
      draw();
    }
  });
  window.addEventListener("pagehide", close);
  follow();
}
