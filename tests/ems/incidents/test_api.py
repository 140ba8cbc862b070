"""119 calls: recording, the queue, assignment of a unit, cancellation, and the
refusals (bad input, wrong role, off duty, unit or call no longer free)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from ems.auth.models import Role, User
from ems.db import get_db
from ems.incidents.models import Condition
from ems.transports.models import Transport
from tests.ems.transports.scenario import dispatched_scene, incident_body, new_incident
from tests.factories import Api, make_hospital, make_unit

URL = "/api/v1/incidents"


def _count_transports(app: Flask) -> int:
    with app.app_context(), get_db(app).session_scope() as s:
        return int(s.scalar(select(func.count()).select_from(Transport)) or 0)


def test_dispatcher_records_a_call(as_role: Callable[..., Api]) -> None:
    api = as_role(Role.DISPATCHER)
    resp = api.post(URL, json=incident_body())
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["status"] == "pending"
    assert body["suspected_condition"] == "chest_pain_stemi"
    assert body["created_by"] == api.user_id
    assert body["transport_id"] is None
    assert api.get(f"{URL}/{body['id']}").get_json()["chief_complaint"] == "胸痛"


def test_minimal_call_needs_only_place_urgency_and_complaint(as_role: Callable[..., Api]) -> None:
    resp = as_role(Role.DISPATCHER).post(
        URL, json={"lat": 35.0, "lon": 134.0, "urgency": "minor", "chief_complaint": "転倒"}
    )
    assert resp.status_code == 201
    assert resp.get_json()["suspected_condition"] is None


def test_the_condition_vocabulary_is_fixed() -> None:
    assert {c.value for c in Condition} >= {"cardiac_arrest", "stroke", "major_trauma", "other"}


@pytest.mark.parametrize(
    "over",
    [
        {"lat": 90.1},
        {"lon": 180.5},
        {"lat": "35"},
        {"urgency": "urgent"},
        {"chief_complaint": ""},
        {"chief_complaint": None},
        {"chief_complaint": "x" * 201},
        {"chief_complaint": "a\x00b"},
        {"patient_age": 131},
        {"patient_age": -1},
        {"patient_age": "40"},
        {"suspected_condition": "hiccups"},
        {"patient_sex": "x"},
        {"received_at": "2020-13-01T00:00:00Z"},
        {"hospital": 1},
    ],
)
def test_bad_calls_are_refused(as_role: Callable[..., Api], over: dict[str, Any]) -> None:
    api = as_role(Role.DISPATCHER)
    resp = api.post(URL, json=incident_body(**over))
    assert resp.status_code == 400, over
    assert resp.get_json()["code"] == "validation_error"
    assert api.get(URL).get_json() == []


def test_a_call_from_the_future_is_refused(as_role: Callable[..., Api]) -> None:
    resp = as_role(Role.DISPATCHER).post(
        URL, json=incident_body(received_at="2099-01-01T00:00:00+09:00")
    )
    assert resp.status_code == 400 and resp.get_json()["code"] == "received_at_in_future"


def test_missing_fields_and_non_json(as_role: Callable[..., Api]) -> None:
    api = as_role(Role.DISPATCHER)
    body = incident_body()
    del body["chief_complaint"]
    assert api.post(URL, json=body).get_json()["code"] == "validation_error"
    resp = api.post(URL, data="lat=1", headers={"Content-Type": "text/plain"})
    assert resp.status_code == 415


def test_only_dispatchers_record_calls(app: Flask, as_role: Callable[..., Api]) -> None:
    medic = as_role(Role.PARAMEDIC, unit_id=make_unit(app))
    er = as_role(Role.ER_STAFF, hospital_id=make_hospital(app))
    for api in (medic, er):
        resp = api.post(URL, json=incident_body())
        assert resp.status_code == 403 and resp.get_json()["code"] == "role_forbidden"
        assert api.get(URL).status_code == 403


def test_off_duty_dispatcher_cannot_record(app: Flask, as_role: Callable[..., Api]) -> None:
    api = as_role(Role.DISPATCHER)
    with app.app_context(), get_db(app).session_scope() as s:
        user = s.get(User, api.user_id)
        assert user is not None
        user.on_duty = False
    resp = api.post(URL, json=incident_body())
    assert resp.status_code == 403 and resp.get_json()["code"] == "off_duty"
    assert api.get(URL).get_json() == []


def test_queue_filters_by_status(app: Flask, as_role: Callable[..., Api]) -> None:
    scene = dispatched_scene(app, as_role)
    waiting = new_incident(scene.dispatcher, chief_complaint="呼吸苦")
    pending = scene.dispatcher.get(f"{URL}?status=pending").get_json()
    assert [i["id"] for i in pending] == [waiting]
    assigned = scene.dispatcher.get(f"{URL}?status=assigned").get_json()
    assert [i["id"] for i in assigned] == [scene.incident_id]
    assert assigned[0]["transport_id"] == scene.transport_id
    assert len(scene.dispatcher.get(URL).get_json()) == 2
    assert scene.dispatcher.get(f"{URL}?status=lost").status_code == 400


def test_unknown_incident_is_404(app: Flask, as_role: Callable[..., Api]) -> None:
    api = as_role(Role.DISPATCHER)
    unit = make_unit(app)
    for resp in (
        api.get(f"{URL}/77"),
        api.post(f"{URL}/77/cancel"),
        api.post(f"{URL}/77/assign", json={"unit_id": unit}),
    ):
        assert resp.status_code == 404
        assert resp.get_json()["code"] == "incident_not_found"


def test_assignment_dispatches_the_unit(app: Flask, as_role: Callable[..., Api]) -> None:
    scene = dispatched_scene(app, as_role)
    transport = scene.transport()
    incident = scene.incident()
    timeline = {s["kind"]: s["at"] for s in transport["timeline"]}
    assert timeline["call_received"] == incident["received_at"]
    assert timeline["dispatched"] is not None
    assert timeline["arrived_scene"] is None
    assert transport["unit_id"] == scene.unit_id
    assert transport["status"] == "active"
    unit = scene.unit()
    assert unit["status"] == "dispatched"
    assert unit["current_transport_id"] == scene.transport_id
    assert incident["status"] == "assigned"
    # The crew sees its call.
    assert scene.medic.get(f"{URL}/{scene.incident_id}").status_code == 200


def test_a_busy_unit_or_an_assigned_call_cannot_be_assigned_again(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    scene = dispatched_scene(app, as_role)
    other_call = new_incident(scene.dispatcher)
    resp = scene.dispatcher.post(f"{URL}/{other_call}/assign", json={"unit_id": scene.unit_id})
    assert resp.status_code == 409 and resp.get_json()["code"] == "unit_unavailable"
    spare = make_unit(app, call_sign="予備1")
    resp = scene.dispatcher.post(f"{URL}/{scene.incident_id}/assign", json={"unit_id": spare})
    assert resp.status_code == 409 and resp.get_json()["code"] == "incident_not_pending"
    assert _count_transports(app) == 1
    assert scene.dispatcher.get(f"/api/v1/units/{spare}").get_json()["status"] == "available"
    assert scene.dispatcher.get(f"{URL}/{other_call}").get_json()["status"] == "pending"


def test_out_of_service_unit_is_unavailable(app: Flask, as_role: Callable[..., Api]) -> None:
    unit = make_unit(app)
    api = as_role(Role.DISPATCHER)
    api.post(f"/api/v1/units/{unit}/status", json={"status": "out_of_service"})
    call = new_incident(api)
    resp = api.post(f"{URL}/{call}/assign", json={"unit_id": unit})
    assert resp.status_code == 409 and resp.get_json()["code"] == "unit_unavailable"


@pytest.mark.parametrize("body", [{}, {"unit_id": "1"}, {"unit_id": 0}, {"unit_id": 1, "x": 1}])
def test_bad_assignment_bodies(
    app: Flask, as_role: Callable[..., Api], body: dict[str, Any]
) -> None:
    api = as_role(Role.DISPATCHER)
    make_unit(app)
    call = new_incident(api)
    resp = api.post(f"{URL}/{call}/assign", json=body)
    assert resp.status_code == 400 and resp.get_json()["code"] == "validation_error"
    assert _count_transports(app) == 0


def test_assigning_an_unknown_unit_is_404(as_role: Callable[..., Api]) -> None:
    api = as_role(Role.DISPATCHER)
    call = new_incident(api)
    resp = api.post(f"{URL}/{call}/assign", json={"unit_id": 999})
    assert resp.status_code == 404 and resp.get_json()["code"] == "unit_not_found"
    assert api.get(f"{URL}/{call}").get_json()["status"] == "pending"


def test_paramedics_and_off_duty_dispatchers_cannot_assign(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    unit = make_unit(app)
    dispatcher = as_role(Role.DISPATCHER)
    call = new_incident(dispatcher)
    medic = as_role(Role.PARAMEDIC, unit_id=unit)
    resp = medic.post(f"{URL}/{call}/assign", json={"unit_id": unit})
    assert resp.status_code == 403 and resp.get_json()["code"] == "role_forbidden"
    with app.app_context(), get_db(app).session_scope() as s:
        user = s.get(User, dispatcher.user_id)
        assert user is not None
        user.on_duty = False
    resp = dispatcher.post(f"{URL}/{call}/assign", json={"unit_id": unit})
    assert resp.status_code == 403 and resp.get_json()["code"] == "off_duty"
    assert _count_transports(app) == 0


def test_cancel_a_pending_call(as_role: Callable[..., Api]) -> None:
    api = as_role(Role.DISPATCHER)
    call = new_incident(api)
    resp = api.post(f"{URL}/{call}/cancel")
    assert resp.status_code == 200 and resp.get_json()["status"] == "cancelled"
    again = api.post(f"{URL}/{call}/cancel")
    assert again.status_code == 409 and again.get_json()["code"] == "illegal_transition"


def test_cancel_frees_a_unit_still_on_its_way(app: Flask, as_role: Callable[..., Api]) -> None:
    scene = dispatched_scene(app, as_role)
    resp = scene.dispatcher.post(f"{URL}/{scene.incident_id}/cancel")
    assert resp.status_code == 200
    assert scene.unit()["status"] == "available"
    assert scene.unit()["current_transport_id"] is None
    assert scene.transport()["status"] == "cancelled"


def test_cancel_is_refused_once_the_crew_is_on_scene(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    scene = dispatched_scene(app, as_role)
    assert scene.event("arrived_scene").status_code == 201
    resp = scene.dispatcher.post(f"{URL}/{scene.incident_id}/cancel")
    assert resp.status_code == 409 and resp.get_json()["code"] == "incident_in_progress"
    assert scene.incident()["status"] == "assigned"
    assert scene.unit()["status"] == "on_scene"


def test_crews_and_hospitals_see_only_their_calls(app: Flask, as_role: Callable[..., Api]) -> None:
    scene = dispatched_scene(app, as_role)
    other_unit = make_unit(app, call_sign="他隊1")
    stranger = as_role(Role.PARAMEDIC, unit_id=other_unit)
    resp = stranger.get(f"{URL}/{scene.incident_id}")
    assert resp.status_code == 403 and resp.get_json()["code"] == "not_yours"
    er = as_role(Role.ER_STAFF, hospital_id=scene.hospital_id)
    assert er.get(f"{URL}/{scene.incident_id}").status_code == 403
    scene.set_destination()
    assert er.get(f"{URL}/{scene.incident_id}").status_code == 200
    other_er = as_role(Role.ER_STAFF, hospital_id=make_hospital(app, name="別病院"))
    assert other_er.get(f"{URL}/{scene.incident_id}").status_code == 403
