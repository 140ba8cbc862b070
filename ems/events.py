"""Live updates for the pages: server-sent events fed by an in-process broker,
or by Redis pub/sub when ``REDIS_URL`` is set so that every worker sees every event.

Services call ``emit``; events are held until the request's transaction commits,
so that no page ever shows a change that was rolled back.

A stream lives as long as its holder's access: ``sse_stream`` asks a re-check at
least every ``EVENT_STREAM_RECHECK_S`` and ends with a ``stream.closed`` event once
the token, the duty or the audience no longer holds. ``StreamSlots`` bounds the
streams open in this process, per user and in all; with Redis each worker keeps its
own count, so the per-user bound is per process too.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app, g, has_request_context

from ems.errors import RateLimited

CHANNEL = "ems:events"
# What a refused stream is told to wait: a slot frees when a page closes or its
# socket is found dead, within a heartbeat or two.
STREAM_RETRY_AFTER_S = 10


@dataclass(frozen=True)
class Event:
    type: str
    data: dict[str, Any]
    # Audience: roles that see it; hospital_id / unit_id narrow it further.
    roles: tuple[str, ...] = ("dispatcher", "admin")
    hospital_id: int | None = None
    unit_id: int | None = None
    # Narrowed to these accounts (the MC doctors on the roster); None: no such narrowing.
    user_ids: tuple[int, ...] | None = None

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
                "user_ids": list(self.user_ids) if self.user_ids is not None else None,
            },
            ensure_ascii=False,
            default=str,
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> Event:
        d = json.loads(raw)
        users = d.get("user_ids")
        return cls(
            d["type"],
            d["data"],
            tuple(d["roles"]),
            d["hospital_id"],
            d["unit_id"],
            tuple(users) if users is not None else None,
        )


@dataclass(frozen=True)
class Audience:
    """Who holds a stream: the events they may see are the only ones queued for them."""

    role: str
    unit_id: int | None = None
    hospital_id: int | None = None
    user_id: int | None = None

    def sees(self, event: Event) -> bool:
        return visible_to(
            event,
            role=self.role,
            unit_id=self.unit_id,
            hospital_id=self.hospital_id,
            user_id=self.user_id,
        )


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
        self._started = threading.Lock()
        self._subscribed = threading.Event()

    def publish(self, event: Event) -> None:
        self._redis.publish(self.channel, event.to_json())

    def subscribe(self, audience: Audience | None = None) -> queue.Queue[Event]:
        with self._started:
            if self._thread is None:
                self._thread = threading.Thread(target=self._listen, daemon=True)
                self._thread.start()
        # A page whose stream has begun gets every event published after that: wait
        # until Redis has confirmed the subscription (the first page of the process).
        self._subscribed.wait(5)
        return super().subscribe(audience)

    def _listen(self) -> None:
        pubsub = self._redis.pubsub()  # type: ignore[no-untyped-call]
        pubsub.subscribe(self.channel)
        for message in pubsub.listen():
            if message["type"] == "subscribe":
                self._subscribed.set()
            elif message["type"] == "message":
                LocalBroker.publish(self, Event.from_json(message["data"]))


def init_app(app: Flask) -> None:
    url = app.config.get("REDIS_URL")
    # The stream relay listens on the same channel (``RelaySettings.events_channel``);
    # EVENTS_CHANNEL exists so that test runs sharing one Redis server stay apart.
    channel = app.config.get("EVENTS_CHANNEL") or CHANNEL
    app.extensions["ems_events"] = RedisBroker(url, channel) if url else LocalBroker()
    app.extensions["ems_event_slots"] = StreamSlots(
        per_user=int(app.config["EVENT_STREAMS_PER_USER"]),
        per_process=int(app.config["EVENT_STREAMS_PER_PROCESS"]),
    )


def broker() -> LocalBroker:
    b: LocalBroker = current_app.extensions["ems_events"]
    return b


def stream_slots() -> StreamSlots:
    slots: StreamSlots = current_app.extensions["ems_event_slots"]
    return slots


def emit(event: Event) -> None:
    """Publish after the current request commits (at once outside a request)."""
    if has_request_context():
        g.setdefault("pending_events", []).append(event)
    else:
        broker().publish(event)


def flush() -> None:
    for event in g.pop("pending_events", []):
        broker().publish(event)


def visible_to(
    event: Event,
    *,
    role: str,
    unit_id: int | None,
    hospital_id: int | None,
    user_id: int | None = None,
) -> bool:
    if role == "admin":
        return True
    if role not in event.roles:
        return False
    if event.user_ids is not None and user_id not in event.user_ids:
        return False
    if role == "er_staff" and event.hospital_id is not None:
        return event.hospital_id == hospital_id
    if role == "paramedic" and event.unit_id is not None:
        return event.unit_id == unit_id
    return role != "er_staff" or event.hospital_id is not None or "er_staff" in event.roles


class CloseReason(enum.StrEnum):
    """Why the server ends a stream, sent as ``stream.closed`` just before it ends."""

    INVALID_TOKEN = "invalid_token"  # signed out, expired, or the account disabled
    OFF_DUTY = "off_duty"
    ACCESS_CHANGED = "access_changed"  # role, unit or hospital no longer the audience
    DB_UNAVAILABLE = "db_unavailable"  # access could not be checked: reconnect later

    @property
    def sse(self) -> str:
        return f"event: stream.closed\ndata: {json.dumps({'code': self.value})}\n\n"


def close_reason(opened: Audience, *, now: Audience, on_duty: bool) -> CloseReason | None:
    """Whether a stream opened for ``opened`` may go on for a holder now seen as ``now``."""
    if not on_duty:
        return CloseReason.OFF_DUTY
    if now != opened:
        return CloseReason.ACCESS_CHANGED
    return None


class StreamSlot:
    """One open stream's place; giving it back twice is harmless."""

    def __init__(self, slots: StreamSlots, user_id: int) -> None:
        self._slots = slots
        self.user_id = user_id
        self._held = True

    def release(self) -> None:
        self._slots._give_back(self)


