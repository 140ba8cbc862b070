"""The load run: the whole system on loopback under a busy prefecture's traffic.

    python -m bench.load --duration 60

It creates its own PostgreSQL database (``bench_load``), seeds 300 units with
their paramedics, starts gunicorn (4 workers, ``ems.app:create_app()``) with Redis
and the relay, then for ``--duration`` seconds drives:

- 300 units reporting their position every 5 s (``PUT /api/v1/units/<id>/position``
  as each unit's own paramedic);
- 30 concurrent streams (15 fps video-sized frames, vitals and ECG each second)
  with 3 viewers each (the destination's ER and two dispatchers), through the relay;
- dispatch traffic: a 119 call every ``--call-interval`` seconds, assignment of the
  nearest available unit, the crew's timeline to handover with idempotency keys,
  hospital requests answered by the hospitals (or the destination set directly
  when this tree has no hospital-request API);
- hospital traffic: availability updates and the ER's incoming list;
- the dispatcher consoles reading units, transports and today's figures.

It prints p50/p99 API latency (client side, every request), the error count (any
answer other than the expected 2xx, and every failed connection), the relay's CPU
and the streams' frame latency, and returns them as figures for ``bench/run.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.stack import Population, Stack, metrics_request, recreate_database, seed_population
from simulation.http import Client, HttpError, Pool, follow_events
from simulation.procs import cpu_seconds, machine_busy_seconds, runqueue_seconds
from simulation.stream import Publisher, Viewer

TIMELINE_AFTER_DISPATCH = ("arrived_scene", "patient_contact", "loaded", "departed_scene")
# 409s a real user meets in a busy region and answers: a bed taken meanwhile (the ER
# declines instead), a request already answered, a unit taken by another dispatcher.
# No hospital left to ask (all declined or full): the crew phones the tertiary centre.
HANDLED_CONFLICTS = {
    "no_bed",
    "request_not_open",
    "unit_unavailable",
    "already_answered",
    "no_candidates",
}
DECLINE_REASONS = ("beds_full", "cannot_treat", "outside_specialty", "in_surgery")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


@dataclass
class Recorder:
    latencies: list[float] = field(default_factory=list)
    by_label: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)
    # Conflicts the simulated users meet and handle as people would (a hospital with
    # no bed left declines instead): counted apart from errors, and reported.
    conflicts: Counter[str] = field(default_factory=Counter)
    measuring: bool = True

    def observe(self, method: str, label: str, status: int, elapsed_s: float, code: str) -> None:
        if not self.measuring:
            return
        key = f"{method} {label}"
        self.latencies.append(elapsed_s * 1000)
        self.by_label[key].append(elapsed_s * 1000)
        if status == 409 and code in HANDLED_CONFLICTS:
            self.conflicts[f"{key} -> {code}"] += 1
        elif status == 0 or status >= 400:
            self.errors[f"{key} -> {status or 'no answer'} {code}"] += 1

    def error(self, what: str) -> None:
        if self.measuring:
            self.errors[what] += 1


@dataclass
class Load:
    api_url: str
    relay_url: str
    pop: Population
    rec: Recorder
    duration_s: float
    call_interval_s: float = 1.0
    streams: int = 30
    step_s: float = 1.0
    hospital_requests: bool = False
    recommendations: bool = False
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    busy_units: set[int] = field(default_factory=set)
    completed: int = 0
    events_received: int = 0
    publishers: list[Publisher] = field(default_factory=list)
    viewers: list[Viewer] = field(default_factory=list)
    lags_ms: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.pool = Pool(self.api_url, size=64, observer=self.rec.observe)

    def client(self, token: str) -> Client:
        return Client(self.pool, token)

    # --- set-up -----------------------------------------------------------------

    async def discover(self) -> None:
        reply = await self.client(self.pop.admin_token).call("GET", "/api/v1/openapi.json")
        paths = set(json.loads(reply.body)["paths"])
        self.hospital_requests = "/api/v1/transports/{transport_id}/hospital-requests" in paths
        self.recommendations = "/api/v1/dispatch/unit-recommendations" in paths

    async def open_and_close(self, with_relay: bool) -> list[tuple[int, int, int]]:
        try:
            return await self.open_stream_transports() if with_relay else []
        finally:
            await self.pool.close()

    async def open_stream_transports(self) -> list[tuple[int, int, int]]:
        """(transport, unit, hospital) for each stream: a call, a unit, a destination."""
        dispatcher = self.client(self.pop.dispatcher_tokens[0])
        out = []
        for n in range(self.streams):
            unit_id = self.pop.units[n]
            hospital_id = self.pop.hospitals[n % len(self.pop.hospitals)]
            lat, lon = self.pop.unit_positions[unit_id]
            incident = await dispatcher.call(
                "POST",
                "/api/v1/incidents",
                {"lat": lat + 0.01, "lon": lon, "urgency": "serious", "chief_complaint": "胸痛"},
            )
            transport = await dispatcher.call(
                "POST",
                f"/api/v1/incidents/{incident.json()['id']}/assign",
                {"unit_id": unit_id},
            )
            tid = transport.json()["id"]
            await dispatcher.call(
                "PUT", f"/api/v1/transports/{tid}/destination", {"hospital_id": hospital_id}
            )
            self.busy_units.add(unit_id)
            out.append((tid, unit_id, hospital_id))
        return out

    # --- traffic ----------------------------------------------------------------

    async def unit_positions(self, unit_id: int) -> None:
        client = self.client(self.pop.unit_tokens[unit_id])
        lat, lon = self.pop.unit_positions[unit_id]
        rng = random.Random(unit_id)
        await asyncio.sleep(rng.uniform(0, 5))
        end = time.monotonic() + self.duration_s
        while time.monotonic() < end:
            lat += rng.uniform(-0.002, 0.002)
            lon += rng.uniform(-0.002, 0.002)
            with contextlib.suppress(HttpError):  # counted by the recorder
                await client.call(
                    "PUT",
                    f"/api/v1/units/{unit_id}/position",
                    {"lat": round(lat, 6), "lon": round(lon, 6)},
                    label="/api/v1/units/<id>/position",
                )
            await asyncio.sleep(5.0)

    async def dispatch_calls(self) -> None:
        dispatcher = self.client(self.pop.dispatcher_tokens[1 % len(self.pop.dispatcher_tokens)])
        end = time.monotonic() + self.duration_s
        crews: list[asyncio.Task[None]] = []
        while time.monotonic() < end - 8 * self.step_s:
            t0 = time.monotonic()
            with contextlib.suppress(HttpError):
                transport = await self._one_call(dispatcher)
                if transport is not None:
                    crews.append(asyncio.create_task(self.crew(*transport)))
            await asyncio.sleep(max(0.0, self.call_interval_s - (time.monotonic() - t0)))
        await asyncio.gather(*crews, return_exceptions=True)

    async def _one_call(self, dispatcher: Client) -> tuple[int, int] | None:
        near = self.rng.choice([u for u in self.pop.units if u not in self.busy_units])
        lat, lon = self.pop.unit_positions[near]
        incident = await dispatcher.call(
            "POST",
            "/api/v1/incidents",
            {
                "lat": round(lat + self.rng.uniform(-0.05, 0.05), 6),
                "lon": round(lon + self.rng.uniform(-0.05, 0.05), 6),
                "urgency": self.rng.choice(["critical", "serious", "moderate", "minor"]),
                "chief_complaint": self.rng.choice(["胸痛", "呼吸困難", "意識障害", "転倒"]),
                "caller_account": "synthetic load",
                "patient_age": self.rng.randint(1, 95),
            },
        )
        if incident.status != 201:
            return None
        incident_id = incident.json()["id"]
        unit_id = near
        if self.recommendations:
            ranked = await dispatcher.call(
                "GET",
                f"/api/v1/dispatch/unit-recommendations?incident_id={incident_id}",
                label="/api/v1/dispatch/unit-recommendations",
            )
            if ranked.status == 200:
                free = [r["unit_id"] for r in ranked.json() if r["unit_id"] not in self.busy_units]
                unit_id = free[0] if free else near
        self.busy_units.add(unit_id)
        await dispatcher.call(
            "GET", "/api/v1/incidents?status=pending", label="/api/v1/incidents?status"
        )
        assigned = await dispatcher.call(
            "POST",
            f"/api/v1/incidents/{incident_id}/assign",
            {"unit_id": unit_id},
            label="/api/v1/incidents/<id>/assign",
        )
        if assigned.status != 201:
            return None
        return int(assigned.json()["id"]), unit_id

    async def crew(self, transport_id: int, unit_id: int) -> None:
        crew = self.client(self.pop.unit_tokens[unit_id])
        label = "/api/v1/transports/<id>/events"

        async def event(kind: str) -> None:
            key = f"load-{transport_id}-{kind}-{uuid.uuid4().hex[:8]}"
            await crew.call(
                "POST",
                f"/api/v1/transports/{transport_id}/events",
                {"kind": kind, "idempotency_key": key},
                label=label,
            )

        try:
            for kind in TIMELINE_AFTER_DISPATCH[:3]:
                await asyncio.sleep(self.step_s)
                await event(kind)
            await self.choose_hospital(crew, transport_id)
            for kind in ("departed_scene", "arrived_hospital", "handover"):
                await asyncio.sleep(self.step_s)
                await event(kind)
            self.completed += 1
        except HttpError:
            pass
        finally:
            self.busy_units.discard(unit_id)

    async def choose_hospital(self, crew: Client, transport_id: int) -> None:
        hospital_id = self.rng.choice(self.pop.hospitals)
        if not self.hospital_requests:
            await crew.call(
                "PUT",
                f"/api/v1/transports/{transport_id}/destination",
                {"hospital_id": hospital_id},
                label="/api/v1/transports/<id>/destination",
            )
            return
        await crew.call(
            "GET",
            f"/api/v1/transports/{transport_id}/hospital-recommendations",
            label="/api/v1/transports/<id>/hospital-recommendations",
        )
        sent = await crew.call(
            "POST",
            f"/api/v1/transports/{transport_id}/hospital-requests",
            {"k": 3},
            label="/api/v1/transports/<id>/hospital-requests",
        )
        open_requests = list(sent.json().get("requests", [])) if sent.status < 300 else []
        accepted = False
        for _ in range(6):  # rounds: a decline may open the next one by itself
            if not open_requests or accepted:
                break
            await asyncio.sleep(self.step_s)
            following: list[dict[str, Any]] = []
            for req in open_requests:
                if accepted:
                    break
                accepted, nxt = await self.hospital_answers(req)
                following += nxt
            open_requests = following
        if not accepted:
            # Every hospital asked said no: the crew phones the tertiary centre.
            await crew.call(
                "PUT",
                f"/api/v1/transports/{transport_id}/destination",
                {"hospital_id": self.pop.hospitals[0]},
                label="/api/v1/transports/<id>/destination",
            )

    async def hospital_answers(self, req: dict[str, Any]) -> tuple[bool, list[dict[str, Any]]]:
        """The ER of one request: accept (60 %) or decline with a reason; a failed
        accept (the last bed went meanwhile) becomes a decline."""
        er = self.client(self.pop.er_tokens[req["hospital_id"]])
        if self.rng.random() < 0.6:
            reply = await er.call(
                "POST",
                f"/api/v1/hospital-requests/{req['id']}/accept",
                {},
                label="/api/v1/hospital-requests/<id>/accept",
            )
            if reply.status == 200:
                return True, []
            if reply.code != "no_bed":
                return False, []
        reply = await er.call(
            "POST",
            f"/api/v1/hospital-requests/{req['id']}/decline",
            {"reason": self.rng.choice(DECLINE_REASONS)},
            label="/api/v1/hospital-requests/<id>/decline",
        )
        if reply.status != 200:
            return False, []
        nxt = reply.json().get("next_round") or {}
        return False, list(nxt.get("requests", []))

    async def hospital_board(self, hospital_id: int) -> None:
        er = self.client(self.pop.er_tokens[hospital_id])
        rng = random.Random(hospital_id)
        await asyncio.sleep(rng.uniform(0, 10))
        end = time.monotonic() + self.duration_s
        while time.monotonic() < end:
            with contextlib.suppress(HttpError):
                n = rng.randint(0, 6)
                await er.call(
                    "PATCH",
                    f"/api/v1/hospitals/{hospital_id}/availability",
                    {"beds": [{"category": "general", "available": n, "capacity": 12}]},
                    label="/api/v1/hospitals/<id>/availability",
                )
                await er.call("GET", "/api/v1/transports?active=true", label="/api/v1/transports")
            await asyncio.sleep(10.0)

    async def console(self, token: str, offset: float) -> None:
        dispatcher = self.client(token)
        await asyncio.sleep(offset)
        end = time.monotonic() + self.duration_s
        n = 0
        while time.monotonic() < end:
            with contextlib.suppress(HttpError):
                await dispatcher.call(
                    "GET", "/api/v1/transports?active=true", label="/api/v1/transports"
                )
                await dispatcher.call("GET", "/api/v1/stats/today")
                if n % 2 == 0:
                    await dispatcher.call("GET", "/api/v1/hospitals")
                if n % 3 == 0:
                    await dispatcher.call("GET", "/api/v1/units")
            n += 1
            await asyncio.sleep(5.0)

    async def api_traffic(self) -> dict[str, Any]:
        """Units, dispatch, hospitals and consoles for ``duration_s``."""
        await self.discover()
        tasks = [self.unit_positions(u) for u in self.pop.units]
        tasks += [self.hospital_board(h) for h in self.pop.hospitals]
        tasks += [self.console(t, i * 1.3) for i, t in enumerate(self.pop.dispatcher_tokens)]
        tasks.append(self.dispatch_calls())
        # Every ER dashboard and dispatcher console holds the live event stream open.
        watchers = [*self.pop.er_tokens.values(), *self.pop.dispatcher_tokens]
        tasks += [self.event_stream(t) for t in watchers]
        t0 = time.monotonic()
        lag = asyncio.create_task(self.loop_lag())
        await asyncio.gather(*tasks)
        lag.cancel()
        await self.pool.close()
        lat = self.rec.latencies
        return {
            "api_wall_s": time.monotonic() - t0,
            "requests": len(lat),
            "p50_ms": percentile(lat, 50),
            "p99_ms": percentile(lat, 99),
            "max_ms": max(lat) if lat else 0.0,
            "errors": sum(self.rec.errors.values()),
            "error_kinds": dict(self.rec.errors.most_common(10)),
            "conflicts": dict(self.rec.conflicts.most_common(10)),
            "transports_completed": self.completed,
            "hospital_requests_api": self.hospital_requests,
            "generator_lag_ms_p99": percentile(self.lags_ms, 99),
            "event_streams": len(watchers),
            "events_received": self.events_received,
            "requests_by_route": {
                k: len(v) for k, v in sorted(self.rec.by_label.items(), key=lambda kv: -len(kv[1]))
            },
            "slowest": {
                k: round(percentile(v, 99), 1)
                for k, v in sorted(
                    self.rec.by_label.items(), key=lambda kv: -percentile(kv[1], 99)
                )[:6]
            },
        }

    async def event_stream(self, token: str) -> None:
        def count() -> None:
            self.events_received += 1

        why = await follow_events(
            self.api_url, token, until=time.monotonic() + self.duration_s, on_event=count
        )
        if why:
            self.rec.error(f"GET /api/v1/events -> {why}")

    async def loop_lag(self) -> None:
        """How late this generator's own event loop runs: figures above it are suspect."""
        while True:
            t0 = time.monotonic()
            await asyncio.sleep(0.1)
            self.lags_ms.append((time.monotonic() - t0 - 0.1) * 1000)

    async def stream_traffic(self, transports: list[tuple[int, int, int]]) -> dict[str, Any]:
        for tid, unit_id, hospital_id in transports:
            self.publishers.append(Publisher(self.relay_url, tid, self.pop.unit_tokens[unit_id]))
            watchers = [self.pop.er_tokens[hospital_id], *self.pop.dispatcher_tokens[2:4]]
            for token in watchers[:3]:
                self.viewers.append(Viewer(self.relay_url, tid, token))
        await asyncio.gather(
            *[p.run(self.duration_s) for p in self.publishers],
            *[v.run(self.duration_s) for v in self.viewers],
        )
        frame_lat = [ms for v in self.viewers for ms in v.stats.latencies_ms]
        return {
            "streams": len(self.publishers),
            "viewers": len(self.viewers),
            "frames_delivered": sum(v.stats.frames for v in self.viewers),
            "frame_ms_p50": percentile(frame_lat, 50),
            "frame_ms_p99": percentile(frame_lat, 99),
            "records_sent": sum(len(p.produced) for p in self.publishers),
            "records_unacked": sum(p.pending for p in self.publishers),
            "stream_refusals": sum(len(p.stats.refused) for p in self.publishers)
            + sum(len(v.stats.refused) for v in self.viewers),
        }


