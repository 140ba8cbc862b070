"""``python -m simulation demo`` (``make demo``) runs the whole system with its simulated
region: it prints the pages' URLs, the logins and what is left to people; its units
drive the roads; today's figures after a fast run are minutes a person would
believe; and SIGTERM or SIGHUP stops every process it started, freeing its ports,
as does the next start of a demo left running."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ems.dispatch import osm
from ems.dispatch.optimizer import haversine_m
from ems.dispatch.region import load_region
from simulation.procs import free_port

PASSWORD = "demo-pass-2026"


def _api(url: str, *, token: str = "", body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def _processes_using(var_dir: Path) -> list[int]:
    """Processes whose environment or command line points at this demo's directory."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            seen = (proc / "environ").read_bytes() + (proc / "cmdline").read_bytes()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            if str(var_dir).encode() in seen and state != "Z":
                found.append(int(proc.name))
        except OSError:
            continue
    return [pid for pid in found if pid != os.getpid()]


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class Demo:
    proc: subprocess.Popen[str]
    var_dir: Path
    api: str
    ports: tuple[int, int, int]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def token(self, deadline_s: float = 120) -> str:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.output()[-3000:]
            with contextlib.suppress(OSError):
                if "The demo is running" in self.output():
                    return str(
                        _api(
                            f"{self.api}/api/v1/auth/token",
                            body={"username": "dispatcher", "password": PASSWORD},
                        )["access_token"]
                    )
            time.sleep(0.5)
        raise AssertionError("the demo did not come up:\n" + self.output()[-3000:])

    def stop(self, sig: int) -> float:
        """Send ``sig`` to the demo; returns how long it took to exit."""
        t0 = time.monotonic()
        self.proc.send_signal(sig)
        self.proc.wait(20)
        return time.monotonic() - t0


def _start(var_dir: Path, ports: tuple[int, int, int], *args: str) -> Demo:
    port, relay_port, tablet_port = ports
    log = var_dir.parent / f"demo-{time.monotonic_ns()}.log"
    var_dir.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
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
            "--no-video",
            "--duration",
            "400",
            *args,
        ],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        text=True,
    )
    return Demo(proc, var_dir, f"http://127.0.0.1:{port}", ports, log)


@pytest.fixture
def demos(tmp_path: Path) -> Iterator[list[Demo]]:
    started: list[Demo] = []
    yield started
    for demo in started:
        if demo.proc.poll() is None:
            demo.proc.send_signal(signal.SIGINT)
            try:
                demo.proc.wait(20)
            except subprocess.TimeoutExpired:
                demo.proc.kill()


