"""The tablet's outbox of FDMA timeline events (arrived on scene, patient contact, …).

Each tap becomes an event with its own idempotency key and the tap's time, and
waits here, oldest first, until the server has it. A lost network keeps it queued;
the replay on reconnection sends the same key and the same time, so the server
records it once, at the moment the crew tapped. The tablet's local service
(``ambulance_client.agent``) flushes it on every tap and whenever the link comes
back; the simulated crews (``simulation``) drive this same class.

Given a ``durable.DurableStore``, the queue is on disk too (sealed): an agent killed
mid-outage finds its events again on restart, with their keys and times, and replays
them once. The crew's token is never written down: a replayed event goes with the
token of the crew signed in at the time (``flush(fallback_token=…)``).
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ambulance_client.upstream import Offline, Upstream

if TYPE_CHECKING:
    from ambulance_client.durable import DurableStore


def utcnow_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


@dataclass
class QueuedEvent:
    transport_id: int
    kind: str
    at: str
    key: str
    queued_at: str
    # The crew's token at the time of the tap; held in memory only.
    token: str = field(repr=False, default="")

    def public(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("token")
        return d


@dataclass
class SendResult:
    status: str  # sent | queued | rejected
    http_status: int = 0
    body: Any = None


class TimelineOutbox:
    """FIFO of timeline events not yet confirmed by the server.

    In memory, and on disk when given a store. An event leaves it when the server
    records it (or reports the same key as already recorded) or refuses it for good
    (4xx): a refused event is kept in ``rejected`` so that the crew sees it.

    The queue's lock is held for list operations only, never across a request: one
    flush at a time sends, and a tap during a flush on a hanging link is queued at once
    (the running flush takes it along)."""

    def __init__(self, store: DurableStore | None = None) -> None:
        self.store = store
        self._items: list[QueuedEvent] = []
        self.rejected: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._sending = threading.Lock()
        if store is not None:
            self._items = [QueuedEvent(**e) for e in store.events()]

    def __len__(self) -> int:
        return len(self._items)

    def add(
        self, *, transport_id: int, kind: str, token: str, at: str | None = None
    ) -> QueuedEvent:
        item = QueuedEvent(
            transport_id=transport_id,
            kind=kind,
            at=at or utcnow_iso(),
            key=f"tab-{uuid.uuid4().hex}",
            queued_at=utcnow_iso(),
            token=token,
        )
        with self._lock:
            if self.store is not None:
                self.store.put_event(item.key, item.public())
            self._items.append(item)
        return item

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [i.public() for i in self._items]

    def flush(self, upstream: Upstream, *, fallback_token: str = "") -> dict[str, SendResult]:
        """Send in order until the queue is empty or the server is unreachable.
        Returns the outcome per idempotency key of what left the queue; returns at once
        (nothing) while another flush is sending."""
        done: dict[str, SendResult] = {}
        if not self._sending.acquire(blocking=False):
            return done
        try:
            while True:
                with self._lock:
                    if not self._items:
                        break
                    item = self._items[0]
                token = item.token or fallback_token
                if not token:
                    break  # restored from disk, and no crew signed in yet
                try:
                    status, body = upstream.json(
                        "POST",
                        f"/api/v1/transports/{item.transport_id}/events",
                        {"kind": item.kind, "at": item.at, "idempotency_key": item.key},
                        token,
                    )
                except Offline:
                    break
                if status >= 500 or status in (401, 429):
                    # The server is unwell or the session lapsed: keep it for the next try.
                    break
                with self._lock:
                    self._items.remove(item)
                    if self.store is not None:
                        self.store.delete_event(item.key)
                if status < 300:
                    done[item.key] = SendResult("sent", status, body)
                else:
                    done[item.key] = SendResult("rejected", status, body)
                    self.rejected.append(
                        {
                            **item.public(),
                            "code": (body or {}).get("code", "error"),
                            "status": status,
                        }
                    )
                    del self.rejected[:-20]
        finally:
            self._sending.release()
        return done
