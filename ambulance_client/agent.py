"""The tablet agent: the state the tablet's page works on, composed in one object.

``TabletService`` wires the server link (``upstream``), the timeline outbox
(``timeline_outbox``), the card reader (``card_port``) and the stream (``stream_port``),
and keeps what the crew sees of them: online or offline, what is queued, when the tablet
last reached the server. A background thread probes the link and replays the outbox as
soon as the server answers again. ``web.create_agent_app`` serves it to the page;
``ems-ambulance tablet`` (``tablet_cli``) runs both. The tablet serves one unit
(``binding``): a paramedic of another unit is refused at sign-in.

The crew's requests for instruction go through the page's ``/api`` proxy; when the
server cannot be reached they wait in an outbox of their own (``request_outbox``) and are
sent again with their ``Idempotency-Key``.

Given a ``state_dir``, the outboxes are on disk too (``durable``): what was queued when
the agent died is replayed on restart, as soon as the server answers and a crew member
is signed in (``crew_token``: the last token the page used). Vitals and ECG records of
a transport nobody streams any more go to the relay without a stream (``backlog``).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from pathlib import Path
from typing import Any

from ambulance_client.backlog import RecordBacklog
from ambulance_client.binding import UnitBinding
from ambulance_client.card_port import CardPort, CardSettings
from ambulance_client.durable import DurableStore
from ambulance_client.keyed_outbox import SendResult, utcnow_iso
from ambulance_client.request_outbox import QueuedRequest, RequestOutbox
from ambulance_client.stream_port import StreamPort, StreamSettings
from ambulance_client.timeline_outbox import QueuedEvent, TimelineOutbox
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
        self.requests = RequestOutbox(self.store)
        # Records left on disk by an earlier run: only a durable agent has any.
        self.backlog = (
            RecordBacklog(relay_url=relay_url, store=self.store, on_change=self.changed)
            if self.store is not None
            else None
        )
        # The token of the crew last seen on the page, for events restored from disk
        # (whose own token was never written down). Memory only.
        self.crew_token = ""
        self.card = CardPort(card or CardSettings(), server_url)
        self.stream = StreamPort(
            stream or StreamSettings(relay_url=relay_url),
            self._stream_changed,
            store=self.store,
            before_start=self._hand_over,
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
        records = self.queued_records()
        draining = self.backlog.status() if self.backlog is not None else {}
        stream = self.stream.status()
        return {
            "online": self.online,
            # Timeline steps (what the page counts as queued) ...
            "queued": len(self.outbox),
            "pending": self.outbox.pending(),
            "rejected": list(self.outbox.rejected),
            # ... vitals and ECG records not yet stored by the relay, per transport ...
            "records_queued": sum(records.values()),
            "records_pending": [
                {
                    "transport_id": tid,
                    "queued": n,
                    "sending": tid in draining.get("draining", ()) or tid == stream["transport_id"],
                }
                for tid, n in sorted(records.items())
            ],
            "records_refused": draining.get("refused", []),
            "records_failed": draining.get("failed", []),
            # ... and requests for instruction asked offline.
            "requests_queued": len(self.requests),
            "requests_pending": self.requests.pending(),
            "requests_rejected": list(self.requests.rejected),
            "last_synced_at": self.last_synced_at,
            "stream": stream,
            "server": self.upstream.base_url,
            **self.binding.status(),
        }

    def queued_records(self) -> dict[int, int]:
        """Records per transport that the relay has not acknowledged yet."""
        if self.store is not None:
            return self.store.record_counts()  # the stream's own are on disk too
        return self.stream.queued_records()

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

    def queue_request(
        self, *, token: str, method: str, path: str, body: str, transport_id: int, key: str
    ) -> QueuedRequest:
        """An API write the server could not take now: kept, and sent again later."""
        self.signed_in(token)
        item = self.requests.add(
            method=method, path=path, body=body, transport_id=transport_id, key=key, token=token
        )
        self._wake.set()
        self.changed()
        return item

    def pending_work(self) -> int:
        return len(self.outbox) + len(self.requests)

    def flush(self) -> dict[str, SendResult]:
        """Timeline events, then requests for instruction; by idempotency key."""
        before = self.pending_work()
        results = self.outbox.flush(self.upstream, fallback_token=self.crew_token)
        results.update(self.requests.flush(self.upstream, fallback_token=self.crew_token))
        if self.pending_work() and not results:
            # Nothing went out: find out whether the link is down.
            self.probe()
        elif results:
            self.reached()
        if before != self.pending_work():
            self.changed()
        return results

    # records left on disk ---------------------------------------------------------------
    def resume_records(self) -> list[int]:
        """Send the queued records of every transport nobody streams (``backlog``), once a
        crew member's token is at hand. Returns the transports whose drain started."""
        if self.backlog is None or self.store is None or not self.crew_token:
            return []
        with self.stream.idle() as streaming:
            waiting = [t for t in self.store.transports_with_records() if t != streaming]
            return self.backlog.resume(token=self.crew_token, transport_ids=waiting)

    def _hand_over(self, transport_id: int) -> None:
        # A stream for this transport reads the same rows: the backlog steps aside.
        if self.backlog is not None:
            self.backlog.release(transport_id)

    def _stream_changed(self) -> None:
        self.changed()
        # A stream that ended may leave records behind for the backlog.
        self._wake.set()

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
        if self.backlog is not None:
            self.backlog.close()
        if self.store is not None:
            self.store.close()

    def _run(self) -> None:
        """Probe the link, replay the outboxes as soon as the server answers again, and
        hand queued records to the backlog as soon as a crew token is at hand."""
        first = True
        while not self._stopping.is_set():
            busy = not self.online or self.pending_work()
            if not first:
                self._wake.wait(self.probe_interval_s if busy else 10.0)
            first = False
            self._wake.clear()
            if self._stopping.is_set():
                break
            # The relay is a link of its own: the backlog finds out when it answers.
            self.resume_records()
            if self.probe() and self.pending_work():
                self.flush()
