"""The paramedic tablet as the simulations run it: the tablet's own code, driven from
asyncio.

- ``Timeline``: the tablet's timeline outbox (``ambulance_client.timeline_outbox``)
  and server link (``ambulance_client.upstream``). Each event keeps its idempotency
  key and its original time until the server has it, so a replay after a lost
  network records it once. The tablet's HTTP is blocking, so each flush runs in a
  worker thread. The wrapper counts what the drills report.
- ``make_streamer``: the tablet's stream publisher (``ambulance_client.streamer``)
  with the simulated monitor. It counts the records it produced, so that a run can
  check they all landed exactly once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from ambulance_client.capture import SyntheticSource
from ambulance_client.monitor import Scenario, SimulatedMonitor
from ambulance_client.streamer import StreamConfig, Streamer
from ambulance_client.timeline_outbox import QueuedEvent, TimelineOutbox
from ambulance_client.upstream import Upstream
from ems_contracts.frames import Kind


@dataclass
class Timeline:
    """One crew's timeline taps, oldest first, through the tablet's outbox."""

    upstream: Upstream
    token: str
    outbox: TimelineOutbox = field(default_factory=TimelineOutbox)
    delivered: list[QueuedEvent] = field(default_factory=list)
    # The server already had the key: an answer lost on the way back, sent again.
    replays: int = 0
    # Flushes that left events queued (server unreachable or unwell).
    failures: int = 0
    _queued: dict[str, QueuedEvent] = field(default_factory=dict, repr=False)

    @classmethod
    def for_server(cls, base_url: str, token: str, *, timeout_s: float = 5.0) -> Timeline:
        return cls(Upstream(base_url, timeout_s=timeout_s), token)

    @property
    def pending(self) -> int:
        return len(self.outbox)

    def add(self, transport_id: int, kind: str) -> QueuedEvent:
        """The crew taps a step: it is queued with the tap's time and its own key."""
        event = self.outbox.add(transport_id=transport_id, kind=kind, token=self.token)
        self._queued[event.key] = event
        return event

    async def flush(self) -> int:
        """Send what is queued, in order, until the first failure; returns how many
        reached the server. An event the server refuses for good raises: a simulated
        crew never taps a step the server cannot take."""
        results = await asyncio.to_thread(self.outbox.flush, self.upstream)
        sent = 0
        refused: list[str] = []
        for key, result in results.items():
            event = self._queued.pop(key)
            if result.status == "sent":
                sent += 1
                self.delivered.append(event)
                body = result.body if isinstance(result.body, dict) else {}
                if result.http_status == 200 or body.get("replayed"):
                    self.replays += 1
            else:
                code = result.body.get("code") if isinstance(result.body, dict) else None
                refused.append(f"{event.kind} refused: {result.http_status} {code}")
        if len(self.outbox):
            self.failures += 1
        if refused:
            raise RuntimeError("; ".join(refused))
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
        """Records the relay has not acknowledged yet, sent or not."""
        return len(self.outbox)


def make_streamer(
    relay_url: str,
    token: str,
    transport_id: int,
    *,
    video: bool = True,
    width: int = 320,
    height: int = 180,
    backoff_max_s: float = 1.0,
    scenario: Scenario = "stable",
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
    return CountingStreamer(
        config, source=source, monitor=SimulatedMonitor(seed=transport_id, scenario=scenario)
    )
