"""Health check, the OpenAPI document, and the live event stream."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, stream_with_context
from sqlalchemy import text

from ems import events
from ems.api import API_PREFIX, openapi_document
from ems.auth import service as auth_service
from ems.db import get_session
from ems.errors import Unauthenticated

bp = Blueprint("meta", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    get_session().execute(text("SELECT 1"))
    return jsonify({"status": "ok"})


@bp.get(f"{API_PREFIX}/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())


@bp.get(f"{API_PREFIX}/events")
def event_stream() -> Response:
    """Server-sent events for the caller's role. Browsers cannot set headers on
    EventSource, so the token may come as ``?access_token=``."""
    from flask import request

    token = auth_service.bearer_token() or request.args.get("access_token")
    if not token:
        raise Unauthenticated("a token is needed for the event stream")
    session = get_session()
    user = auth_service.user_for_token(session=session, token=token)
    role, unit_id, hospital_id = user.role.value, user.unit_id, user.hospital_id
    session.close()  # the stream holds no database connection
    return Response(
        stream_with_context(events.sse_stream(role=role, unit_id=unit_id, hospital_id=hospital_id)),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
