"""Transports: assigning a unit to an incident, the FDMA timeline, who may see what,
and today's interval figures.

Concurrency: assignment and every timeline step are conditional UPDATEs checked by
their row count. PostgreSQL (read committed) makes the second of two racing
writers wait for the first and then re-evaluate the condition, which no longer
holds; SQLite serialises writers at BEGIN IMMEDIATE. Either way one wins and the
other gets a 409 with nothing written. Rows are locked in one order (unit, then
transport, then incident) so that two requests never wait on each other in a cycle.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections.abc import Sequence
from typing import Any, TypedDict
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, exists, func, or_, select, update
from sqlalchemy.orm import Session, object_session

from ems.access import guard
from ems.access.guard import Context
from ems.access.models import TransportCrew
from ems.access.policy import Action
from ems.audit import service as audit
from ems.auth.models import Role, User
from ems.db import claim_row, utcnow
from ems.errors import Conflict, NotFound, ValidationFailed
from ems.fleet import service as fleet
from ems.fleet.models import Unit, UnitStatus
from ems.hospital_requests.models import HospitalRequest, RequestStatus
from ems.hospitals import service as hospitals
from ems.hospitals.models import BedCategory
from ems.hospitals.schemas import DB_ID_MAX
from ems.incidents import service as incidents
from ems.incidents.models import Incident, IncidentStatus
from ems.instructions.models import InstructionDecision, InstructionRequest
from ems.transports.models import TIMELINE, Transport, TransportEvent, TransportStatus
from ems.transports.schemas import (
    Interval,
    IntervalStats,
    TimelineStep,
    TodayStats,
    TransportRead,
)
from ems_contracts.timeline import TIMELINE_KINDS, TimelineKind

KINDS: tuple[TimelineKind, ...] = TIMELINE_KINDS
COLUMN: dict[str, str] = dict(TIMELINE)
CLOCK_SKEW = dt.timedelta(minutes=1)
BASELINE_CALL_TO_HOSPITAL_MIN = 45.6
# The latest national mean in shared/FIELD.md: FDMA, 2023.
BASELINE_YEAR = 2023
BASELINE_SOURCE = "FDMA"
LOCAL_TZ = ZoneInfo("Asia/Tokyo")

# Timeline steps that move the unit along its status machine.
UNIT_FOLLOWS: dict[str, UnitStatus] = {
    "arrived_scene": UnitStatus.ON_SCENE,
    "departed_scene": UnitStatus.TRANSPORTING,
    "arrived_hospital": UnitStatus.AT_HOSPITAL,
    "handover": UnitStatus.AVAILABLE,
}


def get(*, session: Session, transport_id: int) -> Transport:
    transport = session.get(Transport, transport_id) if 0 < transport_id <= DB_ID_MAX else None
    if transport is None:
        raise NotFound(f"transport {transport_id} does not exist", code="transport_not_found")
    return transport


# --- who sees what -------------------------------------------------------------------------


def _candidates_clause(actor: User) -> ColumnElement[bool] | None:
    """A cheap SQL prefilter: a superset of what the actor may see (None: no filter).
    What is shown is decided by the access policy, row by row, never by this."""
    if actor.role is Role.PARAMEDIC:
        return or_(
            Transport.unit_id == (actor.unit_id or -1),
            exists().where(
                TransportCrew.transport_id == Transport.id, TransportCrew.user_id == actor.id
            ),
        )
    if actor.role is Role.ER_STAFF:
        hospital_id = actor.hospital_id or -1
        return or_(
            Transport.destination_hospital_id == hospital_id,
            exists().where(
                HospitalRequest.transport_id == Transport.id,
                HospitalRequest.hospital_id == hospital_id,
                HospitalRequest.status == RequestStatus.SENT,
            ),
        )
    return None


def list_visible(
    *,
    session: Session,
    actor: User,
    ctx: Context,
    active: bool | None = None,
    current_since: dt.datetime | None = None,
    limit: int = 500,
) -> list[Transport]:
    """The transports ``actor`` may see, newest first. ``current_since``: only those not
    cancelled that arrived at the hospital since then, or (not arrived yet) were called
    in since then: the patients an ER board shows, not last month's."""
    query = select(Transport).order_by(Transport.id.desc()).limit(limit)
    clause = _candidates_clause(actor)
    if clause is not None:
        query = query.where(clause)
    if active is True:
        query = query.where(Transport.status == TransportStatus.ACTIVE)
    elif active is False:
        query = query.where(Transport.status != TransportStatus.ACTIVE)
    if current_since is not None:
        query = query.where(
            Transport.status != TransportStatus.CANCELLED,
            func.coalesce(Transport.arrived_hospital_at, Transport.call_received_at)
            >= current_since,
        )
    rows = session.scalars(query).all()
    return guard.visible(
        session=session, actor=actor, action=Action.TRANSPORT_READ, ctx=ctx, transports=rows
    )


