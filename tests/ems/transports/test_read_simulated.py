"""One transport's own intervals stay honest in the demo's fast mode: a transport whose
crew ran ten times faster than life reads with its intervals scaled back to life (the
same rule as today's figures) and says its speed, in the answer to the step, in the
read, in the list and on the live event; a transport at life pace reads as the clock."""

from __future__ import annotations

import datetime as dt
import queue
from collections.abc import Callable
from typing import Any

from flask import Flask

from ems.events import Event
from ems.transports.service import SIMULATED_SPEED
from tests.ems.transports.scenario import Scene, dispatched_scene
from tests.factories import Api

URL = "/api/v1/transports"


def _scene_and_two_steps(scene: Scene, data: dict[str, Any]) -> Any:
    """Arrive 30 s after dispatch and reach the patient 20 s later, each step saying
    ``data``; returns the answer to the second step."""
    dispatched = dt.datetime.fromisoformat(
        {s["kind"]: s["at"] for s in scene.transport()["timeline"]}["dispatched"]
    )
    arrived = dispatched + dt.timedelta(seconds=30)
    resp = scene.event("arrived_scene", at=arrived.isoformat(), data=data)
    assert resp.status_code == 201, resp.get_json()
    contact = arrived + dt.timedelta(seconds=20)
    resp = scene.event("patient_contact", at=contact.isoformat(), data=data)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["transport"]


def _by_step(transport: dict[str, Any], field: str) -> dict[tuple[str, str], Any]:
    return {(i["start"], i["end"]): i[field] for i in transport["intervals"]}


def test_a_fast_transport_reads_with_life_scaled_intervals_and_its_speed(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    feed: queue.Queue[Event] = app.extensions["ems_events"].subscribe()
    scene = dispatched_scene(app, as_role, call_sign="FAST")
    answered = _scene_and_two_steps(scene, {SIMULATED_SPEED: 10})
    read = scene.transport()
    (listed,) = [t for t in scene.dispatcher.get(URL).get_json() if t["id"] == scene.transport_id]
    updates = []
    while not feed.empty():
        event = feed.get_nowait()
        if event.type == "transport.updated":
            updates.append(event.data)
    for transport in (answered, read, listed, updates[-1]):
        assert transport["simulated_speed"] == 10
        # A 30-second drive on the clock was a five-minute one in the life it stands for.
        life = _by_step(transport, "life_seconds")
        assert life[("dispatched", "arrived_scene")] == 300
        assert life[("arrived_scene", "patient_contact")] == 200
        assert life[("loaded", "departed_scene")] is None
        # The clock's own seconds stay what they were.
        assert _by_step(transport, "seconds")[("dispatched", "arrived_scene")] == 30


def test_a_life_pace_transport_reads_as_the_clock(app: Flask, as_role: Callable[..., Api]) -> None:
    scene = dispatched_scene(app, as_role, call_sign="LIFE")
    answered = _scene_and_two_steps(scene, {})
    for transport in (answered, scene.transport()):
        assert transport["simulated_speed"] is None
        assert _by_step(transport, "life_seconds") == _by_step(transport, "seconds")
        assert _by_step(transport, "life_seconds")[("dispatched", "arrived_scene")] == 30


def test_a_step_that_says_nothing_sensible_reads_as_life_pace(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    scene = dispatched_scene(app, as_role, call_sign="ODD")
    transport = _scene_and_two_steps(scene, {SIMULATED_SPEED: "fast"})
    assert transport["simulated_speed"] is None
    assert _by_step(transport, "life_seconds")[("dispatched", "arrived_scene")] == 30
