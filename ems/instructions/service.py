"""The doctor's instruction, whole use cases: ask, list, answer, alert the fallback.

Each checks access through the policy, changes the rows, adds the timeline event,
writes the audit entry and emits the live events (to the crew, to the MC doctors who
answer for the unit, and to the receiving ER). The services never commit; the
request does. The answer claims the request with a conditional UPDATE, so that of
two doctors answering at once exactly one wins and the other gets 409.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Sequence

from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ems.access import guard
from ems.access.guard import Context
from ems.access.policy import Action
from ems.audit.service import record
from ems.auth.models import Role, User
from ems.db import claim_row, utcnow
from ems.errors import Conflict, NotFound, ValidationFailed
from ems.events import Event, emit
from ems.fleet.models import Unit
from ems.hospitals.schemas import DB_ID_MAX
from ems.instructions import roster
from ems.instructions.models import (
    InstructionDecision,
    InstructionRequest,
    InstructionStatus,
)
from ems.instructions.schemas import InstructionRead
from ems.transports import service as transports
from ems.transports.models import Transport, TransportEvent, TransportStatus

MC = Role.MC_DOCTOR.value
log = logging.getLogger(__name__)


def procedures(configured: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in configured.split(",") if p.strip())


def _get(session: Session, request_id: int) -> InstructionRequest:
    req = session.get(InstructionRequest, request_id) if 0 < request_id <= DB_ID_MAX else None
    if req is None:
        raise NotFound(
            f"instruction request {request_id} does not exist", code="instruction_not_found"
        )
    return req


def _reads(session: Session, reqs: Sequence[InstructionRequest]) -> list[InstructionRead]:
    user_ids = {r.requested_by for r in reqs} | {r.answered_by for r in reqs if r.answered_by}
    names: dict[int, str] = {
        uid: name
        for uid, name in session.execute(
            select(User.id, User.display_name).where(User.id.in_(user_ids))
        )
    }
    signs: dict[int, str] = {
        uid: sign
        for uid, sign in session.execute(
            select(Unit.id, Unit.call_sign).where(Unit.id.in_({r.unit_id for r in reqs}))
        )
    }
    return [
        InstructionRead(
            id=r.id,
            transport_id=r.transport_id,
            unit_id=r.unit_id,
            unit_call_sign=signs.get(r.unit_id, ""),
            procedure=r.procedure,
            note=r.note,
            status=r.status,
            requested_at=r.requested_at,
            requested_by_name=names.get(r.requested_by, ""),
            escalated_at=r.escalated_at,
            answered_at=r.answered_at,
            answered_by_name=names.get(r.answered_by, "") if r.answered_by else "",
            decision=r.decision,
            detail=r.detail,
            answer_s=(r.answered_at - r.requested_at).total_seconds() if r.answered_at else None,
        )
        for r in reqs
    ]


def _announce(
    kind: str, read: InstructionRead, transport: Transport, doctors: frozenset[int] | None
) -> None:
    """The crew and dispatchers, the MC doctors who answer for the unit, the receiving ER."""
    data = read.model_dump(mode="json")
    emit(Event(kind, data, roles=("paramedic", "admin"), unit_id=transport.unit_id))
    emit(
        Event(
            kind,
            data,
            roles=(MC,),
            user_ids=tuple(sorted(doctors)) if doctors is not None else None,
        )
    )
    if transport.destination_hospital_id is not None:
        emit(Event(kind, data, roles=("er_staff",), hospital_id=transport.destination_hospital_id))


def ask(
    *,
    session: Session,
    transport_id: int,
    actor: User,
    ctx: Context,
    procedure: str,
    note: str,
    allowed: Sequence[str],
) -> InstructionRead:
    """The crew asks medical control before a specified procedure."""
    transport = transports.get(session=session, transport_id=transport_id)
    guard.require(
        session=session, actor=actor, action=Action.INSTRUCTION_ASK, ctx=ctx, transport=transport
    )
    if procedure not in allowed:
        raise ValidationFailed(
            f"{procedure!r} is not a specified procedure here ({', '.join(allowed)})",
            code="unknown_procedure",
        )
    if transport.status is not TransportStatus.ACTIVE:
        raise Conflict(
            f"transport {transport.id} is {transport.status.value}", code="transport_closed"
        )
    now = ctx.now()
    req = InstructionRequest(
        transport_id=transport.id,
        unit_id=transport.unit_id,
        procedure=procedure,
        note=note.strip(),
        status=InstructionStatus.OPEN,
        requested_at=now,
        requested_by=actor.id,
    )
    session.add(req)
    session.flush()
    session.add(
        TransportEvent(
            transport_id=transport.id,
            kind="instruction_requested",
            at=now,
            recorded_at=now,
            recorded_by=actor.id,
            data={"instruction_request_id": req.id, "procedure": procedure},
        )
    )
    record(
        session=session,
        actor=actor,
        action="instruction.ask",
        target_type="instruction_request",
        target_id=str(req.id),
        patient_id=transport.patient_id,
        detail={"transport_id": transport.id, "procedure": procedure},
    )
    on_call = roster.on_call(session=session, unit_id=transport.unit_id, now=now)
    (read,) = _reads(session, [req])
    _announce("instruction.requested", read, transport, on_call.first or on_call.everyone)
    return read


def list_requests(
    *,
    session: Session,
    actor: User,
    ctx: Context,
    status: InstructionStatus | None = None,
    transport_id: int | None = None,
    since: dt.datetime | None = None,
) -> list[InstructionRead]:
    """The requests the caller may read, newest first (a list filters, it does not refuse)."""
    query = select(InstructionRequest).order_by(InstructionRequest.requested_at.desc())
    if status is not None:
        query = query.where(InstructionRequest.status == status)
    if transport_id is not None:
        query = query.where(InstructionRequest.transport_id == transport_id)
    if since is not None:
        query = query.where(InstructionRequest.requested_at >= since)
    reqs = session.scalars(query.limit(500)).all()
    rows = session.scalars(
        select(Transport).where(Transport.id.in_({r.transport_id for r in reqs}))
    ).all()
    allowed = {
        t.id
        for t in guard.visible(
            session=session, actor=actor, action=Action.INSTRUCTION_READ, ctx=ctx, transports=rows
        )
    }
    return _reads(session, [r for r in reqs if r.transport_id in allowed])


def for_transport(
    *, session: Session, transport_id: int, actor: User, ctx: Context
) -> list[InstructionRead]:
    transport = transports.get(session=session, transport_id=transport_id)
    guard.require(
        session=session, actor=actor, action=Action.INSTRUCTION_READ, ctx=ctx, transport=transport
    )
    reqs = session.scalars(
        select(InstructionRequest)
        .where(InstructionRequest.transport_id == transport_id)
        .order_by(InstructionRequest.requested_at)
    ).all()
    return _reads(session, reqs)


def answer(
    *,
    session: Session,
    request_id: int,
    actor: User,
    ctx: Context,
    decision: InstructionDecision,
    detail: str,
) -> InstructionRead:
    """The doctor's answer; the first one wins, a second gets 409 instruction_answered."""
    req = _get(session, request_id)
    transport = transports.get(session=session, transport_id=req.transport_id)
    guard.require(
        session=session,
        actor=actor,
        action=Action.INSTRUCTION_ANSWER,
        ctx=ctx,
        transport=transport,
        target_type="instruction_request",
        target_id=str(req.id),
    )
    if transport.status is not TransportStatus.ACTIVE and req.status is InstructionStatus.OPEN:
        raise Conflict(
            f"transport {transport.id} is {transport.status.value}", code="transport_closed"
        )
    now = ctx.now()
    if not claim_row(
        session,
        update(InstructionRequest)
        .where(InstructionRequest.id == req.id, InstructionRequest.status == InstructionStatus.OPEN)
        .values(
            status=InstructionStatus.ANSWERED,
            answered_at=now,
            answered_by=actor.id,
            decision=decision,
            detail=detail.strip(),
        ),
    ):
        raise Conflict("this request has already been answered", code="instruction_answered")
    session.refresh(req)
    session.add(
        TransportEvent(
            transport_id=transport.id,
            kind="instruction_answered",
            at=now,
            recorded_at=now,
            recorded_by=actor.id,
            data={"instruction_request_id": req.id, "decision": decision.value},
        )
    )
    record(
        session=session,
        actor=actor,
        action="instruction.answer",
        target_type="instruction_request",
        target_id=str(req.id),
        patient_id=transport.patient_id,
        detail={"transport_id": transport.id, "decision": decision.value},
    )
    on_call = roster.on_call(session=session, unit_id=transport.unit_id, now=now)
    (read,) = _reads(session, [req])
    _announce("instruction.answered", read, transport, on_call.everyone)
    return read


