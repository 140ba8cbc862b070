"""Live updates for the pages: server-sent events fed by an in-process broker,
or by Redis pub/sub when ``REDIS_URL`` is set so that every worker sees every event.

Services call ``emit``; events are held until the request's transaction commits,
so that no page ever shows a change that was rolled back.
"""

from __future__ import annotations

import contextlib
import functools
import json
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app, g, has_request_context

CHANNEL = "ems:events"


@dataclass(frozen=True)
class Event:
    type: str
    data: dict[str, Any]
    # Audience: roles that see it; hospital_id / unit_id narrow it further.
    roles: tuple[str, ...] = ("dispatcher", "admin")
    hospital_id: int | None = None
    unit_id: int | None = None

    @functools.cached_property
    def sse(self) -> str:
        """The event as one server-sent event, serialised once for every page."""
        payload = json.dumps(self.data, ensure_ascii=False, default=str)
        return f"event: {self.type}\ndata: {payload}\n\n"

    def to_json(self) -> str:
        return json.dumps(
            {
                "type": self.type,
                "data": self.data,
                "roles": list(self.roles),
                "hospital_id": self.hospital_id,
                "unit_id": self.unit_id,
            },
            ensure_ascii=False,
            default=str,
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> Event:
        d = json.loads(raw)
        return cls(d["type"], d["data"], tuple(d["roles"]), d["hospital_id"], d["unit_id"])


@dataclass(frozen=True)
class Audience:
    """Who holds a stream: the events they may see are the only ones queued for them."""

    role: str
    unit_id: int | None = None
    hospital_id: int | None = None

    def sees(self, event: Event) -> bool:
        return visible_to(event, role=self.role, unit_id=self.unit_id, hospital_id=self.hospital_id)


@dataclass
class LocalBroker:
    # Each queue with the audience it serves (None: every event).
    subscribers: dict[queue.Queue[Event], Audience | None] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def publish(self, event: Event) -> None:
        with self.lock:
            subs = list(self.subscribers.items())
        for q, audience in subs:
            # Filtered here, not in the stream's thread: a page is not woken for an
            # event it may not see (an ER for every unit's position fix).
            if audience is not None and not audience.sees(event):
                continue
            # A stalled page loses live events; it reloads its state when it reconnects.
            with contextlib.suppress(queue.Full):
                q.put_nowait(event)

    def subscribe(self, audience: Audience | None = None) -> queue.Queue[Event]:
        q: queue.Queue[Event] = queue.Queue(maxsize=1000)
        with self.lock:
            self.subscribers[q] = audience
        return q

    def unsubscribe(self, q: queue.Queue[Event]) -> None:
        with self.lock:
            self.subscribers.pop(q, None)


class RedisBroker(LocalBroker):
    """Publishes through Redis; one listener thread per process feeds local subscribers."""

    def __init__(self, url: str, channel: str = CHANNEL) -> None:
        super().__init__()
        import redis

        self._redis = redis.Redis.from_url(url)
        self.channel = channel
        self._thread: threading.Thread | None = None

    def publish(self, event: Event) -> None:
        self._redis.publish(self.channel, event.to_json())

    def subscribe(self, audience: Audience | None = None) -> queue.Queue[Event]:
        if self._thread is None:
            self._thread = threading.Thread(target=self._listen, daemon=True)
            self._thread.start()
        return super().subscribe(audience)

    def _listen(self) -> None:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(self.channel)
        for message in pubsub.listen():
            LocalBroker.publish(self, Event.from_json(message["data"]))


def init_app(app: Flask) -> None:
    url = app.config.get("REDIS_URL")
    # The stream relay listens on the same channel (``RelaySettings.events_channel``);
    # EVENTS_CHANNEL exists so that test runs sharing one Redis server stay apart.
    channel = app.config.get("EVENTS_CHANNEL") or CHANNEL
    app.extensions["ems_events"] = RedisBroker(url, channel) if url else LocalBroker()


def broker() -> LocalBroker:
    b: LocalBroker = current_app.extensions["ems_events"]
    return b


def emit(event: Event) -> None:
    """Publish after the current request commits (at once outside a request)."""
    if has_request_context():
        g.setdefault("pending_events", []).append(event)
    else:
        broker().publish(event)


def flush() -> None:
    for event in g.pop("pending_events", []):
        broker().publish(event)


def visible_to(event: Event, *, role: str, unit_id: int | None, hospital_id: int | None) -> bool:
    if role == "admin":
        return True
    if role not in event.roles:
        return False
    if role == "er_staff" and event.hospital_id is not None:
        return event.hospital_id == hospital_id
    if role == "paramedic" and event.unit_id is not None:
        return event.unit_id == unit_id
    return role != "er_staff" or event.hospital_id is not None or "er_staff" in event.roles


def sse_stream(
    *, role: str, unit_id: int | None, hospital_id: int | None, heartbeat_s: float = 15.0
) -> Iterator[str]:
    b = broker()
    q = b.subscribe(Audience(role, unit_id, hospital_id))
    try:
        yield "retry: 2000\n\n"
        while True:
            try:
                event = q.get(timeout=heartbeat_s)
            except queue.Empty:
                yield ": keep-alive\n\n"
                continue
            yield event.sse
    finally:
        b.unsubscribe(q)
