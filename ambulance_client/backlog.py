"""Records left on disk by an earlier run of the agent, delivered without a stream.

The vitals and ECG an agent queued before it died (``durable``) belong to the patient's
record whether or not anyone streams that transport again. On start, and whenever a
crew member's token is at hand, the agent hands each transport with queued records
and no stream running to ``RecordBacklog.resume``: it publishes them to the relay,
records only (no camera, no monitor, no video), with the same sequence numbers, and
leaves once the relay has acknowledged the last one. The relay stores (transport,
seq) once, so a record sent before the crash and again now is stored once.

A stream started for the same transport takes the backlog over (``release``): its
outbox reads the same rows. A refusal (the token is not allowed on that transport) is
remembered with the token, and retried with the next crew member's. One event loop
thread runs every drain; the callers' threads only schedule and wait on it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ambulance_client.outbox import Failed, Outbox

if TYPE_CHECKING:
    from ambulance_client.durable import DurableStore

log = logging.getLogger(__name__)


@dataclass
class _Drain:
    token: str
    stop: asyncio.Event
    future: concurrent.futures.Future[None] | None = None


class RecordBacklog:
    """Drains of the queued records of transports nobody streams, one per transport."""

    def __init__(
        self,
        *,
        relay_url: str,
        store: DurableStore,
        on_change: Callable[[], None],
        backoff_max_s: float = 1.0,
    ) -> None:
        self.relay_url = relay_url
        self.store = store
        self.on_change = on_change
        # A drain retries often: a connection attempt is all it costs while offline, and
        # the records should reach the relay as soon as the link is back.
        self.backoff_max_s = backoff_max_s
        # Records the relay refused for good (e.g. the record closed): what, never content.
        self._failed: list[tuple[int, Failed]] = []
        self._refused: dict[int, tuple[str, str]] = {}  # transport → (token, code)
        self._drains: dict[int, _Drain] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def draining(self) -> list[int]:
        with self._lock:
            return sorted(self._drains)

    def status(self) -> dict[str, Any]:
        with self._lock:
            refused = {t: code for t, (_, code) in self._refused.items()}
            failed = list(self._failed)
        return {
            "draining": self.draining(),
            "refused": [{"transport_id": t, "code": c} for t, c in sorted(refused.items())],
            "failed": [
                {"transport_id": tid, "seq": f.seq, "kind": f.kind.name.lower(), "code": f.code}
                for tid, f in failed
            ],
        }

    # scheduling (any thread) ---------------------------------------------------------
    def resume(self, *, token: str, transport_ids: list[int]) -> list[int]:
        """Start draining these transports (those not draining yet, and not refused to
        this token). Returns the transports started."""
        if not token:
            return []
        started: list[int] = []
        loop = self._ensure_loop()
        with self._lock:
            for tid in transport_ids:
                refused = self._refused.get(tid)
                if tid in self._drains or (refused is not None and refused[0] == token):
                    continue
                self._refused.pop(tid, None)
                drain = _Drain(token=token, stop=asyncio.Event())
                self._drains[tid] = drain
                drain.future = asyncio.run_coroutine_threadsafe(self._drain(tid, drain), loop)
                started.append(tid)
        if started:
            log.info("resuming queued records", extra={"transports": started})
            self.on_change()
        return started

    def release(self, transport_id: int, timeout_s: float = 10.0) -> None:
        """A stream takes this transport over: stop its drain and wait until it ended."""
        with self._lock:
            drain = self._drains.get(transport_id)
        if drain is None or self._loop is None:
            return
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(drain.stop.set)
        if drain.future is not None:
            with contextlib.suppress(Exception):
                drain.future.result(timeout_s)

    def close(self) -> None:
        for tid in self.draining():
            self.release(tid, timeout_s=5)
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                self._loop = loop
                self._thread = threading.Thread(
                    target=loop.run_forever, name="record-backlog", daemon=True
                )
                self._thread.start()
            return self._loop

    # the drain (on the loop) ----------------------------------------------------------
    async def _drain(self, transport_id: int, drain: _Drain) -> None:
        from ambulance_client.streamer import StreamConfig, Streamer, StreamRefused

        # The rows are read on the loop's thread: short, local calls (never network I/O
        # under the store's lock).
        outbox = Outbox(transport_id, store=self.store)
        streamer = Streamer(
            StreamConfig(
                relay_url=self.relay_url,
                token=drain.token,
                transport_id=transport_id,
                video=False,
                backoff_max_s=self.backoff_max_s,
            ),
            outbox=outbox,
        )
        run = asyncio.create_task(streamer.run(drain.stop))
        try:
            while len(outbox) and not run.done():
                await asyncio.wait({run}, timeout=0.05)
            drain.stop.set()
            await run
        except StreamRefused as exc:
            log.warning("queued records refused", extra={"code": exc.code})
            with self._lock:
                self._refused[transport_id] = (drain.token, exc.code)
        except Exception:
            log.exception("queued records: drain failed")
        finally:
            with self._lock:
                self._failed.extend((transport_id, f) for f in outbox.failed)
                del self._failed[:-50]
                self._drains.pop(transport_id, None)
            self.on_change()
