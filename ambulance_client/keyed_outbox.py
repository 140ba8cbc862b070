"""The tablet's queue of writes the server runs once per idempotency key.

One class serves the timeline events (``timeline_outbox``) and the crew's API writes
(``request_outbox``); each says how its items are sent and where they are kept. An item
waits here, oldest first, until the server has it, and every try carries the item's own
key, so a write that reached the server before the link died is recorded once. A network
error or a "not now" answer keeps it and ends the flush (order matters); a refusal for
good (4xx) takes it out and into ``rejected`` (the last 20), where the crew sees it.

Given a ``durable.DurableStore`` each item is on disk (sealed) from ``add`` until it
leaves, and a restarted agent finds it again. The crew's token never is: an item restored
from disk goes with the token of the crew signed in at the time (``flush(fallback_token=…)``).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ambulance_client.upstream import Offline, Upstream

if TYPE_CHECKING:
    from ambulance_client.durable import DurableStore

KEEP_REJECTED = 20


def utcnow_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


@dataclass
class SendResult:
    status: str  # sent | queued | rejected
    http_status: int = 0
    body: Any = None


class Queued(Protocol):
    """An item of the queue: its key, the crew's token (memory only), what is written to
    disk and what the page may see."""

    key: str
    token: str

    def stored(self) -> dict[str, Any]: ...

    def public(self) -> dict[str, Any]: ...


# Sends one item with a token; returns the server's status and body, or None when the
# server cannot take it now (it stays queued). Raises ``Offline`` when unreachable.
type Send[T] = Callable[[Upstream, T, str], tuple[int, Any] | None]


class KeyedOutbox[T: Queued]:
    """FIFO of writes not yet taken by the server, in memory and, given a store, on disk
    in ``table`` (``durable.TIMELINE``, ``durable.REQUESTS``).

    The queue's lock is held for list operations only, never across a request: one flush
    at a time sends, and an item added during a flush on a hanging link is queued at once
    (the running flush takes it along)."""

    def __init__(
        self,
        store: DurableStore | None,
        *,
        table: str,
        restore: Callable[..., T],
        send: Send[T],
        refusal_code: Callable[[Any], str],
    ) -> None:
        self.store = store
        self.table = table
        self._send = send
        self._refusal_code = refusal_code
        self._items: list[T] = []
        self.rejected: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._sending = threading.Lock()
        if store is not None:
            self._items = [restore(**row) for row in store.keyed(table)]

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: T) -> T:
        """Queue ``item``, on disk before this returns; an item whose key is queued already
        (the page retried) is not queued twice: the one waiting is returned."""
        with self._lock:
            waiting = next((i for i in self._items if i.key == item.key), None)
            if waiting is not None:
                return waiting
            if self.store is not None:
                self.store.put_keyed(self.table, item.key, item.stored())
            self._items.append(item)
        return item

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [i.public() for i in self._items]

    def flush(self, upstream: Upstream, *, fallback_token: str = "") -> dict[str, SendResult]:
        """Send in order until the queue is empty or the server cannot take them.
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
                    answer = self._send(upstream, item, token)
                except Offline:
                    break
                if answer is None:
                    break
                status, body = answer
                with self._lock:
                    self._items.remove(item)
                    if self.store is not None:
                        self.store.delete_keyed(self.table, item.key)
                if status < 300:
                    done[item.key] = SendResult("sent", status, body)
                else:
                    done[item.key] = SendResult("rejected", status, body)
                    code = self._refusal_code(body)
                    self.rejected.append({**item.public(), "status": status, "code": code})
                    del self.rejected[:-KEEP_REJECTED]
        finally:
            self._sending.release()
        return done
