"""The tablet's outbox on disk: sealed, holding only what is queued, and replayed once
after the agent is killed in the middle of an outage."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ambulance_client.durable import DB_NAME, KEY_NAME, DurableStore
from ambulance_client.outbox import Outbox
from ambulance_client.timeline_outbox import TimelineOutbox
from ems_contracts.frames import Kind
from tests.ambulance_client.test_agent import FakeServer


def _on_disk(state: Path) -> bytes:
    return b"".join(p.read_bytes() for p in state.iterdir() if p.name.startswith(DB_NAME))


def test_the_key_is_the_agents_own_and_nothing_is_stored_in_clear(tmp_path: Path) -> None:
    store = DurableStore(tmp_path / "state")
    outbox = TimelineOutbox(store)
    outbox.add(transport_id=7, kind="patient_contact", token="secret-crew-token")
    records = Outbox(7, store=store)
    records.put(Kind.VITALS, b'{"spo2": 93, "note": "chest-pain-marker"}')

    key = tmp_path / "state" / KEY_NAME
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    raw = _on_disk(tmp_path / "state")
    for clear in (b"patient_contact", b"chest-pain-marker", b"secret-crew-token"):
        assert clear not in raw
    store.close()


def test_queued_events_come_back_with_their_keys_and_leave_once_sent(tmp_path: Path) -> None:
    server = FakeServer()
    server.reachable = False
    first = TimelineOutbox(DurableStore(tmp_path))
    a = first.add(transport_id=7, kind="arrived_scene", token="t")
    b = first.add(transport_id=7, kind="patient_contact", token="t")
    assert first.flush(server) == {}

    again = TimelineOutbox(DurableStore(tmp_path))  # the agent restarted
    assert [(e["key"], e["at"]) for e in again.pending()] == [(a.key, a.at), (b.key, b.at)]
    server.reachable = True
    assert again.flush(server) == {}  # no crew token at hand yet: they wait
    done = again.flush(server, fallback_token="new-crew")
    assert list(done) == [a.key, b.key]
    assert len(TimelineOutbox(DurableStore(tmp_path))) == 0


def test_queued_records_keep_their_sequence_numbers_across_a_restart(tmp_path: Path) -> None:
    first = Outbox(7, store=DurableStore(tmp_path))
    seqs = [first.put(Kind.VITALS, f'{{"hr": {i}}}'.encode()) for i in range(3)]
    first.ack(seqs[0])

    again = Outbox(7, store=DurableStore(tmp_path))
    assert [e.frame.seq for e in again.unsent()] == seqs[1:]
    assert again.unsent()[0].raw == first.unsent()[0].raw
    assert again.put(Kind.VITALS, b"{}") > seqs[-1]  # never a number already used
    assert len(Outbox(8, store=DurableStore(tmp_path))) == 0  # another transport's own


def test_a_tap_on_a_hanging_link_does_not_wait_for_another_flush(tmp_path: Path) -> None:
    import threading

    release = threading.Event()

    class Hanging(FakeServer):
        def call(self, method: str, path: str, **kw: Any) -> Any:
            release.wait(10)
            return super().call(method, path, **kw)

    server = Hanging()
    outbox = TimelineOutbox(DurableStore(tmp_path))
    outbox.add(transport_id=7, kind="arrived_scene", token="t")
    flusher = threading.Thread(target=outbox.flush, args=(server,))
    flusher.start()
    time.sleep(0.1)
    started = time.monotonic()
    outbox.add(transport_id=7, kind="patient_contact", token="t")
    assert outbox.flush(server) == {}
    assert len(outbox.pending()) == 2
    assert time.monotonic() - started < 0.5
    release.set()
    flusher.join(5)
    assert len(outbox) == 0  # the running flush took the new tap along


# --- the drill: SIGKILL during an outage --------------------------------------------------


def _http(url: str, *, method: str = "GET", body: Any = None, headers: Any = None) -> Any:
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        raw = resp.read()
    return json.loads(raw) if raw.strip().startswith((b"{", b"[")) else raw.decode()


class Agent:
    """``ems-ambulance tablet`` in a process of its own."""

    def __init__(self, server_url: str, state_dir: Path, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        exe = Path(sys.executable).with_name("ems-ambulance")
        self.proc = subprocess.Popen(
            [
                str(exe),
                "tablet",
                "--server",
                server_url,
                "--relay",
                "ws://127.0.0.1:9",
                "--listen",
                f"127.0.0.1:{port}",
                "--state-dir",
                str(state_dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                html = _http(f"{self.url}/")
                break
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise AssertionError("the agent did not start") from None
                time.sleep(0.1)
        match = re.search(r'<meta name="tablet-token" content="([^"]+)">', html)
        assert match
        self.page_token = match.group(1)

    def post(self, path: str, body: Any, token: str) -> Any:
        return _http(
            f"{self.url}{path}",
            method="POST",
            body=body,
            headers={
                "Authorization": f"Bearer {token}",
                "X-Tablet-Token": self.page_token,
                "Origin": self.url,
            },
        )

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = _http(f"{self.url}/local/status")
        return out

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture
def system() -> Iterator[Any]:
    from tests.browser.system import running_system

    with running_system() as s:
        yield s


def test_an_agent_killed_during_an_outage_delivers_every_event_once(
    system: Any, tmp_path: Path
) -> None:
    from tests.browser.system import PASSWORD, NetCut, free_port
    from tests.browser.test_flows import _assigned_transport

    transport_id = _assigned_transport(system, system.seeded.paramedic_unit_id, "drill")
    medic = _http(
        f"{system.server_url}/api/v1/auth/token",
        method="POST",
        body={"username": "medic", "password": PASSWORD},
    )["access_token"]
    net = NetCut(int(system.server_url.rsplit(":", 1)[1]))
    state, port = tmp_path / "state", free_port()
    kinds = ["arrived_scene", "patient_contact"]
    agent = Agent(f"http://127.0.0.1:{net.port}", state, port)
    try:
        net.cut()
        for kind in kinds:
            tapped = agent.post(
                "/local/timeline", {"transport_id": transport_id, "kind": kind}, medic
            )
            assert tapped["status"] == "queued"
        assert agent.status()["queued"] == 2
        agent.kill()

        net.restore()
        agent = Agent(f"http://127.0.0.1:{net.port}", state, port)
        # Shown as queued until a crew member signs in again on the tablet.
        assert [e["kind"] for e in agent.status()["pending"]] == kinds
        _http(
            f"{agent.url}/api/v1/auth/token",
            method="POST",
            body={"username": "medic", "password": PASSWORD},
        )
        deadline = time.monotonic() + 20
        while agent.status()["queued"] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert agent.status()["queued"] == 0
    finally:
        agent.stop()
        net.close()

    transport = _http(
        f"{system.server_url}/api/v1/transports/{transport_id}",
        headers={"Authorization": f"Bearer {medic}"},
    )
    recorded = Counter(step.get("kind") for step in transport["timeline"] if step.get("at"))
    assert {k: recorded[k] for k in kinds} == {k: 1 for k in kinds}, transport["timeline"]
    assert os.listdir(state)  # the outbox stayed where it was told
