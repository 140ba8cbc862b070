"""The fault runs: the system keeps its promises when a part of it fails.

    python -m bench.faults                 # all three, full length
    python -m bench.faults relay --json    # one of: relay, postgres, network

- ``relay``: the relay is killed (SIGKILL) mid-stream and started again by its
  supervisor; the tablet's publisher and three viewers must be back within 3 s,
  and every vital sign and ECG segment produced meanwhile lands exactly once.
- ``postgres``: PostgreSQL restarts while crews record their timelines, units
  report positions and a stream stores vitals; the API answers 503 while the
  database is away and recovers by itself; with idempotency keys no timeline
  event is lost or recorded twice. It runs on a throwaway cluster of its own
  (``pg_createcluster`` on another port), never on the shared one.
- ``network``: a tablet's network is cut (a TCP proxy between it and the server
  and relay drops every connection and refuses new ones) for 60 s while the crew
  keeps working; afterwards its queued timeline events and vitals land exactly once.

``tests/hold/test_faults.py`` runs the same scenarios, shortened, in ``make test``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select, text

from bench.stack import Population, Stack, seed_population
from simulation.http import Client, HttpError, Pool
from simulation.netcut import TcpProxy
from simulation.procs import free_port
from simulation.stream import Viewer
from simulation.tablet import CountingStreamer, Timeline, make_streamer

TIMELINE = (
    "arrived_scene",
    "patient_contact",
    "loaded",
    "departed_scene",
    "arrived_hospital",
    "handover",
)


# --- the system under test --------------------------------------------------------------


@dataclass
class Rig:
    """A running server and relay with a small population on one database."""

    stack: Stack
    pop: Population

    @property
    def dispatcher(self) -> str:
        return self.pop.dispatcher_tokens[0]

    def medic(self, unit_id: int) -> str:
        return self.pop.unit_tokens[unit_id]


@contextlib.contextmanager
def rig(db_url: str | None = None, *, workers: int = 1, units: int = 8) -> Iterator[Rig]:
    """Server and relay on ``db_url`` (a fresh SQLite file when None)."""
    from ems.cli import upgrade_database

    tmp = Path(tempfile.mkdtemp(prefix="ems-faults-"))
    url = db_url or f"sqlite:///{tmp / 'ems.sqlite3'}"
    if db_url is None:
        upgrade_database(url)
    pop = seed_population(url, units=units, dispatchers=3)
    stack = Stack(
        url,
        redis_url="",
        workers=workers,
        api_port=free_port(),
        relay_port=free_port(),
        var_dir=tmp,
    )
    try:
        stack.start_server()
        stack.start_relay()
        yield Rig(stack, pop)
    finally:
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)


async def open_transport(rig: Rig, pool: Pool, n: int, *, destination: bool = True) -> int:
    """A 119 call for unit ``n`` with the unit assigned and (optionally) a destination."""
    unit_id = rig.pop.units[n]
    dispatcher = Client(pool, rig.dispatcher)
    lat, lon = rig.pop.unit_positions[unit_id]
    incident = await dispatcher.call(
        "POST",
        "/api/v1/incidents",
        {"lat": lat + 0.01, "lon": lon, "urgency": "serious", "chief_complaint": "胸痛"},
    )
    assert incident.status == 201, incident.body
    transport = await dispatcher.call(
        "POST", f"/api/v1/incidents/{incident.json()['id']}/assign", {"unit_id": unit_id}
    )
    assert transport.status == 201, transport.body
    tid = int(transport.json()["id"])
    if destination:
        hospital_id = rig.pop.hospitals[n % len(rig.pop.hospitals)]
        reply = await dispatcher.call(
            "PUT", f"/api/v1/transports/{tid}/destination", {"hospital_id": hospital_id}
        )
        assert reply.status == 200, reply.body
    return tid


def stored_records(db_url: str, transport_id: int) -> dict[str, int]:
    """Rows of vitals and ECG stored for a transport, and how many distinct seqs."""
    url = db_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            out = {}
            for table in ("vital_signs", "ecg_segments"):
                rows, distinct = conn.execute(
                    text(
                        f"SELECT count(*), count(DISTINCT seq) FROM {table} WHERE transport_id = :t"
                    ),
                    {"t": transport_id},
                ).one()
                out[table] = int(rows)
                out[f"{table}_distinct"] = int(distinct)
            return out
    finally:
        engine.dispose()


def stored_events(db_url: str, keys: list[str]) -> dict[str, int]:
    """How many times each idempotency key is on record."""
    from ems.transports.models import TransportEvent

    url = db_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(TransportEvent.idempotency_key, func.count())
                .where(TransportEvent.idempotency_key.in_(keys))
                .group_by(TransportEvent.idempotency_key)
            ).all()
    finally:
        engine.dispose()
    counts = dict.fromkeys(keys, 0)
    counts.update({str(k): int(n) for k, n in rows})
    return counts


def record_check(db_url: str, streamer: CountingStreamer) -> dict[str, Any]:
    stored = stored_records(db_url, streamer.config.transport_id)
    produced = len(streamer.produced)
    total = stored["vital_signs"] + stored["ecg_segments"]
    distinct = stored["vital_signs_distinct"] + stored["ecg_segments_distinct"]
    return {
        "records_produced": produced,
        "records_stored": total,
        "records_lost": produced - distinct,
        "records_duplicated": total - distinct,
    }


async def drain(streamer: CountingStreamer, stop: asyncio.Event, timeout_s: float = 20) -> None:
    """Stop producing, then wait until the relay acknowledged every record."""
    if streamer.monitor is not None:
        streamer.monitor = None  # no new records; the monitor task is cancelled below
    deadline = time.monotonic() + timeout_s
    while streamer.unacked and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    stop.set()


# --- 1. the relay dies mid-stream ---------------------------------------------------------


async def relay_kill(rig: Rig, *, warmup_s: float = 2.0, timeout_s: float = 15.0) -> dict[str, Any]:
    pool = Pool(rig.stack.api_url)
    tid = await open_transport(rig, pool, 0)
    await pool.close()
    streamer = make_streamer(rig.stack.relay_url, rig.medic(rig.pop.units[0]), tid)
    hospital = rig.pop.hospitals[0]
    viewers = [
        Viewer(rig.stack.relay_url, tid, token)
        for token in (rig.pop.er_tokens[hospital], *rig.pop.dispatcher_tokens[1:3])
    ]
    stop = asyncio.Event()
    publishing = asyncio.create_task(streamer.run(stop))
    watching = [asyncio.create_task(v.run(3600)) for v in viewers]
    try:
        await _until(lambda: all(v.stats.frames > 0 for v in viewers), 15, "first frames")
        await asyncio.sleep(warmup_s)
        active = await asyncio.to_thread(
            relay_gauge, rig.stack.relay_port, "ems_relay_active_streams"
        )
        connects = streamer.stats.connects
        assert rig.stack.relay is not None
        rig.stack.relay.signal(9)
        t_kill = time.monotonic()
        await asyncio.to_thread(rig.stack.restart_relay)
        relay_up_s = time.monotonic() - t_kill
        back: dict[str, float] = {}
        while len(back) < 1 + len(viewers) and time.monotonic() - t_kill < timeout_s:
            now = time.monotonic()
            if "publisher" not in back and streamer.stats.connects > connects:
                back["publisher"] = now - t_kill
            for i, v in enumerate(viewers):
                seconds = v.stats.back_after(t_kill)
                if f"viewer{i}" not in back and seconds is not None:
                    back[f"viewer{i}"] = seconds
            await asyncio.sleep(0.02)
        await asyncio.sleep(1.0)
        await drain(streamer, stop)
    finally:
        stop.set()
        for v in viewers:
            v.stopped = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(publishing, 10)
        for t in watching:
            t.cancel()
        await asyncio.gather(*watching, return_exceptions=True)
    result: dict[str, Any] = {
        "active_streams_gauge": active,
        "relay_restart_s": relay_up_s,
        "publisher_back_s": back.get("publisher"),
        "viewers_back_s": [back.get(f"viewer{i}") for i in range(len(viewers))],
    }
    known = [s for s in (result["publisher_back_s"], *result["viewers_back_s"]) if s is not None]
    result["all_back"] = len(known) == 1 + len(viewers)
    result["all_back_s"] = max(known) if result["all_back"] else None
    result.update(record_check(rig.stack.db_url, streamer))
    return result


# --- 2. PostgreSQL restarts under load ------------------------------------------------------


@dataclass
class ThrowawayCluster:
    """A PostgreSQL cluster of its own on another port, removed afterwards, so that
    restarting it disturbs no one else's database."""

    name: str = "ems_faults"
    port: int = 5433
    version: str = ""
    created: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        if not self.version:
            versions = sorted(p.name for p in Path("/etc/postgresql").iterdir())
            self.version = versions[-1]

    @staticmethod
    def available() -> bool:
        return bool(shutil.which("pg_createcluster")) and Path("/etc/postgresql").is_dir()

    def _ctl(self, action: str) -> None:
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name, action],
            check=True,
            capture_output=True,
        )

    def create(self) -> str:
        subprocess.run(
            ["pg_dropcluster", "--stop", self.version, self.name],
            capture_output=True,
            check=False,
        )
        subprocess.run(
            [
                "pg_createcluster",
                self.version,
                self.name,
                "-p",
                str(self.port),
                "--",
                "--auth=trust",
            ],
            check=True,
            capture_output=True,
        )
        self.created = True
        self._ctl("start")
        admin = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        engine = create_engine(
            admin.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
        )
        for _ in range(50):
            try:
                with engine.connect() as conn:
                    conn.execute(text("CREATE DATABASE faults"))
                break
            except Exception:
                time.sleep(0.2)
        engine.dispose()
        from ems.cli import upgrade_database

        url = f"postgresql://postgres@127.0.0.1:{self.port}/faults"
        upgrade_database(url)
        return url

    def restart(self) -> None:
        self._ctl("restart")

    def drop(self) -> None:
        if self.created:
            subprocess.run(
                ["pg_dropcluster", "--stop", self.version, self.name],
                capture_output=True,
                check=False,
            )


