"""CPU per request of the API's busiest routes, in process, on PostgreSQL.

    python -m bench.run api

Under the load run most of the server's CPU goes to a few routes: the units'
position fixes (60 a second from 300 tablets), the ER boards and consoles reading
transports, units and today's figures. This benchmark sends each of them through
the whole Flask stack (authentication, role check, parsing, the service, commit,
live events through Redis, metrics) with the test client, one request at a time,
and reports the CPU time one request costs (``api_cpu_ms_<route>``, the best of
several rounds). CPU time, unlike latency, does not depend on what else the
machine is doing, so the figures compare one change with the next.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.stack import REDIS_URL, Population, drop_database, recreate_database, seed_population

ROUNDS = 5


def _cpu_ms_per_call(call: Callable[[int], Any], n: int) -> float:
    """The CPU milliseconds one call takes: the best of ``ROUNDS`` rounds, since
    other work on the machine only ever adds to it."""
    call(0)  # warm the statement caches and the connection pool
    per_call = []
    for r in range(ROUNDS):
        t0 = time.process_time()
        for i in range(n):
            call(r * n + i + 1)
        per_call.append((time.process_time() - t0) * 1000 / n)
    return round(min(per_call), 2)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _routes(client: Any, pop: Population) -> dict[str, Callable[[int], Any]]:
    def ok(resp: Any) -> None:
        if resp.status_code >= 300:
            raise RuntimeError(f"{resp.request.path}: {resp.status_code} {resp.get_data()[:200]!r}")

    units = pop.units
    dispatcher = _auth(pop.dispatcher_tokens[0])
    er_hospital, er_token = next(iter(pop.er_tokens.items()))

    def position(i: int) -> None:
        unit_id = units[i % len(units)]
        lat, lon = pop.unit_positions[unit_id]
        ok(
            client.put(
                f"/api/v1/units/{unit_id}/position",
                json={"lat": lat + (i % 100) * 1e-5, "lon": lon},
                headers=_auth(pop.unit_tokens[unit_id]),
            )
        )

    def get(path: str, headers: dict[str, str]) -> Callable[[int], None]:
        return lambda _i: ok(client.get(path, headers=headers))

    def availability(i: int) -> None:
        ok(
            client.patch(
                f"/api/v1/hospitals/{er_hospital}/availability",
                json={"beds": [{"category": "general", "available": i % 6, "capacity": 12}]},
                headers=_auth(er_token),
            )
        )

    return {
        "position": position,
        "units": get("/api/v1/units", dispatcher),
        "transports": get("/api/v1/transports?active=true", dispatcher),
        "stats_today": get("/api/v1/stats/today", dispatcher),
        "hospitals": get("/api/v1/hospitals", dispatcher),
        "availability": availability,
    }


def _open_transports(client: Any, pop: Population, n: int) -> None:
    """Calls with a unit on the way, so that the transport list is not empty."""
    headers = _auth(pop.dispatcher_tokens[0])
    for k in range(n):
        unit_id = pop.units[-1 - k]
        lat, lon = pop.unit_positions[unit_id]
        incident = client.post(
            "/api/v1/incidents",
            json={"lat": lat, "lon": lon, "urgency": "serious", "chief_complaint": "胸痛"},
            headers=headers,
        )
        client.post(
            f"/api/v1/incidents/{incident.get_json()['id']}/assign",
            json={"unit_id": unit_id},
            headers=headers,
        )


def run() -> dict[str, float]:
    from ems.app import create_app

    database = os.environ.get("EMS_API_BENCH_DATABASE", "bench_api")
    url = recreate_database(database)
    try:
        pop = seed_population(url, units=300)
        with tempfile.TemporaryDirectory(prefix="ems-bench-api-") as tmp:
            app = create_app(
                {
                    "ENV": "test",
                    "DATABASE_URL": url,
                    "REDIS_URL": REDIS_URL,
                    "PKI_DIR": str(Path(tmp) / "pki"),
                    "REGION_DIR": str(Path(tmp) / "region"),
                    "LOG_LEVEL": "WARNING",
                }
            )
            client = app.test_client()
            _open_transports(client, pop, 30)
            counts = {"position": 300, "availability": 100}
            figures = {
                f"api_cpu_ms_{name}": _cpu_ms_per_call(call, counts.get(name, 40))
                for name, call in _routes(client, pop).items()
            }
            from ems.db import get_db

            get_db(app).engine.dispose()
        return figures
    finally:
        drop_database(database)


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key} = {value}")
