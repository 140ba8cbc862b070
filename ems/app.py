"""The application factory. It reads as the table of contents of the server."""

from __future__ import annotations

import logging
import re
import threading
import uuid
from typing import Any
from urllib.parse import unquote_plus

from flask import Flask, Response, g, jsonify, request
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from ems import db, ratelimit
from ems.config import Config
from ems.errors import EmsError
from ems.logs import configure_logging

log = logging.getLogger("ems")


def create_app(config: Config | dict[str, Any] | None = None) -> Flask:
    if not isinstance(config, Config):
        config = Config.from_env(config)
    app = Flask(__name__, static_folder="web/static", static_url_path="/static")
    app.url_map.converters["int"] = DatabaseId
    app.config.from_mapping(config.to_flask())
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    configure_logging(app.config["LOG_LEVEL"])
    trust_proxies(app)
    db.init_app(app)
    ratelimit.init_app(app)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_request_hooks(app)
    return app


def _id_out_of_range(path: str) -> bool:
    return any(part.isdigit() and int(part) > 2**31 - 1 for part in path.split("/"))


class DatabaseId(IntegerConverter):
    """``<int:…>`` path ids bounded to the database's integer column, so that an
    absurd id is a plain 404 instead of an overflow inside the database driver."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def trust_proxies(app: Flask) -> None:
    """Believe X-Forwarded-For and -Proto from exactly TRUSTED_PROXY_HOPS proxies (nginx
    in front: 1). Without it every client behind the proxy shares the proxy's address,
    in the login limits too; with too many hops a client could name its own address."""
    hops = int(app.config.get("TRUSTED_PROXY_HOPS", 0))
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]


def register_extensions(app: Flask) -> None:
    from ems import events, metrics
    from ems.audit import checkpoints
    from ems.auth import lockout

    events.init_app(app)
    metrics.init_app(app)
    lockout.init_app(app)
    checkpoints.init_app(app)
    # Fallback MC doctors are alerted by each server process (tests call it directly).
    if app.config["ENV"] != "test" and float(app.config["MC_FALLBACK_S"]) > 0:
        from ems.instructions.service import start_fallback_alerts

        start_fallback_alerts(app)


def register_blueprints(app: Flask) -> None:
    from ems.auth.api import bp as auth_bp
    from ems.cards.api import bp as cards_bp
    from ems.dispatch.api import bp as dispatch_bp
    from ems.fleet.api import bp as fleet_bp
    from ems.hospital_requests.api import bp as hospital_requests_bp
    from ems.hospitals.api import bp as hospitals_bp
    from ems.incidents.api import bp as incidents_bp
    from ems.instructions.api import bp as instructions_bp
    from ems.meta import bp as meta_bp
    from ems.transports.api import bp as transports_bp
    from ems.vitals.api import bp as vitals_bp
    from ems.web.views import bp as web_bp

    for bp in (
        meta_bp,
        auth_bp,
        hospitals_bp,
        fleet_bp,
        incidents_bp,
        transports_bp,
        dispatch_bp,
        hospital_requests_bp,
        instructions_bp,
        cards_bp,
        vitals_bp,
        web_bp,
    ):
        app.register_blueprint(bp)


def problem(err: EmsError) -> Response:
    resp = jsonify(err.to_problem(instance=request.path))
    resp.status_code = err.status
    resp.mimetype = "application/problem+json"
    if err.status == 401:
        resp.headers["WWW-Authenticate"] = "Bearer"
    if err.status == 429:
        resp.headers["Retry-After"] = str(err.extra.get("retry_after_s", 60))
    return resp


def _after_failure() -> None:
    """Undo the request's writes, then keep the record of what was refused."""
    from ems.audit.web import flush_denials, has_denials

    session = g.pop("db_session", None)
    if session is not None:
        session.rollback()
        session.close()
    if has_denials():
        with db.get_db().session_scope() as audit_session:
            flush_denials(audit_session)