async def postgres_restart(
    rig: Rig,
    cluster: ThrowawayCluster,
    *,
    crews: int = 6,
    before_s: float = 1.0,
    step_s: float = 0.3,
) -> dict[str, Any]:
    pool = Pool(rig.stack.api_url, size=16)
    tids = [await open_transport(rig, pool, n) for n in range(crews)]
    queues = [
        Timeline.for_server(rig.stack.api_url, rig.medic(rig.pop.units[n])) for n in range(crews)
    ]
    streamer = make_streamer(rig.stack.relay_url, rig.medic(rig.pop.units[0]), tids[0], video=False)
    stop = asyncio.Event()
    publishing = asyncio.create_task(streamer.run(stop))
    outcomes: list[tuple[float, int]] = []  # (time, status or 0) of every position report
    done = asyncio.Event()

    async def positions() -> None:
        medic = Client(pool, rig.medic(rig.pop.units[-1]))
        while not done.is_set():
            try:
                r = await medic.call(
                    "PUT",
                    f"/api/v1/units/{rig.pop.units[-1]}/position",
                    {"lat": 35.4, "lon": 133.4},
                )
                outcomes.append((time.monotonic(), r.status))
            except HttpError:
                outcomes.append((time.monotonic(), 0))
            await asyncio.sleep(0.05)

    async def crew(q: Timeline, tid: int) -> None:
        for kind in TIMELINE:
            q.add(tid, kind)
            await q.flush()
            await asyncio.sleep(step_s)
        while q.pending:
            await asyncio.sleep(0.2)
            await q.flush()

    reporter = asyncio.create_task(positions())
    crew_tasks = [asyncio.create_task(crew(q, t)) for q, t in zip(queues, tids, strict=True)]
    await asyncio.sleep(before_s)
    t0 = time.monotonic()
    await asyncio.to_thread(cluster.restart)
    pg_back = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*crew_tasks), 60)
    await asyncio.sleep(1.0)
    done.set()
    await reporter
    await drain(streamer, stop)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(publishing, 10)
    await pool.close()
    failed = [t for t, s in outcomes if t >= t0 and s != 200]
    ok_after = [t for t, s in outcomes if t >= pg_back and s == 200]
    keys = [e.key for q in queues for e in q.delivered]
    counts = stored_events(rig.stack.db_url, keys)
    result: dict[str, Any] = {
        "postgres_restart_s": pg_back - t0,
        "api_recovered_after_pg_s": (ok_after[0] - pg_back) if ok_after else None,
        "refused_during_restart": len(failed),
        "events_queued": len(keys),
        "events_lost": sum(1 for n in counts.values() if n == 0),
        "events_duplicated": sum(n - 1 for n in counts.values() if n > 1),
        "event_retries": sum(q.failures for q in queues),
        "event_replays": sum(q.replays for q in queues),
    }
    result.update(record_check(rig.stack.db_url, streamer))
    return result


