"""The tablet agent: the state the tablet's page works on, composed in one object.

``TabletService`` wires the server link (``upstream``), the timeline outbox
(``timeline_outbox``), the card reader (``card_port``) and the stream (``stream_port``),
and keeps what the crew sees of them: online or offline, what is queued, when the tablet
last reached the server. A background thread probes the link and replays the outbox as
soon as the server answers again. ``web.create_agent_app`` serves it to the page;
``ems-ambulance tablet`` (``tablet_cli``) runs both. The tablet serves one unit
(``binding``): a paramedic of another unit is refused at sign-in.

Given a ``state_dir``, both outboxes are on disk too (``durable``): what was queued
when the agent died is replayed on restart, as soon as the server answers and a crew
member is signed in (``crew_token``: the last token the page used).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from pathlib import Path
from typing import Any

from ambulance_client.binding import UnitBinding
from ambulance_client.card_port import CardPort, CardSettings
from ambulance_client.durable import DurableStore
from ambulance_client.stream_port import StreamPort, StreamSettings
from ambulance_client.timeline_outbox import QueuedEvent, SendResult, TimelineOutbox, utcnow_iso
from ambulance_client.upstream import Offline, Upstream

log = logging.getLogger(__name__)


class TabletService:
    """State shared by the local pages: link, outbox, card and stream."""

    def __init__(
        self,
        *,
        server_url: str,
        relay_url: str,
        card: CardSettings | None = None,
        stream: StreamSettings | None = None,
        probe_interval_s: float = 2.0,
        unit_id: int | None = None,
        state_dir: Path | str | None = None,
    ) -> None:
        self.upstream = Upstream(server_url)
        self.store = DurableStore(state_dir) if state_dir is not None else None
        # The unit this tablet serves: only its crew signs in (``binding``).
        self.binding = UnitBinding(unit_id)
        self.relay_url = relay_url
        self.outbox = TimelineOutbox(self.store)
        # The token of the crew last seen on the page, for events restored from disk
        # (whose own token was never written down). Memory only.
        self.crew_token = ""
        self.card = CardPort(card or CardSettings(), server_url)
        self.stream = StreamPort(
            stream or StreamSettings(relay_url=relay_url), self.changed, store=self.store
        )
        self.online = True
        self.last_synced_at: str | None = None
        self.probe_interval_s = probe_interval_s
        self._listeners: set[queue.Queue[dict[str, Any]]] = set()
        self._listeners_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # status ----------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        return {
            "online": self.online,
            "queued": len(self.outbox),
            "pending": self.outbox.pending(),
            "rejected": list(self.outbox.rejected),
            "last_synced_at": self.last_synced_at,
            "stream": self.stream.status(),
            "server": self.upstream.base_url,
            **self.binding.status(),
        }

    def subscribe(self) -> queue.Queue[dict[str, Any]]:
        q: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=100)
        with self._listeners_lock:
            self._listeners.add(q)
        return q

    def unsubscribe(self, q: queue.Queue[dict[str, Any]]) -> None:
        with self._listeners_lock:
            self._listeners.discard(q)

    def changed(self) -> None:
        snapshot = self.status()
        with self._listeners_lock:
            listeners = list(self._listeners)
        for q in listeners:
            with contextlib.suppress(queue.Full):
                q.put_nowait(snapshot)

    def reached(self) -> None:
        was = self.online
        self.online = True
        self.last_synced_at = utcnow_iso()
        if not was:
            log.info("server reachable again")
            self._wake.set()
        self.changed()

    def lost(self) -> None:
        if self.online:
            log.info("server unreachable")
            self.online = False
            self.changed()
        self._wake.set()

    # timeline -----------------------------------------------------------------------------
    def record(self, *, token: str, transport_id: int, kind: str) -> tuple[SendResult, QueuedEvent]:
        self.signed_in(token)
        item = self.outbox.add(transport_id=transport_id, kind=kind, token=token)
        result = self.flush().get(item.key, SendResult("queued"))
        if kind == "handover" and self.stream.transport_id == transport_id:
            # The patient is with the ER now: nothing more to stream. Stopping waits for
            # the streamer to wind down, which the crew's tap need not wait for.
            threading.Thread(target=self.stream.stop, name="stream-stop", daemon=True).start()
        self.changed()
        return result, item

    def signed_in(self, token: str) -> None:
        """A crew member's token is at hand: events restored from disk can go."""
        if token and token != self.crew_token:
            self.crew_token = token
            self._wake.set()

    def flush(self) -> dict[str, SendResult]:
        before = len(self.outbox)
        results = self.outbox.flush(self.upstream, fallback_token=self.crew_token)
        if len(self.outbox) and not results:
            # Nothing went out: find out whether the link is down.
            self.probe()
        elif results:
            self.reached()
        if before != len(self.outbox):
            self.changed()
        return results

    def probe(self) -> bool:
        try:
            status, _, _ = self.upstream.call("GET", "/healthz")
        except Offline:
            self.lost()
            return False
        if status >= 500:
            self.lost()
            return False
        self.reached()
        return True

    # background ----------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="tablet-sync", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stopping.set()
        self._wake.set()
        self.stream.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.store is not None:
            self.store.close()

    def _run(self) -> None:
        """Probe the link, and replay the outbox as soon as the server answers again."""
        while not self._stopping.is_set():
            interval = self.probe_interval_s if (not self.online or len(self.outbox)) else 10.0
            self._wake.wait(interval)
            self._wake.clear()
            if self._stopping.is_set():
                break
            if self.probe() and len(self.outbox):
                self.flush()
