"""Storing and reading the vitals and ECG streamed from the ambulance.

The relay calls ``store_records`` (off its event loop) before it acknowledges a
frame to the tablet; rows are keyed by (transport, sequence) and inserted with
"on conflict do nothing", so a replay after an outage is stored exactly once.
Who may send or read them is the access policy's answer (``ems.access``).
"""

from __future__ import annotations

import array
import datetime as dt
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from ems.access import guard
from ems.access.guard import Context
from ems.access.policy import Action
from ems.audit import service as audit
from ems.auth.models import User
from ems.db import upsert_insert
from ems.transports import service as transports
from ems.transports.models import TransportEvent
from ems.vitals.models import EcgSegment, VitalSigns
from ems.vitals.schemas import StreamNote, VitalsPayload

# --- storing ---------------------------------------------------------------------


@dataclass(frozen=True)
class VitalsRecord:
    seq: int
    measured_at: dt.datetime
    values: VitalsPayload


@dataclass(frozen=True)
class EcgRecord:
    seq: int
    started_at: dt.datetime
    sample_rate_hz: int
    samples_uv: Sequence[int]


@dataclass(frozen=True)
class NoteRecord:
    seq: int
    at: dt.datetime
    note: StreamNote


Record = VitalsRecord | EcgRecord | NoteRecord


@dataclass
class StoreResult:
    """Sequence numbers stored now, and those that were already there."""

    stored: list[int] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)


def _samples_blob(samples: Sequence[int]) -> bytes:
    a = array.array("h", samples)
    if sys.byteorder != "little":
        a.byteswap()
    return a.tobytes()


def _samples_list(blob: bytes) -> list[int]:
    a = array.array("h")
    a.frombytes(blob)
    if sys.byteorder != "little":
        a.byteswap()
    return a.tolist()


def _insert_ignore(session: Session, table: Table, rows: list[dict[str, Any]]) -> set[int]:
    """Insert rows, skipping (transport_id, seq) already stored; returns the new seqs."""
    if not rows:
        return set()
    stmt = (
        upsert_insert(session, table)
        .on_conflict_do_nothing(index_elements=["transport_id", "seq"])
        .returning(table.c.seq)
    )
    return {int(s) for s in session.scalars(stmt, rows).all()}


def store_records(
    *, session: Session, transport_id: int, records: Sequence[Record], recorded_by: int | None
) -> StoreResult:
    """Store a batch of records; flushes, never commits."""
    now = dt.datetime.now(dt.UTC)
    vitals = [
        {
            "transport_id": transport_id,
            "seq": r.seq,
            "measured_at": r.measured_at,
            "received_at": now,
            "recorded_by": recorded_by,
            **r.values.model_dump(),
        }
        for r in records
        if isinstance(r, VitalsRecord)
    ]
    ecg = [
        {
            "transport_id": transport_id,
            "seq": r.seq,
            "started_at": r.started_at,
            "received_at": now,
            "recorded_by": recorded_by,
            "sample_rate_hz": r.sample_rate_hz,
            "sample_count": len(r.samples_uv),
            "samples": _samples_blob(r.samples_uv),
        }
        for r in records
        if isinstance(r, EcgRecord)
    ]
    new = _insert_ignore(session, VitalSigns.__table__, vitals)  # type: ignore[arg-type]
    new |= _insert_ignore(session, EcgSegment.__table__, ecg)  # type: ignore[arg-type]
    for r in records:
        if not isinstance(r, NoteRecord):
            continue
        key = f"stream:{transport_id}:{r.seq}"
        if session.scalar(select(TransportEvent.id).where(TransportEvent.idempotency_key == key)):
            continue
        session.add(
            TransportEvent(
                transport_id=transport_id,
                kind="crew_note",
                at=r.at,
                recorded_by=recorded_by,
                idempotency_key=key,
                data={"text": r.note.text, **r.note.data},
            )
        )
        new.add(r.seq)
    session.flush()
    result = StoreResult()
    for r in records:
        (result.stored if r.seq in new else result.duplicates).append(r.seq)
    return result


# --- reading ---------------------------------------------------------------------


def list_vitals(
    *, session: Session, transport_id: int, after_seq: int = 0, limit: int = 200
) -> list[VitalSigns]:
    return list(
        session.scalars(
            select(VitalSigns)
            .where(VitalSigns.transport_id == transport_id, VitalSigns.seq > after_seq)
            .order_by(VitalSigns.seq)
            .limit(limit)
        ).all()
    )


def list_ecg(
    *, session: Session, transport_id: int, after_seq: int = 0, limit: int = 200
) -> list[tuple[int, dt.datetime, int, list[int]]]:
    rows = session.scalars(
        select(EcgSegment)
        .where(EcgSegment.transport_id == transport_id, EcgSegment.seq > after_seq)
        .order_by(EcgSegment.seq)
        .limit(limit)
    ).all()
    return [(r.seq, r.started_at, r.sample_rate_hz, _samples_list(r.samples)) for r in rows]


def read_for(
    *,
    session: Session,
    actor: User,
    ctx: Context,
    transport_id: int,
    after_seq: int,
    limit: int,
    ecg: bool,
) -> tuple[list[VitalSigns], list[tuple[int, dt.datetime, int, list[int]]]]:
    """The stored vitals (and ECG) for whoever the rules let read them; audited."""
    transport = transports.get(session=session, transport_id=transport_id)
    guard.require(
        session=session, actor=actor, action=Action.VITALS_READ, ctx=ctx, transport=transport
    )
    vitals = list_vitals(
        session=session, transport_id=transport_id, after_seq=after_seq, limit=limit
    )
    segments = (
        list_ecg(session=session, transport_id=transport_id, after_seq=after_seq, limit=limit)
        if ecg
        else []
    )
    audit.record(
        session=session,
        actor=actor,
        action="vitals.read",
        target_type="transport",
        target_id=str(transport_id),
        patient_id=transport.patient_id,
        detail={"vitals": len(vitals), "ecg": len(segments)},
    )
    return vitals, segments
