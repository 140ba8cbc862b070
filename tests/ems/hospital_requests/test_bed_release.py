"""An accept takes one bed off the hospital's figure; when the patient does not come
after all (the crew withdraws the early request, the destination is changed, the call
is cancelled or the unit stood down), the bed is given back, once, audited, and every
screen is told."""

from __future__ import annotations

import datetime as dt
import queue
from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import select

from ems.audit.models import AuditEntry
from ems.auth.models import Role
from ems.db import get_db, utcnow
from ems.events import Event
from ems.hospitals.models import BedAvailability, BedCategory
from tests.ems.transports.scenario import Scene, dispatched_scene
from tests.factories import Api, make_hospital


def _ccu(app: Flask, hospital_id: int) -> int:
    with app.app_context(), get_db(app).session_scope() as s:
        return int(
            s.scalar(
                select(BedAvailability.available).where(
                    BedAvailability.hospital_id == hospital_id,
                    BedAvailability.category == BedCategory.CCU,
                )
            )
            or 0
        )


def _released(app: Flask) -> list[dict[str, Any]]:
    with app.app_context(), get_db(app).session_scope() as s:
        return [
            dict(e.detail or {}, hospital_id=int(e.target_id or 0))
            for e in s.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "hospital.bed_released")
                .order_by(AuditEntry.id)
            )
        ]


def _drain(feed: queue.Queue[Event]) -> list[Event]:
    out = []
    while not feed.empty():
        out.append(feed.get_nowait())
    return out


def _accepted_ahead(app: Flask, as_role: Callable[..., Api]) -> tuple[Scene, int, Api]:
    """A suspected STEMI asked ahead while the unit drives; the PCI centre said yes and
    took its one CCU bed."""
    scene = dispatched_scene(app, as_role)
    r = scene.dispatcher.post(f"/api/v1/incidents/{scene.incident_id}/ask-ahead")
    assert r.status_code == 201, r.get_json()
    req = r.get_json()["requests"][0]
    hospital_id = int(req["hospital_id"])
    er = as_role(Role.ER_STAFF, hospital_id=hospital_id)
    assert _ccu(app, hospital_id) == 1
    ok = er.post(f"/api/v1/hospital-requests/{req['id']}/accept")
    assert ok.status_code == 200 and ok.get_json()["bed_status"] == "claimed"
    assert _ccu(app, hospital_id) == 0
    return scene, hospital_id, er


