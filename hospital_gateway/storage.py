"""Storing a publisher's records (vitals, ECG, crew notes) before anyone sees them.

Each publisher gets a ``RecordLane``: records wait in arrival order, are stored in
batches through the server's record service (``ems.vitals.service``) in a worker
thread (``asyncio.to_thread``, the loop's default pool) so that the event loop
never waits on the database, and only then are the new ones handed to the relay
for fan-out and acknowledged to the publisher. A lane that holds ``MAX_UNACKED``
records answers ``busy``; a failed store answers ``storage_unavailable`` and is
retried with backoff. Either way nothing is acknowledged, so the tablet keeps the
records and sends them again. ``hospital_gateway.relay`` drives the lanes.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable

from pydantic import ValidationError
from websockets.exceptions import ConnectionClosed

from ems.db import Database
from ems.vitals import service as vitals
from ems_contracts import control
from ems_contracts.frames import Frame, Kind, ProtocolError, decode_ecg, decode_json
from ems_contracts.vitals import StreamNote, VitalsPayload

log = logging.getLogger("hospital_gateway")

MAX_UNACKED = 5000  # records of one publisher waiting to be stored
MAX_BATCH = 500  # records stored in one transaction

Send = Callable[[str], Awaitable[None]]
Deliver = Callable[[Frame, bytes], None]
Stored = Callable[[vitals.Record], None]


def parse_record(frame: Frame) -> vitals.Record:
    """The record a vitals, ECG or note frame carries; ``ProtocolError`` if it is invalid."""
    at = dt.datetime.fromtimestamp(frame.capture_us / 1e6, dt.UTC)
    try:
        if frame.kind is Kind.ECG:
            rate, samples = decode_ecg(frame.payload)
            return vitals.EcgRecord(frame.seq, at, rate, samples)
        if frame.kind is Kind.VITALS:
            return vitals.VitalsRecord(
                frame.seq, at, VitalsPayload.model_validate(decode_json(frame.payload))
            )
        return vitals.NoteRecord(
            frame.seq, at, StreamNote.model_validate(decode_json(frame.payload))
        )
    except ValidationError:
        raise ProtocolError("invalid_payload", f"{frame.kind.name} payload out of range") from None


class RecordStore:
    """The relay's way into the record service, and the count of records it stored."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.stored = 0

    def store(
        self, transport_id: int, user_id: int, records: list[vitals.Record]
    ) -> vitals.StoreResult:
        """Store one batch in one transaction. Blocking: run off the loop."""
        with self.db.session_scope() as session:
            return vitals.store_records(
                session=session, transport_id=transport_id, records=records, recorded_by=user_id
            )

    def lane(
        self,
        *,
        transport_id: int,
        user_id: int,
        send: Send,
        deliver: Deliver,
        on_stored: Stored | None = None,
    ) -> RecordLane:
        return RecordLane(
            self,
            transport_id=transport_id,
            user_id=user_id,
            send=send,
            deliver=deliver,
            on_stored=on_stored,
        )


class RecordLane:
    """One publisher's records on their way to the database.

    ``offer`` queues a record (or answers ``busy``); ``run`` stores them, hands the
    newly stored ones to ``deliver`` (and their records to ``on_stored``, the
    analysis: a resent duplicate is analysed no more than it is shown) and
    acknowledges the batch through ``send``.
    """

    def __init__(
        self,
        store: RecordStore,
        *,
        transport_id: int,
        user_id: int,
        send: Send,
        deliver: Deliver,
        on_stored: Stored | None = None,
    ) -> None:
        self._store = store
        self._transport_id = transport_id
        self._user_id = user_id
        self._send = send
        self._deliver = deliver
        self._on_stored = on_stored
        self._queue: asyncio.Queue[tuple[Frame, bytes, vitals.Record]] = asyncio.Queue()

    async def offer(self, frame: Frame, raw: bytes, record: vitals.Record) -> None:
        if self._queue.qsize() >= MAX_UNACKED:
            # Not acknowledged: the tablet keeps it and sends it again.
            busy = control.Error(code="busy", detail="too many unacknowledged")
            await self._send(busy.to_json())
            return
        self._queue.put_nowait((frame, raw, record))

    async def run(self) -> None:
        """Store records in batches, in order; fan out the new ones; then acknowledge."""
        records = self._queue
        while True:
            batch = [await records.get()]
            while not records.empty() and len(batch) < MAX_BATCH:
                batch.append(records.get_nowait())
            backoff = 0.2
            while True:
                try:
                    result = await asyncio.to_thread(
                        self._store.store,
                        self._transport_id,
                        self._user_id,
                        [r for _, _, r in batch],
                    )
                    break
                except Exception as exc:
                    # Not acknowledged: the tablet keeps the records and we retry.
                    log.warning("storing records failed", extra={"error": type(exc).__name__})
                    with contextlib.suppress(ConnectionClosed):
                        unavailable = control.Error(code="storage_unavailable", detail="retrying")
                        await self._send(unavailable.to_json())
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
            stored = set(result.stored)
            self._store.stored += len(stored)
            for frame, raw, record in batch:
                if frame.seq in stored:
                    self._deliver(frame, raw)
                    if self._on_stored is not None:
                        self._on_stored(record)
            await self._send(control.Ack(seqs=[frame.seq for frame, _, _ in batch]).to_json())
