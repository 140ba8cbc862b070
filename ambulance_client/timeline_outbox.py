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
token of the crew signed in at the time (``flush(fallback_token=…)``). The queue itself
is ``keyed_outbox``'s, shared with the crew's requests for instruction.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from ambulance_client.durable import TIMELINE, DurableStore
from ambulance_client.keyed_outbox import KeyedOutbox, utcnow_iso
from ambulance_client.upstream import Upstream
from ems_contracts.codes import ErrorCode as E


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

    def stored(self) -> dict[str, Any]:
        return self.public()


def _post(upstream: Upstream, event: QueuedEvent, token: str) -> tuple[int, Any] | None:
    status, body = upstream.json(
        "POST",
        f"/api/v1/transports/{event.transport_id}/events",
        {"kind": event.kind, "at": event.at, "idempotency_key": event.key},
        token,
    )
    if status >= 500 or status in (401, 429):
        return None  # the server is unwell or the session lapsed: keep it for the next try
    return status, body


def _refusal_code(body: Any) -> str:
    """The server's code of a refusal; the registry's ``error`` when it sent none."""
    return str(body.get("code", E.ERROR)) if isinstance(body, dict) else E.ERROR


class TimelineOutbox(KeyedOutbox[QueuedEvent]):
    """FIFO of timeline events not yet confirmed by the server.

    An event leaves it when the server records it (or reports the same key as already
    recorded) or refuses it for good (4xx): a refused event is kept in ``rejected`` so
    that the crew sees it."""

    def __init__(self, store: DurableStore | None = None) -> None:
        super().__init__(
            store, table=TIMELINE, restore=QueuedEvent, send=_post, refusal_code=_refusal_code
        )

    def add(
        self, *, transport_id: int, kind: str, token: str, at: str | None = None
    ) -> QueuedEvent:
        return self.put(
            QueuedEvent(
                transport_id=transport_id,
                kind=kind,
                at=at or utcnow_iso(),
                key=f"tab-{uuid.uuid4().hex}",
                queued_at=utcnow_iso(),
                token=token,
            )
        )
