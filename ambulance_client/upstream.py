"""The tablet's link to the server: plain HTTP, one connection per call.

The link changes under an ambulance (LTE cells, tunnels), so nothing is pooled. A
server that cannot be reached raises ``Offline``, which every caller turns into
what the crew sees: the page proxy answers 503 ``offline``, the timeline outbox
(``ambulance_client.timeline_outbox``) keeps its events for the next try.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import urllib.parse
from dataclasses import dataclass
from typing import Any

from ems_contracts.codes import ErrorCode as E


def tls_context() -> ssl.SSLContext:
    """Trust for the server's TLS front: the system's CAs, or the deployment's own CA
    (``EMS_CA_FILE``); made for each connection, so a renewed CA file is read again.
    Where the front asks tablets for their device certificate (mutual TLS), the agent
    presents the one the card issuer gave it: ``EMS_TLS_DEVICE_DIR`` holds
    ``device.pem`` and ``device.key``."""
    ctx = ssl.create_default_context(cafile=os.environ.get("EMS_CA_FILE") or None)
    device = os.environ.get("EMS_TLS_DEVICE_DIR")
    if device:
        ctx.load_cert_chain(os.path.join(device, "device.pem"), os.path.join(device, "device.key"))
    return ctx


class Offline(Exception):
    """The server cannot be reached."""


@dataclass
class Upstream:
    """HTTP to the server, one connection per call (the link changes under us)."""

    base_url: str
    timeout_s: float = 5.0

    def __post_init__(self) -> None:
        parts = urllib.parse.urlsplit(self.base_url)
        self.scheme = parts.scheme or "http"
        self.netloc = parts.netloc
        self.prefix = parts.path.rstrip("/")

    def connect(self, timeout_s: float | None = None) -> http.client.HTTPConnection:
        timeout = timeout_s or self.timeout_s
        if self.scheme == "https":
            return http.client.HTTPSConnection(self.netloc, timeout=timeout, context=tls_context())
        return http.client.HTTPConnection(self.netloc, timeout=timeout)

    def open(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        conn = self.connect(timeout_s)
        try:
            conn.request(method, self.prefix + path, body=body, headers=headers or {})
            return conn, conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise Offline(str(exc)) from None

    def call(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        conn, resp = self.open(method, path, body=body, headers=headers)
        try:
            data = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            raise Offline(str(exc)) from None
        finally:
            conn.close()
        return resp.status, resp.getheaders(), data

    def json(self, method: str, path: str, payload: Any, token: str) -> tuple[int, Any]:
        status, _, data = self.call(
            method,
            path,
            body=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        try:
            return status, json.loads(data or b"{}")
        except ValueError:
            return status, {"code": E.BAD_GATEWAY, "detail": data[:200].decode(errors="replace")}