# --- 3. a tablet loses its network ----------------------------------------------------------


async def network_cut(rig: Rig, *, cut_s: float = 60.0) -> dict[str, Any]:
    direct = Pool(rig.stack.api_url)
    tid = await open_transport(rig, direct, 1)
    await direct.close()
    api_proxy = TcpProxy("127.0.0.1", rig.stack.api_port)
    relay_proxy = TcpProxy("127.0.0.1", rig.stack.relay_port)
    await api_proxy.start()
    await relay_proxy.start()
    queue = Timeline.for_server(f"http://{api_proxy.url_host}", rig.medic(rig.pop.units[1]))
    streamer = make_streamer(f"ws://{relay_proxy.url_host}", rig.medic(rig.pop.units[1]), tid)
    stop = asyncio.Event()
    publishing = asyncio.create_task(streamer.run(stop))
    try:
        await _until(lambda: streamer.connected.is_set(), 15, "tablet connected")
        queue.add(tid, "arrived_scene")
        await queue.flush()
        await api_proxy.cut()
        await relay_proxy.cut()
        t_cut = time.monotonic()
        # The crew keeps working in the dead zone: every step queues on the tablet.
        # Handover waits until the stream's records are through (see docs/operations.md:
        # the relay refuses a publisher once its transport is completed).
        steps = list(TIMELINE[1:-1])
        while time.monotonic() - t_cut < cut_s:
            if steps and time.monotonic() - t_cut > len(queue.delivered) * 0.3:
                queue.add(tid, steps.pop(0))
                await queue.flush()  # fails: still offline
            await asyncio.sleep(0.2)
        queued_events = queue.pending
        queued_records = streamer.unacked
        await api_proxy.restore()
        await relay_proxy.restore()
        t_back = time.monotonic()
        while steps:
            queue.add(tid, steps.pop(0))
        deadline = time.monotonic() + 30
        while queue.pending and time.monotonic() < deadline:
            await queue.flush()
            await asyncio.sleep(0.2)
        events_synced_s = time.monotonic() - t_back
        await _until(
            lambda: streamer.connected.is_set() or publishing.done(),
            15,
            f"tablet reconnected ({streamer.stats.connects} links, {streamer.stats.last_error})",
        )
        if publishing.done():
            raise RuntimeError(f"the tablet's streamer stopped: {publishing.exception()!r}")
        await drain(streamer, stop)
        records_synced_s = time.monotonic() - t_back
        queue.add(tid, "handover")
        await queue.flush()
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(publishing, 10)
        await api_proxy.stop()
        await relay_proxy.stop()
    keys = [e.key for e in queue.delivered]
    counts = stored_events(rig.stack.db_url, keys)
    result: dict[str, Any] = {
        "cut_s": cut_s,
        "events_queued_offline": queued_events,
        "records_queued_offline": queued_records,
        "events_synced_s": events_synced_s,
        "records_synced_s": records_synced_s,
        "events_sent": len(keys),
        "events_lost": sum(1 for n in counts.values() if n == 0) + queue.pending,
        "events_duplicated": sum(n - 1 for n in counts.values() if n > 1),
    }
    result.update(record_check(rig.stack.db_url, streamer))
    return result