# The generators stand in for tablets, ER screens and consoles that run on other
# machines: on a shared box they yield the CPU to the server, the relay and
# PostgreSQL, whose latency is what is measured.
GENERATOR_NICE = 10


def _yield_cpu() -> None:
    """Lower this generator's priority. With the kernel's autogroup scheduling (on by
    default), a process's nice value only counts within its session's group, and
    the groups share the cores equally: the generator starts a session of its own
    (so that nothing else, such as the shell that ran the load, is slowed down) and
    nices that group as a whole (``/proc/self/autogroup``)."""
    with contextlib.suppress(OSError):
        os.setsid()
    os.nice(GENERATOR_NICE)
    with contextlib.suppress(OSError):
        Path("/proc/self/autogroup").write_text(str(GENERATOR_NICE))


def _api_process(
    api_url: str, relay_url: str, pop: Population, duration_s: float, call_interval_s: float
) -> dict[str, Any]:
    _yield_cpu()
    load = Load(api_url, relay_url, pop, Recorder(), duration_s, call_interval_s=call_interval_s)
    return asyncio.run(load.api_traffic())


def _stream_process(
    api_url: str,
    relay_url: str,
    pop: Population,
    duration_s: float,
    transports: list[tuple[int, int, int]],
) -> dict[str, Any]:
    _yield_cpu()
    load = Load(api_url, relay_url, pop, Recorder(), duration_s)
    return asyncio.run(load.stream_traffic(transports))


