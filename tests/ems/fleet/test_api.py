"""Units: the fleet board, the status machine by hand, positions from the tablets,
and the refusals (other unit's crew, off duty, illegal moves, bad coordinates)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import select

from ems.audit.models import AuditEntry
from ems.auth.models import Role, User
from ems.db import get_db, utcnow
from tests.ems.transports.scenario import dispatched_scene
from tests.factories import Api, make_unit


def _off_duty(app: Flask, user_id: int) -> None:
    with app.app_context(), get_db(app).session_scope() as s:
        user = s.get(User, user_id)
        assert user is not None
        user.on_duty = False


def test_dispatcher_and_crew_read_the_fleet(app: Flask, as_role: Callable[..., Api]) -> None:
    a = make_unit(app, call_sign="みどり救急1")
    make_unit(app, call_sign="港救急1")
    board = as_role(Role.DISPATCHER).get("/api/v1/units")
    assert board.status_code == 200
    assert [u["call_sign"] for u in board.get_json()] == ["みどり救急1", "港救急1"]
    assert board.get_json()[0]["station_name"] == "みどり救急1署"
    medic = as_role(Role.PARAMEDIC, unit_id=a)
    one = medic.get(f"/api/v1/units/{a}")
    assert one.status_code == 200 and one.get_json()["status"] == "available"
    filtered = medic.get("/api/v1/units?status=out_of_service").get_json()
    assert filtered == []
    assert medic.get("/api/v1/units?status=asleep").status_code == 400


def test_er_staff_do_not_see_the_fleet_board(app: Flask, as_role: Callable[..., Api]) -> None:
    from tests.factories import make_hospital

    er = as_role(Role.ER_STAFF, hospital_id=make_hospital(app))
    assert er.get("/api/v1/units").get_json()["code"] == "role_forbidden"


def test_unknown_unit_is_404(as_role: Callable[..., Api]) -> None:
    api = as_role(Role.DISPATCHER)
    resp = api.get("/api/v1/units/404")
    assert resp.status_code == 404 and resp.get_json()["code"] == "unit_not_found"
    resp = api.post("/api/v1/units/404/status", json={"status": "out_of_service"})
    assert resp.status_code == 404 and resp.get_json()["code"] == "unit_not_found"


def test_crew_takes_its_unit_out_of_service_and_back(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    unit = make_unit(app)
    medic = as_role(Role.PARAMEDIC, unit_id=unit)
    resp = medic.post(f"/api/v1/units/{unit}/status", json={"status": "out_of_service"})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["status"] == "out_of_service"
    resp = as_role(Role.DISPATCHER).post(
        f"/api/v1/units/{unit}/status", json={"status": "available"}
    )
    assert resp.get_json()["status"] == "available"


@pytest.mark.parametrize(
    ("status", "code"),
    [
        ("dispatched", "illegal_transition"),  # only through assignment
        ("on_scene", "use_timeline"),  # the transport timeline sets it
        ("transporting", "use_timeline"),
        ("available", "illegal_transition"),  # already available
    ],
)
def test_illegal_moves_are_refused(
    app: Flask, as_role: Callable[..., Api], status: str, code: str
) -> None:
    unit = make_unit(app)
    resp = as_role(Role.DISPATCHER).post(f"/api/v1/units/{unit}/status", json={"status": status})
    assert resp.status_code == 409, resp.get_json()
    assert resp.get_json()["code"] == code
    assert as_role(Role.DISPATCHER).get(f"/api/v1/units/{unit}").get_json()["status"] == (
        "available"
    )


def test_timeline_statuses_are_not_set_by_hand(app: Flask, as_role: Callable[..., Api]) -> None:
    scene = dispatched_scene(app, as_role)
    resp = scene.medic.post(f"/api/v1/units/{scene.unit_id}/status", json={"status": "on_scene"})
    assert resp.status_code == 409
    assert resp.get_json()["code"] == "use_timeline"
    assert scene.unit()["status"] == "dispatched"


def test_standing_down_before_arrival_returns_the_call_to_the_queue(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    scene = dispatched_scene(app, as_role)
    resp = scene.dispatcher.post(
        f"/api/v1/units/{scene.unit_id}/status", json={"status": "available"}
    )
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["current_transport_id"] is None
    assert scene.transport()["status"] == "cancelled"
    assert scene.incident()["status"] == "pending"


def test_no_one_to_carry_closes_the_call(app: Flask, as_role: Callable[..., Api]) -> None:
    scene = dispatched_scene(app, as_role)
    assert scene.event("arrived_scene").status_code == 201
    resp = scene.medic.post(f"/api/v1/units/{scene.unit_id}/status", json={"status": "available"})
    assert resp.status_code == 200
    assert scene.incident()["status"] == "closed"
    assert scene.transport()["status"] == "cancelled"


def test_paramedic_acts_only_for_their_own_unit(app: Flask, as_role: Callable[..., Api]) -> None:
    mine = make_unit(app, call_sign="A1")
    other = make_unit(app, call_sign="B1")
    medic = as_role(Role.PARAMEDIC, unit_id=mine)
    resp = medic.post(f"/api/v1/units/{other}/status", json={"status": "out_of_service"})
    assert resp.status_code == 403 and resp.get_json()["code"] == "not_your_unit"
    resp = medic.put(f"/api/v1/units/{other}/position", json={"lat": 35.1, "lon": 134.0})
    assert resp.status_code == 403 and resp.get_json()["code"] == "not_your_unit"
    assert medic.get(f"/api/v1/units/{other}").get_json()["status"] == "available"


def test_off_duty_staff_cannot_move_units(app: Flask, as_role: Callable[..., Api]) -> None:
    unit = make_unit(app)
    dispatcher = as_role(Role.DISPATCHER)
    medic = as_role(Role.PARAMEDIC, unit_id=unit)
    _off_duty(app, dispatcher.user_id)
    _off_duty(app, medic.user_id)
    resp = dispatcher.post(f"/api/v1/units/{unit}/status", json={"status": "out_of_service"})
    assert resp.status_code == 403 and resp.get_json()["code"] == "off_duty"
    resp = medic.put(f"/api/v1/units/{unit}/position", json={"lat": 35.1, "lon": 134.0})
    assert resp.status_code == 403 and resp.get_json()["code"] == "off_duty"
    # Looking is still allowed.
    assert dispatcher.get(f"/api/v1/units/{unit}").get_json()["status"] == "available"


def test_crew_reports_its_position(app: Flask, as_role: Callable[..., Api]) -> None:
    unit = make_unit(app)
    medic = as_role(Role.PARAMEDIC, unit_id=unit)
    resp = medic.put(f"/api/v1/units/{unit}/position", json={"lat": 35.43, "lon": 133.82})
    assert resp.status_code == 200, resp.get_json()
    assert (resp.get_json()["lat"], resp.get_json()["lon"]) == (35.43, 133.82)
    # A late fix from the offline queue does not move the unit back.
    old = (utcnow() - dt.timedelta(minutes=5)).isoformat()
    resp = medic.put(f"/api/v1/units/{unit}/position", json={"lat": 35.0, "lon": 133.0, "at": old})
    assert resp.status_code == 200
    assert resp.get_json()["lat"] == 35.43


def test_position_fixes_stay_out_of_the_audit_log_but_refusals_do_not(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    mine = make_unit(app, call_sign="A1")
    other = make_unit(app, call_sign="B1")
    medic = as_role(Role.PARAMEDIC, unit_id=mine)
    for n in range(3):
        resp = medic.put(f"/api/v1/units/{mine}/position", json={"lat": 35.1 + n, "lon": 134.0})
        assert resp.status_code == 200
    assert (
        medic.put(f"/api/v1/units/{other}/position", json={"lat": 35, "lon": 134}).status_code
        == 403
    )
    with app.app_context(), get_db(app).session_scope() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action == "unit.position")).all()
        assert [(e.outcome, e.target_id) for e in entries] == [("denied", str(other))]


@pytest.mark.parametrize(
    "body",
    [
        {"lat": 91, "lon": 133.0},
        {"lat": -90.5, "lon": 133.0},
        {"lat": 35.0, "lon": 180.5},
        {"lat": 35.0, "lon": -181},
        {"lat": "north", "lon": 133.0},
        {"lat": 35.0},
        {"lat": 35.0, "lon": 133.0, "speed": 3},
        {"lat": 35.0, "lon": 133.0, "at": "yesterday"},
    ],
)
def test_bad_positions_are_refused(
    app: Flask, as_role: Callable[..., Api], body: dict[str, object]
) -> None:
    unit = make_unit(app, lat=35.2, lon=134.2)
    medic = as_role(Role.PARAMEDIC, unit_id=unit)
    resp = medic.put(f"/api/v1/units/{unit}/position", json=body)
    assert resp.status_code == 400
    assert resp.get_json()["code"] == "validation_error"
    assert medic.get(f"/api/v1/units/{unit}").get_json()["lat"] == 35.2


def test_a_fix_from_the_future_is_refused(app: Flask, as_role: Callable[..., Api]) -> None:
    unit = make_unit(app)
    medic = as_role(Role.PARAMEDIC, unit_id=unit)
    at = (utcnow() + dt.timedelta(minutes=10)).isoformat()
    resp = medic.put(f"/api/v1/units/{unit}/position", json={"lat": 35, "lon": 134, "at": at})
    assert resp.status_code == 400 and resp.get_json()["code"] == "at_in_future"


def test_dispatchers_do_not_report_positions(app: Flask, as_role: Callable[..., Api]) -> None:
    unit = make_unit(app)
    resp = as_role(Role.DISPATCHER).put(
        f"/api/v1/units/{unit}/position", json={"lat": 35, "lon": 134}
    )
    assert resp.status_code == 403 and resp.get_json()["code"] == "role_forbidden"


def test_of_two_racing_fixes_the_newer_one_wins(app: Flask) -> None:
    """A tablet's late fix, checked against a stale read of the unit, must not
    overwrite a newer fix another request stored meanwhile."""
    from ems.fleet import service
    from ems.fleet.models import Unit

    unit_id = make_unit(app, lat=35.0, lon=134.0)
    # Both fixes are newer than the unit's creation, within the accepted clock skew.
    now = utcnow() + dt.timedelta(seconds=40)
    db = get_db(app)
    with app.app_context():
        with db.session_scope() as s:
            stale_read = s.get(Unit, unit_id)  # read before the newer fix lands
        assert stale_read is not None
        with db.session_scope() as s:
            fresh = s.get(Unit, unit_id)
            assert fresh is not None
            assert service.update_position(session=s, unit=fresh, lat=35.2, lon=134.2, at=now)
        late = now - dt.timedelta(seconds=20)
        assert late > stale_read.position_at
        with db.session_scope() as s:
            assert not service.update_position(
                session=s, unit=s.merge(stale_read, load=False), lat=35.1, lon=134.1, at=late
            )
        with db.session_scope() as s:
            stored = s.get(Unit, unit_id)
            assert stored is not None
            assert (stored.lat, stored.lon, stored.position_at) == (35.2, 134.2, now)


def test_a_stored_fix_is_what_the_board_shows(app: Flask, as_role: Callable[..., Api]) -> None:
    unit = make_unit(app, lat=35.0, lon=134.0)
    medic = as_role(Role.PARAMEDIC, unit_id=unit)
    at = utcnow().replace(microsecond=0) + dt.timedelta(seconds=1)
    sent = medic.put(
        f"/api/v1/units/{unit}/position", json={"lat": 35.5, "lon": 134.5, "at": at.isoformat()}
    )
    assert sent.status_code == 200
    board = as_role(Role.DISPATCHER).get(f"/api/v1/units/{unit}").get_json()
    assert (board["lat"], board["lon"]) == (35.5, 134.5)
    assert dt.datetime.fromisoformat(board["position_at"]) == at
    assert sent.get_json() == board
