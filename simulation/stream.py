"""Light stream clients for the relay: a publisher that sends video-sized frames,
vitals and ECG like a tablet, and a viewer that counts what arrives and how late.

Video payloads are opaque bytes of a realistic size (the relay never decodes
them), so that 30 streams cost the load generator little CPU. Records (vitals,
ECG) go through the tablet's own ``Outbox``: kept until the relay acknowledges
them, sent again after a reconnect, so that each lands exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from ambulance_client.outbox import Outbox
from ems_contracts.frames import (
    HEADER_SIZE,
    Frame,
    Kind,
    decode_header,
    encode_ecg,
    encode_json,
)


def _now_us() -> int:
    return time.time_ns() // 1000


@dataclass
class StreamStats:
    connects: int = 0
    refused: list[str] = field(default_factory=list)
    frames: int = 0
    last_frame_at: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    records_seen: set[int] = field(default_factory=set)
    # When the first video frame of each connection arrived (monotonic clock).
    first_frames: list[float] = field(default_factory=list)

    def back_after(self, moment: float) -> float | None:
        """Seconds from ``moment`` to the first frame of a connection opened after it."""
        later = [t for t in self.first_frames if t > moment]
        return later[0] - moment if later else None


async def _open(url: str, token: str) -> ClientConnection:
    return await connect(
        url,
        additional_headers={"Authorization": f"Bearer {token}"},
        max_size=None,
        compression=None,
        open_timeout=5,
        ping_interval=5,
        ping_timeout=5,
    )


async def _welcomed(ws: ClientConnection, stats: StreamStats) -> bool:
    """Whether the relay's first message admits us; a refusal is counted (by its code)."""
    welcome = json.loads(await asyncio.wait_for(ws.recv(), 5))
    if welcome.get("type") != "welcome":
        stats.refused.append(str(welcome.get("code", welcome.get("type"))))
        await asyncio.sleep(0.5)
        return False
    stats.connects += 1
    return True


async def _connections(
    url: str, token: str, *, end: float, stopped: Callable[[], bool], stats: StreamStats
) -> AsyncGenerator[ClientConnection]:
    """Connections to ``url`` until ``end`` (monotonic) or ``stopped()``: a refused
    attempt is counted and retried with backoff; each connection is closed after use."""
    backoff = 0.1
    while time.monotonic() < end and not stopped():
        try:
            ws = await _open(url, token)
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            stats.refused.append(type(exc).__name__)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 1.0)
            continue
        backoff = 0.1
        try:
            yield ws
        finally:
            with contextlib.suppress(Exception):
                await ws.close()