def read(*, session: Session, actor: User, ctx: Context, transport_id: int) -> TransportRead:
    """One transport for someone the rules let see it; the read is audited."""
    transport = get(session=session, transport_id=transport_id)
    guard.require(
        session=session, actor=actor, action=Action.TRANSPORT_READ, ctx=ctx, transport=transport
    )
    audit.record(
        session=session,
        actor=actor,
        action="transport.read",
        target_type="transport",
        target_id=str(transport.id),
        patient_id=transport.patient_id,
    )
    return to_read(transport)


def list_for(
    *,
    session: Session,
    actor: User,
    ctx: Context,
    active: bool | None = None,
    current_hours: int | None = None,
    now: dt.datetime | None = None,
) -> list[TransportRead]:
    """``current_hours``: current patients only (see ``list_visible``), over that many
    hours back from ``now``."""
    since = None
    if current_hours is not None:
        since = (now or utcnow()) - dt.timedelta(hours=current_hours)
    rows = list_visible(session=session, actor=actor, ctx=ctx, active=active, current_since=since)
    speeds = _speeds(session, [t.id for t in rows]) if rows else {}
    return [to_read(t, speed=speeds.get(t.id, 1.0)) for t in rows]


# --- simulated speed -----------------------------------------------------------------------

# A simulated crew running faster than life (the demo's fast mode) says so in the data
# of its timeline steps: ``{SIMULATED_SPEED: 10.0}``. Its intervals are then ten times
# shorter than life; today's figures and the transport's own read scale them back to
# life-like ones with ``life_seconds``.
SIMULATED_SPEED = "simulated_speed"
SIMULATED_SPEED_MAX = 1000.0


def _speed(data: object) -> float:
    raw = data.get(SIMULATED_SPEED) if isinstance(data, dict) else None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return 1.0
    return min(max(float(raw), 1.0), SIMULATED_SPEED_MAX)


def life_seconds(seconds: float, speed: float) -> float:
    """``seconds`` on the clock of a run ``speed`` times faster than life, as life would
    have taken them: the one rule for every figure that undoes the demo's fast mode."""
    return seconds * speed


def _speeds(session: Session, transport_ids: Select[Any] | Sequence[int]) -> dict[int, float]:
    """How much faster than life each transport ran: the crew's first step carries the
    speed of a simulated run (one row per transport); 1.0 for a real one."""
    return {
        tid: _speed(data)
        for tid, data in session.execute(
            select(TransportEvent.transport_id, TransportEvent.data).where(
                TransportEvent.kind == "arrived_scene",
                TransportEvent.transport_id.in_(transport_ids),
            )
        ).all()
    }


def _speed_of(transport: Transport) -> float:
    """One transport's speed, read through the session that loaded it (1.0 for a
    transport no session holds, which has no recorded steps to say otherwise, and for
    one not yet on scene: the speed comes with that step, so there is nothing to ask)."""
    session = object_session(transport)
    if session is None or transport.id is None or transport.arrived_scene_at is None:
        return 1.0
    return _speeds(session, [transport.id]).get(transport.id, 1.0)


# --- reading -------------------------------------------------------------------------------


def _seconds(a: dt.datetime | None, b: dt.datetime | None) -> float | None:
    if a is None or b is None:
        return None
    return (b - a).total_seconds()


