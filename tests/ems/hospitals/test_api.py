"""The availability board: reading it, ER staff updating their own hospital,
expiry of stale figures, diversion, and every refusal."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from ems.audit.models import AuditEntry
from ems.auth.models import Role
from ems.db import get_db, utcnow
from ems.hospitals.models import BedAvailability
from tests.factories import Api, make_hospital

URL = "/api/v1/hospitals"


def _beds(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["category"]: b for b in body["beds"]}


def test_every_role_reads_the_board(app: Flask, as_role: Callable[..., Api]) -> None:
    hid = make_hospital(app, beds={"general": 3, "icu": 1})
    for api in (as_role(Role.DISPATCHER), as_role(Role.ER_STAFF, hospital_id=hid)):
        resp = api.get(URL)
        assert resp.status_code == 200
        [h] = resp.get_json()
        beds = _beds(h)
        assert beds["general"]["available"] == 3
        assert beds["icu"]["stale"] is False
        assert h["diversion"] == "open"
    one = as_role(Role.DISPATCHER).get(f"{URL}/{hid}")
    assert one.status_code == 200 and one.get_json()["id"] == hid


def test_unknown_hospital_is_404_with_code(as_role: Callable[..., Api]) -> None:
    api = as_role(Role.DISPATCHER)
    resp = api.get(f"{URL}/999")
    assert resp.status_code == 404
    assert resp.get_json()["code"] == "hospital_not_found"
    # Beyond any database id: still a 404, never a database error.
    assert api.get(f"{URL}/99999999999999").status_code == 404


def test_expired_figures_read_as_stale(app: Flask, as_role: Callable[..., Api]) -> None:
    hid = make_hospital(app, beds={"general": 3}, ttl_min=-1)
    [bed] = as_role(Role.DISPATCHER).get(f"{URL}/{hid}").get_json()["beds"]
    assert bed["stale"] is True


def test_er_staff_update_their_hospital(app: Flask, as_role: Callable[..., Api]) -> None:
    hid = make_hospital(app, beds={"general": 3, "icu": 2})
    er = as_role(Role.ER_STAFF, hospital_id=hid)
    before = utcnow()
    resp = er.patch(
        f"{URL}/{hid}/availability",
        json={
            "beds": [
                {"category": "icu", "available": 0, "ttl_min": 30},
                {"category": "ccu", "available": 1, "capacity": 4},
            ],
            "diversion": "category_diversion",
            "diverted_categories": ["icu"],
        },
    )
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    beds = _beds(body)
    assert beds["icu"]["available"] == 0 and beds["icu"]["capacity"] == 2
    assert beds["ccu"] == {**beds["ccu"], "available": 1, "capacity": 4, "stale": False}
    expires = dt.datetime.fromisoformat(beds["icu"]["expires_at"])
    assert dt.timedelta(minutes=29) < expires - before < dt.timedelta(minutes=31)
    assert beds["general"]["available"] == 3  # untouched
    assert body["diversion"] == "category_diversion"
    assert body["diverted_categories"] == ["icu"]
    # The board shows the same thing to dispatchers.
    board = as_role(Role.DISPATCHER).get(f"{URL}/{hid}").get_json()
    assert _beds(board)["icu"]["available"] == 0
    # Reopening clears the diverted categories.
    resp = er.patch(f"{URL}/{hid}/availability", json={"diversion": "open"})
    assert resp.get_json()["diversion"] == "open"
    assert resp.get_json()["diverted_categories"] == []


def test_an_expired_diversion_reads_as_open(app: Flask, as_role: Callable[..., Api]) -> None:
    hid = make_hospital(app)
    er = as_role(Role.ER_STAFF, hospital_id=hid)
    until = (utcnow() + dt.timedelta(minutes=30)).isoformat()
    resp = er.patch(
        f"{URL}/{hid}/availability",
        json={"diversion": "closed_to_ambulances", "diversion_until": until},
    )
    assert resp.get_json()["diversion"] == "closed_to_ambulances"
    from ems.hospitals.models import Hospital

    with app.app_context(), get_db(app).session_scope() as s:
        h = s.get(Hospital, hid)
        assert h is not None
        h.diversion_until = utcnow() - dt.timedelta(minutes=1)
    assert er.get(f"{URL}/{hid}").get_json()["diversion"] == "open"


def test_other_hospitals_staff_are_refused_and_it_is_audited(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    mine = make_hospital(app, name="A病院")
    theirs = make_hospital(app, name="B病院", beds={"general": 5})
    er = as_role(Role.ER_STAFF, hospital_id=mine)
    resp = er.patch(
        f"{URL}/{theirs}/availability", json={"beds": [{"category": "general", "available": 0}]}
    )
    assert resp.status_code == 403
    assert resp.get_json()["code"] == "not_your_hospital"
    assert _beds(er.get(f"{URL}/{theirs}").get_json())["general"]["available"] == 5
    with app.app_context(), get_db(app).session_scope() as s:
        denied = s.scalar(
            select(func.count()).where(
                AuditEntry.action == "hospital.availability", AuditEntry.outcome == "denied"
            )
        )
    assert denied == 1


def test_dispatchers_and_paramedics_cannot_update(app: Flask, as_role: Callable[..., Api]) -> None:
    hid = make_hospital(app)
    body = {"beds": [{"category": "general", "available": 0}]}
    for api in (as_role(Role.DISPATCHER),):
        resp = api.patch(f"{URL}/{hid}/availability", json=body)
        assert resp.status_code == 403
        assert resp.get_json()["code"] == "role_forbidden"


def test_admin_may_update_any_hospital(app: Flask, as_role: Callable[..., Api]) -> None:
    hid = make_hospital(app)
    resp = as_role(Role.ADMIN).patch(
        f"{URL}/{hid}/availability", json={"beds": [{"category": "general", "available": 1}]}
    )
    assert resp.status_code == 200


def test_off_duty_er_staff_are_refused(app: Flask, as_role: Callable[..., Api]) -> None:
    hid = make_hospital(app)
    er = as_role(Role.ER_STAFF, hospital_id=hid)
    from ems.auth.models import User

    with app.app_context(), get_db(app).session_scope() as s:
        user = s.get(User, er.user_id)
        assert user is not None
        user.on_duty = False
    resp = er.patch(
        f"{URL}/{hid}/availability", json={"beds": [{"category": "general", "available": 0}]}
    )
    assert resp.status_code == 403
    assert resp.get_json()["code"] == "off_duty"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"beds": [{"category": "general", "available": 5, "capacity": 2}]}, "validation_error"),
        (
            # The valid icu change in the same body must not land either.
            {
                "beds": [
                    {"category": "icu", "available": 0},
                    {"category": "general", "available": 9},
                ]
            },
            "exceeds_capacity",
        ),
        ({"beds": [{"category": "general", "available": -1}]}, "validation_error"),
        ({"beds": [{"category": "sauna", "available": 1}]}, "validation_error"),
        ({"beds": [{"category": "general", "available": "1"}]}, "validation_error"),
        ({"beds": [{"category": "general", "available": 1, "ttl_min": 4}]}, "validation_error"),
        ({"beds": [{"category": "general", "available": 1, "ttl_min": 1441}]}, "validation_error"),
        (
            {
                "beds": [
                    {"category": "general", "available": 1},
                    {"category": "general", "available": 0},
                ]
            },
            "validation_error",
        ),
        ({"diversion": "category_diversion"}, "diverted_categories_required"),
        ({"diversion": "closed", "beds": []}, "validation_error"),
        (
            {"diversion": "closed_to_ambulances", "diversion_until": "2020-01-01T00:00:00Z"},
            "diversion_until_past",
        ),
        ({"diversion_until": "2030-01-01T00:00:00"}, "validation_error"),  # no zone
        ({"beds": [{"category": "general", "available": 1}], "colour": "red"}, "validation_error"),
    ],
)
def test_bad_availability_changes_nothing(
    app: Flask, as_role: Callable[..., Api], body: dict[str, Any], code: str
) -> None:
    hid = make_hospital(app, beds={"general": 2, "icu": 1})
    er = as_role(Role.ER_STAFF, hospital_id=hid)
    resp = er.patch(f"{URL}/{hid}/availability", json=body)
    assert resp.status_code == 400, resp.get_json()
    assert resp.get_json()["code"] == code
    after = er.get(f"{URL}/{hid}").get_json()
    assert _beds(after)["general"]["available"] == 2
    assert _beds(after)["icu"]["available"] == 1
    assert after["diversion"] == "open"


def test_admin_registers_a_hospital(as_role: Callable[..., Api]) -> None:
    admin = as_role(Role.ADMIN)
    body = {
        "name": "みどり北病院",
        "lat": 35.5,
        "lon": 134.1,
        "level": "secondary",
        "capabilities": ["pci"],
        "beds": [{"category": "general", "available": 2, "capacity": 6}],
    }
    resp = admin.post(URL, json=body)
    assert resp.status_code == 201, resp.get_json()
    created = resp.get_json()
    assert _beds(created)["general"]["capacity"] == 6
    assert as_role(Role.DISPATCHER).get(f"{URL}/{created['id']}").status_code == 200
    assert as_role(Role.DISPATCHER).post(URL, json=body).status_code == 403
    for bad in ({**body, "lat": 91}, {**body, "lon": -181}, {**body, "capabilities": ["magic"]}):
        resp = admin.post(URL, json=bad)
        assert resp.status_code == 400
    assert len(admin.get(URL).get_json()) == 1


def test_a_figure_written_by_the_update_is_stamped_with_its_author(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    hid = make_hospital(app)
    er = as_role(Role.ER_STAFF, hospital_id=hid)
    er.patch(f"{URL}/{hid}/availability", json={"beds": [{"category": "general", "available": 1}]})
    with app.app_context(), get_db(app).session_scope() as s:
        bed = s.scalars(select(BedAvailability).where(BedAvailability.hospital_id == hid)).one()
        assert bed.updated_by == er.user_id
