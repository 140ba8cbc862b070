"""Request and response bodies of the incident endpoints."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ems.hospitals.schemas import DbId, Latitude, Longitude, PlainStr, Timestamp
from ems.incidents.models import Condition, IncidentStatus, Urgency

Sex = Literal["female", "male", "unknown"]


class IncidentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lat: Latitude
    lon: Longitude
    urgency: Urgency
    chief_complaint: Annotated[PlainStr, Field(min_length=1, max_length=200)]
    # The caller's account of what happened, in their words.
    caller_account: Annotated[PlainStr, Field(max_length=2000)] = ""
    suspected_condition: Condition | None = None
    address: Annotated[PlainStr, Field(max_length=300)] = ""
    caller_name: Annotated[PlainStr, Field(max_length=120)] = ""
    caller_phone: Annotated[PlainStr, Field(max_length=32)] = ""
    patient_age: int | None = Field(default=None, ge=0, le=130, strict=True)
    patient_sex: Sex | None = None
    # When the 119 call came in, if it was recorded after the fact.
    received_at: Timestamp | None = None


class IncidentRead(BaseModel):
    id: int
    received_at: dt.datetime
    lat: float
    lon: float
    address: str
    caller_name: str
    caller_phone: str
    caller_account: str
    chief_complaint: str
    suspected_condition: Condition | None
    urgency: Urgency
    patient_age: int | None
    patient_sex: Sex | None
    status: IncidentStatus
    created_by: int | None
    # The transport working the incident now (or the last one), if any.
    transport_id: int | None


class IncidentQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: IncidentStatus | None = None


class AssignmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unit_id: DbId
