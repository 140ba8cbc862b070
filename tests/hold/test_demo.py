"""``python -m simulation demo`` (``make demo``) runs the whole system with its simulated
region: it prints the pages' URLs and the logins, one 119 call is worked to handover
through the API, and stopping the demo leaves no process behind."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from simulation.procs import free_port


def _api(url: str, *, token: str = "", body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def _processes_using(var_dir: Path) -> list[int]:
    """Processes whose environment points at this demo's directory."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if str(var_dir).encode() in environ.read_bytes():
                found.append(int(environ.parent.name))
        except OSError:
            continue
    return [pid for pid in found if pid != os.getpid()]


def _handed_over_since(api: str, token: str, since: dt.datetime) -> list[int]:
    rows = _api(f"{api}/api/v1/transports", token=token)
    done = []
    for t in rows:
        created = dt.datetime.fromisoformat(t["created_at"])
        steps = {s["kind"]: s["at"] for s in t["timeline"]}
        if created >= since and steps.get("handover"):
            done.append(t["id"])
    return done


def test_the_demo_runs_a_call_to_handover_and_stops_cleanly(tmp_path: Path) -> None:
    var_dir = tmp_path / "demo"
    port, relay_port, tablet_port = free_port(), free_port(), free_port()
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulation",
            "demo",
            "--var-dir",
            str(var_dir),
            "--port",
            str(port),
            "--relay-port",
            str(relay_port),
            "--tablet-port",
            str(tablet_port),
            "--incidents",
            "1",
            "--speed",
            "100",
            "--no-video",
            "--duration",
            "240",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    api = f"http://127.0.0.1:{port}"
    output = ""
    try:
        deadline = time.monotonic() + 180
        token = ""
        handed_over: list[int] = []
        while time.monotonic() < deadline and demo.poll() is None:
            time.sleep(1)
            try:
                if not token:
                    token = _api(
                        f"{api}/api/v1/auth/token",
                        body={"username": "dispatcher", "password": "demo-pass-2026"},
                    )["access_token"]
                handed_over = _handed_over_since(api, token, since)
            except OSError:
                continue
            if handed_over:
                break
        assert handed_over, "no transport reached handover"
        transport = _api(f"{api}/api/v1/transports/{handed_over[0]}", token=token)
        steps = {s["kind"]: s["at"] for s in transport["timeline"]}
        assert all(steps.values()), steps  # every FDMA interval recorded
        assert transport["destination_hospital_id"] is not None
    finally:
        if demo.poll() is None:
            demo.send_signal(signal.SIGINT)
        try:
            output, _ = demo.communicate(timeout=40)
        except subprocess.TimeoutExpired:
            demo.kill()
            output, _ = demo.communicate()
    pids = json.loads((var_dir / "demo-pids.json").read_text())
    assert {"server", "relay", "region"} <= set(pids)
    # The URLs and logins the README promises.
    for url in (f"{api}/dispatch", f"{api}/er", f"http://127.0.0.1:{tablet_port}/"):
        assert url in output, output[:2000]
    assert "demo-pass-2026" in output
    assert "demo stopped" in output, output[-2000:]
    time.sleep(0.5)
    assert _processes_using(var_dir) == [], output[-2000:]
