"""Ask ahead (early requests): the dispatcher asks the likely hospitals of a
time-critical call while the unit drives; the ER sees the request marked early with
what the call said; the crew confirms or withdraws on scene."""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from ems.audit.models import AuditEntry
from ems.auth.models import Role, User
from ems.db import get_db
from ems.events import Event, visible_to
from ems.hospital_requests.models import HospitalRequest
from ems.transports.models import TransportEvent
from tests.ems.transports.scenario import Scene, dispatched_scene, new_incident
from tests.factories import Api, make_hospital, make_unit


def _drain(feed: queue.Queue[Event]) -> list[Event]:
    out = []
    while not feed.empty():
        out.append(feed.get_nowait())
    return out


def _actions(app: Flask) -> list[str]:
    with app.app_context(), get_db(app).session_scope() as s:
        return list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def _timeline(app: Flask, transport_id: int) -> list[str]:
    with app.app_context(), get_db(app).session_scope() as s:
        return list(
            s.scalars(
                select(TransportEvent.kind)
                .where(TransportEvent.transport_id == transport_id)
                .order_by(TransportEvent.id)
            )
        )


def _request_count(app: Flask) -> int:
    with app.app_context(), get_db(app).session_scope() as s:
        return int(s.scalar(select(func.count()).select_from(HospitalRequest)) or 0)


def _ask(scene: Scene) -> Any:
    return scene.dispatcher.post(f"/api/v1/incidents/{scene.incident_id}/ask-ahead")


def _asked(scene: Scene) -> dict[str, Any]:
    r = _ask(scene)
    assert r.status_code == 201, r.get_json()
    body: dict[str, Any] = r.get_json()
    return body


