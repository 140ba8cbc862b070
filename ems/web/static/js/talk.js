// The voice line between the crew's tablet and the MC doctor's console: Opus through
// WebCodecs, 20 ms frames of 48 kHz mono, on the relay's talk path
// (ws://relay/v1/transports/<id>/talk; docs/streaming.md, "Talk-back"). The relay lets
// on it only the transport's crew and the MC doctor who answers for them, and passes
// each side's frames to the other; nothing on it is stored.
//
//   import { openTalk } from "./talk.js";
//   const line = openTalk({ relayUrl, transportId, token, onChange: (state) => draw(state) });
//   await line.setMic(true);   // after a tap: the browser asks for the microphone
//   line.close();
//
// Listening needs no tap once the page may play sound; a browser that holds sound back
// until the user taps (autoplay) says so in ``state.needsTap`` and ``line.resume()``
// (called from any tap) starts it. What cannot work is said in ``state.unavailable``
// ("webcodecs", "mic", "relay"): the text answer works whatever happens here.
// This module draws nothing; each page draws ``state``. It also marks the element it is
// given (``data-talk-state``, ``data-audio-sent``, ``data-audio-decoded``,
// ``data-audio-latency-ms``) for tests and for operators.

const HEADER_SIZE = 32;
const KIND_AUDIO_OPUS = 7;
const SAMPLE_RATE = 48000;
const FRAME_US = 20000;
const BITRATE = 24000;
// Playout: a frame plays LEAD_S after it is decoded, or right after the one before;
// past MAX_AHEAD_S of queued sound the frame is dropped (a late voice is worse than a gap).
const LEAD_S = 0.04;
const MAX_AHEAD_S = 0.25;
const TARGET_AHEAD_S = 0.08;
const CROWDED_MS = 500;
const LATENCY_WINDOW = 500;

const ENCODER_CONFIG = { codec: "opus", sampleRate: SAMPLE_RATE, numberOfChannels: 1, bitrate: BITRATE, opus: { frameDuration: FRAME_US } };
const DECODER_CONFIG = { codec: "opus", sampleRate: SAMPLE_RATE, numberOfChannels: 1 };

const nowUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000);

/** One audio frame: the 32-byte header (big-endian, ems_contracts/frames.py), then the Opus packet. */
export function encodeAudioFrame(transportId, seq, captureUs, packet) {
  const buf = new ArrayBuffer(HEADER_SIZE + packet.byteLength);
  const v = new DataView(buf);
  v.setUint8(0, 0x45);
  v.setUint8(1, 0x56);
  v.setUint8(2, 1);
  v.setUint8(3, KIND_AUDIO_OPUS);
  v.setUint32(8, transportId);
  v.setBigUint64(12, BigInt(seq));
  v.setBigUint64(20, BigInt(Math.max(0, Math.round(captureUs))));
  v.setUint32(28, packet.byteLength);
  new Uint8Array(buf, HEADER_SIZE).set(packet);
  return buf;
}

/** The audio frame in ``buf``, or null for anything else. */
export function parseAudioFrame(buf) {
  if (buf.byteLength < HEADER_SIZE) return null;
  const v = new DataView(buf);
  if (v.getUint8(0) !== 0x45 || v.getUint8(1) !== 0x56 || v.getUint8(2) !== 1 || v.getUint8(3) !== KIND_AUDIO_OPUS) return null;
  const length = v.getUint32(28);
  if (HEADER_SIZE + length !== buf.byteLength) return null;
  return { transportId: v.getUint32(8), seq: Number(v.getBigUint64(12)), captureUs: Number(v.getBigUint64(20)), payload: new Uint8Array(buf, HEADER_SIZE, length) };
}

/** Whether this browser can speak and hear Opus through WebCodecs. */
export async function talkSupported() {
  if (typeof AudioEncoder === "undefined" || typeof AudioDecoder === "undefined" || typeof EncodedAudioChunk === "undefined") return false;
  try {
    const [enc, dec] = await Promise.all([AudioEncoder.isConfigSupported(ENCODER_CONFIG), AudioDecoder.isConfigSupported(DECODER_CONFIG)]);
    return Boolean(enc.supported && dec.supported);
  } catch {
    return false;
  }
}

function talkUrl(relayUrl, transportId) {
  return `${String(relayUrl).replace(/\/+$/, "")}/v1/transports/${transportId}/talk`;
}

function percentile(values, q) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

