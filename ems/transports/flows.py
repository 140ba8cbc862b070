"""Use cases of a call's transport, each whole: check access, change state, write the
audit entry, emit the events, in that order and in the caller's transaction.

A dispatcher's click, the optimizer's "apply", the CLI and the simulated users all
call these functions, so none of them can skip the audit entry or leave a tablet
unaware that its unit was sent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ems.access import guard
from ems.access.guard import Context
from ems.access.policy import Action
from ems.audit import service as audit
from ems.auth.models import Role, User
from ems.fleet import service as fleet
from ems.fleet.models import Unit, UnitStatus
from ems.hospital_requests import service as hospital_requests
from ems.hospitals.models import BedCategory
from ems.incidents import service as incidents
from ems.transports import service
from ems.transports.models import Transport, TransportEvent, TransportStatus
from ems.transports.schemas import TransportRead


def require_on_duty(
    *, actor: User, ctx: Context, action: str, target_type: str, target_id: str
) -> None:
    """Off-duty staff may look but not change operational data (refusal audited)."""
    if not actor.on_duty:
        guard.refuse(
            ctx,
            actor=actor,
            action=action,
            code="off_duty",
            target_type=target_type,
            target_id=target_id,
            detail="off-duty staff cannot change operational data",
        )


def dispatch_unit(
    *, session: Session, actor: User, ctx: Context, incident_id: int, unit_id: int
) -> TransportRead:
    """Send a unit to a pending call: the transport, its crew, the audit entry, and the
    events that tell the consoles and the crew's tablet."""
    require_on_duty(
        actor=actor,
        ctx=ctx,
        action="incident.assign",
        target_type="incident",
        target_id=str(incident_id),
    )
    transport = service.assign(
        session=session, incident_id=incident_id, unit_id=unit_id, actor=actor
    )
    crew = session.scalars(
        select(User.id).where(
            User.unit_id == unit_id,
            User.role == Role.PARAMEDIC,
            User.on_duty.is_(True),
            User.active.is_(True),
        )
    ).all()
    for user_id in crew:
        guard.join_crew(session=session, transport_id=transport.id, user_id=user_id)
    # The answer is the new transport: the rule book says who may have it.
    guard.require(
        session=session, actor=actor, action=Action.TRANSPORT_WRITE, ctx=ctx, transport=transport
    )
    audit.record(
        session=session,
        actor=actor,
        action="incident.assign",
        target_type="incident",
        target_id=str(incident_id),
        detail={"unit_id": unit_id, "transport_id": transport.id, "crew": list(crew)},
    )
    incidents.announce(session=session, incident_id=incident_id)
    fleet.announce(session=session, unit=fleet.get(session=session, unit_id=unit_id))
    return service.announce(transport)


def cancel_call(
    *, session: Session, actor: User, ctx: Context, incident_id: int
) -> list[Transport]:
    """Cancel a call; a unit on its way is freed. Once a crew is on scene the call is
    theirs to finish, except when no hospital will take the patient: a transport whose
    requests were all declined, none open and no destination set (the dead end
    ``transport.destination_needed`` announced) may be cancelled too, crew on scene."""
    incident = incidents.get(session=session, incident_id=incident_id)
    require_on_duty(
        actor=actor,
        ctx=ctx,
        action="incident.cancel",
        target_type="incident",
        target_id=str(incident_id),
    )
    active = session.scalars(
        select(Transport).where(
            Transport.incident_id == incident.id, Transport.status == TransportStatus.ACTIVE
        )
    ).all()
    stuck = frozenset(t.id for t in active if hospital_requests.destination_needed(session, t))
    stood_down = service.cancel_incident(
        session=session, incident=incident, actor=actor, stuck_ids=stuck
    )
    for transport in stood_down:
        hospital_requests.release_claimed_bed(
            session=session, transport=transport, actor=actor, reason="call_cancelled"
        )
    audit.record(
        session=session,
        actor=actor,
        action="incident.cancel",
        target_type="incident",
        target_id=str(incident.id),
        detail={
            "stood_down_transports": [t.id for t in stood_down],
            "without_destination": sorted(stuck),
        },
    )
    for transport in stood_down:
        service.announce(transport)
        fleet.announce(session=session, unit=fleet.get(session=session, unit_id=transport.unit_id))
    incidents.announce(session=session, incident_id=incident.id)
    return stood_down


@dataclass(frozen=True)
class StepResult:
    event: TransportEvent
    transport: Transport
    replayed: bool