def register_errorhandlers(app: Flask) -> None:
    @app.errorhandler(EmsError)
    def handle_ems_error(err: EmsError) -> Response:
        _after_failure()
        return problem(err)

    @app.errorhandler(IntegrityError)
    def handle_integrity(err: IntegrityError) -> Response:
        _after_failure()
        return problem(
            EmsError("the change conflicts with existing data", code="conflict", status=409)
        )

    @app.errorhandler(DataError)
    @app.errorhandler(OverflowError)
    def handle_bad_value(err: Exception) -> Response:
        # A value the schema let through but the database cannot hold (an id beyond
        # the integer range, a NUL byte in text): the caller's input, not our fault.
        _after_failure()
        return problem(
            EmsError(
                "a value is out of range or holds characters that cannot be stored",
                code="value_out_of_range",
                status=400,
            )
        )

    @app.errorhandler(OperationalError)
    def handle_db_down(err: OperationalError) -> Response:
        _after_failure()
        log.error("database unavailable", extra={"error": type(err).__name__})
        return problem(
            EmsError("the database is unavailable; retry", code="db_unavailable", status=503)
        )

    @app.errorhandler(HTTPException)
    def handle_http(err: HTTPException) -> Response:
        _after_failure()
        if err.code == 405 and _id_out_of_range(request.path):
            # The router checks a rule's methods before its converters: on a path served
            # by two methods, an id beyond the database's range would read as 405.
            return problem(EmsError("no such resource", code="not_found", status=404))
        code = {
            404: "not_found",
            405: "method_not_allowed",
            413: "payload_too_large",
            400: "bad_request",
        }.get(err.code or 500, "http_error")
        return problem(EmsError(err.description or err.name, code=code, status=err.code or 500))

    @app.errorhandler(Exception)
    def handle_unexpected(err: Exception) -> Response:
        _after_failure()
        log.exception("unhandled error")
        return problem(EmsError("internal error", code="internal_error", status=500))


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    # The MC console talks to the crew (talk-back): the microphone, for our own pages only.
    "Permissions-Policy": "geolocation=(self), camera=(self), microphone=(self)",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
        "connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'"
    ),
}


def security_headers(relay_url: str) -> dict[str, str]:
    """SECURITY_HEADERS for this deployment: the ER page imports the stream viewer module
    from the relay's own origin, so ``script-src`` names that origin (and no other)."""
    from ems.web.views import relay_http_origin

    relay = relay_http_origin(relay_url)
    if not relay:
        return dict(SECURITY_HEADERS)
    csp = SECURITY_HEADERS["Content-Security-Policy"].replace(
        "script-src 'self';", f"script-src 'self' {relay};"
    )
    return {**SECURITY_HEADERS, "Content-Security-Policy": csp}


# Endpoints that stream for as long as the client stays: they never take a slot.
STREAMING_ENDPOINTS = frozenset({"meta.event_stream"})
# Query parameters whose value never reaches a log: the server refuses a token in
# the URL (``token_in_url``), but the access log would still keep the line.
SECRET_QUERY_PARAMS = frozenset({"access_token"})


def redact_query(query: str) -> str:
    """``query`` with the value of every secret parameter replaced."""
    pairs = query.split("&")
    for i, pair in enumerate(pairs):
        name, eq, _value = pair.partition("=")
        if eq and unquote_plus(name).lower() in SECRET_QUERY_PARAMS:
            pairs[i] = f"{name}=redacted"
    return "&".join(pairs)


CLIENT_REQUEST_ID_MAX = 64
_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9._:-]")


def client_request_id(value: str) -> str:
    """A client's X-Request-Id as the logs keep it: ``A-Z a-z 0-9 . _ : -`` only, at most
    64 characters (anything else is dropped, so nothing can forge a log line)."""
    return _UNSAFE_ID_CHARS.sub("", value[: CLIENT_REQUEST_ID_MAX * 4])[:CLIENT_REQUEST_ID_MAX]


def register_request_hooks(app: Flask) -> None:
    slots = threading.BoundedSemaphore(max(1, int(app.config["MAX_ACTIVE_REQUESTS"])))

    @app.before_request
    def redact_logged_url() -> None:
        """gunicorn writes its access line from this same WSGI environ once the
        response is sent; the request itself already holds the parsed query."""
        environ = request.environ
        if "=" not in environ.get("QUERY_STRING", ""):
            return
        environ["QUERY_STRING"] = redact_query(environ["QUERY_STRING"])
        for key in ("RAW_URI", "REQUEST_URI"):
            path, sep, query = str(environ.get(key, "")).partition("?")
            if sep:
                environ[key] = f"{path}?{redact_query(query)}"

    @app.before_request
    def take_slot() -> None:
        """Bound the requests a process works on at once. gunicorn runs many threads
        so that open event streams (one thread each) never starve the API; without
        this bound those threads would also run that many requests at once, each
        holding a database connection and all contending for one interpreter."""
        if request.endpoint not in STREAMING_ENDPOINTS:
            slots.acquire()
            g.ems_slot = True

    @app.teardown_request
    def give_slot(_exc: BaseException | None) -> None:
        if g.pop("ems_slot", False):
            slots.release()

    @app.before_request
    def assign_request_id() -> None:
        """The request id is ours: a client's value would let it forge or collide ids in
        the logs and the audit log. What it sent is kept beside, sanitised, for tracing."""
        g.request_id = uuid.uuid4().hex
        g.client_request_id = client_request_id(request.headers.get("X-Request-Id", ""))

    headers = security_headers(app.config.get("RELAY_URL", ""))

    @app.after_request
    def add_headers(resp: Response) -> Response:
        resp.headers["X-Request-Id"] = g.get("request_id", "")
        for name, value in headers.items():
            resp.headers.setdefault(name, value)
        if request.path.startswith("/api/"):
            resp.headers.setdefault("Cache-Control", "no-store")
        return resp