def test_withdrawing_an_accepted_early_request_gives_the_bed_back(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    scene, hospital_id, er = _accepted_ahead(app, as_role)
    feed: queue.Queue[Event] = app.extensions["ems_events"].subscribe()
    r = scene.medic.post(f"/api/v1/transports/{scene.transport_id}/ask-ahead/withdraw")
    assert r.status_code == 200 and r.get_json()["destination_cleared"] is True
    assert _ccu(app, hospital_id) == 1
    (entry,) = _released(app)
    assert entry["hospital_id"] == hospital_id and entry["reason"] == "ask_ahead_withdrawn"
    assert entry["transport_id"] == scene.transport_id and entry["available"] == 1
    updates = [e for e in _drain(feed) if e.type == "hospital.updated"]
    assert updates and updates[-1].data["id"] == hospital_id
    ccu = next(b for b in updates[-1].data["beds"] if b["category"] == "ccu")
    assert ccu["available"] == 1
    # The ER's own list shows the figure back too.
    beds = er.get(f"/api/v1/hospitals/{hospital_id}").get_json()["beds"]
    assert next(b for b in beds if b["category"] == "ccu")["available"] == 1
    # Given back once: a second withdrawal is refused and changes no figure.
    again = scene.medic.post(f"/api/v1/transports/{scene.transport_id}/ask-ahead/withdraw")
    assert again.status_code >= 400
    assert _ccu(app, hospital_id) == 1 and len(_released(app)) == 1


def test_a_new_destination_gives_the_first_hospital_its_bed_back(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    scene, hospital_id, _ = _accepted_ahead(app, as_role)
    other = make_hospital(app, name="市立病院", capabilities=("pci",), beds={"ccu": 2})
    # The same hospital again takes nothing back.
    same = scene.medic.put(
        f"/api/v1/transports/{scene.transport_id}/destination",
        json={"hospital_id": hospital_id, "bed_category": "ccu"},
    )
    assert same.status_code == 200
    assert _ccu(app, hospital_id) == 0 and _released(app) == []
    moved = scene.medic.put(
        f"/api/v1/transports/{scene.transport_id}/destination",
        json={"hospital_id": other, "bed_category": "ccu"},
    )
    assert moved.status_code == 200, moved.get_json()
    assert _ccu(app, hospital_id) == 1
    assert _ccu(app, other) == 2  # set by hand: that hospital's figure is its own to keep
    assert [(e["hospital_id"], e["reason"]) for e in _released(app)] == [
        (hospital_id, "destination_changed")
    ]


def test_a_refused_destination_change_gives_nothing_back(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    scene, hospital_id, _ = _accepted_ahead(app, as_role)
    r = scene.medic.put(
        f"/api/v1/transports/{scene.transport_id}/destination",
        json={"hospital_id": 999_999, "bed_category": "ccu"},
    )
    assert r.status_code == 404 and r.get_json()["code"] == "hospital_not_found"
    assert _ccu(app, hospital_id) == 0 and _released(app) == []
    assert scene.transport()["destination_hospital_id"] == hospital_id


def test_cancelling_the_call_gives_the_bed_back(app: Flask, as_role: Callable[..., Api]) -> None:
    scene, hospital_id, _ = _accepted_ahead(app, as_role)
    r = scene.dispatcher.post(f"/api/v1/incidents/{scene.incident_id}/cancel")
    assert r.status_code == 200, r.get_json()
    assert _ccu(app, hospital_id) == 1
    assert [e["reason"] for e in _released(app)] == ["call_cancelled"]


def test_standing_the_unit_down_gives_the_bed_back(app: Flask, as_role: Callable[..., Api]) -> None:
    scene, hospital_id, _ = _accepted_ahead(app, as_role)
    r = scene.dispatcher.post(f"/api/v1/units/{scene.unit_id}/status", json={"status": "available"})
    assert r.status_code == 200, r.get_json()
    assert _ccu(app, hospital_id) == 1
    assert [e["reason"] for e in _released(app)] == ["stood_down"]


def test_a_bed_is_never_given_back_above_the_capacity(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    scene, hospital_id, er = _accepted_ahead(app, as_role)
    # The ER counted the bed back itself before the crew withdrew.
    put = er.patch(
        f"/api/v1/hospitals/{hospital_id}/availability",
        json={"beds": [{"category": "ccu", "available": 1, "capacity": 1}]},
    )
    assert put.status_code == 200, put.get_json()
    r = scene.medic.post(f"/api/v1/transports/{scene.transport_id}/ask-ahead/withdraw")
    assert r.status_code == 200
    assert _ccu(app, hospital_id) == 1
    (entry,) = _released(app)
    assert entry["available"] is None  # audited: nothing to give back


def test_an_accept_on_a_stale_figure_takes_nothing_and_gives_nothing_back(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    scene = dispatched_scene(app, as_role)
    with app.app_context(), get_db(app).session_scope() as s:
        for bed in s.scalars(
            select(BedAvailability).where(BedAvailability.hospital_id == scene.hospital_id)
        ):
            bed.expires_at = utcnow() - dt.timedelta(minutes=5)
    r = scene.dispatcher.post(f"/api/v1/incidents/{scene.incident_id}/ask-ahead")
    assert r.status_code == 201, r.get_json()
    req = r.get_json()["requests"][0]
    assert req["hospital_id"] == scene.hospital_id
    er = as_role(Role.ER_STAFF, hospital_id=scene.hospital_id)
    ok = er.post(f"/api/v1/hospital-requests/{req['id']}/accept")
    assert ok.status_code == 200 and ok.get_json()["bed_status"] == "stale"
    w = scene.medic.post(f"/api/v1/transports/{scene.transport_id}/ask-ahead/withdraw")
    assert w.status_code == 200
    assert _ccu(app, scene.hospital_id) == 1 and _released(app) == []
