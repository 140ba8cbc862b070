"""The system under test for the load and fault runs: a PostgreSQL database of its
own, a synthetic population (hospitals of the demo region, 300 units with their
paramedics, dispatchers, ER staff, and bearer tokens), gunicorn, the relay and Redis.

Everything listens on loopback only, and every process is a child of the run that
stops it at the end.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from werkzeug.security import generate_password_hash

from ems.dispatch.region import load_region
from ems.gunicorn_conf import gunicorn_argv
from simulation.procs import Child, Supervisor, python_argv, wait_for_http, wait_for_port

PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6")
# The population's hospitals are the demo region's, read through the server's region packs.
REGION = "demo"
PASSWORD = "bench-pass-2026"


def _engine_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def recreate_database(name: str, admin_url: str = PG_ADMIN_URL) -> str:
    """Drop and create ``name`` on the admin URL's server; return its URL, migrated."""
    from ems.cli import upgrade_database

    engine = create_engine(_engine_url(admin_url), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    upgrade_database(url)
    return url


def drop_database(name: str, admin_url: str = PG_ADMIN_URL) -> None:
    engine = create_engine(_engine_url(admin_url), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@dataclass
class Population:
    hospitals: list[int] = field(default_factory=list)
    units: list[int] = field(default_factory=list)
    unit_tokens: dict[int, str] = field(default_factory=dict)
    unit_positions: dict[int, tuple[float, float]] = field(default_factory=dict)
    dispatcher_tokens: list[str] = field(default_factory=list)
    er_tokens: dict[int, str] = field(default_factory=dict)
    admin_token: str = ""


def seed_population(url: str, *, units: int = 300, dispatchers: int = 4) -> Population:
    """Hospitals of the demo region and ``units`` ambulances spread over its stations.
    Accounts share one password hash and get tokens directly: hashing 300 passwords
    would dominate the set-up time and measures nothing."""
    from ems.auth.models import Role, User
    from ems.auth.service import issue_token
    from ems.db import Database, utcnow
    from ems.fleet.models import Station, Unit
    from ems.hospitals.models import (
        BedAvailability,
        BedCategory,
        EmergencyLevel,
        Hospital,
    )

    region = load_region(REGION).data
    pw_hash = generate_password_hash(PASSWORD)
    pop = Population()
    db = Database(url)
    ttl = 24 * 3600
    with db.session_scope() as s:
        now = utcnow()
        for h in region["hospitals"]:
            hospital = Hospital(
                name=h["name"],
                name_en=h.get("name_en", ""),
                lat=h["lat"],
                lon=h["lon"],
                level=EmergencyLevel(h["level"]),
                capabilities=list(h.get("capabilities", [])),
            )
            s.add(hospital)
            s.flush()
            for cat, n in h.get("beds", {"general": 4}).items():
                s.add(
                    BedAvailability(
                        hospital_id=hospital.id,
                        category=BedCategory(cat),
                        available=n,
                        capacity=n,
                        updated_at=now,
                        expires_at=now + dt.timedelta(hours=12),
                    )
                )
            pop.hospitals.append(hospital.id)
            user = User(
                username=f"bench-er-{hospital.id}",
                password_hash=pw_hash,
                role=Role.ER_STAFF,
                display_name=f"ER {hospital.id}",
                hospital_id=hospital.id,
            )
            s.add(user)
            s.flush()
            pop.er_tokens[hospital.id] = issue_token(session=s, user=user, ttl_s=ttl)[0]
        stations = []
        for st in region["stations"]:
            station = Station(
                name=st["name"], name_en=st.get("name_en", ""), lat=st["lat"], lon=st["lon"]
            )
            s.add(station)
            s.flush()
            stations.append(station)
        for n in range(units):
            station = stations[n % len(stations)]
            unit = Unit(
                call_sign=f"bench-{n + 1:03d}",
                station_id=station.id,
                lat=station.lat,
                lon=station.lon,
                crew=["隊長", "隊員", "機関員"],
            )
            s.add(unit)
            s.flush()
            medic = User(
                username=f"bench-medic-{unit.id}",
                password_hash=pw_hash,
                role=Role.PARAMEDIC,
                display_name=f"medic {unit.id}",
                unit_id=unit.id,
            )
            s.add(medic)
            s.flush()
            pop.units.append(unit.id)
            pop.unit_positions[unit.id] = (station.lat, station.lon)
            pop.unit_tokens[unit.id] = issue_token(session=s, user=medic, ttl_s=ttl)[0]
        for n in range(dispatchers):
            user = User(
                username=f"bench-dispatcher-{n}",
                password_hash=pw_hash,
                role=Role.DISPATCHER,
                display_name=f"dispatcher {n}",
            )
            s.add(user)
            s.flush()
            pop.dispatcher_tokens.append(issue_token(session=s, user=user, ttl_s=ttl)[0])
        admin = User(
            username="bench-admin", password_hash=pw_hash, role=Role.ADMIN, display_name="admin"
        )
        s.add(admin)
        s.flush()
        pop.admin_token = issue_token(session=s, user=admin, ttl_s=ttl)[0]
    db.engine.dispose()
    return pop


# /metrics needs a bearer token in production; the drills read it with this one.
METRICS_TOKEN = secrets.token_urlsafe(24)


def metrics_request(url: str) -> Any:
    import urllib.request

    return urllib.request.Request(url, headers={"Authorization": f"Bearer {METRICS_TOKEN}"})


def server_env(db_url: str, *, redis_url: str, var_dir: Path, relay_port: int) -> dict[str, str]:
    """Production mode, with secrets made up for this run only."""
    import base64

    key = "bench1:" + base64.b64encode(secrets.token_bytes(32)).decode()
    return {
        "EMS_ENV": "production",
        "EMS_SECRET_KEY": secrets.token_urlsafe(32),
        "EMS_RECORD_ENCRYPTION_KEY": key,
        "EMS_DATABASE_URL": db_url,
        "EMS_REDIS_URL": redis_url,
        "EMS_RELAY_URL": f"ws://127.0.0.1:{relay_port}",
        "EMS_PKI_DIR": str(var_dir / "pki"),
        "EMS_REGION_DIR": str(var_dir / "region"),
        "EMS_LOG_LEVEL": "WARNING",
        "EMS_LOGIN_RATE_PER_MIN": "100000",
        "EMS_METRICS_TOKEN": METRICS_TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(var_dir / "prom"),
    }


@dataclass
class Stack:
    """gunicorn + relay on loopback, started and stopped by one supervisor."""

    db_url: str
    redis_url: str = REDIS_URL
    workers: int = 4
    # Threads for the event streams too; MAX_ACTIVE_REQUESTS (4) bounds the work.
    threads: int = 32
    api_port: int = 18000
    relay_port: int = 18765
    var_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="ems-bench-")))
    sup: Supervisor = field(init=False)
    server: Child | None = None
    relay: Child | None = None

    def __post_init__(self) -> None:
        (self.var_dir / "prom").mkdir(parents=True, exist_ok=True)
        self.env = server_env(
            self.db_url, redis_url=self.redis_url, var_dir=self.var_dir, relay_port=self.relay_port
        )
        self.sup = Supervisor(self.var_dir / "logs", env=self.env)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def relay_url(self) -> str:
        return f"ws://127.0.0.1:{self.relay_port}"

    def start_server(self) -> Child:
        self.server = self.sup.start(
            "gunicorn",
            python_argv(
                "-m",
                "gunicorn",
                *gunicorn_argv(
                    bind=f"127.0.0.1:{self.api_port}", workers=self.workers, threads=self.threads
                ),
                "--backlog",
                "2048",
                "--timeout",
                "60",
                "--graceful-timeout",
                "5",
            ),
        )
        wait_for_http(f"{self.api_url}/healthz", child=self.server, timeout_s=60)
        return self.server

    def start_relay(self) -> Child | None:
        """The relay, as its own process."""
        self.relay = self.sup.start(
            "relay",
            python_argv(
                "-m",
                "hospital_gateway.server",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.relay_port),
            ),
        )
        wait_for_port("127.0.0.1", self.relay_port, child=self.relay, timeout_s=30)
        return self.relay

    def restart_relay(self) -> Child | None:
        if self.relay is not None:
            self.relay.stop()
            self.sup.children.remove(self.relay)
        return self.start_relay()

    def stop(self) -> None:
        self.sup.stop_all()

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
