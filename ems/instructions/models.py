"""Requests for a doctor's instruction, and the medical-control duty roster."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ems.db import Base, UTCDateTime, utcnow


class InstructionStatus(enum.StrEnum):
    OPEN = "open"
    ANSWERED = "answered"


class InstructionDecision(enum.StrEnum):
    INSTRUCTED = "instructed"  # go ahead (the detail carries dose or conditions)
    DECLINED = "declined"  # do not perform it
    MORE_INFORMATION = "more_information"  # the doctor needs to know more first


class InstructionRequest(Base):
    """A crew's request for instruction before a specified procedure, and its answer.

    The first answer wins: a conditional UPDATE on ``status = open`` closes it.
    """

    __tablename__ = "instruction_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    transport_id: Mapped[int] = mapped_column(ForeignKey("transports.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    procedure: Mapped[str] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[InstructionStatus] = mapped_column(
        Enum(InstructionStatus, native_enum=False, length=16),
        default=InstructionStatus.OPEN,
        index=True,
    )
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # When the fallback doctors were alerted, the first one not having answered in time.
    escalated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    decision: Mapped[InstructionDecision | None] = mapped_column(
        Enum(InstructionDecision, native_enum=False, length=24), default=None
    )
    detail: Mapped[str] = mapped_column(String(500), default="")


class McDuty(Base):
    """A roster line: this MC doctor answers for this unit (or, with no unit, for every
    unit of the region) between ``starts_at`` and ``ends_at``. Position 1 is alerted
    first; position 2 when position 1 has not answered within ``MC_FALLBACK_S``."""

    __tablename__ = "mc_duty"

    id: Mapped[int] = mapped_column(primary_key=True)
    doctor_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), default=None)
    position: Mapped[int] = mapped_column(Integer, default=1)
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
