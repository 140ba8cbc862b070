"""A transport (one unit carrying one patient of an incident) and its FDMA timeline.
The acceptance requests sent to hospitals on its behalf are
``ems.hospital_requests.models``."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ems.db import Base, UTCDateTime, utcnow
from ems_contracts.timeline import TIMELINE_KINDS


class TransportStatus(enum.StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


# FDMA intervals, in order: event kind -> Transport column (each named after its kind).
TIMELINE: tuple[tuple[str, str], ...] = tuple((kind, f"{kind}_at") for kind in TIMELINE_KINDS)


class Transport(Base):
    __tablename__ = "transports"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    # Set once the patient is identified (card verification links the record).
    patient_id: Mapped[int | None] = mapped_column(Integer, default=None)
    destination_hospital_id: Mapped[int | None] = mapped_column(
        ForeignKey("hospitals.id"), index=True, default=None
    )
    bed_category: Mapped[str | None] = mapped_column(String(16), default=None)
    status: Mapped[TransportStatus] = mapped_column(
        Enum(TransportStatus, native_enum=False, length=16), default=TransportStatus.ACTIVE
    )
    call_received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    arrived_scene_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    patient_contact_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    loaded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    departed_scene_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    arrived_hospital_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    handover_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class TransportEvent(Base):
    __tablename__ = "transport_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    transport_id: Mapped[int] = mapped_column(ForeignKey("transports.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    # A tablet that replays its queue after an outage sends the same key again.
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
