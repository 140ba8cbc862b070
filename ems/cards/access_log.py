"""A patient's access log: every look-up of their record and every refused attempt,
as マイナポータル shows it, read from the audit log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ems.access import guard
from ems.access.guard import Context
from ems.access.policy import Action
from ems.audit import service as audit
from ems.audit.models import AuditEntry
from ems.auth.models import User
from ems.patients import service as patients


def read_access_log(
    *, session: Session, user: User, ctx: Context, patient_id: int
) -> list[dict[str, Any]]:
    """The access log as an auditor reads it: the reading is itself on record."""
    guard.require(
        session=session,
        actor=user,
        action=Action.ACCESS_LOG_READ,
        ctx=ctx,
        target_type="patient",
        target_id=str(patient_id),
    )
    entries = access_log(session=session, patient_id=patient_id)
    audit.record(
        session=session,
        actor=user,
        action="patient_record.access_log",
        target_type="patient",
        target_id=str(patient_id),
        detail={"entries": len(entries)},
    )
    return entries


def access_log(*, session: Session, patient_id: int) -> list[dict[str, Any]]:
    """Every look-up of a patient's record, and every refused attempt (マイナポータル's view)."""
    patients.require_patient(session=session, patient_id=patient_id)
    rows = session.execute(
        select(AuditEntry, User)
        .outerjoin(User, User.id == AuditEntry.actor_id)
        .where(AuditEntry.patient_id == patient_id)
        .order_by(AuditEntry.id)
    ).all()
    out = []
    for entry, actor in rows:
        detail = entry.detail or {}
        transport_id = (
            int(entry.target_id)
            if entry.target_type == "transport" and entry.target_id.isdigit()
            else None
        )
        out.append(
            {
                "at": entry.at,
                "action": entry.action,
                "outcome": entry.outcome,
                "actor_id": entry.actor_id,
                "actor_username": actor.username if actor else "",
                "actor_role": entry.actor_role,
                "unit_id": actor.unit_id if actor else None,
                "hospital_id": actor.hospital_id if actor else None,
                "transport_id": transport_id,
                "path": str(detail.get("path", "")),
                "assurance": str(detail.get("assurance", "")),
                "code": str(detail.get("code", "")),
            }
        )
    return out