def _assert_all_gone(demo: Demo) -> None:
    deadline = time.monotonic() + 3
    while _processes_using(demo.var_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_using(demo.var_dir) == [], demo.output()[-2000:]
    for port in demo.ports:
        assert _port_free(port), port


def _road_segments() -> list[tuple[tuple[float, float], tuple[float, float]]]:
    network = osm.network_for_region(load_region("demo").data)
    where = {nid: (lat, lon) for nid, lat, lon in network.nodes}
    pairs = (pair for _, refs, _ in network.ways for pair in itertools.pairwise(refs))
    return [(where[a], where[b]) for a, b in pairs]


def _off_road_m(p: tuple[float, float], segments: list[Any]) -> float:
    best = float("inf")
    near = 0.01  # degrees: only segments around the point can be the nearest
    for (a_lat, a_lon), (b_lat, b_lon) in segments:
        if min(a_lat, b_lat) - near > p[0] or max(a_lat, b_lat) + near < p[0]:
            continue
        if min(a_lon, b_lon) - near > p[1] or max(a_lon, b_lon) + near < p[1]:
            continue
        dx, dy = b_lon - a_lon, b_lat - a_lat
        f = 0.0 if dx == dy == 0 else ((p[1] - a_lon) * dx + (p[0] - a_lat) * dy) / (dx**2 + dy**2)
        f = min(1.0, max(0.0, f))
        best = min(best, haversine_m(p[0], p[1], a_lat + f * dy, a_lon + f * dx))
    return best


def test_a_fast_run_gives_believable_figures_units_drive_and_sigterm_stops_all(
    tmp_path: Path, demos: list[Demo]
) -> None:
    """Fast mode ×18 for about 60 s: some 18 minutes of a demo's life."""
    demo = _start(
        tmp_path / "demo",
        (free_port(), free_port(), free_port()),
        "--speed",
        "18",
        "--interval",
        "150",
    )
    demos.append(demo)
    token = demo.token()
    out = demo.output()
    for url in (f"{demo.api}/dispatch", f"{demo.api}/er", f"http://127.0.0.1:{demo.ports[2]}/"):
        assert url in out
    assert PASSWORD in out and "FAST MODE ×18" in out
    assert "Left to you" in out and "er-midori-central" in out
    pid_file = json.loads((demo.var_dir / "demo.pid").read_text())
    assert pid_file["demo"] == demo.proc.pid
    assert {"server", "relay", "tablet", "region"} <= set(pid_file["children"])

    start = {u["id"]: (u["lat"], u["lon"]) for u in _api(f"{demo.api}/api/v1/units", token=token)}
    people_unit = min(start)  # the first unit: the tablet's, left to people
    moved: dict[int, list[tuple[float, float]]] = {}
    seen_sources: set[str] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(4)
        for u in _api(f"{demo.api}/api/v1/units", token=token):
            here = (u["lat"], u["lon"])
            if here != start[u["id"]] and here not in moved.get(u["id"], []):
                moved.setdefault(u["id"], []).append(here)
        for t in _api(f"{demo.api}/api/v1/transports?active=true", token=token):
            assert t["unit_id"] != people_unit  # never dispatched by the simulator
            if not any(s["at"] for s in t["timeline"] if s["kind"] == "departed_scene"):
                with contextlib.suppress(OSError):
                    rec = _api(
                        f"{demo.api}/api/v1/transports/{t['id']}/hospital-recommendations",
                        token=token,
                    )
                    seen_sources |= {h["source"] for h in rec["hospitals"]}
    stats = _api(f"{demo.api}/api/v1/stats/today", token=token)

    # Units drive: several moved, each through several positions, all on the roads.
    assert len(moved) >= 2, moved
    assert max(len(p) for p in moved.values()) >= 4, moved
    segments = _road_segments()
    for unit_id, points in moved.items():
        for p in points[:-1][:8]:
            assert _off_road_m(p, segments) < 40, (unit_id, p)
    # Every ETA is a road time.
    assert seen_sources == {"valhalla"}, seen_sources
    assert "straight_line" not in demo.output()
    assert "(valhalla)" in demo.output()

    # Today's figures: the fast transports counted in life-like minutes.
    assert stats["simulated"] >= 2, stats
    assert 4 <= stats["call_to_scene_min_mean"] <= 25, stats
    steps = {(i["start"], i["end"]): i for i in stats["intervals"]}
    assert 0.3 <= steps[("call_received", "dispatched")]["mean_min"] <= 3, stats
    contact = steps[("arrived_scene", "patient_contact")]
    if contact["n"]:
        assert 0.5 <= contact["mean_min"] <= 3, stats
    loaded = steps[("patient_contact", "loaded")]
    if loaded["n"]:
        assert 4 <= loaded["mean_min"] <= 12, stats
    if stats["call_to_hospital_min_mean"] is not None:
        assert 15 <= stats["call_to_hospital_min_mean"] <= 120, stats
    # The seeded history is yesterday's and before: every transport of today is new.
    assert stats["transports"] <= 40, stats

    took = demo.stop(signal.SIGTERM)
    assert took < 10, took
    assert "demo stopped" in demo.output()
    _assert_all_gone(demo)
    assert not (demo.var_dir / "demo.pid").exists()


def test_a_leftover_demo_is_stopped_by_the_next_start_and_sighup_stops_all(
    tmp_path: Path, demos: list[Demo]
) -> None:
    ports = (free_port(), free_port(), free_port())
    first = _start(tmp_path / "demo", ports)
    demos.append(first)
    first.token()
    out = first.output()
    assert "life pace" in out.lower()
    # The same demo started again (another terminal, a terminal closed without
    # stopping it): the new one finds the old through its pid file and stops it.
    second = _start(tmp_path / "demo", ports)
    demos.append(second)
    second.token()
    assert first.proc.wait(15) is not None
    assert "left over from before" in second.output(), second.output()[:2000]
    assert json.loads((second.var_dir / "demo.pid").read_text())["demo"] == second.proc.pid

    took = second.stop(signal.SIGHUP)  # the terminal closed
    assert took < 10, took
    _assert_all_gone(second)
