"""Transports: the FDMA timeline recorded from the tablets (in order, once, with
idempotent replays), the unit status that follows it, who sees which transport,
the destination, and today's figures."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import func, select

from ems.api import ROUTES
from ems.auth.models import Role, User
from ems.db import get_db, utcnow
from ems.hospital_requests.models import HospitalRequest, RequestStatus
from ems.transports.models import Transport, TransportEvent
from ems.transports.service import COLUMN, KINDS
from tests.ems.transports.scenario import Scene, dispatched_scene, walk_to
from tests.factories import Api, make_transport, make_unit

URL = "/api/v1/transports"


def _events(app: Flask, kind: str) -> int:
    with app.app_context(), get_db(app).session_scope() as s:
        return int(
            s.scalar(select(func.count()).where(TransportEvent.kind == kind)) or 0  # type: ignore[arg-type]
        )


def test_the_whole_run_moves_the_unit_and_closes_the_call(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    scene = dispatched_scene(app, as_role)
    expected_unit = {
        "arrived_scene": "on_scene",
        "patient_contact": "on_scene",
        "loaded": "on_scene",
        "departed_scene": "transporting",
        "arrived_hospital": "at_hospital",
    }
    for kind, status in expected_unit.items():
        if kind == "arrived_hospital":
            scene.set_destination()
        resp = scene.event(kind)
        assert resp.status_code == 201, resp.get_json()
        assert resp.get_json()["replayed"] is False
        assert scene.unit()["status"] == status, kind
    resp = scene.event("handover")
    assert resp.status_code == 201
    body = resp.get_json()["transport"]
    assert body["status"] == "completed"
    assert all(step["at"] is not None for step in body["timeline"])
    assert all(i["seconds"] is not None and i["seconds"] >= 0 for i in body["intervals"])
    assert body["call_to_hospital_s"] >= body["call_to_scene_s"] >= 0
    unit = scene.unit()
    assert unit["status"] == "available" and unit["current_transport_id"] is None
    assert scene.incident()["status"] == "closed"
    # The unit is free for the next call.
    assert scene.dispatcher.get(f"{URL}?active=true").get_json() == []


def test_interval_durations_come_from_the_reported_times(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    scene = dispatched_scene(app, as_role)
    dispatched = dt.datetime.fromisoformat(
        {s["kind"]: s["at"] for s in scene.transport()["timeline"]}["dispatched"]
    )
    # Tablet clocks may run up to a minute ahead of the server.
    arrived = dispatched + dt.timedelta(seconds=30)
    assert scene.event("arrived_scene", at=arrived.isoformat()).status_code == 201
    contact = arrived + dt.timedelta(seconds=20)
    assert scene.event("patient_contact", at=contact.isoformat()).status_code == 201
    transport = scene.transport()
    intervals = {(i["start"], i["end"]): i["seconds"] for i in transport["intervals"]}
    assert intervals[("dispatched", "arrived_scene")] == 30
    assert intervals[("arrived_scene", "patient_contact")] == 20
    assert intervals[("loaded", "departed_scene")] is None
    assert transport["call_to_hospital_s"] is None


def test_a_replayed_event_is_recorded_once(app: Flask, as_role: Callable[..., Api]) -> None:
    scene = dispatched_scene(app, as_role)
    first = scene.event("arrived_scene", idempotency_key="tablet-7:42")
    assert first.status_code == 201
    again = scene.event("arrived_scene", idempotency_key="tablet-7:42")
    assert again.status_code == 200
    assert again.get_json()["replayed"] is True
    assert again.get_json()["event"] == first.get_json()["event"]
    assert _events(app, "arrived_scene") == 1
    # Without the key, a second report of the same step is a conflict.
    dup = scene.event("arrived_scene")
    assert dup.status_code == 409 and dup.get_json()["code"] == "already_recorded"
    # The same key for another step is a client bug, not a replay.
    reused = scene.event("patient_contact", idempotency_key="tablet-7:42")
    assert reused.status_code == 409 and reused.get_json()["code"] == "idempotency_key_reused"


def test_a_replay_after_the_shift_ended_still_answers(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    scene = dispatched_scene(app, as_role)
    assert scene.event("arrived_scene", idempotency_key="k1").status_code == 201
    with app.app_context(), get_db(app).session_scope() as s:
        user = s.get(User, scene.medic.user_id)
        assert user is not None
        user.on_duty = False
    assert scene.event("arrived_scene", idempotency_key="k1").status_code == 200
    resp = scene.event("patient_contact", idempotency_key="k2")
    assert resp.status_code == 403 and resp.get_json()["code"] == "off_duty"


@pytest.mark.parametrize("kind", ["patient_contact", "loaded", "arrived_hospital", "handover"])
def test_steps_out_of_order_are_refused(app: Flask, as_role: Callable[..., Api], kind: str) -> None:
    scene = dispatched_scene(app, as_role)
    resp = scene.event(kind)
    assert resp.status_code == 409
    assert resp.get_json()["code"] == "out_of_order"
    assert resp.get_json()["missing"][0] == "arrived_scene"
    assert scene.unit()["status"] == "dispatched"
    assert _events(app, kind) == 0


def test_steps_set_at_assignment_are_already_recorded(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    scene = dispatched_scene(app, as_role)
    for kind in ("call_received", "dispatched"):
        resp = scene.event(kind)
        assert resp.status_code == 409 and resp.get_json()["code"] == "already_recorded"


def test_times_in_the_future_or_before_the_previous_step_are_refused(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    scene = dispatched_scene(app, as_role)
    future = (utcnow() + dt.timedelta(minutes=5)).isoformat()
    resp = scene.event("arrived_scene", at=future)
    assert resp.status_code == 400 and resp.get_json()["code"] == "at_in_future"
    past = (utcnow() - dt.timedelta(hours=2)).isoformat()
    resp = scene.event("arrived_scene", at=past)
    assert resp.status_code == 400 and resp.get_json()["code"] == "at_before_previous"
    assert scene.unit()["status"] == "dispatched"
    # Within a minute of clock drift is accepted.
    soon = (utcnow() + dt.timedelta(seconds=20)).isoformat()
    assert scene.event("arrived_scene", at=soon).status_code == 201


def test_arrival_needs_a_destination(app: Flask, as_role: Callable[..., Api]) -> None:
    scene = dispatched_scene(app, as_role)
    walk_to(scene, "departed_scene")
    resp = scene.event("arrived_hospital")
    assert resp.status_code == 409 and resp.get_json()["code"] == "no_destination"
    assert scene.unit()["status"] == "transporting"
    scene.set_destination()
    assert scene.event("arrived_hospital").status_code == 201
    resp = scene.medic.put(
        f"{URL}/{scene.transport_id}/destination", json={"hospital_id": scene.hospital_id}
    )
    assert resp.status_code == 409 and resp.get_json()["code"] == "already_arrived"


def test_a_completed_transport_takes_no_more_events(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    scene = dispatched_scene(app, as_role)
    scene.dispatcher.post(f"/api/v1/incidents/{scene.incident_id}/cancel")
    resp = scene.event("arrived_scene")
    assert resp.status_code == 409 and resp.get_json()["code"] == "transport_closed"


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "teleported"},
        {"kind": "arrived_scene", "at": "not a time"},
        {"kind": "arrived_scene", "at": "2030-01-01T00:00:00"},
        {"kind": "arrived_scene", "idempotency_key": ""},
        {"kind": "arrived_scene", "idempotency_key": "x" * 65},
        {"kind": "arrived_scene", "idempotency_key": "has space"},
        {"kind": "arrived_scene", "data": "text"},
        {"kind": "arrived_scene", "data": {"blob": "x" * 5000}},
        {"kind": "arrived_scene", "extra": 1},
        {},
    ],
)
def test_bad_event_bodies_are_refused(
    app: Flask, as_role: Callable[..., Api], body: dict[str, object]
) -> None:
    scene = dispatched_scene(app, as_role)
    resp = scene.medic.post(f"{URL}/{scene.transport_id}/events", json=body)
    assert resp.status_code == 400
    assert resp.get_json()["code"] == "validation_error"
    assert scene.unit()["status"] == "dispatched"


def test_another_units_crew_cannot_record_or_look(app: Flask, as_role: Callable[..., Api]) -> None:
    scene = dispatched_scene(app, as_role)
    stranger = as_role(Role.PARAMEDIC, unit_id=make_unit(app, call_sign="他隊1"))
    resp = scene.event("arrived_scene", api=stranger)
    assert resp.status_code == 403 and resp.get_json()["code"] == "not_your_unit"
    resp = stranger.get(f"{URL}/{scene.transport_id}")
    assert resp.status_code == 403
    assert stranger.get(URL).get_json() == []
    assert scene.unit()["status"] == "dispatched"


def test_dispatcher_may_record_for_a_crew(app: Flask, as_role: Callable[..., Api]) -> None:
    scene = dispatched_scene(app, as_role)
    assert scene.event("arrived_scene", api=scene.dispatcher).status_code == 201


def test_er_staff_cannot_record(app: Flask, as_role: Callable[..., Api]) -> None:
    scene = dispatched_scene(app, as_role)
    er = as_role(Role.ER_STAFF, hospital_id=scene.hospital_id)
    resp = scene.event("arrived_scene", api=er)
    assert resp.status_code == 403 and resp.get_json()["code"] == "role_forbidden"


def test_unknown_transport_is_404(as_role: Callable[..., Api]) -> None:
    api = as_role(Role.DISPATCHER)
    for resp in (
        api.get(f"{URL}/5"),
        api.post(f"{URL}/5/events", json={"kind": "arrived_scene"}),
        api.put(f"{URL}/5/destination", json={"hospital_id": 1}),
    ):
        assert resp.status_code == 404
        assert resp.get_json()["code"] == "transport_not_found"


def test_destination_must_exist(app: Flask, as_role: Callable[..., Api]) -> None:
    scene = dispatched_scene(app, as_role)
    resp = scene.medic.put(f"{URL}/{scene.transport_id}/destination", json={"hospital_id": 999})
    assert resp.status_code == 404 and resp.get_json()["code"] == "hospital_not_found"
    assert scene.transport()["destination_hospital_id"] is None


def _open_request(app: Flask, transport_id: int, hospital_id: int, status: RequestStatus) -> None:
    with app.app_context(), get_db(app).session_scope() as s:
        s.add(
            HospitalRequest(
                transport_id=transport_id,
                hospital_id=hospital_id,
                bed_category="general",
                status=status,
            )
        )


def test_each_role_lists_only_its_transports(app: Flask, as_role: Callable[..., Api]) -> None:
    a = dispatched_scene(app, as_role, call_sign="A1")
    b = dispatched_scene(app, as_role, call_sign="B1")
    ids = {t["id"] for t in a.dispatcher.get(f"{URL}?active=true").get_json()}
    assert ids == {a.transport_id, b.transport_id}
    assert [t["id"] for t in a.medic.get(URL).get_json()] == [a.transport_id]
    er_a = as_role(Role.ER_STAFF, hospital_id=a.hospital_id)
    er_b = as_role(Role.ER_STAFF, hospital_id=b.hospital_id)
    assert er_a.get(URL).get_json() == []
    # An open acceptance request makes the transport visible to that hospital only.
    _open_request(app, a.transport_id, a.hospital_id, RequestStatus.SENT)
    _open_request(app, b.transport_id, a.hospital_id, RequestStatus.DECLINED)
    assert [t["id"] for t in er_a.get(URL).get_json()] == [a.transport_id]
    assert er_a.get(f"{URL}/{a.transport_id}").status_code == 200
    resp = er_a.get(f"{URL}/{b.transport_id}")
    assert resp.status_code == 403 and resp.get_json()["code"] == "not_your_hospital"
    assert er_b.get(URL).get_json() == []
    b.set_destination()
    assert [t["id"] for t in er_b.get(f"{URL}?active=true").get_json()] == [b.transport_id]
    assert er_b.get(f"{URL}?active=false").get_json() == []
    assert er_b.get(f"{URL}?active=maybe").status_code == 400


def test_todays_figures(app: Flask, as_role: Callable[..., Api]) -> None:
    scene = dispatched_scene(app, as_role)
    dispatched_scene(app, as_role, call_sign="B1")
    walk_to(scene, "handover")
    resp = scene.dispatcher.get("/api/v1/stats/today")
    assert resp.status_code == 200
    stats = resp.get_json()
    assert stats["transports"] == 2
    assert stats["completed"] == 1 and stats["active"] == 1
    assert stats["baseline_call_to_hospital_min"] == 45.6
    assert (stats["baseline_year"], stats["baseline_source"]) == (2023, "FDMA")
    assert stats["call_to_hospital_min_mean"] is not None
    assert stats["call_to_hospital_min_p90"] is not None
    assert stats["vs_baseline_min"] < 0
    assert (stats["intervals"][0]["start"], stats["intervals"][0]["end"]) == (
        "call_received",
        "dispatched",
    )
    assert stats["intervals"][-1]["n"] == 1
    assert scene.medic.get("/api/v1/stats/today").status_code == 403


def test_p90_uses_the_nearest_rank() -> None:
    from ems.transports.service import _p90

    assert _p90([]) is None
    assert _p90([30.0]) == 30.0
    assert _p90([float(m) for m in range(1, 11)]) == 9.0
    assert _p90([float(m) for m in range(1, 21)]) == 18.0


def test_every_domain_endpoint_is_in_the_openapi_document(client: object) -> None:
    from flask.testing import FlaskClient

    assert isinstance(client, FlaskClient)
    doc = client.get("/api/v1/openapi.json").get_json()
    mine = [r for r in ROUTES if r.tag in ("hospitals", "fleet", "incidents", "transports")]
    assert len(mine) >= 18
    for r in mine:
        import re

        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", r.rule)
        assert r.method.lower() in doc["paths"][path], path
    schemas = doc["components"]["schemas"]
    for name in ("HospitalRead", "UnitRead", "IncidentRead", "TransportRead", "TodayStats"):
        assert name in schemas


def test_transport_rows_hold_no_partial_write_after_a_refusal(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    scene: Scene = dispatched_scene(app, as_role)
    walk_to(scene, "departed_scene")
    scene.event("arrived_hospital")  # refused: no destination
    with app.app_context(), get_db(app).session_scope() as s:
        t = s.get(Transport, scene.transport_id)
        assert t is not None and t.arrived_hospital_at is None


def test_writes_are_announced_live_to_the_right_audience(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    import queue

    from ems.events import Event, visible_to

    feed: queue.Queue[Event] = app.extensions["ems_events"].subscribe()
    scene = dispatched_scene(app, as_role)
    scene.set_destination()
    seen: list[Event] = []
    while not feed.empty():
        seen.append(feed.get_nowait())
    types = [e.type for e in seen]
    assert "incident.created" in types
    assert {"incident.updated", "unit.updated", "transport.updated"} <= set(types)
    latest = [e for e in seen if e.type == "transport.updated"][-1]
    assert latest.data["destination_hospital_id"] == scene.hospital_id
    # The stream relay keys its immediate access re-check on ``transport_id``.
    assert latest.data["transport_id"] == scene.transport_id
    assert visible_to(latest, role="er_staff", unit_id=None, hospital_id=scene.hospital_id)
    assert not visible_to(latest, role="er_staff", unit_id=None, hospital_id=scene.hospital_id + 1)
    assert visible_to(latest, role="paramedic", unit_id=scene.unit_id, hospital_id=None)
    assert not visible_to(latest, role="paramedic", unit_id=scene.unit_id + 1, hospital_id=None)


def test_todays_figures_are_computed_from_the_timeline(app: Flask) -> None:
    """Known timelines give known figures: cancelled runs count as transports but
    not in the times, and yesterday's calls (Japan time) are not today's."""
    from ems.transports.models import TransportStatus
    from ems.transports.service import stats_today

    noon_jst = dt.datetime(2026, 6, 1, 3, 0, tzinfo=dt.UTC)
    call = noon_jst - dt.timedelta(hours=2)
    minute = dt.timedelta(minutes=1)
    runs = [
        # (status, minutes after the call for each step recorded so far)
        (TransportStatus.COMPLETED, [1, 8, 9, 20, 22, 40, 45]),
        (TransportStatus.ACTIVE, [2, 10]),
        (TransportStatus.CANCELLED, [1]),
    ]
    ids = []
    for n, (status, steps) in enumerate(runs):
        unit = make_unit(app, call_sign=f"S{n}")
        ids.append((make_transport(app, unit_id=unit), status, steps))
    yesterday = make_transport(app, unit_id=make_unit(app, call_sign="Y"))
    with app.app_context(), get_db(app).session_scope() as s:
        for tid, status, steps in ids:
            t = s.get(Transport, tid)
            assert t is not None
            t.status = status
            t.call_received_at = call
            for kind, after in zip(KINDS[1:], steps, strict=False):
                setattr(t, COLUMN[kind], call + after * minute)
        old = s.get(Transport, yesterday)
        assert old is not None
        old.call_received_at = noon_jst - dt.timedelta(hours=13)  # 23:00 JST the day before
        old.dispatched_at = old.call_received_at + 30 * minute
    with app.app_context(), get_db(app).session_scope() as s:
        stats = stats_today(session=s, now=noon_jst)
    assert (stats.transports, stats.active, stats.completed, stats.cancelled) == (3, 1, 1, 1)
    assert stats.call_to_scene_min_mean == 9.0
    assert stats.call_to_hospital_min_mean == 40.0
    assert stats.call_to_hospital_min_p90 == 40.0
    assert stats.vs_baseline_min == round(40.0 - 45.6, 2)
    by_step = {(i.start, i.end): (i.mean_min, i.n) for i in stats.intervals}
    assert by_step[("call_received", "dispatched")] == (1.5, 2)
    assert by_step[("dispatched", "arrived_scene")] == (7.5, 2)
    assert by_step[("arrived_hospital", "handover")] == (5.0, 1)
    assert len(by_step) == len(KINDS) - 1