def alert_fallback(
    *, session: Session, now: dt.datetime, after_s: float, outbox: list[Event] | None = None
) -> list[int]:
    """Alert the fallback doctors of every request left open longer than ``after_s``
    (each once: a conditional UPDATE claims it, whichever server process runs this).
    The alerts go to ``outbox`` when given, for the caller to publish after commit."""
    send = outbox.append if outbox is not None else emit
    due = session.scalars(
        select(InstructionRequest).where(
            InstructionRequest.status == InstructionStatus.OPEN,
            InstructionRequest.escalated_at.is_(None),
            InstructionRequest.requested_at <= now - dt.timedelta(seconds=after_s),
        )
    ).all()
    alerted = []
    for req in due:
        if not claim_row(
            session,
            update(InstructionRequest)
            .where(InstructionRequest.id == req.id, InstructionRequest.escalated_at.is_(None))
            .values(escalated_at=now),
        ):
            continue
        session.refresh(req)
        transport = transports.get(session=session, transport_id=req.transport_id)
        on_call = roster.on_call(session=session, unit_id=req.unit_id, now=now)
        # The fallback on the roster; with none, every MC doctor on duty is alerted again.
        doctors = on_call.fallback or on_call.everyone
        record(
            session=session,
            actor=None,
            action="instruction.fallback_alerted",
            target_type="instruction_request",
            target_id=str(req.id),
            patient_id=transport.patient_id,
            detail={"transport_id": transport.id, "after_s": after_s},
        )
        (read,) = _reads(session, [req])
        send(
            Event(
                "instruction.escalated",
                read.model_dump(mode="json"),
                roles=(MC,),
                user_ids=tuple(sorted(doctors)) if doctors is not None else None,
            )
        )
        send(
            Event(
                "instruction.escalated",
                read.model_dump(mode="json"),
                roles=("paramedic",),
                unit_id=transport.unit_id,
            )
        )
        alerted.append(req.id)
    return alerted


def start_fallback_alerts(app: Flask, *, every_s: float = 5.0) -> threading.Thread:
    """A daemon thread of this server process that alerts fallback doctors every few
    seconds; with several processes the conditional UPDATE keeps each alert single."""
    from ems.db import get_db
    from ems.events import broker

    after_s = float(app.config["MC_FALLBACK_S"])

    def loop() -> None:
        while True:
            time.sleep(every_s)
            try:
                with app.app_context():
                    pending: list[Event] = []
                    with get_db(app).session_scope() as session:
                        alert_fallback(
                            session=session, now=utcnow(), after_s=after_s, outbox=pending
                        )
                    for event in pending:
                        broker().publish(event)
            except Exception:  # a database outage must not end the loop
                log.exception("fallback alerts failed; trying again")

    thread = threading.Thread(target=loop, name="mc-fallback-alerts", daemon=True)
    thread.start()
    return thread