@dataclass
class StreamSlots:
    """Bounds on the streams open in this process: each holds a server thread."""

    per_user: int
    per_process: int
    _by_user: dict[int, int] = field(default_factory=dict, init=False)
    _total: int = field(default=0, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def take(self, user_id: int) -> StreamSlot:
        with self._lock:
            if self._by_user.get(user_id, 0) >= self.per_user:
                raise RateLimited(
                    f"at most {self.per_user} live event streams per user; close a page",
                    code="too_many_streams",
                    extra={"retry_after_s": STREAM_RETRY_AFTER_S},
                )
            if self._total >= self.per_process:
                raise RateLimited(
                    "the server holds as many live event streams as it can; retry later",
                    code="stream_capacity",
                    extra={"retry_after_s": STREAM_RETRY_AFTER_S},
                )
            self._by_user[user_id] = self._by_user.get(user_id, 0) + 1
            self._total += 1
        return StreamSlot(self, user_id)

    def _give_back(self, slot: StreamSlot) -> None:
        with self._lock:
            if not slot._held:
                return
            slot._held = False
            self._total -= 1
            left = self._by_user[slot.user_id] - 1
            if left:
                self._by_user[slot.user_id] = left
            else:
                del self._by_user[slot.user_id]

    def open_streams(self, user_id: int | None = None) -> int:
        with self._lock:
            return self._total if user_id is None else self._by_user.get(user_id, 0)


def sse_stream(
    *,
    role: str,
    unit_id: int | None,
    hospital_id: int | None,
    heartbeat_s: float = 5.0,
    recheck: Callable[[], CloseReason | None] | None = None,
    recheck_s: float = 30.0,
    slot: StreamSlot | None = None,
    user_id: int | None = None,
) -> Iterator[str]:
    """The stream of one page: its audience's events, a keep-alive comment after
    ``heartbeat_s`` of silence, and ``recheck()`` whenever ``recheck_s`` has passed,
    events flowing or not; a reason from it is sent as ``stream.closed`` and ends the
    stream. The slot is given back however the stream ends, a dead socket included:
    the next keep-alive written to it fails and the server closes the generator."""
    b = broker()
    q = b.subscribe(Audience(role, unit_id, hospital_id, user_id))
    try:
        yield "retry: 2000\n\n"
        now = time.monotonic()
        last_write = now
        next_check = now + recheck_s if recheck is not None else float("inf")
        while True:
            now = time.monotonic()
            if recheck is not None and now >= next_check:
                reason = recheck()
                if reason is not None:
                    yield reason.sse
                    return
                now = time.monotonic()
                next_check = now + recheck_s
            wait = min(last_write + heartbeat_s, next_check) - now
            try:
                event = q.get(timeout=max(wait, 0.0))
            except queue.Empty:
                if time.monotonic() >= last_write + heartbeat_s:
                    last_write = time.monotonic()
                    yield ": keep-alive\n\n"
                continue
            last_write = time.monotonic()
            yield event.sse
    finally:
        b.unsubscribe(q)
        if slot is not None:
            slot.release()
