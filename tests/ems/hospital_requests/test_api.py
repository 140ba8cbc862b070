"""The hospital-request endpoints: parallel requests, first accept wins, decline
re-planning, roles, and what the ER sees of the patient."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import select

from ems.auth.models import Role
from ems.db import get_db, utcnow
from ems.hospitals.models import BedAvailability
from ems.transports.models import Transport
from tests.ems.dispatch.conftest import make_incident, make_transport, pci_world
from tests.factories import Api, make_unit


def test_paramedic_of_another_unit_cannot_ask_hospitals(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    w = pci_world(app)
    other = make_unit(app, call_sign="救急2")
    crew = as_role(Role.PARAMEDIC, unit_id=other)
    r = crew.post(f"/api/v1/transports/{w['transport']}/hospital-requests", json={})
    assert r.status_code == 403


def _open(api: Api, transport: int, **body: Any) -> dict[str, Any]:
    r = api.post(f"/api/v1/transports/{transport}/hospital-requests", json=body)
    assert r.status_code == 201, r.get_json()
    out: dict[str, Any] = r.get_json()
    return out


def test_first_accept_wins_and_cancels_the_others(app: Flask, as_role: Callable[..., Api]) -> None:
    w = pci_world(app)
    crew = as_role(Role.PARAMEDIC, unit_id=w["unit"])
    rnd = _open(crew, w["transport"], hospital_ids=[w["near"], w["mid"]])
    assert rnd["round"] == 1 and len(rnd["requests"]) == 2
    req = {q["hospital_id"]: q["id"] for q in rnd["requests"]}
    er_near = as_role(Role.ER_STAFF, hospital_id=w["near"])
    er_mid = as_role(Role.ER_STAFF, hospital_id=w["mid"])

    # ER staff see only what is addressed to their hospital.
    seen = er_near.get("/api/v1/hospital-requests?status=sent").get_json()
    assert [q["id"] for q in seen] == [req[w["near"]]]
    assert er_near.post(f"/api/v1/hospital-requests/{req[w['mid']]}/accept").status_code == 403

    r = er_mid.post(f"/api/v1/hospital-requests/{req[w['mid']]}/accept")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["bed_status"] == "claimed"
    assert r.get_json()["cancelled_request_ids"] == [req[w["near"]]]
    late = er_near.post(f"/api/v1/hospital-requests/{req[w['near']]}/accept")
    assert late.status_code == 409 and late.get_json()["code"] == "already_placed"
    with app.app_context(), get_db(app).session_scope() as s:
        t = s.get(Transport, w["transport"])
        assert t is not None and t.destination_hospital_id == w["mid"]
        bed = s.scalar(select(BedAvailability).where(BedAvailability.hospital_id == w["mid"]))
        assert bed is not None and bed.available == 1
    again = crew.post(f"/api/v1/transports/{w['transport']}/hospital-requests", json={})
    assert again.status_code == 409 and again.get_json()["code"] == "already_placed"
    mine = crew.get("/api/v1/hospital-requests").get_json()
    assert {q["status"] for q in mine} == {"accepted", "cancelled"}


def test_decline_replans_at_once_to_the_next_hospital(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    w = pci_world(app)
    dispatcher = as_role(Role.DISPATCHER)
    rnd = _open(dispatcher, w["transport"], k=1)
    assert [q["hospital_id"] for q in rnd["requests"]] == [w["near"]]
    er_near = as_role(Role.ER_STAFF, hospital_id=w["near"])
    r = er_near.post(
        f"/api/v1/hospital-requests/{rnd['requests'][0]['id']}/decline",
        json={"reason": "in_surgery", "note": "PCI中"},
    )
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["request"]["decline_reason"] == "in_surgery"
    nxt = body["next_round"]
    assert nxt["round"] == 2
    assert w["near"] not in [q["hospital_id"] for q in nxt["requests"]]
    assert nxt["requests"][0]["hospital_id"] == w["mid"]
    bad = er_near.post(
        f"/api/v1/hospital-requests/{rnd['requests'][0]['id']}/decline",
        json={"reason": "because"},
    )
    assert bad.status_code in (400, 409)


def test_decline_while_others_are_open_waits_for_them(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    w = pci_world(app)
    dispatcher = as_role(Role.DISPATCHER)
    rnd = _open(dispatcher, w["transport"], hospital_ids=[w["near"], w["mid"]])
    first = rnd["requests"][0]
    er = as_role(Role.ER_STAFF, hospital_id=first["hospital_id"])
    body = er.post(
        f"/api/v1/hospital-requests/{first['id']}/decline", json={"reason": "beds_full"}
    ).get_json()
    assert body["next_round"] is None and body["exhausted"] is False


def test_no_bed_and_stale_bed(app: Flask, as_role: Callable[..., Api]) -> None:
    w = pci_world(app)
    # Hospital "near" has one CCU bed; another patient takes it first.
    other_inc = make_incident(app, condition="stemi")
    other = make_transport(app, unit_id=make_unit(app, call_sign="救急9"), incident_id=other_inc)
    dispatcher = as_role(Role.DISPATCHER)
    a = _open(dispatcher, w["transport"], hospital_ids=[w["near"]])["requests"][0]
    b = _open(dispatcher, other, hospital_ids=[w["near"]])["requests"][0]
    er = as_role(Role.ER_STAFF, hospital_id=w["near"])
    assert er.post(f"/api/v1/hospital-requests/{a['id']}/accept").status_code == 200
    r = er.post(f"/api/v1/hospital-requests/{b['id']}/accept")
    assert r.status_code == 409 and r.get_json()["code"] == "no_bed"
    with app.app_context(), get_db(app).session_scope() as s:
        t = s.get(Transport, other)
        assert t is not None and t.destination_hospital_id is None  # nothing half-written
        bed = s.scalar(select(BedAvailability).where(BedAvailability.hospital_id == w["near"]))
        assert bed is not None
        assert bed.available == 0
        # The figure goes stale: accepting is allowed again and recorded as such.
        bed.expires_at = utcnow() - dt.timedelta(minutes=1)
    r = er.post(f"/api/v1/hospital-requests/{b['id']}/accept")
    assert r.status_code == 200 and r.get_json()["bed_status"] == "stale"


def test_the_er_sees_the_patient_at_a_glance(app: Flask, as_role: Callable[..., Api]) -> None:
    import queue

    from ems.audit.models import AuditEntry
    from ems.events import Event

    w = pci_world(app)
    feed: queue.Queue[Event] = app.extensions["ems_events"].subscribe()
    crew = as_role(Role.PARAMEDIC, unit_id=w["unit"])
    rnd = _open(crew, w["transport"], hospital_ids=[w["near"]])
    er = as_role(Role.ER_STAFF, hospital_id=w["near"])
    (req,) = er.get("/api/v1/hospital-requests?status=sent").get_json()
    assert req["id"] == rnd["requests"][0]["id"]
    glance = {
        "urgency": "serious",
        "chief_complaint": "胸痛",
        "suspected_condition": "stemi",
        "patient_age": 70,
        "unit_id": w["unit"],
        "unit_call_sign": "救急1",
        "bed_category": "ccu",
    }
    assert {k: req[k] for k in glance} == glance
    assert req["eta_s"] > 0 and "patient_sex" in req
    created = [e for e in _drain(feed) if e.type == "request.created"]
    assert len(created) == 1 and created[0].hospital_id == w["near"]
    assert {k: created[0].data[k] for k in glance} == glance
    # What callers said about the patient is read under audit.
    with app.app_context(), get_db(app).session_scope() as s:
        actions = set(s.scalars(select(AuditEntry.action)))
    assert "hospital_request.list" in actions


def _drain(feed: Any) -> list[Any]:
    out = []
    while not feed.empty():
        out.append(feed.get_nowait())
    return out


def test_accept_announces_the_new_destination(app: Flask, as_role: Callable[..., Api]) -> None:
    import queue

    from ems.events import Event, visible_to

    w = pci_world(app)
    dispatcher = as_role(Role.DISPATCHER)
    (req,) = _open(dispatcher, w["transport"], hospital_ids=[w["mid"]])["requests"]
    feed: queue.Queue[Event] = app.extensions["ems_events"].subscribe()
    er = as_role(Role.ER_STAFF, hospital_id=w["mid"])
    assert er.post(f"/api/v1/hospital-requests/{req['id']}/accept").status_code == 200
    updates = [e for e in _drain(feed) if e.type == "transport.updated"]
    assert len(updates) == 1
    data = updates[0].data
    assert data["transport_id"] == w["transport"] and data["destination_hospital_id"] == w["mid"]
    assert visible_to(updates[0], role="er_staff", unit_id=None, hospital_id=w["mid"])


def test_accept_claims_the_bed_through_the_hospitals_service(
    app: Flask, as_role: Callable[..., Api], monkeypatch: Any
) -> None:
    from ems.hospitals import service as hospitals

    calls: list[dict[str, Any]] = []
    real = hospitals.claim_bed

    def spy(**kw: Any) -> hospitals.BedClaim:
        calls.append(kw)
        return real(**kw)

    monkeypatch.setattr(hospitals, "claim_bed", spy)
    w = pci_world(app)
    dispatcher = as_role(Role.DISPATCHER)
    (req,) = _open(dispatcher, w["transport"], hospital_ids=[w["near"]])["requests"]
    er = as_role(Role.ER_STAFF, hospital_id=w["near"])
    r = er.post(f"/api/v1/hospital-requests/{req['id']}/accept")
    assert r.status_code == 200 and r.get_json()["bed_status"] == "claimed"
    assert [(c["hospital_id"], c["category"], c["allow_unknown"]) for c in calls] == [
        (w["near"], "ccu", True)
    ]
