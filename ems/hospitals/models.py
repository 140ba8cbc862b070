"""Hospitals, what they can treat, and their bed availability per category."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, Enum, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ems.db import Base, UTCDateTime, utcnow


class EmergencyLevel(enum.StrEnum):
    TERTIARY = "tertiary"  # 三次救急 (救命救急センター)
    SECONDARY = "secondary"  # 二次救急


class Capability(enum.StrEnum):
    PCI = "pci"
    STROKE_THROMBECTOMY = "stroke_thrombectomy"
    TRAUMA_SURGERY = "trauma_surgery"
    NEUROSURGERY = "neurosurgery"
    PAEDIATRICS = "paediatrics"
    OBSTETRICS = "obstetrics"
    BURNS = "burns"
    PSYCHIATRY = "psychiatry"


class BedCategory(enum.StrEnum):
    GENERAL = "general"
    ICU = "icu"
    CCU = "ccu"
    SCU = "scu"
    PAEDIATRIC = "paediatric"
    MATERNITY = "maternity"
    BURN = "burn"
    PSYCHIATRIC = "psychiatric"


class DiversionStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED_TO_AMBULANCES = "closed_to_ambulances"
    CATEGORY_DIVERSION = "category_diversion"


class Hospital(Base):
    __tablename__ = "hospitals"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200), default="")
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    level: Mapped[EmergencyLevel] = mapped_column(
        Enum(EmergencyLevel, native_enum=False, length=16)
    )
    capabilities: Mapped[list[str]] = mapped_column(JSON, default=list)
    diversion: Mapped[DiversionStatus] = mapped_column(
        Enum(DiversionStatus, native_enum=False, length=32), default=DiversionStatus.OPEN
    )
    # Categories diverted while ``diversion`` is CATEGORY_DIVERSION.
    diverted_categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    diversion_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    phone: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    beds: Mapped[list[BedAvailability]] = relationship(
        back_populates="hospital", order_by="BedAvailability.category", lazy="selectin"
    )


class BedAvailability(Base):
    __tablename__ = "bed_availability"
    __table_args__ = (UniqueConstraint("hospital_id", "category"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"), index=True)
    category: Mapped[BedCategory] = mapped_column(Enum(BedCategory, native_enum=False, length=16))
    available: Mapped[int] = mapped_column(Integer, default=0)
    capacity: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # After this moment the figure is stale and counts as unknown.
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)

    hospital: Mapped[Hospital] = relationship(back_populates="beds")
