"""Duplicates that arrive together (a tablet flushing its queue twice, a console
retrying while the first attempt is still running): exactly one write, the other
request answers with the stored response, waits for the first, or is told to
retry. Real concurrent transactions on PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, func, select, text

from ems.auth.models import Role
from ems.db import get_db
from ems.errors import Conflict
from ems.idempotency import service as idempotency
from ems.incidents import service as incidents
from ems.incidents.models import Incident
from tests.ems.transports.scenario import incident_body
from tests.factories import Api

pytestmark = pytest.mark.postgres
URL = "/api/v1/incidents"
HEADERS = {"Idempotency-Key": "tablet-9:queue-17"}


@pytest.fixture(autouse=True)
def _postgres_only(db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("concurrent duplicates need real transactions (TEST_DATABASE_URL)")


def _incidents(app: Flask) -> int:
    with app.app_context(), get_db(app).session_scope() as s:
        return int(s.scalar(select(func.count()).select_from(Incident)) or 0)


class Gate:
    """Holds the first request inside its write until the test lets it go."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, fail: bool = False) -> None:
        self.inside = threading.Event()
        self.release = threading.Event()
        original = incidents.create

        def held(**kw: Any) -> Any:
            row = original(**kw)
            if not self.inside.is_set():
                self.inside.set()
                assert self.release.wait(30)
                if fail:
                    raise Conflict("the call-taker aborted", code="aborted")
            return row

        monkeypatch.setattr(incidents, "create", held)


def _send(app: Flask, api: Api, out: list[Any]) -> threading.Thread:
    own = Api(client=app.test_client(), token=api.token, user_id=api.user_id)
    t = threading.Thread(
        target=lambda: out.append(own.post(URL, json=incident_body(), headers=HEADERS))
    )
    t.start()
    return t


@pytest.fixture
def lock_waiters(db_url: str) -> Iterator[Callable[[], int]]:
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))

    def count() -> int:
        with engine.connect() as conn:
            return int(
                conn.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                )
                or 0
            )

    yield count
    engine.dispose()


def _until(check: Callable[[], bool]) -> None:
    # Generous: on a loaded machine a request thread may take seconds to reach its lock.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("the condition never came true")


def test_a_duplicate_waits_for_the_first_and_gets_its_answer(
    app: Flask,
    as_role: Callable[..., Api],
    monkeypatch: pytest.MonkeyPatch,
    lock_waiters: Callable[[], int],
) -> None:
    api = as_role(Role.DISPATCHER)
    gate = Gate(monkeypatch)
    first: list[Any] = []
    second: list[Any] = []
    t1 = _send(app, api, first)
    assert gate.inside.wait(30)
    t2 = _send(app, api, second)
    # The duplicate is blocked on the key the first one holds, not running the write.
    _until(lambda: lock_waiters() >= 1)
    gate.release.set()
    t1.join(30)
    t2.join(30)
    assert first[0].status_code == second[0].status_code == 201
    assert second[0].headers["Idempotent-Replayed"] == "true"
    assert second[0].get_json()["id"] == first[0].get_json()["id"]
    assert _incidents(app) == 1


def test_if_the_first_fails_the_waiting_duplicate_does_the_write(
    app: Flask,
    as_role: Callable[..., Api],
    monkeypatch: pytest.MonkeyPatch,
    lock_waiters: Callable[[], int],
) -> None:
    api = as_role(Role.DISPATCHER)
    gate = Gate(monkeypatch, fail=True)
    first: list[Any] = []
    second: list[Any] = []
    t1 = _send(app, api, first)
    assert gate.inside.wait(30)
    t2 = _send(app, api, second)
    _until(lambda: lock_waiters() >= 1)
    gate.release.set()
    t1.join(30)
    t2.join(30)
    assert first[0].status_code == 409
    assert second[0].status_code == 201
    assert "Idempotent-Replayed" not in second[0].headers
    assert _incidents(app) == 1


def test_a_duplicate_that_waits_too_long_is_told_to_retry(
    app: Flask,
    as_role: Callable[..., Api],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api = as_role(Role.DISPATCHER)
    monkeypatch.setattr(idempotency, "WAIT_S", 0.2)
    gate = Gate(monkeypatch)
    first: list[Any] = []
    second: list[Any] = []
    t1 = _send(app, api, first)
    assert gate.inside.wait(30)
    t2 = _send(app, api, second)
    t2.join(30)
    assert second[0].status_code == 409
    assert second[0].get_json()["code"] == "idempotency_in_progress"
    gate.release.set()
    t1.join(30)
    assert first[0].status_code == 201
    retry = api.post(URL, json=incident_body(), headers=HEADERS)
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.get_json()["id"] == first[0].get_json()["id"]
    assert _incidents(app) == 1


def test_a_burst_of_duplicates_writes_once(app: Flask, as_role: Callable[..., Api]) -> None:
    api = as_role(Role.DISPATCHER)
    n = 6
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        own = Api(client=app.test_client(), token=api.token, user_id=api.user_id)
        barrier.wait()
        results[i] = own.post(URL, json=incident_body(), headers=HEADERS)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(r.status_code == 201 for r in results), [r.get_json() for r in results]
    assert len({r.get_json()["id"] for r in results}) == 1
    assert sum("Idempotent-Replayed" not in r.headers for r in results) == 1
    assert _incidents(app) == 1
