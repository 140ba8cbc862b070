"""How long a crew's request for the doctor's instruction takes to reach the MC console.

``instruction_to_console_ms_p95``: from the moment the tablet sends
``POST /transports/{id}/instruction-requests`` to the moment the request arrives on the
MC doctor's live event stream (``GET /api/v1/events``, which the console reads and
draws from the event's payload without asking again), on loopback, through the
production stack: gunicorn (2 workers), PostgreSQL and Redis pub/sub between the
workers. The target is 300 ms (issue: the doctor's instruction).

Each of the ``N`` requests is for a transport of its own unit, one at a time, with the
console's stream held open for the whole run as a doctor's page holds it. The page's
drawing after the event arrives is not included (a few milliseconds on the console's
own state module).
"""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import statistics
import threading
import time
import urllib.request
from typing import Any

from bench.stack import Stack, drop_database, recreate_database, seed_population

N = 60
DATABASE = "ems_bench_instruction"


def _mc_doctor_token(url: str, hospital_id: int) -> str:
    from ems.auth.models import Role, User
    from ems.auth.service import issue_token
    from ems.db import Database

    db = Database(url)
    try:
        with db.session_scope() as s:
            user = User(
                username="bench-mc",
                password_hash="!",
                role=Role.MC_DOCTOR,
                display_name="MC",
                hospital_id=hospital_id,
            )
            s.add(user)
            s.flush()
            return issue_token(session=s, user=user, ttl_s=3600)[0]
    finally:
        db.engine.dispose()


def _call(base: str, method: str, path: str, token: str, body: Any = None) -> Any:
    req = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.load(resp)


class Console:
    """The MC console's live event stream, read on a thread: the arrival time of every
    ``instruction.*`` event by request id."""

    def __init__(self, base: str, token: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=60)
        self.sock.sendall(
            (
                f"GET /api/v1/events HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
            ).encode()
        )
        self.arrived: dict[int, float] = {}
        self.ready = threading.Event()
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        buf = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            now = time.perf_counter()
            buf += chunk
            if not self.ready.is_set() and b"\r\n\r\n" in buf:
                self.ready.set()
            while b"\n\n" in buf:
                block, buf = buf.split(b"\n\n", 1)
                kind, data = "", ""
                for line in block.decode("utf-8", "replace").splitlines():
                    if line.startswith("event:"):
                        kind = line[6:].strip()
                    elif line.startswith("data:"):
                        data += line[5:].strip()
                if kind.startswith("instruction") and data:
                    rid = json.loads(data).get("id")
                    if isinstance(rid, int):
                        with self.changed:
                            self.arrived.setdefault(rid, now)
                            self.changed.notify_all()

    def wait_for(self, rid: int, timeout: float = 10.0) -> float:
        with self.changed:
            self.changed.wait_for(lambda: rid in self.arrived, timeout)
        return self.arrived[rid]

    def close(self) -> None:
        self.sock.close()


def run() -> dict[str, float]:
    url = recreate_database(DATABASE)
    pop = seed_population(url, units=N, dispatchers=1)
    mc_token = _mc_doctor_token(url, pop.hospitals[0])
    stack = Stack(url, workers=2, threads=8, api_port=18100, relay_port=18865)
    try:
        stack.start_server()
        base = stack.api_url
        dispatcher = pop.dispatcher_tokens[0]
        console = Console(base, mc_token)
        if not console.ready.wait(10):
            raise RuntimeError("the MC console's event stream did not open")
        time.sleep(0.5)  # the stream's subscription is confirmed by Redis
        latencies: list[float] = []
        for unit in pop.units:
            lat, lon = pop.unit_positions[unit]
            inc = _call(
                base,
                "POST",
                "/api/v1/incidents",
                dispatcher,
                {"lat": lat + 0.01, "lon": lon, "urgency": "critical", "chief_complaint": "bench"},
            )
            _call(
                base, "POST", f"/api/v1/incidents/{inc['id']}/assign", dispatcher, {"unit_id": unit}
            )
            tid = _call(base, "GET", f"/api/v1/incidents/{inc['id']}", dispatcher)["transport_id"]
            medic = pop.unit_tokens[unit]
            t0 = time.perf_counter()
            asked = _call(
                base,
                "POST",
                f"/api/v1/transports/{tid}/instruction-requests",
                medic,
                {"procedure": "adrenaline", "note": secrets.token_hex(4)},
            )
            latencies.append((console.wait_for(int(asked["id"])) - t0) * 1000)
        console.close()
    finally:
        stack.stop()
        drop_database(DATABASE)
        shutil.rmtree(stack.var_dir, ignore_errors=True)
    latencies.sort()
    return {
        "instruction_to_console_ms_p50": round(statistics.median(latencies), 1),
        "instruction_to_console_ms_p95": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
        "instruction_to_console_ms_max": round(latencies[-1], 1),
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key} = {value}")
