"""Writing and verifying the audit log.

Every entry stores the SHA-256 of its own content and of the entry before it, so
that editing or deleting a row breaks the chain and ``ems audit verify`` finds it;
signed checkpoints of the chain's head (``ems.audit.checkpoints``) show a cut at the
end or a recomputed chain.
Entries for refused actions are written after the request's own transaction was
rolled back, in a transaction of their own, so that a refusal is never lost
(``ems.audit.web``). An entry carries the id of the request whose session wrote it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from ems.audit import checkpoints
from ems.audit.models import AuditEntry
from ems.auth.models import User
from ems.db import REQUEST_ID, utcnow

_CHAIN_LOCK = 7_100_119  # PostgreSQL advisory lock key that serialises chain appends


def _digest(entry: AuditEntry) -> str:
    content = {
        "at": entry.at.isoformat(),
        "actor_id": entry.actor_id,
        "actor_role": entry.actor_role,
        "action": entry.action,
        "outcome": entry.outcome,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "patient_id": entry.patient_id,
        "request_id": entry.request_id,
        "detail": entry.detail,
        "prev_hash": entry.prev_hash,
    }
    blob = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def record(
    *,
    session: Session,
    actor: User | None,
    action: str,
    outcome: str = "ok",
    target_type: str = "",
    target_id: str = "",
    patient_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an entry to the caller's transaction; it joins the chain when that commits.

    The chain is linked at commit time, not here: linking takes a lock that
    serialises every audited write, and holding it from here to the end of the
    request made all writers queue behind the slowest request (measured by
    ``bench/load.py``). Entries of a transaction that rolls back are dropped.
    """
    entry = AuditEntry(
        at=utcnow(),
        actor_id=actor.id if actor else None,
        actor_role=actor.role.value if actor else "",
        action=action,
        outcome=outcome,
        target_type=target_type,
        target_id=target_id,
        patient_id=patient_id,
        request_id=session.info.get(REQUEST_ID, ""),
        detail=detail or {},
    )
    pending: list[AuditEntry] | None = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = []
        event.listen(session, "before_commit", _link_pending)
        event.listen(session, "after_rollback", _drop_pending)
    pending.append(entry)
    return entry


_PENDING = "ems_audit_pending"


def _link_pending(session: Session) -> None:
    """Append the transaction's entries to the chain, just before it commits."""
    pending: list[AuditEntry] = session.info.get(_PENDING) or []
    if not pending:
        return
    session.info[_PENDING] = []
    # Write the request's own changes first: the lock below serialises every
    # audited commit, so nothing that can run outside it should run inside it.
    session.flush()
    lock_chain(session)
    prev = session.scalar(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1))
    for entry in pending:
        entry.prev_hash = prev or ""
        entry.hash = _digest(entry)
        session.add(entry)
        session.flush()  # ids follow chain order, under the lock
        prev = entry.hash
    checkpointer = _checkpointer()
    if checkpointer is not None and checkpointer.due():
        checkpoints.write(
            session=session,
            keys=checkpointer.keys,
            last_entry_id=pending[-1].id,
            head_hash=pending[-1].hash,
        )


def lock_chain(session: Session) -> None:
    """Serialise appends to the chain until the transaction ends (SQLite's writers
    are serialised already: every transaction begins IMMEDIATE)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHAIN_LOCK})


def _checkpointer() -> checkpoints.Checkpointer | None:
    """The server's checkpoint signer; none outside the app (the relay's few denials
    are covered by the next checkpoint the server or ``ems audit checkpoint`` writes)."""
    if not has_app_context():
        return None
    found: checkpoints.Checkpointer | None = current_app.extensions.get(checkpoints.EXTENSION)
    return found


def _drop_pending(session: Session) -> None:
    if session.info.get(_PENDING):
        session.info[_PENDING] = []


def write_denial(
    *,
    session: Session,
    actor_id: int | None,
    action: str,
    code: str,
    target_type: str = "",
    target_id: str = "",
    patient_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """A refusal outside a request (CLI, relay): into the caller's own transaction."""
    record(
        session=session,
        actor=session.get(User, actor_id) if actor_id else None,
        action=action,
        outcome="denied",
        target_type=target_type,
        target_id=target_id,
        patient_id=patient_id,
        detail={"code": code, **(detail or {})},
    )


def bind_request(session: Session, *, request_id: str) -> None:
    """Entries written in ``session`` from now on carry this request's id."""
    session.info[REQUEST_ID] = request_id


@dataclass
class ChainReport:
    entries: int
    ok: bool
    first_bad_id: int | None = None
    reason: str = ""


def verify_chain(*, session: Session, batch: int = 5000) -> ChainReport:
    prev = ""
    count = 0
    last_id = 0
    while True:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.id > last_id).order_by(AuditEntry.id).limit(batch)
        ).all()
        if not rows:
            return ChainReport(entries=count, ok=True)
        for entry in rows:
            if entry.prev_hash != prev:
                return ChainReport(count, False, entry.id, "link to the previous entry broken")
            if _digest(entry) != entry.hash:
                return ChainReport(count, False, entry.id, "content does not match its hash")
            prev = entry.hash
            count += 1
            last_id = entry.id
