"""The tablet's outbox of API writes the crew made offline: requests for instruction.

The page asks medical control through the agent's ``/api`` proxy
(``POST /api/v1/transports/{id}/instruction-requests`` with an ``Idempotency-Key``).
When the server cannot be reached the agent keeps the request here, as the page sent
it (path, body, key), and answers ``202 queued``; it is sent again, oldest first, with
the same key until the server answers. The server runs a write once per key and caller
(``Idempotency-Key``, ``ems/api.py``) and hands a retry the stored answer, so a request
that reached the server before the link died is not asked twice.

Given a ``durable.DurableStore`` the queue is on disk too (sealed), and survives a crash
of the agent. As in ``timeline_outbox``, the crew's token is held in memory only: a
request restored from disk goes with the token of the crew signed in at the time. The
queue itself is ``keyed_outbox``'s, shared with the timeline events.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from ambulance_client.durable import REQUESTS, DurableStore
from ambulance_client.keyed_outbox import KeyedOutbox, utcnow_iso
from ambulance_client.upstream import Upstream
from ems_contracts.codes import ErrorCode as E

IDEMPOTENCY_HEADER = "Idempotency-Key"
# What the server accepts as a key (ems/idempotency): checked here too, so that a
# request queued offline is not refused for its key only once it is replayed.
KEY_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
# The writes the agent queues when the server is unreachable: (method, path) → transport.
QUEUEABLE = (("POST", re.compile(r"/api/v1/transports/(\d+)/instruction-requests")),)
# Answers that mean "not now": the request stays queued. A key still being processed
# (409 idempotency_in_progress) is the same: its first try has not finished.
RETRY_STATUSES = frozenset({401, 429, 502, 503, 504})


def queueable(method: str, path: str) -> int | None:
    """The transport of a write the agent may queue offline, else None."""
    for m, pattern in QUEUEABLE:
        match = pattern.fullmatch(path)
        if method == m and match:
            return int(match.group(1))
    return None


def new_key() -> str:
    return f"tab-{uuid.uuid4().hex}"


@dataclass
class QueuedRequest:
    key: str
    method: str
    path: str
    body: str  # the JSON text the page sent, replayed byte for byte
    transport_id: int
    queued_at: str
    token: str = field(repr=False, default="")

    def stored(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("token")
        return d

    def public(self) -> dict[str, Any]:
        """What the page shows: which request waits, never the crew's note."""
        return {
            "idempotency_key": self.key,
            "transport_id": self.transport_id,
            "path": self.path,
            "queued_at": self.queued_at,
        }


def _send(upstream: Upstream, item: QueuedRequest, token: str) -> tuple[int, bytes] | None:
    status, _, data = upstream.call(
        item.method,
        item.path,
        body=item.body.encode(),
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {token}",
            IDEMPOTENCY_HEADER: item.key,
        },
    )
    if status >= 500 or status in RETRY_STATUSES or _in_progress(status, data):
        return None
    return status, data


class RequestOutbox(KeyedOutbox[QueuedRequest]):
    """FIFO of API writes not yet answered by the server.

    A request the server refuses for good (4xx) leaves the queue and is kept in
    ``rejected`` for the crew to see."""

    def __init__(self, store: DurableStore | None = None) -> None:
        super().__init__(
            store, table=REQUESTS, restore=QueuedRequest, send=_send, refusal_code=_code
        )

    def add(
        self, *, method: str, path: str, body: str, transport_id: int, key: str, token: str
    ) -> QueuedRequest:
        """Queue a write; one whose key is queued already (the page retried) is not
        queued twice: the one waiting is returned."""
        return self.put(
            QueuedRequest(
                key=key,
                method=method,
                path=path,
                body=body,
                transport_id=transport_id,
                queued_at=utcnow_iso(),
                token=token,
            )
        )


def _code(data: bytes) -> str:
    """The server's code of a refusal; the registry's ``error`` when it sent none."""
    try:
        body = json.loads(data or b"{}")
    except ValueError:
        return E.ERROR
    return str(body.get("code", E.ERROR)) if isinstance(body, dict) else E.ERROR


def _in_progress(status: int, data: bytes) -> bool:
    return status == 409 and _code(data) == E.IDEMPOTENCY_IN_PROGRESS
