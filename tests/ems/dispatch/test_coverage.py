"""The move-up core (``ems.dispatch.coverage``) on small cases worked by hand."""

from __future__ import annotations

import pytest

from ems.dispatch import coverage
from ems.dispatch.coverage import IdleUnit

# Three posts on a line, each 3 min from "its" town and 20 min from the others.
NEAR, FAR = 180.0, 1200.0
SITE_TO_DEMAND = [[NEAR, FAR, FAR], [FAR, NEAR, FAR], [FAR, FAR, NEAR]]
SITE_TO_SITE = [[0.0, 600.0, 900.0], [600.0, 0.0, 600.0], [900.0, 600.0, 0.0]]
WEIGHTS = [100.0, 10.0, 100.0]  # town 2 is as big as town 0, town 1 small


def test_a_unit_moves_into_the_gap_and_coverage_rises() -> None:
    # Both units stand at post 0: the big town 2 has nobody within 8 min.
    plan = coverage.move_up(
        units=[IdleUnit(7, 0), IdleUnit(8, 0)],
        posts=coverage.Posts(SITE_TO_DEMAND, WEIGHTS, SITE_TO_SITE),
        busy=0.3,
    )
    assert len(plan.moves) == 1  # the second unit stays: town 0 is worth more than town 1
    move = plan.moves[0]
    assert (move.unit_id, move.from_site, move.to_site) == (7, 0, 2)
    assert move.move_s == 900.0
    assert move.before.covered == pytest.approx(100 / 210)
    assert move.after.covered == pytest.approx(200 / 210)
    # MEXCLP by hand: before 100·(1 − 0.3²), after 100·0.7 + 100·0.7, over 210.
    assert move.before.expected == pytest.approx(91 / 210)
    assert move.after.expected == pytest.approx(140 / 210)
    assert plan.after_all == move.after


def test_no_move_when_every_town_is_covered() -> None:
    plan = coverage.move_up(
        units=[IdleUnit(1, 0), IdleUnit(2, 1), IdleUnit(3, 2)],
        posts=coverage.Posts(SITE_TO_DEMAND, [100.0, 100.0, 100.0]),
        busy=0.3,
    )
    assert plan.moves == ()
    assert plan.now.covered == pytest.approx(1.0)


def test_busy_units_make_double_cover_worth_more() -> None:
    # With no unit ever busy a second unit at a covered town adds nothing; with busy
    # units (DMEXCLP) it does, and the small town alone is not worth the move.
    units = [IdleUnit(1, 0), IdleUnit(2, 2), IdleUnit(3, 1)]
    weights = [100.0, 1.0, 100.0]
    idle = coverage.move_up(posts=coverage.Posts(SITE_TO_DEMAND, weights), units=units, busy=0.0)
    assert idle.moves == ()
    busy = coverage.move_up(posts=coverage.Posts(SITE_TO_DEMAND, weights), units=units, busy=0.5)
    assert [(m.unit_id, m.from_site) for m in busy.moves] == [(3, 1)]
    assert busy.moves[0].after.expected > busy.moves[0].before.expected
    assert busy.moves[0].after.covered < busy.moves[0].before.covered


def test_movable_limits_the_units_and_max_moves_the_plan() -> None:
    units = [IdleUnit(1, 0), IdleUnit(2, 0), IdleUnit(3, 0)]
    plan = coverage.move_up(
        units=units,
        posts=coverage.Posts(SITE_TO_DEMAND, [100.0, 100.0, 100.0]),
        busy=0.2,
        movable=frozenset({3}),
    )
    assert [m.unit_id for m in plan.moves] == [3]
    plan = coverage.move_up(
        units=units,
        posts=coverage.Posts(SITE_TO_DEMAND, [100.0, 100.0, 100.0]),
        busy=0.2,
        max_moves=2,
    )
    assert sorted(m.to_site for m in plan.moves) == [1, 2]
    assert plan.after_all.covered == pytest.approx(1.0)


def test_busy_fraction_from_busy_time() -> None:
    assert coverage.busy_fraction(3600, 4, 3600) == pytest.approx(0.25)
    assert coverage.busy_fraction(0, 0, 3600) == 0.0
