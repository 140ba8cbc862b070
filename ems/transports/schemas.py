"""Request and response bodies of the transport endpoints: the FDMA timeline,
its intervals, and today's figures for the KPI panel."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ems.hospitals.models import BedCategory
from ems.hospitals.schemas import DbId, Timestamp
from ems.transports.models import TransportStatus
from ems_contracts.timeline import TimelineKind

DATA_MAX_BYTES = 4096


class TimelineStep(BaseModel):
    kind: TimelineKind
    at: dt.datetime | None


class Interval(BaseModel):
    start: TimelineKind
    end: TimelineKind
    # On the clock.
    seconds: float | None
    # At life pace: a simulation run faster than life (the demo's fast mode) has its
    # seconds scaled back by its speed, as today's figures do; the clock's otherwise.
    life_seconds: float | None


class TransportRead(BaseModel):
    id: int
    incident_id: int
    unit_id: int
    patient_id: int | None
    destination_hospital_id: int | None
    bed_category: str | None
    status: TransportStatus
    created_at: dt.datetime
    timeline: list[TimelineStep]
    intervals: list[Interval]
    # How many times faster than life a simulation ran this transport (the demo's fast
    # mode, said by the crew's first step); None at life pace.
    simulated_speed: float | None = None
    # The two figures FDMA publishes every year (on the clock).
    call_to_scene_s: float | None
    call_to_hospital_s: float | None


# How long a patient stays "current" (the ER board): en route, or arrived at the
# hospital less than this many hours ago.
CURRENT_HOURS_DEFAULT = 6
CURRENT_HOURS_MAX = 72


class TransportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    active: bool | None = None
    # Current patients only: not cancelled, and arrived at the hospital (or, not arrived
    # yet, called in) within the last ``hours``.
    current: bool | None = None
    hours: Annotated[int, Field(ge=1, le=CURRENT_HOURS_MAX)] = CURRENT_HOURS_DEFAULT


class TimelineEventCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: TimelineKind
    # When it happened; defaults to now. A tablet replaying its queue sends the original time.
    at: Timestamp | None = None
    # The same key sent twice records once: the replay gets the first result back.
    idempotency_key: (
        Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")] | None
    ) = None
    data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("data")
    @classmethod
    def _small(cls, value: dict[str, Any]) -> dict[str, Any]:
        blob = json.dumps(value, ensure_ascii=False)
        if len(blob.encode()) > DATA_MAX_BYTES:
            raise ValueError(f"data may hold at most {DATA_MAX_BYTES} bytes of JSON")
        if "\\u0000" in blob:
            raise ValueError("data may not contain NUL characters")
        return value


class TimelineEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: TimelineKind
    at: dt.datetime
    recorded_at: dt.datetime
    idempotency_key: str | None


class TimelineEventResult(BaseModel):
    event: TimelineEventRead
    transport: TransportRead
    # True when this answer repeats the one given to the first request with the same key.
    replayed: bool


class DestinationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hospital_id: DbId
    bed_category: BedCategory | None = None


class IntervalStats(BaseModel):
    start: TimelineKind
    end: TimelineKind
    mean_min: float | None
    n: int


class TodayStats(BaseModel):
    date: dt.date
    timezone: str
    transports: int
    active: int
    completed: int
    cancelled: int
    # Transports of a simulation run faster than life (the demo's fast mode): their
    # minutes are scaled back to life-like ones by the run's speed before counting.
    simulated: int = 0
    call_to_scene_min_mean: float | None
    call_to_hospital_min_mean: float | None
    call_to_hospital_min_p90: float | None
    # FDMA's 2013/2016 national mean, the figure regions measure themselves against.
    baseline_call_to_hospital_min: float
    # Whose figure, and of which year (the national mean the KPI panel compares with).
    baseline_year: int
    baseline_source: str
    # Positive: slower than the baseline.
    vs_baseline_min: float | None
    intervals: list[IntervalStats]
    # The doctor's instruction, from the requests answered "instructed" today: minutes
    # from the 119 call to a transport's first instruction, and from each request to its
    # instruction (simulated runs scaled back like the rest).
    instructed: int = 0
    call_to_instruction_min_p50: float | None = None
    call_to_instruction_min_p90: float | None = None
    request_to_instruction_min_p50: float | None = None
    request_to_instruction_min_p90: float | None = None
