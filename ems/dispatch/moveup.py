"""Move-up use cases: suggest moving idle units into coverage gaps, and apply one.

The suggestions come from the pure ``coverage.move_up`` (the simulation's move-up lever
calls the same function) on the available units, the stations as posts and the
region's towns as demand, with road times from the router (straight line only as the
router's labelled fallback). Applying one posts the unit at the station
(``Unit.post_station_id``; it stays available there): access checked, state changed,
audit entry written and ``unit.updated`` announced to the consoles and the crew.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ems.access import guard
from ems.access.guard import Context
from ems.audit.service import record
from ems.auth.models import Role, User
from ems.db import utcnow
from ems.dispatch import coverage
from ems.dispatch.routing import STRAIGHT_LINE, VALHALLA, Router
from ems.dispatch.schemas import (
    CoverageRead,
    MoveUpAppliedRead,
    MoveUpApply,
    MoveUpRead,
    MoveUpSuggestionRead,
)
from ems.errors import Conflict, NotFound
from ems.fleet import service as fleet
from ems.fleet.models import Station, Unit, UnitStatus
from ems.transports import flows as transport_flows
from ems.transports.models import Transport, TransportStatus

# The busy fraction (DMEXCLP's q) is the unit time spent on transports over the last day.
BUSY_WINDOW = dt.timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class DemandPoint:
    """Where calls come from: a town and its population (the region pack's towns)."""

    lat: float
    lon: float
    weight: float


@dataclass(frozen=True)
class _World:
    stations: list[Station]
    idle: list[Unit]
    posts: coverage.Posts
    busy: float
    basis: str
    demand: str
    source: str

    def site(self, unit: Unit) -> int:
        return next(i for i, s in enumerate(self.stations) if s.id == unit.base.id)


def basis_of(units: Sequence[Unit]) -> str:
    """A short name for the idle units and where each waits."""
    text = ";".join(f"{u.id}@{u.base.id}" for u in sorted(units, key=lambda u: u.id))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def busy_fraction(*, session: Session, units: int, now: dt.datetime) -> float:
    """Unit time spent on transports (dispatch → handover) over the last day."""
    start = now - BUSY_WINDOW
    rows = session.execute(
        select(Transport.dispatched_at, Transport.handover_at, Transport.status).where(
            Transport.dispatched_at.is_not(None),
            Transport.dispatched_at < now,
            or_(Transport.handover_at.is_(None), Transport.handover_at > start),
        )
    ).all()
    busy_s = 0.0
    for began, ended, status in rows:
        if began is None:
            continue
        # A transport cancelled without a handover has no end on record: not counted.
        end = ended if ended is not None else now if status is TransportStatus.ACTIVE else began
        busy_s += max(0.0, (min(end, now) - max(began, start)).total_seconds())
    return coverage.busy_fraction(busy_s, units, BUSY_WINDOW.total_seconds())


def _world(*, session: Session, router: Router, demand: Sequence[DemandPoint]) -> _World:
    stations = list(session.scalars(select(Station).order_by(Station.id)).all())
    units = list(fleet.list_all(session=session))
    idle = [u for u in units if u.status is UnitStatus.AVAILABLE]
    in_service = sum(u.status is not UnitStatus.OUT_OF_SERVICE for u in units)
    points = [(s.lat, s.lon) for s in stations]
    kind = "towns"
    if not demand:  # a region without towns: every station counts alike
        demand = [DemandPoint(s.lat, s.lon, 1.0) for s in stations]
        kind = "stations"
    to_demand = router.matrix(points, [(d.lat, d.lon) for d in demand]) if points else []
    between = router.matrix(points, points) if points else []
    straight = any(t.source == STRAIGHT_LINE for row in to_demand for t in row)
    posts = coverage.Posts(
        site_to_demand_s=[[t.seconds for t in row] for row in to_demand],
        demand_weights=[d.weight for d in demand],
        site_to_site_s=[[t.seconds for t in row] for row in between],
    )
    return _World(
        stations=stations,
        idle=idle,
        posts=posts,
        busy=busy_fraction(session=session, units=in_service, now=utcnow()),
        basis=basis_of(idle),
        demand=kind,
        source=STRAIGHT_LINE if straight or not points else VALHALLA,
    )


def _plan(world: _World) -> coverage.MoveUpPlan:
    return coverage.move_up(
        posts=world.posts,
        units=[coverage.IdleUnit(u.id, world.site(u)) for u in world.idle],
        busy=world.busy,
    )


def _cov(c: coverage.Coverage) -> CoverageRead:
    return CoverageRead(covered=round(c.covered, 4), expected=round(c.expected, 4))


def suggestions(*, session: Session, router: Router, demand: Sequence[DemandPoint]) -> MoveUpRead:
    """Moves of idle units into coverage gaps, best first, each with the coverage it
    gains. A read of the fleet, refreshed on every unit event: not audited."""
    world = _world(session=session, router=router, demand=demand)
    plan = _plan(world)
    by_id = {u.id: u for u in world.idle}
    rows = []
    for m in plan.moves:
        unit, src, dst = by_id[m.unit_id], world.stations[m.from_site], world.stations[m.to_site]
        rows.append(
            MoveUpSuggestionRead(
                unit_id=unit.id,
                call_sign=unit.call_sign,
                from_station_id=src.id,
                from_station_name=src.name,
                to_station_id=dst.id,
                to_station_name=dst.name,
                drive_s=None if m.move_s is None else round(m.move_s),
                before=_cov(m.before),
                after=_cov(m.after),
            )
        )
    return MoveUpRead(
        basis=world.basis,
        suggestions=rows,
        coverage=_cov(plan.now),
        coverage_after_all=_cov(plan.after_all),
        busy_fraction=round(plan.busy_fraction, 4),
        threshold_s=round(plan.threshold_s),
        idle_units=len(world.idle),
        demand=world.demand,
        source=world.source,
    )


def apply(
    *,
    session: Session,
    router: Router,
    actor: User,
    ctx: Context,
    demand: Sequence[DemandPoint],
    body: MoveUpApply,
) -> MoveUpAppliedRead:
    """Post an idle unit at the station a current suggestion names."""
    target = str(body.unit_id)
    transport_flows.require_on_duty(
        actor=actor, ctx=ctx, action="dispatch.move_up", target_type="unit", target_id=target
    )
    if actor.role is not Role.DISPATCHER:
        # The rule is the endpoint's too; a second caller of this use case keeps it.
        guard.refuse(
            ctx, actor=actor, action="dispatch.move_up", code="role_forbidden",
            target_type="unit", target_id=target,
        )  # fmt: skip
    unit = fleet.get(session=session, unit_id=body.unit_id)
    if unit.status is not UnitStatus.AVAILABLE:
        raise Conflict(
            f"unit {unit.call_sign} is {unit.status.value}: only an available unit moves up",
            code="unit_not_idle",
            extra={"status": unit.status.value},
        )
    station = session.get(Station, body.station_id)
    if station is None:
        raise NotFound(f"station {body.station_id} does not exist", code="station_not_found")
    world = _world(session=session, router=router, demand=demand)
    move = next(
        (
            m
            for m in _plan(world).moves
            if m.unit_id == unit.id and world.stations[m.to_site].id == station.id
        ),
        None,
    )
    if world.basis != body.basis or move is None:
        raise Conflict(
            "the units moved or changed status since this suggestion: reload the suggestions",
            code="stale_suggestion",
        )
    was = unit.base.id
    post = None if station.id == unit.station_id else station.id
    result = session.execute(
        update(Unit)
        .where(
            Unit.id == unit.id,
            Unit.status == UnitStatus.AVAILABLE,
            Unit.post_station_id == unit.post_station_id
            if unit.post_station_id is not None
            else Unit.post_station_id.is_(None),
        )
        .values(post_station_id=post, posted_at=None if post is None else utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"unit {unit.call_sign} changed meanwhile; reload", code="stale_suggestion")
    session.refresh(unit)
    record(
        session=session,
        actor=actor,
        action="dispatch.move_up",
        target_type="unit",
        target_id=target,
        detail={
            "from_station": was,
            "to_station": station.id,
            "covered": [round(move.before.covered, 4), round(move.after.covered, 4)],
            "expected": [round(move.before.expected, 4), round(move.after.expected, 4)],
            "busy_fraction": round(world.busy, 4),
        },
    )
    fleet.announce(session=session, unit=unit)
    return MoveUpAppliedRead(
        unit_id=unit.id,
        call_sign=unit.call_sign,
        post_station_id=unit.post_station_id,
        to_station_id=station.id,
        to_station_name=station.name,
        before=_cov(move.before),
        after=_cov(move.after),
    )
