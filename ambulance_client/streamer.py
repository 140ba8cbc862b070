"""The tablet's publisher: video, ECG and vitals of one transport to the relay.

Three activities share one WebSocket: the monitor fills the outbox whether or not
the link is up; records go out in order with a bounded window and leave the
outbox only when the relay acknowledges them (stored); video is captured and
encoded in worker threads, only while connected, and skipped — never queued —
when the uplink falls behind. When the link drops the streamer reconnects with
exponential backoff and jitter, resends every unacknowledged record and starts
the video again on a keyframe. Only an authorisation refusal stops it.

Once the transport has ended (handover recorded while the tablet was offline) the
relay takes the queued records but no video: the streamer stops its video and
drains the outbox. After the relay's grace period the records are refused for
good (``record_grace_expired``): they are marked failed in the outbox, reported,
and the streamer stops instead of retrying forever.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import functools
import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from ambulance_client.adapt import Adapter, Level
from ambulance_client.capture import Source, fit
from ambulance_client.encoder import Encoder, codec_string, make_encoder
from ambulance_client.monitor import SimulatedMonitor
from ambulance_client.outbox import Outbox
from ems_contracts import control
from ems_contracts.codes import ErrorCode as E
from ems_contracts.frames import (
    MAX_FRAME,
    Frame,
    Kind,
    StreamDescription,
    encode_ecg,
    encode_json,
)

log = logging.getLogger("ambulance_client.streamer")

# The relay's codes, by name from the shared registry (ems_contracts.codes).
# Codes after which reconnecting cannot help.
FATAL_CODES = frozenset({E.INVALID_TOKEN, E.UNAUTHENTICATED, E.FORBIDDEN, E.TRANSPORT_NOT_FOUND})
# Codes for which the relay refuses one record for good.
REJECT_CODES = frozenset(
    {E.INVALID_PAYLOAD, E.MALFORMED_FRAME, E.FRAME_TOO_LARGE, E.WRONG_TRANSPORT}
)
# The transport ended longer ago than the relay's grace period: its record is closed.
GRACE_EXPIRED = E.RECORD_GRACE_EXPIRED
# The transport ended: the relay takes records, not video.
ENDED_CODES = frozenset({E.TRANSPORT_COMPLETED, E.TRANSPORT_CANCELLED})
ALERTS_KEPT = 5  # the crew's screen shows the latest few alerts of the stream


class StreamRefused(Exception):
    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code


@dataclass
class StreamConfig:
    relay_url: str
    token: str
    transport_id: int
    codec: str = "h264"  # or "jpeg"
    video: bool = True
    ecg_chunk_s: float = 0.2
    vitals_every_s: float = 2.0
    max_in_flight: int = 256
    backoff_initial_s: float = 0.25
    backoff_max_s: float = 10.0
    ping_interval_s: float = 5.0
    open_timeout_s: float = 5.0


@dataclass
class Stats:
    connects: int = 0
    video_frames: int = 0
    keyframes: int = 0
    skipped_frames: int = 0
    video_bytes: int = 0
    records_sent: int = 0
    last_error: str = ""
    level_changes: list[Level] = field(default_factory=list)


class Streamer:
    def __init__(
        self,
        config: StreamConfig,
        *,
        source: Source | None = None,
        monitor: SimulatedMonitor | None = None,
        outbox: Outbox | None = None,
        adapter: Adapter | None = None,
    ) -> None:
        self.config = config
        self.source = source
        self.monitor = monitor
        # Not ``outbox or …``: an empty outbox is falsy, and a durable one must be kept.
        self.outbox = outbox if outbox is not None else Outbox(config.transport_id)
        self.adapter = adapter or Adapter()
        self.stats = Stats()
        self.connected = asyncio.Event()
        self._records_ready = asyncio.Event()
        self._force_keyframe = True
        self._video_seq = 0
        self._encoder: Encoder | None = None
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="video")
        self._ws: ClientConnection | None = None
        self._records_only = False
        # The relay's patient analysis of this stream, for the crew's screen: the last
        # one, and the alerts it raised (newest last, a few).
        self.analysis: control.Analysis | None = None
        self.alerts: collections.deque[tuple[dt.datetime, control.AnalysisAlert]] = (
            collections.deque(maxlen=ALERTS_KEPT)
        )
        self.on_analysis: Callable[[], None] | None = None

    @property
    def records_only(self) -> bool:
        """The transport ended: the relay takes the queued records, no more video."""
        return self._records_only

    # --- records --------------------------------------------------------------------

    def add_record(self, kind: Kind, payload: bytes, capture_us: int | None = None) -> int:
        seq = self.outbox.put(kind, payload, capture_us)
        self._records_ready.set()
        return seq

    def add_note(self, text: str, **data: str | int | float | bool | None) -> int:
        # The shape of ems_contracts.vitals.StreamNote; the relay validates it.
        return self.add_record(Kind.EVENT, encode_json({"text": text, "data": data}))

    async def _monitor_loop(self) -> None:
        assert self.monitor is not None
        loop = asyncio.get_running_loop()
        chunk = max(int(self.monitor.sample_rate_hz * self.config.ecg_chunk_s), 1)
        period = chunk / self.monitor.sample_rate_hz
        next_at = loop.time()
        next_vitals = next_at
        while True:
            start_us = time.time_ns() // 1000
            self.add_record(
                Kind.ECG, encode_ecg(self.monitor.sample_rate_hz, self.monitor.ecg(chunk)), start_us
            )
            if loop.time() >= next_vitals:
                self.add_record(Kind.VITALS, encode_json(dict(self.monitor.vitals().as_dict())))
                next_vitals += self.config.vitals_every_s
            next_at += period
            await asyncio.sleep(max(next_at - loop.time(), 0))

    # --- the connection loop ----------------------------------------------------------

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Stream until ``stop`` is set; raises StreamRefused on an authorisation refusal."""
        stop = stop or asyncio.Event()
        background = []
        if self.monitor is not None:
            background.append(asyncio.create_task(self._monitor_loop()))
        backoff = self.config.backoff_initial_s
        try:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    await self._session(stop)
                except StreamRefused:
                    raise
                except (OSError, ConnectionClosed, InvalidHandshake, TimeoutError) as exc:
                    self.stats.last_error = type(exc).__name__
                    log.info("relay link lost", extra={"error": type(exc).__name__})
                finally:
                    self.connected.clear()
                    self._ws = None
                if stop.is_set():
                    break
                if time.monotonic() - started > 10:
                    backoff = self.config.backoff_initial_s
                delay = backoff * (0.5 + random.random())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                backoff = min(backoff * 2, self.config.backoff_max_s)
        finally:
            for task in background:
                task.cancel()
            for task in background:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            # A cancelled capture or encode is still running in its thread: wait for
            # it before freeing the encoder (and before the caller closes the
            # source), or the native code would use freed memory.
            await asyncio.get_running_loop().run_in_executor(
                None, functools.partial(self._pool.shutdown, wait=True, cancel_futures=True)
            )
            if self._encoder is not None:
                self._encoder.close()
                self._encoder = None

    async def _session(self, stop: asyncio.Event) -> None:
        url = (
            f"{self.config.relay_url.rstrip('/')}/v1/transports/{self.config.transport_id}/publish"
        )
        try:
            ws = await connect(
                url,
                additional_headers={"Authorization": f"Bearer {self.config.token}"},
                compression=None,
                max_size=MAX_FRAME,
                ping_interval=self.config.ping_interval_s,
                ping_timeout=self.config.ping_interval_s,
                open_timeout=self.config.open_timeout_s,
            )
        except InvalidURI as exc:
            raise StreamRefused(E.INVALID_RELAY_URL, str(exc)) from None
        async with ws:
            first = await asyncio.wait_for(ws.recv(), self.config.open_timeout_s)
            try:
                welcome = control.parse_control(first)
            except control.ControlError as exc:
                # Not the relay we expect (or a broken one): try again later.
                raise ConnectionError(f"{exc.code}: {exc.detail}") from None
            if isinstance(welcome, control.Error):
                code = welcome.code
                if code == GRACE_EXPIRED:
                    self._record_closed(code)
                if code in FATAL_CODES or code in (E.OFF_DUTY, GRACE_EXPIRED):
                    raise StreamRefused(code, welcome.detail)
                raise ConnectionError(code)
            if not isinstance(welcome, control.Welcome):
                raise ConnectionError(f"expected a welcome, got {welcome.type}")
            self._ws = ws
            self.stats.connects += 1
            self.outbox.reconnected()
            self._force_keyframe = True
            self._encoder = None  # a fresh encoder announces the stream anew
            if welcome.scope == "records":
                self._records_only = True
            self.connected.set()
            self._records_ready.set()
            tasks = [
                asyncio.create_task(self._receive(ws)),
                asyncio.create_task(self._send_records(ws)),
                asyncio.create_task(stop.wait()),
            ]
            if self.config.video and self.source is not None and not self._records_only:
                tasks.append(asyncio.create_task(self._send_video(ws)))
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                        await task
            for task in done:
                failure = task.exception()
                if failure is not None:
                    raise failure

    async def _receive(self, ws: ClientConnection) -> None:
        async for message in ws:
            if isinstance(message, bytes):
                continue
            try:
                msg = control.parse_control(message)
            except control.ControlError as exc:
                # One message we cannot read costs nothing: an unacknowledged record
                # is sent again after the next reconnect.
                log.warning("unreadable message from the relay", extra={"detail": exc.detail})
                continue
            if isinstance(msg, control.Ack):
                self.outbox.ack(msg.seqs)
                self._records_ready.set()
            elif isinstance(msg, control.KeyframeRequest):
                self._force_keyframe = True
            elif isinstance(msg, control.Feedback):
                self.adapter.on_feedback(msg.viewers, msg.congested)
            elif isinstance(msg, control.Error):
                self._on_error(msg)
            elif isinstance(msg, control.Analysis) and msg.transport_id == self.config.transport_id:
                self._on_analysis(msg)

    def _on_analysis(self, analysis: control.Analysis) -> None:
        self.analysis = analysis
        self.alerts.extend((analysis.at, alert) for alert in analysis.alerts)
        if self.on_analysis is not None:
            self.on_analysis()

    def analysis_view(self) -> dict[str, Any] | None:
        """The last analysis and the recent alerts as the tablet's page reads them."""
        if self.analysis is None:
            return None
        out: dict[str, Any] = self.analysis.model_dump(mode="json", exclude={"alerts", "type"})
        out["alerts"] = [
            {"at": at.isoformat(), **alert.model_dump(mode="json")} for at, alert in self.alerts
        ]
        return out

    def _on_error(self, error: control.Error) -> None:
        code, seq = error.code, error.seq
        self.stats.last_error = code
        if seq is not None and code in REJECT_CODES:
            self.outbox.reject(seq)
        elif seq is not None and code == GRACE_EXPIRED:
            self.outbox.fail(seq, code)
        elif code == GRACE_EXPIRED:
            self._record_closed(code)
            raise StreamRefused(code, error.detail)
        elif code in ENDED_CODES:
            # The video task ends at its next frame; records keep flowing.
            self._records_only = True
        elif seq is not None and code == E.BUSY:
            self.outbox.retry(seq)
            self._records_ready.set()
        elif code in FATAL_CODES or code in (E.ACCESS_REVOKED, E.INVALID_TOKEN):
            raise StreamRefused(code, error.detail)

    def _record_closed(self, code: str) -> None:
        n = self.outbox.fail_all(code)
        if n:
            log.warning("records refused for good", extra={"code": code, "records": n})

    async def _send_records(self, ws: ClientConnection) -> None:
        while True:
            room = self.config.max_in_flight - self.outbox.in_flight
            entries = self.outbox.unsent(limit=room) if room > 0 else []
            if not entries:
                self._records_ready.clear()
                await self._records_ready.wait()
                continue
            for entry in entries:
                await ws.send(entry.raw)
                self.outbox.mark_sent(entry.frame.seq)
                self.stats.records_sent += 1

    # --- video ----------------------------------------------------------------------

    def _backlog(self, ws: ClientConnection) -> int:
        transport = ws.transport
        return int(transport.get_write_buffer_size()) if transport is not None else 0

    async def _send_video(self, ws: ClientConnection) -> None:
        assert self.source is not None
        loop = asyncio.get_running_loop()
        while True:
            if self._records_only:
                # Parked, not ended: an ended task would end the session (records go on).
                await loop.create_future()
            captured = await loop.run_in_executor(self._pool, self.source.read)
            now = time.monotonic()
            backlog = self._backlog(ws)
            level = self.adapter.decide(backlog, now)
            if level is not None:
                self.stats.level_changes.append(level)
                if self._encoder is not None:
                    self._encoder.close()
                self._encoder = None
            if self.adapter.should_skip_frame(backlog):
                self.stats.skipped_frames += 1
                self._force_keyframe = True
                continue
            if self._encoder is None:
                self._encoder = self._new_encoder()
                await ws.send(self._control_frame())
                self._force_keyframe = True
            lvl = self.adapter.level
            image = fit(captured.image, self._encoder.width, self._encoder.height)
            force, self._force_keyframe = self._force_keyframe, False
            packets = await loop.run_in_executor(
                self._pool, functools.partial(self._encoder.encode, image, force_keyframe=force)
            )
            for packet in packets:
                self._video_seq += 1
                raw = Frame(
                    transport_id=self.config.transport_id,
                    seq=self._video_seq,
                    capture_us=captured.capture_us,
                    kind=packet.kind,
                    keyframe=packet.keyframe,
                    payload=packet.data,
                ).encode()
                await ws.send(raw)
                self.adapter.on_sent(len(raw), time.monotonic())
                self.stats.video_frames += 1
                self.stats.keyframes += int(packet.keyframe)
                self.stats.video_bytes += len(raw)
            # Pace a source faster than the level's frame rate (a 30 fps camera at 10 fps).
            source_fps = getattr(self.source, "fps", lvl.fps) or lvl.fps
            if source_fps > lvl.fps:
                await asyncio.sleep(max(1.0 / lvl.fps - 1.0 / source_fps, 0))

    def _new_encoder(self) -> Encoder:
        lvl = self.adapter.level
        return make_encoder(
            self.config.codec,
            lvl.width,
            lvl.height,
            fps=lvl.fps,
            bitrate_kbps=lvl.bitrate_kbps,
            jpeg_quality=lvl.jpeg_quality,
        )

    def _control_frame(self) -> bytes:
        assert self._encoder is not None
        lvl = self.adapter.level
        codec = "jpeg" if self.config.codec == "jpeg" else codec_string(lvl.width, lvl.height)
        self._video_seq += 1
        return Frame(
            transport_id=self.config.transport_id,
            seq=self._video_seq,
            capture_us=time.time_ns() // 1000,
            kind=Kind.CONTROL,
            keyframe=False,
            payload=StreamDescription(
                codec=codec, width=lvl.width, height=lvl.height, fps=lvl.fps
            ).encode(),
        ).encode()
