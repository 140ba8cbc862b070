"""The relay's plain HTTP side and its URL layout, answered before any WebSocket
handshake (``websockets``' ``process_request`` hook):

    GET /healthz                            liveness and load, JSON
    GET /metrics                            Prometheus (``hospital_gateway.metrics``),
                                            with ``Bearer <METRICS_TOKEN>`` when set
    GET /viewer/ , /viewer/viewer.js        the standalone ER viewer page
    ws://relay/v1/transports/<id>/publish   the ambulance tablet (one per transport)
    ws://relay/v1/transports/<id>/view      ER staff, dispatchers and the MC doctor
    ws://relay/v1/transports/<id>/talk      the voice line: the crew and the MC doctor

Anything else is a 404, before the upgrade. It reads the relay's state through
``RelayState`` (``hospital_gateway.relay.Relay`` is one) and changes nothing.
"""

from __future__ import annotations

import hmac
import http
import json
import re
from collections.abc import Sized
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from hospital_gateway.access import Side
from hospital_gateway.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from hospital_gateway.metrics import RelayMetrics
from hospital_gateway.protocol import Registry
from hospital_gateway.settings import RelaySettings

STREAM_PATH = re.compile(r"^/v1/transports/(\d{1,10})/(publish|view|talk)$")
STATIC = Path(__file__).resolve().parent / "static"
STATIC_FILES = {
    "/viewer/": ("viewer.html", "text/html; charset=utf-8"),
    "/viewer/index.html": ("viewer.html", "text/html; charset=utf-8"),
    "/viewer/viewer.js": ("viewer.js", "text/javascript; charset=utf-8"),
}


class RelayState(Protocol):
    """What the health and metrics routes read of the relay."""

    @property
    def registry(self) -> Registry: ...
    @property
    def publishers(self) -> Sized: ...
    @property
    def viewers(self) -> Sized: ...
    @property
    def bus(self) -> object: ...
    @property
    def stored(self) -> int: ...
    @property
    def metrics(self) -> RelayMetrics: ...
    @property
    def settings(self) -> RelaySettings: ...


def stream_target(path: str) -> tuple[int, Side] | None:
    """The transport and side a stream URL's path names, or None for any other path."""
    match = STREAM_PATH.match(urlsplit(path).path)
    if match is None:
        return None
    return int(match.group(1)), Side(match.group(2))


def process_request(
    relay: RelayState, connection: ServerConnection, request: Request
) -> Response | None:
    """Answer a plain HTTP request, refuse an unknown path, or let a stream's handshake on."""
    path = urlsplit(request.path).path
    if path == "/healthz":
        body = {
            "status": "ok",
            "rooms": len(relay.registry.rooms),
            "publishers": len(relay.publishers),
            "viewers": len(relay.viewers),
            "redis": bool(relay.bus),
        }
        return _response(http.HTTPStatus.OK, json.dumps(body), "application/json")
    if path == "/metrics":
        refused = _metrics_refusal(relay.settings, request.headers.get("Authorization", ""))
        if refused is not None:
            return refused
        return _response(http.HTTPStatus.OK, relay.metrics.render(relay), METRICS_CONTENT_TYPE)
    if path in STATIC_FILES:
        name, ctype = STATIC_FILES[path]
        resp = _response(http.HTTPStatus.OK, (STATIC / name).read_bytes(), ctype)
        # The ER page (the server's origin) imports viewer.js as a module: a
        # cross-origin module script needs CORS. The file is public code.
        resp.headers["Access-Control-Allow-Origin"] = "*"
        return resp
    if request.headers.get("Upgrade", "").lower() != "websocket":
        return connection.respond(http.HTTPStatus.NOT_FOUND, "not found\n")
    if not STREAM_PATH.match(path):
        return connection.respond(http.HTTPStatus.NOT_FOUND, "unknown stream path\n")
    return None


def _metrics_refusal(settings: RelaySettings, authorization: str) -> Response | None:
    """``/metrics`` needs ``Bearer <METRICS_TOKEN>`` when one is set; without one it is
    open only outside production (as on the server: ``ems.metrics``)."""
    if not settings.metrics_token:
        if settings.production:
            return _response(http.HTTPStatus.NOT_FOUND, "not found\n", "text/plain")
        return None
    scheme, _, value = authorization.partition(" ")
    sent = value.strip().encode() if scheme.lower() == "bearer" else b""
    if hmac.compare_digest(sent, settings.metrics_token.encode()):
        return None
    body = json.dumps({"type": "error", "code": "metrics_token_required"})
    resp = _response(http.HTTPStatus.UNAUTHORIZED, body, "application/json")
    resp.headers["WWW-Authenticate"] = "Bearer"
    return resp


def _response(status: http.HTTPStatus, body: str | bytes, content_type: str) -> Response:
    data = body.encode() if isinstance(body, str) else body
    headers = Headers(
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(data))),
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
        ]
    )
    return Response(status.value, status.phrase, headers, data)