def _server_histogram(api_url: str) -> dict[float, float]:
    """Cumulative ``ems_http_request_seconds`` buckets of every API route (le → count),
    as the server measured them: from the worker thread's start of the request to
    its answer, so without the time spent waiting for a thread or for the client."""
    import urllib.request

    with urllib.request.urlopen(metrics_request(f"{api_url}/metrics"), timeout=10) as resp:
        text = resp.read().decode()
    buckets: dict[float, float] = defaultdict(float)
    for line in text.splitlines():
        if not line.startswith("ems_http_request_seconds_bucket{"):
            continue
        labels, _, value = line.rpartition(" ")
        le = labels.split('le="', 1)[1].split('"', 1)[0]
        buckets[float("inf") if le == "+Inf" else float(le)] += float(value)
    return dict(buckets)


def _histogram_quantile(before: dict[float, float], after: dict[float, float], q: float) -> float:
    """The q-quantile (ms) of the requests between two scrapes, interpolated in its bucket."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    if not counts or counts[-1] <= 0:
        return 0.0
    rank = q * counts[-1]
    lower, below = 0.0, 0.0
    for bound, cum in zip(bounds, counts, strict=True):
        if cum >= rank:
            if bound == float("inf"):
                return lower * 1000
            share = (rank - below) / (cum - below) if cum > below else 1.0
            return (lower + (bound - lower) * share) * 1000
        lower, below = bound, cum
    return lower * 1000


def _worker_pids(master: int) -> list[int]:
    """gunicorn's master and its workers (children in /proc)."""
    from pathlib import Path

    pids = [master]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == master:
                pids.append(int(stat.parent.name))
    return pids