export function openTalk({ relayUrl, transportId, token, element = null, onChange = () => {} }) {
  const state = {
    status: "connecting", // connecting | open | refused | closed
    code: null, // the relay's refusal code
    peers: [], // roles of the others on the line
    mic: "off", // off | opening | on
    unavailable: null, // webcodecs | mic | relay
    needsTap: false,
    sent: 0,
    decoded: 0,
    played: 0,
    skipped: 0, // frames left out to keep the delay down
    latencyMs: null,
  };
  const latencies = [];
  let ws = null;
  let closed = false;
  let backoff = 500;
  let retry = null;
  let seq = 0;
  let decoder = null;
  let ctx = null;
  let playAt = 0;
  let crowdedSince = null; // when the queued sound first stayed above TARGET_AHEAD_S
  // Capture times of the frames given to the decoder, in order: the decoder's output
  // carries timestamps of its own count of samples (a sender whose microphone runs a
  // little slow drifts from them), and Opus gives one output per packet, in order.
  const pending = [];
  let capture = null; // { stream, encoder, stop() }

  function changed() {
    if (element) {
      element.dataset.talkState = state.status;
      element.dataset.audioSent = String(state.sent);
      element.dataset.audioDecoded = String(state.decoded);
      if (state.latencyMs !== null) element.dataset.audioLatencyMs = String(Math.round(state.latencyMs));
    }
    onChange(state);
  }

  // --- hearing ------------------------------------------------------------------------------
  function audioContext() {
    if (!ctx) {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return null;
      try {
        ctx = new Ctx({ sampleRate: SAMPLE_RATE, latencyHint: "interactive" });
      } catch {
        ctx = new Ctx({ latencyHint: "interactive" });
      }
      ctx.onstatechange = () => {
        const wasWaiting = state.needsTap;
        state.needsTap = ctx.state === "suspended";
        if (wasWaiting !== state.needsTap) changed();
      };
    }
    if (ctx.state === "suspended") ctx.resume().catch(() => {});
    return ctx;
  }

  function play(data, captureUs) {
    const ac = audioContext();
    try {
      if (!ac || ac.state !== "running") {
        state.needsTap = Boolean(ac);
        return;
      }
      const frames = data.numberOfFrames;
      const buffer = ac.createBuffer(1, frames, data.sampleRate);
      const samples = new Float32Array(frames);
      data.copyTo(samples, { planeIndex: 0, format: "f32-planar" });
      buffer.copyToChannel(samples, 0);
      const now = ac.currentTime;
      const at = Math.max(now + LEAD_S, playAt);
      if (at - now > MAX_AHEAD_S) {
        playAt = now + LEAD_S; // fell behind: start again close to now
        return;
      }
      // A burst leaves more sound queued than the jitter needs; once it stays so for
      // CROWDED_MS, a frame is skipped (20 ms of silence) until the delay is back down.
      if (at - now > TARGET_AHEAD_S) {
        crowdedSince ??= performance.now();
        if (performance.now() - crowdedSince > CROWDED_MS) {
          state.skipped += 1;
          return;
        }
      } else {
        crowdedSince = null;
      }
      const node = ac.createBufferSource();
      node.buffer = buffer;
      node.connect(ac.destination);
      node.start(at);
      playAt = at + frames / data.sampleRate;
      state.played += 1;
      // Mouth to ear: from the first sample's capture to when it leaves the speaker.
      const outS = ac.outputLatency || ac.baseLatency || 0;
      const earMs = performance.timeOrigin + performance.now() + (at - now + outS) * 1000;
      state.latencyMs = earMs - captureUs / 1000;
      latencies.push(state.latencyMs);
      if (latencies.length > LATENCY_WINDOW) latencies.shift();
    } finally {
      data.close();
    }
  }

  function ensureDecoder() {
    if (decoder && decoder.state !== "closed") return decoder;
    pending.length = 0;
    decoder = new AudioDecoder({
      output: (data) => {
        state.decoded += 1;
        play(data, pending.shift() ?? data.timestamp);
        changed();
      },
      error: (e) => console.warn("talk decoder", e),
    });
    decoder.configure(DECODER_CONFIG);
    return decoder;
  }

  function hear(buf) {
    const frame = parseAudioFrame(buf);
    if (!frame || state.unavailable === "webcodecs") return;
    const dec = ensureDecoder();
    pending.push(frame.captureUs);
    if (pending.length > 50) pending.splice(0, pending.length - 50); // a decoder that failed
    dec.decode(new EncodedAudioChunk({ type: "key", timestamp: frame.captureUs, data: frame.payload }));
  }

  // --- the line -------------------------------------------------------------------------------
  function connect() {
    if (closed) return;
    state.status = "connecting";
    changed();
    ws = new WebSocket(talkUrl(relayUrl, transportId));
    ws.binaryType = "arraybuffer";
    ws.onopen = () => ws.send(JSON.stringify({ type: "hello", token }));
    ws.onmessage = (ev) => {
      if (typeof ev.data !== "string") {
        hear(ev.data);
        return;
      }
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (msg.type === "welcome") {
        backoff = 500;
        state.status = "open";
        if (state.unavailable === "relay") state.unavailable = null;
      } else if (msg.type === "talk_peers") {
        state.peers = msg.roles || [];
      } else if (msg.type === "error") {
        state.code = msg.code;
      }
      changed();
    };
    ws.onclose = (ev) => {
      ws = null;
      state.peers = [];
      if (closed) return;
      if (ev.code === 1008) {
        // Refused (or the right ended): no retry, the page says why.
        state.status = "refused";
        stopMic();
        changed();
        return;
      }
      state.status = "connecting";
      if (backoff >= 4000) state.unavailable = state.unavailable || "relay";
      changed();
      retry = setTimeout(connect, backoff * (0.5 + Math.random()));
      backoff = Math.min(backoff * 2, 10000);
    };
  }

  // --- speaking -------------------------------------------------------------------------------
  function send(chunk, captureUs) {
    if (!ws || ws.readyState !== WebSocket.OPEN || state.status !== "open") return;
    // A socket that cannot keep up would only delay the voice: skip the frame.
    if (ws.bufferedAmount > 16 * 1024) return;
    const packet = new Uint8Array(chunk.byteLength);
    chunk.copyTo(packet);
    seq += 1;
    ws.send(encodeAudioFrame(transportId, seq, captureUs, packet));
    state.sent += 1;
    if (state.sent % 25 === 1) changed(); // twice a second is enough for the counters
  }

  async function startMic() {
    if (capture || state.unavailable === "webcodecs") return;
    state.mic = "opening";
    changed();
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true } });
    } catch (e) {
      console.warn("talk microphone", e?.name);
      state.mic = "off";
      state.unavailable = "mic";
      changed();
      return;
    }
    if (closed) {
      stream.getTracks().forEach((tr) => tr.stop());
      return;
    }
    const track = stream.getAudioTracks()[0];
    // AudioData timestamps run on the capture clock: ``offsetUs`` maps them to the wall
    // clock (µs since the epoch) that the frame header carries.
    let offsetUs = 0;
    const encoder = new AudioEncoder({
      output: (chunk) => send(chunk, chunk.timestamp + offsetUs),
      error: (e) => console.warn("talk encoder", e),
    });
    let configured = false;
    const feed = (data) => {
      if (!configured) {
        encoder.configure({ ...ENCODER_CONFIG, sampleRate: data.sampleRate });
        configured = true;
      }
      offsetUs = nowUs() - (data.timestamp + data.duration);
      encoder.encode(data);
      data.close();
    };
    let stop;
    if (typeof MediaStreamTrackProcessor !== "undefined") {
      const reader = new MediaStreamTrackProcessor({ track }).readable.getReader();
      let reading = true;
      (async () => {
        while (reading) {
          const { value, done } = await reader.read().catch(() => ({ done: true }));
          if (done) break;
          if (encoder.state === "closed") value.close();
          else feed(value);
        }
      })();
      stop = () => {
        reading = false;
        reader.cancel().catch(() => {});
      };
    } else {
      // Without MediaStreamTrackProcessor: the samples through Web Audio.
      const ac = audioContext();
      const source = ac.createMediaStreamSource(stream);
      const node = ac.createScriptProcessor(1024, 1, 1);
      node.onaudioprocess = (ev) => {
        const pcm = ev.inputBuffer.getChannelData(0);
        const durationUs = (pcm.length / ac.sampleRate) * 1e6;
        if (encoder.state === "closed") return;
        feed(new AudioData({ format: "f32-planar", sampleRate: ac.sampleRate, numberOfFrames: pcm.length, numberOfChannels: 1, timestamp: nowUs() - durationUs, data: pcm }));
      };
      source.connect(node);
      node.connect(ac.destination);
      stop = () => {
        node.disconnect();
        source.disconnect();
      };
    }
    capture = {
      stop: () => {
        stop();
        stream.getTracks().forEach((tr) => tr.stop());
        if (encoder.state !== "closed") encoder.close();
      },
    };
    state.mic = "on";
    if (state.unavailable === "mic") state.unavailable = null;
    changed();
  }

  function stopMic() {
    capture?.stop();
    capture = null;
    if (state.mic !== "off") {
      state.mic = "off";
      changed();
    }
  }

  talkSupported().then((ok) => {
    if (!ok) {
      state.unavailable = "webcodecs";
      changed();
    }
  });
  connect();

  return {
    state,
    /** Open (true) or close the microphone; call it from a tap. */
    async setMic(on) {
      audioContext(); // the same tap lets the page play the other side's voice
      if (on) await startMic();
      else stopMic();
    },
    /** Let the other side's voice play: call from any tap while ``state.needsTap``. */
    resume() {
      audioContext();
    },
    /** p50/p95 of mouth-to-ear (ms) over the last frames heard. */
    latency() {
      return { n: latencies.length, p50: percentile(latencies, 0.5), p95: percentile(latencies, 0.95) };
    },
    close() {
      closed = true;
      clearTimeout(retry);
      stopMic();
      if (ws) ws.close(1000);
      if (decoder && decoder.state !== "closed") decoder.close();
      if (ctx) ctx.close().catch(() => {});
      state.status = "closed";
      changed();
    },
  };
}
