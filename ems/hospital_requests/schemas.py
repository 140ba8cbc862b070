"""Request and response bodies of the hospital-request endpoints."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ems.dispatch.schemas import QueryId
from ems.hospital_requests.models import DeclineReason, EarlyOutcome, RequestStatus


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RequestRoundCreate(_In):
    # An empty list (or ``k: 0``) is answered ``400 no_hospital_chosen``, not a schema
    # error: the tablet and the console show it in the crew's words.
    hospital_ids: list[int] | None = Field(default=None, max_length=20)
    k: int | None = Field(default=None, ge=0, le=10)


class HospitalRequestRead(BaseModel):
    id: int
    transport_id: int
    hospital_id: int
    hospital_name: str
    round: int
    status: RequestStatus
    bed_category: str
    eta_s: int | None
    sent_at: dt.datetime
    responded_at: dt.datetime | None
    decline_reason: DeclineReason | None
    note: str
    # The patient at a glance, so that the ER can answer without opening the call.
    urgency: str | None = None
    chief_complaint: str = ""
    suspected_condition: str = ""
    patient_age: int | None = None
    patient_sex: str = ""
    unit_id: int | None = None
    unit_call_sign: str = ""
    # Asked ahead from the call while the unit drove; the crew's word on scene.
    early: bool = False
    early_outcome: EarlyOutcome | None = None


class RequestRoundRead(BaseModel):
    transport_id: int
    round: int
    requests: list[HospitalRequestRead]
    p_at_least_one: float
    early: bool = False


class AskAheadOutcomeRead(BaseModel):
    """The crew's word on an early round: what stays asked and what was withdrawn."""

    transport_id: int
    outcome: EarlyOutcome
    requests: list[HospitalRequestRead]
    cancelled_request_ids: list[int]
    # Withdrawn after a hospital had accepted: the destination was cleared.
    destination_cleared: bool = False


class RequestListQuery(_In):
    status: RequestStatus | None = None
    transport_id: QueryId | None = None


class AcceptRead(BaseModel):
    request: HospitalRequestRead
    transport_id: int
    destination_hospital_id: int
    bed_status: Literal["claimed", "unknown", "stale"]
    cancelled_request_ids: list[int]


class DeclineCreate(_In):
    reason: DeclineReason
    note: str = Field(default="", max_length=500)


class DeclineRead(BaseModel):
    request: HospitalRequestRead
    next_round: RequestRoundRead | None
    exhausted: bool
