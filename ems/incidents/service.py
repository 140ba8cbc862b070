"""119 calls: recording them, listing them, reading them back.

Assignment and cancellation touch units and transports too; they live in
``ems.transports.service`` beside the timeline they start and stop.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ems.access import facts, guard
from ems.access.guard import Context
from ems.access.policy import Action
from ems.audit import service as audit
from ems.auth.models import User
from ems.db import utcnow
from ems.errors import NotFound, ValidationFailed
from ems.events import Event, emit
from ems.hospitals.schemas import DB_ID_MAX
from ems.incidents.models import Condition, Incident, IncidentStatus
from ems.incidents.schemas import IncidentCreate, IncidentRead, Sex
from ems.transports.models import Transport, TransportStatus

CLOCK_SKEW = dt.timedelta(minutes=1)


def get(*, session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id) if 0 < incident_id <= DB_ID_MAX else None
    if incident is None:
        raise NotFound(f"incident {incident_id} does not exist", code="incident_not_found")
    return incident


def create(*, session: Session, data: IncidentCreate, actor: User) -> Incident:
    now = utcnow()
    received_at = data.received_at or now
    if received_at > now + CLOCK_SKEW:
        raise ValidationFailed("received_at lies in the future", code="received_at_in_future")
    incident = Incident(
        received_at=received_at,
        lat=data.lat,
        lon=data.lon,
        address=data.address,
        caller_name=data.caller_name,
        caller_phone=data.caller_phone,
        caller_account=data.caller_account,
        chief_complaint=data.chief_complaint,
        suspected_condition=data.suspected_condition.value if data.suspected_condition else "",
        urgency=data.urgency,
        patient_age=data.patient_age,
        patient_sex=data.patient_sex or "",
        status=IncidentStatus.PENDING,
        created_by=actor.id,
    )
    session.add(incident)
    session.flush()
    return incident


def list_all(
    *, session: Session, status: IncidentStatus | None = None, limit: int = 500
) -> Sequence[Incident]:
    query = select(Incident).order_by(Incident.received_at.desc(), Incident.id.desc()).limit(limit)
    if status is not None:
        query = query.where(Incident.status == status)
    return session.scalars(query).all()


def _condition(value: str) -> Condition | None:
    try:
        return Condition(value)
    except ValueError:
        return None  # unknown ("") or a value from before the vocabulary


_SEXES: dict[str, Sex] = {"female": "female", "male": "male", "unknown": "unknown"}


def _sex(value: str) -> Sex | None:
    return _SEXES.get(value)


def to_read(*, session: Session, incidents: Sequence[Incident]) -> list[IncidentRead]:
    ids = [i.id for i in incidents]
    latest: dict[int, int] = {}
    if ids:
        rows = session.execute(
            select(Transport.incident_id, Transport.id)
            .where(Transport.incident_id.in_(ids))
            .order_by(Transport.id)
        ).all()
        latest = {incident_id: transport_id for incident_id, transport_id in rows}
    return [
        IncidentRead(
            id=i.id,
            received_at=i.received_at,
            lat=i.lat,
            lon=i.lon,
            address=i.address,
            caller_name=i.caller_name,
            caller_phone=i.caller_phone,
            caller_account=i.caller_account,
            chief_complaint=i.chief_complaint,
            suspected_condition=_condition(i.suspected_condition),
            urgency=i.urgency,
            patient_age=i.patient_age,
            patient_sex=_sex(i.patient_sex),
            status=i.status,
            created_by=i.created_by,
            transport_id=latest.get(i.id),
        )
        for i in incidents
    ]


def announce(*, session: Session, incident_id: int, kind: str = "incident.updated") -> IncidentRead:
    """Dispatchers see every call; the crew working it sees it too."""
    incident = get(session=session, incident_id=incident_id)
    read = to_read(session=session, incidents=[incident])[0]
    unit_id = session.scalar(
        select(Transport.unit_id).where(
            Transport.incident_id == incident.id, Transport.status == TransportStatus.ACTIVE
        )
    )
    roles: tuple[str, ...] = ("dispatcher", "admin")
    if unit_id is not None:
        roles += ("paramedic",)
    emit(Event(kind, read.model_dump(mode="json"), roles=roles, unit_id=unit_id))
    return read


# --- use cases -----------------------------------------------------------------------------


def record_call(
    *, session: Session, actor: User, ctx: Context, data: IncidentCreate
) -> IncidentRead:
    """A 119 call taken by an on-duty dispatcher, audited and announced."""
    if not actor.on_duty:
        guard.refuse(
            ctx,
            actor=actor,
            action="incident.create",
            code="off_duty",
            target_type="incident",
            detail="off-duty staff cannot change operational data",
        )
    incident = create(session=session, data=data, actor=actor)
    audit.record(
        session=session,
        actor=actor,
        action="incident.create",
        target_type="incident",
        target_id=str(incident.id),
    )
    announce(session=session, incident_id=incident.id, kind="incident.created")
    return reads_for(session=session, actor=actor, ctx=ctx, incidents=[incident])[0]


def list_calls(
    *, session: Session, actor: User, ctx: Context, status: IncidentStatus | None
) -> list[IncidentRead]:
    """The call list (dispatchers): every look is on record, for it holds what callers said."""
    rows = list_all(session=session, status=status)
    reads = reads_for(session=session, actor=actor, ctx=ctx, incidents=rows)
    audit.record(
        session=session,
        actor=actor,
        action="incident.list",
        target_type="incident",
        detail={"status": status.value if status else None, "count": len(rows)},
    )
    return reads


def read_call(*, session: Session, actor: User, ctx: Context, incident_id: int) -> IncidentRead:
    """One call, for whoever the rules let read one of its transports (or any call)."""
    incident = get(session=session, incident_id=incident_id)
    if not guard.ask(session=session, actor=actor, action=Action.INCIDENT_READ, ctx=ctx):
        transports = session.scalars(
            select(Transport).where(Transport.incident_id == incident.id).order_by(Transport.id)
        ).all()
        known = facts.many_transport_facts(session=session, transports=transports)
        decisions = [
            guard.ask(
                session=session, actor=actor, action=Action.INCIDENT_READ, ctx=ctx, transport=f
            )
            for f in known.values()
        ]
        if not any(decisions):
            # One code whatever the reason: the call's transports are not the caller's.
            guard.refuse(
                ctx,
                actor=actor,
                action=Action.INCIDENT_READ,
                code="not_yours",
                target_type="incident",
                target_id=str(incident_id),
                detail="this call is not addressed to you",
            )
    audit.record(
        session=session,
        actor=actor,
        action="incident.read",
        target_type="incident",
        target_id=str(incident.id),
    )
    return reads_for(session=session, actor=actor, ctx=ctx, incidents=[incident])[0]


def reads_for(
    *, session: Session, actor: User, ctx: Context, incidents: Sequence[Incident]
) -> list[IncidentRead]:
    """The reads, with the caller's name, phone and words left out for whoever the
    rules keep them from (an ER learns the patient, not who called)."""
    reads = to_read(session=session, incidents=incidents)
    if not reads:
        return reads
    if guard.ask(session=session, actor=actor, action=Action.INCIDENT_CALLER, ctx=ctx):
        return reads
    out = []
    transports = facts.facts_by_id(
        session=session, transport_ids=[r.transport_id for r in reads if r.transport_id]
    )
    for r in reads:
        f = transports.get(r.transport_id) if r.transport_id else None
        allowed = f is not None and guard.ask(
            session=session, actor=actor, action=Action.INCIDENT_CALLER, ctx=ctx, transport=f
        )
        out.append(r if allowed else r.model_copy(update=REDACTED_CALLER))
    return out


REDACTED_CALLER = {"caller_name": "", "caller_phone": "", "caller_account": ""}
