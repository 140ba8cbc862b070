"""Bodies of the vitals endpoint and of the vitals frames the tablet sends."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field


class VitalsPayload(BaseModel):
    """One monitor reading as the tablet sends it; missing values are unknown."""

    model_config = ConfigDict(extra="forbid")
    hr: int | None = Field(default=None, ge=0, le=350)
    spo2: int | None = Field(default=None, ge=0, le=100)
    bp_sys: int | None = Field(default=None, ge=0, le=350)
    bp_dia: int | None = Field(default=None, ge=0, le=300)
    rr: int | None = Field(default=None, ge=0, le=120)
    temp_c: float | None = Field(default=None, ge=20, le=46)


class StreamNote(BaseModel):
    """A crew note or event sent through the tablet's queue."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(default="", max_length=2000)
    data: dict[str, str | int | float | bool | None] = Field(default_factory=dict)


class VitalsRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    seq: int
    measured_at: dt.datetime
    hr: int | None
    spo2: int | None
    bp_sys: int | None
    bp_dia: int | None
    rr: int | None
    temp_c: float | None


class EcgSegmentRead(BaseModel):
    seq: int
    started_at: dt.datetime
    sample_rate_hz: int
    samples_uv: list[int]


class TransportVitalsRead(BaseModel):
    transport_id: int
    vitals: list[VitalsRead]
    ecg: list[EcgSegmentRead]


class VitalsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    after_seq: int = Field(default=0, ge=0)
    limit: int = Field(default=200, ge=1, le=1000)
    ecg: bool = False
