"""119 calls."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Enum, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ems.db import Base, UTCDateTime, utcnow


class Urgency(enum.StrEnum):
    CRITICAL = "critical"  # 重篤: immediate threat to life
    SERIOUS = "serious"  # 重症
    MODERATE = "moderate"  # 中等症
    MINOR = "minor"  # 軽症


class Condition(enum.StrEnum):
    """What the call-taker suspects; the dispatcher's optimizer matches it to
    hospital capabilities and bed categories."""

    CARDIAC_ARREST = "cardiac_arrest"
    CHEST_PAIN_STEMI = "chest_pain_stemi"
    STROKE = "stroke"
    MAJOR_TRAUMA = "major_trauma"
    BURNS = "burns"
    PAEDIATRIC = "paediatric"
    OBSTETRIC = "obstetric"
    PSYCHIATRIC = "psychiatric"
    RESPIRATORY = "respiratory"
    OTHER = "other"


class IncidentStatus(enum.StrEnum):
    PENDING = "pending"
    ASSIGNED = "assigned"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class Incident(Base):
    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    address: Mapped[str] = mapped_column(String(300), default="")
    caller_name: Mapped[str] = mapped_column(String(120), default="")
    caller_phone: Mapped[str] = mapped_column(String(32), default="")
    # The caller's account of what happened, in their words.
    caller_account: Mapped[str] = mapped_column(String(2000), default="")
    chief_complaint: Mapped[str] = mapped_column(String(200))
    # A ``Condition`` value, or "" while unknown.
    suspected_condition: Mapped[str] = mapped_column(String(64), default="")
    urgency: Mapped[Urgency] = mapped_column(Enum(Urgency, native_enum=False, length=16))
    patient_age: Mapped[int | None] = mapped_column(Integer, default=None)
    patient_sex: Mapped[str] = mapped_column(String(8), default="")
    status: Mapped[IncidentStatus] = mapped_column(
        Enum(IncidentStatus, native_enum=False, length=16), default=IncidentStatus.PENDING
    )
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
