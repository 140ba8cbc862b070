"""Two dispatchers assigning at the same moment: exactly one wins, the other gets a
409 and nothing of theirs is written. Real concurrent transactions on PostgreSQL
(separate connections, threads released together by a barrier)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, text

from ems.auth.models import Role, User
from ems.db import get_db
from ems.errors import Conflict
from ems.transports import service as transports
from ems.transports.models import Transport
from tests.ems.transports.scenario import new_incident
from tests.factories import Api, make_unit

pytestmark = pytest.mark.postgres
ROUNDS = 6


@pytest.fixture(autouse=True)
def _postgres_only(db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("races need real concurrent transactions (TEST_DATABASE_URL)")


def _race(app: Flask, calls: list[tuple[Api, str, dict[str, Any]]]) -> list[Any]:
    """Send the requests from separate threads and clients, released together."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int, api: Api, url: str, body: dict[str, Any]) -> None:
        own = Api(client=app.test_client(), token=api.token, user_id=api.user_id)
        barrier.wait()
        results[i] = own.post(url, json=body)

    threads = [threading.Thread(target=run, args=(i, *call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def _transports_of_unit(app: Flask, unit_id: int) -> int:
    with app.app_context(), get_db(app).session_scope() as s:
        return int(
            s.scalar(select(func.count()).where(Transport.unit_id == unit_id)) or 0  # type: ignore[arg-type]
        )


def test_two_dispatchers_assign_the_same_unit(app: Flask, as_role: Callable[..., Api]) -> None:
    d1, d2 = as_role(Role.DISPATCHER), as_role(Role.DISPATCHER)
    for n in range(ROUNDS):
        unit = make_unit(app, call_sign=f"競合{n}")
        calls = [new_incident(d1), new_incident(d2)]
        r1, r2 = _race(
            app,
            [
                (d1, f"/api/v1/incidents/{calls[0]}/assign", {"unit_id": unit}),
                (d2, f"/api/v1/incidents/{calls[1]}/assign", {"unit_id": unit}),
            ],
        )
        codes = sorted([r1.status_code, r2.status_code])
        assert codes == [201, 409], (n, r1.get_json(), r2.get_json())
        loser = r1 if r1.status_code == 409 else r2
        assert loser.get_json()["code"] == "unit_unavailable"
        assert _transports_of_unit(app, unit) == 1
        # The loser's call is untouched and waits for another unit.
        statuses = sorted(d1.get(f"/api/v1/incidents/{c}").get_json()["status"] for c in calls)
        assert statuses == ["assigned", "pending"]


def test_two_dispatchers_assign_the_same_call(app: Flask, as_role: Callable[..., Api]) -> None:
    d1, d2 = as_role(Role.DISPATCHER), as_role(Role.DISPATCHER)
    for n in range(ROUNDS):
        units = [make_unit(app, call_sign=f"甲{n}"), make_unit(app, call_sign=f"乙{n}")]
        call = new_incident(d1)
        r1, r2 = _race(
            app,
            [
                (d1, f"/api/v1/incidents/{call}/assign", {"unit_id": units[0]}),
                (d2, f"/api/v1/incidents/{call}/assign", {"unit_id": units[1]}),
            ],
        )
        assert sorted([r1.status_code, r2.status_code]) == [201, 409], n
        loser = r1 if r1.status_code == 409 else r2
        assert loser.get_json()["code"] == "incident_not_pending"
        statuses = sorted(d1.get(f"/api/v1/units/{u}").get_json()["status"] for u in units)
        assert statuses == ["available", "dispatched"]
        assert sum(_transports_of_unit(app, u) for u in units) == 1


def test_the_second_writer_waits_for_the_first_and_then_loses(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    """Deterministic overlap: A holds the unit row uncommitted while B's UPDATE
    blocks on it; once A commits, B re-evaluates ``status = 'available'`` and loses."""
    dispatcher = as_role(Role.DISPATCHER)
    unit = make_unit(app)
    first, second = new_incident(dispatcher), new_incident(dispatcher)
    db = get_db(app)
    outcome: dict[str, Any] = {}

    with db.sessionmaker() as session_a:
        actor_a = session_a.get(User, dispatcher.user_id)
        assert actor_a is not None
        transports.assign(session=session_a, incident_id=first, unit_id=unit, actor=actor_a)
        session_a.flush()

        def b() -> None:
            with db.sessionmaker() as session_b:
                outcome["pid"] = session_b.scalar(text("SELECT pg_backend_pid()"))
                actor_b = session_b.get(User, dispatcher.user_id)
                assert actor_b is not None
                try:
                    transports.assign(
                        session=session_b, incident_id=second, unit_id=unit, actor=actor_b
                    )
                    session_b.commit()
                    outcome["result"] = "won"
                except Conflict as err:
                    session_b.rollback()
                    outcome["result"] = err.code

        thread = threading.Thread(target=b)
        thread.start()
        # Wait until B is really blocked on A's row lock, not merely started (a loaded
        # machine may take seconds to get B that far).
        deadline = time.monotonic() + 60
        waiting = 0
        with db.engine.connect() as probe:
            while time.monotonic() < deadline and thread.is_alive():
                waiting = probe.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE pid = :pid AND wait_event_type = 'Lock'"
                    ),
                    {"pid": outcome.get("pid", -1)},
                ).scalar()
                if waiting:
                    break
                time.sleep(0.01)
            assert waiting, f"B never blocked on A's lock: {outcome}"
        session_a.commit()
        thread.join(timeout=30)

    assert outcome["result"] == "unit_unavailable"
    assert _transports_of_unit(app, unit) == 1
    assert dispatcher.get(f"/api/v1/incidents/{second}").get_json()["status"] == "pending"
