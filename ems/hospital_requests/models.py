"""A hospital request: one hospital asked to accept one transport's patient, in a
round of parallel inquiries, and its answer."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Boolean, Enum, ForeignKey, Integer, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from ems.db import Base, UTCDateTime, utcnow


class RequestStatus(enum.StrEnum):
    SENT = "sent"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    CANCELLED = "cancelled"


class DeclineReason(enum.StrEnum):
    BEDS_FULL = "beds_full"
    CANNOT_TREAT = "cannot_treat"
    OUTSIDE_SPECIALTY = "outside_specialty"
    NO_SPECIALIST = "no_specialist"
    IN_SURGERY = "in_surgery"
    OTHER = "other"


class EarlyOutcome(enum.StrEnum):
    """The crew's word on scene about a request sent ahead from the call."""

    CONFIRMED = "confirmed"
    WITHDRAWN = "withdrawn"


class HospitalRequest(Base):
    __tablename__ = "hospital_requests"
    __table_args__ = (UniqueConstraint("transport_id", "hospital_id", "round"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    transport_id: Mapped[int] = mapped_column(ForeignKey("transports.id"), index=True)
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"), index=True)
    # Requests are sent in rounds of parallel inquiries; a re-plan opens a new round.
    round: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[RequestStatus] = mapped_column(
        Enum(RequestStatus, native_enum=False, length=16), default=RequestStatus.SENT
    )
    bed_category: Mapped[str] = mapped_column(String(16))
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    responded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    decline_reason: Mapped[DeclineReason | None] = mapped_column(
        Enum(DeclineReason, native_enum=False, length=24), default=None
    )
    note: Mapped[str] = mapped_column(String(500), default="")
    eta_s: Mapped[int | None] = mapped_column(Integer, default=None)
    sent_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    responded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    # Sent ahead from the call's information while the unit drove ("ask ahead"); the
    # crew confirms or withdraws it on scene (None until they do).
    early: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    early_outcome: Mapped[EarlyOutcome | None] = mapped_column(
        Enum(EarlyOutcome, native_enum=False, length=16), default=None
    )
    # The accept took one bed off the hospital's fresh figure; it is given back if the
    # patient does not come after all (withdrawn, re-routed, stood down).
    bed_claimed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
