"""Request and response bodies of the card-authentication and patient-record endpoints.

Certificates and signatures are plain strings here: their size, base64, DER and
PEM are checked by the service so that each failure gets its own audited code.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ems.access.models import BreakGlassReview
from ems.cards.models import Assurance, ReviewStatus

MAX_ID = 2**31 - 1
CHALLENGE_ID = r"^[0-9a-f]{32}$"


class ChallengeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    transport_id: int = Field(ge=1, le=MAX_ID)


class ChallengeRead(BaseModel):
    challenge_id: str
    nonce: str = Field(description="base64 of the bytes the card signs")
    expires_at: dt.datetime


class VerificationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    challenge_id: str = Field(pattern=CHALLENGE_ID)
    transport_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="when given, must be the challenge's transport"
    )
    certificate: str = Field(description="base64 DER or PEM")
    signature: str = Field(description="base64 of the RSA PKCS#1 v1.5 SHA-256 signature")


class PinlessCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    challenge_id: str = Field(pattern=CHALLENGE_ID)
    transport_id: int = Field(ge=1, le=MAX_ID)
    certificate: str
    reason: str = Field(min_length=2, max_length=500, pattern=r"^[^\x00-\x1f]+$")
    face_match_confirmed: bool
    device_certificate: str
    attestation_signature: str


class CardEventCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    transport_id: int = Field(ge=1, le=MAX_ID)
    certificate: str
    event: Literal["wrong_pin", "card_locked"]
    tries_left: int | None = Field(default=None, ge=0, le=3)


class CardEventRead(BaseModel):
    recorded: bool
    event: str
    tries_left: int | None
    certificate: str = Field(
        description=(
            "`verified` (the event is on the patient's access log), or the code the "
            "certificate was refused with (recorded on the transport only)"
        )
    )


class RecordView(BaseModel):
    """A patient's record summary as shown to the crew or the ER, with how the card
    was checked: ``pinless_attested`` must be visible wherever the record is."""

    transport_id: int
    patient_id: int
    assurance: Assurance
    assurance_notice: str
    released_at: dt.datetime
    review_status: ReviewStatus
    summary: dict[str, Any]


class AccessLogEntry(BaseModel):
    at: dt.datetime
    action: str
    outcome: str
    actor_id: int | None
    actor_username: str
    actor_role: str
    unit_id: int | None
    hospital_id: int | None
    transport_id: int | None
    path: str
    assurance: str
    code: str


class ReviewRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    transport_id: int
    patient_id: int
    unit_id: int | None
    released_at: dt.datetime
    released_by: int
    device_id: int | None
    reason: str
    face_match_confirmed: bool
    review_status: ReviewStatus
    reviewed_by: int | None
    reviewed_at: dt.datetime | None
    review_note: str


class ReviewQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: ReviewStatus = ReviewStatus.PENDING


class ReviewUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["appropriate", "inappropriate"]
    note: str = Field(default="", max_length=1000, pattern=r"^[^\x00]*$")


class BreakGlassCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Why the rules are set aside: read by the reviewer, so a sentence, not a word.
    reason: str = Field(min_length=10, max_length=500, pattern=r"^[^\x00]*$")


class BreakGlassQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: BreakGlassReview = BreakGlassReview.PENDING


class BreakGlassRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    transport_id: int
    patient_id: int
    user_id: int
    reason: str
    at: dt.datetime
    review_status: BreakGlassReview
    reviewed_by: int | None
    reviewed_at: dt.datetime | None
    review_note: str


class BreakGlassReviewUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["justified", "unjustified"]
    note: str = Field(default="", max_length=1000, pattern=r"^[^\x00]*$")
