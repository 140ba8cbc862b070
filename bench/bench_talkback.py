"""Talk-back mouth-to-ear on loopback: the pages' own voice module
(``ems/web/static/js/talk.js``) in Debian's Chromium with a fake microphone, through a
relay process, with real tokens (an MC doctor and the transport's crew).

One page (the doctor) speaks, the other (the crew) hears: Opus encoded with WebCodecs
in 20 ms frames, the frame header stamped with the capture time of the frame's first
sample, relayed on ``/talk``, decoded with WebCodecs and scheduled for playout. The
figure runs from that capture time to when the sample is due at the speaker (playout
time plus the audio output latency the browser reports), so it includes framing,
encoding, the relay, decoding and the jitter buffer. Both pages run in one browser,
on one clock.

- talkback_ms_p50, talkback_ms_p95: over ``PHASE_S`` seconds after ``WARMUP_S``
- talkback_frames_lost_pct: frames sent and never heard (dropped as late or lost)
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.bench_stream import _free_port, _pct, _setup_database, _wait_healthy

ROOT = Path(__file__).resolve().parents[1]
TALK_JS = ROOT / "ems" / "web" / "static" / "js" / "talk.js"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    # Each page plays at once, as the tablet does after the crew's first tap.
    "--autoplay-policy=no-user-gesture-required",
]
WARMUP_S = 3.0
PHASE_S = 20.0

PAGE = """<!doctype html><meta charset="utf-8"><title>talk-back bench</title>
<div id="line"></div>
<script type="module">
import { openTalk } from "/talk.js";
const q = new URLSearchParams(location.search);
const heard = [];
let collecting = false;
let lastPlayed = 0;
const line = openTalk({
  relayUrl: q.get("relay"), transportId: Number(q.get("transport")), token: q.get("token"),
  element: document.getElementById("line"),
  onChange: (st) => {
    if (st.played !== lastPlayed) {
      lastPlayed = st.played;
      if (collecting && st.latencyMs !== null) heard.push(st.latencyMs);
    }
  },
});
window.bench = {
  line,
  start() { collecting = true; heard.length = 0; return line.state.sent; },
  stop() {
    collecting = false;
    return { heard: [...heard], sent: line.state.sent, skipped: line.state.skipped };
  },
};
</script>
"""


class _Pages(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/talk.js"):
            body, ctype = TALK_JS.read_bytes(), "text/javascript; charset=utf-8"
        elif self.path.startswith("/?") or self.path == "/":
            body, ctype = PAGE.encode(), "text/html; charset=utf-8"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _measure(page_url: str, relay_url: str, info: dict[str, object]) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    def open_page(browser: Any, token: object) -> Any:
        page = browser.new_context().new_page()
        page.goto(f"{page_url}/?relay={relay_url}&transport={info['transport_id']}&token={token}")
        page.wait_for_function("window.bench?.line.state.status === 'open'", timeout=20_000)
        return page

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            crew = open_page(browser, info["medic"])
            doctor = open_page(browser, info["doctor"])
            doctor.evaluate("window.bench.line.setMic(true)")
            doctor.wait_for_function("window.bench.line.state.mic === 'on'", timeout=20_000)
            time.sleep(WARMUP_S)
            sent0 = doctor.evaluate("window.bench.start()")
            crew.evaluate("window.bench.start()")
            time.sleep(PHASE_S)
            sent1 = doctor.evaluate("window.bench.stop().sent")
            result = crew.evaluate("window.bench.stop()")
        finally:
            browser.close()
    heard: list[float] = result["heard"]
    sent = max(1, sent1 - sent0)
    return {
        "talkback_ms_p50": round(statistics.median(heard), 1) if heard else float("nan"),
        "talkback_ms_p95": round(_pct(heard, 0.95), 1),
        "talkback_frames_lost_pct": round(max(0.0, 100.0 * (sent - len(heard)) / sent), 2),
    }


def run() -> dict[str, float]:
    if not Path(CHROMIUM).exists():
        raise RuntimeError("Chromium is not installed")
    with tempfile.TemporaryDirectory(prefix="bench_talk_") as tmp:
        db_url = f"sqlite:///{tmp}/bench.sqlite3"
        info = _setup_database(db_url, viewer="doctor")
        port = _free_port()
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "PKI_DIR": f"{tmp}/pki",
            "REDIS_URL": "",
            "LOG_LEVEL": "WARNING",
        }
        relay = subprocess.Popen(
            [sys.executable, "-m", "hospital_gateway.server", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        pages = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Pages))
        threading.Thread(target=pages.serve_forever, daemon=True).start()
        try:
            _wait_healthy(port)
            return _measure(f"http://127.0.0.1:{pages.server_port}", f"ws://127.0.0.1:{port}", info)
        finally:
            pages.shutdown()
            relay.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                relay.wait(10)
            if relay.poll() is None:
                relay.kill()


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key} = {value}")
