"""Today's figures of the doctor's instruction: "119 call → instruction" counts each
transport once, to its first instruction; "request → instruction" counts every request
answered "instructed" today; a declined or open request, or one of yesterday, counts in
neither; a fast simulated run is scaled back to life-like minutes."""

from __future__ import annotations

import datetime as dt

from flask import Flask

from ems.auth.models import Role
from ems.db import get_db
from ems.instructions.models import (
    InstructionDecision,
    InstructionRequest,
    InstructionStatus,
)
from ems.transports.models import Transport, TransportEvent
from ems.transports.service import SIMULATED_SPEED, stats_today
from tests.factories import make_transport, make_unit, make_user

NOON_JST = dt.datetime(2026, 6, 1, 3, 0, tzinfo=dt.UTC)
CALL = NOON_JST - dt.timedelta(hours=1)
MINUTE = dt.timedelta(minutes=1)


def _transport(app: Flask, call_sign: str, speed: float | None = None) -> int:
    tid = make_transport(app, unit_id=make_unit(app, call_sign=call_sign))
    with app.app_context(), get_db(app).session_scope() as s:
        t = s.get(Transport, tid)
        assert t is not None
        t.call_received_at = CALL
        if speed is not None:
            t.arrived_scene_at = CALL + MINUTE
            s.add(
                TransportEvent(
                    transport_id=tid,
                    kind="arrived_scene",
                    at=t.arrived_scene_at,
                    data={SIMULATED_SPEED: speed},
                )
            )
    return tid


def _ask(
    app: Flask,
    tid: int,
    user: int,
    *,
    asked: float,
    answered: float | None,
    decision: InstructionDecision | None = InstructionDecision.INSTRUCTED,
) -> None:
    """A request ``asked`` minutes after the call, answered ``answered`` minutes after it."""
    with app.app_context(), get_db(app).session_scope() as s:
        t = s.get(Transport, tid)
        assert t is not None
        s.add(
            InstructionRequest(
                transport_id=tid,
                unit_id=t.unit_id,
                procedure="iv_fluids",
                status=InstructionStatus.OPEN if answered is None else InstructionStatus.ANSWERED,
                requested_at=CALL + asked * MINUTE,
                requested_by=user,
                answered_at=None if answered is None else CALL + answered * MINUTE,
                answered_by=None if answered is None else user,
                decision=None if answered is None else decision,
            )
        )


def test_instruction_figures_of_the_day(app: Flask) -> None:
    user = make_user(app, role=Role.DISPATCHER)
    a = _transport(app, "A")
    b = _transport(app, "B")
    c = _transport(app, "C")
    # A: asked at 20, instructed at 22; a second procedure asked at 30, instructed at 36.
    _ask(app, a, user, asked=20, answered=22)
    _ask(app, a, user, asked=30, answered=36)
    # B: asked at 10, instructed at 14.
    _ask(app, b, user, asked=10, answered=14)
    # Counted in neither: declined, more information, still open.
    _ask(app, c, user, asked=5, answered=6, decision=InstructionDecision.DECLINED)
    _ask(app, c, user, asked=7, answered=8, decision=InstructionDecision.MORE_INFORMATION)
    _ask(app, c, user, asked=9, answered=None)
    with app.app_context(), get_db(app).session_scope() as s:
        stats = stats_today(session=s, now=NOON_JST)
    assert stats.instructed == 3
    # Call → first instruction: A 22, B 14 (nearest rank).
    assert stats.call_to_instruction_min_p50 == 14.0
    assert stats.call_to_instruction_min_p90 == 22.0
    # Request → instruction: 2, 6, 4.
    assert stats.request_to_instruction_min_p50 == 4.0
    assert stats.request_to_instruction_min_p90 == 6.0
    body = stats.model_dump(mode="json")
    assert body["call_to_instruction_min_p50"] == 14.0


def test_no_instruction_today_has_no_figure(app: Flask) -> None:
    user = make_user(app, role=Role.DISPATCHER)
    tid = _transport(app, "A")
    _ask(app, tid, user, asked=5, answered=6, decision=InstructionDecision.DECLINED)
    with app.app_context(), get_db(app).session_scope() as s:
        # The next day: yesterday's instruction is not today's.
        tomorrow = stats_today(session=s, now=NOON_JST + dt.timedelta(days=1))
        today = stats_today(session=s, now=NOON_JST)
    for stats in (today, tomorrow):
        assert stats.instructed == 0
        assert stats.call_to_instruction_min_p50 is None
        assert stats.request_to_instruction_min_p90 is None


def test_a_fast_simulation_counts_life_like_minutes(app: Flask) -> None:
    user = make_user(app, role=Role.DISPATCHER)
    fast = _transport(app, "FAST", speed=10)
    # At ×10: asked 2 min after the call, instructed 0.5 min later → 25 and 5 in life.
    _ask(app, fast, user, asked=2, answered=2.5)
    with app.app_context(), get_db(app).session_scope() as s:
        stats = stats_today(session=s, now=NOON_JST)
    assert stats.simulated == 1
    assert stats.call_to_instruction_min_p50 == 25.0
    assert stats.request_to_instruction_min_p50 == 5.0
