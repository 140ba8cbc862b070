"""No dead ends on the hospital side: a round that asks nobody is refused with its own
code, and when every hospital asked has declined the dispatchers and the unit's crew are
told once (``transport.destination_needed``), so that a hospital is chosen by hand."""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from ems.audit.models import AuditEntry
from ems.auth.models import Role
from ems.db import get_db
from ems.events import Event, visible_to
from ems.hospital_requests.models import HospitalRequest
from tests.ems.dispatch.conftest import pci_world
from tests.factories import Api, make_unit


def _drain(feed: queue.Queue[Event]) -> list[Event]:
    out = []
    while not feed.empty():
        out.append(feed.get_nowait())
    return out


def _requests_written(app: Flask) -> int:
    with app.app_context(), get_db(app).session_scope() as s:
        return int(s.scalar(select(func.count()).select_from(HospitalRequest)) or 0)


def test_a_round_that_asks_no_hospital_is_refused_with_its_own_code(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    w = pci_world(app)
    crew = as_role(Role.PARAMEDIC, unit_id=w["unit"])
    url = f"/api/v1/transports/{w['transport']}/hospital-requests"
    for body in ({"hospital_ids": []}, {"k": 0}):
        r = crew.post(url, json=body)
        assert r.status_code == 400, body
        assert r.get_json()["code"] == "no_hospital_chosen"
        assert r.headers["Content-Type"].startswith("application/problem+json")
    assert _requests_written(app) == 0
    # One hospital is a round.
    assert crew.post(url, json={"hospital_ids": [w["near"]]}).status_code == 201


def _decline_all(as_role: Callable[..., Api], body: dict[str, Any]) -> dict[str, Any]:
    """Decline every open request of the round, and of each round sent after it."""
    last: dict[str, Any] = {}
    pending = list(body["requests"])
    while pending:
        req = pending.pop(0)
        er = as_role(Role.ER_STAFF, hospital_id=req["hospital_id"])
        r = er.post(f"/api/v1/hospital-requests/{req['id']}/decline", json={"reason": "beds_full"})
        assert r.status_code == 200, r.get_json()
        last = r.get_json()
        if last["next_round"]:
            pending += last["next_round"]["requests"]
    return last


def test_every_hospital_declined_tells_dispatchers_and_the_crew_once(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    w = pci_world(app)
    crew = as_role(Role.PARAMEDIC, unit_id=w["unit"])
    feed: queue.Queue[Event] = app.extensions["ems_events"].subscribe()
    rnd = crew.post(f"/api/v1/transports/{w['transport']}/hospital-requests", json={})
    assert rnd.status_code == 201
    last = _decline_all(as_role, rnd.get_json())
    assert last["exhausted"] is True and last["next_round"] is None

    needed = [e for e in _drain(feed) if e.type == "transport.destination_needed"]
    assert len(needed) == 1, "once per dead end"
    (event,) = needed
    assert event.data["transport_id"] == w["transport"]
    assert event.data["incident_id"] == w["incident"]
    assert event.data["unit_id"] == w["unit"]
    assert event.data["unit_call_sign"] == "救急1"
    assert set(event.data["declined"]) == {w["near"], w["mid"], w["far"]}
    other_unit = make_unit(app, call_sign="救急2")
    assert visible_to(event, role="dispatcher", unit_id=None, hospital_id=None)
    assert visible_to(event, role="paramedic", unit_id=w["unit"], hospital_id=None)
    assert not visible_to(event, role="paramedic", unit_id=other_unit, hospital_id=None)
    assert not visible_to(event, role="er_staff", unit_id=None, hospital_id=w["near"])

    with app.app_context(), get_db(app).session_scope() as s:
        audited = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "transport.destination_needed")
        ).all()
        assert [a.target_id for a in audited] == [str(w["transport"])]

    # The recommendations say so, and nothing more is offered to ask.
    recs = crew.get(f"/api/v1/transports/{w['transport']}/hospital-recommendations").get_json()
    assert recs["destination_needed"] is True
    assert recs["hospitals"] == [] and recs["suggested"] == []
    again = crew.post(f"/api/v1/transports/{w['transport']}/hospital-requests", json={})
    assert again.status_code == 409 and again.get_json()["code"] == "no_candidates"


def test_a_decline_while_others_are_open_is_no_dead_end(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    w = pci_world(app)
    crew = as_role(Role.PARAMEDIC, unit_id=w["unit"])
    feed: queue.Queue[Event] = app.extensions["ems_events"].subscribe()
    rnd = crew.post(
        f"/api/v1/transports/{w['transport']}/hospital-requests",
        json={"hospital_ids": [w["near"], w["mid"]]},
    ).get_json()
    first = rnd["requests"][0]
    er = as_role(Role.ER_STAFF, hospital_id=first["hospital_id"])
    er.post(f"/api/v1/hospital-requests/{first['id']}/decline", json={"reason": "in_surgery"})
    assert not [e for e in _drain(feed) if e.type == "transport.destination_needed"]
    recs = crew.get(f"/api/v1/transports/{w['transport']}/hospital-recommendations").get_json()
    assert recs["destination_needed"] is False


def test_a_destination_chosen_by_hand_withdraws_the_open_requests(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    w = pci_world(app)
    crew = as_role(Role.PARAMEDIC, unit_id=w["unit"])
    (req,) = crew.post(
        f"/api/v1/transports/{w['transport']}/hospital-requests",
        json={"hospital_ids": [w["near"]]},
    ).get_json()["requests"]
    feed: queue.Queue[Event] = app.extensions["ems_events"].subscribe()
    # The crew reached another hospital by phone.
    r = crew.put(f"/api/v1/transports/{w['transport']}/destination", json={"hospital_id": w["far"]})
    assert r.status_code == 200, r.get_json()
    cancelled = [e for e in _drain(feed) if e.type == "request.cancelled"]
    assert [(e.data["id"], e.data["reason"], e.hospital_id) for e in cancelled] == [
        (req["id"], "destination_set", w["near"])
    ]
    er = as_role(Role.ER_STAFF, hospital_id=w["near"])
    late = er.post(f"/api/v1/hospital-requests/{req['id']}/accept")
    assert late.status_code == 409 and late.get_json()["code"] == "already_placed"


def test_the_hospitals_other_er_screens_hear_a_colleagues_answer(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    w = pci_world(app)
    crew = as_role(Role.PARAMEDIC, unit_id=w["unit"])
    url = f"/api/v1/transports/{w['transport']}/hospital-requests"
    (req,) = crew.post(url, json={"hospital_ids": [w["near"]]}).get_json()["requests"]
    feed: queue.Queue[Event] = app.extensions["ems_events"].subscribe()
    er = as_role(Role.ER_STAFF, hospital_id=w["near"])
    r = er.post(f"/api/v1/hospital-requests/{req['id']}/decline", json={"reason": "in_surgery"})
    assert r.status_code == 200
    seen = [e for e in _drain(feed) if e.type == "request.declined"]
    assert any(visible_to(e, role="er_staff", unit_id=None, hospital_id=w["near"]) for e in seen), (
        "a colleague's screen at the same hospital is told"
    )
    assert not any(
        visible_to(e, role="er_staff", unit_id=None, hospital_id=w["far"]) for e in seen
    ), "no other hospital is"
