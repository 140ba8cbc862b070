"""Vitals and ECG segments received from the ambulance's monitor.

Part of the medical record: each row carries the tablet's sequence number, unique
per transport, so that a replay after an outage never stores a reading twice.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    SmallInteger,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ems.db import Base, UTCDateTime, utcnow


class VitalSigns(Base):
    __tablename__ = "vital_signs"
    __table_args__ = (UniqueConstraint("transport_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    transport_id: Mapped[int] = mapped_column(ForeignKey("transports.id"), index=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    measured_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    hr: Mapped[int | None] = mapped_column(SmallInteger, default=None)
    spo2: Mapped[int | None] = mapped_column(SmallInteger, default=None)
    bp_sys: Mapped[int | None] = mapped_column(SmallInteger, default=None)
    bp_dia: Mapped[int | None] = mapped_column(SmallInteger, default=None)
    rr: Mapped[int | None] = mapped_column(SmallInteger, default=None)
    temp_c: Mapped[float | None] = mapped_column(Float, default=None)


class EcgSegment(Base):
    __tablename__ = "ecg_segments"
    __table_args__ = (UniqueConstraint("transport_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    transport_id: Mapped[int] = mapped_column(ForeignKey("transports.id"), index=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    # Time of the first sample.
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    sample_rate_hz: Mapped[int] = mapped_column(Integer)
    sample_count: Mapped[int] = mapped_column(Integer)
    # int16 little-endian samples in microvolts (lead II).
    samples: Mapped[bytes] = mapped_column(LargeBinary)