def relay_gauge(port: int, name: str) -> float | None:
    """One value of the relay's Prometheus metrics."""
    import urllib.request

    from bench.stack import metrics_request

    with urllib.request.urlopen(
        metrics_request(f"http://127.0.0.1:{port}/metrics"), timeout=5
    ) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return None


async def _until(predicate: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout_s} s")
        await asyncio.sleep(0.05)


# --- command line -------------------------------------------------------------------------


def run_relay(workers: int = 4) -> dict[str, Any]:
    with rig(workers=workers) as r:
        return asyncio.run(relay_kill(r))


def run_postgres(workers: int = 4, port: int = 0) -> dict[str, Any]:
    cluster = ThrowawayCluster(port=port or free_port())
    try:
        url = cluster.create()
        with rig(url, workers=workers) as r:
            return asyncio.run(postgres_restart(r, cluster))
    finally:
        cluster.drop()


def run_network(cut_s: float = 60.0, workers: int = 4) -> dict[str, Any]:
    with rig(workers=workers) as r:
        return asyncio.run(network_cut(r, cut_s=cut_s))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.faults", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "scenarios",
        nargs="*",
        metavar="relay|postgres|network",
        help="which faults (default: all three)",
    )
    parser.add_argument("--cut", type=float, default=60.0, help="network cut in seconds")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    scenarios = args.scenarios or ["relay", "postgres", "network"]
    unknown = set(scenarios) - {"relay", "postgres", "network"}
    if unknown:
        parser.error(f"unknown scenario: {', '.join(sorted(unknown))}")
    results: dict[str, Any] = {}
    for name in scenarios:
        if name == "relay":
            results[name] = run_relay(args.workers)
        elif name == "postgres":
            results[name] = run_postgres(args.workers)
        else:
            results[name] = run_network(args.cut, args.workers)
        if not args.json:
            print(f"== {name}")
            for k, v in results[name].items():
                print(f"   {k:28} {_fmt(v)}")
    if args.json:
        print(json.dumps(results, indent=2))
    ok = all(_passed(name, r) for name, r in results.items())
    print("all faults held" if ok else "SOME FAULTS DID NOT HOLD")
    return 0 if ok else 1


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.2f}"
    if isinstance(v, list):
        return ", ".join(_fmt(x) for x in v)
    return str(v)


def _passed(name: str, r: dict[str, Any]) -> bool:
    exact = r.get("records_lost") == 0 and r.get("records_duplicated") == 0
    if name == "relay":
        return bool(r["all_back"]) and r["all_back_s"] <= 3.0 and exact
    return exact and r["events_lost"] == 0 and r["events_duplicated"] == 0


if __name__ == "__main__":
    raise SystemExit(main())
