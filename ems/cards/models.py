"""Patients' cards, the tablets' device certificates, the one-time challenges a card
signs, the releases of a record to a transport, and the newest revocation list read
of each issuing CA (patients and their records are ``ems.patients.models``)."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import BigInteger, Boolean, Enum, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from ems.db import Base, UTCDateTime, utcnow


class CardStatus(enum.StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


class Assurance(enum.StrEnum):
    PIN = "pin"  # the card signed after the holder's PIN
    PINLESS_ATTESTED = "pinless_attested"  # certificate read without PIN, crew attested


class ReviewStatus(enum.StrEnum):
    NOT_REQUIRED = "not_required"
    PENDING = "pending"
    APPROPRIATE = "appropriate"
    INAPPROPRIATE = "inappropriate"


class Card(Base):
    __tablename__ = "cards"

    id: Mapped[int] = mapped_column(primary_key=True)
    serial: Mapped[str] = mapped_column(String(32), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    cert_serial: Mapped[str] = mapped_column(String(64))
    cert_fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    not_after: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    status: Mapped[CardStatus] = mapped_column(
        Enum(CardStatus, native_enum=False, length=16), default=CardStatus.ACTIVE
    )
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)


class Device(Base):
    """An ambulance tablet and its device certificate (signs PIN-less attestations)."""

    __tablename__ = "card_devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    cert_serial: Mapped[str] = mapped_column(String(64))
    cert_fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)


class CardChallenge(Base):
    __tablename__ = "card_challenges"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    nonce: Mapped[bytes] = mapped_column(LargeBinary(64))
    transport_id: Mapped[int] = mapped_column(ForeignKey("transports.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)


class RecordRelease(Base):
    """A patient's record released to one transport, and how the card was checked.

    PIN-less releases wait for an administrator's review."""

    __tablename__ = "record_releases"

    id: Mapped[int] = mapped_column(primary_key=True)
    transport_id: Mapped[int] = mapped_column(ForeignKey("transports.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    assurance: Mapped[Assurance] = mapped_column(Enum(Assurance, native_enum=False, length=24))
    released_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    challenge_id: Mapped[str] = mapped_column(String(32), unique=True)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("card_devices.id"), default=None)
    reason: Mapped[str] = mapped_column(String(500), default="")
    face_match_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    review_status: Mapped[ReviewStatus] = mapped_column(
        Enum(ReviewStatus, native_enum=False, length=16), default=ReviewStatus.NOT_REQUIRED
    )
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    review_note: Mapped[str] = mapped_column(String(1000), default="")
    # Kept so that the review list needs no join; the transport's unit at release time.
    unit_id: Mapped[int | None] = mapped_column(Integer, default=None)


class CrlHighWater(Base):
    """The newest CRL any server process has read from an issuing CA: a CRL file older
    than this is refused, even by a process that never read the newer one.

    Keyed by the CA certificate's fingerprint, so that a re-created CA (whose CRL
    numbers start again) begins afresh. Only ever raised (``service.record_crl_mark``).
    """

    __tablename__ = "crl_high_water"

    ca_fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    ca: Mapped[str] = mapped_column(String(16))  # "card-ca" or "device-ca", for the reader
    crl_number: Mapped[int] = mapped_column(BigInteger)
    this_update: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    crl_sha256: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