def to_read(transport: Transport, *, speed: float | None = None) -> TransportRead:
    """The transport as the API shows it. ``speed``: how much faster than life it ran,
    when the caller has read it already (a list reads all of them in one query)."""
    if speed is None:
        speed = _speed_of(transport)
    stamps = [getattr(transport, col) for _, col in TIMELINE]
    kinds: list[TimelineKind] = list(KINDS)
    spans = [_seconds(stamps[i], stamps[i + 1]) for i in range(len(kinds) - 1)]
    return TransportRead(
        id=transport.id,
        incident_id=transport.incident_id,
        unit_id=transport.unit_id,
        patient_id=transport.patient_id,
        destination_hospital_id=transport.destination_hospital_id,
        bed_category=transport.bed_category,
        status=transport.status,
        created_at=transport.created_at,
        timeline=[TimelineStep(kind=k, at=at) for k, at in zip(kinds, stamps, strict=True)],
        intervals=[
            Interval(
                start=kinds[i],
                end=kinds[i + 1],
                seconds=span,
                life_seconds=life_seconds(span, speed) if span is not None else None,
            )
            for i, span in enumerate(spans)
        ],
        simulated_speed=speed if speed > 1.0 else None,
        call_to_scene_s=_seconds(transport.call_received_at, transport.arrived_scene_at),
        call_to_hospital_s=_seconds(transport.call_received_at, transport.arrived_hospital_at),
    )


def announce(transport: Transport) -> TransportRead:
    """Tell dispatchers, the unit's crew and the destination hospital (if one is set).

    The payload is the transport as ``GET /transports/<id>`` returns it plus
    ``transport_id``: the stream relay listens for ``transport.*`` events on the
    events channel and re-checks at once who may watch that transport, so that a
    re-routed transport cuts the hospital it left without waiting for the periodic
    re-check.
    """
    read = to_read(transport)
    fleet.emit_to_crew(
        "transport.updated",
        {**read.model_dump(mode="json"), "transport_id": read.id},
        unit_id=transport.unit_id,
        destination=transport.destination_hospital_id,
    )
    return read


# --- assignment ----------------------------------------------------------------------------


def assign(*, session: Session, incident_id: int, unit_id: int, actor: User) -> Transport:
    """Dispatch a unit to a pending incident; exactly one of two racing assignments wins."""
    incident = incidents.get(session=session, incident_id=incident_id)
    unit = fleet.get(session=session, unit_id=unit_id)
    if incident.status is not IncidentStatus.PENDING:
        raise Conflict(
            f"incident {incident.id} is {incident.status.value}, not pending",
            code="incident_not_pending",
        )
    if unit.status is not UnitStatus.AVAILABLE:
        raise Conflict(f"unit {unit.call_sign} is {unit.status.value}", code="unit_unavailable")
    now = utcnow()
    # The unit first: its row lock decides the race between two dispatchers.
    fleet.transition(
        session=session, unit=unit, to=UnitStatus.DISPATCHED, lost_code="unit_unavailable", now=now
    )
    if not claim_row(
        session,
        update(Incident)
        .where(Incident.id == incident.id, Incident.status == IncidentStatus.PENDING)
        .values(status=IncidentStatus.ASSIGNED),
    ):
        raise Conflict(
            f"incident {incident.id} was assigned meanwhile", code="incident_not_pending"
        )
    session.refresh(incident)
    transport = Transport(
        incident_id=incident.id,
        unit_id=unit.id,
        status=TransportStatus.ACTIVE,
        call_received_at=incident.received_at,
        dispatched_at=now,
    )
    session.add(transport)
    session.flush()
    unit.current_transport_id = transport.id
    session.add_all(
        [
            TransportEvent(
                transport_id=transport.id,
                kind="call_received",
                at=incident.received_at,
                recorded_by=incident.created_by,
            ),
            TransportEvent(
                transport_id=transport.id, kind="dispatched", at=now, recorded_by=actor.id
            ),
        ]
    )
    session.flush()
    return transport


def _active_transport(session: Session, unit: Unit) -> Transport | None:
    if unit.current_transport_id is None:
        return None
    transport = session.get(Transport, unit.current_transport_id)
    if transport is None or transport.status is not TransportStatus.ACTIVE:
        return None
    return transport


