"""Refusals of the current HTTP request, kept until its rollback and then written.

A refused request rolls back everything it wrote; its refusals are noted here (on
``flask.g``) and the error handler writes them afterwards, in a transaction of their
own (``flush_denials``), so that a refusal is never lost. Outside a request (CLI,
relay) ``ems.audit.service.write_denial`` writes into the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import g
from sqlalchemy.orm import Session

from ems.audit import service
from ems.auth.models import User

_PENDING = "pending_denials"


@dataclass
class PendingDenial:
    actor_id: int | None
    action: str
    target_type: str
    target_id: str
    patient_id: int | None
    detail: dict[str, Any]


def deny(
    *,
    actor: User | None,
    action: str,
    code: str,
    target_type: str = "",
    target_id: str = "",
    patient_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Note a refused action; the error handler writes it after the rollback."""
    deny_raw(
        actor_id=actor.id if actor else None,
        action=action,
        code=code,
        target_type=target_type,
        target_id=target_id,
        patient_id=patient_id,
        detail=detail,
    )


def deny_raw(
    *,
    actor_id: int | None,
    action: str,
    code: str,
    target_type: str = "",
    target_id: str = "",
    patient_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """``deny`` by the actor's id (the access guard knows principals, not rows)."""
    pending: list[PendingDenial] = g.setdefault(_PENDING, [])
    pending.append(
        PendingDenial(
            actor_id=actor_id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            patient_id=patient_id,
            detail={"code": code, **(detail or {})},
        )
    )


def has_denials() -> bool:
    return bool(g.get(_PENDING))


def flush_denials(session: Session) -> None:
    """Write the request's noted refusals into ``session``, under its request id."""
    pending: list[PendingDenial] = g.pop(_PENDING, [])
    service.bind_request(session, request_id=g.get("request_id", ""))
    for d in pending:
        actor = session.get(User, d.actor_id) if d.actor_id else None
        service.record(
            session=session,
            actor=actor,
            action=d.action,
            outcome="denied",
            target_type=d.target_type,
            target_id=d.target_id,
            patient_id=d.patient_id,
            detail=d.detail,
        )
