"""Asking the rule book: what every view, use case, the event stream, the relay and
the CLI call before they touch patient or caller data.

``require`` asks ``policy.decide``, records the principal on the crew when the rule
says they join it, and on a refusal writes the audit entry (through the context's
sink, so that it survives the rollback of the refused request) and raises
``AccessDenied``: a 403 with the rule's code. This is the one place refusals are
audited.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ems.access import facts
from ems.access.models import TransportCrew
from ems.access.policy import (
    Action,
    Decision,
    Principal,
    RequestFacts,
    Situation,
    TransportFacts,
    decide,
)
from ems.auth.models import User
from ems.db import upsert_insert, utcnow
from ems.errors import Forbidden
from ems.hospital_requests.models import HospitalRequest
from ems.transports.models import Transport

DEFAULT_GRACE_S = 6 * 3600


@dataclass(frozen=True)
class Denial:
    actor_id: int | None
    action: str
    code: str
    target_type: str
    target_id: str
    patient_id: int | None
    detail: dict[str, Any]


DenialSink = Callable[[Denial], None]


@dataclass(frozen=True)
class Context:
    """Where a use case runs: its clock, the record grace, and where refusals go.

    Views build it from the request (``ems.access.web.context``); the CLI and the relay
    build their own. Services receive it and never read ``flask.g`` or ``request``.
    """

    grace_s: float = DEFAULT_GRACE_S
    on_denial: DenialSink | None = None
    now_fn: Callable[[], dt.datetime] = utcnow
    extra: dict[str, Any] = field(default_factory=dict)

    def now(self) -> dt.datetime:
        return self.now_fn()


class AccessDenied(Forbidden):
    """Refused by the rule book (403, with the rule's code)."""

    def __init__(self, detail: str, *, code: str, patient_id: int | None = None) -> None:
        super().__init__(detail, code=code)
        self.patient_id = patient_id


_DETAIL = {
    "not_your_unit": "this transport belongs to another unit's crew",
    "not_your_hospital": "this patient is not addressed to your hospital",
    "not_transport_crew": "only the transport's crew may identify its patient",
    "off_duty": "off-duty staff cannot do this",
    "crew_access_ended": "the crew's access ended with the handover and its grace period",
    "record_forbidden": "your role may not read medical records",
    "break_glass_required": "an administrator reads a record only by break-glass, with a reason",
    "caller_forbidden": "the caller's details are for dispatchers and the crew",
    "transport_ended": "this transport has ended",
    "record_grace_expired": "the transport ended too long ago",
    "role_forbidden": "your role may not do this",
    "not_yours": "this call is not addressed to you",
}


def principal(actor: User | Principal) -> Principal:
    return actor if isinstance(actor, Principal) else Principal.of(actor)


def situation(
    ctx: Context,
    *,
    transport: TransportFacts | None = None,
    request: RequestFacts | None = None,
) -> Situation:
    return Situation(now=ctx.now(), grace_s=ctx.grace_s, transport=transport, request=request)


def ask(
    *,
    session: Session,
    actor: User | Principal,
    action: Action,
    ctx: Context,
    transport: Transport | TransportFacts | None = None,
    request: HospitalRequest | RequestFacts | None = None,
) -> Decision:
    """The decision, with no side effect but recording a joining crew member."""
    who = principal(actor)
    t = _transport_facts(session, transport)
    r = _request_facts(session, request)
    decision = decide(who, action, situation(ctx, transport=t, request=r))
    if decision.joins_crew and t is not None:
        join_crew(session=session, transport_id=t.transport_id, user_id=who.user_id)
    return decision


def require(
    *,
    session: Session,
    actor: User | Principal,
    action: Action,
    ctx: Context,
    transport: Transport | TransportFacts | None = None,
    request: HospitalRequest | RequestFacts | None = None,
    target_type: str = "",
    target_id: str = "",
) -> None:
    """Go on, or raise ``AccessDenied`` after noting the refusal for the audit log."""
    t = _transport_facts(session, transport)
    r = _request_facts(session, request)
    decision = ask(session=session, actor=actor, action=action, ctx=ctx, transport=t, request=r)
    if decision:
        return
    facts_t = t if t is not None else (r.transport if r is not None else None)
    if not target_type:
        if r is not None:
            target_type, target_id = "hospital_request", str(r.request_id)
        elif facts_t is not None:
            target_type, target_id = "transport", str(facts_t.transport_id)
    patient_id = facts_t.patient_id if facts_t is not None else None
    refuse(
        ctx,
        actor=actor,
        action=action,
        code=decision.code,
        target_type=target_type,
        target_id=target_id,
        patient_id=patient_id,
    )


def refuse(
    ctx: Context,
    *,
    actor: User | Principal | None,
    action: Action | str,
    code: str,
    target_type: str = "",
    target_id: str = "",
    patient_id: int | None = None,
    detail: str = "",
) -> None:
    """Note a refusal in the audit log (after the rollback) and raise it."""
    if ctx.on_denial is not None:
        ctx.on_denial(
            Denial(
                actor_id=_actor_id(actor),
                action=str(action),
                code=code,
                target_type=target_type,
                target_id=target_id,
                patient_id=patient_id,
                detail={"code": code},
            )
        )
    raise AccessDenied(detail or _DETAIL.get(code, "refused"), code=code, patient_id=patient_id)


def _actor_id(actor: User | Principal | None) -> int | None:
    if actor is None:
        return None
    return actor.user_id if isinstance(actor, Principal) else actor.id


def visible(
    *,
    session: Session,
    actor: User | Principal,
    action: Action,
    ctx: Context,
    transports: Sequence[Transport],
) -> list[Transport]:
    """The transports of ``transports`` the actor may ``action`` now (lists filter
    silently: a list shows what is yours, it does not refuse)."""
    who = principal(actor)
    known = facts.many_transport_facts(session=session, transports=transports)
    out = []
    for t in transports:
        d = decide(who, action, situation(ctx, transport=known[t.id]))
        if d:
            if d.joins_crew:
                join_crew(session=session, transport_id=t.id, user_id=who.user_id)
            out.append(t)
    return out


def visible_requests(
    *,
    session: Session,
    actor: User | Principal,
    ctx: Context,
    requests: Sequence[HospitalRequest],
) -> list[HospitalRequest]:
    who = principal(actor)
    known = facts.many_request_facts(session=session, requests=requests)
    return [
        r for r in requests if decide(who, Action.REQUEST_READ, situation(ctx, request=known[r.id]))
    ]


def join_crew(*, session: Session, transport_id: int, user_id: int) -> None:
    """Record a paramedic on a transport's crew, once (a racing second insert is ignored)."""
    exists = session.scalar(
        select(TransportCrew.user_id).where(
            TransportCrew.transport_id == transport_id, TransportCrew.user_id == user_id
        )
    )
    if exists is not None:
        return
    values = {"transport_id": transport_id, "user_id": user_id, "joined_at": utcnow()}
    session.execute(upsert_insert(session, TransportCrew).values(values).on_conflict_do_nothing())


def _transport_facts(
    session: Session, transport: Transport | TransportFacts | None
) -> TransportFacts | None:
    if transport is None or isinstance(transport, TransportFacts):
        return transport
    return facts.transport_facts(session=session, transport=transport)


def _request_facts(
    session: Session, request: HospitalRequest | RequestFacts | None
) -> RequestFacts | None:
    if request is None or isinstance(request, RequestFacts):
        return request
    return facts.request_facts(session=session, request=request)