def set_unit_status(
    *, session: Session, unit: Unit, to: UnitStatus, actor: User
) -> Transport | None:
    """A status change by hand. Freeing a unit that works a transport stands the
    transport down: before arrival the incident goes back to the pending queue;
    on scene (nobody to carry) the incident closes. Returns that transport."""
    fleet.check_manual_status(unit=unit, to=to)
    transport = _active_transport(session, unit) if to is UnitStatus.AVAILABLE else None
    was = unit.status
    fleet.transition(session=session, unit=unit, to=to)
    if transport is None:
        return None
    transport.status = TransportStatus.CANCELLED
    incident = session.get(Incident, transport.incident_id)
    if incident is not None and incident.status is IncidentStatus.ASSIGNED:
        incident.status = (
            IncidentStatus.PENDING if was is UnitStatus.DISPATCHED else IncidentStatus.CLOSED
        )
    session.add(
        TransportEvent(
            transport_id=transport.id,
            kind="stood_down",
            at=utcnow(),
            recorded_by=actor.id,
            data={"unit_status_was": was.value},
        )
    )
    session.flush()
    return transport


def cancel_incident(
    *,
    session: Session,
    incident: Incident,
    actor: User,
    stuck_ids: frozenset[int] = frozenset(),
) -> list[Transport]:
    """Cancel a call. A unit still on its way is freed; once a crew is on scene the
    call is theirs to finish, unless its transport is in ``stuck_ids`` (no hospital
    left to ask, no destination: the caller checked). Returns the transports stood
    down."""
    if incident.status not in (IncidentStatus.PENDING, IncidentStatus.ASSIGNED):
        raise Conflict(
            f"incident {incident.id} is already {incident.status.value}",
            code="illegal_transition",
        )
    transports = session.scalars(
        select(Transport).where(
            Transport.incident_id == incident.id, Transport.status == TransportStatus.ACTIVE
        )
    ).all()
    units = [fleet.get(session=session, unit_id=t.unit_id) for t in transports]
    for unit, transport in zip(units, transports, strict=True):
        stuck = transport.id in stuck_ids and unit.status is UnitStatus.ON_SCENE
        if unit.status is not UnitStatus.DISPATCHED and not stuck:
            raise Conflict(
                f"unit {unit.call_sign} is already {unit.status.value}; the crew closes the call",
                code="incident_in_progress",
            )
    for unit, transport in zip(units, transports, strict=True):
        fleet.transition(session=session, unit=unit, to=UnitStatus.AVAILABLE)
        transport.status = TransportStatus.CANCELLED
    seen = incident.status
    if not claim_row(
        session,
        update(Incident)
        .where(Incident.id == incident.id, Incident.status == seen)
        .values(status=IncidentStatus.CANCELLED),
    ):
        raise Conflict(f"incident {incident.id} changed meanwhile; reload", code="incident_changed")
    session.refresh(incident)
    session.flush()
    return list(transports)


# --- the timeline --------------------------------------------------------------------------


def find_replay(
    *, session: Session, transport: Transport, kind: str, key: str | None
) -> TransportEvent | None:
    """The event an earlier request with this idempotency key recorded, if any."""
    if key is None:
        return None
    event = session.scalar(select(TransportEvent).where(TransportEvent.idempotency_key == key))
    if event is None:
        return None
    if event.transport_id != transport.id or event.kind != kind:
        raise Conflict(
            "this idempotency key was used for a different event", code="idempotency_key_reused"
        )
    return event


def record_event(
    *,
    session: Session,
    transport: Transport,
    kind: str,
    at: dt.datetime | None,
    key: str | None,
    data: dict[str, object],
    actor: User,
) -> tuple[TransportEvent, bool]:
    """Set one timeline timestamp, once, in FDMA order. Returns (event, replayed)."""
    replay = find_replay(session=session, transport=transport, kind=kind, key=key)
    if replay is not None:
        return replay, True
    try:
        return _record(session, transport, kind, at, key, data, actor), False
    except Conflict:
        # We lost a race, perhaps to the same tablet replaying this very request
        # (the winner has committed by now, so a fresh read sees its event).
        replay = find_replay(session=session, transport=transport, kind=kind, key=key)
        if replay is not None:
            return replay, True
        raise


