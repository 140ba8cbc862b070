"""Move-up through the API: suggestions with the coverage gained, and one applied in a
tap (audited, announced to the consoles and the crew); each bad input refused with its
code and nothing written."""

from __future__ import annotations

import datetime as dt
import queue
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from ems.audit.models import AuditEntry
from ems.auth.models import Role, User
from ems.db import get_db
from ems.dispatch import coverage
from ems.events import Event, visible_to
from ems.fleet.models import Station, Unit, UnitStatus
from tests.ems.dispatch.conftest import make_incident
from tests.factories import Api

URL = "/api/v1/dispatch/move-up"


def _world(app: Flask) -> dict[str, int]:
    """Two units at the Midori central station; the station at Minatomachi (147,000
    people, the demo region's second town) has none: a gap."""
    with app.app_context(), get_db(app).session_scope() as s:
        central = Station(name="中央消防署", lat=35.498, lon=134.225)
        minato = Station(name="港町消防署", lat=35.432, lon=133.335)
        s.add_all([central, minato])
        s.flush()
        units = [
            Unit(call_sign=f"みどり救急{i}", station_id=central.id, lat=35.498, lon=134.225)
            for i in (1, 2)
        ]
        s.add_all(units)
        s.flush()
        return {"central": central.id, "minato": minato.id, "u1": units[0].id, "u2": units[1].id}


def _unit(app: Flask, unit_id: int) -> tuple[UnitStatus, int | None]:
    with app.app_context(), get_db(app).session_scope() as s:
        u = s.get(Unit, unit_id)
        assert u is not None
        return u.status, u.post_station_id


def _audits(app: Flask, action: str) -> list[AuditEntry]:
    with app.app_context(), get_db(app).session_scope() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action == action)).all()
        s.expunge_all()
        return list(rows)


