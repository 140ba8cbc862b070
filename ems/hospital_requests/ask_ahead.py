"""Early requests ("ask ahead"), whole use cases: the dispatcher asks the likely
hospitals from a time-critical call's information while the unit drives; on scene the
crew confirms the round or withdraws it.

Each checks access through the policy, changes the rows, adds the timeline event,
writes the audit entry and emits the live events (dispatchers, the unit's crew, the
hospitals asked). The round itself is the ordinary one (``service._send_round``):
ranked by the server's own ranking, k from learned acceptance, first accept wins;
its requests are marked ``early``. A withdrawn request is no refusal: the hospital
may be asked again, and it loses the patient as any cancelled request does.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ems.access import guard
from ems.access.guard import Context
from ems.access.policy import Action
from ems.audit.service import record
from ems.auth.models import User
from ems.dispatch import early as early_rules
from ems.dispatch.routing import Router
from ems.errors import Conflict
from ems.events import Event, emit
from ems.fleet import service as fleet
from ems.hospital_requests import service
from ems.hospital_requests.models import EarlyOutcome, HospitalRequest, RequestStatus
from ems.hospital_requests.schemas import AskAheadOutcomeRead, RequestRoundRead
from ems.incidents import service as incidents
from ems.transports import service as transports
from ems.transports.models import Transport, TransportEvent, TransportStatus


def _transport_of_call(session: Session, incident_id: int) -> Transport:
    """The call's transport under way; ask-ahead needs a unit on its way."""
    rows = session.scalars(
        select(Transport).where(Transport.incident_id == incident_id).order_by(Transport.id)
    ).all()
    active = [t for t in rows if t.status is TransportStatus.ACTIVE]
    if active:
        return active[-1]
    if rows:
        raise Conflict("the call's transport has ended", code="transport_closed")
    raise Conflict(
        "assign a unit first: the hospitals are asked while it drives", code="no_unit_assigned"
    )


def ask_ahead(
    *, session: Session, incident_id: int, router: Router, actor: User, ctx: Context
) -> RequestRoundRead:
    """One tap on the console: the round the ranking suggests from the call's place,
    urgency, suspected condition and age, sent now, marked early."""
    incident = incidents.get(session=session, incident_id=incident_id)
    if not actor.on_duty:
        guard.refuse(
            ctx,
            actor=actor,
            action="hospital_request.ask_ahead",
            code="off_duty",
            target_type="incident",
            target_id=str(incident_id),
            detail="off-duty staff cannot change operational data",
        )
    transport = _transport_of_call(session, incident.id)
    guard.require(
        session=session, actor=actor, action=Action.TRANSPORT_WRITE, ctx=ctx, transport=transport
    )
    if not early_rules.is_time_critical(incident.suspected_condition):
        raise Conflict(
            "ask ahead is for suspected stroke, STEMI, cardiac arrest or major trauma",
            code="not_time_critical",
            extra={"time_critical": sorted(early_rules.TIME_CRITICAL)},
        )
    if transport.status is not TransportStatus.ACTIVE:
        raise Conflict("the transport is no longer active", code="transport_closed")
    if transport.destination_hospital_id is not None:
        raise Conflict("a hospital has already accepted this patient", code="already_placed")
    if session.scalar(
        select(HospitalRequest.id).where(HospitalRequest.transport_id == transport.id).limit(1)
    ):
        raise Conflict("hospitals have already been asked for this patient", code="already_asked")
    result = service.send_round(
        session=session, transport=transport, router=router, actor=actor, early=True
    )
    if result is None:
        raise Conflict("no hospital left to ask for this patient", code="no_candidates")
    now = ctx.now()
    session.add(
        TransportEvent(
            transport_id=transport.id,
            kind="ask_ahead",
            at=now,
            recorded_at=now,
            recorded_by=actor.id,
            data={
                "round": result.round,
                "hospitals": [q.hospital_id for q in result.requests],
                "suspected_condition": incident.suspected_condition,
            },
        )
    )
    session.flush()
    emit(
        Event(
            "ask_ahead.sent",
            {
                "incident_id": incident.id,
                "transport_id": transport.id,
                "round": result.round,
                "hospitals": [
                    {"id": q.hospital_id, "name": q.hospital_name, "eta_s": q.eta_s}
                    for q in result.requests
                ],
            },
            roles=service.CREW_ROLES,
            unit_id=transport.unit_id,
        )
    )
    return result


def _pending(session: Session, transport_id: int) -> list[HospitalRequest]:
    return list(
        session.scalars(
            select(HospitalRequest)
            .where(
                HospitalRequest.transport_id == transport_id,
                HospitalRequest.early.is_(True),
                HospitalRequest.early_outcome.is_(None),
            )
            .order_by(HospitalRequest.id)
        ).all()
    )


def _settle(
    *, session: Session, transport_id: int, actor: User, ctx: Context
) -> tuple[Transport, list[HospitalRequest]]:
    """The common start of confirm and withdraw: access, then the transport's state."""
    transport = transports.get(session=session, transport_id=transport_id)
    guard.require(
        session=session, actor=actor, action=Action.TRANSPORT_WRITE, ctx=ctx, transport=transport
    )
    if transport.status is not TransportStatus.ACTIVE:
        raise Conflict("the transport is no longer active", code="transport_closed")
    pending = _pending(session, transport.id)
    if not pending:
        any_early = session.scalar(
            select(HospitalRequest.id)
            .where(HospitalRequest.transport_id == transport.id, HospitalRequest.early.is_(True))
            .limit(1)
        )
        if any_early:
            raise Conflict(
                "the crew has already confirmed or withdrawn the early requests",
                code="ask_ahead_settled",
            )
        raise Conflict("no hospital was asked ahead for this transport", code="no_early_round")
    return transport, pending


