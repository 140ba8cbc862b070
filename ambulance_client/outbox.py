"""The tablet's queue of medical records (ECG, vitals, crew notes) for the relay.

Records are part of the medical record, unlike video: each gets a sequence
number when it is produced, stays in the queue until the relay acknowledges it
(after storing it), and is sent again after a reconnect. The relay stores
(transport, seq) once, so a record sent twice is stored once: exactly once.

The queue lives in memory, and, given a ``durable.DurableStore``, sealed on disk
until acknowledged: it then outlives a crash of the agent too, and a restarted
tablet sends the same records with the same sequence numbers, which the relay
stores once. Sequence numbers start at the clock in microseconds when the queue is
created (or after the last one on disk), so that a restarted tablet never reuses a
number that is already stored.

A record the relay refuses for good (invalid, or the transport's record closed
after its grace period) leaves the queue; the latter is kept in ``failed`` (its
sequence, kind, time and the relay's code, no payload) so that the crew can be
told which measurements never reached the record.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ems_contracts.frames import Frame, Kind, decode_frame

if TYPE_CHECKING:
    from ambulance_client.durable import DurableStore


@dataclass
class Entry:
    frame: Frame
    raw: bytes
    sent: bool = False


@dataclass(frozen=True)
class Failed:
    """A record the relay refused for good: what it was, never its content."""

    seq: int
    kind: Kind
    capture_us: int
    code: str


class Outbox:
    def __init__(
        self,
        transport_id: int,
        *,
        max_items: int = 200_000,
        first_seq: int | None = None,
        store: DurableStore | None = None,
    ) -> None:
        self.transport_id = transport_id
        self.max_items = max_items
        self.store = store
        self._next = first_seq if first_seq is not None else time.time_ns() // 1000
        self._entries: OrderedDict[int, Entry] = OrderedDict()
        self.acked = 0
        self.rejected = 0
        self.evicted = 0
        self.failed: list[Failed] = []
        if store is not None:
            for seq, raw in store.records(transport_id):
                self._entries[seq] = Entry(decode_frame(raw), raw)
                self._next = max(self._next, seq + 1)

    def _forget(self, seq: int) -> Entry | None:
        entry = self._entries.pop(seq, None)
        if entry is not None and self.store is not None:
            self.store.delete_records(self.transport_id, [seq])
        return entry

    def put(self, kind: Kind, payload: bytes, capture_us: int | None = None) -> int:
        """Queue a record; returns its sequence number."""
        if not kind.is_record:
            raise ValueError(f"{kind.name} is not a record kind")
        seq = self._next
        self._next += 1
        frame = Frame(
            transport_id=self.transport_id,
            seq=seq,
            capture_us=capture_us if capture_us is not None else time.time_ns() // 1000,
            kind=kind,
            keyframe=False,
            payload=payload,
        )
        raw = frame.encode()
        if self.store is not None:
            self.store.put_record(self.transport_id, seq, raw)
        self._entries[seq] = Entry(frame, raw)
        if len(self._entries) > self.max_items:
            self._evict()
        return seq

    def _evict(self) -> None:
        # An outage of days: give up the oldest ECG first, vitals and notes last.
        victim = next((s for s, e in self._entries.items() if e.frame.kind is Kind.ECG), None)
        if victim is None:
            victim = next(iter(self._entries))
        self._forget(victim)
        self.evicted += 1

    def unsent(self, limit: int | None = None) -> list[Entry]:
        """Entries not yet sent on the current connection, oldest first."""
        out: list[Entry] = []
        for entry in self._entries.values():
            if not entry.sent:
                out.append(entry)
                if limit is not None and len(out) >= limit:
                    break
        return out

    def mark_sent(self, seq: int) -> None:
        entry = self._entries.get(seq)
        if entry is not None:
            entry.sent = True

    def ack(self, seqs: list[int] | int) -> int:
        """The relay stored these; forget them. Returns how many were pending."""
        gone = [
            seq
            for seq in ([seqs] if isinstance(seqs, int) else seqs)
            if self._entries.pop(seq, None) is not None
        ]
        if gone and self.store is not None:
            self.store.delete_records(self.transport_id, gone)
        n = len(gone)
        self.acked += n
        return n

    def reject(self, seq: int) -> None:
        """The relay refused this record as invalid: sending it again cannot help."""
        if self._forget(seq) is not None:
            self.rejected += 1

    def fail(self, seq: int, code: str) -> None:
        """The relay will never store this record (e.g. ``record_grace_expired``)."""
        entry = self._forget(seq)
        if entry is not None:
            self.failed.append(Failed(seq, entry.frame.kind, entry.frame.capture_us, code))

    def fail_all(self, code: str) -> int:
        """The relay closed this transport's record: nothing queued can be delivered."""
        n = len(self._entries)
        for seq in list(self._entries):
            self.fail(seq, code)
        return n

    def retry(self, seq: int) -> None:
        """The relay could not take this record now: send it again."""
        entry = self._entries.get(seq)
        if entry is not None:
            entry.sent = False

    def reconnected(self) -> None:
        """A new connection: everything not acknowledged goes again, in order."""
        for entry in self._entries.values():
            entry.sent = False

    @property
    def in_flight(self) -> int:
        return sum(1 for e in self._entries.values() if e.sent)

    def __len__(self) -> int:
        return len(self._entries)
