"""A transport no hospital will take is no dead end: once every request is declined,
the crew or a dispatcher sets any hospital as the destination by hand and the crew
records arrival and handover; or the dispatcher cancels the call, crew on scene."""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import select

from ems.audit.models import AuditEntry
from ems.auth.models import Role
from ems.db import get_db
from ems.events import Event, visible_to
from tests.ems.transports.scenario import Scene, new_incident
from tests.factories import Api, make_hospital, make_unit


def _scene(app: Flask, as_role: Callable[..., Api]) -> tuple[Scene, int]:
    """A crew on scene whose only candidate hospital declined; and another hospital."""
    asked = make_hospital(app, name="県立中央病院", lat=35.45, lon=133.40, beds={"general": 3})
    spare = make_hospital(app, name="市民病院", lat=35.50, lon=133.45, beds={"general": 1})
    unit_id = make_unit(app, call_sign="みどり救急1", lat=35.44, lon=133.39)
    dispatcher = as_role(Role.DISPATCHER)
    medic = as_role(Role.PARAMEDIC, unit_id=unit_id)
    incident_id = new_incident(dispatcher, suspected_condition="other", urgency="moderate")
    r = dispatcher.post(f"/api/v1/incidents/{incident_id}/assign", json={"unit_id": unit_id})
    assert r.status_code == 201, r.get_json()
    scene = Scene(dispatcher, medic, unit_id, asked, incident_id, r.get_json()["id"])
    assert scene.event("arrived_scene").status_code == 201
    rnd = medic.post(
        f"/api/v1/transports/{scene.transport_id}/hospital-requests",
        json={"hospital_ids": [asked, spare]},
    )
    assert rnd.status_code == 201, rnd.get_json()
    pending = list(rnd.get_json()["requests"])
    while pending:
        req = pending.pop(0)
        er = as_role(Role.ER_STAFF, hospital_id=req["hospital_id"])
        d = er.post(f"/api/v1/hospital-requests/{req['id']}/decline", json={"reason": "beds_full"})
        assert d.status_code == 200, d.get_json()
        if d.get_json()["next_round"]:
            pending += d.get_json()["next_round"]["requests"]
    recs = medic.get(f"/api/v1/transports/{scene.transport_id}/hospital-recommendations")
    assert recs.get_json()["destination_needed"] is True
    return scene, spare


def _audit(app: Flask, action: str) -> list[AuditEntry]:
    with app.app_context(), get_db(app).session_scope() as s:
        rows = list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)).all())
        s.expunge_all()
        return rows


def test_the_crew_picks_any_hospital_by_hand_then_arrives_and_hands_over(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    scene, spare = _scene(app, as_role)
    every = scene.medic.get(
        f"/api/v1/transports/{scene.transport_id}/hospital-recommendations?scope=all"
    ).get_json()
    picked = every["hospitals"][0]
    assert picked["recommended"] is False and picked["eta_min"] >= 1
    assert {h["hospital_id"] for h in every["hospitals"]} == {scene.hospital_id, spare}
    # "Arrived at hospital" stays locked without a destination ...
    for kind in ("patient_contact", "loaded", "departed_scene"):
        assert scene.event(kind).status_code == 201, kind
    locked = scene.event("arrived_hospital")
    assert locked.status_code == 409 and locked.get_json()["code"] == "no_destination"
    # ... and unlocks once the crew chose one by hand.
    r = scene.medic.put(
        f"/api/v1/transports/{scene.transport_id}/destination",
        json={"hospital_id": picked["hospital_id"]},
    )
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["destination_hospital_id"] == picked["hospital_id"]
    assert scene.event("arrived_hospital").status_code == 201
    assert scene.event("handover").status_code == 201
    assert scene.transport()["status"] == "completed"
    assert scene.unit()["status"] == "available"
    (entry,) = _audit(app, "transport.destination")
    assert entry.detail["after_all_declined"] is True and entry.detail["by_role"] == "paramedic"
    # The hospital chosen receives the patient: its ER sees the transport.
    er = as_role(Role.ER_STAFF, hospital_id=picked["hospital_id"])
    assert er.get(f"/api/v1/transports/{scene.transport_id}").status_code == 200


def test_a_dispatcher_sets_the_destination_and_the_crew_is_told(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    scene, spare = _scene(app, as_role)
    feed: queue.Queue[Event] = app.extensions["ems_events"].subscribe()
    r = scene.dispatcher.put(
        f"/api/v1/transports/{scene.transport_id}/destination", json={"hospital_id": spare}
    )
    assert r.status_code == 200, r.get_json()
    updates = []
    while not feed.empty():
        e = feed.get_nowait()
        if e.type == "transport.updated":
            updates.append(e)
    assert updates and updates[-1].data["destination_hospital_id"] == spare
    assert visible_to(updates[-1], role="paramedic", unit_id=scene.unit_id, hospital_id=None)
    recs = scene.medic.get(f"/api/v1/transports/{scene.transport_id}/hospital-recommendations")
    assert recs.get_json()["destination_needed"] is False
    (entry,) = _audit(app, "transport.destination")
    assert entry.detail["by_role"] == "dispatcher"


def test_the_dispatcher_may_cancel_a_call_no_hospital_will_take(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    scene, _ = _scene(app, as_role)
    feed: queue.Queue[Event] = app.extensions["ems_events"].subscribe()
    r = scene.dispatcher.post(f"/api/v1/incidents/{scene.incident_id}/cancel")
    assert r.status_code == 200, r.get_json()
    assert scene.incident()["status"] == "cancelled"
    assert scene.transport()["status"] == "cancelled"
    assert scene.unit()["status"] == "available"
    seen: list[Event] = []
    while not feed.empty():
        seen.append(feed.get_nowait())
    told = [e for e in seen if e.type == "transport.updated" and e.data["status"] == "cancelled"]
    assert told and visible_to(told[0], role="paramedic", unit_id=scene.unit_id, hospital_id=None)
    (entry,) = _audit(app, "incident.cancel")
    assert entry.detail["without_destination"] == [scene.transport_id]
    assert entry.detail["stood_down_transports"] == [scene.transport_id]


def test_a_crew_on_scene_with_hospitals_still_to_answer_is_not_cancelled(
    app: Flask, as_role: Callable[..., Any]
) -> None:
    hospital = make_hospital(app, lat=35.45, lon=133.40, beds={"general": 3})
    unit_id = make_unit(app, call_sign="みどり救急2", lat=35.44, lon=133.39)
    dispatcher = as_role(Role.DISPATCHER)
    medic = as_role(Role.PARAMEDIC, unit_id=unit_id)
    incident_id = new_incident(dispatcher, suspected_condition="other", urgency="moderate")
    transport_id = dispatcher.post(
        f"/api/v1/incidents/{incident_id}/assign", json={"unit_id": unit_id}
    ).get_json()["id"]
    scene = Scene(dispatcher, medic, unit_id, hospital, incident_id, transport_id)
    assert scene.event("arrived_scene").status_code == 201
    # No request yet: the crew is working the call.
    r = dispatcher.post(f"/api/v1/incidents/{incident_id}/cancel")
    assert r.status_code == 409 and r.get_json()["code"] == "incident_in_progress"
    # A request still open: the hospital may yet say yes.
    medic.post(f"/api/v1/transports/{transport_id}/hospital-requests", json={"k": 1})
    r = dispatcher.post(f"/api/v1/incidents/{incident_id}/cancel")
    assert r.status_code == 409 and r.get_json()["code"] == "incident_in_progress"
    assert scene.transport()["status"] == "active"