def record_step(
    *,
    session: Session,
    actor: User,
    ctx: Context,
    transport_id: int,
    kind: str,
    at: dt.datetime | None,
    key: str | None,
    data: dict[str, object],
) -> StepResult:
    """One FDMA timeline step, exactly once per idempotency key."""
    transport = service.get(session=session, transport_id=transport_id)
    # A replay of an event already on record changes nothing, so the end of a shift
    # (or of the transport) does not strand a tablet's offline queue.
    replay = service.find_replay(session=session, transport=transport, kind=kind, key=key)
    action = Action.TRANSPORT_REPLAY if replay is not None else Action.TRANSPORT_WRITE
    guard.require(
        session=session,
        actor=actor,
        action=action,
        ctx=ctx,
        transport=transport,
    )
    if replay is not None:
        return StepResult(replay, transport, True)
    event, replayed = service.record_event(
        session=session, transport=transport, kind=kind, at=at, key=key, data=data, actor=actor
    )
    if replayed:
        return StepResult(event, transport, True)
    audit.record(
        session=session,
        actor=actor,
        action="transport.event",
        target_type="transport",
        target_id=str(transport.id),
        patient_id=transport.patient_id,
        detail={"kind": kind, "at": event.at.isoformat()},
    )
    service.announce(transport)
    if kind in service.UNIT_FOLLOWS:
        fleet.announce(session=session, unit=fleet.get(session=session, unit_id=transport.unit_id))
    if kind == "handover":
        incidents.announce(session=session, incident_id=transport.incident_id)
    return StepResult(event, transport, False)


def change_destination(
    *,
    session: Session,
    actor: User,
    ctx: Context,
    transport_id: int,
    hospital_id: int,
    bed_category: BedCategory | None,
) -> TransportRead:
    """Set where the patient goes, by hand (a hospital that said yes by phone, or any
    hospital once none is left to ask): the requests still open are withdrawn, and the
    hospital left loses its access at once. "Arrived at hospital" can follow."""
    transport = service.get(session=session, transport_id=transport_id)
    guard.require(
        session=session, actor=actor, action=Action.TRANSPORT_WRITE, ctx=ctx, transport=transport
    )
    before = transport.destination_hospital_id
    was_needed = hospital_requests.destination_needed(session, transport)
    service.set_destination(
        session=session, transport=transport, hospital_id=hospital_id, bed_category=bed_category
    )
    if before is not None and before != hospital_id:
        # The hospital that accepted loses the patient: the bed its accept took is back.
        hospital_requests.release_claimed_bed(
            session=session, transport=transport, actor=actor, reason="destination_changed"
        )
    withdrawn = hospital_requests.withdraw_open(
        session=session, transport=transport, reason="destination_set"
    )
    audit.record(
        session=session,
        actor=actor,
        action="transport.destination",
        target_type="transport",
        target_id=str(transport.id),
        patient_id=transport.patient_id,
        detail={
            "from": before,
            "to": transport.destination_hospital_id,
            "by_role": actor.role.value,
            "after_all_declined": was_needed,
            "withdrawn_requests": withdrawn,
        },
    )
    fleet.announce(session=session, unit=fleet.get(session=session, unit_id=transport.unit_id))
    return service.announce(transport)


def change_unit_status(
    *, session: Session, actor: User, ctx: Context, unit_id: int, to: UnitStatus
) -> Unit:
    """A status change by hand; freeing a working unit stands its transport down."""
    unit = fleet.get(session=session, unit_id=unit_id)
    check_acts_for_unit(actor=actor, ctx=ctx, unit_id=unit.id, action="unit.status")
    was = unit.status
    stood_down = service.set_unit_status(session=session, unit=unit, to=to, actor=actor)
    if stood_down is not None:
        hospital_requests.release_claimed_bed(
            session=session, transport=stood_down, actor=actor, reason="stood_down"
        )
    audit.record(
        session=session,
        actor=actor,
        action="unit.status",
        target_type="unit",
        target_id=str(unit.id),
        detail={
            "from": was.value,
            "to": unit.status.value,
            "stood_down_transport": stood_down.id if stood_down else None,
        },
    )
    if stood_down is not None:
        service.announce(stood_down)
        incidents.announce(session=session, incident_id=stood_down.incident_id)
    fleet.announce(session=session, unit=unit)
    return unit


def check_acts_for_unit(*, actor: User, ctx: Context, unit_id: int, action: str) -> None:
    """A paramedic acts only for their own unit, on duty; dispatchers for any, on duty."""
    code = ""
    if actor.role is Role.PARAMEDIC and actor.unit_id != unit_id:
        code = "not_your_unit"
    elif not actor.on_duty:
        code = "off_duty"
    if code:
        guard.refuse(
            ctx, actor=actor, action=action, code=code, target_type="unit", target_id=str(unit_id)
        )
