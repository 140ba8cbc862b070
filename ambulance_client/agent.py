"""The tablet's local service: serves the paramedic page on the tablet itself.

It holds what only the ambulance has — the card reader (PKCS#11) and the camera and
monitor stream — and sits between the page and the server:

- ``/`` and ``/static/*``: the tablet page and its assets, from ``ambulance_client/web``;
- ``/api/*``: forwarded to the server, so that the page stays same-origin (live events
  included); an unreachable server answers 503 ``offline``;
- ``/local/timeline``: the crew's FDMA timeline events. Each gets an idempotency key and
  the tap's time, goes into an in-memory outbox, and is sent at once when the server is
  reachable, or replayed in order on reconnection: a replay never records twice;
- ``/local/status`` and ``/local/status/stream``: online/offline, how many events are
  queued and when the tablet last reached the server, as server-sent events;
- ``/local/card/*``: card tap, PIN and PIN-less identification;
- ``/local/stream/*``: start and stop streaming the transport to the relay.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, render_template, request, stream_with_context

# The server link and the timeline outbox live in modules of their own, so that the
# simulated crews drive the same outbox; they are re-exported here for the service.
from ambulance_client.timeline_outbox import QueuedEvent, SendResult, TimelineOutbox, utcnow_iso
from ambulance_client.upstream import Offline, Upstream

log = logging.getLogger("ambulance_client.agent")

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


# --- the card reader -------------------------------------------------------------------


@dataclass
class CardSettings:
    module_path: str = ""
    token_label: str | None = None
    softhsm_conf: str | None = None
    device_dir: str | None = None


class CardPort:
    """The card reader, driven through ``ambulance_client.card``."""

    def __init__(self, settings: CardSettings, server_url: str) -> None:
        self.settings = settings
        self.server_url = server_url

    def _reader(self) -> Any:
        from ambulance_client.card import SOFTHSM2_MODULE, CardReader

        return CardReader(
            self.settings.module_path or SOFTHSM2_MODULE,
            token_label=self.settings.token_label,
            softhsm_conf=self.settings.softhsm_conf,
        )

    def read(self) -> dict[str, Any]:
        reader = self._reader()
        cert = reader.read_certificate()
        pin = reader.pin_status()
        return {
            "present": True,
            "certificate_sha256_prefix": _sha_prefix(cert),
            "tries_left": pin.tries_left,
            "locked": pin.locked,
        }

    def verify(self, *, token: str, transport_id: int, pin: str) -> dict[str, Any]:
        from ambulance_client.card import HttpApi, identify_with_pin

        result: dict[str, Any] = identify_with_pin(
            api=HttpApi(self.server_url, token),
            reader=self._reader(),
            transport_id=transport_id,
            pin=pin,
        )
        return result

    def pinless(
        self, *, token: str, transport_id: int, reason: str, face_match_confirmed: bool
    ) -> dict[str, Any]:
        from ambulance_client.card import CardError, DeviceKey, HttpApi, identify_without_pin

        if not self.settings.device_dir:
            raise CardError("this tablet has no device key", code="device_key_missing")
        result: dict[str, Any] = identify_without_pin(
            api=HttpApi(self.server_url, token),
            reader=self._reader(),
            device=DeviceKey.load(self.settings.device_dir),
            transport_id=transport_id,
            reason=reason,
            face_match_confirmed=face_match_confirmed,
        )
        return result


def _sha_prefix(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()[:12]


# --- the stream ------------------------------------------------------------------------


@dataclass
class StreamSettings:
    relay_url: str = "ws://127.0.0.1:8765"
    source: str = "synthetic"
    codec: str = "h264"
    width: int = 640
    height: int = 360
    fps: float = 12.0


class StreamPort:
    """One streamer at a time, run on its own event loop thread."""

    def __init__(self, settings: StreamSettings, on_change: Callable[[], None]) -> None:
        self.settings = settings
        self.on_change = on_change
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._streamer: Any = None
        self.transport_id: int | None = None
        self.error = ""

    def status(self) -> dict[str, Any]:
        running = self._thread is not None and self._thread.is_alive()
        out: dict[str, Any] = {
            "running": running,
            "transport_id": self.transport_id if running else None,
            "error": self.error,
        }
        if running and self._streamer is not None:
            stats = self._streamer.stats
            out["stats"] = {
                "sent_frames": stats.video_frames,
                "records_sent": stats.records_sent,
                "connected": self._streamer.connected.is_set(),
            }
        return out

    def start(self, *, token: str, transport_id: int) -> dict[str, Any]:
        from ambulance_client.capture import open_source
        from ambulance_client.monitor import SimulatedMonitor
        from ambulance_client.streamer import StreamConfig, Streamer

        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                if self.transport_id == transport_id:
                    return self.status()
                self._stop_locked()
            s = self.settings
            source = open_source(s.source, width=s.width, height=s.height, fps=s.fps)
            streamer = Streamer(
                StreamConfig(
                    relay_url=s.relay_url, token=token, transport_id=transport_id, codec=s.codec
                ),
                source=source,
                monitor=SimulatedMonitor(),
            )
            ready = threading.Event()
            self.error = ""
            self.transport_id = transport_id
            self._streamer = streamer

            def run() -> None:
                loop = asyncio.new_event_loop()
                self._loop = loop
                self._stop = asyncio.Event()
                ready.set()
                try:
                    loop.run_until_complete(streamer.run(self._stop))
                except Exception as exc:  # the crew sees why the stream ended
                    self.error = getattr(exc, "code", type(exc).__name__)
                    log.warning("stream ended", extra={"error": self.error})
                finally:
                    with contextlib.suppress(Exception):
                        source.close()
                    loop.close()
                    self.on_change()

            self._thread = threading.Thread(target=run, name="stream", daemon=True)
            self._thread.start()
            ready.wait(5)
        self.on_change()
        return self.status()

    def _stop_locked(self) -> None:
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._thread = None
        self._streamer = None

    def stop(self) -> dict[str, Any]:
        with self._lock:
            self._stop_locked()
        self.on_change()
        return self.status()


# --- the service -------------------------------------------------------------------------


class TabletService:
    """State shared by the local pages: link, outbox, card and stream."""

    def __init__(
        self,
        *,
        server_url: str,
        relay_url: str,
        card: CardSettings | None = None,
        stream: StreamSettings | None = None,
        probe_interval_s: float = 2.0,
    ) -> None:
        self.upstream = Upstream(server_url)
        self.relay_url = relay_url
        self.outbox = TimelineOutbox()
        self.card = CardPort(card or CardSettings(), server_url)
        self.stream = StreamPort(stream or StreamSettings(relay_url=relay_url), self.changed)
        self.online = True
        self.last_synced_at: str | None = None
        self.probe_interval_s = probe_interval_s
        self._listeners: set[queue.Queue[dict[str, Any]]] = set()
        self._listeners_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # status ----------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        return {
            "online": self.online,
            "queued": len(self.outbox),
            "pending": self.outbox.pending(),
            "rejected": list(self.outbox.rejected),
            "last_synced_at": self.last_synced_at,
            "stream": self.stream.status(),
            "server": self.upstream.base_url,
        }

    def subscribe(self) -> queue.Queue[dict[str, Any]]:
        q: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=100)
        with self._listeners_lock:
            self._listeners.add(q)
        return q

    def unsubscribe(self, q: queue.Queue[dict[str, Any]]) -> None:
        with self._listeners_lock:
            self._listeners.discard(q)

    def changed(self) -> None:
        snapshot = self.status()
        with self._listeners_lock:
            listeners = list(self._listeners)
        for q in listeners:
            with contextlib.suppress(queue.Full):
                q.put_nowait(snapshot)

    def reached(self) -> None:
        was = self.online
        self.online = True
        self.last_synced_at = utcnow_iso()
        if not was:
            log.info("server reachable again")
            self._wake.set()
        self.changed()

    def lost(self) -> None:
        if self.online:
            log.info("server unreachable")
            self.online = False
            self.changed()
        self._wake.set()

    # timeline -----------------------------------------------------------------------------
    def record(self, *, token: str, transport_id: int, kind: str) -> tuple[SendResult, QueuedEvent]:
        item = self.outbox.add(transport_id=transport_id, kind=kind, token=token)
        result = self.flush().get(item.key, SendResult("queued"))
        if kind == "handover" and self.stream.transport_id == transport_id:
            # The patient is with the ER now: nothing more to stream. Stopping waits for
            # the streamer to wind down, which the crew's tap need not wait for.
            threading.Thread(target=self.stream.stop, name="stream-stop", daemon=True).start()
        self.changed()
        return result, item

    def flush(self) -> dict[str, SendResult]:
        before = len(self.outbox)
        results = self.outbox.flush(self.upstream)
        if len(self.outbox) and not results:
            # Nothing went out: find out whether the link is down.
            self.probe()
        elif results:
            self.reached()
        if before != len(self.outbox):
            self.changed()
        return results

    def probe(self) -> bool:
        try:
            status, _, _ = self.upstream.call("GET", "/healthz")
        except Offline:
            self.lost()
            return False
        if status >= 500:
            self.lost()
            return False
        self.reached()
        return True

    # background ----------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="tablet-sync", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stopping.set()
        self._wake.set()
        self.stream.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        """Probe the link, and replay the outbox as soon as the server answers again."""
        while not self._stopping.is_set():
            interval = self.probe_interval_s if (not self.online or len(self.outbox)) else 10.0
            self._wake.wait(interval)
            self._wake.clear()
            if self._stopping.is_set():
                break
            if self.probe() and len(self.outbox):
                self.flush()


# --- the Flask app -------------------------------------------------------------------------


def problem(status: int, code: str, detail: str = "", **extra: Any) -> Response:
    resp = jsonify({"status": status, "code": code, "title": code, "detail": detail, **extra})
    resp.status_code = status
    resp.mimetype = "application/problem+json"
    return resp


def _bearer() -> str:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def create_agent_app(service: TabletService) -> Flask:
    app = Flask(
        __name__,
        static_folder=str(WEB_DIR / "static"),
        static_url_path="/static",
        template_folder=str(WEB_DIR / "templates"),
    )
    app.extensions["tablet"] = service

    @app.after_request
    def headers(resp: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            resp.headers.setdefault(name, value)
        if request.path.startswith(("/local/", "/api/")):
            resp.headers.setdefault("Cache-Control", "no-store")
        return resp

    @app.get("/")
    def tablet_page() -> str:
        return render_template("tablet.html", title_key="tablet.title", subtitle_key="")

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok", "online": service.online})

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
            stream_with_context(events()),
            mimetype="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.post("/local/timeline")
    def local_timeline() -> Response:
        token = _bearer()
        if not token:
            return problem(401, "unauthenticated", "sign in first")
        body = request.get_json(silent=True) or {}
        kind = body.get("kind")
        transport_id = body.get("transport_id")
        if not isinstance(kind, str) or not isinstance(transport_id, int):
            return problem(400, "validation_failed", "kind and transport_id are required")
        result, item = service.record(token=token, transport_id=transport_id, kind=kind)
        if result.status == "rejected":
            payload = result.body if isinstance(result.body, dict) else {}
            return problem(
                result.http_status,
                str(payload.get("code", "rejected")),
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

    def card_error(exc: Exception) -> Response:
        code = getattr(exc, "code", "card_error")
        status = {
            "wrong_pin": 400,
            "pin_format": 400,
            "card_locked": 423,
            "no_card": 404,
            "no_reader": 503,
            "card_unreadable": 503,
            "device_key_missing": 409,
            "offline": 503,
        }.get(code, getattr(exc, "status", 0) or 400)
        if code == "offline":
            service.lost()
        return problem(status, code, str(exc), tries_left=getattr(exc, "tries_left", None))

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
            return problem(401, "unauthenticated", "sign in first")
        if not isinstance(pin, str) or not isinstance(transport_id, int):
            return problem(400, "validation_failed", "pin and transport_id are required")
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
            return problem(401, "unauthenticated", "sign in first")
        if not isinstance(transport_id, int) or not isinstance(reason, str):
            return problem(400, "validation_failed", "transport_id and reason are required")
        if body.get("face_match_confirmed") is not True:
            return problem(400, "face_match_required", "confirm the face matches the card photo")
        try:
            result = service.card.pinless(
                token=token, transport_id=transport_id, reason=reason, face_match_confirmed=True
            )
        except (CardError, ServerError) as exc:
            return card_error(exc)
        service.reached()
        return jsonify(result)

    @app.post("/local/stream/start")
    def stream_start() -> Response:
        token = _bearer()
        body = request.get_json(silent=True) or {}
        transport_id = body.get("transport_id")
        if not token:
            return problem(401, "unauthenticated", "sign in first")
        if not isinstance(transport_id, int):
            return problem(400, "validation_failed", "transport_id is required")
        try:
            return jsonify({"stream": service.stream.start(token=token, transport_id=transport_id)})
        except Exception as exc:  # a camera that will not open is the crew's to know
            log.warning("stream start failed", extra={"error": type(exc).__name__})
            return problem(503, getattr(exc, "code", "stream_failed"), str(exc))

    @app.post("/local/stream/stop")
    def stream_stop() -> Response:
        return jsonify({"stream": service.stream.stop()})

    @app.route("/api/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def proxy(rest: str) -> Response:
        path = f"/api/{rest}"
        if request.query_string:
            path += "?" + request.query_string.decode()
        headers = {h: request.headers[h] for h in FORWARDED_REQUEST_HEADERS if h in request.headers}
        body = request.get_data() if request.method in ("POST", "PUT", "PATCH") else None
        if rest == "v1/events":
            return _proxy_stream(service, path, headers)
        try:
            status, resp_headers, data = service.upstream.call(
                request.method, path, body=body, headers=headers
            )
        except Offline as exc:
            service.lost()
            return problem(503, "offline", f"the server is unreachable: {exc}")
        service.reached()
        resp = Response(data, status=status)
        for name, value in resp_headers:
            if name.lower() not in HOP_HEADERS:
                resp.headers[name] = value
        return resp

    return app


def _proxy_stream(service: TabletService, path: str, headers: dict[str, str]) -> Response:
    """Forward the server's event stream chunk by chunk, without buffering."""
    try:
        conn, resp = service.upstream.open("GET", path, headers=headers, timeout_s=60)
    except Offline as exc:
        service.lost()
        return problem(503, "offline", f"the server is unreachable: {exc}")
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
        stream_with_context(chunks()),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


# --- running ---------------------------------------------------------------------------------


def serve(service: TabletService, host: str, port: int) -> None:
    from werkzeug.serving import make_server

    app = create_agent_app(service)
    service.start()
    server = make_server(host, port, app, threaded=True)
    log.info("tablet page at http://%s:%d/", host, port)
    try:
        server.serve_forever()
    finally:
        service.close()
