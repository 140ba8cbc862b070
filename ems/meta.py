"""Health check, the OpenAPI document, and the live event stream."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Blueprint, Flask, Response, current_app, jsonify, request, stream_with_context
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ems import events
from ems.access import guard
from ems.access.policy import Action, Decision, Principal, Situation, decide
from ems.access.web import context
from ems.api import API_PREFIX, openapi_document
from ems.auth import service as auth_service
from ems.auth.models import User
from ems.auth.web import bearer_token
from ems.db import get_db, get_session, utcnow
from ems.errors import Unauthenticated

bp = Blueprint("meta", __name__)
log = logging.getLogger("ems.events")


@bp.get("/healthz")
def healthz() -> Response:
    get_session().execute(text("SELECT 1"))
    return jsonify({"status": "ok"})


@bp.get(f"{API_PREFIX}/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())


@bp.get(f"{API_PREFIX}/events")
def event_stream() -> Response:
    """Server-sent events for the caller's audience, for as long as that access holds.

    The token comes in the ``Authorization`` header only: one in the URL would be
    written to access logs, browser history and proxies, so such a request is refused
    even when a header comes with it."""
    if "access_token" in request.args:
        raise Unauthenticated(
            "send the token in the Authorization header, never in the URL", code="token_in_url"
        )
    token = bearer_token()
    if token is None:
        raise Unauthenticated("send 'Authorization: Bearer <token>'")
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    # A short session of its own: the stream holds no database connection while open.
    with get_db(app).session_scope() as session:
        user = auth_service.user_for_token(session=session, token=token)
        user_id, audience, who = user.id, _audience(user), Principal.of(user)
    decision = _may_subscribe(app, who)
    if not decision:
        guard.refuse(
            context(),
            actor=who,
            action=Action.EVENTS_SUBSCRIBE,
            code=decision.code,
            detail="off-duty staff get no live events" if decision.code == "off_duty" else "",
        )
    slot = events.stream_slots().take(user_id)
    resp = Response(
        stream_with_context(
            events.sse_stream(
                role=audience.role,
                unit_id=audience.unit_id,
                hospital_id=audience.hospital_id,
                user_id=audience.user_id,
                heartbeat_s=float(app.config["EVENT_STREAM_HEARTBEAT_S"]),
                recheck=_recheck(app, token=token, opened=audience),
                recheck_s=float(app.config["EVENT_STREAM_RECHECK_S"]),
                slot=slot,
            )
        ),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    # Also when the server closes a stream it never started (the generator's own
    # finally only runs once it has begun).
    resp.call_on_close(slot.release)
    return resp


def _audience(user: User) -> events.Audience:
    return events.Audience(user.role.value, user.unit_id, user.hospital_id, user.id)


def _recheck(
    app: Flask, *, token: str, opened: events.Audience
) -> Callable[[], events.CloseReason | None]:
    """The open stream's periodic question: may this token still see this audience?"""

    def check() -> events.CloseReason | None:
        try:
            with get_db(app).session_scope() as session:
                user = auth_service.user_for_token(session=session, token=token)
                now, on_duty, who = _audience(user), user.on_duty, Principal.of(user)
        except Unauthenticated:
            return events.CloseReason.INVALID_TOKEN
        except SQLAlchemyError as err:
            # Access that cannot be checked is not granted; the page reconnects later.
            log.warning("event stream re-check failed", extra={"error": type(err).__name__})
            return events.CloseReason.DB_UNAVAILABLE
        decision = _may_subscribe(app, who)
        if not decision:
            if decision.code == "off_duty":
                return events.CloseReason.OFF_DUTY
            return events.CloseReason.ACCESS_CHANGED
        return events.close_reason(opened, now=now, on_duty=on_duty)

    return check


def _may_subscribe(app: Flask, who: Principal) -> Decision:
    """The rule book's answer for the live events (asked at open and at every re-check)."""
    situation = Situation(now=utcnow(), grace_s=float(app.config["RECORD_GRACE_S"]))
    return decide(who, Action.EVENTS_SUBSCRIBE, situation)
