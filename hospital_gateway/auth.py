"""Who may publish or view a transport's stream: the API's bearer tokens, checked
against the transport (its unit, its destination hospital, accepted requests).

The checks are synchronous database calls; the server runs them with
``asyncio.to_thread`` so that the event loop never waits on the database. Every
decision about patient data is written to the audit log, refusals included.

The crew of a completed or cancelled transport may still publish records (not
video) for ``record_grace_s`` after its end, so that a tablet that was offline at
handover loses nothing; after that the publisher is refused ``record_grace_expired``.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass

from ems.audit import service as audit
from ems.auth.models import User
from ems.auth.service import user_for_token
from ems.db import Database, utcnow
from ems.errors import Unauthenticated
from ems.vitals.service import (
    Principal,
    PublishScope,
    TransportAccess,
    load_access,
    load_accesses,
    may_publish,
    may_view_stream,
    publish_scope,
)

DEFAULT_RECORD_GRACE_S = 6 * 3600
GRACE_EXPIRED = "record_grace_expired"


class Side(enum.StrEnum):
    PUBLISH = "publish"
    VIEW = "view"


class Refused(Exception):
    """The connection is not allowed; ``code`` goes to the client in an error event."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Grant:
    principal: Principal
    access: TransportAccess
    side: Side


class Authorizer:
    def __init__(self, db: Database, *, record_grace_s: float = DEFAULT_RECORD_GRACE_S) -> None:
        self.db = db
        self.record_grace_s = record_grace_s

    def scope(self, access: TransportAccess, now: dt.datetime | None = None) -> PublishScope:
        return publish_scope(access, now=now or utcnow(), grace_s=self.record_grace_s)

    def authorize(self, *, token: str, transport_id: int, side: Side) -> Grant:
        """Check a connecting client; raises ``Refused``. Blocking: run off the loop."""
        with self.db.session_scope() as session:
            try:
                who = Principal.of(user_for_token(session=session, token=token))
            except Unauthenticated as exc:
                raise Refused(exc.code, exc.detail) from None
            access = load_access(session=session, transport_id=transport_id)
        # The audit entry is written in a transaction of its own, after the check.
        if access is None:
            self._audit(who, side, transport_id, None, code="transport_not_found")
            raise Refused("transport_not_found", f"transport {transport_id} does not exist")
        allowed = may_publish(who, access) if side is Side.PUBLISH else may_view_stream(who, access)
        if not allowed:
            code = "off_duty" if side is Side.PUBLISH and not who.on_duty else "forbidden"
            self._audit(who, side, transport_id, access.patient_id, code=code)
            raise Refused(code, f"you may not {side.value} transport {transport_id}")
        if side is Side.PUBLISH and self.scope(access) is PublishScope.CLOSED:
            self._audit(who, side, transport_id, access.patient_id, code=GRACE_EXPIRED)
            raise Refused(GRACE_EXPIRED, f"transport {transport_id} ended too long ago")
        self._audit(who, side, transport_id, access.patient_id)
        return Grant(principal=who, access=access, side=side)

    def _audit(
        self, who: Principal, side: Side, transport_id: int, patient_id: int | None, code: str = ""
    ) -> None:
        with self.db.session_scope() as session:
            audit.record(
                session=session,
                actor=session.get(User, who.user_id),
                action=f"stream.{side.value}",
                outcome="denied" if code else "ok",
                target_type="transport",
                target_id=str(transport_id),
                patient_id=patient_id,
                detail={"code": code} if code else {},
            )

    def accesses(self, transport_ids: Sequence[int]) -> dict[int, TransportAccess]:
        """The access facts of every transport in ``transport_ids``, in one session."""
        with self.db.session_scope() as session:
            return load_accesses(session=session, transport_ids=transport_ids)

    def principal(self, token: str) -> Principal | None:
        """The token's user now, or None once it was revoked, expired or disabled."""
        with self.db.session_scope() as session:
            try:
                return Principal.of(user_for_token(session=session, token=token))
            except Unauthenticated:
                return None


def revocation(
    grant: Grant, who: Principal | None, access: TransportAccess | None, scope: PublishScope
) -> str | None:
    """Why a connected client must be cut now (an error code), or None while it may stay."""
    if who is None or access is None:
        return "access_revoked"
    if grant.side is Side.VIEW:
        return None if may_view_stream(who, access) else "access_revoked"
    if not may_publish(who, access):
        return "access_revoked"
    return GRACE_EXPIRED if scope is PublishScope.CLOSED else None
