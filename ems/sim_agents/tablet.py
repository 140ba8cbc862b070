"""The parts of a paramedic tablet the simulations need: the queue of timeline
events that survives a lost network (each event keeps its idempotency key and its
original time, so a replay records it once), and the real stream publisher
(``ambulance_client.streamer``) with the simulated monitor, counting the records
it produced so that a run can check they all landed exactly once."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ambulance_client.capture import SyntheticSource
from ambulance_client.monitor import SimulatedMonitor
from ambulance_client.streamer import StreamConfig, Streamer
from ems.sim_agents.http import Client, HttpError
from hospital_gateway.protocol import Kind


@dataclass
class QueuedEvent:
    transport_id: int
    kind: str
    at: str
    key: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class EventQueue:
    """Timeline events waiting for the server, oldest first."""

    client: Client
    pending: deque[QueuedEvent] = field(default_factory=deque)
    delivered: list[QueuedEvent] = field(default_factory=list)
    replays: int = 0
    failures: int = 0

    def add(self, transport_id: int, kind: str, **data: Any) -> QueuedEvent:
        event = QueuedEvent(
            transport_id=transport_id,
            kind=kind,
            at=dt.datetime.now(dt.UTC).isoformat(),
            key=f"tablet-{uuid.uuid4().hex}",
            data=data,
        )
        self.pending.append(event)
        return event

    async def flush(self) -> int:
        """Send what is queued, in order, until the first failure; returns how many
        left the queue. An answer lost on the way back is harmless: the resend with
        the same key gets the first result (200, ``replayed``)."""
        sent = 0
        while self.pending:
            event = self.pending[0]
            try:
                reply = await self.client.call(
                    "POST",
                    f"/api/v1/transports/{event.transport_id}/events",
                    {
                        "kind": event.kind,
                        "at": event.at,
                        "idempotency_key": event.key,
                        "data": event.data,
                    },
                    label="/api/v1/transports/<id>/events",
                )
            except HttpError:
                self.failures += 1
                return sent
            if reply.status >= 500:
                self.failures += 1
                return sent
            if reply.status == 200:
                self.replays += 1
            elif reply.status != 201:
                raise RuntimeError(f"{event.kind} refused: {reply.status} {reply.code}")
            self.pending.popleft()
            self.delivered.append(event)
            sent += 1
        return sent


class CountingStreamer(Streamer):
    """The tablet's streamer, remembering the sequence number of every record."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.produced: dict[int, Kind] = {}

    def add_record(self, kind: Kind, payload: bytes, capture_us: int | None = None) -> int:
        seq = super().add_record(kind, payload, capture_us)
        self.produced[seq] = kind
        return seq

    @property
    def unacked(self) -> int:
        return len(self.outbox.unsent()) + self.outbox.in_flight


def make_streamer(
    relay_url: str,
    token: str,
    transport_id: int,
    *,
    video: bool = True,
    width: int = 320,
    height: int = 180,
    backoff_max_s: float = 1.0,
) -> CountingStreamer:
    """A publisher with the simulated monitor (ECG 250 Hz, vitals) and, when
    ``video``, the synthetic moving picture as JPEG (cheap to encode)."""
    config = StreamConfig(
        relay_url=relay_url,
        token=token,
        transport_id=transport_id,
        codec="jpeg",
        video=video,
        backoff_initial_s=0.1,
        backoff_max_s=backoff_max_s,
        vitals_every_s=1.0,
    )
    source = SyntheticSource(width=width, height=height, fps=10) if video else None
    return CountingStreamer(config, source=source, monitor=SimulatedMonitor(seed=transport_id))
