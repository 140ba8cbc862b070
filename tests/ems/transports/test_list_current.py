"""``GET /transports?current=true``: the patients an ER board shows (en route, or
arrived at the hospital in the last hours), not every transport its hospital ever had."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from flask import Flask

from ems.auth.models import Role
from ems.db import get_db, utcnow
from ems.transports.models import Transport, TransportStatus
from tests.factories import Api, make_hospital, make_transport, make_unit

URL = "/api/v1/transports"


def _set(app: Flask, transport_id: int, **values: object) -> None:
    with app.app_context(), get_db(app).session_scope() as s:
        tr = s.get(Transport, transport_id)
        assert tr is not None
        for name, value in values.items():
            setattr(tr, name, value)


def test_current_lists_en_route_and_recent_arrivals_only(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    hospital = make_hospital(app)
    now = utcnow()
    units = [make_unit(app, call_sign=f"U{i}") for i in range(5)]
    en_route = make_transport(app, unit_id=units[0], destination=hospital)
    arrived = make_transport(
        app, unit_id=units[1], destination=hospital, call_age=dt.timedelta(hours=7)
    )
    _set(app, arrived, arrived_hospital_at=now - dt.timedelta(hours=1))
    # Handed over three weeks ago, and an "accepted" one of last month never closed.
    old_done = make_transport(
        app, unit_id=units[2], destination=hospital, call_age=dt.timedelta(days=21)
    )
    _set(
        app,
        old_done,
        arrived_hospital_at=now - dt.timedelta(days=21),
        handover_at=now - dt.timedelta(days=21),
        status=TransportStatus.COMPLETED,
    )
    stale_open = make_transport(
        app, unit_id=units[3], destination=hospital, call_age=dt.timedelta(days=30)
    )
    cancelled = make_transport(app, unit_id=units[4], destination=hospital)
    _set(app, cancelled, status=TransportStatus.CANCELLED)

    er = as_role(Role.ER_STAFF, hospital_id=hospital)
    everything = {t["id"] for t in er.get(URL).get_json()}
    assert {en_route, arrived, old_done, stale_open} <= everything

    resp = er.get(f"{URL}?current=true")
    assert resp.status_code == 200
    assert [t["id"] for t in resp.get_json()] == [arrived, en_route]  # newest first
    # The window is the caller's to choose, within bounds.
    assert [t["id"] for t in er.get(f"{URL}?current=true&hours=2").get_json()] == [
        arrived,
        en_route,
    ]
    hours_1 = {t["id"] for t in er.get(f"{URL}?current=true&hours=1").get_json()}
    assert hours_1 == {en_route}  # arrived just over an hour ago
    assert er.get(f"{URL}?current=true&hours=0").status_code == 400
    assert er.get(f"{URL}?current=true&hours=73").status_code == 400
    # Without ``current`` nothing changes, ``hours`` alone included.
    assert {t["id"] for t in er.get(f"{URL}?hours=1").get_json()} == everything


def test_current_keeps_the_access_rules(app: Flask, as_role: Callable[..., Api]) -> None:
    ours, theirs = make_hospital(app, name="A"), make_hospital(app, name="B")
    mine = make_transport(app, unit_id=make_unit(app, call_sign="A1"), destination=ours)
    make_transport(app, unit_id=make_unit(app, call_sign="B1"), destination=theirs)
    er = as_role(Role.ER_STAFF, hospital_id=ours)
    assert [t["id"] for t in er.get(f"{URL}?current=true").get_json()] == [mine]
    dispatcher = as_role(Role.DISPATCHER)
    assert len(dispatcher.get(f"{URL}?current=true&active=true").get_json()) == 2
