"""The tablet outbox drill: the agent is killed (SIGKILL) in the middle of an outage.

    python -m bench.outbox_drill --events 5 --vitals 50     # [--json]

``ems-ambulance tablet --state-dir DIR`` runs in a process of its own, its links to the
server and the relay through TCP proxies that can be cut. With the network cut, the
crew taps N timeline steps, asks medical control once, and the stream's monitor queues
at least M vital signs (and the ECG between them); the agent is then killed with
SIGKILL, started again on the same DIR and the network restored. The figures: what was
queued on disk at the kill, what reached the server's database, duplicates, losses,
and the time from reconnection to the last delivery. ``tests/ambulance_client/
test_durable.py`` runs it small and asserts exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from ambulance_client.durable import DurableStore
from bench.faults import TIMELINE, Rig, open_transport, rig, stored_events
from ems_contracts.frames import Kind, decode_frame
from simulation.http import Pool
from simulation.netcut import TcpProxy
from simulation.procs import free_port

STEPS = TIMELINE[:-1]  # a handover would end the stream: the drill stops short of it
PROCEDURE = "iv_fluids"


def http(url: str, *, method: str = "GET", body: Any = None, headers: Any = None) -> Any:
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        raw = resp.read()
    return json.loads(raw) if raw.strip().startswith((b"{", b"[")) else raw.decode()


class Links:
    """The tablet's links to the server and the relay, cut and restored together (the
    proxies run on an event loop of their own)."""

    def __init__(self, api_port: int, relay_port: int) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="netcut", daemon=True).start()
        self.api = TcpProxy("127.0.0.1", api_port)
        self.relay = TcpProxy("127.0.0.1", relay_port)
        self._do(self.api.start(), self.relay.start())

    def _do(self, *coros: Any) -> None:
        async def both() -> None:
            await asyncio.gather(*coros)

        asyncio.run_coroutine_threadsafe(both(), self.loop).result(10)

    def cut(self) -> None:
        self._do(self.api.cut(), self.relay.cut())

    def restore(self) -> None:
        self._do(self.api.restore(), self.relay.restore())

    def close(self) -> None:
        self._do(self.api.stop(), self.relay.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)


class AgentProcess:
    """``ems-ambulance tablet`` in a process of its own, as on the tablet."""

    def __init__(
        self, server_url: str, relay_url: str, state_dir: Path, port: int, *, vitals_every_s: float
    ) -> None:
        self.url = f"http://127.0.0.1:{port}"
        exe = Path(sys.executable).with_name("ems-ambulance")
        self.proc = subprocess.Popen(
            [
                str(exe),
                "tablet",
                "--server",
                server_url,
                "--relay",
                relay_url,
                "--listen",
                f"127.0.0.1:{port}",
                "--state-dir",
                str(state_dir),
                "--codec",
                "jpeg",
                "--vitals-every",
                str(vitals_every_s),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                html = http(f"{self.url}/")
                break
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("the agent did not start") from None
                time.sleep(0.1)
        match = re.search(r'<meta name="tablet-token" content="([^"]+)">', html)
        if not match:
            raise RuntimeError("the page carries no tablet token")
        self.page_token = match.group(1)

    def headers(self, token: str, **extra: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token}",
            "X-Tablet-Token": self.page_token,
            "Origin": self.url,
            **extra,
        }

    def post(self, path: str, body: Any, token: str, **extra: str) -> Any:
        return http(
            f"{self.url}{path}", method="POST", body=body, headers=self.headers(token, **extra)
        )

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = http(f"{self.url}/local/status")
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


def _on_disk(state: Path) -> dict[str, Any]:
    """What the killed agent left queued: keys, sequence numbers by kind, requests."""
    store = DurableStore(state)
    try:
        records: dict[int, dict[str, list[int]]] = {}
        for tid in store.transports_with_records():
            by_kind: dict[str, list[int]] = {"vitals": [], "ecg": [], "other": []}
            for seq, raw in store.records(tid):
                kind = decode_frame(raw).kind
                name = {Kind.VITALS: "vitals", Kind.ECG: "ecg"}.get(kind, "other")
                by_kind[name].append(seq)
            records[tid] = by_kind
        return {
            "event_keys": [e["key"] for e in store.events()],
            "records": records,
            "request_keys": [r["key"] for r in store.requests()],
        }
    finally:
        store.close()


def _vitals_on_disk(state: Path) -> int:
    store = DurableStore(state)
    try:
        return sum(
            1
            for tid in store.transports_with_records()
            for _, raw in store.records(tid)
            if decode_frame(raw).kind is Kind.VITALS
        )
    finally:
        store.close()


def _stored_seqs(db_url: str, transport_id: int) -> dict[str, Counter[int]]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return {
                name: Counter(
                    int(r[0])
                    for r in conn.execute(
                        text(f"SELECT seq FROM {table} WHERE transport_id = :t"),
                        {"t": transport_id},
                    )
                )
                for name, table in (("vitals", "vital_signs"), ("ecg", "ecg_segments"))
            }
    finally:
        engine.dispose()


def _stored_requests(db_url: str, transport_ids: list[int]) -> int:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return sum(
                int(
                    conn.execute(
                        text("SELECT count(*) FROM instruction_requests WHERE transport_id = :t"),
                        {"t": t},
                    ).scalar_one()
                )
                for t in transport_ids
            )
    finally:
        engine.dispose()


def _until(predicate: Any, timeout_s: float, what: str, step_s: float = 0.05) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout_s} s")
        time.sleep(step_s)


def outbox_drill(
    r: Rig,
    *,
    events: int = 5,
    vitals: int = 20,
    vitals_every_s: float = 0.1,
    workdir: Path | None = None,
    timeout_s: float = 60.0,
) -> dict[str, Any]:
    """Kill the agent mid-outage with N events and ≥ M vitals queued; restart; measure."""
    workdir = workdir or Path(tempfile.mkdtemp(prefix="ems-outbox-drill-"))
    # A tablet serves one unit, on one transport at a time, whose timeline has each FDMA
    # step once: N is at most the steps before the handover.
    if not 0 < events <= len(STEPS):
        raise ValueError(f"events: 1 to {len(STEPS)} (the FDMA steps before the handover)")
    tids = [asyncio.run(_open(r, 0))]
    crews = [r.medic(r.pop.units[0])]
    links = Links(r.stack.api_port, r.stack.relay_port)
    state, port = workdir / "state", free_port()
    server_url = f"http://{links.api.url_host}"
    relay_url = f"ws://{links.relay.url_host}"
    agent = AgentProcess(server_url, relay_url, state, port, vitals_every_s=vitals_every_s)
    try:
        # Streaming, connected, before the tunnel.
        agent.post("/local/stream/start", {"transport_id": tids[0]}, crews[0])
        _until(
            lambda: (agent.status()["stream"].get("stats") or {}).get("connected"),
            20,
            "stream connected",
        )
        links.cut()
        for i in range(events):
            tid = tids[i // len(STEPS)]
            tapped = agent.post(
                "/local/timeline",
                {"transport_id": tid, "kind": STEPS[i % len(STEPS)]},
                crews[i // len(STEPS)],
            )
            if tapped["status"] != "queued":
                raise RuntimeError(f"a tap went through the cut: {tapped}")
        asked = agent.post(
            f"/api/v1/transports/{tids[0]}/instruction-requests",
            {"procedure": PROCEDURE, "note": "drill"},
            crews[0],
            **{"Idempotency-Key": f"drill-{tids[0]}"},
        )
        if not asked.get("queued"):
            raise RuntimeError(f"the request went through the cut: {asked}")
        _until(lambda: _vitals_on_disk(state) >= vitals, timeout_s, f"{vitals} vitals queued", 0.1)
        agent.kill()
        queued = _on_disk(state)

        agent = AgentProcess(server_url, relay_url, state, port, vitals_every_s=vitals_every_s)
        shown = agent.status()
        links.restore()
        t_back = time.monotonic()
        # The page, reloaded, uses its crew's token again: the token is at hand.
        for tid, token in zip(tids, crews, strict=True):
            http(f"{agent.url}/api/v1/transports/{tid}", headers=agent.headers(token))

        def delivered() -> bool:
            s = agent.status()
            return not (s["queued"] or s["records_queued"] or s["requests_queued"])

        _until(delivered, timeout_s, "everything delivered", 0.02)
        synced_s = time.monotonic() - t_back
    finally:
        agent.stop()
        links.close()

    db_url = r.stack.db_url
    counts = stored_events(db_url, queued["event_keys"])
    q_records = queued["records"].get(tids[0], {"vitals": [], "ecg": [], "other": []})
    stored = _stored_seqs(db_url, tids[0])
    rec_lost = sum(1 for k in ("vitals", "ecg") for s in q_records[k] if stored[k][s] == 0)
    rec_dup = sum(n - 1 for k in ("vitals", "ecg") for n in stored[k].values() if n > 1)
    n_requests = _stored_requests(db_url, tids)
    return {
        "queued_events": len(queued["event_keys"]),
        "queued_vitals": len(q_records["vitals"]),
        "queued_ecg": len(q_records["ecg"]),
        "queued_requests": len(queued["request_keys"]),
        "shown_after_restart": {
            "events": shown["queued"],
            "records": shown["records_queued"],
            "requests": shown["requests_queued"],
        },
        "delivered_events": sum(1 for n in counts.values() if n),
        "delivered_vitals": sum(1 for s in q_records["vitals"] if stored["vitals"][s]),
        "delivered_ecg": sum(1 for s in q_records["ecg"] if stored["ecg"][s]),
        "delivered_requests": n_requests,
        "duplicates": sum(n - 1 for n in counts.values() if n > 1)
        + rec_dup
        + max(n_requests - len(queued["request_keys"]), 0),
        "lost": sum(1 for n in counts.values() if n == 0)
        + rec_lost
        + max(len(queued["request_keys"]) - n_requests, 0),
        "reconnect_to_last_delivery_s": synced_s,
    }


async def _open(r: Rig, n: int) -> int:
    pool = Pool(r.stack.api_url)
    try:
        return await open_transport(r, pool, n)
    finally:
        await pool.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.outbox_drill", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--events", type=int, default=5, help="timeline steps tapped offline (1 to 5)"
    )
    parser.add_argument("--vitals", type=int, default=20, help="vital signs queued at least")
    parser.add_argument("--vitals-every", type=float, default=0.1, help="monitor period, s")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with rig(workers=1, units=2) as r:
        result = outbox_drill(
            r, events=args.events, vitals=args.vitals, vitals_every_s=args.vitals_every
        )
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for k, v in result.items():
            print(f"   {k:30} {f'{v:.2f}' if isinstance(v, float) else v}")
    ok = result["lost"] == 0 and result["duplicates"] == 0
    print("the outbox held" if ok else "THE OUTBOX DID NOT HOLD")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
