"""Who may publish, view or talk on a transport's stream: the API's bearer tokens,
checked by the server's access policy (``ems.access``) against the transport's facts.
The relay decides nothing itself: it asks the ``Authorizer`` here, which asks
``ems.access``.

The checks are synchronous database calls; the relay (``hospital_gateway.relay``)
runs them with ``asyncio.to_thread`` so that the event loop never waits on the
database. Every decision about patient data is written to the audit log, refusals
included.

The crew of a completed or cancelled transport may still publish records (not
video) for ``record_grace_s`` after its end, so that a tablet that was offline at
handover loses nothing; after that the publisher is refused ``record_grace_expired``.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass

from ems.access import facts, guard
from ems.access.guard import AccessDenied, Context, Denial
from ems.access.policy import (
    Action,
    Principal,
    PublishScope,
    TransportFacts,
    decide,
    publish_scope,
)
from ems.audit import service as audit
from ems.auth.models import User
from ems.auth.service import user_for_token
from ems.db import Database, utcnow
from ems.errors import Unauthenticated

DEFAULT_RECORD_GRACE_S = 6 * 3600
GRACE_EXPIRED = "record_grace_expired"


class Side(enum.StrEnum):
    PUBLISH = "publish"
    VIEW = "view"
    TALK = "talk"  # the voice line between the crew and the MC doctor


ACTIONS = {
    Side.PUBLISH: Action.STREAM_PUBLISH,
    Side.VIEW: Action.STREAM_VIEW,
    Side.TALK: Action.STREAM_TALK,
}


class Refused(Exception):
    """The connection is not allowed; ``code`` goes to the client in an error event."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Grant:
    principal: Principal
    access: TransportFacts
    side: Side


class Authorizer:
    def __init__(self, db: Database, *, record_grace_s: float = DEFAULT_RECORD_GRACE_S) -> None:
        self.db = db
        self.record_grace_s = record_grace_s

    def scope(self, access: TransportFacts, now: dt.datetime | None = None) -> PublishScope:
        return publish_scope(access, now=now or utcnow(), grace_s=self.record_grace_s)

    def _context(self) -> Context:
        return Context(grace_s=self.record_grace_s, on_denial=self._write_denial)

    def _write_denial(self, d: Denial) -> None:
        # A transaction of its own: the refusal is kept whatever happens next.
        with self.db.session_scope() as session:
            audit.write_denial(
                session=session,
                actor_id=d.actor_id,
                action=d.action,
                code=d.code,
                target_type=d.target_type,
                target_id=d.target_id,
                patient_id=d.patient_id,
            )

    def authorize(self, *, token: str, transport_id: int, side: Side) -> Grant:
        """Check a connecting client; raises ``Refused``. Blocking: run off the loop."""
        action = ACTIONS[side]
        ctx = self._context()
        with self.db.session_scope() as session:
            try:
                who = Principal.of(user_for_token(session=session, token=token))
            except Unauthenticated as exc:
                raise Refused(exc.code, exc.detail) from None
            access = facts.facts_by_id(session=session, transport_ids=[transport_id]).get(
                transport_id
            )
        if access is None:
            self._write_denial(
                Denial(
                    who.user_id,
                    action.value,
                    "transport_not_found",
                    "transport",
                    str(transport_id),
                    None,
                    {},
                )
            )
            raise Refused("transport_not_found", f"transport {transport_id} does not exist")
        try:
            with self.db.session_scope() as session:
                # Records the publisher on the crew when they join it now.
                guard.require(session=session, actor=who, action=action, ctx=ctx, transport=access)
        except AccessDenied as exc:
            raise Refused(exc.code, f"you may not {side.value} transport {transport_id}") from None
        self._audit_ok(who, action, transport_id, access.patient_id)
        return Grant(principal=who, access=access, side=side)

    def _audit_ok(
        self, who: Principal, action: Action, transport_id: int, patient_id: int | None
    ) -> None:
        with self.db.session_scope() as session:
            audit.record(
                session=session,
                actor=session.get(User, who.user_id),
                action=action.value,
                target_type="transport",
                target_id=str(transport_id),
                patient_id=patient_id,
            )

    def accesses(self, transport_ids: Sequence[int]) -> dict[int, TransportFacts]:
        """The access facts of every transport in ``transport_ids``, in one session."""
        with self.db.session_scope() as session:
            return facts.facts_by_id(session=session, transport_ids=transport_ids)

    def principal(self, token: str) -> Principal | None:
        """The token's user now, or None once it was revoked, expired or disabled."""
        with self.db.session_scope() as session:
            try:
                return Principal.of(user_for_token(session=session, token=token))
            except Unauthenticated:
                return None

    def revocation(
        self, grant: Grant, who: Principal | None, access: TransportFacts | None
    ) -> str | None:
        """Why a connected client must be cut now (an error code), or None while it may stay."""
        if who is None or access is None:
            return "access_revoked"
        decision = decide(
            who, ACTIONS[grant.side], guard.situation(self._context(), transport=access)
        )
        if decision:
            return None
        return GRACE_EXPIRED if decision.code == GRACE_EXPIRED else "access_revoked"
