"""Claiming an idempotency key, storing the response, replaying it, purging old keys.

``ems.api.endpoint`` calls ``claim`` before the view runs: either a stored response
comes back (replay it) or a pending row is inserted in the request's transaction.
``complete`` fills the row with the response just before the request commits, so
the key and the write land together; a failed request rolls both back and the
client may retry with a corrected body.

Two concurrent requests with the same key: both find no row, both insert; on
PostgreSQL the second insert waits on the unique index until the first commits,
then fails and reads the committed response (waiting at most ``WAIT_S``, after
which it answers 409 ``idempotency_in_progress``). SQLite serialises writers at
BEGIN, so the second one simply finds the row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass

from sqlalchemy import delete, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from ems.db import utcnow
from ems.errors import Conflict, ValidationFailed
from ems.idempotency.models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
TTL = dt.timedelta(hours=24)
# How long a duplicate waits for the first request to finish (PostgreSQL).
WAIT_S = 10.0
# Expired rows removed on each insert: bounded so that a write never pays for a backlog.
PURGE_BATCH = 50
_LOCK_NOT_AVAILABLE = "55P03"


@dataclass(frozen=True)
class StoredResponse:
    status: int
    content_type: str
    body: bytes


def validate_key(key: str) -> str:
    if not KEY_PATTERN.fullmatch(key):
        raise ValidationFailed(
            f"the {HEADER} header must be 1 to 64 characters of A-Z a-z 0-9 _ . : -",
            code="invalid_idempotency_key",
        )
    return key


def fingerprint(*, method: str, path: str, query: list[tuple[str, str]], body: bytes) -> str:
    """A hash of what the request asks for; JSON bodies are compared by content,
    so a client that re-serialises its queue with other key order still matches."""
    try:
        canonical = json.dumps(
            json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    except (ValueError, RecursionError):
        canonical = body
    h = hashlib.sha256()
    for part in (method.upper(), path, json.dumps(sorted(query))):
        h.update(part.encode())
        h.update(b"\x00")
    h.update(canonical)
    return h.hexdigest()


def _find(*, session: Session, user_id: int, key: str) -> IdempotencyKey | None:
    return session.scalar(
        select(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
    )


def _stored(row: IdempotencyKey, *, method: str, path: str, request_hash: str) -> StoredResponse:
    if row.method != method or row.path != path or row.request_hash != request_hash:
        raise ValidationFailed(
            f"this {HEADER} was used for a different request; send a new key",
            code="idempotency_key_reused",
            status=422,
        )
    if row.status_code is None:
        raise Conflict(
            "a request with this key is still being processed; retry shortly",
            code="idempotency_in_progress",
        )
    return StoredResponse(
        status=row.status_code, content_type=row.content_type, body=row.response_body
    )


def claim(
    *,
    session: Session,
    user_id: int,
    key: str,
    method: str,
    path: str,
    request_hash: str,
    now: dt.datetime | None = None,
) -> IdempotencyKey | StoredResponse:
    """The stored response for this key, or a new pending row owned by this request."""
    now = now or utcnow()
    existing = _find(session=session, user_id=user_id, key=key)
    if existing is not None:
        if existing.expires_at > now:
            return _stored(existing, method=method, path=path, request_hash=request_hash)
        # A bulk delete: a concurrent request may have removed the same stale row.
        session.execute(
            delete(IdempotencyKey)
            .where(IdempotencyKey.id == existing.id)
            .execution_options(synchronize_session=False)
        )
        session.expunge(existing)
    row = IdempotencyKey(
        user_id=user_id,
        key=key,
        method=method,
        path=path,
        request_hash=request_hash,
        created_at=now,
        expires_at=now + TTL,
    )
    postgres = session.get_bind().dialect.name == "postgresql"
    try:
        with session.begin_nested():
            if postgres:
                previous = session.execute(
                    text("SELECT current_setting('lock_timeout')")
                ).scalar_one()
                session.execute(
                    text("SELECT set_config('lock_timeout', :v, true)"),
                    {"v": f"{int(WAIT_S * 1000)}ms"},
                )
            session.add(row)
            session.flush()
            if postgres:
                session.execute(
                    text("SELECT set_config('lock_timeout', :v, true)"), {"v": previous}
                )
    except IntegrityError:
        # A concurrent request with the same key committed first: answer as it did.
        winner = _find(session=session, user_id=user_id, key=key)
        if winner is None:
            raise Conflict(
                "a request with this key is still being processed; retry shortly",
                code="idempotency_in_progress",
            ) from None
        return _stored(winner, method=method, path=path, request_hash=request_hash)
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
            raise
        raise Conflict(
            "a request with this key is still being processed; retry shortly",
            code="idempotency_in_progress",
        ) from None
    purge_expired(session=session, now=now, limit=PURGE_BATCH)
    return row


def complete(
    *, session: Session, row: IdempotencyKey, status: int, content_type: str, body: bytes
) -> None:
    """Store the response; it commits with the request's write."""
    row.status_code = status
    row.content_type = content_type[:100]
    row.response_body = body
    session.flush()


def release(*, session: Session, row: IdempotencyKey) -> None:
    """Forget the key of a request that answered with an error, so a retry runs again."""
    session.delete(row)
    session.flush()


def purge_expired(
    *, session: Session, now: dt.datetime | None = None, limit: int | None = None
) -> int:
    """Delete keys older than their 24 h lifetime; returns how many went."""
    now = now or utcnow()
    ids = (
        select(IdempotencyKey.id)
        .where(IdempotencyKey.expires_at <= now)
        # Rows another request is deleting right now are its business, not a reason to wait.
        .with_for_update(skip_locked=True)
    )
    if limit is not None:
        ids = ids.limit(limit)
    doomed = list(session.scalars(ids))
    if not doomed:
        return 0
    session.execute(
        delete(IdempotencyKey)
        .where(IdempotencyKey.id.in_(doomed))
        .execution_options(synchronize_session=False)
    )
    return len(doomed)