@dataclass
class Publisher:
    """One ambulance's stream: ``fps`` video frames of ``frame_bytes`` each (a
    keyframe every ``gop`` frames), a vitals record and an ECG record every second."""

    relay_url: str
    transport_id: int
    token: str
    fps: float = 15.0
    frame_bytes: int = 8000
    gop: int = 30
    records: bool = True
    stats: StreamStats = field(default_factory=StreamStats)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    stopped: bool = False

    def __post_init__(self) -> None:
        self.outbox = Outbox(self.transport_id)
        self.produced: list[int] = []
        self._seq = 0
        self._blob = os.urandom(self.frame_bytes)

    @property
    def url(self) -> str:
        return f"{self.relay_url}/v1/transports/{self.transport_id}/publish"

    def add_vitals(self, **values: float) -> int:
        seq = self.outbox.put(Kind.VITALS, encode_json(dict(values)))
        self.produced.append(seq)
        return seq

    def add_ecg(self, samples: list[int], rate_hz: int = 250) -> int:
        seq = self.outbox.put(Kind.ECG, encode_ecg(rate_hz, samples))
        self.produced.append(seq)
        return seq

    async def run(self, duration_s: float) -> None:
        """Publish until ``duration_s`` passed, reconnecting with backoff."""
        end = time.monotonic() + duration_s
        producer = asyncio.create_task(self._produce_records(end)) if self.records else None
        connections = _connections(
            self.url, self.token, end=end, stopped=lambda: self.stopped, stats=self.stats
        )
        try:
            async with contextlib.aclosing(connections):
                async for ws in connections:
                    try:
                        await self._session(ws, end)
                    except ConnectionClosed:
                        pass
                    finally:
                        self.connected.clear()
        finally:
            if producer is not None:
                producer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await producer

    async def _session(self, ws: ClientConnection, end: float) -> None:
        if not await _welcomed(ws, self.stats):
            return
        self.outbox.reconnected()
        self.connected.set()
        reader = asyncio.create_task(self._read_acks(ws))
        try:
            period = 1.0 / self.fps
            # Tablets are not in step with each other: each starts at its own phase
            # of the frame period, so that thirty streams are not thirty-frame bursts.
            next_at = time.monotonic() + random.Random(self.transport_id).uniform(0, period)
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            while time.monotonic() < end and not self.stopped:
                if reader.done():
                    return
                for entry in self.outbox.unsent(limit=200):
                    await ws.send(entry.raw)
                    self.outbox.mark_sent(entry.frame.seq)
                self._seq += 1
                frame = Frame(
                    transport_id=self.transport_id,
                    seq=self._seq,
                    capture_us=_now_us(),
                    kind=Kind.VIDEO_JPEG,
                    keyframe=self._seq % self.gop == 1,
                    payload=self._blob,
                )
                await ws.send(frame.encode())
                next_at += period
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            # Give the last records a moment to be acknowledged before leaving.
            for _ in range(20):
                if len(self.outbox) == 0:
                    break
                await asyncio.sleep(0.1)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await reader

    async def _read_acks(self, ws: ClientConnection) -> None:
        async for message in ws:
            if isinstance(message, bytes):
                continue
            with contextlib.suppress(ValueError):
                msg = json.loads(message)
                if msg.get("type") == "ack":
                    self.outbox.ack([int(s) for s in msg.get("seqs", [])])

    async def _produce_records(self, end: float) -> None:
        rng = random.Random(self.transport_id)
        await asyncio.sleep(rng.uniform(0, 1.0))  # each monitor ticks at its own phase
        while time.monotonic() < end and not self.stopped:
            self.add_vitals(
                hr=rng.randint(60, 130),
                spo2=rng.randint(88, 100),
                bp_sys=rng.randint(90, 170),
                bp_dia=rng.randint(50, 100),
                rr=rng.randint(10, 30),
            )
            self.add_ecg([int(800 * ((i % 50) == 0)) for i in range(250)])
            await asyncio.sleep(1.0)

    @property
    def pending(self) -> int:
        return len(self.outbox)


@dataclass
class Viewer:
    relay_url: str
    transport_id: int
    token: str
    stats: StreamStats = field(default_factory=StreamStats)
    stopped: bool = False

    @property
    def url(self) -> str:
        return f"{self.relay_url}/v1/transports/{self.transport_id}/view"

    async def run(self, duration_s: float) -> None:
        end = time.monotonic() + duration_s
        connections = _connections(
            self.url, self.token, end=end, stopped=lambda: self.stopped, stats=self.stats
        )
        async with contextlib.aclosing(connections):
            async for ws in connections:
                try:
                    await self._session(ws, end)
                except (ConnectionClosed, TimeoutError):
                    pass
                except Exception as exc:  # a broken link must not end the viewer for good
                    self.stats.refused.append(f"{type(exc).__name__}: {exc}")

    async def _session(self, ws: ClientConnection, end: float) -> None:
        if not await _welcomed(ws, self.stats):
            return
        first = True
        while time.monotonic() < end and not self.stopped:
            try:
                message = await asyncio.wait_for(ws.recv(), max(0.1, end - time.monotonic()))
            except TimeoutError:
                return
            if not isinstance(message, bytes) or len(message) < HEADER_SIZE:
                continue
            kind, _tid, seq, capture_us, _key, _n = decode_header(message)
            now = time.monotonic()
            if kind.is_video:
                if first:
                    self.stats.first_frames.append(now)
                    first = False
                self.stats.frames += 1
                self.stats.last_frame_at = now
                self.stats.latencies_ms.append((_now_us() - capture_us) / 1000)
            elif kind.is_record:
                self.stats.records_seen.add(seq)
