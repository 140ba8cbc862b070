"""Shared fixtures: an app with a fresh database per test, on SQLite and, when
``TEST_DATABASE_URL`` is set, on PostgreSQL too."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from ems.app import create_app
from ems.cli import upgrade_database
from ems.db import Base, get_db


def _per_worker(env: str) -> None:
    """Under pytest-xdist each worker gets a database and a Redis index of its own,
    named after its id (gw0, gw1, ...); modules that read the variables see them."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    url = os.environ.get(env, "")
    if not (worker and url):
        return
    n = int(worker.removeprefix("gw"))
    base, _, name = url.rpartition("/")
    if env == "TEST_REDIS_URL":
        os.environ[env] = f"{base}/{max(0, int(name or 15) - n)}"
    else:
        os.environ[env] = f"{base}/{name}_{worker}"


_per_worker("TEST_DATABASE_URL")
_per_worker("TEST_REDIS_URL")
PG_URL = os.environ.get("TEST_DATABASE_URL", "")
BACKENDS = ["sqlite", "postgres"] if PG_URL else ["sqlite"]


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing() -> Iterator[None]:
    """Tests create hundreds of accounts: scrypt's deliberate slowness (~0.4 s per hash
    here) would dominate the run. Verification reads the method from the stored hash."""
    import ems.auth.service as auth_service

    original = auth_service.generate_password_hash

    def cheap(password: str, method: str = "", salt_length: int = 16) -> str:
        return original(password, method="pbkdf2:sha256:1000", salt_length=salt_length)

    auth_service.generate_password_hash = cheap  # type: ignore[assignment]
    yield
    auth_service.generate_password_hash = original


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    upgrade_database(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_migrated() -> str:
    _create_database(PG_URL)
    engine = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    upgrade_database(PG_URL)
    return PG_URL


def _create_database(url: str) -> None:
    """A worker's own database, created beside the one named in TEST_DATABASE_URL."""
    base, _, name = url.rpartition("/")
    admin = create_engine(
        f"{base}/postgres".replace("postgresql://", "postgresql+psycopg://", 1),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if found.first() is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def _truncate_pg(url: str) -> None:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "ems.sqlite3"
        shutil.copy(template, path)
        yield f"sqlite:///{path}"
    else:
        url: str = request.getfixturevalue("pg_migrated")
        _truncate_pg(url)
        yield url
        _truncate_pg(url)


@pytest.fixture
def app_config(db_url: str, tmp_path: Path) -> dict[str, Any]:
    return {
        "ENV": "test",
        "DATABASE_URL": db_url,
        "PKI_DIR": str(tmp_path / "pki"),
        "REGION_DIR": str(tmp_path / "region"),
        "LOGIN_RATE_PER_MIN": 1000,
    }


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    app = create_app(app_config)
    yield app
    get_db(app).engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def session(app: Flask) -> Iterator[Any]:
    """A session for arranging data; commits when the block ends."""
    with app.app_context(), get_db(app).session_scope() as s:
        yield s


from tests.factories import *  # noqa: E402, F403

# The fast lane (`make check`) runs the unit tests: those that need no database, no
# browser and no process rig. Everything runs in `make test`. An entry is a folder, a
# file or one test ("file::test"); tests/test_fast_lane.py finds any test that starts a
# process, builds road tiles or drives a browser and is not listed here.
SLOW = (
    "tests/browser/",
    "tests/hold/test_demo.py",
    "tests/hold/test_faults.py",
    "tests/ems/test_schemathesis.py",
    "tests/ems/test_seed.py",
    "tests/packaging/",
    "tests/test_layers.py",
    # Valhalla tiles built from the demo region or the Helsinki extract.
    "tests/ems/dispatch/test_routing.py",
    "tests/ems/dispatch/test_simulate.py::test_policy_a_reproduces_fdma_stages_on_roads",
    "tests/simulation/test_demo_region.py",
    "tests/simulation/test_roads.py",
    # Processes: the demo's supervisor, the fault rig, a Python or gunicorn of its own.
    "tests/simulation/test_demo_lifecycle.py",
    "tests/ambulance_client/test_durable.py::"
    "test_an_agent_killed_during_an_outage_delivers_every_event_and_vital_once",
    "tests/card_issuer/test_cli.py::test_python_m_card_issuer_runs_on_its_own",
    "tests/ems/cards/test_no_keys.py::"
    "test_the_server_process_loads_neither_the_issuer_nor_the_tablet_nor_pkcs11",
    "tests/ems/test_gunicorn_conf.py::"
    "test_gunicorn_reads_the_shared_settings_and_keeps_the_callers_own",
)


def is_slow(nodeid: str) -> bool:
    """Whether the test ``nodeid`` (``tests/x/test_y.py::test_z[param]``) is listed."""
    base = nodeid.split("[", 1)[0]
    return any(
        base.startswith(entry)
        if entry.endswith("/")
        else base.split("::")[: entry.count("::") + 1] == entry.split("::")
        for entry in SLOW
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if is_slow(item.nodeid):
            item.add_marker(pytest.mark.slow)
        fixtures = getattr(item, "fixturenames", ())
        if not (
            "db_url" in fixtures
            or item.get_closest_marker("slow")
            or item.get_closest_marker("browser")
        ):
            item.add_marker(pytest.mark.unit)
