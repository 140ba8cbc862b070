"""When a transport's publisher may still deliver records: live while under way,
records only for the grace period after a handover or a cancellation, then nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from flask import Flask

from ems.access.facts import facts_by_id
from ems.access.policy import PublishScope, TransportFacts, publish_scope
from ems.db import get_db
from tests.ems.transports.scenario import dispatched_scene, walk_to
from tests.factories import Api

GRACE_S = 6 * 3600


def scope_at(app: Flask, transport_id: int, after: dt.timedelta) -> PublishScope:
    with app.app_context(), get_db(app).session_scope() as s:
        access = facts_by_id(session=s, transport_ids=[transport_id]).get(transport_id)
    assert access is not None
    now = (access.ended_at or dt.datetime.now(dt.UTC)) + after
    return publish_scope(access, now=now, grace_s=GRACE_S)


def test_records_only_for_six_hours_after_the_handover(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    scene = dispatched_scene(app, as_role)
    walk_to(scene, "arrived_hospital")
    assert scope_at(app, scene.transport_id, dt.timedelta(0)) is PublishScope.LIVE
    resp = scene.event("handover")
    assert resp.status_code == 201, resp.get_json()
    with app.app_context(), get_db(app).session_scope() as s:
        access = facts_by_id(session=s, transport_ids=[scene.transport_id]).get(scene.transport_id)
    assert access is not None and access.status == "completed"
    assert access.ended_at is not None
    assert scope_at(app, scene.transport_id, dt.timedelta(hours=5)) is PublishScope.RECORDS
    assert scope_at(app, scene.transport_id, dt.timedelta(hours=7)) is PublishScope.CLOSED


def test_a_cancelled_call_counts_its_grace_from_its_last_step(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    scene = dispatched_scene(app, as_role)
    resp = scene.dispatcher.post(f"/api/v1/incidents/{scene.incident_id}/cancel")
    assert resp.status_code == 200, resp.get_json()
    with app.app_context(), get_db(app).session_scope() as s:
        access = facts_by_id(session=s, transport_ids=[scene.transport_id]).get(scene.transport_id)
    assert access is not None and access.status == "cancelled"
    assert access.ended_at is not None
    assert scope_at(app, scene.transport_id, dt.timedelta(hours=1)) is PublishScope.RECORDS
    assert scope_at(app, scene.transport_id, dt.timedelta(hours=7)) is PublishScope.CLOSED


def test_the_access_facts_of_several_transports_come_in_one_call(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    scene = dispatched_scene(app, as_role)
    tid = scene.transport_id

    def both() -> tuple[dict[int, TransportFacts], Any]:
        with app.app_context(), get_db(app).session_scope() as s:
            many = facts_by_id(session=s, transport_ids=[tid, tid + 1000])
            return many, facts_by_id(session=s, transport_ids=[tid]).get(tid)

    many, one = both()
    assert set(many) == {tid}  # the other transport does not exist: left out
    assert many[tid] == one and one.active and one.ended_at is None
    walk_to(scene, "arrived_hospital")
    resp = scene.event("handover")
    assert resp.status_code == 201, resp.get_json()
    many, one = both()
    assert many[tid] == one and not one.active and one.ended_at is not None
    assert one.destination_hospital_id is not None