def test_suggestion_moves_a_unit_into_the_gap_and_applies_in_one_tap(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    w = _world(app)
    dispatcher = as_role(Role.DISPATCHER)
    r = dispatcher.get(URL)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["idle_units"] == 2 and body["demand"] == "towns"
    assert body["source"] == "straight_line"  # no tiles built in tests: labelled
    assert body["threshold_s"] == coverage.COVER_THRESHOLD_S
    first = body["suggestions"][0]
    assert first["unit_id"] == w["u1"] and first["to_station_id"] == w["minato"]
    assert first["to_station_name"] == "港町消防署" and first["drive_s"] > 0
    assert first["after"]["covered"] > first["before"]["covered"] == body["coverage"]["covered"]
    assert first["after"]["expected"] > first["before"]["expected"]

    feed: queue.Queue[Event] = app.extensions["ems_events"].subscribe()
    r = dispatcher.post(
        URL, {"unit_id": w["u1"], "station_id": w["minato"], "basis": body["basis"]}
    )
    assert r.status_code == 200, r.get_json()
    applied = r.get_json()
    assert applied["post_station_id"] == w["minato"]
    assert applied["after"] == first["after"]
    # The unit stays available, posted at the station its crew is asked to go to.
    assert _unit(app, w["u1"]) == (UnitStatus.AVAILABLE, w["minato"])
    seen = [feed.get_nowait() for _ in range(feed.qsize())]
    event = next(e for e in seen if e.type == "unit.updated")
    assert event.data["post_station_id"] == w["minato"]
    assert event.data["post_station_name"] == "港町消防署"
    # Since when the crew waits there: the tablet shows it.
    posted = dt.datetime.fromisoformat(event.data["posted_at"])
    assert abs((dt.datetime.now(dt.UTC) - posted).total_seconds()) < 60
    assert visible_to(event, role="paramedic", unit_id=w["u1"], hospital_id=None)
    (audit,) = _audits(app, "dispatch.move_up")
    assert audit.actor_id == dispatcher.user_id and audit.target_id == str(w["u1"])
    assert audit.detail["to_station"] == w["minato"]
    assert audit.detail["covered"] == [first["before"]["covered"], first["after"]["covered"]]
    # The gap is filled: nothing more to suggest, and the unit reads as posted.
    again = dispatcher.get(URL).get_json()
    assert again["suggestions"] == [] and again["basis"] != body["basis"]
    unit = dispatcher.get(f"/api/v1/units/{w['u1']}").get_json()
    assert unit["post_station_id"] == w["minato"]


def test_dispatch_ends_the_post(app: Flask, as_role: Callable[..., Api]) -> None:
    w = _world(app)
    dispatcher = as_role(Role.DISPATCHER)
    basis = dispatcher.get(URL).get_json()["basis"]
    dispatcher.post(URL, {"unit_id": w["u1"], "station_id": w["minato"], "basis": basis})
    inc = make_incident(app, lat=35.43, lon=133.34)
    r = dispatcher.post(f"/api/v1/incidents/{inc}/assign", {"unit_id": w["u1"]})
    assert r.status_code == 201, r.get_json()
    assert _unit(app, w["u1"]) == (UnitStatus.DISPATCHED, None)
    assert dispatcher.get(f"/api/v1/units/{w['u1']}").get_json()["posted_at"] is None


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("unknown_unit", 404, "unit_not_found"),
        ("busy_unit", 409, "unit_not_idle"),
        ("unknown_station", 404, "station_not_found"),
        ("old_basis", 409, "stale_suggestion"),
        ("not_suggested", 409, "stale_suggestion"),
        ("malformed", 400, "validation_error"),
    ],
)
def test_bad_input_is_refused_and_nothing_written(
    app: Flask, as_role: Callable[..., Api], case: str, status: int, code: str
) -> None:
    w = _world(app)
    dispatcher = as_role(Role.DISPATCHER)
    basis = dispatcher.get(URL).get_json()["basis"]
    body: dict[str, Any] = {"unit_id": w["u1"], "station_id": w["minato"], "basis": basis}
    if case == "unknown_unit":
        body["unit_id"] = 999_999
    elif case == "busy_unit":
        with app.app_context(), get_db(app).session_scope() as s:
            u = s.get(Unit, w["u1"])
            assert u is not None
            u.status = UnitStatus.OUT_OF_SERVICE
    elif case == "unknown_station":
        body["station_id"] = 999_999
    elif case == "old_basis":
        # Another unit became busy after the suggestion was made.
        with app.app_context(), get_db(app).session_scope() as s:
            u = s.get(Unit, w["u2"])
            assert u is not None
            u.status = UnitStatus.OUT_OF_SERVICE
    elif case == "not_suggested":
        body["station_id"] = w["central"]
    elif case == "malformed":
        body["unit_id"] = "one"
    r = dispatcher.post(URL, body)
    assert r.status_code == status, r.get_json()
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert r.get_json()["code"] == code
    assert _unit(app, w["u1"])[1] is None
    assert _audits(app, "dispatch.move_up") == []


def test_only_dispatchers_on_duty_move_units(app: Flask, as_role: Callable[..., Api]) -> None:
    w = _world(app)
    medic = as_role(Role.PARAMEDIC, unit_id=w["u1"])
    assert medic.get(URL).status_code == 403
    dispatcher = as_role(Role.DISPATCHER)
    basis = dispatcher.get(URL).get_json()["basis"]
    body = {"unit_id": w["u1"], "station_id": w["minato"], "basis": basis}
    assert medic.post(URL, body).get_json()["code"] == "role_forbidden"
    with app.app_context(), get_db(app).session_scope() as s:
        user = s.get(User, dispatcher.user_id)
        assert user is not None
        user.on_duty = False
    r = dispatcher.post(URL, body)
    assert r.status_code == 403 and r.get_json()["code"] == "off_duty"
    assert _unit(app, w["u1"])[1] is None
    (refusal,) = [a for a in _audits(app, "dispatch.move_up") if a.outcome == "denied"]
    assert refusal.actor_id == dispatcher.user_id


def test_server_suggests_with_the_simulations_function(
    app: Flask, as_role: Callable[..., Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The simulation's move-up lever calls coverage.move_up (test_simulate); so does this.
    calls = []
    real = coverage.move_up

    def spy(**kw: Any) -> coverage.MoveUpPlan:
        calls.append(kw)
        return real(**kw)

    monkeypatch.setattr(coverage, "move_up", spy)
    _world(app)
    assert as_role(Role.DISPATCHER).get(URL).status_code == 200
    assert len(calls) == 1 and len(calls[0]["units"]) == 2
