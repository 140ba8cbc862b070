"""Who may publish or view a transport's stream: the API's bearer tokens, checked
against the transport (its unit, its destination hospital, accepted requests).

The checks are synchronous database calls; the server runs them with
``asyncio.to_thread`` so that the event loop never waits on the database. Every
decision about patient data is written to the audit log, refusals included.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ems.audit import service as audit
from ems.auth.models import User
from ems.auth.service import user_for_token
from ems.db import Database
from ems.errors import Unauthenticated
from ems.vitals.service import (
    Principal,
    TransportAccess,
    load_access,
    may_publish,
    may_view_stream,
)


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
    def __init__(self, db: Database) -> None:
        self.db = db

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

    def access(self, transport_id: int) -> TransportAccess | None:
        """The transport's current access facts (re-checked while streaming)."""
        with self.db.session_scope() as session:
            return load_access(session=session, transport_id=transport_id)

    def principal(self, token: str) -> Principal | None:
        """The token's user now, or None once it was revoked, expired or disabled."""
        with self.db.session_scope() as session:
            try:
                return Principal.of(user_for_token(session=session, token=token))
            except Unauthenticated:
                return None


def still_allowed(grant: Grant, who: Principal | None, access: TransportAccess | None) -> bool:
    if who is None or access is None:
        return False
    if grant.side is Side.PUBLISH:
        return may_publish(who, access)
    return may_view_stream(who, access)