def run_load(
    *,
    duration_s: float = 60.0,
    units: int = 300,
    streams: int = 30,
    workers: int = 4,
    call_interval_s: float = 1.0,
    database: str = "bench_load",
    keep: bool = False,
) -> dict[str, Any]:
    """Set up, run the API traffic and the streams in two generator processes (one
    event loop cannot drive both without becoming the bottleneck), tear down."""
    from concurrent.futures import ProcessPoolExecutor

    from bench.stack import drop_database

    url = recreate_database(database)
    pop = seed_population(url, units=units)
    stack = Stack(url, workers=workers)
    try:
        stack.start_server()
        relay = stack.start_relay()
        setup = Load(stack.api_url, stack.relay_url, pop, Recorder(), duration_s, streams=streams)
        transports = asyncio.run(setup.open_and_close(relay is not None))
        relay_pid = relay.pid if relay else 0
        assert stack.server is not None
        server_pids = _worker_pids(stack.server.pid)
        cpu0 = cpu_seconds(relay_pid) if relay_pid else 0.0
        srv0 = sum(cpu_seconds(p) for p in server_pids)
        wait0 = sum(runqueue_seconds(p) for p in server_pids)
        busy0, all0 = machine_busy_seconds()
        hist0 = _server_histogram(stack.api_url)
        t0 = time.monotonic()
        with ProcessPoolExecutor(2) as ex:
            api = ex.submit(
                _api_process, stack.api_url, stack.relay_url, pop, duration_s, call_interval_s
            )
            st = ex.submit(
                _stream_process, stack.api_url, stack.relay_url, pop, duration_s, transports
            )
            result = {**api.result(), **st.result()}
        wall = time.monotonic() - t0
        hist1 = _server_histogram(stack.api_url)
        result["server_ms_p50"] = _histogram_quantile(hist0, hist1, 0.50)
        result["server_ms_p99"] = _histogram_quantile(hist0, hist1, 0.99)
        n = hist1.get(float("inf"), 0.0) - hist0.get(float("inf"), 0.0)
        fast = hist1.get(0.1, 0.0) - hist0.get(0.1, 0.0)
        result["server_within_100ms_pct"] = fast / n * 100 if n else 0.0
        result["wall_s"] = wall
        result["requests_per_s"] = result["requests"] / result["api_wall_s"]
        result["relay_cpu_pct"] = (cpu_seconds(relay_pid) - cpu0) / wall * 100 if relay_pid else 0
        result["server_cpu_pct"] = (sum(cpu_seconds(p) for p in server_pids) - srv0) / wall * 100
        result["server_runqueue_pct"] = (
            (sum(runqueue_seconds(p) for p in server_pids) - wait0) / wall * 100
        )
        busy1, all1 = machine_busy_seconds()
        result["machine_busy_pct"] = (busy1 - busy0) / max(all1 - all0, 1e-9) * 100
        result["load_average"] = os.getloadavg()[0]
        return result
    finally:
        stack.stop()
        if not keep:
            drop_database(database)
            shutil.rmtree(stack.var_dir, ignore_errors=True)


