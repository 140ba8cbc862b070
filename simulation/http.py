"""A small asyncio HTTP/1.1 JSON client with keep-alive connections.

The simulated users and the load generator run hundreds of clients in one event
loop; this client keeps a few pooled connections per server, measures each
request's latency and never blocks the loop. It speaks only what our API needs:
JSON bodies with ``Content-Length`` and bearer tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


class HttpError(Exception):
    """The server could not be reached or answered something that is not HTTP."""


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed_s: float

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def code(self) -> str:
        """The problem+json ``code`` of an error answer ("" otherwise)."""
        try:
            data = self.json()
        except ValueError:
            return ""
        return str(data.get("code", "")) if isinstance(data, dict) else ""


@dataclass
class Pool:
    """Keep-alive connections to one server, shared by every client of a process."""

    base_url: str
    size: int = 8
    timeout_s: float = 10.0
    # Called with (method, label, status, seconds, problem code) after every request.
    observer: Callable[[str, str, int, float, str], None] | None = None
    _idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = field(default_factory=list)
    _sem: asyncio.Semaphore | None = None

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80

    async def close(self) -> None:
        while self._idle:
            _, writer = self._idle.pop()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        label: str | None = None,
    ) -> Reply:
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.size)
        body = b"" if json_body is None else json.dumps(json_body).encode()
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        if token:
            lines.append(f"Authorization: Bearer {token}")
        if json_body is not None:
            lines.append("Content-Type: application/json")
        lines.append(f"Content-Length: {len(body)}")
        for k, v in (headers or {}).items():
            lines.append(f"{k}: {v}")
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        async with self._sem:
            t0 = time.perf_counter()
            try:
                reply = await asyncio.wait_for(self._exchange(raw), self.timeout_s)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
                if self.observer is not None:
                    self.observer(
                        method, label or path, 0, time.perf_counter() - t0, type(exc).__name__
                    )
                raise HttpError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
            reply.elapsed_s = time.perf_counter() - t0
        if self.observer is not None:
            self.observer(
                method,
                label or path,
                reply.status,
                reply.elapsed_s,
                reply.code if reply.status >= 400 else "",
            )
        return reply

    async def _exchange(self, raw: bytes) -> Reply:
        # A pooled connection may have been closed by the server meanwhile: try it,
        # and on a reset before any byte of the answer, retry once on a fresh one.
        for attempt in (0, 1):
            fresh = not self._idle or attempt == 1
            if fresh:
                reader, writer = await asyncio.open_connection(self.host, self.port)
            else:
                reader, writer = self._idle.pop()
            try:
                writer.write(raw)
                await writer.drain()
                reply, keep = await _read_reply(reader)
            except (OSError, asyncio.IncompleteReadError):
                writer.close()
                if fresh:
                    raise
                continue
            except BaseException:
                writer.close()
                raise
            if keep:
                self._idle.append((reader, writer))
            else:
                writer.close()
            return reply
        raise HttpError("unreachable")


async def _read_reply(reader: asyncio.StreamReader) -> tuple[Reply, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise ValueError(f"not an HTTP answer: {status_line[:60]!r}")
    status = int(parts[1])
    headers: dict[str, str] = {}
    for line in header_lines:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = await _read_chunked(reader)
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    keep = headers.get("connection", "").lower() != "close"
    return Reply(status, headers, body, 0.0), keep


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    out = bytearray()
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return bytes(out)
        out += await reader.readexactly(size)
        await reader.readexactly(2)


@dataclass
class Client:
    """One user's view of the API: a pool and a bearer token."""

    pool: Pool
    token: str | None = None

    async def call(
        self,
        method: str,
        path: str,
        json_body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        label: str | None = None,
    ) -> Reply:
        return await self.pool.request(
            method, path, token=self.token, json_body=json_body, headers=headers, label=label
        )

    async def login(self, username: str, password: str) -> dict[str, Any]:
        reply = await self.call(
            "POST", "/api/v1/auth/token", {"username": username, "password": password}
        )
        if reply.status != 201:
            raise HttpError(f"login as {username}: {reply.status} {reply.code}")
        data: dict[str, Any] = reply.json()
        self.token = str(data["access_token"])
        return data


EVENT_MARK = b"\nevent: "


async def follow_events(
    base_url: str, token: str, *, until: float, on_event: Callable[[], None]
) -> str:
    """Hold the live event stream (``/api/v1/events``) open as a page does, calling
    ``on_event`` for every event, until ``until`` (monotonic). Returns "" when the
    stream lasted, or why it did not (a refusal or a dropped connection)."""
    parts = urlsplit(base_url)
    try:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
    except OSError as exc:
        return f"connect: {type(exc).__name__}"
    try:
        writer.write(
            (
                f"GET /api/v1/events HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        status = head.split(b" ", 2)[1]
        if status != b"200":
            return f"status {status.decode()}"
        tail = b""
        while (left := until - time.monotonic()) > 0:
            try:
                chunk = await asyncio.wait_for(reader.read(65536), min(left, 30.0))
            except TimeoutError:
                continue
            if not chunk:
                return "closed by the server"
            # Every event follows a blank line ("retry:" opens the stream). The tail
            # kept is one byte shorter than the marker, so that a marker split
            # between two reads is counted once and a whole one never twice.
            data = tail + chunk
            for _ in range(data.count(EVENT_MARK)):
                on_event()
            tail = data[-(len(EVENT_MARK) - 1) :]
        return ""
    except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
        return type(exc).__name__
    finally:
        writer.close()