def test_one_tap_asks_ahead_and_the_er_sees_it_marked(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    scene = dispatched_scene(app, as_role)
    make_hospital(app, name="二次病院", lat=35.46, lon=133.41, beds={"general": 2})
    feed: queue.Queue[Event] = app.extensions["ems_events"].subscribe()
    rnd = _asked(scene)
    assert rnd["early"] is True and rnd["round"] == 1 and rnd["requests"]
    assert all(q["early"] and q["early_outcome"] is None for q in rnd["requests"])
    first = rnd["requests"][0]
    # The ETA counts the drive to the scene as well as the scene to the hospital.
    assert first["eta_s"] > 0

    er = as_role(Role.ER_STAFF, hospital_id=first["hospital_id"])
    (seen,) = er.get("/api/v1/hospital-requests?status=sent").get_json()
    assert seen["early"] is True
    assert {k: seen[k] for k in ("suspected_condition", "patient_age", "patient_sex")} == {
        "suspected_condition": "chest_pain_stemi",
        "patient_age": 67,
        "patient_sex": "male",
    }
    events = _drain(feed)
    created = [e for e in events if e.type == "request.created"]
    assert created and all(e.data["early"] for e in created)
    assert visible_to(created[0], role="er_staff", unit_id=None, hospital_id=first["hospital_id"])
    (sent,) = [e for e in events if e.type == "ask_ahead.sent"]
    assert sent.data["transport_id"] == scene.transport_id
    assert visible_to(sent, role="dispatcher", unit_id=None, hospital_id=None)
    assert visible_to(sent, role="paramedic", unit_id=scene.unit_id, hospital_id=None)
    assert "hospital_request.ask_ahead" in _actions(app)
    assert "ask_ahead" in _timeline(app, scene.transport_id)


def test_ask_ahead_refuses_bad_input_and_writes_nothing(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    scene = dispatched_scene(app, as_role)
    # A call with no unit yet.
    pending = new_incident(scene.dispatcher, suspected_condition="stroke")
    r = scene.dispatcher.post(f"/api/v1/incidents/{pending}/ask-ahead")
    assert r.status_code == 409 and r.get_json()["code"] == "no_unit_assigned"
    assert r.headers["Content-Type"].startswith("application/problem+json")
    # A call that is not time-critical.
    calm = new_incident(scene.dispatcher, suspected_condition="respiratory", urgency="moderate")
    unit = make_unit(app, call_sign="救急8")
    assert (
        scene.dispatcher.post(
            f"/api/v1/incidents/{calm}/assign", json={"unit_id": unit}
        ).status_code
        == 201
    )
    r = scene.dispatcher.post(f"/api/v1/incidents/{calm}/ask-ahead")
    assert r.status_code == 409 and r.get_json()["code"] == "not_time_critical"
    assert "stroke" in r.get_json()["time_critical"]
    # Only dispatchers ask ahead; off duty they may not.
    assert _ask_as(scene, scene.medic).get_json()["code"] == "role_forbidden"
    with app.app_context(), get_db(app).session_scope() as s:
        user = s.get(User, scene.dispatcher.user_id)
        assert user is not None
        user.on_duty = False
    r = _ask(scene)
    assert r.status_code == 403 and r.get_json()["code"] == "off_duty"
    assert _request_count(app) == 0
    # The refusal is on record, and nothing else was.
    with app.app_context(), get_db(app).session_scope() as s:
        details = s.scalars(
            select(AuditEntry.detail).where(AuditEntry.action == "hospital_request.ask_ahead")
        ).all()
    assert [d.get("code") for d in details] == ["off_duty"]
    # Back on duty: asked once, then already asked.
    with app.app_context(), get_db(app).session_scope() as s:
        user = s.get(User, scene.dispatcher.user_id)
        assert user is not None
        user.on_duty = True
    n = len(_asked(scene)["requests"])
    r = _ask(scene)
    assert r.status_code == 409 and r.get_json()["code"] == "already_asked"
    assert _request_count(app) == n
    # A cancelled call's transport has ended.
    other = dispatched_scene(app, as_role, call_sign="救急9")
    assert other.dispatcher.post(f"/api/v1/incidents/{other.incident_id}/cancel").status_code == 200
    r = _ask(other)
    assert r.status_code == 409 and r.get_json()["code"] == "transport_closed"
    assert _request_count(app) == n


def _ask_as(scene: Scene, api: Api) -> Any:
    return api.post(f"/api/v1/incidents/{scene.incident_id}/ask-ahead")


def test_the_crew_confirms_and_an_accept_is_the_destination(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    scene = dispatched_scene(app, as_role)
    confirm = f"/api/v1/transports/{scene.transport_id}/ask-ahead/confirm"
    r = scene.medic.post(confirm)
    assert r.status_code == 409 and r.get_json()["code"] == "no_early_round"
    rnd = _asked(scene)
    stranger = as_role(Role.PARAMEDIC, unit_id=make_unit(app, call_sign="救急7"))
    assert stranger.post(confirm).status_code == 403
    feed: queue.Queue[Event] = app.extensions["ems_events"].subscribe()
    r = scene.medic.post(confirm)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["outcome"] == "confirmed"
    assert {q["early_outcome"] for q in r.get_json()["requests"]} == {"confirmed"}
    again = scene.medic.post(confirm)
    assert again.status_code == 409 and again.get_json()["code"] == "ask_ahead_settled"
    types = {e.type for e in _drain(feed)}
    assert {"request.early_confirmed", "ask_ahead.confirmed"} <= types
    assert "hospital_request.ask_ahead_confirm" in _actions(app)
    assert "ask_ahead_confirmed" in _timeline(app, scene.transport_id)

    req = rnd["requests"][0]
    er = as_role(Role.ER_STAFF, hospital_id=req["hospital_id"])
    assert er.post(f"/api/v1/hospital-requests/{req['id']}/accept").status_code == 200
    assert scene.transport()["destination_hospital_id"] == req["hospital_id"]


def test_withdraw_takes_the_patient_from_the_er(app: Flask, as_role: Callable[..., Api]) -> None:
    scene = dispatched_scene(app, as_role)
    rnd = _asked(scene)
    req = rnd["requests"][0]
    er = as_role(Role.ER_STAFF, hospital_id=req["hospital_id"])
    assert er.get(f"/api/v1/transports/{scene.transport_id}").status_code == 200
    feed: queue.Queue[Event] = app.extensions["ems_events"].subscribe()
    r = scene.medic.post(f"/api/v1/transports/{scene.transport_id}/ask-ahead/withdraw")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["outcome"] == "withdrawn" and req["id"] in body["cancelled_request_ids"]
    # The ER lost the patient: not in its list, the transport and the call refused.
    assert er.get("/api/v1/hospital-requests").get_json() == []
    assert er.get(f"/api/v1/transports/{scene.transport_id}").status_code == 403
    assert er.get(f"/api/v1/incidents/{scene.incident_id}").status_code == 403
    late = er.post(f"/api/v1/hospital-requests/{req['id']}/accept")
    assert late.status_code in (403, 409)
    events = _drain(feed)
    cancelled = [e for e in events if e.type == "request.cancelled"]
    assert cancelled and cancelled[0].data["reason"] == "ask_ahead_withdrawn"
    assert any(e.type == "ask_ahead.withdrawn" for e in events)
    assert "hospital_request.ask_ahead_withdraw" in _actions(app)
    assert "ask_ahead_withdrawn" in _timeline(app, scene.transport_id)
    # A wrong guess is no refusal: the crew asks again, the same hospital among them,
    # and no "nobody left to ask" alert was raised.
    recs = scene.medic.get(
        f"/api/v1/transports/{scene.transport_id}/hospital-recommendations"
    ).get_json()
    assert recs["destination_needed"] is False
    again = scene.medic.post(f"/api/v1/transports/{scene.transport_id}/hospital-requests", json={})
    assert again.status_code == 201, again.get_json()
    assert req["hospital_id"] in [q["hospital_id"] for q in again.get_json()["requests"]]
    assert not any(q["early"] for q in again.get_json()["requests"])


def test_withdraw_after_an_accept_clears_the_destination(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    scene = dispatched_scene(app, as_role)
    req = _asked(scene)["requests"][0]
    er = as_role(Role.ER_STAFF, hospital_id=req["hospital_id"])
    assert er.post(f"/api/v1/hospital-requests/{req['id']}/accept").status_code == 200
    r = scene.medic.post(f"/api/v1/transports/{scene.transport_id}/ask-ahead/withdraw")
    assert r.status_code == 200 and r.get_json()["destination_cleared"] is True
    assert scene.transport()["destination_hospital_id"] is None
    assert er.get(f"/api/v1/transports/{scene.transport_id}").status_code == 403
