"""The tablet's stream port: starting and stopping the patient's stream.

One ``ambulance_client.streamer.Streamer`` at a time publishes the camera and the
monitor of one transport to the relay, on an event loop thread of its own, so that the
page's requests never wait on the stream. ``status`` is what the page shows: running,
for which transport, why it last ended, and a few counters.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ems_contracts.codes import ErrorCode as E

if TYPE_CHECKING:
    from ambulance_client.durable import DurableStore
    from ambulance_client.monitor import Scenario
    from ambulance_client.streamer import Streamer

log = logging.getLogger(__name__)


@dataclass
class StreamSettings:
    relay_url: str = "ws://127.0.0.1:8765"
    source: str = "synthetic"
    codec: str = "h264"
    width: int = 640
    height: int = 360
    fps: float = 12.0
    vitals_every_s: float = 2.0  # the simulated monitor's vital signs
    monitor: Scenario = "stable"  # "arrest": the simulated monitor plays a cardiac arrest


class StreamPort:
    """One streamer at a time, run on its own event loop thread.

    ``on_change`` is called whenever the status may have changed (started, stopped,
    ended on its own), from whichever thread saw it."""

    def __init__(
        self,
        settings: StreamSettings,
        on_change: Callable[[], None],
        *,
        store: DurableStore | None = None,
        before_start: Callable[[int], None] | None = None,
    ) -> None:
        self.settings = settings
        # Called with the transport before its stream opens the records' outbox: the
        # agent's backlog (``backlog``) hands that transport's queued records over.
        self.before_start = before_start
        # The records' outbox on disk: a restarted agent streaming the same transport
        # sends what it had not delivered, under the same sequence numbers.
        self.store = store
        self.on_change = on_change
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._streamer: Streamer | None = None
        self.transport_id: int | None = None
        self.error = ""

    def status(self) -> dict[str, Any]:
        running = self._thread is not None and self._thread.is_alive()
        out: dict[str, Any] = {
            "running": running,
            "transport_id": self.transport_id if running else None,
            "error": self.error,
        }
        if running and self._streamer is not None:
            stats = self._streamer.stats
            out["stats"] = {
                "sent_frames": stats.video_frames,
                "records_sent": stats.records_sent,
                "connected": self._streamer.connected.is_set(),
            }
            # The relay's analysis of this patient, labelled decision support on screen.
            out["analysis"] = self._streamer.analysis_view()
        return out

    @contextlib.contextmanager
    def idle(self) -> Iterator[int | None]:
        """Hold off starting a stream meanwhile; yields the transport streaming now."""
        with self._lock:
            running = self._thread is not None and self._thread.is_alive()
            yield self.transport_id if running else None

    def queued_records(self) -> dict[int, int]:
        """Records of the running stream not yet acknowledged by the relay."""
        streamer = self._streamer
        running = self._thread is not None and self._thread.is_alive()
        if not running or streamer is None:
            return {}
        return {streamer.config.transport_id: len(streamer.outbox)}

    def start(self, *, token: str, transport_id: int) -> dict[str, Any]:
        # Imported on use: the camera and the encoder load only when a stream starts.
        from ambulance_client.capture import open_source
        from ambulance_client.monitor import SimulatedMonitor
        from ambulance_client.outbox import Outbox
        from ambulance_client.streamer import StreamConfig, Streamer, StreamRefused

        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                if self.transport_id == transport_id:
                    return self.status()
                self._stop_locked()
            if self.before_start is not None:
                self.before_start(transport_id)
            s = self.settings
            source = open_source(s.source, width=s.width, height=s.height, fps=s.fps)
            streamer = Streamer(
                StreamConfig(
                    relay_url=s.relay_url,
                    token=token,
                    transport_id=transport_id,
                    codec=s.codec,
                    vitals_every_s=s.vitals_every_s,
                ),
                source=source,
                monitor=SimulatedMonitor(scenario=s.monitor),
                outbox=Outbox(transport_id, store=self.store),
            )
            streamer.on_analysis = self.on_change
            ready = threading.Event()
            self.error = ""
            self.transport_id = transport_id
            self._streamer = streamer

            def run() -> None:
                loop = asyncio.new_event_loop()
                self._loop = loop
                self._stop = asyncio.Event()
                ready.set()
                try:
                    loop.run_until_complete(streamer.run(self._stop))
                except Exception as exc:  # the crew sees why the stream ended
                    # The relay's refusal by its code; any other fault is the tablet's.
                    self.error = exc.code if isinstance(exc, StreamRefused) else E.STREAM_FAILED
                    log.warning(
                        "stream ended", extra={"error": type(exc).__name__, "code": self.error}
                    )
                finally:
                    with contextlib.suppress(Exception):
                        source.close()
                    loop.close()
                    self.on_change()

            self._thread = threading.Thread(target=run, name="stream", daemon=True)
            self._thread.start()
            ready.wait(5)
        self.on_change()
        return self.status()

    def _stop_locked(self) -> None:
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._thread = None
        self._streamer = None

    def stop(self) -> dict[str, Any]:
        with self._lock:
            self._stop_locked()
        self.on_change()
        return self.status()
