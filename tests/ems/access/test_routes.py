"""Every route is classified: one that touches patient or caller data asks the access
policy (this test calls each and watches ``decide``), every other one says why it
carries none. A new route fails here until it is put in one list or the other."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask

from ems.access import guard
from ems.api import ROUTES
from ems.auth.models import Role
from tests.ems.transports.scenario import dispatched_scene, new_incident
from tests.factories import Api, make_unit

# Routes that carry no patient or caller data, and why.
EXEMPT = {
    ("POST", "/api/v1/auth/token"): "the login",
    ("DELETE", "/api/v1/auth/token"): "the logout",
    ("GET", "/api/v1/auth/me"): "the caller's own account",
    ("POST", "/api/v1/users"): "accounts (admin)",
    ("PUT", "/api/v1/users/<int:user_id>/duty"): "duty of an account",
    ("GET", "/api/v1/dispatch/unit-recommendations"): "units' ETAs to a call, no call fields",
    ("POST", "/api/v1/dispatch/mci"): "a plan for the patients the body lists; reads no record",
    ("GET", "/api/v1/dispatch/move-up"): "idle units and stations, no call or patient",
    ("POST", "/api/v1/dispatch/move-up"): "posts an idle unit at a station",
    ("GET", "/api/v1/units"): "the fleet",
    ("GET", "/api/v1/units/<int:unit_id>"): "one unit",
    ("POST", "/api/v1/units/<int:unit_id>/status"): "a unit's status",
    ("PUT", "/api/v1/units/<int:unit_id>/position"): "a unit's position",
    ("GET", "/api/v1/hospitals"): "beds",
    ("GET", "/api/v1/hospitals/<int:hospital_id>"): "beds",
    ("POST", "/api/v1/hospitals"): "a hospital",
    ("PATCH", "/api/v1/hospitals/<int:hospital_id>/availability"): "beds",
    ("GET", "/api/v1/stats/today"): "counts and mean minutes of the day",
    ("GET", "/api/v1/region/roads.geojson"): "the map",
    ("GET", "/api/v1/region/names"): "call signs and station names in each language",
}


@dataclass
class World:
    dispatcher: Api
    medic: Api
    er: Api
    admin: Api
    transport_id: int
    incident_id: int
    pending_incident: int
    spare_unit: int
    mc: Api | None = None
    challenge_id: str = ""
    request_id: int = 0
    instruction_id: int = 0


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# Each patient-data route, called by a role the endpoint admits, in an order that
# leaves the world usable for the next (later ones may answer 4xx: the rule book was
# asked all the same, which is what is checked).
CALLS: list[tuple[str, str, Callable[[World], tuple[Api, str, dict[str, Any] | None]]]] = [
    ("POST", "/api/v1/incidents", lambda w: (w.dispatcher, "/api/v1/incidents", _call_body())),
    ("GET", "/api/v1/incidents", lambda w: (w.dispatcher, "/api/v1/incidents", None)),
    (
        "GET",
        "/api/v1/transports/<int:transport_id>/hospital-recommendations",
        lambda w: (w.medic, f"/api/v1/transports/{w.transport_id}/hospital-recommendations", None),
    ),
    (
        "POST",
        "/api/v1/transports/<int:transport_id>/hospital-requests",
        lambda w: (w.medic, f"/api/v1/transports/{w.transport_id}/hospital-requests", {"k": 1}),
    ),
    ("GET", "/api/v1/hospital-requests", lambda w: (w.er, "/api/v1/hospital-requests", None)),
    (
        "POST",
        "/api/v1/incidents/<int:incident_id>/ask-ahead",
        lambda w: (w.dispatcher, f"/api/v1/incidents/{w.incident_id}/ask-ahead", None),
    ),
    (
        "POST",
        "/api/v1/transports/<int:transport_id>/ask-ahead/confirm",
        lambda w: (w.medic, f"/api/v1/transports/{w.transport_id}/ask-ahead/confirm", None),
    ),
    (
        "POST",
        "/api/v1/transports/<int:transport_id>/ask-ahead/withdraw",
        lambda w: (w.medic, f"/api/v1/transports/{w.transport_id}/ask-ahead/withdraw", None),
    ),
    (
        "GET",
        "/api/v1/incidents/<int:incident_id>",
        lambda w: (w.er, f"/api/v1/incidents/{w.incident_id}", None),
    ),
    ("GET", "/api/v1/transports", lambda w: (w.er, "/api/v1/transports", None)),
    (
        "GET",
        "/api/v1/transports/<int:transport_id>",
        lambda w: (w.er, f"/api/v1/transports/{w.transport_id}", None),
    ),
    (
        "GET",
        "/api/v1/transports/<int:transport_id>/vitals",
        lambda w: (w.er, f"/api/v1/transports/{w.transport_id}/vitals", None),
    ),
    (
        "POST",
        "/api/v1/transports/<int:transport_id>/instruction-requests",
        lambda w: (
            w.medic,
            f"/api/v1/transports/{w.transport_id}/instruction-requests",
            {"procedure": "iv_fluids"},
        ),
    ),
    (
        "GET",
        "/api/v1/instruction-requests",
        lambda w: (w.mc or w.admin, "/api/v1/instruction-requests?status=open", None),
    ),
    (
        "POST",
        "/api/v1/instruction-requests/<int:request_id>/answer",
        lambda w: (
            w.mc or w.admin,
            f"/api/v1/instruction-requests/{w.instruction_id}/answer",
            {"decision": "instructed", "detail": "乳酸リンゲル 500 mL"},
        ),
    ),
    (
        "GET",
        "/api/v1/transports/<int:transport_id>/instruction-requests",
        lambda w: (w.er, f"/api/v1/transports/{w.transport_id}/instruction-requests", None),
    ),
    (
        "POST",
        "/api/v1/hospital-requests/<int:request_id>/decline",
        lambda w: (
            w.er,
            f"/api/v1/hospital-requests/{w.request_id}/decline",
            {"reason": "beds_full"},
        ),
    ),
    (
        "POST",
        "/api/v1/hospital-requests/<int:request_id>/accept",
        lambda w: (w.er, f"/api/v1/hospital-requests/{w.request_id}/accept", None),
    ),
    (
        "POST",
        "/api/v1/transports/<int:transport_id>/events",
        lambda w: (
            w.medic,
            f"/api/v1/transports/{w.transport_id}/events",
            {"kind": "arrived_scene"},
        ),
    ),
    (
        "PUT",
        "/api/v1/transports/<int:transport_id>/destination",
        lambda w: (
            w.medic,
            f"/api/v1/transports/{w.transport_id}/destination",
            {"hospital_id": 1},
        ),
    ),
    (
        "POST",
        "/api/v1/card-auth/challenges",
        lambda w: (w.medic, "/api/v1/card-auth/challenges", {"transport_id": w.transport_id}),
    ),
    (
        "POST",
        "/api/v1/card-auth/verifications",
        lambda w: (
            w.medic,
            "/api/v1/card-auth/verifications",
            {"challenge_id": w.challenge_id, "certificate": _b64(b"x"), "signature": _b64(b"s")},
        ),
    ),
    (
        "POST",
        "/api/v1/card-auth/pinless",
        lambda w: (
            w.medic,
            "/api/v1/card-auth/pinless",
            {
                "challenge_id": w.challenge_id,
                "transport_id": w.transport_id,
                "certificate": _b64(b"x"),
                "reason": "意識障害",
                "face_match_confirmed": True,
                "device_certificate": _b64(b"d"),
                "attestation_signature": _b64(b"s"),
            },
        ),
    ),
    (
        "POST",
        "/api/v1/card-auth/card-events",
        lambda w: (
            w.medic,
            "/api/v1/card-auth/card-events",
            {"transport_id": w.transport_id, "certificate": _b64(b"x"), "event": "wrong_pin"},
        ),
    ),
    (
        "GET",
        "/api/v1/transports/<int:transport_id>/patient-record",
        lambda w: (w.er, f"/api/v1/transports/{w.transport_id}/patient-record", None),
    ),
    (
        "POST",
        "/api/v1/transports/<int:transport_id>/patient-record/break-glass",
        lambda w: (
            w.admin,
            f"/api/v1/transports/{w.transport_id}/patient-record/break-glass",
            {"reason": "unconscious patient, family asks which hospital"},
        ),
    ),
    ("GET", "/api/v1/break-glass", lambda w: (w.admin, "/api/v1/break-glass", None)),
    (
        "POST",
        "/api/v1/break-glass/<int:access_id>",
        lambda w: (w.admin, "/api/v1/break-glass/1", {"outcome": "justified"}),
    ),
    (
        "GET",
        "/api/v1/patients/<int:patient_id>/access-log",
        lambda w: (w.admin, "/api/v1/patients/1/access-log", None),
    ),
    ("GET", "/api/v1/card-auth/reviews", lambda w: (w.admin, "/api/v1/card-auth/reviews", None)),
    (
        "POST",
        "/api/v1/card-auth/reviews/<int:release_id>",
        lambda w: (w.admin, "/api/v1/card-auth/reviews/1", {"outcome": "appropriate"}),
    ),
    (
        "POST",
        "/api/v1/incidents/<int:incident_id>/cancel",
        lambda w: (w.dispatcher, f"/api/v1/incidents/{w.pending_incident}/cancel", None),
    ),
    (
        "POST",
        "/api/v1/incidents/<int:incident_id>/assign",
        lambda w: (
            w.dispatcher,
            f"/api/v1/incidents/{new_incident(w.dispatcher)}/assign",
            {"unit_id": w.spare_unit},
        ),
    ),
    (
        "POST",
        "/api/v1/dispatch/assign-pending",
        lambda w: (w.dispatcher, _pending_again(w), {"apply": True}),
    ),
]


def _call_body() -> dict[str, Any]:
    return {"lat": 35.44, "lon": 133.39, "urgency": "minor", "chief_complaint": "腹痛"}


def _pending_again(w: World) -> str:
    new_incident(w.dispatcher)
    return "/api/v1/dispatch/assign-pending"


@pytest.fixture
def decisions(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    seen: list[str] = []
    real = guard.decide

    def watched(who: Any, action: Any, situation: Any) -> Any:
        seen.append(str(action))
        return real(who, action, situation)

    monkeypatch.setattr(guard, "decide", watched)
    yield seen


def test_every_route_is_classified(app: Flask) -> None:
    routes = {(r.method, r.rule) for r in ROUTES}
    called = {(m, r) for m, r, _ in CALLS}
    assert not called & set(EXEMPT)
    assert routes == called | set(EXEMPT), {
        "unclassified": sorted(routes - called - set(EXEMPT)),
        "gone": sorted((called | set(EXEMPT)) - routes),
    }


def test_every_patient_data_route_asks_the_access_policy(
    app: Flask, as_role: Callable[..., Api], decisions: list[str]
) -> None:
    scene = dispatched_scene(app, as_role)
    w = World(
        dispatcher=scene.dispatcher,
        medic=scene.medic,
        er=as_role(Role.ER_STAFF, hospital_id=scene.hospital_id),
        admin=as_role(Role.ADMIN),
        transport_id=scene.transport_id,
        incident_id=scene.incident_id,
        pending_incident=new_incident(scene.dispatcher),
        spare_unit=make_unit(app, call_sign="予備1", lat=35.44, lon=133.39),
        mc=as_role(Role.MC_DOCTOR, hospital_id=scene.hospital_id),
    )
    make_unit(app, call_sign="予備2", lat=35.44, lon=133.39)
    silent = []
    for method, rule, build in CALLS:
        api, path, body = build(w)
        decisions.clear()
        resp = api.client.open(
            path,
            method=method,
            json=body,
            headers={"Authorization": f"Bearer {api.token}"},
        )
        assert resp.status_code < 500, (method, rule, resp.get_json())
        if not decisions:
            silent.append((method, rule, resp.status_code))
        answer = resp.get_json()
        if rule.endswith("/hospital-requests") and method == "POST":
            assert resp.status_code == 201, answer
            w.request_id = answer["requests"][0]["id"]
            # The asked hospital's ER is the one that answers in the next calls.
            w.er = as_role(Role.ER_STAFF, hospital_id=answer["requests"][0]["hospital_id"])
        if rule.endswith("/instruction-requests") and method == "POST":
            assert resp.status_code == 201, answer
            w.instruction_id = answer["id"]
        if rule == "/api/v1/card-auth/challenges":
            assert resp.status_code == 201, answer
            w.challenge_id = answer["challenge_id"]
    assert silent == [], "these routes answered without asking the access policy"
