"""Today's figures stay honest when the demo runs its simulated people faster than
life: a transport whose crew says it ran ten times faster counts ten times its
minutes (life-like ones), and is counted as simulated."""

from __future__ import annotations

import datetime as dt

from flask import Flask

from ems.db import get_db
from ems.transports.models import Transport, TransportEvent, TransportStatus
from ems.transports.service import COLUMN, KINDS, SIMULATED_SPEED, stats_today
from tests.factories import make_transport, make_unit

NOON_JST = dt.datetime(2026, 6, 1, 3, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


def _run(app: Flask, call_sign: str, steps: list[float], data: object) -> None:
    """A completed transport whose steps came ``steps`` minutes after the call; its
    crew's first step carries ``data``."""
    tid = make_transport(app, unit_id=make_unit(app, call_sign=call_sign))
    with app.app_context(), get_db(app).session_scope() as s:
        t = s.get(Transport, tid)
        assert t is not None
        t.status = TransportStatus.COMPLETED
        t.call_received_at = NOON_JST - dt.timedelta(hours=1)
        for kind, after in zip(KINDS[1:], steps, strict=True):
            setattr(t, COLUMN[kind], t.call_received_at + after * MINUTE)
        s.add(
            TransportEvent(
                transport_id=tid,
                kind="arrived_scene",
                at=t.arrived_scene_at,
                data=data,
            )
        )


def test_a_fast_simulation_is_scaled_back_to_life_like_minutes(app: Flask) -> None:
    # Life: scene at 10 min, hospital at 45.
    _run(app, "LIFE", [1, 10, 11, 19, 26, 45, 50], {})
    # The same run at ×10: every stamp ten times closer to the call.
    _run(app, "FAST", [0.1, 1.0, 1.1, 1.9, 2.6, 4.5, 5.0], {SIMULATED_SPEED: 10})
    with app.app_context(), get_db(app).session_scope() as s:
        stats = stats_today(session=s, now=NOON_JST)
    assert stats.transports == 2 and stats.simulated == 1
    assert stats.call_to_scene_min_mean == 10.0
    assert stats.call_to_hospital_min_mean == 45.0
    by_step = {(i.start, i.end): i.mean_min for i in stats.intervals}
    assert by_step[("departed_scene", "arrived_hospital")] == 19.0


def test_a_step_that_says_nothing_sensible_counts_as_life_pace(app: Flask) -> None:
    _run(app, "A", [1, 10, 11, 19, 26, 45, 50], {SIMULATED_SPEED: "fast"})
    _run(app, "B", [1, 10, 11, 19, 26, 45, 50], {SIMULATED_SPEED: 0.01})
    _run(app, "C", [1, 10, 11, 19, 26, 45, 50], {SIMULATED_SPEED: True})
    with app.app_context(), get_db(app).session_scope() as s:
        stats = stats_today(session=s, now=NOON_JST)
    assert stats.simulated == 0
    assert stats.call_to_hospital_min_mean == 45.0
