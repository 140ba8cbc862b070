"""The tablet page's Flask app: what the page on the tablet talks to.

- ``/`` and ``/static/*``: the tablet page and its assets, from ``ambulance_client/web``;
- ``/api/*``: forwarded to the server, so that the page stays same-origin (live events
  included); an unreachable server answers 503 ``offline``; a sign-in on a tablet of
  another unit is refused here (``binding``), its token revoked; a request for
  instruction the server cannot take now is queued (``request_outbox``) and answered
  202 ``{"queued": true, "idempotency_key": …}``;
- ``/local/timeline``: the crew's FDMA timeline events, through the agent's outbox: sent
  at once when the server is reachable, replayed in order on reconnection;
- ``/local/status`` and ``/local/status/stream``: online/offline, how many events,
  records and requests are queued and when the tablet last reached the server, as
  server-sent events;
- ``/local/card/*``: card tap, PIN and PIN-less identification (``card_port``);
- ``/local/stream/*``: start and stop streaming the transport to the relay
  (``stream_port``).

Every request passes the agent's guards first (``guard``): its own ``Host`` only, no
cross-origin writes, and the page's session token on every ``/local/*`` write.

The views parse the request and call the agent (``agent.TabletService``); the state and
its rules are there.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import queue
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import (
    Flask,
    Response,
    current_app,
    jsonify,
    make_response,
    render_template,
    request,
    stream_with_context,
)

from ambulance_client import guard, request_outbox
from ambulance_client.agent import TabletService
from ambulance_client.card_port import error_status
from ambulance_client.upstream import Offline
from ems_contracts.codes import ErrorCode as E

if TYPE_CHECKING:
    # Imported on use at run time: the PKCS#11 binding loads only when a card is read.
    from ambulance_client.card import CardError, ServerError

log = logging.getLogger(__name__)

# The tablet's page ships with this package: web/templates and web/static (whose
# static/js/shared holds the modules it shares with the server's pages, copied there
# by scripts/ensure-frontend).
WEB_DIR = Path(__file__).resolve().parent / "web"
HOP_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "proxy-authorization",
        "proxy-authenticate",
        "content-length",
        "content-encoding",
    }
)
FORWARDED_REQUEST_HEADERS = (
    "Authorization",
    "Content-Type",
    "Accept",
    "X-Request-Id",
    "Last-Event-ID",
    request_outbox.IDEMPOTENCY_HEADER,
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
        "connect-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self'; "
        "object-src 'none'; frame-ancestors 'none'; base-uri 'self'"
    ),
}
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def page_csp(relay_url: str) -> str:
    """The page's policy: ours, with the relay's WebSocket origin allowed to connect
    (the voice line). A relay URL that is not ws(s) adds nothing."""
    policy = SECURITY_HEADERS["Content-Security-Policy"]
    parts = urlsplit(relay_url)
    if parts.scheme not in ("ws", "wss") or not parts.netloc or " " in parts.netloc:
        return policy
    origin = f"{parts.scheme}://{parts.netloc}"
    return policy.replace("connect-src 'self'", f"connect-src 'self' {origin}", 1)


def create_agent_app(service: TabletService, *, port: int | None = None) -> Flask:
    """The agent's app; ``port`` is where it listens (its own ``Host``), None to accept
    any port of a loopback name."""
    app = Flask(
        __name__,
        static_folder=str(WEB_DIR / "static"),
        static_url_path="/static",
        template_folder=str(WEB_DIR / "templates"),
    )
    app.extensions["tablet"] = service
    # A fresh token per run of the agent: the page reads it from its own HTML.
    app.config["TABLET_TOKEN"] = secrets.token_urlsafe(32)
    app.config["TABLET_PORT"] = port
    app.before_request(_guard)
    app.after_request(_security_headers)
    register_page(app, service)
    register_status(app, service)
    register_timeline(app, service)
    register_card(app, service)
    register_stream(app, service)
    register_proxy(app, service)
    return app


# --- helpers -------------------------------------------------------------------------------


def problem(status: int, code: E, detail: str = "", **extra: Any) -> Response:
    """A refusal of the agent's own: its code is the shared registry's, never a literal
    (tests/ambulance_client/test_codes.py)."""
    return passed_on(status, code, detail, **extra)


def passed_on(status: int, code: str, detail: str = "", **extra: Any) -> Response:
    """A problem+json answer with a code the agent got from the server (or its own)."""
    resp = jsonify({"status": status, "code": code, "title": code, "detail": detail, **extra})
    resp.status_code = status
    resp.mimetype = "application/problem+json"
    return resp


def _bearer() -> str:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def _guard() -> Response | None:
    refusal = guard.check(
        method=request.method,
        path=request.path,
        host=request.headers.get("Host", ""),
        origin=request.headers.get("Origin"),
        token=request.headers.get(guard.TOKEN_HEADER),
        session_token=current_app.config["TABLET_TOKEN"],
        port=current_app.config["TABLET_PORT"],
    )
    if refusal is None:
        return None
    log.warning("request refused", extra={"code": refusal.code, "path": request.path})
    return problem(refusal.status, refusal.code, refusal.detail)


def _security_headers(resp: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        resp.headers.setdefault(name, value)
    if request.path.startswith(("/local/", "/api/")):
        resp.headers.setdefault("Cache-Control", "no-store")
    return resp


# --- the page and the status -----------------------------------------------------------------


def register_page(app: Flask, service: TabletService) -> None:
    @app.get("/")
    def tablet_page() -> Response:
        resp = make_response(
            render_template(
                "tablet.html",
                title_key="tablet.title",
                subtitle_key="",
                tablet_token=current_app.config["TABLET_TOKEN"],
                relay_url=service.relay_url,
            )
        )
        # The page opens the voice line to the MC doctor on the relay itself.
        resp.headers["Content-Security-Policy"] = page_csp(service.relay_url)
        return resp

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok", "online": service.online})


def register_status(app: Flask, service: TabletService) -> None:
    @app.get("/local/status")
    def local_status() -> Response:
        return jsonify(service.status())

    @app.get("/local/status/stream")
    def local_status_stream() -> Response:
        def events() -> Iterator[str]:
            q = service.subscribe()
            try:
                yield "retry: 1000\n\n"
                yield f"event: status\ndata: {json.dumps(service.status())}\n\n"
                while True:
                    try:
                        snapshot = q.get(timeout=15)
                    except queue.Empty:
                        yield ": keep-alive\n\n"
                        continue
                    yield f"event: status\ndata: {json.dumps(snapshot)}\n\n"
            finally:
                service.unsubscribe(q)

        return Response(
            stream_with_context(events()), mimetype="text/event-stream", headers=SSE_HEADERS
        )


# --- the timeline --------------------------------------------------------------------------


def register_timeline(app: Flask, service: TabletService) -> None:
    @app.post("/local/timeline")
    def local_timeline() -> Response:
        token = _bearer()
        if not token:
            return problem(401, E.UNAUTHENTICATED, "sign in first")
        body = request.get_json(silent=True) or {}
        kind = body.get("kind")
        transport_id = body.get("transport_id")
        if not isinstance(kind, str) or not isinstance(transport_id, int):
            return problem(400, E.VALIDATION_FAILED, "kind and transport_id are required")
        result, item = service.record(token=token, transport_id=transport_id, kind=kind)
        if result.status == "rejected":
            payload = result.body if isinstance(result.body, dict) else {}
            return passed_on(
                result.http_status,
                str(payload.get("code", E.ERROR)),
                str(payload.get("detail", "")),
            )
        out: dict[str, Any] = {
            "status": result.status,
            "event": item.public(),
            "local": service.status(),
        }
        if result.status == "sent" and isinstance(result.body, dict):
            out["transport"] = result.body.get("transport")
        return jsonify(out)


# --- the card ----------------------------------------------------------------------------


def register_card(app: Flask, service: TabletService) -> None:
    def card_error(exc: CardError | ServerError) -> Response:
        code, status = error_status(exc)
        if code == E.OFFLINE:
            service.lost()
        return passed_on(status, code, str(exc), tries_left=getattr(exc, "tries_left", None))

    @app.post("/local/card/read")
    def card_read() -> Response:
        from ambulance_client.card import CardError

        try:
            return jsonify(service.card.read())
        except CardError as exc:
            return card_error(exc)

    @app.post("/local/card/verify")
    def card_verify() -> Response:
        from ambulance_client.card import CardError, ServerError

        token = _bearer()
        body = request.get_json(silent=True) or {}
        pin = body.get("pin")
        transport_id = body.get("transport_id")
        if not token:
            return problem(401, E.UNAUTHENTICATED, "sign in first")
        if not isinstance(pin, str) or not isinstance(transport_id, int):
            return problem(400, E.VALIDATION_FAILED, "pin and transport_id are required")
        try:
            result = service.card.verify(token=token, transport_id=transport_id, pin=pin)
        except (CardError, ServerError) as exc:
            return card_error(exc)
        service.reached()
        return jsonify(result)

    @app.post("/local/card/pinless")
    def card_pinless() -> Response:
        from ambulance_client.card import CardError, ServerError

        token = _bearer()
        body = request.get_json(silent=True) or {}
        transport_id = body.get("transport_id")
        reason = body.get("reason")
        if not token:
            return problem(401, E.UNAUTHENTICATED, "sign in first")
        if not isinstance(transport_id, int) or not isinstance(reason, str):
            return problem(400, E.VALIDATION_FAILED, "transport_id and reason are required")
        if body.get("face_match_confirmed") is not True:
            return problem(400, E.FACE_MATCH_REQUIRED, "confirm the face matches the card photo")
        try:
            result = service.card.pinless(
                token=token, transport_id=transport_id, reason=reason, face_match_confirmed=True
            )
        except (CardError, ServerError) as exc:
            return card_error(exc)
        service.reached()
        return jsonify(result)


# --- the stream --------------------------------------------------------------------------


def register_stream(app: Flask, service: TabletService) -> None:
    @app.post("/local/stream/start")
    def stream_start() -> Response:
        token = _bearer()
        body = request.get_json(silent=True) or {}
        transport_id = body.get("transport_id")
        if not token:
            return problem(401, E.UNAUTHENTICATED, "sign in first")
        if not isinstance(transport_id, int):
            return problem(400, E.VALIDATION_FAILED, "transport_id is required")
        try:
            return jsonify({"stream": service.stream.start(token=token, transport_id=transport_id)})
        except Exception as exc:  # a camera that will not open is the crew's to know
            log.warning("stream start failed", extra={"error": type(exc).__name__})
            return problem(503, E.STREAM_FAILED, str(exc))

    @app.post("/local/stream/stop")
    def stream_stop() -> Response:
        return jsonify({"stream": service.stream.stop()})


# --- the API, same-origin ------------------------------------------------------------------


def register_proxy(app: Flask, service: TabletService) -> None:
    @app.route("/api/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def proxy(rest: str) -> Response:
        path = f"/api/{rest}"
        if request.query_string:
            path += "?" + request.query_string.decode()
        headers = {h: request.headers[h] for h in FORWARDED_REQUEST_HEADERS if h in request.headers}
        body = request.get_data() if request.method in ("POST", "PUT", "PATCH") else None
        if rest == "v1/events":
            return _proxy_stream(service, path, headers)
        transport_id = request_outbox.queueable(request.method, path)
        if transport_id is not None:
            key = headers.setdefault(request_outbox.IDEMPOTENCY_HEADER, request_outbox.new_key())
            if not request_outbox.KEY_PATTERN.fullmatch(key):
                return problem(
                    400,
                    E.INVALID_IDEMPOTENCY_KEY,
                    "the Idempotency-Key header must be 1 to 64 characters of A-Z a-z 0-9 _ . : -",
                )
        try:
            status, resp_headers, data = service.upstream.call(
                request.method, path, body=body, headers=headers
            )
        except Offline as exc:
            service.lost()
            if transport_id is not None and _bearer():
                return _queue_request(service, path, body or b"", transport_id, headers)
            return problem(503, E.OFFLINE, f"the server is unreachable: {exc}")
        if transport_id is not None and _bearer() and status in (502, 503, 504):
            # A front or a server that cannot take it now: the same as unreachable.
            service.lost()
            return _queue_request(service, path, body or b"", transport_id, headers)
        service.reached()
        if status < 300 and _bearer():
            service.signed_in(_bearer())  # a token the server still takes
        if rest == "v1/auth/token" and request.method == "POST" and 200 <= status < 300:
            refused = _admit(service, data)
            if refused is not None:
                return refused
        resp = Response(data, status=status)
        for name, value in resp_headers:
            if name.lower() not in HOP_HEADERS:
                resp.headers[name] = value
        return resp


def _queue_request(
    service: TabletService, path: str, body: bytes, transport_id: int, headers: dict[str, str]
) -> Response:
    try:
        text = body.decode()
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    # Checked now rather than refused on replay, long after the crew asked.
    if not isinstance(parsed, dict) or not isinstance(parsed.get("procedure"), str):
        return problem(400, E.VALIDATION_FAILED, "procedure is required")
    item = service.queue_request(
        token=_bearer(),
        method=request.method,
        path=path,
        body=text,
        transport_id=transport_id,
        key=headers[request_outbox.IDEMPOTENCY_HEADER],
    )
    resp = jsonify({"queued": True, "idempotency_key": item.key, "request": item.public()})
    resp.status_code = 202
    return resp


def _admit(service: TabletService, data: bytes) -> Response | None:
    """A sign-in the server granted: the tablet's own rule (``binding``) has the last
    word. A refused token is revoked at once and never reaches the page."""
    try:
        body = json.loads(data)
        user, token = body["user"], str(body["access_token"])
    except (ValueError, KeyError, TypeError):
        return None
    refusal = service.binding.admit(user if isinstance(user, dict) else {})
    if refusal is None:
        _learn_call_sign(service, user, token)
        service.signed_in(token)
        return None
    log.warning("sign-in refused on this tablet", extra={"code": refusal.code})
    # Offline: the token expires by itself, and the page never holds it.
    with contextlib.suppress(Offline):
        service.upstream.call(
            "DELETE", "/api/v1/auth/token", headers={"Authorization": f"Bearer {token}"}
        )
    return problem(
        403,
        refusal.code,
        refusal.detail,
        tablet_unit_id=service.binding.unit_id,
        tablet_call_sign=service.binding.call_sign,
    )


def _learn_call_sign(service: TabletService, user: dict[str, Any], token: str) -> None:
    """The call sign of the tablet's unit, for the message a paramedic of another unit
    gets (best effort: a tablet offline at sign-in names the unit by id)."""
    unit_id = user.get("unit_id")
    if not isinstance(unit_id, int) or service.binding.call_sign:
        return
    try:
        status, _, raw = service.upstream.call(
            "GET", f"/api/v1/units/{unit_id}", headers={"Authorization": f"Bearer {token}"}
        )
        unit = json.loads(raw) if status == 200 else {}
    except (Offline, ValueError):
        return
    if isinstance(unit, dict):
        service.binding.learn_call_sign(unit_id, str(unit.get("call_sign") or ""))


def _proxy_stream(service: TabletService, path: str, headers: dict[str, str]) -> Response:
    """Forward the server's event stream chunk by chunk, without buffering."""
    try:
        conn, resp = service.upstream.open("GET", path, headers=headers, timeout_s=60)
    except Offline as exc:
        service.lost()
        return problem(503, E.OFFLINE, f"the server is unreachable: {exc}")
    if resp.status != 200:
        data = resp.read()
        conn.close()
        return Response(data, status=resp.status, mimetype=resp.getheader("Content-Type"))
    service.reached()

    def chunks() -> Iterator[bytes]:
        try:
            while True:
                line = resp.readline()
                if not line:
                    break
                yield line
        except (OSError, http.client.HTTPException):
            service.lost()
        finally:
            conn.close()

    return Response(
        stream_with_context(chunks()), mimetype="text/event-stream", headers=SSE_HEADERS
    )