def print_report(result: dict[str, Any]) -> None:
    print(
        f"requests        {result['requests']} in {result['wall_s']:.0f} s "
        f"({result['requests_per_s']:.0f}/s)"
    )
    print(
        f"API latency     p50 {result['p50_ms']:.1f} ms   p99 {result['p99_ms']:.1f} ms   "
        f"max {result['max_ms']:.0f} ms"
    )
    print(
        f"server side     p50 {result['server_ms_p50']:.1f} ms   "
        f"p99 {result['server_ms_p99']:.1f} ms   "
        f"{result['server_within_100ms_pct']:.2f} % within 100 ms "
        "(ems_http_request_seconds, interpolated in its buckets)"
    )
    print(f"errors          {result['errors']}  {result['error_kinds'] or ''}")
    print(
        f"event streams   {result['event_streams']} held open (ER dashboards and consoles), "
        f"{result['events_received']} live events received"
    )
    print(
        f"conflicts       {sum(result['conflicts'].values())} handled  {result['conflicts'] or ''}"
    )
    print(
        f"server CPU      {result['server_cpu_pct']:.0f} % (gunicorn, all workers); "
        f"its threads waited {result['server_runqueue_pct']:.0f} % for a core"
    )
    print(f"relay CPU       {result['relay_cpu_pct']:.0f} % of one core")
    print(
        f"streams         {result['streams']} × {result['viewers'] // max(1, result['streams'])} "
        f"viewers, {result['frames_delivered']} frames delivered, "
        f"frame latency p50 {result['frame_ms_p50']:.1f} ms p99 {result['frame_ms_p99']:.1f} ms"
    )
    print(
        f"records         {result['records_sent']} vitals/ECG records sent, "
        f"unacknowledged at the end: {result['records_unacked']}"
    )
    print(
        f"machine         {os.cpu_count()} cores, {result['machine_busy_pct']:.0f} % busy, "
        f"load average {result['load_average']:.1f}, "
        f"generator loop lag p99 {result['generator_lag_ms_p99']:.0f} ms"
    )
    print(
        f"transports      {result['transports_completed']} run to handover "
        f"(hospital requests: {'API' if result['hospital_requests_api'] else 'destination'})"
    )
    print("slowest p99     " + ", ".join(f"{k} {v} ms" for k, v in result["slowest"].items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--units", type=int, default=300)
    parser.add_argument("--streams", type=int, default=30)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--call-interval", type=float, default=1.0)
    parser.add_argument(
        "--database", default="bench_load", help="PostgreSQL database to (re)create"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    result = run_load(
        duration_s=args.duration,
        units=args.units,
        streams=args.streams,
        workers=args.workers,
        call_interval_s=args.call_interval,
        database=args.database,
    )
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        print_report(result)
    return 0 if result["errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