def _record(
    session: Session,
    transport: Transport,
    kind: str,
    at: dt.datetime | None,
    key: str | None,
    data: dict[str, object],
    actor: User,
) -> TransportEvent:
    index = KINDS.index(kind)
    column = COLUMN[kind]
    _check_step(transport, kind)
    previous_at: dt.datetime = getattr(transport, COLUMN[KINDS[index - 1]])
    now = utcnow()
    if at is None:
        at = max(now, previous_at)
    if at > now + CLOCK_SKEW:
        raise ValidationFailed("the event lies in the future", code="at_in_future")
    if at < previous_at:
        raise ValidationFailed(
            f"{kind} cannot precede {KINDS[index - 1]} ({previous_at.isoformat()})",
            code="at_before_previous",
        )
    if kind == "arrived_hospital" and transport.destination_hospital_id is None:
        raise Conflict("set the destination hospital first", code="no_destination")

    unit = fleet.get(session=session, unit_id=transport.unit_id)
    follows = UNIT_FOLLOWS.get(kind)
    if follows is not None:
        try:
            fleet.transition(session=session, unit=unit, to=follows, now=min(at, now))
        except Conflict:
            _explain_lost_race(session, transport, kind)
            raise

    col = getattr(Transport, column)
    prev_col = getattr(Transport, COLUMN[KINDS[index - 1]])
    if not claim_row(
        session,
        update(Transport)
        .where(
            Transport.id == transport.id,
            Transport.status == TransportStatus.ACTIVE,
            col.is_(None),
            prev_col.is_not(None),
        )
        .values({column: at}),
    ):
        _explain_lost_race(session, transport, kind)
        raise Conflict(f"transport {transport.id} changed meanwhile; reload", code="conflict")
    session.refresh(transport)
    if kind == "handover":
        transport.status = TransportStatus.COMPLETED
        incident = session.get(Incident, transport.incident_id)
        if incident is not None and incident.status is IncidentStatus.ASSIGNED:
            incident.status = IncidentStatus.CLOSED
    event = TransportEvent(
        transport_id=transport.id,
        kind=kind,
        at=at,
        recorded_by=actor.id,
        idempotency_key=key,
        data=dict(data),
    )
    session.add(event)
    session.flush()
    return event


def _explain_lost_race(session: Session, transport: Transport, kind: str) -> None:
    """Someone changed the transport between our read and our write: say what."""
    session.refresh(transport)
    _check_step(transport, kind)


def _check_step(transport: Transport, kind: str) -> None:
    index = KINDS.index(kind)
    if getattr(transport, COLUMN[kind]) is not None:
        raise Conflict(f"{kind} is already recorded", code="already_recorded")
    if transport.status is not TransportStatus.ACTIVE:
        raise Conflict(
            f"transport {transport.id} is {transport.status.value}", code="transport_closed"
        )
    missing = [k for k in KINDS[:index] if getattr(transport, COLUMN[k]) is None]
    if missing:
        raise Conflict(
            f"{kind} comes after {missing[0]}, which is not recorded yet",
            code="out_of_order",
            extra={"missing": missing},
        )


def set_destination(
    *,
    session: Session,
    transport: Transport,
    hospital_id: int,
    bed_category: BedCategory | None,
) -> None:
    if transport.status is not TransportStatus.ACTIVE:
        raise Conflict(
            f"transport {transport.id} is {transport.status.value}", code="transport_closed"
        )
    if transport.arrived_hospital_at is not None:
        raise Conflict("the unit has already arrived at a hospital", code="already_arrived")
    hospital = hospitals.get(session=session, hospital_id=hospital_id)
    transport.destination_hospital_id = hospital.id
    if bed_category is not None:
        transport.bed_category = bed_category.value
    session.flush()


# --- today's figures -----------------------------------------------------------------------


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    # Nearest rank: the smallest value at or below which the share ``q`` of the runs lie.
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _p90(values: list[float]) -> float | None:
    return _percentile(values, 0.9)


def _rounded(value: float | None) -> float | None:
    return round(value, 2) if value is not None else None


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 2) if values else None


