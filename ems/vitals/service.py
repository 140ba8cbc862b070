"""Storing and reading the vitals and ECG streamed from the ambulance, and who may see them.

The relay calls ``store_records`` (off its event loop) before it acknowledges a
frame to the tablet; rows are keyed by (transport, sequence) and inserted with
"on conflict do nothing", so a replay after an outage is stored exactly once.
Once the transport has ended, its crew may still deliver queued records (never
video) for a grace period: ``publish_scope`` decides, from plain data.
"""

from __future__ import annotations

import array
import datetime as dt
import enum
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ems.auth.models import Role, User
from ems.transports.models import (
    TIMELINE,
    HospitalRequest,
    RequestStatus,
    Transport,
    TransportEvent,
)
from ems.vitals.models import EcgSegment, VitalSigns
from ems.vitals.schemas import StreamNote, VitalsPayload


@dataclass(frozen=True)
class TransportAccess:
    """What decides who may see a transport's stream: plain data, cheap to re-check."""

    transport_id: int
    unit_id: int
    destination_hospital_id: int | None
    accepted_hospital_ids: frozenset[int]
    active: bool
    patient_id: int | None = None
    status: str = "active"
    # When the transport was completed or cancelled (as recorded by the server): the
    # grace period for late records counts from here. None while active.
    ended_at: dt.datetime | None = None


@dataclass(frozen=True)
class Principal:
    user_id: int
    role: Role
    unit_id: int | None
    hospital_id: int | None
    on_duty: bool = True

    @classmethod
    def of(cls, user: User) -> Principal:
        return cls(user.id, user.role, user.unit_id, user.hospital_id, user.on_duty)


def load_access(*, session: Session, transport_id: int) -> TransportAccess | None:
    return load_accesses(session=session, transport_ids=[transport_id]).get(transport_id)


def load_accesses(*, session: Session, transport_ids: Sequence[int]) -> dict[int, TransportAccess]:
    """The access facts of several transports in two queries (the relay re-checks
    every stream it carries every few seconds); missing transports are left out."""
    if not transport_ids:
        return {}
    transports = session.scalars(select(Transport).where(Transport.id.in_(transport_ids))).all()
    accepted: dict[int, set[int]] = {t.id: set() for t in transports}
    for tid, hospital_id in session.execute(
        select(HospitalRequest.transport_id, HospitalRequest.hospital_id).where(
            HospitalRequest.transport_id.in_(transport_ids),
            HospitalRequest.status == RequestStatus.ACCEPTED,
        )
    ):
        accepted[tid].add(hospital_id)
    return {
        t.id: TransportAccess(
            transport_id=t.id,
            unit_id=t.unit_id,
            destination_hospital_id=t.destination_hospital_id,
            accepted_hospital_ids=frozenset(accepted[t.id]),
            active=t.status.value == "active",
            patient_id=t.patient_id,
            status=t.status.value,
            ended_at=None if t.status.value == "active" else _ended_at(session, t),
        )
        for t in transports
    }


# Timeline events that end a transport; their ``recorded_at`` is when the server learnt it.
_ENDING_EVENTS = ("handover", "stood_down")


def _ended_at(session: Session, t: Transport) -> dt.datetime:
    """When the server recorded the end. The recording time, not the event's own time,
    counts: a handover entered late with an earlier ``at`` must not shorten the grace.
    A call cancelled before arrival leaves no event: its last timeline step stands in."""
    recorded = session.scalar(
        select(TransportEvent.recorded_at)
        .where(TransportEvent.transport_id == t.id, TransportEvent.kind.in_(_ENDING_EVENTS))
        .order_by(TransportEvent.recorded_at.desc())
        .limit(1)
    )
    if recorded is not None:
        return recorded
    steps = [getattr(t, column) for _, column in TIMELINE]
    return max(s for s in steps if s is not None)


def receiving_hospitals(access: TransportAccess) -> frozenset[int]:
    """The hospitals whose ER may follow the patient.

    Once a destination is set it decides alone: a transport re-routed elsewhere
    stops being visible to the hospital it left, even if that one had accepted.
    """
    if access.destination_hospital_id is not None:
        return frozenset({access.destination_hospital_id})
    return access.accepted_hospital_ids


def may_view_stream(who: Principal, access: TransportAccess) -> bool:
    """Live stream viewers: dispatchers, and the ER of the receiving hospital."""
    if who.role in (Role.ADMIN, Role.DISPATCHER):
        return True
    if who.role is Role.ER_STAFF:
        return who.hospital_id is not None and who.hospital_id in receiving_hospitals(access)
    return False


def may_read_record(who: Principal, access: TransportAccess) -> bool:
    """The stored vitals: the stream's viewers plus the crew of the transport's unit."""
    if who.role is Role.PARAMEDIC:
        return who.unit_id is not None and who.unit_id == access.unit_id
    return may_view_stream(who, access)


def may_publish(who: Principal, access: TransportAccess) -> bool:
    """The person may publish for this transport: the on-duty crew of its unit (or an
    admin). What they may still send once it ended is ``publish_scope``'s answer.

    Once the transport ended, its crew may deliver what the tablet queued even off
    duty: a shift that ends right after the handover must not strand the last
    vitals and ECG of the record (records only, within the grace period).
    """
    if who.role is Role.ADMIN:
        return True
    return (
        who.role is Role.PARAMEDIC
        and (who.on_duty or not access.active)
        and who.unit_id is not None
        and who.unit_id == access.unit_id
    )


class PublishScope(enum.StrEnum):
    LIVE = "live"  # under way: video and records
    RECORDS = "records"  # ended, within the grace period: queued records only
    CLOSED = "closed"  # ended longer ago than the grace period: nothing


def publish_scope(access: TransportAccess, *, now: dt.datetime, grace_s: float) -> PublishScope:
    """What a transport's publisher may still send.

    A tablet that was offline at handover delivers the vitals and ECG it queued when
    it reconnects, possibly after the handover reached the API: refusing them would
    lose part of the medical record. Video of an ended transport has no viewer to
    serve. After the grace period the record is closed.
    """
    if access.active:
        return PublishScope.LIVE
    if access.ended_at is not None and now - access.ended_at > dt.timedelta(seconds=grace_s):
        return PublishScope.CLOSED
    return PublishScope.RECORDS


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
    dialect = session.get_bind().dialect.name
    ins: Any
    if dialect == "postgresql":
        ins = postgresql.insert(table)
    elif dialect == "sqlite":
        ins = sqlite.insert(table)
    else:  # pragma: no cover - only the two backends are supported
        raise RuntimeError(f"unsupported database {dialect}")
    stmt = ins.on_conflict_do_nothing(index_elements=["transport_id", "seq"]).returning(table.c.seq)
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
