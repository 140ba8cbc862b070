"""Who was on a transport's crew, and administrators' break-glass reads of a record."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ems.db import Base, UTCDateTime, utcnow


class TransportCrew(Base):
    """A paramedic who was on duty on the unit while the transport was active.

    The crew's access to the transport and its patient rests on this row, not on
    the account's current unit: a paramedic bound to the unit later never reaches
    an earlier transport, and the crew keeps reading until handover plus the grace.
    """

    __tablename__ = "transport_crew"

    transport_id: Mapped[int] = mapped_column(ForeignKey("transports.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    joined_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class BreakGlassReview(enum.StrEnum):
    PENDING = "pending"
    JUSTIFIED = "justified"
    UNJUSTIFIED = "unjustified"


class BreakGlassAccess(Base):
    """An administrator read a medical record outside the rules, giving a reason."""

    __tablename__ = "break_glass_accesses"

    id: Mapped[int] = mapped_column(primary_key=True)
    transport_id: Mapped[int] = mapped_column(ForeignKey("transports.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(String(500))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    review_status: Mapped[BreakGlassReview] = mapped_column(
        Enum(BreakGlassReview, native_enum=False, length=16), default=BreakGlassReview.PENDING
    )
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    review_note: Mapped[str] = mapped_column(String(1000), default="")
