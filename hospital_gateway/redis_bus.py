"""Sharing streams between relay processes through Redis pub/sub.

Several relays run behind one address; a tablet publishes to one of them and
ER viewers may land on any other. The relay that holds the publisher forwards
every frame to ``<prefix>stream:<transport>``; a relay with viewers of that
transport subscribes to it, and to the relay's own text messages to viewers (the
patient analysis, JSON: a frame starts with ``EV``, a message with ``{``) on the same
channel, so that they keep their order. Control messages (``ems_contracts.control``: a
keyframe request from a relay whose viewer waits for one, a relay announcing it
holds the publisher now) go the other way on ``<prefix>ctl:<transport>``.
Transport updates from the API (``ems.events``) trigger an immediate re-check
of the viewers' authorisation. The voice line between the crew and the MC doctor has
a channel of its own, ``<prefix>talk:<transport>``, to which every relay with someone
on that line subscribes: audio frames (dropped while Redis lags), and each relay's
``talk_peers`` (the roles on the line there) when they change and every few seconds.

Each message starts with the sending relay's 16-byte id so that a relay ignores
its own echo. Records (ECG, vitals) are stored only by the publisher's relay
before they are forwarded, so the bus never causes a second copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

from ems.events import CHANNEL as EVENTS_CHANNEL
from ems_contracts import control

log = logging.getLogger("hospital_gateway.redis")

FrameHandler = Callable[[int, bytes], None]
ControlHandler = Callable[[int, control.Message], None]
UpdateHandler = Callable[[int], None]
PeersHandler = Callable[[int, bytes, list[str]], None]

# Events from the API that may change who can see a transport.
TRANSPORT_EVENTS = ("transport.updated", "transport.rerouted", "request.accepted")
# After a PUBLISH of a stream's frame reached no relay, its video waits this long
# before the next probe (records, sent every second, probe as well).
UNHEARD_HOLD_S = 1.0


class RedisBus:
    def __init__(
        self,
        url: str,
        *,
        prefix: str = "ems:relay:",
        events_channel: str = EVENTS_CHANNEL,
        queue_size: int = 512,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.events_channel = events_channel
        self.origin = uuid.uuid4().bytes
        self._redis: aioredis.Redis = aioredis.Redis.from_url(url)
        self._channels: set[str] = {events_channel}
        self._pubsub: Any = None
        self._out: deque[tuple[str, bytes]] = deque()
        self._out_ready = asyncio.Event()
        self._queue_size = queue_size
        self._tasks: list[asyncio.Task[None]] = []
        self.on_frame: FrameHandler = lambda _t, _raw: None
        self.on_control: ControlHandler = lambda _t, _msg: None
        self.on_stream_message: ControlHandler = lambda _t, _msg: None
        self.on_transport_update: UpdateHandler = lambda _t: None
        self.on_talk_frame: FrameHandler = lambda _t, _raw: None
        # (transport, the sending relay's id, the roles on the line there)
        self.on_talk_peers: PeersHandler = lambda _t, _origin, _roles: None
        self.dropped = 0
        # Video of a stream that no other relay listens to is not published: the
        # answer to each PUBLISH says how many relays received it. Records still go
        # (one a second) and serve as the probe; a keyframe request from another
        # relay reopens the stream at once.
        self._unheard_until: dict[str, float] = {}
        self.unheard_skipped = 0

    def stream_channel(self, transport_id: int) -> str:
        return f"{self.prefix}stream:{transport_id}"

    def control_channel(self, transport_id: int) -> str:
        return f"{self.prefix}ctl:{transport_id}"

    def talk_channel(self, transport_id: int) -> str:
        return f"{self.prefix}talk:{transport_id}"

    async def start(self) -> None:
        await self._redis.ping()
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(*self._channels)
        self._tasks = [
            asyncio.create_task(self._read(), name="redis-read"),
            asyncio.create_task(self._write(), name="redis-write"),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
        with contextlib.suppress(Exception):
            await self._redis.aclose()

    # --- subscriptions --------------------------------------------------------

    async def _subscribe(self, channel: str) -> None:
        if channel not in self._channels:
            self._channels.add(channel)
            if self._pubsub is not None:
                await self._pubsub.subscribe(channel)

    async def _unsubscribe(self, channel: str) -> None:
        if channel in self._channels:
            self._channels.discard(channel)
            if self._pubsub is not None:
                await self._pubsub.unsubscribe(channel)

    async def watch(self, transport_id: int) -> None:
        """Receive a transport's frames here (this relay has viewers of it)."""
        await self._subscribe(self.stream_channel(transport_id))

    async def unwatch(self, transport_id: int) -> None:
        await self._unsubscribe(self.stream_channel(transport_id))

    async def serve(self, transport_id: int) -> None:
        """Receive control messages for a transport whose publisher is here."""
        await self._subscribe(self.control_channel(transport_id))

    async def unserve(self, transport_id: int) -> None:
        await self._unsubscribe(self.control_channel(transport_id))
        self._unheard_until.pop(self.stream_channel(transport_id), None)

    async def join_talk(self, transport_id: int) -> None:
        """Receive a transport's voice line here (someone on it is connected here)."""
        await self._subscribe(self.talk_channel(transport_id))

    async def leave_talk(self, transport_id: int) -> None:
        await self._unsubscribe(self.talk_channel(transport_id))

    # --- publishing -----------------------------------------------------------

    def publish_frame(self, transport_id: int, raw: bytes, *, droppable: bool) -> None:
        """Queue a frame for the other relays. Video is dropped while Redis lags;
        records are always queued (they arrive at the pace of the tablet's acks)."""
        channel = self.stream_channel(transport_id)
        if droppable and self._unheard_until.get(channel, 0.0) > time.monotonic():
            self.unheard_skipped += 1
            return
        if droppable and len(self._out) >= self._queue_size:
            self.dropped += 1
            return
        self._out.append((channel, self.origin + raw))
        self._out_ready.set()

    def publish_to_viewers(self, transport_id: int, message: control.Message) -> None:
        """Queue a message for the stream's viewers on the other relays (never dropped)."""
        data = self.origin + message.to_json().encode()
        self._out.append((self.stream_channel(transport_id), data))
        self._out_ready.set()

    def publish_control(self, transport_id: int, message: control.Message) -> None:
        data = self.origin + message.to_json().encode()
        self._out.append((self.control_channel(transport_id), data))
        self._out_ready.set()

    def publish_talk(self, transport_id: int, raw: bytes) -> None:
        """An audio frame for the other relays: late speech is useless, so it is
        dropped rather than queued behind a lagging Redis."""
        if len(self._out) >= self._queue_size:
            self.dropped += 1
            return
        self._out.append((self.talk_channel(transport_id), self.origin + raw))
        self._out_ready.set()

    def publish_talk_peers(self, transport_id: int, roles: list[str]) -> None:
        data = self.origin + control.TalkPeers(roles=roles).to_json().encode()
        self._out.append((self.talk_channel(transport_id), data))
        self._out_ready.set()

    async def _write(self) -> None:
        while True:
            if not self._out:
                self._out_ready.clear()
                await self._out_ready.wait()
                continue
            # Everything queued goes in one round trip: one PUBLISH awaited per
            # frame made the writer, not Redis, the limit at 30 streams × 15 fps.
            batch = [self._out[i] for i in range(min(len(self._out), 256))]
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for channel, data in batch:
                        pipe.publish(channel, data)
                    receivers = await pipe.execute()
            except Exception as exc:  # Redis down: keep serving local viewers, retry
                log.warning("redis publish failed", extra={"error": type(exc).__name__})
                await asyncio.sleep(0.5)
                continue
            for _ in batch:
                self._out.popleft()
            now = time.monotonic()
            stream_prefix = self.prefix + "stream:"
            for (channel, _), count in zip(batch, receivers, strict=False):
                if not channel.startswith(stream_prefix):
                    continue
                if count == 0:
                    self._unheard_until[channel] = now + UNHEARD_HOLD_S
                else:
                    self._unheard_until.pop(channel, None)

    # --- receiving ------------------------------------------------------------

    async def _read(self) -> None:
        backoff = 0.2
        while True:
            try:
                message = await self._pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=1.0
                )
                backoff = 0.2
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("redis subscription lost", extra={"error": type(exc).__name__})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                with contextlib.suppress(Exception):
                    await self._pubsub.aclose()
                    self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
                    await self._pubsub.subscribe(*self._channels)
                continue
            if message is None or message.get("type") != "message":
                continue
            try:
                self._dispatch(message["channel"], message["data"])
            except Exception:
                log.exception("bad message on the relay bus")

    def _dispatch(self, channel_raw: bytes | str, data: bytes) -> None:
        channel = channel_raw.decode() if isinstance(channel_raw, bytes) else channel_raw
        if channel == self.events_channel:
            event = json.loads(data)
            if event.get("type") in TRANSPORT_EVENTS or str(event.get("type", "")).startswith(
                "transport."
            ):
                payload = event.get("data") or {}
                tid = payload.get("transport_id", payload.get("id"))
                if isinstance(tid, int):
                    self.on_transport_update(tid)
            return
        if data[:16] == self.origin:
            return
        body = data[16:]
        kind, _, tid_text = channel.removeprefix(self.prefix).partition(":")
        if not tid_text.isdigit():
            return
        if kind == "talk":
            if body[:1] == b"{":
                peers = control.parse_control(body)
                if isinstance(peers, control.TalkPeers):
                    self.on_talk_peers(int(tid_text), bytes(data[:16]), list(peers.roles))
            else:
                self.on_talk_frame(int(tid_text), body)
            return
        if kind == "stream" and body[:1] == b"{":
            self.on_stream_message(int(tid_text), control.parse_control(body))
        elif kind == "stream":
            self.on_frame(int(tid_text), body)
        elif kind == "ctl":
            # Another relay has viewers of this stream now: publish its video again.
            self._unheard_until.pop(self.stream_channel(int(tid_text)), None)
            self.on_control(int(tid_text), control.parse_control(body))