def stats_today(*, session: Session, now: dt.datetime | None = None) -> TodayStats:
    now = now or utcnow()
    local = now.astimezone(LOCAL_TZ)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    end = start + dt.timedelta(days=1)
    today = (
        Transport.call_received_at >= start.astimezone(dt.UTC),
        Transport.call_received_at < end.astimezone(dt.UTC),
    )
    # The status and the timeline's timestamps only, as plain rows: every console
    # polls this, and a busy prefecture's day holds thousands of transports.
    rows = session.execute(
        select(
            Transport.id, Transport.status, *(getattr(Transport, COLUMN[k]) for k in KINDS)
        ).where(*today)
    ).all()
    speeds = _speeds(session, select(Transport.id).where(*today))
    statuses = [r[1] for r in rows]
    counted = [
        (speeds.get(r[0], 1.0), r[2:]) for r in rows if r[1] is not TransportStatus.CANCELLED
    ]

    def minutes(a: int, b: int) -> list[float]:
        spans = ((speed, _seconds(stamps[a], stamps[b])) for speed, stamps in counted)
        return [life_seconds(s, speed) / 60 for speed, s in spans if s is not None]

    hospital = KINDS.index("arrived_hospital")
    to_hospital = minutes(0, hospital)
    mean_hospital = _mean(to_hospital)
    p90 = _p90(to_hospital)
    steps = [minutes(i, i + 1) for i in range(len(KINDS) - 1)]
    return TodayStats(
        date=start.date(),
        timezone=str(LOCAL_TZ),
        transports=len(rows),
        active=statuses.count(TransportStatus.ACTIVE),
        completed=statuses.count(TransportStatus.COMPLETED),
        cancelled=statuses.count(TransportStatus.CANCELLED),
        simulated=sum(1 for speed in speeds.values() if speed > 1.0),
        call_to_scene_min_mean=_mean(minutes(0, KINDS.index("arrived_scene"))),
        call_to_hospital_min_mean=mean_hospital,
        call_to_hospital_min_p90=round(p90, 2) if p90 is not None else None,
        baseline_call_to_hospital_min=BASELINE_CALL_TO_HOSPITAL_MIN,
        baseline_year=BASELINE_YEAR,
        baseline_source=BASELINE_SOURCE,
        vs_baseline_min=round(mean_hospital - BASELINE_CALL_TO_HOSPITAL_MIN, 2)
        if mean_hospital is not None
        else None,
        intervals=[
            IntervalStats(
                start=KINDS[i],
                end=KINDS[i + 1],
                mean_min=_mean(step),
                n=len(step),
            )
            for i, step in enumerate(steps)
        ],
        **_instruction_figures(session, start.astimezone(dt.UTC), end.astimezone(dt.UTC)),
    )


class InstructionFigures(TypedDict):
    instructed: int
    call_to_instruction_min_p50: float | None
    call_to_instruction_min_p90: float | None
    request_to_instruction_min_p50: float | None
    request_to_instruction_min_p90: float | None


def _instruction_figures(
    session: Session, start: dt.datetime, end: dt.datetime
) -> InstructionFigures:
    """The doctor's instruction in today's figures: the requests answered "instructed"
    between ``start`` and ``end``; a transport's call counts once, to its first
    instruction (the issue's "119 call → treatment under a doctor's instruction")."""
    answered_today = (
        InstructionRequest.decision == InstructionDecision.INSTRUCTED,
        InstructionRequest.answered_at >= start,
        InstructionRequest.answered_at < end,
    )
    rows = session.execute(
        select(
            InstructionRequest.transport_id,
            InstructionRequest.requested_at,
            InstructionRequest.answered_at,
            Transport.call_received_at,
        )
        .join(Transport, Transport.id == InstructionRequest.transport_id)
        .where(*answered_today)
    ).all()
    speeds = _speeds(session, select(InstructionRequest.transport_id).where(*answered_today))
    to_request: list[float] = []
    first: dict[int, tuple[dt.datetime, dt.datetime]] = {}
    for tid, requested_at, answered_at, call_at in rows:
        if answered_at is None:  # not answered: the query keeps none of these
            continue
        speed = speeds.get(tid, 1.0)
        asked = _seconds(requested_at, answered_at)
        if asked is not None:
            to_request.append(life_seconds(asked, speed) / 60)
        if tid not in first or answered_at < first[tid][0]:
            first[tid] = (answered_at, call_at)
    to_call = [
        life_seconds(s, speeds.get(tid, 1.0)) / 60
        for tid, (answered_at, call_at) in first.items()
        if (s := _seconds(call_at, answered_at)) is not None
    ]
    return InstructionFigures(
        instructed=len(rows),
        call_to_instruction_min_p50=_rounded(_percentile(to_call, 0.5)),
        call_to_instruction_min_p90=_rounded(_percentile(to_call, 0.9)),
        request_to_instruction_min_p50=_rounded(_percentile(to_request, 0.5)),
        request_to_instruction_min_p90=_rounded(_percentile(to_request, 0.9)),
    )