def _timeline(
    session: Session,
    transport: Transport,
    actor: User,
    ctx: Context,
    kind: str,
    data: dict[str, object],
) -> None:
    now = ctx.now()
    session.add(
        TransportEvent(
            transport_id=transport.id,
            kind=kind,
            at=now,
            recorded_at=now,
            recorded_by=actor.id,
            data=data,
        )
    )
    session.flush()


def confirm(
    *, session: Session, transport_id: int, actor: User, ctx: Context
) -> AskAheadOutcomeRead:
    """On scene, the crew confirms the call's guess: the early requests stay as they
    are (an accepted one is the destination, as usual), and the hospitals asked are
    told that the patient is what the call said."""
    transport, pending = _settle(session=session, transport_id=transport_id, actor=actor, ctx=ctx)
    for r in pending:
        r.early_outcome = EarlyOutcome.CONFIRMED
    session.flush()
    reads = service.reads(session, pending)
    _timeline(
        session, transport, actor, ctx, "ask_ahead_confirmed", {"requests": [r.id for r in pending]}
    )
    record(
        session=session,
        actor=actor,
        action="hospital_request.ask_ahead_confirm",
        target_type="transport",
        target_id=str(transport.id),
        patient_id=transport.patient_id,
        detail={"requests": [r.id for r in pending]},
    )
    for q in reads:
        if q.status in (RequestStatus.SENT, RequestStatus.ACCEPTED):
            emit(
                Event(
                    "request.early_confirmed",
                    q.model_dump(mode="json"),
                    roles=("er_staff",),
                    hospital_id=q.hospital_id,
                )
            )
    emit(
        Event(
            "ask_ahead.confirmed",
            {"transport_id": transport.id, "requests": [q.id for q in reads]},
            roles=service.CREW_ROLES,
            unit_id=transport.unit_id,
        )
    )
    return AskAheadOutcomeRead(
        transport_id=transport.id,
        outcome=EarlyOutcome.CONFIRMED,
        requests=reads,
        cancelled_request_ids=[],
    )


def withdraw(
    *, session: Session, transport_id: int, actor: User, ctx: Context
) -> AskAheadOutcomeRead:
    """On scene, the call's guess was wrong: every early request still open is
    withdrawn, and one already accepted too (the destination is cleared, until the
    unit has reached that hospital). The hospitals lose the patient at once; the
    crew asks again from what they found."""
    transport, pending = _settle(session=session, transport_id=transport_id, actor=actor, ctx=ctx)
    accepted = [r for r in pending if r.status is RequestStatus.ACCEPTED]
    cleared = bool(accepted) and transport.destination_hospital_id == accepted[0].hospital_id
    if cleared and transport.arrived_hospital_at is not None:
        raise Conflict("the unit has already arrived at a hospital", code="already_arrived")
    now = ctx.now()
    cancelled = [r for r in pending if r.status in (RequestStatus.SENT, RequestStatus.ACCEPTED)]
    for r in pending:
        r.early_outcome = EarlyOutcome.WITHDRAWN
    for r in cancelled:
        r.status = RequestStatus.CANCELLED
        r.responded_at = now
    if cleared:
        # The hospital is told at once, and the bed its accept took is given back.
        service.release_claimed_bed(
            session=session, transport=transport, actor=actor, reason="ask_ahead_withdrawn"
        )
        transport.destination_hospital_id = None
        transport.bed_category = None
    session.flush()
    reads = service.reads(session, pending)
    _timeline(
        session,
        transport,
        actor,
        ctx,
        "ask_ahead_withdrawn",
        {"requests": [r.id for r in pending], "destination_cleared": cleared},
    )
    record(
        session=session,
        actor=actor,
        action="hospital_request.ask_ahead_withdraw",
        target_type="transport",
        target_id=str(transport.id),
        patient_id=transport.patient_id,
        detail={
            "requests": [r.id for r in pending],
            "cancelled": [r.id for r in cancelled],
            "destination_cleared": cleared,
        },
    )
    service.announce_cancelled(cancelled, reason="ask_ahead_withdrawn")
    # The stream relay re-checks who may watch on every transport event: the hospitals
    # withdrawn from are cut now, not at the next periodic check.
    transports.announce(transport)
    if cleared:
        fleet.announce(session=session, unit=fleet.get(session=session, unit_id=transport.unit_id))
    emit(
        Event(
            "ask_ahead.withdrawn",
            {
                "transport_id": transport.id,
                "requests": [q.id for q in reads],
                "cancelled_request_ids": [r.id for r in cancelled],
                "destination_cleared": cleared,
            },
            roles=service.CREW_ROLES,
            unit_id=transport.unit_id,
        )
    )
    return AskAheadOutcomeRead(
        transport_id=transport.id,
        outcome=EarlyOutcome.WITHDRAWN,
        requests=reads,
        cancelled_request_ids=[r.id for r in cancelled],
        destination_cleared=cleared,
    )
