"""The dispatch endpoints: unit and hospital recommendations, the assignment plan,
roles, and mass-casualty allocation (the requests sent to hospitals are
tests/ems/hospital_requests/)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from sqlalchemy import select

from ems.auth.models import Role
from ems.db import get_db
from ems.transports.models import Transport
from tests.ems.dispatch.conftest import make_incident, pci_world
from tests.factories import Api, make_hospital, make_unit


def test_recommendations_rank_by_eta_with_reasons_and_exclusions(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    w = pci_world(app)
    crew = as_role(Role.PARAMEDIC, unit_id=w["unit"])
    r = crew.get(f"/api/v1/transports/{w['transport']}/hospital-recommendations")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    ids = [h["hospital_id"] for h in body["hospitals"]]
    assert ids == [w["near"], w["mid"], w["far"]]
    first = body["hospitals"][0]
    assert first["source"] == "straight_line" and first["eta_s"] > 0
    # Reasons are stable codes with parameters (the pages translate by code).
    codes = {x["code"]: x["params"] for x in first["reasons"]}
    assert codes["capability_match"] == {"capabilities": ["pci"]}
    assert codes["beds_available"]["category"] == "ccu"
    assert codes["beds_available"]["available"] > 0
    assert all(x["text"] for x in first["reasons"])
    excluded = {e["hospital_id"]: e["reasons"] for e in body["excluded"]}
    assert {"code": "lacks_capability", "params": {"capabilities": ["pci"]}} in [
        {"code": x["code"], "params": x["params"]} for x in excluded[w["no_pci"]]
    ]
    assert body["bed_category"] == "ccu" and body["suggested"]


def test_paramedic_of_another_unit_is_refused(app: Flask, as_role: Callable[..., Api]) -> None:
    w = pci_world(app)
    other = make_unit(app, call_sign="救急2")
    crew = as_role(Role.PARAMEDIC, unit_id=other)
    r = crew.get(f"/api/v1/transports/{w['transport']}/hospital-recommendations")
    assert r.status_code == 403 and r.get_json()["code"] == "not_your_unit"


def test_unit_recommendations_and_assignment_plan(app: Flask, as_role: Callable[..., Api]) -> None:
    near_unit = make_unit(app, call_sign="近隊", lat=35.50, lon=134.23)
    far_unit = make_unit(app, call_sign="遠隊", lat=35.30, lon=134.00)
    critical = make_incident(app, lat=35.51, lon=134.23, urgency="critical")
    minor = make_incident(app, lat=35.31, lon=134.01, urgency="minor")
    dispatcher = as_role(Role.DISPATCHER)
    r = dispatcher.get(f"/api/v1/dispatch/unit-recommendations?incident_id={critical}")
    assert r.status_code == 200
    assert [u["unit_id"] for u in r.get_json()] == [near_unit, far_unit]
    assert r.get_json()[0]["source"] == "straight_line"
    plan = dispatcher.post("/api/v1/dispatch/assign-pending", json={}).get_json()
    pairs = {(a["incident_id"], a["unit_id"]) for a in plan["assignments"]}
    assert pairs == {(critical, near_unit), (minor, far_unit)}
    assert plan["applied"] is False
    crew = as_role(Role.PARAMEDIC, unit_id=near_unit)
    assert crew.post("/api/v1/dispatch/assign-pending", json={}).status_code == 403
    missing = dispatcher.get("/api/v1/dispatch/unit-recommendations?incident_id=9999")
    assert missing.status_code == 404


def test_mass_casualty_allocation_respects_surge(app: Flask, as_role: Callable[..., Api]) -> None:
    h1 = make_hospital(app, name="A", lat=35.50, lon=134.23, beds={"icu": 1, "general": 2})
    h2 = make_hospital(app, name="B", lat=35.60, lon=134.40, beds={"icu": 3, "general": 5})
    dispatcher = as_role(Role.DISPATCHER)
    patients = [
        {"id": f"T{i}", "triage": t, "lat": 35.50, "lon": 134.23}
        for i, t in enumerate(["red", "red", "red", "yellow", "green", "black"])
    ]
    body = {
        "patients": patients,
        "surge": {
            str(h1): {"red": 1, "yellow": 1, "green": 1},
            str(h2): {"red": 5, "yellow": 5, "green": 5},
        },
    }
    r = dispatcher.post("/api/v1/dispatch/mci", json=body)
    assert r.status_code == 200, r.get_json()
    plan = r.get_json()
    reds = [a for a in plan["allocations"] if a["triage"] == "red"]
    assert sum(a["hospital_id"] == h1 for a in reds) == 1
    assert plan["not_transported"] == ["T5"] and plan["unallocated"] == []
    assert plan["optimal"] is True
    # Re-solve with one more patient; the first one stays where it is going.
    first = reds[0]
    body["patients"].append({"id": "T6", "triage": "red", "lat": 35.5, "lon": 134.23})
    body["locked"] = {first["patient_id"]: first["hospital_id"]}
    again = dispatcher.post("/api/v1/dispatch/mci", json=body).get_json()
    kept = {a["patient_id"]: a for a in again["allocations"]}[first["patient_id"]]
    assert kept["locked"] and kept["hospital_id"] == first["hospital_id"]
    bad = dispatcher.post(
        "/api/v1/dispatch/mci",
        json={"patients": [{"id": "x", "triage": "blue", "lat": 0, "lon": 0}]},
    )
    assert bad.status_code == 400


def test_assignment_plan_can_be_carried_out(app: Flask, as_role: Callable[..., Api]) -> None:
    unit = make_unit(app, call_sign="実行隊", lat=35.50, lon=134.23)
    inc = make_incident(app, lat=35.51, lon=134.23, urgency="serious")
    dispatcher = as_role(Role.DISPATCHER)
    plan = dispatcher.post("/api/v1/dispatch/assign-pending", json={"apply": True})
    assert plan.status_code == 200, plan.get_json()
    assert plan.get_json()["applied"] is True
    with app.app_context(), get_db(app).session_scope() as s:
        t = s.scalar(select(Transport).where(Transport.incident_id == inc))
        assert t is not None and t.unit_id == unit
    again = dispatcher.post("/api/v1/dispatch/assign-pending", json={}).get_json()
    assert again["assignments"] == []  # nothing pending, no unit free
