"""A patient known to the record store, and their encrypted medical record."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from ems.db import Base, UTCDateTime, utcnow


class Patient(Base):
    """A person known to the record store. Names live only inside the encrypted record."""

    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PatientRecord(Base):
    __tablename__ = "patient_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), unique=True)
    # AES-256-GCM of the FHIR Bundle's JSON; the tag is the ciphertext's last 16 bytes.
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    nonce: Mapped[bytes] = mapped_column(LargeBinary(16))
    key_id: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
